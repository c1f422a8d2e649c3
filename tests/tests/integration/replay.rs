//! Seeded sample traffic through the settlement core and the demo config's
//! bundled rules, every invariant checked after every event (TigerBeetle
//! VOPR style: the seed reproduces the run exactly).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use hongbao::config::Config;
use hongbao::event::Event;
use hongbao::risk::RiskEngine;
use hongbao::settlement::{Outcome, Settlement, Status};
use hongbao::traffic::{TrafficConfig, generate};
use hongbao_tests::apply_checked;
use rules_sdk::Verdict;

const SEED: u64 = 7;
const EVENTS: usize = 3_000;

/// An outcome without its wall-clock durations, which are the only part of
/// a run that may differ between two replays.
fn timeless(mut outcome: Outcome) -> Outcome {
    if let Some(d) = outcome.decision.as_mut() {
        for r in &mut d.rules {
            r.duration_ns = 0;
        }
    }
    outcome
}

/// 3,000 events of seed 7 through the demo rules for 50 merchants: every
/// invariant and the zero sum hold after every event, a second settlement
/// fed the same events gives the same outcomes, and the run exercises what
/// it should (claims, payouts, stops by the rules, expiries).
#[test]
fn seeded_traffic_keeps_every_invariant_after_every_event() -> Result<()> {
    let mut traffic = Vec::new();
    let stats = generate(
        &TrafficConfig {
            seed: SEED,
            events: EVENTS,
            merchants: 50,
            ..TrafficConfig::default()
        },
        &mut traffic,
    )?;
    assert_eq!(stats.lines, EVENTS as u64);
    let mut config = Config::parse(&hongbao::cli::demo_config_text(50), Path::new("."))?;
    // The wall-clock backstop is the one limit that depends on the machine;
    // widen it so that fuel alone decides and the twin comparison below
    // cannot be upset by a busy CPU.
    config.limits.timeout_ms = Some(10_000);
    let engine = RiskEngine::load(&config, &hongbao::bundled::module)?;
    let settlement_config = hongbao::cli::settlement_config(&config);
    let mut s = Settlement::new(settlement_config.clone());
    let mut twin = Settlement::new(settlement_config);

    let mut malformed = 0;
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut stopped = 0;
    let mut expired = 0;
    for (i, line) in std::str::from_utf8(&traffic)?.lines().enumerate() {
        let Ok(event) = serde_json::from_str::<Event>(line) else {
            malformed += 1;
            continue;
        };
        let outcome = apply_checked(&mut s, &event, &engine)
            .map_err(|e| e.context(format!("line {} of seed {SEED}", i + 1)))?;
        let status = match (&outcome.status, outcome.replay) {
            (_, true) => "replay".to_string(),
            (Status::Accepted, false) => "accepted".to_string(),
            (Status::Refused(e), false) => format!("refused:{}", e.code()),
            (Status::Conflict(_), false) => "conflict".to_string(),
        };
        *seen
            .entry(format!("{} {status}", outcome.kind))
            .or_default() += 1;
        stopped += usize::from(outcome.verdict.is_some_and(|v| v != Verdict::Allow));
        expired += outcome.expired.len();
        let again = twin.apply(&event, &engine);
        assert_eq!(
            timeless(again),
            timeless(outcome),
            "line {} replays exactly",
            i + 1
        );
    }
    assert_eq!(malformed, stats.malformed, "{seen:?}");
    let count = |key: &str| seen.get(key).copied().unwrap_or(0);
    assert!(count("claim accepted") > 500, "{seen:?}");
    assert!(count("payout accepted") > 200, "{seen:?}");
    assert!(count("create_packet accepted") > 50, "{seen:?}");
    assert!(stopped > 0, "the rules stopped something: {seen:?}");
    assert!(expired > 0, "some packets expired: {seen:?}");
    let summary = s.summary();
    assert!(summary.zero_sum_ok);
    assert_eq!(summary, twin.summary());
    assert!(
        summary.paid_out.fen() > 0 && summary.refunded.fen() > 0,
        "{summary:?}"
    );
    Ok(())
}
