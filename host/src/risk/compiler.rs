//! Compiling a module within a wall-clock budget that can really be
//! enforced.
//!
//! Cranelift cannot be cancelled: a compile on a thread that overruns its
//! budget can only be abandoned, and it goes on burning a core until it
//! finishes, which for a module built to be costly to compile is minutes.
//! The shape bounds (`shape.rs`) keep every compile-cost pattern found so
//! far small, but a new pattern is always possible. So the `hongbao` binary
//! compiles in a child process of its own (the same executable, run with
//! [`CHILD_ARG`]), which is killed when the budget runs out: nothing of an
//! overrunning compile survives its refusal.
//!
//! The child builds an engine with the parent's settings, compiles the
//! module and writes the serialized artifact to its standard output; the
//! parent loads it with `Module::deserialize`, which checks that the
//! artifact was made by the same wasmtime with the same settings.
//!
//! A process that has not called [`compile_in_child_processes`] (a library
//! user, the test binaries) compiles on a thread, as before; so does one
//! whose child cannot be started, with a warning.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasmtime::{Engine, Module};

use super::limits::EngineLimits;
use super::sandbox::{PoolTuning, Sandbox, engine_config};

/// The first argument that makes the `hongbao` executable a compiler child.
pub const CHILD_ARG: &str = "__hongbao-compile-module";

/// The largest artifact a child may hand back (a module is at most 8 MiB;
/// its machine code a few times that).
const ARTIFACT_BYTES_MAX: u64 = 256 * 1024 * 1024;

static CHILD_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// From now on, this process compiles modules in child processes running
/// `program` (the `hongbao` executable, whose `main` hands [`CHILD_ARG`] to
/// [`child_main`]). Later calls are ignored.
pub fn compile_in_child_processes(program: PathBuf) {
    let _ = CHILD_PROGRAM.set(program);
}

/// Compiles `wasm` for `sandbox`'s engine within `budget_ms` of wall time:
/// in a child process when one is configured, else on a thread.
pub(crate) fn compile_within(
    sandbox: &Sandbox,
    wasm: Vec<u8>,
    budget_ms: u64,
) -> Result<Module, String> {
    let budget = Duration::from_millis(budget_ms);
    let child = CHILD_PROGRAM.get().and_then(|program| {
        compile_in_child(program, sandbox, &wasm, budget)
            .inspect_err(|e| {
                eprintln!(
                    "hongbao: warning: cannot compile in a child process ({e}); compiling on a thread, which cannot be stopped at the budget"
                );
            })
            .ok()
    });
    match child.unwrap_or_else(|| compile_on_thread(sandbox.engine(), wasm, budget)) {
        Compiled::Module(m) => Ok(m),
        Compiled::Refused(e) => Err(format!("does not compile: {e}")),
        Compiled::Failed(e) => Err(e),
        Compiled::OverBudget => Err(format!(
            "compilation took longer than compile_timeout_ms = {budget_ms}"
        )),
    }
}

/// How a compile ended, on a thread or in a child process.
enum Compiled {
    /// Compiled, and loaded into this process's engine.
    Module(Module),
    /// The compiler refused the module, saying why.
    Refused(String),
    /// The budget ran out: the child was killed, or the thread abandoned.
    OverBudget,
    /// The compiler could not run, saying why.
    Failed(String),
}

/// Compiles on a thread of its own and waits at most `budget_ms`. A compile
/// over budget is abandoned: the thread finishes in the background and its
/// result is dropped.
fn compile_on_thread(engine: &Engine, wasm: Vec<u8>, budget: Duration) -> Compiled {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let engine = engine.clone();
    let started = std::thread::Builder::new()
        .name("hongbao-compile".into())
        .spawn(move || {
            let _ = tx.send(Module::from_binary(&engine, &wasm));
        });
    if let Err(e) = started {
        return Compiled::Failed(format!("cannot start the compiler thread: {e}"));
    }
    match rx.recv_timeout(budget) {
        Ok(Ok(module)) => Compiled::Module(module),
        Ok(Err(e)) => Compiled::Refused(format!("{e:#}")),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Compiled::OverBudget,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Compiled::Failed("the compiler stopped without an answer".into())
        }
    }
}

/// The engine settings a child needs to compile for this engine, as its
/// arguments.
fn settings_args(limits: &EngineLimits, tuning: &PoolTuning) -> [String; 5] {
    [
        limits.stack_bytes_max.to_string(),
        limits.instances_max.to_string(),
        tuning.linear_memory_keep_resident_bytes.to_string(),
        u8::from(tuning.pagemap_scan).to_string(),
        u8::from(tuning.memory_init_cow).to_string(),
    ]
}

/// Runs one compile in a child process. `Err` means the child could not be
/// run at all (the caller falls back to a thread).
fn compile_in_child(
    program: &PathBuf,
    sandbox: &Sandbox,
    wasm: &[u8],
    budget: Duration,
) -> Result<Compiled, String> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .arg(CHILD_ARG)
        .args(settings_args(sandbox.limits(), sandbox.tuning()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    // The child reads all of its input before it writes anything, so
    // writing it all first cannot deadlock.
    let fed = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(wasm))
        .transpose();
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the child's pipes are missing".into());
    };
    let artifact = std::thread::spawn(move || {
        let mut buf = Vec::new();
        (&mut stdout)
            .take(ARTIFACT_BYTES_MAX)
            .read_to_end(&mut buf)
            .map(|_| buf)
    });
    let message = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).trim().to_string()
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= budget => {
                // Killed and reaped: nothing of this compile goes on.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot wait for the compiler process: {e}"));
            }
        }
    };
    let artifact = artifact.join().unwrap_or_else(|_| Ok(Vec::new()));
    let message = message.join().unwrap_or_default();
    let Some(status) = status else {
        return Ok(Compiled::OverBudget);
    };
    if let Err(e) = fed {
        return Err(format!(
            "cannot hand the module to the compiler process: {e}"
        ));
    }
    if !status.success() {
        return match status.code() {
            Some(CHILD_REFUSED) => Ok(Compiled::Refused(message)),
            _ => Err(format!("the compiler process failed ({status}): {message}")),
        };
    }
    let artifact = artifact.map_err(|e| format!("cannot read the compiled module: {e}"))?;
    deserialize(sandbox.engine(), &artifact).map(Compiled::Module)
}

/// Loads an artifact that a child compiled for this engine.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> Result<Module, String> {
    // SAFETY: `Module::deserialize` runs machine code from `artifact`, so the
    // bytes must come from `Module::serialize` of a compatible engine. They
    // come from this process's own executable, run as a child with this
    // engine's settings, through a pipe no one else holds; wasmtime itself
    // checks the version and settings recorded in the artifact and refuses
    // a mismatch.
    unsafe { Module::deserialize(engine, artifact) }
        .map_err(|e| format!("the compiler process's module does not load: {e:#}"))
}

/// Exit status of a child whose module does not compile (its reason on
/// standard error).
const CHILD_REFUSED: i32 = 3;

/// The compiler child: reads a module from standard input, compiles it for
/// the engine its arguments describe, and writes the serialized artifact to
/// standard output. Returns the process exit status: 0 compiled, 3 the
/// module does not compile, 2 bad arguments.
#[must_use]
pub fn child_main(args: &[String]) -> i32 {
    let parsed = (|| -> Option<(EngineLimits, PoolTuning)> {
        let [stack, instances, keep, scan, cow] = args else {
            return None;
        };
        let limits = EngineLimits {
            stack_bytes_max: stack.parse().ok()?,
            instances_max: instances.parse().ok()?,
            ..EngineLimits::default()
        };
        let tuning = PoolTuning {
            linear_memory_keep_resident_bytes: keep.parse().ok()?,
            pagemap_scan: scan == "1",
            memory_init_cow: cow == "1",
        };
        Some((limits, tuning))
    })();
    let Some((limits, tuning)) = parsed else {
        eprintln!(
            "usage: hongbao {CHILD_ARG} STACK INSTANCES KEEP_RESIDENT SCAN COW < module.wasm"
        );
        return 2;
    };
    let mut wasm = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut wasm) {
        eprintln!("cannot read the module: {e}");
        return 2;
    }
    let engine = match Engine::new(&engine_config(&limits, &tuning)) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot build the engine: {e:#}");
            return 2;
        }
    };
    let artifact = match Module::from_binary(&engine, &wasm).and_then(|m| m.serialize()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e:#}");
            return CHILD_REFUSED;
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(&artifact).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cannot write the compiled module: {e}");
            2
        }
    }
}
