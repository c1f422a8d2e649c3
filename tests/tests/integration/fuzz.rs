//! Random modules from wasm-smith against the real loader and sandbox: the
//! host never panics, never runs a call past its limits, refuses what it
//! cannot run with a clear reason, and turns everything a loaded module does
//! into a decision, a failure never reading as allow.
//!
//! Three shapes, in turn: ABI-shaped modules (the exports of the ABI with
//! random bodies, the `hongbao.log` import available) with
//! `hongbao_abi_version` and `hongbao_alloc` patched to answer properly so
//! that they load and their hooks run; the same without the patch; and
//! plain random modules (random exports and imports, the host's feature
//! set, sometimes a random feature set).
//!
//! Bounded in `cargo test` by fixed seeds and a small count. A longer run:
//!
//! ```text
//! HONGBAO_FUZZ_CASES=100000 HONGBAO_FUZZ_SEED=1 \
//!   cargo test --release -p hongbao-tests --test integration fuzz -- --nocapture
//! ```
//!
//! `HONGBAO_FUZZ_FIRST=<n>` starts at case `n`, to replay one case of a run;
//! `HONGBAO_FUZZ_DUMP=<dir>` writes each case's module there as
//! `case-<n>.wasm`; `HONGBAO_FUZZ_VERBOSE=1` prints every refusal.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use anyhow::{Context, Result};
use arbitrary::{Arbitrary, Unstructured};
use hongbao::config::Config as HostConfig;
use hongbao::risk::call::{CallResult, call};
use hongbao::risk::engine::check_module;
use hongbao::risk::limits::{EngineLimits, Limits};
use hongbao::risk::module::CompiledModule;
use hongbao::risk::sandbox::Sandbox;
use hongbao::risk::{Evaluation, Evaluator, FailureReason, RiskEngine};
use hongbao_tests::{NOW, TempDir};
use rules_sdk::testing::{claim_fixture, payout_fixture};
use rules_sdk::{Hook, Verdict, is_valid_reason};

/// Cases in a plain `cargo test` run (a debug build compiles each module
/// with an unoptimised Cranelift, so this is kept small).
const DEFAULT_CASES: u64 = 60;
/// The default seed: the same modules every run.
const DEFAULT_SEED: u64 = 0x5eed_0b40;

const EXPORTS_TEMPLATE: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "hongbao_abi_version") (result i32) unreachable)
  (func (export "hongbao_alloc") (param i32) (result i32) unreachable)
  (func (export "hongbao_claim") (param i32 i32) (result i64) unreachable)
  (func (export "hongbao_payout") (param i32 i32) (result i64) unreachable))"#;

const IMPORTS_TEMPLATE: &str = r#"(module (import "hongbao" "log" (func (param i32 i32 i32))))"#;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: the fuzz bytes of case `n` from the run's seed.
fn case_bytes(seed: u64, n: u64) -> Vec<u8> {
    let mut state = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let len = 512 + (next() % 16_384) as usize;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// The host's feature set (see `host/src/risk/sandbox.rs`), and small sizes.
fn host_features(c: &mut wasm_smith::Config) {
    c.threads_enabled = false;
    c.shared_everything_threads_enabled = false;
    c.memory64_enabled = false;
    c.tail_call_enabled = false;
    c.exceptions_enabled = false;
    c.gc_enabled = false;
    c.relaxed_simd_enabled = false;
    c.wide_arithmetic_enabled = false;
    c.custom_page_sizes_enabled = false;
    c.compact_imports_enabled = false;
    c.custom_descriptors_enabled = false;
    c.max_memories = 1;
    c.max_tables = 1;
    c.max_funcs = 24;
    c.max_instructions = 300;
    c.max_table_elements = 20_000;
    c.max_memory32_bytes = 32 * 1024 * 1024;
    c.max_data_segments = 8;
    c.max_nesting_depth = 8;
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// ABI exports, `hongbao_abi_version` and `hongbao_alloc` patched.
    AbiPatched,
    /// ABI exports with random bodies throughout.
    AbiRaw,
    /// Random exports and imports.
    Plain,
}

fn generate(shape: Shape, data: &[u8]) -> Result<Vec<u8>> {
    let mut u = Unstructured::new(data);
    let mut config = match shape {
        Shape::Plain if data[0].is_multiple_of(4) => {
            // Sometimes a random feature set, to reach the refusals of
            // features the host does not run; sizes stay small.
            let mut c = wasm_smith::Config::arbitrary(&mut u)?;
            c.max_funcs = c.max_funcs.min(24);
            c.max_instructions = c.max_instructions.min(300);
            c.max_types = c.max_types.min(50);
            c.max_imports = c.max_imports.min(20);
            c.max_exports = c.max_exports.min(20);
            c.max_globals = c.max_globals.min(20);
            c.max_data_segments = c.max_data_segments.min(8);
            c.max_element_segments = c.max_element_segments.min(8);
            c.max_elements = c.max_elements.min(100);
            c.max_memories = c.max_memories.min(2);
            c.max_tables = c.max_tables.min(2);
            c.max_table_elements = c.max_table_elements.min(20_000);
            c.max_memory32_bytes = c.max_memory32_bytes.min(32 * 1024 * 1024);
            c.max_memory64_bytes = c.max_memory64_bytes.min(32 * 1024 * 1024);
            c.max_type_size = c.max_type_size.min(100);
            c.max_nesting_depth = c.max_nesting_depth.min(8);
            c.max_tags = c.max_tags.min(10);
            c.min_funcs = c.min_funcs.min(c.max_funcs);
            c.min_types = c.min_types.min(c.max_types);
            c.min_imports = c.min_imports.min(c.max_imports);
            c.min_exports = c.min_exports.min(c.max_exports);
            c.min_globals = c.min_globals.min(c.max_globals);
            c.min_data_segments = c.min_data_segments.min(c.max_data_segments);
            c.min_element_segments = c.min_element_segments.min(c.max_element_segments);
            c.min_elements = c.min_elements.min(c.max_elements);
            c.min_tags = c.min_tags.min(c.max_tags);
            c.min_memories = c.min_memories.min(c.max_memories as u32);
            c.min_tables = c.min_tables.min(c.max_tables as u32);
            c.available_imports = None;
            c.exports = None;
            c.module_shape = None;
            c
        }
        Shape::Plain => {
            let mut c = wasm_smith::Config::default();
            host_features(&mut c);
            c.reference_types_enabled = data[1].is_multiple_of(4);
            c
        }
        Shape::AbiPatched | Shape::AbiRaw => {
            let mut c = wasm_smith::Config::default();
            host_features(&mut c);
            // The exported memory is the template's; no other may be made.
            c.max_memories = 0;
            // externref needs wasmtime's `gc` feature, which the host is
            // built without: it would refuse almost every module.
            c.reference_types_enabled = false;
            c.exports = Some(wat::parse_str(EXPORTS_TEMPLATE)?);
            c.available_imports = Some(wat::parse_str(IMPORTS_TEMPLATE)?);
            c
        }
    };
    config.canonicalize_nans = false;
    let module = wasm_smith::Module::new(config, &mut u)?;
    let mut wasm = module.to_bytes();
    if matches!(shape, Shape::AbiPatched) {
        // Half declare ABI version 1 and half version 2, so the engine
        // hands random code both encodings of the input.
        let version = 1 + (data[0] & 1);
        patch_body(&mut wasm, "hongbao_abi_version", &[0x41, version])?;
        patch_body(&mut wasm, "hongbao_alloc", &[0x41, 0x80, 0x08])?;
    }
    Ok(wasm)
}

/// Replaces, in place, the body of the function exported as `export` with
/// no locals and `code` (then `nop`s up to the body's size, then `end`), so
/// the module stays byte-for-byte valid elsewhere. Leaves a body too short
/// to hold the new code alone.
fn patch_body(wasm: &mut [u8], export: &str, code: &[u8]) -> Result<()> {
    use wasmparser::{ExternalKind, Parser, Payload, TypeRef};
    let mut imported_funcs = 0u32;
    let mut target = None;
    let mut defined = 0u32;
    let mut body_range = None;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(import?.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        imported_funcs += 1;
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e?;
                    if e.name == export && e.kind == ExternalKind::Func {
                        target = Some(e.index);
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                if target == Some(imported_funcs + defined) {
                    body_range = Some(body.range());
                }
                defined += 1;
            }
            _ => {}
        }
    }
    if let Some(range) = body_range
        && range.len() >= code.len() + 2
    {
        let body = &mut wasm[range];
        body[0] = 0x00;
        body[1..=code.len()].copy_from_slice(code);
        let last = body.len() - 1;
        body[code.len() + 1..last].fill(0x01);
        body[last] = 0x0b;
    }
    Ok(())
}

/// A short label for why a module was refused.
fn refusal_kind(problems: &[String]) -> &'static str {
    let first = problems.first().map_or("", String::as_str);
    let table = [
        ("is not a valid module", "invalid"),
        ("does not compile", "compile"),
        ("compil", "compile"),
        ("not a wasm binary", "compile"),
        ("imports ", "imports"),
        ("missing required export", "exports"),
        ("exports no hook", "exports"),
        ("export ", "exports"),
        ("hongbao_abi_version", "abi-version"),
        ("fails to instantiate", "instantiate"),
        ("initial memory", "limits"),
        ("initial table", "limits"),
        ("maximum memory", "limits"),
        ("maximum table", "limits"),
        ("a table of", "limits"),
        ("module of", "limits"),
        ("defines", "shape"),
        ("declares", "shape"),
        ("body of", "shape"),
        ("data segments", "shape"),
        ("cannot be linked", "link"),
    ];
    table
        .iter()
        .find(|(needle, _)| first.contains(needle))
        .map_or("other", |(_, kind)| kind)
}

fn call_label(result: &CallResult) -> String {
    match &result.outcome {
        Ok(d) => format!("verdict {}", d.verdict),
        Err(f) => f.reason.to_string(),
    }
}

struct Fuzz {
    sandbox: Sandbox,
    limits: Limits,
    claim_input: Vec<u8>,
    payout_input: Vec<u8>,
    dir: TempDir,
    counts: BTreeMap<String, u64>,
    calls: u64,
    max_call_ns: u64,
}

impl Fuzz {
    fn new() -> Result<Fuzz> {
        Ok(Fuzz {
            sandbox: Sandbox::new(&EngineLimits::default())?,
            limits: Limits::default(),
            claim_input: serde_json::to_vec(&claim_fixture())?,
            payout_input: serde_json::to_vec(&payout_fixture())?,
            dir: TempDir::new("fuzz")?,
            counts: BTreeMap::new(),
            calls: 0,
            max_call_ns: 0,
        })
    }

    fn count(&mut self, key: String) {
        *self.counts.entry(key).or_default() += 1;
    }

    /// Checks what every call must give, whatever the module did.
    fn check_call(&mut self, result: &CallResult, what: &str) {
        self.calls += 1;
        self.max_call_ns = self.max_call_ns.max(result.duration_ns);
        let timed_out = matches!(&result.outcome, Err(f) if f.reason == FailureReason::Timeout);
        match result.fuel_used {
            Some(fuel) => assert!(
                fuel <= self.limits.fuel_per_call && !timed_out,
                "{what}: used {fuel} fuel of {} ({:?})",
                self.limits.fuel_per_call,
                result.outcome
            ),
            None => assert!(timed_out, "{what}: fuel unknown but {:?}", result.outcome),
        }
        // Did not hang: generous, for a loaded machine; the deadline itself
        // is asserted by reason in the timeout tests.
        let bound_ns = (self.limits.timeout_ms * 20 + 10_000) * 1_000_000;
        assert!(
            result.duration_ns < bound_ns,
            "{what}: a call took {} ns",
            result.duration_ns
        );
        match &result.outcome {
            Ok(d) => assert!(is_valid_reason(&d.reason), "{what}: {d:?}"),
            // Rare, and worth a look: slow on little fuel, or a busy machine.
            Err(f) if f.reason == FailureReason::Timeout => println!(
                "{what}: timeout after {} ms",
                result.duration_ns / 1_000_000
            ),
            Err(_) => {}
        }
    }

    fn check_evaluation(&self, ev: &Evaluation, what: &str) {
        for r in &ev.rules {
            if r.failure.is_some() {
                assert_eq!(r.verdict, Verdict::Review, "{what}: FD is review: {r:?}");
                assert!(!r.failed_open, "{what}: {r:?}");
            }
        }
        assert!(
            ev.verdict != Verdict::Allow || ev.failures().next().is_none(),
            "{what}: allow with failures: {ev:?}"
        );
    }

    fn run_case(&mut self, n: u64, shape: Shape, wasm: &[u8]) -> Result<()> {
        let what = format!("case {n} ({shape:?}, {} bytes)", wasm.len());
        if let Some(dir) = std::env::var_os("HONGBAO_FUZZ_DUMP") {
            std::fs::write(
                std::path::Path::new(&dir).join(format!("case-{n}.wasm")),
                wasm,
            )?;
        }
        // The loader's verdict, as `hongbao check` gives it.
        let checked = check_module(&self.sandbox, wasm, &self.limits);
        let loaded = checked.is_ok();
        if let Err(problems) = &checked {
            assert!(!problems.is_empty(), "{what}: refused without a reason");
            assert!(
                problems.iter().all(|p| !p.trim().is_empty()),
                "{what}: {problems:?}"
            );
            if std::env::var_os("HONGBAO_FUZZ_VERBOSE").is_some() {
                println!("{what}: {problems:?}");
            }
            self.count(format!("load: refused ({})", refusal_kind(problems)));
        }
        // Whatever compiles is also called directly, refused or not, so that
        // the per-call path sees modules the loader would have stopped.
        let module = match checked {
            Ok((m, _)) => Some(m),
            Err(_) => CompiledModule::compile(&self.sandbox, wasm).ok(),
        };
        let Some(module) = module else {
            return Ok(());
        };
        for hook in module.hooks() {
            let input = match hook {
                Hook::Claim => &self.claim_input,
                Hook::Payout => &self.payout_input,
            };
            let result = call(&self.sandbox, &module, hook, &self.limits, input);
            self.check_call(&result, &what);
            self.count(format!("call: {}", call_label(&result)));
        }
        if !loaded {
            return Ok(());
        }
        // Loaded: through the real engine, as a configured rule.
        let path = self.dir.path("fuzz.wasm");
        std::fs::write(&path, wasm)?;
        let hooks: Vec<String> = module.hooks().iter().map(|h| format!("\"{h}\"")).collect();
        let text = format!(
            "[[rules]]\nid = \"fuzz\"\nmodule = {:?}\nscope = \"platform\"\nhooks = [{}]\n",
            path.display().to_string(),
            hooks.join(", ")
        );
        let config = HostConfig::parse(&text, self.dir.path("").as_path())?;
        match RiskEngine::load(&config, &|_| None) {
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains("rule fuzz refused"), "{what}: {text}");
                self.count("engine: refused (settings)".into());
            }
            Ok(engine) => {
                let claim = claim_fixture();
                let payout = payout_fixture();
                for hook in module.hooks() {
                    let ev = match hook {
                        Hook::Claim => engine.claim(NOW, &claim.request, &claim.facts),
                        Hook::Payout => engine.payout(NOW, &payout.request, &payout.facts),
                    };
                    self.check_evaluation(&ev, &what);
                    let r = ev.rules.first().context("the fuzz rule ran")?;
                    let label = match &r.failure {
                        Some(f) => format!("engine: {f}"),
                        None => format!("engine: verdict {}", r.verdict),
                    };
                    self.count(label);
                }
            }
        }
        Ok(())
    }
}

/// Random modules never crash the host, never hang it, and every one is
/// either refused with a reason or gives a decision on every call.
#[test]
fn fuzz_random_modules_never_crash_hang_or_pass_as_allow() -> Result<()> {
    let cases = env_u64("HONGBAO_FUZZ_CASES", DEFAULT_CASES);
    // To replay one case of a long run: HONGBAO_FUZZ_FIRST=<n> HONGBAO_FUZZ_CASES=<n + 1>.
    let first = env_u64("HONGBAO_FUZZ_FIRST", 0);
    let seed = env_u64("HONGBAO_FUZZ_SEED", DEFAULT_SEED);
    let mut fuzz = Fuzz::new()?;
    let started = std::time::Instant::now();
    let mut generated = 0u64;
    let mut bytes_total = 0u64;
    for n in first..cases {
        let shape = match n % 3 {
            0 => Shape::AbiPatched,
            1 => Shape::AbiRaw,
            _ => Shape::Plain,
        };
        let data = case_bytes(seed, n);
        let wasm = match generate(shape, &data) {
            Ok(w) => w,
            Err(_) => {
                fuzz.count("generator: no module".into());
                continue;
            }
        };
        generated += 1;
        bytes_total += wasm.len() as u64;
        if n > 0 && n % 10_000 == 0 {
            println!(
                "fuzz progress: {n} cases, {:.0} s, {:?}",
                started.elapsed().as_secs_f64(),
                fuzz.counts
            );
        }
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| fuzz.run_case(n, shape, &wasm)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.context(format!("seed {seed:#x} case {n}"))),
            Err(panic) => {
                let saved = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join(format!("fuzz-{seed:x}-{n}.wasm"));
                let _ = std::fs::write(&saved, &wasm);
                std::panic::resume_unwind(Box::new(format!(
                    "seed {seed:#x} case {n} ({shape:?}) panicked; module saved to {}: {:?}",
                    saved.display(),
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                )));
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "fuzz: seed {seed:#x}, {cases} cases, {generated} modules ({bytes_total} bytes), {} calls, \
         slowest call {} us, {:.1} s",
        fuzz.calls,
        fuzz.max_call_ns / 1000,
        elapsed.as_secs_f64()
    );
    for (outcome, n) in &fuzz.counts {
        println!("  {n:>8}  {outcome}");
    }
    assert!(
        generated * 10 >= cases.saturating_sub(first) * 9,
        "most cases make a module"
    );
    // The ABI-shaped modules do reach traffic: the suite is not only
    // exercising refusals.
    let reached: u64 = fuzz
        .counts
        .iter()
        .filter(|(k, _)| k.starts_with("engine: "))
        .map(|(_, n)| n)
        .sum();
    if cases.saturating_sub(first) >= 30 {
        assert!(reached > 0, "no module loaded: {:?}", fuzz.counts);
    }
    Ok(())
}
