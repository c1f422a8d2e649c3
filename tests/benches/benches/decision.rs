//! A whole claim decision for a packet of merchant m1 with the demo rule set
//! (four platform rules and two of the merchant's own): the Wasm engine, a
//! fresh instance per rule call, against the same six rules compiled
//! natively behind the same `Evaluator` interface, and the engine again
//! with a single worker thread. Payout likewise (three rules).
//!
//! The engine spreads the rules over its worker threads and the native
//! rules run on the calling thread, so both are timed by the process's CPU
//! time (the cost); `HONGBAO_BENCH_CLOCK=wall` gives the latency instead.
//!
//! Run: `cargo bench -p hongbao-benches --bench decision`

use criterion::{Criterion, measurement::Measurement};
use hongbao::risk::{Evaluator, RiskEngine};
use hongbao_benches::{NativeRules, claim_request, demo_config, payout_request};
use rules_sdk::testing::FIXTURE_NOW;

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let config = demo_config().expect("the demo config parses");
    let engine = RiskEngine::load(&config, &hongbao::bundled::module).expect("the rules load");
    // The same rules on a single worker: the calls of a decision one after
    // another, for comparison with the default of one worker per core.
    let mut one = config.clone();
    one.sandbox.workers = 1;
    let engine1 = RiskEngine::load(&one, &hongbao::bundled::module).expect("the rules load");
    let native = NativeRules::new(&config, &engine).expect("every rule has a native build");
    let (claim, claim_facts) = claim_request();
    let (payout, payout_facts) = payout_request();

    let wasm = engine.claim(FIXTURE_NOW, &claim, &claim_facts);
    let nat = native.claim(FIXTURE_NOW, &claim, &claim_facts);
    assert_eq!(wasm.rules.len(), 6, "four platform and two merchant rules");
    assert_eq!(
        (wasm.verdict, &wasm.reason),
        (nat.verdict, &nat.reason),
        "the native rules decide as the Wasm ones"
    );
    assert!(wasm.rules.iter().all(|r| r.failure.is_none()));

    let mut g = c.benchmark_group("claim-decision");
    g.bench_function("native", |b| {
        b.iter(|| native.claim(FIXTURE_NOW, &claim, &claim_facts));
    });
    g.bench_function("isolated", |b| {
        b.iter(|| engine.claim(FIXTURE_NOW, &claim, &claim_facts));
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
    g.bench_function("isolated", |b| {
        b.iter(|| engine.payout(FIXTURE_NOW, &payout, &payout_facts));
    });
    g.bench_function("isolated-1-worker", |b| {
        b.iter(|| engine1.payout(FIXTURE_NOW, &payout, &payout_facts));
    });
    g.finish();
}

hongbao_benches::bench_main!(bench, hongbao_benches::Clock::Process);
