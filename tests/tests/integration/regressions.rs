//! Product bugs found while writing the integration suites. Each test is
//! named after the case it breaks and fails until the product is fixed.

use anyhow::Result;
use hongbao::event::Event;
use hongbao::risk::{Evaluator, FailureReason};
use hongbao::traffic::{TrafficConfig, generate};
use hongbao_tests::{NOW, amt, claim, engine, one_rule};
use rules_sdk::Verdict;

/// S11 / decision records: a rule the host refuses to call (its input is
/// over `input_bytes_max`) burned no fuel, so its record must say 0.
///
/// Bug: `host/src/risk/call.rs` `call()` computes `fuel_used` as
/// `fuel_per_call - store.get_fuel()`, but fuel is only put in the store by
/// `instantiate()`; a call refused before instantiation (oversize input,
/// missing hook export) reports the whole budget as used (20,000,000), which
/// also inflates the report's mean fuel per rule.
#[test]
fn s11_a_call_refused_before_it_runs_records_no_fuel() -> Result<()> {
    let e = engine(&one_rule("ok", "allow", ""))?;
    let (mut req, facts) = claim("1.00", "u-1");
    req.claim_id = format!("c-{}", "x".repeat(70_000));
    let ev = e.claim(NOW, &req, &facts);
    let r = &ev.rules[0];
    assert_eq!(r.failure, Some(FailureReason::HostError), "{r:?}");
    assert_eq!(ev.verdict, Verdict::Review);
    assert_eq!(r.fuel_used, Some(0), "the rule never ran: {r:?}");
    Ok(())
}

/// R01 / ABI section 6: an output that is both a decision and an error
/// (`{"verdict":"allow","reason":"ok","error":".."}`) is neither; it must be
/// a bad-output failure with the failure verdict, never an allow.
///
/// Bug: `rules-sdk/src/types.rs` `Decision` (line 215) has no
/// `#[serde(deny_unknown_fields)]`, and `RuleOutput` (untagged, line 308)
/// tries `Decision` first, so `host/src/risk/call.rs` `parse_output`
/// (line 205) reads the rule's error as an allow and drops the error.
#[test]
fn r01_an_answer_that_is_also_an_error_is_never_allow() -> Result<()> {
    let e = engine(&one_rule("both", "allow_and_error", ""))?;
    let (req, facts) = claim("1.00", "u-1");
    let ev = e.claim(NOW, &req, &facts);
    let r = &ev.rules[0];
    assert_eq!(r.failure, Some(FailureReason::BadOutput), "{r:?}");
    assert_eq!(ev.verdict, Verdict::Review, "{ev:?}");
    Ok(())
}

/// M02 / traffic: the generator's ordinary packets are packets the core can
/// create: every `create_packet` total splits into its shares within the
/// default share cap of 200.00.
///
/// Bug: `host/src/traffic/gen.rs` `ordinary_spec` (line 573) clamps the
/// total only from below (`.max(shares)`), never to `shares * 200.00`; with
/// 1..=10 shares and totals up to 2,000.00 some packets (2 of 128 with seed
/// 7 and 3,000 events: 233.70 in 1 share, 238.88 in 1 share) are refused
/// as infeasible, and the `normal` claims on them as unknown-packet.
#[test]
fn m02_generated_packets_are_feasible() -> Result<()> {
    let mut traffic = Vec::new();
    generate(
        &TrafficConfig {
            seed: 7,
            events: 3_000,
            merchants: 50,
            ..TrafficConfig::default()
        },
        &mut traffic,
    )?;
    let cap = amt("200.00");
    let mut infeasible = Vec::new();
    for line in std::str::from_utf8(&traffic)?.lines() {
        if let Ok(Event::CreatePacket {
            id,
            total,
            shares,
            split,
            ..
        }) = serde_json::from_str::<Event>(line)
            && hongbao::split::split(total, shares, split, cap, 1).is_err()
        {
            infeasible.push(format!("{id}: {total} in {shares}"));
        }
    }
    assert!(infeasible.is_empty(), "infeasible packets: {infeasible:?}");
    Ok(())
}

/// Refused rules fail closed with reason `refused` whatever the encodings
/// of the rules next to them.
///
/// Bug (found in review of ABI version 2): the engine built the JSON part
/// of an input only when some rule spoke version 1, and a rule refused at
/// load (which speaks no version) was handed that missing part: next to
/// version 2 rules only, it recorded `host-error` "cannot encode input"
/// instead of `refused`. It still failed closed, with the wrong reason.
#[test]
fn a_refused_rule_next_to_version_2_rules_records_refused() -> Result<()> {
    let e = engine(&format!(
        "[sandbox]\nrefused_rules = \"fail-closed\"\n{}{}",
        one_rule("v2", "compact_claim_count", "priority = 1"),
        one_rule("bad", "forbidden_import", "priority = 2")
    ))?;
    let (req, facts) = claim("1.00", "u-1");
    let ev = e.claim(NOW, &req, &facts);
    let got: Vec<(&str, &str, Option<FailureReason>)> = ev
        .rules
        .iter()
        .map(|r| (r.rule_id.as_str(), r.reason.as_str(), r.failure.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("v2", "ok", None),
            ("bad", "refused", Some(FailureReason::Refused))
        ]
    );
    assert_eq!(ev.verdict, Verdict::Review);
    Ok(())
}
