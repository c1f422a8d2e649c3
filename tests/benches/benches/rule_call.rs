//! One rule call, per sample rule, five ways side by side in one run:
//! `native` (the rule crate compiled natively, in-process), `reused` (one
//! Wasm instance kept across calls: the Wasm floor), `isolated` (the engine
//! path: a fresh pooled instance per call, every limit armed), `naive` (a
//! default wasmtime embedding, new store and instance per call) and, for
//! daily-limits, `regorus` (the same rule in Rego).
//!
//! Run: `cargo bench -p hongbao-benches --bench rule_call`
//! (one rule: append `-- daily-limits/`).

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, measurement::Measurement};
use hongbao::risk::sandbox::Sandbox;
use hongbao_benches::{
    Failures, Isolated, Naive, Rego, Reused, demo_config, rule_cases, run_native,
};

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let config = demo_config().expect("the demo config parses");
    let sandbox = Arc::new(Sandbox::new(&config.sandbox).expect("the sandbox builds"));
    let cases = rule_cases(&config).expect("every sample rule is in the demo config");
    let failures = Failures::default();
    for case in &cases {
        let input = case.input.as_slice();
        let isolated = Isolated::new(Arc::clone(&sandbox), case).expect("compiles");
        let mut reused = Reused::new(&sandbox, case).expect("instantiates");
        let naive = Naive::new(case).expect("compiles");
        // Every runner must give the same answer before it is timed.
        let want = run_native(case.native, input).expect("native answers");
        assert_eq!(isolated.call(input).expect("isolated answers"), want);
        assert_eq!(reused.call(input).expect("reused answers"), want);
        assert_eq!(naive.call(input).expect("naive answers"), want);

        let mut g = c.benchmark_group(&case.crate_name);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(3));
        g.bench_function("native", |b| {
            b.iter(|| failures.check(run_native(case.native, input)));
        });
        g.bench_function("reused", |b| b.iter(|| failures.check(reused.call(input))));
        g.bench_function("isolated", |b| {
            b.iter(|| failures.check(isolated.call(input)));
        });
        g.bench_function("naive", |b| b.iter(|| failures.check(naive.call(input))));
        if case.crate_name == "daily-limits" {
            let mut rego = Rego::daily_limits().expect("the policy parses");
            // Rego reads JSON: it gets the same input as ABI version 1.
            let json = case.json_input.as_slice();
            assert_eq!(rego.call(json).expect("rego answers").verdict, want.verdict);
            g.bench_function("regorus", |b| b.iter(|| failures.check(rego.call(json))));
        }
        g.finish();
        failures.report(&case.crate_name);
    }
}

hongbao_benches::bench_main!(bench, hongbao_benches::Clock::Thread);
