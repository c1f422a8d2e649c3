//! Compilation in a child process (`risk/compiler.rs`): a module that
//! compiles for longer than its budget is stopped, not abandoned, and an
//! ordinary module compiled by the child runs as one compiled in-process.
//!
//! This lives in the `hongbao` package because it needs the `hongbao`
//! executable itself (`CARGO_BIN_EXE_hongbao`) as the compiler child.

use std::fmt::Write as _;
use std::path::PathBuf;

use hongbao::risk::call::call;
use hongbao::risk::compiler::compile_in_child_processes;
use hongbao::risk::engine::check_module;
use hongbao::risk::limits::{EngineLimits, Limits};
use hongbao::risk::sandbox::Sandbox;
use rules_sdk::{Hook, Verdict};

/// A module whose one extra function is cheap to check and costly to
/// compile (found by an adversarial review: 18 KB, inside every shape
/// bound, 173 s to compile in release): `locals` values live across a
/// `br_table` of `entries` edges into `depth` nested blocks, each of which
/// then merges all of them.
fn compile_bomb(locals: u32, depth: u32, entries: u32) -> String {
    // Sets every local to the parameter combined with its index by `op`.
    let set_all = |f: &mut String, op: &str| {
        for i in 1..=locals {
            let _ = write!(f, " (local.set {i} ({op} (local.get 0) (i32.const {i})))");
        }
    };
    let mut f = String::from("(func $bomb (param i32)");
    for _ in 0..locals {
        f.push_str(" (local i32)");
    }
    set_all(&mut f, "i32.add");
    for _ in 0..depth {
        f.push_str(" block");
    }
    f.push_str(" (br_table");
    for i in 0..entries {
        let _ = write!(f, " {}", i % depth);
    }
    f.push_str(" 0 (local.get 0)) end");
    set_all(&mut f, "i32.mul");
    for _ in 1..depth {
        f.push_str(" end");
    }
    f.push_str(" i32.const 0");
    for i in 1..=locals {
        let _ = write!(f, " (local.get {i}) i32.add");
    }
    f.push_str(" drop)");
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{{\"verdict\":\"allow\",\"reason\":\"ok\"}}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 33)))
  {f})"#
    )
}

/// Threads of this process compiling on their own (the fallback, whose
/// compile cannot be stopped).
fn compiler_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim() == "hongbao-compile")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Child processes of this process that are still alive.
fn children() -> Vec<String> {
    let mut pids = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
                pids.extend(list.split_whitespace().map(str::to_string));
            }
        }
    }
    pids
}

#[test]
fn a_compile_over_budget_is_killed_and_ordinary_modules_compile_in_the_child() {
    compile_in_child_processes(PathBuf::from(env!("CARGO_BIN_EXE_hongbao")));
    let sandbox = Sandbox::new(&EngineLimits {
        compile_timeout_ms: 2_000,
        ..EngineLimits::default()
    })
    .expect("sandbox");
    let limits = Limits::default();

    // An ordinary module: compiled by the child, loaded here, and it runs.
    let allow = compile_bomb(1, 1, 1);
    let (module, version) =
        check_module(&sandbox, allow.as_bytes(), &limits).expect("a small module loads");
    assert_eq!(version, 1);
    let input = serde_json::to_vec(&rules_sdk::testing::claim_fixture()).expect("input");
    let answer = call(&sandbox, &module, Hook::Claim, &limits, &input);
    assert_eq!(
        answer.outcome.map(|d| d.verdict).ok(),
        Some(Verdict::Allow),
        "a module compiled in the child answers"
    );

    // The bomb: refused at the budget, and its compile is gone with it.
    let bomb = compile_bomb(400, 100, 10_000);
    assert!(bomb.len() < 200_000, "a small module: {} bytes", bomb.len());
    let problems = check_module(&sandbox, bomb.as_bytes(), &limits)
        .map(|_| ())
        .expect_err("the bomb is refused");
    assert_eq!(
        problems,
        ["compilation took longer than compile_timeout_ms = 2000"],
        "only the budget refuses it: every shape bound passes"
    );
    assert_eq!(children(), Vec::<String>::new(), "no compiler left running");
    assert_eq!(
        compiler_threads(),
        0,
        "compiled in a child, not on a thread"
    );
}
