//! What each knob of the per-call path gives, side by side in one run: the
//! isolated call of one rule under several memory-reset settings of the
//! pooling allocator ([`PoolTuning`]) and several guest builds (stack size,
//! allocator), with the reused-instance floor of each guest build.
//!
//! The guest builds come from `tests/benches/build-variant.sh` (see
//! `BENCHMARKS.md` for the commands); a build that is missing is skipped.
//! Before timing, it prints the minor page faults per call of every
//! combination, a figure that does not depend on how loaded the machine is.
//!
//! Run: `cargo bench -p hongbao-benches --bench variants`
//! (one rule: `HONGBAO_BENCH_RULE=blocklist`; default daily-limits).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, measurement::Measurement};
use hongbao::risk::sandbox::{PoolTuning, Sandbox};
use hongbao_benches::{
    Failures, Isolated, Reused, RuleCase, demo_config, minor_faults, rule_cases,
};

const GUESTS: &[&str] = &[
    "json-v1",
    "before",
    "dlmalloc-32k",
    "bump-64k",
    "bump-32k",
    "bump-16k",
    "bump-32k-o3",
];

fn tunings() -> Vec<(&'static str, PoolTuning)> {
    let keep = |bytes, pagemap_scan| PoolTuning {
        linear_memory_keep_resident_bytes: bytes,
        pagemap_scan,
        memory_init_cow: true,
    };
    vec![
        ("stock", PoolTuning::stock()),
        ("keep128k", keep(128 * 1024, false)),
        ("keep1m", keep(1024 * 1024, false)),
        ("pagemap-keep128k", keep(128 * 1024, true)),
        ("pagemap-keep1m", keep(1024 * 1024, true)),
        (
            "pagemap-keep1m-nocow",
            PoolTuning {
                memory_init_cow: false,
                ..keep(1024 * 1024, true)
            },
        ),
    ]
}

fn variants_dir() -> PathBuf {
    std::env::var_os("HONGBAO_BENCH_VARIANTS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/variants"),
        PathBuf::from,
    )
}

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let config = demo_config().expect("the demo config parses");
    let rule = std::env::var("HONGBAO_BENCH_RULE").unwrap_or_else(|_| "daily-limits".into());
    let base = rule_cases(&config)
        .expect("cases")
        .into_iter()
        .find(|c| c.crate_name == rule)
        .expect("a sample rule");
    let mut guests: Vec<(&str, RuleCase)> = vec![(
        "bundled",
        RuleCase {
            wasm: base.wasm,
            ..clone_case(&base)
        },
    )];
    for g in GUESTS {
        let path = variants_dir().join(g).join(format!("{rule}.wasm"));
        match std::fs::read(&path) {
            Ok(bytes) => guests.push((
                g,
                RuleCase {
                    wasm: Box::leak(bytes.into_boxed_slice()),
                    ..clone_case(&base)
                },
            )),
            Err(_) => eprintln!("skipping guest build {g}: no {}", path.display()),
        }
    }
    let sandboxes: Vec<(&str, Arc<Sandbox>)> = tunings()
        .into_iter()
        .map(|(n, t)| {
            (
                n,
                Arc::new(Sandbox::with_tuning(&config.sandbox, &t).expect("builds")),
            )
        })
        .collect();

    // Guests built before ABI version 2 take the JSON input.
    let input_of = |case: &RuleCase| -> &[u8] {
        let iso = Isolated::new(Arc::clone(&sandboxes[0].1), case).expect("compiles");
        match iso.abi_version().expect("the module speaks an ABI version") {
            1 => Box::leak(case.json_input.clone().into_boxed_slice()),
            _ => Box::leak(case.input.clone().into_boxed_slice()),
        }
    };
    let failures = Failures::default();
    eprintln!("minor page faults per call, {rule}:");
    eprintln!("{:<32} {:>8}", "tuning / guest", "faults");
    for (g, case) in &guests {
        let input = input_of(case);
        let mut reused = Reused::new(&sandboxes[0].1, case).expect("instantiates");
        let f = minor_faults(1000, || {
            failures.check(reused.call(input));
        });
        eprintln!("{:<32} {f:>8.2}", format!("reused / {g}"));
        for (t, sandbox) in &sandboxes {
            let iso = Isolated::new(Arc::clone(sandbox), case).expect("compiles");
            let f = minor_faults(1000, || {
                failures.check(iso.call(input));
            });
            eprintln!("{:<32} {f:>8.2}", format!("{t} / {g}"));
            failures.report(&format!("faults {t} / {g}"));
        }
    }

    for (g, case) in &guests {
        let input = input_of(case);
        let mut group = c.benchmark_group(format!("{rule}/{g}"));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let mut reused = Reused::new(&sandboxes[0].1, case).expect("instantiates");
        group.bench_function("reused", |b| b.iter(|| failures.check(reused.call(input))));
        failures.report(&format!("{rule}/{g}/reused"));
        for (t, sandbox) in &sandboxes {
            let iso = Isolated::new(Arc::clone(sandbox), case).expect("compiles");
            group.bench_function(*t, |b| b.iter(|| failures.check(iso.call(input))));
            failures.report(&format!("{rule}/{g}/{t}"));
        }
        group.finish();
    }
}

fn clone_case(c: &RuleCase) -> RuleCase {
    RuleCase {
        crate_name: c.crate_name.clone(),
        rule_id: c.rule_id.clone(),
        hook: c.hook,
        limits: c.limits.clone(),
        input: c.input.clone(),
        json_input: c.json_input.clone(),
        wasm: c.wasm,
        native: c.native,
        native_json: c.native_json,
    }
}

hongbao_benches::bench_main!(bench, hongbao_benches::Clock::Thread);
