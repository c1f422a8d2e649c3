//! One evaluation of one rule: a fresh instance, the input written into it,
//! the hook called under every limit, and the output checked before it is
//! trusted.

use std::time::{Duration, Instant};

use rules_sdk::abi::unpack_output;
use rules_sdk::{Decision, Hook, NOTE_BYTES_MAX, RuleOutput, is_valid_reason};
use wasmtime::{Extern, Instance, Memory, Store, Trap, TypedFunc, UpdateDeadline};

use super::evaluation::FailureReason;
use super::limits::{EPOCH_TICK_MS, Limits};
use super::module::CompiledModule;
use super::sandbox::Sandbox;
use super::store::{CallState, HostCallError, LimitHit};

/// Why a call produced no decision, with a human-readable detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFailure {
    /// The typed reason.
    pub reason: FailureReason,
    /// What happened, for the decision record.
    pub detail: String,
}

impl CallFailure {
    fn new(reason: FailureReason, detail: impl Into<String>) -> CallFailure {
        CallFailure {
            reason,
            detail: detail.into(),
        }
    }
}

/// What one call produced.
#[derive(Clone, Debug)]
pub struct CallResult {
    /// The rule's decision, or why there is none.
    pub outcome: Result<Decision, CallFailure>,
    /// Fuel consumed, instantiation included; `None` for a call stopped by
    /// its deadline (`timeout`), whose count wasmtime cannot give exactly:
    /// running code keeps it in a register that the epoch interrupt does not
    /// write back, so the count read afterwards is far too low.
    pub fuel_used: Option<u64>,
    /// Wall time of the whole call, in nanoseconds.
    pub duration_ns: u64,
    /// Lines the rule logged through the `log` import.
    pub logs: Vec<(i32, String)>,
}

/// Evaluates `hook` of `module` on `input` in a fresh instance under `limits`.
///
/// Never panics on guest behaviour: every trap, limit and malformed answer
/// becomes a [`CallFailure`].
pub fn call(
    sandbox: &Sandbox,
    module: &CompiledModule,
    hook: Hook,
    limits: &Limits,
    input: &[u8],
) -> CallResult {
    let started = Instant::now();
    let mut store = Store::new(sandbox.engine(), CallState::new(limits));
    // Fuel is set here as well as at instantiation, so that a call refused
    // before it runs (an input over its limit) records no fuel used.
    if let Err(e) = store.set_fuel(limits.fuel_per_call) {
        return CallResult {
            outcome: Err(CallFailure::new(
                FailureReason::Unavailable,
                format!("{e:#}"),
            )),
            fuel_used: Some(0),
            duration_ns: 0,
            logs: Vec::new(),
        };
    }
    let outcome = run(&mut store, module, hook, limits, input);
    let timed_out = matches!(&outcome, Err(f) if f.reason == FailureReason::Timeout);
    let fuel_used = (!timed_out).then(|| {
        limits
            .fuel_per_call
            .saturating_sub(store.get_fuel().unwrap_or(0))
    });
    let logs = std::mem::take(&mut store.data_mut().logs);
    CallResult {
        outcome,
        fuel_used,
        duration_ns: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
        logs,
    }
}

/// Instantiates a fresh copy of `module` with fuel and deadline set, for a
/// call or for the load-time probe.
pub(crate) fn instantiate(
    store: &mut Store<CallState>,
    module: &CompiledModule,
    limits: &Limits,
) -> Result<Instance, CallFailure> {
    instantiate_pre(store, module.pre(), limits)
}

/// [`instantiate`] from an `InstancePre` (the load-time diagnostic probe
/// links refused imports to stubs and has no [`CompiledModule`]).
pub(crate) fn instantiate_pre(
    store: &mut Store<CallState>,
    pre: &wasmtime::InstancePre<CallState>,
    limits: &Limits,
) -> Result<Instance, CallFailure> {
    store.limiter(|state| state);
    store
        .set_fuel(limits.fuel_per_call)
        .map_err(|e| CallFailure::new(FailureReason::Unavailable, format!("{e:#}")))?;
    // The deadline is relative to the epoch now, so it is re-armed for every
    // call: no call inherits a deadline that already passed.
    store.set_epoch_deadline(limits.timeout_ticks());
    // The epoch only says when to look at the clock. The ticker counts ticks
    // from elapsed time, so after it was starved it catches up by many ticks
    // at once; a call that started a moment earlier must not read that as
    // its time being up. The clock decides: interrupt only when the call's
    // own time is spent, otherwise wait for the time really left.
    let started = Instant::now();
    let budget = Duration::from_millis(limits.timeout_ms);
    store.epoch_deadline_callback(move |_| {
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return Ok(UpdateDeadline::Interrupt);
        }
        let left_ms = u64::try_from((budget - elapsed).as_millis()).unwrap_or(u64::MAX);
        Ok(UpdateDeadline::Continue(
            left_ms.div_ceil(EPOCH_TICK_MS).max(1),
        ))
    });
    pre.instantiate(&mut *store)
        .map_err(|e| classify(&e, "instantiation"))
}

fn run(
    store: &mut Store<CallState>,
    module: &CompiledModule,
    hook: Hook,
    limits: &Limits,
    input: &[u8],
) -> Result<Decision, CallFailure> {
    let Some(hook_export) = module.hook(hook) else {
        return Err(CallFailure::new(
            FailureReason::AbiError,
            format!("module does not export the {hook} hook"),
        ));
    };
    let input_len = input.len() as u64;
    if input_len > limits.input_bytes_max {
        return Err(CallFailure::new(
            FailureReason::HostError,
            format!(
                "input of {input_len} bytes exceeds input_bytes_max = {}",
                limits.input_bytes_max
            ),
        ));
    }
    let instance = instantiate(store, module, limits)?;
    let memory = match instance.get_module_export(&mut *store, &module.memory) {
        Some(Extern::Memory(m)) => m,
        _ => return Err(abi_error("memory export is missing")),
    };
    let alloc: TypedFunc<i32, i32> = typed(store, &instance, &module.alloc)?;
    let hook_fn: TypedFunc<(i32, i32), i64> = typed(store, &instance, hook_export)?;

    let len = i32::try_from(input.len()).map_err(|_| abi_error("input length overflows i32"))?;
    let ptr = alloc
        .call(&mut *store, len)
        .map_err(|e| classify(&e, "hongbao_alloc"))? as u32;
    let Some(range) = guest_range(store, memory, ptr, input.len() as u32) else {
        return Err(abi_error(format!(
            "hongbao_alloc({len}) returned {ptr}, which is not {len} bytes inside the {}-byte memory",
            memory.data_size(&*store)
        )));
    };
    if ptr == 0 && !input.is_empty() {
        return Err(abi_error(format!(
            "hongbao_alloc({len}) returned a null pointer"
        )));
    }
    memory.data_mut(&mut *store)[range].copy_from_slice(input);

    let packed = hook_fn
        .call(&mut *store, (ptr as i32, len))
        .map_err(|e| classify(&e, hook.as_str()))?;
    let (out_ptr, out_len) = unpack_output(packed);
    if u64::from(out_len) > limits.output_bytes_max {
        return Err(CallFailure::new(
            FailureReason::BadOutput,
            format!(
                "output of {out_len} bytes at {out_ptr} exceeds output_bytes_max = {}",
                limits.output_bytes_max
            ),
        ));
    }
    let Some(range) = guest_range(store, memory, out_ptr, out_len) else {
        return Err(CallFailure::new(
            FailureReason::BadOutput,
            format!(
                "output range {out_ptr}+{out_len} is outside the {}-byte memory",
                memory.data_size(&*store)
            ),
        ));
    };
    parse_output(&memory.data(&*store)[range])
}

fn abi_error(detail: impl Into<String>) -> CallFailure {
    CallFailure::new(FailureReason::AbiError, detail)
}

fn typed<P, R>(
    store: &mut Store<CallState>,
    instance: &Instance,
    export: &wasmtime::ModuleExport,
) -> Result<TypedFunc<P, R>, CallFailure>
where
    P: wasmtime::WasmParams,
    R: wasmtime::WasmResults,
{
    match instance.get_module_export(&mut *store, export) {
        Some(Extern::Func(f)) => f
            .typed::<P, R>(&*store)
            .map_err(|e| abi_error(format!("export has the wrong type: {e:#}"))),
        _ => Err(abi_error("export is missing")),
    }
}

/// `ptr..ptr+len` as a range of the guest's memory, if it lies inside it.
fn guest_range(
    store: &Store<CallState>,
    memory: Memory,
    ptr: u32,
    len: u32,
) -> Option<std::ops::Range<usize>> {
    let start = ptr as usize;
    let end = start.checked_add(len as usize)?;
    (end <= memory.data_size(store)).then_some(start..end)
}

/// Checks an output before it is trusted: JSON of the right shape, a valid
/// reason code, a bounded note.
///
/// # Errors
///
/// Returns `bad-output` for anything but a valid answer, and `rule-error`
/// for the rule's own `{"error": ...}`.
pub fn parse_output(bytes: &[u8]) -> Result<Decision, CallFailure> {
    let bad = |d: String| CallFailure::new(FailureReason::BadOutput, d);
    match serde_json::from_slice::<RuleOutput>(bytes) {
        Ok(RuleOutput::Decision(d)) => {
            if !is_valid_reason(&d.reason) {
                return Err(bad(format!(
                    "reason {:?} is not a valid reason code",
                    d.reason.chars().take(80).collect::<String>()
                )));
            }
            if d.note.as_ref().is_some_and(|n| n.len() > NOTE_BYTES_MAX) {
                return Err(bad(format!("note longer than {NOTE_BYTES_MAX} bytes")));
            }
            Ok(d)
        }
        Ok(RuleOutput::Error(e)) => Err(CallFailure::new(
            FailureReason::RuleError,
            e.error.chars().take(NOTE_BYTES_MAX).collect::<String>(),
        )),
        Err(e) => Err(bad(format!("output is not a valid answer: {e}"))),
    }
}

/// Maps a wasmtime error to a typed failure reason.
pub(crate) fn classify(err: &wasmtime::Error, during: &str) -> CallFailure {
    if let Some(hit) = err.downcast_ref::<LimitHit>() {
        let reason = match hit {
            LimitHit::Memory { .. } => FailureReason::MemoryLimit,
            LimitHit::Table { .. } => FailureReason::TableLimit,
        };
        return CallFailure::new(reason, format!("{during}: {hit}"));
    }
    if let Some(h) = err.downcast_ref::<HostCallError>() {
        return CallFailure::new(FailureReason::HostError, format!("{during}: {h}"));
    }
    if err
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return CallFailure::new(FailureReason::Unavailable, format!("{during}: {err}"));
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        let reason = match trap {
            Trap::OutOfFuel => FailureReason::Fuel,
            Trap::Interrupt => FailureReason::Timeout,
            Trap::StackOverflow => FailureReason::StackOverflow,
            other => FailureReason::Trap(trap_kind(*other)),
        };
        return CallFailure::new(reason, format!("{during}: {trap}"));
    }
    CallFailure::new(
        FailureReason::Trap("host".into()),
        format!("{during}: {err:#}"),
    )
}

fn trap_kind(trap: Trap) -> String {
    match trap {
        Trap::UnreachableCodeReached => "unreachable".into(),
        Trap::MemoryOutOfBounds => "memory-out-of-bounds".into(),
        Trap::TableOutOfBounds => "table-out-of-bounds".into(),
        Trap::IndirectCallToNull => "indirect-call-to-null".into(),
        Trap::BadSignature => "bad-signature".into(),
        Trap::IntegerOverflow => "integer-overflow".into(),
        Trap::IntegerDivisionByZero => "integer-divide-by-zero".into(),
        Trap::BadConversionToInteger => "bad-conversion-to-integer".into(),
        Trap::HeapMisaligned => "heap-misaligned".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::limits::EngineLimits;
    use crate::risk::sandbox::PoolTuning;
    use rules_sdk::Verdict;

    /// Attacks memory reset: every call checks that its data segment is
    /// intact and that one byte in each of 40 pages (2.5 MiB, past any
    /// kept-resident range) reads as zero, then overwrites all of them. A
    /// slot that was not fully reset makes the next call answer `deny`.
    const SCRIBBLER: &str = r#"(module
      (memory (export "memory") 1)
      (data (i32.const 100) "I")
      (data (i32.const 200) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
      (data (i32.const 300) "{\"verdict\":\"deny\",\"reason\":\"dirty\"}")
      (func (export "hongbao_abi_version") (result i32) i32.const 1)
      (func (export "hongbao_alloc") (param i32) (result i32) i32.const 1024)
      (func (export "hongbao_claim") (param i32 i32) (result i64)
        (local $p i32) (local $at i32) (local $dirty i32)
        (drop (memory.grow (i32.const 39)))
        (local.set $dirty (i32.ne (i32.load8_u (i32.const 100)) (i32.const 73)))
        (i32.store8 (i32.const 100) (i32.const 88))
        (block $done
          (loop $page
            (br_if $done (i32.ge_u (local.get $p) (i32.const 40)))
            (local.set $at (i32.add (i32.mul (local.get $p) (i32.const 65536))
                                    (i32.add (i32.const 2048) (i32.mul (local.get $p) (i32.const 1543)))))
            (if (i32.load8_u (local.get $at)) (then (local.set $dirty (i32.const 1))))
            (i32.store8 (local.get $at) (i32.const 171))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $page)))
        (if (result i64) (local.get $dirty)
          (then (i64.or (i64.shl (i64.const 300) (i64.const 32)) (i64.const 35)))
          (else (i64.or (i64.shl (i64.const 200) (i64.const 32)) (i64.const 33))))))"#;

    /// The guests' bump allocator grows memory past the initial pages when
    /// a call needs it: a blocklist of 4,000 users (about 250 KiB of heap
    /// once parsed) still finds the one that is listed.
    #[test]
    fn a_sample_rule_with_a_large_heap_grows_its_memory() {
        let sandbox = Sandbox::new(&EngineLimits::default()).expect("the sandbox builds");
        let bytes = crate::bundled::module("blocklist").expect("blocklist is bundled");
        let module = CompiledModule::compile(&sandbox, bytes).expect("the module compiles");
        let users: Vec<String> = (0..4000).map(|i| format!("u-blocked-{i:06}")).collect();
        let limits = Limits {
            input_bytes_max: 256 * 1024,
            ..Limits::default()
        };
        for (user, want) in [
            ("u-blocked-003999", Verdict::Freeze),
            ("u-1", Verdict::Allow),
        ] {
            let mut input = rules_sdk::testing::claim_fixture();
            input.settings = serde_json::json!({ "users": users });
            input.request.user_id = user.into();
            // The sample rules speak ABI version 2: compact input.
            let bytes = rules_sdk::compact::encode(&input).expect("the input encodes");
            let r = call(&sandbox, &module, Hook::Claim, &limits, &bytes);
            let d = r.outcome.expect("blocklist answers");
            assert_eq!(d.verdict, want, "{user}: {d:?}");
        }
    }

    #[test]
    fn every_memory_reset_setting_gives_each_call_a_pristine_memory() {
        let tunings = [
            PoolTuning::default(),
            PoolTuning::stock(),
            PoolTuning {
                pagemap_scan: false,
                ..PoolTuning::default()
            },
            PoolTuning {
                linear_memory_keep_resident_bytes: 64 * 1024,
                ..PoolTuning::default()
            },
            PoolTuning {
                memory_init_cow: false,
                ..PoolTuning::default()
            },
        ];
        for tuning in tunings {
            let sandbox = Sandbox::with_tuning(&EngineLimits::default(), &tuning)
                .expect("the sandbox builds");
            let module = CompiledModule::compile(&sandbox, SCRIBBLER.as_bytes())
                .expect("the module compiles");
            for i in 0..20 {
                let r = call(&sandbox, &module, Hook::Claim, &Limits::default(), b"{}");
                let d = r.outcome.expect("the scribbler answers");
                assert_eq!(
                    (d.verdict, d.reason.as_str()),
                    (Verdict::Allow, "ok"),
                    "call {i} saw the previous call's writes under {tuning:?}"
                );
            }
        }
    }
}
