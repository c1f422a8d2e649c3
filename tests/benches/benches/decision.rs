//! A whole claim decision for a packet of merchant m1 with the demo rule set
//! (four platform rules and two of the merchant's own): the Wasm engine, a
//! fresh instance per rule call, against the same six rules compiled
//! natively behind the same `Evaluator` interface (on the same compact
//! input, and on the JSON input of ABI version 1), and the engine again
//! with a single worker thread. Payout likewise (three rules).
//!
//! `isolated` is called from the bench's thread, outside the engine's
//! workers: each decision is handed to a worker and waited for, as a
//! caller on a thread of its own (a server's request thread) would see it.
//! `isolated-on-worker` makes the decisions from a rule worker, as
//! `hongbao run` does (`Evaluator::run_on_worker`): no hand-off per
//! decision, the rules split between the workers directly.
//!
//! The engine spreads the rules over its worker threads and the native
//! rules run on the calling thread, so both are timed by the process's CPU
//! time (the cost); `HONGBAO_BENCH_CLOCK=wall` gives the latency instead.
//!
//! Run: `cargo bench -p hongbao-benches --bench decision`

use criterion::Criterion;
use hongbao::risk::{Evaluator, RiskEngine};
use hongbao_benches::{
    Clock, Encoding, FromNanos, NativeRules, claim_request, clock_ns, demo_config, payout_request,
};
use rules_sdk::testing::FIXTURE_NOW;

/// Runs `iters` evaluations on one of `engine`'s workers and times them
/// all with `clock`.
fn on_worker(engine: &RiskEngine, clock: Clock, iters: u64, eval: impl Fn() + Send + Sync) -> u64 {
    let started = clock_ns(clock);
    engine.run_on_worker(Box::new(|| {
        for _ in 0..iters {
            eval();
        }
    }));
    clock_ns(clock).saturating_sub(started)
}

fn bench<M: FromNanos>(c: &mut Criterion<M>) {
    let clock = Clock::from_env(Clock::Process);
    let config = demo_config().expect("the demo config parses");
    let engine = RiskEngine::load(&config, &hongbao::bundled::module).expect("the rules load");
    // The same rules on a single worker: the calls of a decision one after
    // another, for comparison with the default of one worker per core.
    let mut one = config.clone();
    one.sandbox.workers = 1;
    let engine1 = RiskEngine::load(&one, &hongbao::bundled::module).expect("the rules load");
    let native = NativeRules::new(&config, &engine, Encoding::Compact)
        .expect("every rule has a native build");
    let native_json =
        NativeRules::new(&config, &engine, Encoding::Json).expect("every rule has a native build");
    let (claim, claim_facts) = claim_request();
    let (payout, payout_facts) = payout_request();

    let wasm = engine.claim(FIXTURE_NOW, &claim, &claim_facts);
    let nat = native.claim(FIXTURE_NOW, &claim, &claim_facts);
    let nat_json = native_json.claim(FIXTURE_NOW, &claim, &claim_facts);
    assert_eq!(wasm.rules.len(), 6, "four platform and two merchant rules");
    for n in [&nat, &nat_json] {
        assert_eq!(
            (wasm.verdict, &wasm.reason),
            (n.verdict, &n.reason),
            "the native rules decide as the Wasm ones"
        );
    }
    assert!(wasm.rules.iter().all(|r| r.failure.is_none()));

    let mut g = c.benchmark_group("claim-decision");
    g.bench_function("native", |b| {
        b.iter(|| native.claim(FIXTURE_NOW, &claim, &claim_facts));
    });
    g.bench_function("native-json", |b| {
        b.iter(|| native_json.claim(FIXTURE_NOW, &claim, &claim_facts));
    });
    g.bench_function("isolated", |b| {
        b.iter(|| engine.claim(FIXTURE_NOW, &claim, &claim_facts));
    });
    g.bench_function("isolated-on-worker", |b| {
        b.iter_custom(|iters| {
            M::from_nanos(on_worker(&engine, clock, iters, || {
                std::hint::black_box(engine.claim(FIXTURE_NOW, &claim, &claim_facts));
            }))
        });
    });
    g.bench_function("isolated-1-worker", |b| {
        b.iter(|| engine1.claim(FIXTURE_NOW, &claim, &claim_facts));
    });
    g.finish();

    let wasm = engine.payout(FIXTURE_NOW, &payout, &payout_facts);
    assert_eq!(wasm.rules.len(), 3, "two platform and one merchant rule");
    assert!(wasm.rules.iter().all(|r| r.failure.is_none()));
    let mut g = c.benchmark_group("payout-decision");
    g.bench_function("native", |b| {
        b.iter(|| native.payout(FIXTURE_NOW, &payout, &payout_facts));
    });
    g.bench_function("native-json", |b| {
        b.iter(|| native_json.payout(FIXTURE_NOW, &payout, &payout_facts));
    });
    g.bench_function("isolated", |b| {
        b.iter(|| engine.payout(FIXTURE_NOW, &payout, &payout_facts));
    });
    g.bench_function("isolated-on-worker", |b| {
        b.iter_custom(|iters| {
            M::from_nanos(on_worker(&engine, clock, iters, || {
                std::hint::black_box(engine.payout(FIXTURE_NOW, &payout, &payout_facts));
            }))
        });
    });
    g.bench_function("isolated-1-worker", |b| {
        b.iter(|| engine1.payout(FIXTURE_NOW, &payout, &payout_facts));
    });
    g.finish();
}

hongbao_benches::bench_main!(bench, hongbao_benches::Clock::Process);
