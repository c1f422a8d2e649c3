//! End-to-end replay: 10,000 lines of seeded sample traffic (the `hongbao
//! demo` generator, seed 42, 50 merchants) through a fresh settlement core
//! and the demo rule set. Throughput is in events (lines) per
//! second; `native` runs the same rules compiled natively (on the same
//! compact input; `native-json` on the JSON input of ABI version 1), to
//! show what the sandbox costs end to end.
//!
//! The engine spreads the rules of a request over its worker threads, so
//! this is timed by the process's CPU time (the cost, workers included);
//! `HONGBAO_BENCH_CLOCK=wall` gives the wall time instead.
//!
//! Run: `cargo bench -p hongbao-benches --bench replay`

use criterion::{Criterion, Throughput, measurement::Measurement};
use hongbao::cli::{RunSinks, replay};
use hongbao::risk::RiskEngine;
use hongbao_benches::{Encoding, NativeRules, demo_config, traffic};

const EVENTS: usize = 10_000;

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let config = demo_config().expect("the demo config parses");
    let engine = RiskEngine::load(&config, &hongbao::bundled::module).expect("the rules load");
    let native = NativeRules::new(&config, &engine, Encoding::Compact)
        .expect("every rule has a native build");
    let native_json =
        NativeRules::new(&config, &engine, Encoding::Json).expect("every rule has a native build");
    // Shared, so each run reads the same bytes without a copy.
    let lines: std::sync::Arc<[u8]> = traffic(EVENTS).expect("traffic generates").into();
    let input = || std::io::Cursor::new(std::sync::Arc::clone(&lines));
    let sinks = || RunSinks {
        decisions: None,
        progress: false,
    };
    let (report, _) = replay(&config, &engine, input(), sinks()).expect("replays");
    assert!(report.invariants_ok, "the ledger balances");

    let mut g = c.benchmark_group("replay-10k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function("isolated", |b| {
        b.iter(|| replay(&config, &engine, input(), sinks()).expect("replays"));
    });
    g.bench_function("native", |b| {
        b.iter(|| replay(&config, &native, input(), sinks()).expect("replays"));
    });
    g.bench_function("native-json", |b| {
        b.iter(|| replay(&config, &native_json, input(), sinks()).expect("replays"));
    });
    g.finish();
}

hongbao_benches::bench_main!(bench, hongbao_benches::Clock::Process);
