//! How verdicts and failures combine (cases R01-R05), and the sandbox
//! cases that are about limits as rules see them (S01 with threads, S02,
//! S11).

use anyhow::Context;
use hongbao::event::{Event, SplitKind};
use hongbao::risk::limits::Limits;
use hongbao::risk::{Evaluation, Evaluator, FailureReason, RiskEngine, Scope};
use hongbao::settlement::{DecisionInput, Settlement, SettlementConfig};
use hongbao_tests::{
    NOW, amt, apply_checked, claim, claim_event, deposit_event, engine, one_rule, packet_event,
    payout,
};
use rules_sdk::{Amount, ClaimFacts, ClaimRequest, Verdict};

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

/// A rule configured to fail open yields allow, and its record says so,
/// in the rule outcome and in the record's reason.
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
    // The record's reason says the allow stands only because the rule failed open.
    assert_eq!(ev.reason, "open:failed-open:trap");
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

/// ABI version 2 from a hand-written WAT rule (no SDK), next to a version
/// 1 rule in the same engine: each gets its input in its own encoding. The
/// v2 rule walks the compact input by its lengths to
/// `facts.user_claims_today` and denies at 10.
#[test]
fn a_hand_written_version_2_rule_reads_the_compact_input() -> anyhow::Result<()> {
    let e = engine(&format!(
        "{}{}",
        one_rule("count", "compact_claim_count", ""),
        one_rule("floor", "amount_floor", "")
    ))?;
    let versions: Vec<(String, u32)> = e
        .rules()
        .iter()
        .map(|r| (r.id.clone(), r.abi_version()))
        .collect();
    assert_eq!(versions, [("count".into(), 2), ("floor".into(), 1)]);
    for (claims_today, verdict, reason) in [
        (0, Verdict::Allow, "ok"),
        (9, Verdict::Allow, "ok"),
        (10, Verdict::Deny, "daily_claim_count"),
        (u32::MAX, Verdict::Deny, "daily_claim_count"),
    ] {
        let (req, mut facts) = claim("1.00", "u-1");
        facts.user_claims_today = claims_today;
        let ev = e.claim(NOW, &req, &facts);
        let count = &ev.rules[0];
        assert_eq!(count.failure, None, "{claims_today}: {count:?}");
        assert_eq!((count.verdict, count.reason.as_str()), (verdict, reason));
        // The version 1 rule still parses its JSON amount.
        assert_eq!(
            (ev.rules[1].verdict, ev.rules[1].failure.as_ref()),
            (Verdict::Allow, None)
        );
    }
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
            r.note.as_deref(),
            Some(amount),
            "the rule saw the exact string"
        );
    }
    Ok(())
}

/// The default fuel per call, L.
const FUEL_DEFAULT: u64 = 20_000_000;

/// A `[limits]` table that only raises the wall-clock backstop, so that
/// fuel, not a busy machine's scheduler, is what ends a long call.
const PATIENT: &str = "[limits]\ntimeout_ms = 10000\n";

fn merchant_rule(id: &str, module: &str, merchant: &str, extra: &str) -> String {
    format!(
        "[[rules]]\nid = \"{id}\"\nmodule = \"bundled:{module}\"\nscope = \"merchant\"\nmerchant = \"{merchant}\"\nhooks = [\"claim\"]\n{extra}\n"
    )
}

fn merchant_claim(merchant: &str, amount: &str) -> (ClaimRequest, ClaimFacts) {
    let (mut req, facts) = claim(amount, "u-1");
    req.merchant_id = merchant.into();
    (req, facts)
}

/// R01: a merchant rule "deny if the device is blocklisted" that traps on a
/// claim without a device id gives the failure verdict, with the rule's id
/// and the reason in the decision record; it still denies a blocked device,
/// and never sees another merchant's claims.
#[test]
fn r01_rule_error_is_never_a_pass() -> anyhow::Result<()> {
    let rules = engine(&merchant_rule(
        "m1.device-blocklist",
        "device_blocklist",
        "m1",
        "",
    ))?;
    let mut s = Settlement::new(SettlementConfig::default());
    for event in [
        deposit_event("dep-1", NOW, "m1", "10.00"),
        deposit_event("dep-2", NOW, "m2", "10.00"),
        packet_event("p-1", NOW, "m1", "10.00", 5, SplitKind::Fixed),
        packet_event("p-2", NOW, "m2", "10.00", 5, SplitKind::Fixed),
    ] {
        assert!(apply_checked(&mut s, &event, &rules)?.is_accepted());
    }
    let no_device = |id: &str, packet: &str, user: &str| Event::Claim {
        id: id.into(),
        at: NOW + 60,
        packet: packet.into(),
        user: user.into(),
        device: None,
        ip: Some("192.0.2.7".into()),
        account_created_at: Some(NOW - 90 * 86_400),
        label: None,
    };
    let o = apply_checked(&mut s, &no_device("c-1", "p-1", "u-1"), &rules)?;
    assert_eq!(o.verdict, Some(Verdict::Review), "{o:?}");
    let record = o.decision.context("a decision record")?;
    assert_eq!(record.verdict, Verdict::Review);
    assert_eq!(record.reason, "m1.device-blocklist:trap");
    assert_eq!(record.rules.len(), 1);
    let r = &record.rules[0];
    assert_eq!(r.rule_id, "m1.device-blocklist");
    assert_eq!(r.scope, Scope::Merchant("m1".into()));
    assert_eq!(r.reason, "trap");
    assert_eq!(r.failure, Some(FailureReason::Trap("unreachable".into())));
    assert!(!r.failed_open);
    assert!(r.fuel_used.is_some_and(|f| f > 0), "{r:?}");
    match &record.input {
        DecisionInput::Claim { request, .. } => assert_eq!(request.device_id, None),
        other => anyhow::bail!("not a claim input: {other:?}"),
    }
    let json = serde_json::to_value(&record)?;
    assert_eq!(json["rules"][0]["rule_id"], "m1.device-blocklist");
    assert_eq!(json["rules"][0]["reason"], "trap");
    assert_eq!(json["rules"][0]["failure"], "trap:unreachable");
    assert_eq!(json["verdict"], "review");
    assert_eq!(s.summary().held_for_review, amt("2.00"), "FD review holds");

    let mut blocked = claim_event("c-2", NOW + 60, "p-1", "u-2");
    if let Event::Claim { device, .. } = &mut blocked {
        *device = Some("dev-bl-1".into());
    }
    let o = apply_checked(&mut s, &blocked, &rules)?;
    assert_eq!(o.verdict, Some(Verdict::Deny));
    let o = apply_checked(&mut s, &claim_event("c-3", NOW + 60, "p-1", "u-3"), &rules)?;
    assert_eq!(o.verdict, Some(Verdict::Allow));
    let other = apply_checked(&mut s, &no_device("c-4", "p-2", "u-4"), &rules)?;
    assert_eq!(other.verdict, Some(Verdict::Allow));
    assert!(other.decision.context("record")?.rules.is_empty());
    Ok(())
}

/// R02: deny/review when the amount is above 50.00 and the account is
/// young (the bundled new-account rule): a claim of 80.00 whose account age
/// is missing is reviewed, not allowed, on its own and through settlement.
#[test]
fn r02_missing_account_age_does_not_fall_through_to_allow() -> anyhow::Result<()> {
    let rules = engine(&one_rule(
        "platform.new-account",
        "new-account",
        "[rules.settings]\nmin_age_seconds = 604800\nlarge_amount = \"50.00\"",
    ))?;
    let (req, mut facts) = claim("80.00", "u-1");
    facts.account_age_seconds = None;
    let ev = rules.claim(NOW, &req, &facts);
    assert_eq!(ev.verdict, Verdict::Review, "{ev:?}");
    assert_eq!(ev.reason, "platform.new-account:unknown_account_age");
    facts.account_age_seconds = Some(3 * 86_400);
    let ev = rules.claim(NOW, &req, &facts);
    assert_eq!(ev.reason, "platform.new-account:new_account_large_claim");
    facts.account_age_seconds = Some(30 * 86_400);
    assert_eq!(rules.claim(NOW, &req, &facts).verdict, Verdict::Allow);

    let mut s = Settlement::new(SettlementConfig::default());
    for event in [
        deposit_event("dep-1", NOW, "m1", "80.00"),
        packet_event("p-1", NOW, "m1", "80.00", 1, SplitKind::Fixed),
    ] {
        assert!(apply_checked(&mut s, &event, &rules)?.is_accepted());
    }
    let mut unknown_age = claim_event("c-1", NOW + 60, "p-1", "u-1");
    if let Event::Claim {
        account_created_at, ..
    } = &mut unknown_age
    {
        *account_created_at = None;
    }
    let o = apply_checked(&mut s, &unknown_age, &rules)?;
    assert_eq!(o.verdict, Some(Verdict::Review), "{o:?}");
    match o.decision.map(|d| d.input) {
        Some(DecisionInput::Claim { facts, .. }) => assert_eq!(facts.account_age_seconds, None),
        other => anyhow::bail!("not a claim input: {other:?}"),
    }
    assert_eq!(s.summary().held_for_review, amt("80.00"));
    assert_eq!(s.summary().reserved, Amount::ZERO, "nothing reserved");
    Ok(())
}

/// R04: with the default fuel L, a merchant override of L/3 stops an
/// endless loop at L/3 with a fuel failure; a rule with no override that
/// needs about 60% of L completes normally.
#[test]
fn r04_per_rule_limits_really_apply() -> anyhow::Result<()> {
    let third = FUEL_DEFAULT / 3;
    let cfg = format!(
        "{PATIENT}{}{}",
        one_rule("platform.burn", "burn_loop", ""),
        merchant_rule(
            "m1.loop",
            "endless_loop",
            "m1",
            &format!("[rules.limits]\nfuel_per_call = {third}")
        )
    );
    let e = engine(&cfg)?;
    let limits: Vec<_> = e
        .rules()
        .iter()
        .map(|r| (r.id.as_str(), r.limits.fuel_per_call))
        .collect();
    assert_eq!(
        limits,
        [("platform.burn", FUEL_DEFAULT), ("m1.loop", third)]
    );
    let (req, facts) = merchant_claim("m1", "1.00");
    let ev = e.claim(NOW, &req, &facts);
    assert_eq!(ev.rules.len(), 2, "{ev:?}");
    let (burn, looped) = (&ev.rules[0], &ev.rules[1]);
    assert_eq!(burn.rule_id, "platform.burn");
    assert_eq!(burn.failure, None, "{burn:?}");
    assert_eq!(
        (burn.verdict, burn.reason.as_str()),
        (Verdict::Allow, "burned")
    );
    assert_eq!(
        burn.fuel_used,
        Some(12_000_010),
        "golden: 60% of L and a few"
    );
    assert_eq!(looped.rule_id, "m1.loop");
    assert_eq!(looped.failure, Some(FailureReason::Fuel), "{looped:?}");
    assert_eq!(looped.fuel_used, Some(third), "stopped at the override");
    assert_eq!(ev.verdict, Verdict::Review);
    assert_eq!(ev.reason, "m1.loop:fuel");
    Ok(())
}

/// S02: the first claim on a fresh engine with a constant-allow rule is
/// allowed, not interrupted; a start function looping 1,000 times
/// instantiates and answers; a rule with no limits gets the platform
/// default fuel, seen by a loop that burns until it fails.
#[test]
fn s02_no_deadline_or_limit_forgotten() -> anyhow::Result<()> {
    let (req, facts) = claim("1.00", "u-1");
    let fresh = engine(&one_rule("ok", "allow", ""))?;
    let first = fresh.claim(NOW, &req, &facts);
    assert_eq!(first.verdict, Verdict::Allow, "{first:?}");
    assert_eq!(first.rules[0].failure, None);
    assert_eq!(first.rules[0].fuel_used, Some(14), "golden: allow.wat");
    assert_eq!(fresh.rules()[0].limits, Limits::default());

    let started = engine(&one_rule("start", "start_loop", ""))?;
    for _ in 0..2 {
        let ev = started.claim(NOW, &req, &facts);
        let r = &ev.rules[0];
        assert_eq!(r.failure, None, "{r:?}");
        assert_eq!(
            (r.verdict, r.reason.as_str()),
            (Verdict::Allow, "started_1000")
        );
        assert_eq!(
            r.fuel_used,
            Some(8_021),
            "golden: the start function is metered"
        );
    }

    let unlimited = engine(&format!(
        "{PATIENT}{}",
        one_rule("loop", "endless_loop", "")
    ))?;
    assert_eq!(unlimited.rules()[0].limits.fuel_per_call, FUEL_DEFAULT);
    let ev = unlimited.claim(NOW, &req, &facts);
    let r = &ev.rules[0];
    assert_eq!(r.failure, Some(FailureReason::Fuel), "{r:?}");
    assert_eq!(r.fuel_used, Some(FUEL_DEFAULT), "not zero, not unlimited");
    assert_eq!(ev.verdict, Verdict::Review);
    Ok(())
}

/// A claim whose encoded input grows by one byte per `pad`: long ids, 32
/// long device users, and `pad` more characters of claim id.
fn big_claim(pad: usize) -> (ClaimRequest, ClaimFacts) {
    let (mut req, mut facts) = claim("199.99", "u-1");
    let long = |prefix: &str, n: usize| format!("{prefix}-{}", "x".repeat(n));
    req.claim_id = long("c", 200 + pad);
    req.packet_id = long("m1-bill", 200);
    req.merchant_id = long("m1", 200);
    req.campaign_id = Some(long("m1-cmp", 200));
    req.user_id = long("u", 200);
    req.device_id = Some(long("dev", 200));
    req.ip = Some("2001:db8:1:ffff:ffff:ffff:ffff:ffff".into());
    facts.device_recent_users = (0..32).map(|i| long(&format!("u{i:02}"), 900)).collect();
    facts.device_distinct_users_24h = 32;
    (req, facts)
}

/// The pad of [`big_claim`] that makes the largest input `rules` (one rule)
/// accepts: one byte more is refused as over `input_bytes_max`, and the
/// refusal says that input is 65,537 bytes.
fn largest_input_pad(rules: &RiskEngine) -> usize {
    let too_big = |pad: usize| {
        let (req, facts) = big_claim(pad);
        rules.claim(NOW, &req, &facts).rules[0].failure == Some(FailureReason::HostError)
    };
    let (mut lo, mut hi) = (0, 64 * 1024);
    assert!(!too_big(lo) && too_big(hi), "the search brackets the limit");
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if too_big(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let (req, facts) = big_claim(hi);
    let over = rules.claim(NOW, &req, &facts);
    let detail = over.rules[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("input of 65537 bytes exceeds input_bytes_max = 65536"),
        "one byte over the largest input: {detail}"
    );
    assert_eq!(
        over.verdict,
        Verdict::Review,
        "too big is the failure verdict"
    );
    lo
}

/// S11: a rule that ignores its input allows the smallest claim and the
/// largest input the host will send (found by search: one byte more is
/// refused as over `input_bytes_max`); a real SDK rule that parses all of
/// such an input fits in its fuel; a rule that burns most of its fuel then
/// traps gets the failure verdict with the fuel it burned recorded.
#[test]
fn s11_fuel_budget_fits_the_largest_legal_input() -> anyhow::Result<()> {
    let allow = engine(&one_rule("ok", "allow", ""))?;
    let (mut small, mut small_facts) = claim("0.01", "u");
    small.claim_id = "c".into();
    small.packet_id = "p".into();
    small.campaign_id = None;
    small.ip = None;
    small_facts.device_recent_users = vec!["u".into()];
    let ev = allow.claim(NOW, &small, &small_facts);
    assert_eq!(ev.verdict, Verdict::Allow, "{ev:?}");
    assert_eq!(ev.rules[0].failure, None);

    let sdk = engine(&one_rule(
        "sdk",
        "self-dealing",
        "[rules.settings]\nstaff = [\"m1-staff-1\"]",
    ))?;
    for rules in [&allow, &sdk] {
        let (req, facts) = big_claim(largest_input_pad(rules));
        let largest = rules.claim(NOW, &req, &facts);
        let r = &largest.rules[0];
        assert_eq!(r.failure, None, "the 65536-byte input: {r:?}");
        assert_eq!(r.verdict, Verdict::Allow, "{r:?}");
        assert!(r.fuel_used.is_some_and(|f| f < FUEL_DEFAULT / 2), "{r:?}");
    }

    let trap = engine(&one_rule("burn-trap", "burn_then_trap", ""))?;
    let (req, facts) = claim("1.00", "u-1");
    let ev = trap.claim(NOW, &req, &facts);
    let r = &ev.rules[0];
    assert_eq!(ev.verdict, Verdict::Review);
    assert_eq!(r.failure, Some(FailureReason::Trap("unreachable".into())));
    assert_eq!(r.reason, "trap");
    assert_eq!(
        r.fuel_used,
        Some(18_000_005),
        "golden: 90% of L burned, recorded"
    );
    Ok(())
}

/// S01 (threads): an endless loop called 100 times from two threads that
/// share one engine ends every time in the failure verdict with a fuel or
/// timeout reason; an allow rule on the same threads still answers allow.
#[test]
fn s01_endless_loop_from_two_threads_times_out_every_call() -> anyhow::Result<()> {
    let e = engine(&format!(
        "{}{}",
        merchant_rule("m-loop.loop", "endless_loop", "m-loop", ""),
        merchant_rule("m-ok.allow", "allow", "m-ok", "")
    ))?;
    let (looping, looping_facts) = merchant_claim("m-loop", "1.00");
    let (fine, fine_facts) = merchant_claim("m-ok", "1.00");
    let results: Vec<(Vec<Evaluation>, Evaluation)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let looped: Vec<Evaluation> = (0..50)
                        .map(|_| e.claim(NOW, &looping, &looping_facts))
                        .collect();
                    (looped, e.claim(NOW, &fine, &fine_facts))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker thread panicked"))
            .collect()
    });
    assert_eq!(results.len(), 2);
    let mut calls = 0;
    for (looped, after) in &results {
        for ev in looped {
            calls += 1;
            assert_eq!(ev.verdict, Verdict::Review, "{ev:?}");
            let r = &ev.rules[0];
            assert_eq!(r.rule_id, "m-loop.loop");
            assert!(
                matches!(
                    r.failure,
                    Some(FailureReason::Fuel | FailureReason::Timeout)
                ),
                "{r:?}"
            );
            assert!(r.reason == "fuel" || r.reason == "timeout", "{r:?}");
        }
        assert_eq!(after.verdict, Verdict::Allow, "{after:?}");
        assert_eq!(after.rules.len(), 1);
        assert_eq!(after.rules[0].failure, None);
    }
    assert_eq!(calls, 100);
    Ok(())
}

/// A misspelt setting is caught at load: the rule answers an ordinary
/// request with an error, so the host refuses it before any traffic.
#[test]
fn misspelt_setting_is_refused_at_load() {
    let cfg = one_rule(
        "platform.daily-limits",
        "daily-limits",
        "[rules.settings]\nmax_claimz = 10",
    );
    let err = engine(&cfg)
        .expect_err("a misspelt setting must be refused")
        .to_string();
    assert!(err.contains("platform.daily-limits"), "{err}");
    assert!(err.contains("max_claimz"), "{err}");
}

/// Settings so large that every input is over the rule's `input_bytes_max`
/// are refused at load, not failed call by call during traffic. (Found in
/// review: such a rule loaded, and every claim got `review` with
/// host-error.)
#[test]
fn settings_too_big_for_the_input_limit_are_refused_at_load() {
    let staff: Vec<String> = (0..100).map(|i| format!("\"staff-{i:04}\"")).collect();
    let cfg = one_rule(
        "m.self",
        "self-dealing",
        &format!(
            "[rules.limits]\ninput_bytes_max = 1024\n[rules.settings]\nstaff = [{}]",
            staff.join(", ")
        ),
    );
    let err = engine(&cfg)
        .expect_err("settings over the input limit must be refused")
        .to_string();
    assert!(err.contains("rule m.self refused"), "{err}");
    assert!(err.contains("over input_bytes_max = 1024"), "{err}");
}

/// What a rule logs through the host import lands in its decision record.
#[test]
fn rule_logs_are_kept_in_the_record() -> anyhow::Result<()> {
    let e = engine(&one_rule("floor", "amount_floor", ""))?;
    let (req, facts) = claim("1.00", "u-1");
    let ev = e.claim(NOW, &req, &facts);
    assert_eq!(ev.rules[0].logs, ["debug: amount parsed"]);
    Ok(())
}
