//! The seeded simulation (`settlement/simulation.rs`) in `cargo test`:
//! several seeds, every invariant after every step, a drain that leaves
//! nothing stuck. `HONGBAO_SIM_SEED` and `HONGBAO_SIM_STEPS` replay one
//! failing seed (see `MONEY.md`).

use crate::settlement::simulation::{
    SimConfig, SimFailure, SimStats, parse_seeds, replay_command, seeds_from_env, simulate,
    steps_from_env,
};

/// The bounded run: 5 seeds of 2,000 steps, 10,000 steps in all.
const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
const STEPS: usize = 2_000;

fn add(total: &mut SimStats, s: &SimStats) {
    total.requests += s.requests;
    total.accepted += s.accepted;
    total.refused += s.refused;
    total.replays += s.replays;
    total.conflicts += s.conflicts;
    total.waits += s.waits;
    total.in_flight_peak = total.in_flight_peak.max(s.in_flight_peak);
    total.finished_after_expiry += s.finished_after_expiry;
    for i in 0..4 {
        total.claim_verdicts[i] += s.claim_verdicts[i];
        total.payout_verdicts[i] += s.payout_verdicts[i];
    }
    total.rule_failures += s.rule_failures;
    total.failed_open += s.failed_open;
    total.expiries += s.expiries;
    total.reviews += s.reviews;
    total.unfreezes += s.unfreezes;
    total.paid += s.paid;
    for (code, n) in &s.refusals {
        *total.refusals.entry(code).or_default() += n;
    }
}

#[test]
fn seeded_simulation_keeps_every_invariant_and_leaves_nothing_stuck() {
    let steps = steps_from_env(STEPS).unwrap_or_else(|e| panic!("{e}"));
    let seeds = seeds_from_env(&SEEDS).unwrap_or_else(|e| panic!("{e}"));
    // One thread per seed: each run is single-threaded and seeded, so
    // running them side by side changes nothing but the wall time.
    let reports: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = seeds
            .iter()
            .map(|&seed| scope.spawn(move || simulate(&SimConfig::new(seed, steps))))
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut total = SimStats::default();
    for report in reports {
        match report {
            Ok(report) => {
                assert!(
                    report.summary.zero_sum_ok,
                    "seed {}: {report:?}",
                    report.seed
                );
                add(&mut total, &report.stats);
            }
            Err(failure) => panic!("{failure}"),
        }
    }
    if seeds != SEEDS || steps != STEPS {
        // A replay of chosen seeds: reaching here means they passed.
        return;
    }
    assert!(seeds.len() * steps >= 10_000);
    // The run exercised everything it should.
    let t = &total;
    assert!(
        t.claim_verdicts.iter().all(|&n| n > 0),
        "every verdict at claim: {t:?}"
    );
    assert!(
        t.payout_verdicts.iter().all(|&n| n > 0),
        "every verdict at payout: {t:?}"
    );
    assert!(t.rule_failures > 0 && t.failed_open > 0, "{t:?}");
    assert!(t.replays > 0 && t.conflicts > 0, "retries: {t:?}");
    assert!(t.waits > 0 && t.in_flight_peak >= 2, "concurrency: {t:?}");
    assert!(t.finished_after_expiry > 0, "expiry while deciding: {t:?}");
    assert!(t.reviews > 0 && t.unfreezes > 0 && t.expiries > 0, "{t:?}");
    assert!(t.paid > 0 && t.refused > 0, "{t:?}");
}

#[test]
fn a_seed_replays_exactly() {
    let run = |seed| simulate(&SimConfig::new(seed, 800)).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(run(42), run(42));
    assert_ne!(run(42).digest, run(43).digest);
}

#[test]
fn a_failure_prints_its_seed_step_event_and_replay_command() {
    let failure = SimFailure {
        seed: 17,
        steps: 3_000,
        step: 1_234,
        event: Some(r#"{"type":"tick","at":5}"#.into()),
        message: "invariant broken".into(),
        replay: replay_command(17, 3_000),
    };
    assert_eq!(
        failure.to_string(),
        "simulation seed 17 step 1234: invariant broken\n  \
         event: {\"type\":\"tick\",\"at\":5}\n  \
         replay: HONGBAO_SIM_SEED=17 HONGBAO_SIM_STEPS=3000 cargo test -p hongbao --lib simulation"
    );
}

#[test]
fn seeds_parse_as_one_a_list_or_a_range() {
    assert_eq!(parse_seeds("7"), Some(vec![7]));
    assert_eq!(parse_seeds("1, 5,9"), Some(vec![1, 5, 9]));
    assert_eq!(parse_seeds("3..6"), Some(vec![3, 4, 5]));
    assert_eq!(parse_seeds("6..3"), None);
    assert_eq!(parse_seeds("x"), None);
}
