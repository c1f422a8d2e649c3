//! Hostile WAT modules against the sandbox. Each case names the entry of
//! `shared/cases/README.md` it reproduces.

use hongbao::risk::{Evaluator, FailureReason};
use hongbao_tests::{NOW, claim, engine, one_rule};
use rules_sdk::Verdict;

fn only_rule(e: &hongbao::risk::Evaluation) -> &hongbao::risk::RuleOutcome {
    assert_eq!(e.rules.len(), 1, "exactly one rule ran: {e:?}");
    &e.rules[0]
}

/// S01: an endless loop ends in the failure verdict every time, the deadline
/// re-armed per call, and an allow rule on the same engine still answers.
#[test]
fn s01_endless_loop_times_out_every_call_and_host_keeps_serving() -> anyhow::Result<()> {
    let cfg = format!(
        "{}{}",
        one_rule("loop", "endless_loop", "priority = 1"),
        one_rule("ok", "allow", "priority = 2")
    );
    let e = engine(&cfg)?;
    let (req, facts) = claim("1.00", "u-1");
    for _ in 0..3 {
        let ev = e.claim(NOW, &req, &facts);
        assert_eq!(ev.verdict, Verdict::Review);
        let looped = &ev.rules[0];
        assert_eq!(looped.rule_id, "loop");
        assert!(
            matches!(
                looped.failure,
                Some(FailureReason::Fuel | FailureReason::Timeout)
            ),
            "{looped:?}"
        );
        assert_eq!(ev.rules[1].verdict, Verdict::Allow);
    }
    Ok(())
}

/// S01 (second half): a fast rule doing alloc, write, evaluate and read,
/// 10,000 times on the same claim: identical decisions, no timeout.
#[test]
fn s01_fast_rule_ten_thousand_identical_decisions() -> anyhow::Result<()> {
    let e = engine(&one_rule("ok", "allow", ""))?;
    let (req, facts) = claim("1.00", "u-1");
    let first = e.claim(NOW, &req, &facts);
    assert_eq!(first.verdict, Verdict::Allow);
    for _ in 0..10_000 {
        let ev = e.claim(NOW, &req, &facts);
        assert_eq!(ev.verdict, first.verdict);
        assert_eq!(ev.rules[0].fuel_used, first.rules[0].fuel_used);
        assert_eq!(ev.rules[0].failure, None);
    }
    Ok(())
}

/// S03: growth past a 16 MiB cap is refused with a memory-limit reason.
#[test]
fn s03_memory_bomb_hits_memory_limit() -> anyhow::Result<()> {
    let e = engine(&one_rule(
        "bomb",
        "memory_bomb",
        "[rules.limits]\nmemory_bytes_max = 16777216",
    ))?;
    let (req, facts) = claim("1.00", "u-1");
    let ev = e.claim(NOW, &req, &facts);
    let r = only_rule(&ev);
    assert_eq!(r.failure, Some(FailureReason::MemoryLimit), "{r:?}");
    assert_eq!(r.reason, "memory-limit");
    assert_eq!(ev.verdict, Verdict::Review);
    assert!(
        r.detail.as_deref().unwrap_or("").contains("16777216"),
        "{r:?}"
    );
    Ok(())
}

/// S03: a table grown to ten million elements hits the table limit.
#[test]
fn s03_table_bomb_hits_table_limit() -> anyhow::Result<()> {
    let e = engine(&one_rule("tables", "table_bomb", ""))?;
    let (req, facts) = claim("1.00", "u-1");
    let ev = e.claim(NOW, &req, &facts);
    assert_eq!(only_rule(&ev).failure, Some(FailureReason::TableLimit));
    assert_eq!(ev.verdict, Verdict::Review);
    Ok(())
}

/// S07: a mutable global and a static buffer do not survive between calls.
#[test]
fn s07_no_state_between_calls() -> anyhow::Result<()> {
    let e = engine(&one_rule("state", "carry_state", ""))?;
    let (req1, facts1) = claim("1.00", "alice-u1");
    let (req2, facts2) = claim("1.00", "bob-u2");
    let first = e.claim(NOW, &req1, &facts1);
    let second = e.claim(NOW, &req2, &facts2);
    for ev in [&first, &second] {
        let r = only_rule(ev);
        assert_eq!(r.failure, None, "{r:?}");
        assert_eq!(r.verdict, Verdict::Allow, "seen flag leaked: {r:?}");
    }
    let note = only_rule(&second).note.clone().unwrap_or_default();
    assert!(
        !note.contains("alice"),
        "U2's evaluation saw U1's id: {note:?}"
    );
    Ok(())
}

/// S08: a trap on 0.13 gives the failure verdict; ten normal claims after it
/// get their normal verdict.
#[test]
fn s08_trap_does_not_poison_following_calls() -> anyhow::Result<()> {
    let e = engine(&one_rule("trap013", "trap_on_amount", ""))?;
    let (req, facts) = claim("0.13", "u-1");
    let ev = e.claim(NOW, &req, &facts);
    assert_eq!(ev.verdict, Verdict::Review);
    assert_eq!(
        only_rule(&ev).failure,
        Some(FailureReason::Trap("unreachable".into()))
    );
    let (req, facts) = claim("1.00", "u-1");
    for _ in 0..10 {
        let ev = e.claim(NOW, &req, &facts);
        assert_eq!(ev.verdict, Verdict::Allow, "{ev:?}");
    }
    Ok(())
}

/// S09: hostile output pointers and lengths are refused with bad-output,
/// and a valid output away from offset 0 is read where the guest put it.
#[test]
fn s09_output_pointers_are_untrusted() -> anyhow::Result<()> {
    let (req, facts) = claim("1.00", "u-1");
    // The length is checked against the cap before anything is read or
    // allocated, and the range against memory before any byte is copied.
    for (m, why) in [
        (
            "bad_output_a",
            "output of 2147483647 bytes at 65500 exceeds output_bytes_max = 4096",
        ),
        (
            "bad_output_b",
            "output of 4294967295 bytes at 16 exceeds output_bytes_max = 4096",
        ),
        (
            "bad_output_c",
            "output range 4294967280+32 is outside the 131072-byte memory",
        ),
    ] {
        let e = engine(&one_rule("bad", m, ""))?;
        let ev = e.claim(NOW, &req, &facts);
        assert_eq!(
            only_rule(&ev).failure,
            Some(FailureReason::BadOutput),
            "{m}: {ev:?}"
        );
        assert_eq!(only_rule(&ev).detail.as_deref(), Some(why), "{m}");
        assert_eq!(ev.verdict, Verdict::Review, "{m}");
    }
    let e = engine(&one_rule("offset", "output_at_offset", ""))?;
    let ev = e.claim(NOW, &req, &facts);
    assert_eq!(ev.verdict, Verdict::Deny);
    assert_eq!(only_rule(&ev).reason, "at_offset");
    Ok(())
}

/// S10: a forbidden import and a mistyped or unknown host import are
/// refused at load, naming each import.
#[test]
fn s10_bad_imports_refused_at_load_naming_the_import() {
    let err = engine(&one_rule("wasi", "forbidden_import", ""))
        .expect_err("WASI import must be refused")
        .to_string();
    assert!(err.contains("wasi_snapshot_preview1.fd_write"), "{err}");
    let err = engine(&one_rule("typo", "mistyped_import", ""))
        .expect_err("mistyped import must be refused")
        .to_string();
    assert!(
        err.contains("hongbao.log with signature (i64) -> ()"),
        "{err}"
    );
    assert!(err.contains("hongbao.secret"), "{err}");
}

/// S04: a host import given invalid UTF-8, a zero length or a pointer past
/// memory ends that rule with host-error; the host goes on serving.
#[test]
fn s04_hostile_host_import_arguments_are_host_errors() -> anyhow::Result<()> {
    let e = engine(&one_rule("log", "hostile_log", "on_failure = \"deny\""))?;
    for amount in ["1.00", "2.00", "3.00"] {
        let (req, facts) = claim(amount, "u-1");
        let ev = e.claim(NOW, &req, &facts);
        let r = only_rule(&ev);
        assert_eq!(r.failure, Some(FailureReason::HostError), "{amount}: {r:?}");
        assert_eq!(ev.verdict, Verdict::Deny);
    }
    let (req, facts) = claim("4.00", "u-1");
    assert_eq!(e.claim(NOW, &req, &facts).verdict, Verdict::Allow);
    Ok(())
}

/// S05: a million-deep recursion calling a host import at each level traps
/// with stack-overflow (or runs out of host calls first), never aborts.
#[test]
fn s05_deep_recursion_traps_and_host_lives() -> anyhow::Result<()> {
    let cfg = one_rule(
        "deep",
        "deep_recursion",
        "[rules.limits]\nhost_calls_max = 1000000\nhost_call_bytes_max = 1048576\nfuel_per_call = 1000000000\ntimeout_ms = 5000",
    );
    let e = engine(&cfg)?;
    let (req, facts) = claim("1.00", "u-1");
    let ev = e.claim(NOW, &req, &facts);
    assert_eq!(
        only_rule(&ev).failure,
        Some(FailureReason::StackOverflow),
        "{ev:?}"
    );
    let e = engine(&one_rule("ok", "allow", ""))?;
    assert_eq!(e.claim(NOW, &req, &facts).verdict, Verdict::Allow);
    Ok(())
}

/// S01/S02: the wall-clock backstop never fires early. The epoch ticker
/// counts ticks from elapsed time, so after it was starved (a loaded
/// machine) it catches up by hundreds of ticks at once; a call that started
/// microseconds earlier must not read that as its deadline passing. Here a
/// thread plays a ticker that keeps catching up by 1,000 ticks (a second)
/// at a time: fast calls still allow, and an endless loop (with fuel that
/// outlasts its 20 ms) still ends with timeout.
#[test]
fn s02_a_ticker_that_catches_up_never_times_out_a_fast_call() -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let e = engine(&one_rule("ok", "allow", ""))?;
    let slow = engine(&one_rule(
        "loop",
        "endless_loop",
        "[rules.limits]\nfuel_per_call = 10000000000\ntimeout_ms = 20",
    ))?;
    let stop = AtomicBool::new(false);
    let (req, facts) = claim("1.00", "u-1");
    let (early, looped) = std::thread::scope(|s| {
        let ticker = s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..1000 {
                    e.sandbox().engine().increment_epoch();
                    slow.sandbox().engine().increment_epoch();
                }
                std::thread::yield_now();
            }
        });
        let early: Vec<_> = (0..500)
            .map(|_| e.claim(NOW, &req, &facts))
            .filter(|ev| ev.verdict != Verdict::Allow)
            .collect();
        let looped = slow.claim(NOW, &req, &facts);
        stop.store(true, Ordering::Relaxed);
        let _ = ticker.join();
        (early, looped)
    });
    assert!(
        early.is_empty(),
        "{} of 500 fast calls failed, first: {:?}",
        early.len(),
        early.first()
    );
    let r = only_rule(&looped);
    assert_eq!(r.rule_id, "loop");
    assert_eq!(r.failure, Some(FailureReason::Timeout), "{r:?}");
    // wasmtime cannot say how much fuel an interrupted loop burned (it
    // reported 2 units for 75 million): the record says unknown, in JSON too.
    assert_eq!(r.fuel_used, None, "{r:?}");
    assert_eq!(
        serde_json::to_value(r)?["fuel_used"],
        serde_json::Value::Null
    );
    Ok(())
}

/// Pool exhaustion is a typed failure, never a hang or a crash: with one
/// instance slot, a call made while something else holds it gets
/// `unavailable` at once, and once the slot is free calls run again. (The
/// engine's own evaluations never get here: start-up refuses more workers
/// than slots, and a worker holds one instance at a time. Direct callers of
/// `call` on many threads can.)
#[test]
fn a_call_that_finds_no_free_slot_is_unavailable() -> anyhow::Result<()> {
    use hongbao::risk::call::call;
    use hongbao::risk::limits::{EngineLimits, Limits};
    use hongbao::risk::module::CompiledModule;
    use hongbao::risk::sandbox::Sandbox;
    use hongbao::risk::store::CallState;
    use rules_sdk::Hook;

    let sandbox = Sandbox::new(&EngineLimits {
        instances_max: 1,
        workers: 1,
        ..EngineLimits::default()
    })?;
    let bytes = hongbao_tests::module_bytes("allow").ok_or_else(|| anyhow::anyhow!("allow"))?;
    let allow = CompiledModule::compile(&sandbox, bytes).map_err(|p| anyhow::anyhow!("{p:?}"))?;
    let input = serde_json::to_vec(&rules_sdk::testing::claim_fixture())?;
    let limits = Limits::default();
    let answer = || call(&sandbox, &allow, Hook::Claim, &limits, &input).outcome;
    assert_eq!(answer().map(|d| d.verdict).ok(), Some(Verdict::Allow));
    {
        // An instance of the same engine takes the only slot while its
        // store lives.
        let module = wasmtime::Module::new(sandbox.engine(), wat::parse_bytes(bytes)?)?;
        let mut store = wasmtime::Store::new(sandbox.engine(), CallState::new(&limits));
        store.set_fuel(limits.fuel_per_call)?;
        store.set_epoch_deadline(u64::MAX / 2);
        let _held = sandbox.linker().instantiate(&mut store, &module)?;
        let refused = answer()
            .err()
            .ok_or_else(|| anyhow::anyhow!("a call got the held slot"))?;
        assert_eq!(refused.reason, FailureReason::Unavailable, "{refused:?}");
        assert!(refused.detail.contains("instantiation"), "{refused:?}");
    }
    // The slot is free again.
    assert_eq!(answer().map(|d| d.verdict).ok(), Some(Verdict::Allow));
    Ok(())
}
