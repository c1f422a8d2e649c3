//! How verdicts and failures combine (cases R01-R05).

use hongbao::risk::{Evaluator, FailureReason};
use hongbao_tests::{NOW, claim, engine, one_rule, payout};
use rules_sdk::Verdict;

/// R03: ten rules, the seventh divides by zero, nine allow: the final verdict
/// is the failure verdict, and no record is allow with failures in it.
#[test]
fn r03_one_failing_rule_of_ten_is_never_a_pass() -> anyhow::Result<()> {
    let mut cfg = String::new();
    for i in 1..=10 {
        let module = if i == 7 { "divide_by_zero" } else { "allow" };
        cfg.push_str(&one_rule(
            &format!("r{i:02}"),
            module,
            &format!("priority = {i}"),
        ));
        cfg = cfg.replace("hooks = [\"claim\"]", "hooks = [\"claim\", \"payout\"]");
    }
    let e = engine(&cfg)?;
    let (req, facts) = claim("1.00", "u-1");
    let (preq, pfacts) = payout();
    for ev in [e.claim(NOW, &req, &facts), e.payout(NOW, &preq, &pfacts)] {
        assert_eq!(ev.rules.len(), 10);
        assert_eq!(ev.verdict, Verdict::Review);
        let failed: Vec<_> = ev.failures().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].rule_id, "r07");
        assert_eq!(
            failed[0].failure,
            Some(FailureReason::Trap("integer-divide-by-zero".into()))
        );
        assert!(ev.verdict != Verdict::Allow || ev.failures().all(|f| f.failed_open));
    }
    Ok(())
}

/// A rule configured to fail open yields allow, and its record says so.
#[test]
fn fail_open_is_explicit_and_recorded() -> anyhow::Result<()> {
    let e = engine(&one_rule(
        "open",
        "divide_by_zero",
        "on_failure = \"allow\"",
    ))?;
    let (req, facts) = claim("1.00", "u-1");
    let ev = e.claim(NOW, &req, &facts);
    assert_eq!(ev.verdict, Verdict::Allow);
    assert!(ev.rules[0].failed_open);
    assert!(ev.rules[0].failure.is_some());
    Ok(())
}

/// R05: the order of rules in the file does not change evaluation order or
/// the decision; equal priorities are ordered by scope, then id.
#[test]
fn r05_order_is_stable_across_file_order() -> anyhow::Result<()> {
    let a = one_rule("zeta", "allow", "");
    let b = one_rule("alpha", "output_at_offset", "");
    let c = one_rule("mid", "divide_by_zero", "priority = 5");
    let (req, facts) = claim("1.00", "u-1");
    let mut seen = Vec::new();
    for cfg in [
        format!("{a}{b}{c}"),
        format!("{c}{b}{a}"),
        format!("{b}{a}{c}"),
    ] {
        let ev = engine(&cfg)?.claim(NOW, &req, &facts);
        let ids: Vec<_> = ev.rules.iter().map(|r| r.rule_id.clone()).collect();
        seen.push((ids, ev.verdict, ev.reason));
    }
    assert_eq!(seen[0].0, ["mid", "alpha", "zeta"]);
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    Ok(())
}

/// M09: amounts cross the rule boundary as exact strings. A hand-written
/// WAT rule (no SDK) parses them into integer fen and compares with 4.81.
#[test]
fn m09_amounts_cross_the_boundary_exactly() -> anyhow::Result<()> {
    let e = engine(&one_rule("floor", "amount_floor", ""))?;
    for (amount, verdict) in [
        ("4.81", Verdict::Deny),
        ("10.10", Verdict::Deny),
        ("0.30", Verdict::Allow),
        ("4.80", Verdict::Allow),
    ] {
        let (req, facts) = claim(amount, "u-1");
        let ev = e.claim(NOW, &req, &facts);
        let r = &ev.rules[0];
        assert_eq!(r.failure, None, "{amount}: {r:?}");
        assert_eq!(ev.verdict, verdict, "{amount}");
        assert_eq!(
            r.detail.as_deref(),
            Some(amount),
            "the rule saw the exact string"
        );
    }
    Ok(())
}
