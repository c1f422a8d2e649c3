//! Money through the real settlement core and real sandboxed rules (cases
//! M01, M02, M05-M08, M10, one share per user, the verdict table, an
//! unfreeze that approves nothing, sticky failures, reviews resolved after
//! expiry, amounts as exact strings at every boundary). Every event goes through `apply_checked`, which checks every
//! invariant and the zero sum after it.
//!
//! The rules are the constant-verdict WAT modules (`tests/wat/allow.wat`,
//! `review.wat`, `deny.wat`, `freeze.wat`); each event is applied with the
//! engine whose verdict the scenario needs at that step.

use std::cell::Cell;

use anyhow::{Context, Result, bail};
use hongbao::event::{Event, ReviewDecision, SplitKind};
use hongbao::risk::{Evaluation, Evaluator, RiskEngine};
use hongbao::settlement::{
    ClaimState, DecisionInput, Outcome, PayoutState, Settlement, SettlementConfig, SettlementError,
    ShareState, Status,
};
use hongbao_tests::{
    NOW, amt, apply_checked, claim_event, deposit_event, packet_event, payout_event, resolve_event,
    tick_event, unfreeze_event, verdict_engine,
};
use rules_sdk::{Amount, ClaimFacts, ClaimRequest, PayoutFacts, PayoutRequest, Verdict};

const T0: i64 = NOW;
const DAY: i64 = 86_400;

/// One engine per constant verdict, each on both hooks.
struct Rules {
    allow: RiskEngine,
    review: RiskEngine,
    deny: RiskEngine,
    freeze: RiskEngine,
}

fn rules() -> Result<Rules> {
    let hooks = ["claim", "payout"];
    Ok(Rules {
        allow: verdict_engine("allow", &hooks)?,
        review: verdict_engine("review", &hooks)?,
        deny: verdict_engine("deny", &hooks)?,
        freeze: verdict_engine("freeze", &hooks)?,
    })
}

/// Counts the evaluations it passes on, to prove when rules did not run.
struct Counting<'a> {
    inner: &'a dyn Evaluator,
    claims: Cell<usize>,
    payouts: Cell<usize>,
}

impl<'a> Counting<'a> {
    fn new(inner: &'a dyn Evaluator) -> Counting<'a> {
        Counting {
            inner,
            claims: Cell::new(0),
            payouts: Cell::new(0),
        }
    }
}

impl Evaluator for Counting<'_> {
    fn claim(&self, now: i64, request: &ClaimRequest, facts: &ClaimFacts) -> Evaluation {
        self.claims.set(self.claims.get() + 1);
        self.inner.claim(now, request, facts)
    }

    fn payout(&self, now: i64, request: &PayoutRequest, facts: &PayoutFacts) -> Evaluation {
        self.payouts.set(self.payouts.get() + 1);
        self.inner.payout(now, request, facts)
    }
}

/// A settlement core with the default config, checked after every event.
struct World {
    s: Settlement,
}

impl World {
    fn new() -> World {
        World {
            s: Settlement::new(SettlementConfig::default()),
        }
    }

    fn run(&mut self, event: Event, rules: &dyn Evaluator) -> Result<Outcome> {
        apply_checked(&mut self.s, &event, rules)
    }

    /// Runs a new request that must be accepted.
    fn ok(&mut self, event: Event, rules: &dyn Evaluator) -> Result<Outcome> {
        let outcome = self.run(event, rules)?;
        assert_eq!(outcome.status, Status::Accepted, "{outcome:?}");
        assert!(!outcome.replay, "{outcome:?}");
        Ok(outcome)
    }

    /// Runs a new request that must be refused, and returns why.
    fn refused(&mut self, event: Event, rules: &dyn Evaluator) -> Result<SettlementError> {
        let outcome = self.run(event, rules)?;
        assert!(!outcome.replay, "{outcome:?}");
        assert_eq!(outcome.amount, Amount::ZERO, "{outcome:?}");
        match outcome.status {
            Status::Refused(e) => Ok(e),
            other => bail!("expected a refusal, got {other:?}"),
        }
    }

    fn shares(&self, packet: &str) -> Result<Vec<Amount>> {
        let p = self.s.packet(packet).context("packet exists")?;
        Ok(p.shares.iter().map(|s| s.amount).collect())
    }

    fn open_shares(&self, packet: &str) -> Result<usize> {
        Ok(self
            .s
            .packet(packet)
            .context("packet exists")?
            .open_shares())
    }

    fn claim_state(&self, claim: &str) -> Option<ClaimState> {
        self.s.claim_record(claim).map(|c| c.state.clone())
    }

    /// A merchant with `total` deposited and one fixed packet of all of it.
    fn funded(
        &mut self,
        rules: &dyn Evaluator,
        merchant: &str,
        packet: &str,
        total: &str,
        shares: u32,
    ) -> Result<()> {
        self.ok(
            deposit_event(&format!("dep-{packet}"), T0, merchant, total),
            rules,
        )?;
        self.ok(
            packet_event(packet, T0, merchant, total, shares, SplitKind::Fixed),
            rules,
        )?;
        Ok(())
    }
}

fn claim_facts(outcome: &Outcome) -> Result<&ClaimFacts> {
    match outcome.decision.as_ref().map(|d| &d.input) {
        Some(DecisionInput::Claim { facts, .. }) => Ok(facts),
        other => bail!("no claim decision record: {other:?}"),
    }
}

fn fen(amounts: &[Amount]) -> i64 {
    amounts.iter().map(|a| a.fen()).sum()
}

/// M01: 1.00 in 18 fixed shares is ten of 0.06 and eight of 0.05; 18 users
/// claim and are paid, every share at least 0.01, the sum exactly 1.00.
#[test]
fn m01_fixed_split_never_goes_negative() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-18", "1.00", 18)?;
    let mut expected = vec![amt("0.06"); 10];
    expected.extend(vec![amt("0.05"); 8]);
    assert_eq!(w.shares("p-18")?, expected);

    let mut claimed = Vec::new();
    for i in 0..18 {
        let at = T0 + 60 + i;
        let (c, u) = (format!("c-{i}"), format!("u-{i}"));
        let o = w.ok(claim_event(&c, at, "p-18", &u), &r.allow)?;
        assert_eq!(o.verdict, Some(Verdict::Allow));
        assert!(o.amount >= amt("0.01"), "{o:?}");
        claimed.push(o.amount);
        let paid = w.ok(payout_event(&format!("po-{i}"), at, &c), &r.allow)?;
        assert_eq!(paid.amount, o.amount);
        assert_eq!(w.s.wallet(&u), o.amount);
    }
    assert_eq!(claimed, expected, "claims take the shares in order");
    assert_eq!(fen(&claimed), 100);
    let e = w.refused(claim_event("c-19", T0 + 99, "p-18", "u-19"), &r.allow)?;
    assert_eq!(e.code(), "packet-empty");
    let sum = w.s.summary();
    assert_eq!(sum.paid_out, amt("1.00"));
    assert_eq!(sum.in_escrow, Amount::ZERO);
    assert_eq!(sum.reserved, Amount::ZERO);
    Ok(())
}

/// M02: random 1.00 in 100 and 0.05 in 5 are all 0.01; 0.04 in 5, 0.10 in
/// 15 and 0.02 in 3 are refused at creation and nothing moves.
#[test]
fn m02_edge_totals_split_exactly_or_are_refused_at_creation() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.ok(deposit_event("dep-1", T0, "m1", "10.00"), &r.allow)?;
    for (id, total, shares) in [("p-100", "1.00", 100), ("p-5", "0.05", 5)] {
        w.ok(
            packet_event(id, T0, "m1", total, shares, SplitKind::Random),
            &r.allow,
        )?;
        assert_eq!(w.shares(id)?, vec![amt("0.01"); shares as usize], "{id}");
    }
    assert_eq!(w.s.merchant_available("m1"), amt("8.95"));
    for (i, (total, shares)) in [("0.04", 5), ("0.10", 15), ("0.02", 3)]
        .into_iter()
        .enumerate()
    {
        for split in [SplitKind::Random, SplitKind::Fixed] {
            let id = format!("bad-{i}-{split:?}");
            let before = w.s.summary();
            let e = w.refused(packet_event(&id, T0, "m1", total, shares, split), &r.allow)?;
            assert_eq!(e.code(), "infeasible-split", "{total} in {shares}: {e}");
            assert!(w.s.packet(&id).is_none());
            assert_eq!(
                w.s.summary(),
                before,
                "nothing moved for {total} in {shares}"
            );
            assert_eq!(w.s.merchant_available("m1"), amt("8.95"));
        }
    }
    Ok(())
}

/// M10: 1.00 in 3 fixed shares is 0.34, 0.33 and 0.33, and three claims
/// take exactly those.
#[test]
fn m10_fixed_yuan_in_three_is_34_33_33() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-3", "1.00", 3)?;
    assert_eq!(w.shares("p-3")?, [amt("0.34"), amt("0.33"), amt("0.33")]);
    let mut got = Vec::new();
    for i in 0..3 {
        let o = w.ok(
            claim_event(&format!("c-{i}"), T0 + 60, "p-3", &format!("u-{i}")),
            &r.allow,
        )?;
        got.push(o.amount);
    }
    assert_eq!(got, [amt("0.34"), amt("0.33"), amt("0.33")]);
    assert_eq!(w.s.summary().reserved, amt("1.00"));
    Ok(())
}

/// One share per user per packet: the second claim by the same user is
/// refused as already claimed without reaching the rules, and the user's
/// velocity counts the first claim once (seen in the next claim's facts).
#[test]
fn one_share_per_user_and_velocity_counts_it_once() -> Result<()> {
    let r = rules()?;
    let counting = Counting::new(&r.allow);
    let mut w = World::new();
    w.ok(deposit_event("dep-1", T0, "m1", "20.00"), &counting)?;
    for p in ["p-1", "p-2"] {
        w.ok(
            packet_event(p, T0, "m1", "10.00", 5, SplitKind::Fixed),
            &counting,
        )?;
    }
    let first = w.ok(claim_event("c-1", T0 + 60, "p-1", "u-1"), &counting)?;
    assert_eq!(first.amount, amt("2.00"));
    assert_eq!(claim_facts(&first)?.user_claims_today, 0);

    let again = w.run(claim_event("c-2", T0 + 61, "p-1", "u-1"), &counting)?;
    match &again.status {
        Status::Refused(SettlementError::AlreadyClaimed { claim, .. }) => {
            assert_eq!(claim, "c-1");
        }
        other => bail!("expected already claimed, got {other:?}"),
    }
    assert!(again.decision.is_none(), "{again:?}");
    assert_eq!(
        counting.claims.get(),
        1,
        "the refused claim never reached the rules"
    );
    assert_eq!(w.open_shares("p-1")?, 4);
    assert_eq!(w.s.packet("p-1").context("p-1")?.holder_count(), 1);

    let next = w.ok(claim_event("c-3", T0 + 62, "p-2", "u-1"), &counting)?;
    let facts = claim_facts(&next)?;
    assert_eq!(facts.user_claims_today, 1, "counted once: {facts:?}");
    assert_eq!(facts.user_claimed_today, amt("2.00"));
    assert_eq!(facts.user_claims_last_hour, 1);
    assert_eq!(w.s.summary().reserved, amt("4.00"));
    Ok(())
}

/// M06: a payout retried three times under the same id pays 5.00 once; the
/// retries replay the stored result with no new decision and no rule call.
#[test]
fn m06_retried_payout_pays_once_and_never_reruns_the_rules() -> Result<()> {
    let r = rules()?;
    let counting = Counting::new(&r.allow);
    let mut w = World::new();
    w.funded(&counting, "m1", "p-1", "5.00", 1)?;
    w.ok(claim_event("c-1", T0 + 60, "p-1", "u-1"), &counting)?;
    let first = w.ok(payout_event("po-1", T0 + 120, "c-1"), &counting)?;
    assert_eq!(first.verdict, Some(Verdict::Allow));
    assert_eq!(first.amount, amt("5.00"));
    assert!(first.decision.is_some());
    assert_eq!(counting.payouts.get(), 1);

    let mut records = usize::from(first.decision.is_some());
    for retry in 1..=3 {
        let o = w.run(
            payout_event("po-1", T0 + 120 + 30 * retry, "c-1"),
            &counting,
        )?;
        assert!(o.replay, "{o:?}");
        assert_eq!(o.status, Status::Accepted);
        assert_eq!(o.verdict, Some(Verdict::Allow));
        assert_eq!(o.amount, amt("5.00"));
        assert!(
            o.decision.is_none(),
            "a replay carries no new decision: {o:?}"
        );
        records += usize::from(o.decision.is_some());
        assert_eq!(w.s.wallet("u-1"), amt("5.00"));
    }
    assert_eq!(records, 1, "one decision record for four requests");
    assert_eq!(counting.payouts.get(), 1, "the rules ran once");
    let sum = w.s.summary();
    assert_eq!(sum.paid_out, amt("5.00"));
    assert_eq!(sum.in_escrow, Amount::ZERO);
    assert_eq!(sum.reserved, Amount::ZERO);
    Ok(())
}

/// M05: a payout denied by a rule is reversed (the share goes back to the
/// escrow); a retry under the same id replays the denial and is never paid;
/// total paid equals total debited.
#[test]
fn m05_retry_after_a_reversal_never_pays_twice() -> Result<()> {
    let r = rules()?;
    let counting = Counting::new(&r.allow);
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-1", "5.00", 1)?;
    w.ok(claim_event("c-1", T0 + 60, "p-1", "u-1"), &r.allow)?;
    let denied = w.ok(payout_event("po-k", T0 + 120, "c-1"), &r.deny)?;
    assert_eq!(denied.verdict, Some(Verdict::Deny));
    assert_eq!(w.claim_state("c-1"), Some(ClaimState::Released));
    assert_eq!(
        w.s.payout_record("po-k").map(|p| p.state),
        Some(PayoutState::Denied)
    );
    assert_eq!(w.s.wallet("u-1"), Amount::ZERO);
    assert_eq!(
        w.s.summary().in_escrow,
        amt("5.00"),
        "the reservation was voided"
    );

    let retry = w.run(payout_event("po-k", T0 + 180, "c-1"), &counting)?;
    assert!(retry.replay, "{retry:?}");
    assert_eq!(retry.verdict, Some(Verdict::Deny));
    assert!(retry.decision.is_none());
    assert_eq!(
        counting.payouts.get(),
        0,
        "the retry never reached the rules"
    );
    assert_eq!(w.s.wallet("u-1"), Amount::ZERO, "the retry is not paid");
    let e = w.refused(payout_event("po-k2", T0 + 181, "c-1"), &r.allow)?;
    assert_eq!(e.code(), "claim-not-reserved");
    assert_eq!(w.s.wallet("u-1"), Amount::ZERO);

    // The share went back to the packet: claimed again and paid, once.
    w.ok(claim_event("c-2", T0 + 240, "p-1", "u-1"), &r.allow)?;
    let paid = w.ok(payout_event("po-k3", T0 + 300, "c-2"), &r.allow)?;
    assert_eq!(paid.amount, amt("5.00"));
    let again = w.run(payout_event("po-k", T0 + 360, "c-1"), &r.allow)?;
    assert!(
        again.replay && again.verdict == Some(Verdict::Deny),
        "{again:?}"
    );
    let sum = w.s.summary();
    assert_eq!(w.s.wallet("u-1"), amt("5.00"));
    assert_eq!(sum.paid_out, amt("5.00"), "paid once");
    assert_eq!(sum.deposited, amt("5.00"));
    assert_eq!(
        sum.in_escrow,
        Amount::ZERO,
        "the escrow was debited once, for the one payment"
    );
    assert_eq!(sum.reserved, Amount::ZERO);
    assert_eq!(w.s.merchant_available("m1"), Amount::ZERO);
    Ok(())
}

/// M07, single-threaded: 8.00 against 5.00 is refused and the balance stays
/// 5.00; two 8.00 packets against 10.00 at the same moment: exactly one is
/// created and the balance ends at 2.00, round after round.
#[test]
fn m07_no_overdraft_single_threaded() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.ok(deposit_event("dep-5", T0, "m0", "5.00"), &r.allow)?;
    let e = w.refused(
        packet_event("m0-big", T0, "m0", "8.00", 1, SplitKind::Fixed),
        &r.allow,
    )?;
    assert_eq!(e.code(), "insufficient-funds");
    assert_eq!(w.s.merchant_available("m0"), amt("5.00"));
    assert!(w.s.packet("m0-big").is_none());

    for round in 0..50 {
        let m = format!("m{}", round + 1);
        let at = T0 + round;
        w.ok(
            deposit_event(&format!("dep-{m}"), at, &m, "10.00"),
            &r.allow,
        )?;
        let mut created = 0;
        for k in ["a", "b"] {
            let o = w.run(
                packet_event(&format!("{m}-{k}"), at, &m, "8.00", 4, SplitKind::Random),
                &r.allow,
            )?;
            match o.status {
                Status::Accepted => created += 1,
                Status::Refused(SettlementError::InsufficientFunds { .. }) => {}
                other => bail!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(created, 1, "round {round}");
        assert_eq!(w.s.merchant_available(&m), amt("2.00"), "round {round}");
    }
    Ok(())
}

/// M08: M1 funds 5.00 in 5 shares, 3 are claimed and paid; at the expiry
/// instant two ticks and a claim arrive. M1 gets 2.00 back exactly once,
/// claimed + refunded = 5.00, the claim is refused, and another merchant's
/// balance does not move.
#[test]
fn m08_expiry_refunds_the_funder_exactly_once() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-1", "5.00", 5)?;
    w.ok(deposit_event("dep-m2", T0, "m2", "10.00"), &r.allow)?;
    w.ok(
        packet_event("p-2", T0 + 3600, "m2", "7.00", 7, SplitKind::Fixed),
        &r.allow,
    )?;
    w.ok(claim_event("c-m2", T0 + 3700, "p-2", "u-9"), &r.allow)?;
    for i in 1..=3 {
        let (c, u) = (format!("c-{i}"), format!("u-{i}"));
        w.ok(claim_event(&c, T0 + 60 * i, "p-1", &u), &r.allow)?;
        w.ok(
            payout_event(&format!("po-{i}"), T0 + 60 * i + 30, &c),
            &r.allow,
        )?;
    }
    let expires_at = w.s.packet("p-1").context("p-1")?.expires_at;
    assert_eq!(expires_at, T0 + DAY);
    assert_eq!(w.s.merchant_available("m1"), Amount::ZERO);
    let m2_before = w.s.merchant_available("m2");
    assert_eq!(m2_before, amt("3.00"));

    let first = w.ok(tick_event(expires_at), &r.allow)?;
    assert_eq!(first.expired.len(), 1, "{first:?}");
    let expiry = &first.expired[0];
    assert_eq!(
        (expiry.packet.as_str(), expiry.merchant.as_str()),
        ("p-1", "m1")
    );
    assert_eq!(expiry.refunded, amt("2.00"));
    let second = w.ok(tick_event(expires_at), &r.allow)?;
    assert!(second.expired.is_empty(), "{second:?}");
    let late = w.run(claim_event("c-late", expires_at, "p-1", "u-4"), &r.allow)?;
    assert!(late.expired.is_empty());
    match &late.status {
        Status::Refused(SettlementError::PacketExpired { expires_at: at, .. }) => {
            assert_eq!(*at, expires_at);
        }
        other => bail!("a claim at the expiry instant must be refused: {other:?}"),
    }
    w.ok(tick_event(expires_at + 60), &r.allow)?;

    let packet = w.s.packet("p-1").context("p-1")?;
    assert_eq!(packet.refunded(), amt("2.00"));
    assert!(packet.expired);
    let paid: i64 = (1..=3).map(|i| w.s.wallet(&format!("u-{i}")).fen()).sum();
    assert_eq!(paid, 300);
    assert_eq!(
        paid + packet.refunded().fen(),
        500,
        "claimed + refunded = funded"
    );
    assert_eq!(w.s.merchant_available("m1"), amt("2.00"), "refunded once");
    assert_eq!(w.s.summary().refunded, amt("2.00"));
    assert_eq!(w.s.merchant_available("m2"), m2_before, "m2 did not move");
    Ok(())
}

/// M08, held at expiry: a payout held for review when its packet expires
/// is refunded to the funder once the review is rejected, never left stuck;
/// a share merely reserved at expiry stays payable.
#[test]
fn m08_payout_held_for_review_at_expiry_is_refunded_when_rejected() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-1", "5.00", 5)?;
    for i in 1..=4 {
        w.ok(
            claim_event(&format!("c-{i}"), T0 + 60 * i, "p-1", &format!("u-{i}")),
            &r.allow,
        )?;
    }
    w.ok(payout_event("po-1", T0 + 600, "c-1"), &r.allow)?;
    w.ok(payout_event("po-2", T0 + 600, "c-2"), &r.allow)?;
    let held = w.ok(payout_event("po-3", T0 + 600, "c-3"), &r.review)?;
    assert_eq!(held.verdict, Some(Verdict::Review));
    assert_eq!(w.s.summary().held_for_review, amt("1.00"));

    let expiry = w.ok(tick_event(T0 + DAY), &r.allow)?;
    assert_eq!(expiry.expired.len(), 1);
    assert_eq!(
        expiry.expired[0].refunded,
        amt("1.00"),
        "only the open share"
    );
    assert_eq!(w.s.merchant_available("m1"), amt("1.00"));

    let late_payout = w.ok(payout_event("po-4", T0 + DAY + 60, "c-4"), &r.allow)?;
    assert_eq!(
        late_payout.amount,
        amt("1.00"),
        "a reservation stays payable"
    );
    assert_eq!(w.s.wallet("u-4"), amt("1.00"));

    let rejected = w.ok(
        resolve_event("rv-1", T0 + DAY + 600, "po-3", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(rejected.amount, amt("1.00"));
    assert_eq!(
        w.s.merchant_available("m1"),
        amt("2.00"),
        "refunded on return"
    );
    let replay = w.run(
        resolve_event("rv-1", T0 + DAY + 660, "po-3", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert!(replay.replay);
    let e = w.refused(
        resolve_event("rv-2", T0 + DAY + 700, "po-3", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(e.code(), "not-held");
    w.ok(tick_event(T0 + 2 * DAY), &r.allow)?;

    let packet = w.s.packet("p-1").context("p-1")?;
    assert_eq!(packet.refunded(), amt("2.00"));
    let sum = w.s.summary();
    assert_eq!(sum.held_for_review, Amount::ZERO, "nothing stuck");
    assert_eq!(sum.in_escrow, Amount::ZERO);
    assert_eq!(sum.reserved, Amount::ZERO);
    assert_eq!(sum.refunded, amt("2.00"));
    assert_eq!(sum.paid_out, amt("3.00"));
    assert_eq!(sum.paid_out.fen() + sum.refunded.fen(), 500);
    assert_eq!(w.s.merchant_available("m1"), amt("2.00"));
    Ok(())
}

/// The verdict table at claim: allow reserves; review holds (approve
/// reserves, reject returns the share); deny moves nothing and the share
/// stays claimable; freeze reserves nothing and moves the wallet and held
/// shares to frozen; unfreeze returns the wallet amount to the wallet and
/// the held share to the review hold.
#[test]
fn verdict_table_at_claim() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.ok(deposit_event("dep-1", T0, "m1", "100.00"), &r.allow)?;
    for p in ["pa", "pb", "pc", "pd"] {
        w.ok(
            packet_event(p, T0, "m1", "5.00", 5, SplitKind::Fixed),
            &r.allow,
        )?;
    }
    let at = T0 + 60;

    // allow: the share is reserved for the user (pending, not in the wallet).
    let o = w.ok(claim_event("c-allow", at, "pa", "u-1"), &r.allow)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Allow), amt("1.00")));
    assert!(matches!(
        w.claim_state("c-allow"),
        Some(ClaimState::Reserved { .. })
    ));
    assert_eq!(w.s.summary().reserved, amt("1.00"));
    assert_eq!(w.s.wallet("u-1"), Amount::ZERO);

    // review: the share moves to the review hold; approval reserves it.
    let o = w.ok(claim_event("c-review", at, "pa", "u-2"), &r.review)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Review), amt("1.00")));
    assert_eq!(w.claim_state("c-review"), Some(ClaimState::HeldForReview));
    assert_eq!(w.s.summary().held_for_review, amt("1.00"));
    w.ok(
        resolve_event("rv-1", at + 60, "c-review", ReviewDecision::Approve),
        &r.allow,
    )?;
    assert!(matches!(
        w.claim_state("c-review"),
        Some(ClaimState::Reserved { .. })
    ));
    assert_eq!(w.s.summary().held_for_review, Amount::ZERO);
    assert_eq!(w.s.summary().reserved, amt("2.00"));

    // review, rejected: the share returns to the packet, claimable again.
    w.ok(claim_event("c-review2", at, "pa", "u-3"), &r.review)?;
    assert_eq!(w.open_shares("pa")?, 2);
    w.ok(
        resolve_event("rv-2", at + 60, "c-review2", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(w.claim_state("c-review2"), Some(ClaimState::Released));
    assert_eq!(w.open_shares("pa")?, 3);
    assert_eq!(w.s.summary().held_for_review, Amount::ZERO);
    w.ok(
        claim_event("c-review2-again", at + 120, "pa", "u-3"),
        &r.allow,
    )?;

    // deny: nothing moves; the share stays claimable, by the same user too.
    let before = w.s.summary();
    let open = w.open_shares("pa")?;
    let o = w.ok(claim_event("c-deny", at + 180, "pa", "u-4"), &r.deny)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Deny), Amount::ZERO));
    assert_eq!(w.s.summary(), before, "a denied claim moves nothing");
    assert_eq!(w.open_shares("pa")?, open);
    assert!(w.claim_state("c-deny").is_none());
    w.ok(claim_event("c-deny-again", at + 240, "pa", "u-4"), &r.allow)?;

    // freeze: u-5 has 1.00 in the wallet and 1.00 held for review.
    w.ok(claim_event("c-5a", at, "pb", "u-5"), &r.allow)?;
    w.ok(payout_event("po-5a", at + 60, "c-5a"), &r.allow)?;
    w.ok(claim_event("c-5b", at, "pc", "u-5"), &r.review)?;
    assert_eq!(w.s.wallet("u-5"), amt("1.00"));
    let before = w.s.summary();
    let open = w.open_shares("pd")?;
    let o = w.ok(claim_event("c-5c", at + 300, "pd", "u-5"), &r.freeze)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("2.00")));
    assert!(w.s.is_frozen("u-5"));
    assert!(w.claim_state("c-5c").is_none(), "nothing reserved");
    assert_eq!(w.open_shares("pd")?, open);
    assert_eq!(
        w.claim_state("c-5b"),
        Some(ClaimState::Frozen { payout: None })
    );
    let sum = w.s.summary();
    assert_eq!(w.s.wallet("u-5"), Amount::ZERO);
    assert_eq!(sum.frozen, amt("2.00"));
    assert_eq!(before.held_for_review, amt("1.00"));
    assert_eq!(
        sum.held_for_review,
        Amount::ZERO,
        "held shares moved to frozen"
    );
    assert_eq!(sum.reserved, before.reserved);
    let e = w.refused(claim_event("c-5d", at + 360, "pd", "u-5"), &r.allow)?;
    assert_eq!(e.code(), "user-frozen");

    // unfreeze: the wallet amount goes back to the wallet, the held share
    // back to the review hold (not paid); the user may claim again.
    let o = w.ok(unfreeze_event("uf-1", at + 420, "u-5"), &r.allow)?;
    assert_eq!(o.amount, amt("2.00"));
    assert!(!w.s.is_frozen("u-5"));
    assert_eq!(w.s.wallet("u-5"), amt("1.00"));
    assert_eq!(w.claim_state("c-5b"), Some(ClaimState::HeldForReview));
    let sum = w.s.summary();
    assert_eq!(
        (sum.frozen, sum.held_for_review),
        (Amount::ZERO, amt("1.00"))
    );
    w.ok(claim_event("c-5e", at + 480, "pd", "u-5"), &r.allow)?;
    Ok(())
}

/// The verdict table at payout: allow posts to the wallet; review holds
/// (approve pays, reject returns the share); deny voids the reservation and
/// returns the share; freeze moves the reservation and the wallet to frozen;
/// unfreeze returns the wallet amount to the wallet and holds the frozen
/// payouts for review.
#[test]
fn verdict_table_at_payout() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-1", "10.00", 10)?;
    w.ok(deposit_event("dep-more", T0, "m1", "10.00"), &r.allow)?;
    for p in ["p-2", "p-3"] {
        w.ok(
            packet_event(p, T0, "m1", "5.00", 5, SplitKind::Fixed),
            &r.allow,
        )?;
    }
    let at = T0 + 60;
    for i in 1..=5 {
        w.ok(
            claim_event(&format!("c-{i}"), at, "p-1", &format!("u-{i}")),
            &r.allow,
        )?;
    }
    assert_eq!(w.s.summary().reserved, amt("5.00"));

    // allow: the reservation is posted to the wallet.
    let o = w.ok(payout_event("po-1", at + 60, "c-1"), &r.allow)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Allow), amt("1.00")));
    assert_eq!(w.s.wallet("u-1"), amt("1.00"));
    assert_eq!(w.s.summary().reserved, amt("4.00"));

    // review: the payout is held; approval pays it.
    let o = w.ok(payout_event("po-2", at + 60, "c-2"), &r.review)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Review), amt("1.00")));
    assert_eq!(w.s.summary().held_for_review, amt("1.00"));
    assert_eq!(w.s.wallet("u-2"), Amount::ZERO);
    let e = w.refused(payout_event("po-2b", at + 90, "c-2"), &r.allow)?;
    assert_eq!(e.code(), "payout-in-progress");
    w.ok(
        resolve_event("rv-2", at + 120, "po-2", ReviewDecision::Approve),
        &r.allow,
    )?;
    assert_eq!(w.s.wallet("u-2"), amt("1.00"));
    assert_eq!(
        w.s.payout_record("po-2").map(|p| p.state),
        Some(PayoutState::Paid)
    );

    // review, rejected: the share returns to the packet.
    w.ok(payout_event("po-3", at + 60, "c-3"), &r.review)?;
    let open = w.open_shares("p-1")?;
    w.ok(
        resolve_event("rv-3", at + 120, "po-3", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(w.s.wallet("u-3"), Amount::ZERO);
    assert_eq!(w.open_shares("p-1")?, open + 1);
    assert_eq!(
        w.s.payout_record("po-3").map(|p| p.state),
        Some(PayoutState::Rejected)
    );

    // deny: the reservation is voided and the share returns to escrow.
    let before = w.s.summary();
    let o = w.ok(payout_event("po-4", at + 60, "c-4"), &r.deny)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Deny), amt("1.00")));
    assert_eq!(w.s.wallet("u-4"), Amount::ZERO);
    assert_eq!(w.claim_state("c-4"), Some(ClaimState::Released));
    let sum = w.s.summary();
    assert_eq!(sum.reserved.fen(), before.reserved.fen() - 100);
    assert_eq!(sum.in_escrow.fen(), before.in_escrow.fen() + 100);
    let share = w.s.claim_record("c-4").context("c-4")?.share;
    let p = w.s.packet("p-1").context("p-1")?;
    assert_eq!(p.shares[share as usize].state, ShareState::Open);

    // freeze: u-5 has 1.00 in the wallet (from p-2), c-5 reserved, and
    // c-5x reserved on p-3.
    w.ok(claim_event("c-5w", at, "p-2", "u-5"), &r.allow)?;
    w.ok(payout_event("po-5w", at + 30, "c-5w"), &r.allow)?;
    w.ok(claim_event("c-5x", at, "p-3", "u-5"), &r.allow)?;
    assert_eq!(w.s.wallet("u-5"), amt("1.00"));
    let before = w.s.summary();
    let o = w.ok(payout_event("po-5", at + 60, "c-5"), &r.freeze)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("2.00")));
    assert!(w.s.is_frozen("u-5"));
    assert_eq!(w.s.wallet("u-5"), Amount::ZERO);
    assert_eq!(
        w.claim_state("c-5"),
        Some(ClaimState::Frozen {
            payout: Some("po-5".into())
        })
    );
    let sum = w.s.summary();
    assert_eq!(sum.frozen, amt("2.00"));
    assert_eq!(sum.reserved.fen(), before.reserved.fen() - 100);
    assert_eq!(sum.paid_out.fen(), before.paid_out.fen() - 100);

    // A frozen user's other reservation goes to frozen without the rules.
    let counting = Counting::new(&r.allow);
    let o = w.ok(payout_event("po-5x", at + 90, "c-5x"), &counting)?;
    assert_eq!(counting.payouts.get(), 0, "the host decided, not the rules");
    assert_eq!(o.verdict, Some(Verdict::Freeze));
    let record = o.decision.context("a host decision is recorded")?;
    assert_eq!(record.reason, "host:user-frozen");
    assert!(record.rules.is_empty());
    assert_eq!(w.s.summary().frozen, amt("3.00"));

    // unfreeze: the wallet amount goes back to the wallet; the frozen
    // payouts are held for review, not paid.
    let o = w.ok(unfreeze_event("uf-5", at + 120, "u-5"), &r.allow)?;
    assert_eq!(o.amount, amt("3.00"));
    assert_eq!(w.s.wallet("u-5"), amt("1.00"));
    assert_eq!(w.s.summary().frozen, Amount::ZERO);
    for po in ["po-5", "po-5x"] {
        assert_eq!(
            w.s.payout_record(po).map(|p| p.state),
            Some(PayoutState::HeldForReview),
            "{po}"
        );
    }
    let e = w.refused(unfreeze_event("uf-6", at + 180, "u-5"), &r.allow)?;
    assert_eq!(e.code(), "not-frozen");
    Ok(())
}

/// The user's report: a 60.00 claim held for review, then the account
/// frozen by a later claim. Returns the world with `u-1` frozen and the
/// 60.00 of `c-60` (packet `p-60`) in the frozen account.
fn held_for_review_then_frozen(r: &Rules) -> Result<World> {
    let mut w = World::new();
    w.ok(deposit_event("dep-1", T0, "m1", "200.00"), &r.allow)?;
    w.ok(
        packet_event("p-60", T0, "m1", "120.00", 2, SplitKind::Fixed),
        &r.allow,
    )?;
    w.ok(
        packet_event("p-later", T0, "m1", "10.00", 1, SplitKind::Fixed),
        &r.allow,
    )?;
    let o = w.ok(claim_event("c-60", T0 + 60, "p-60", "u-1"), &r.review)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Review), amt("60.00")));
    assert_eq!(w.s.summary().held_for_review, amt("60.00"));

    let o = w.ok(
        claim_event("c-later", T0 + 120, "p-later", "u-1"),
        &r.freeze,
    )?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("60.00")));
    assert!(w.s.is_frozen("u-1"));
    assert_eq!(
        w.claim_state("c-60"),
        Some(ClaimState::Frozen { payout: None })
    );
    let sum = w.s.summary();
    assert_eq!(
        (sum.frozen, sum.held_for_review, sum.paid_out),
        (amt("60.00"), Amount::ZERO, Amount::ZERO)
    );
    // While frozen, nobody can review it.
    let e = w.refused(
        resolve_event("rv-early", T0 + 150, "c-60", ReviewDecision::Approve),
        &r.allow,
    )?;
    assert_eq!(e.code(), "not-held");

    // The unfreeze approves nothing: the 60.00 is back in the review hold.
    let o = w.ok(unfreeze_event("uf-1", T0 + 180, "u-1"), &r.allow)?;
    assert_eq!(o.amount, amt("60.00"));
    assert!(!w.s.is_frozen("u-1"));
    assert_eq!(w.claim_state("c-60"), Some(ClaimState::HeldForReview));
    assert_eq!(w.s.wallet("u-1"), Amount::ZERO);
    let sum = w.s.summary();
    assert_eq!(
        (sum.held_for_review, sum.paid_out, sum.frozen, sum.reserved),
        (amt("60.00"), Amount::ZERO, Amount::ZERO, Amount::ZERO)
    );
    let e = w.refused(payout_event("po-early", T0 + 200, "c-60"), &r.allow)?;
    assert_eq!(e.code(), "claim-not-reserved");
    Ok(w)
}

/// The user's report, rejected: a claim held for review, the account frozen
/// and unfrozen; the reviewer's reject still works and the share goes back
/// to its packet, claimable again. Nothing was ever paid.
#[test]
fn unfreeze_keeps_a_held_claim_held_and_a_reject_returns_it() -> Result<()> {
    let r = rules()?;
    let mut w = held_for_review_then_frozen(&r)?;
    let open = w.open_shares("p-60")?;
    let o = w.ok(
        resolve_event("rv-1", T0 + 240, "c-60", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(o.amount, amt("60.00"));
    assert_eq!(w.claim_state("c-60"), Some(ClaimState::Released));
    assert_eq!(w.open_shares("p-60")?, open + 1);
    let sum = w.s.summary();
    assert_eq!(
        (sum.in_escrow, sum.held_for_review, sum.paid_out),
        (amt("130.00"), Amount::ZERO, Amount::ZERO)
    );
    w.ok(claim_event("c-again", T0 + 300, "p-60", "u-2"), &r.allow)?;
    Ok(())
}

/// The user's report, rejected after the packet expired: the share is
/// refunded to the merchant when the review ends, once.
#[test]
fn unfreeze_keeps_a_held_claim_held_and_a_late_reject_refunds_it() -> Result<()> {
    let r = rules()?;
    let mut w = held_for_review_then_frozen(&r)?;
    let expiry = w.ok(tick_event(T0 + DAY), &r.allow)?;
    let refunded: Vec<_> = expiry
        .expired
        .iter()
        .map(|e| (e.packet.as_str(), e.refunded))
        .collect();
    assert_eq!(
        refunded,
        [("p-60", amt("60.00")), ("p-later", amt("10.00"))],
        "only the open shares"
    );
    assert_eq!(w.s.merchant_available("m1"), amt("140.00"));
    w.ok(
        resolve_event("rv-1", T0 + DAY + 60, "c-60", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(w.claim_state("c-60"), Some(ClaimState::Released));
    assert_eq!(w.s.merchant_available("m1"), amt("200.00"));
    let p = w.s.packet("p-60").context("p-60")?;
    assert_eq!(p.refunded(), amt("120.00"));
    let sum = w.s.summary();
    assert_eq!(
        (
            sum.in_escrow,
            sum.held_for_review,
            sum.paid_out,
            sum.refunded
        ),
        (Amount::ZERO, Amount::ZERO, Amount::ZERO, amt("130.00"))
    );
    Ok(())
}

/// The user's report, approved: after the unfreeze the reviewer approves,
/// the share is reserved, and its payout pays it once.
#[test]
fn unfreeze_keeps_a_held_claim_held_and_an_approval_reserves_it() -> Result<()> {
    let r = rules()?;
    let mut w = held_for_review_then_frozen(&r)?;
    w.ok(
        resolve_event("rv-1", T0 + 240, "c-60", ReviewDecision::Approve),
        &r.allow,
    )?;
    assert!(matches!(
        w.claim_state("c-60"),
        Some(ClaimState::Reserved { .. })
    ));
    let sum = w.s.summary();
    assert_eq!(
        (sum.reserved, sum.held_for_review, sum.paid_out),
        (amt("60.00"), Amount::ZERO, Amount::ZERO)
    );
    let o = w.ok(payout_event("po-1", T0 + 300, "c-60"), &r.allow)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Allow), amt("60.00")));
    assert_eq!(w.s.wallet("u-1"), amt("60.00"));
    let e = w.refused(payout_event("po-2", T0 + 360, "c-60"), &r.allow)?;
    assert_eq!(e.code(), "already-paid");
    assert_eq!(w.s.summary().paid_out, amt("60.00"));
    Ok(())
}

/// A payout a rule froze. Returns the world with `u-1` frozen: 1.00 from
/// the wallet (paid by `po-paid`) and the 5.00 of `c-5` moved by `po-5`.
fn payout_frozen_then_unfrozen(r: &Rules) -> Result<World> {
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-5", "5.00", 1)?;
    w.funded(&r.allow, "m1", "p-1", "1.00", 1)?;
    w.ok(claim_event("c-paid", T0 + 60, "p-1", "u-1"), &r.allow)?;
    w.ok(payout_event("po-paid", T0 + 90, "c-paid"), &r.allow)?;
    w.ok(claim_event("c-5", T0 + 60, "p-5", "u-1"), &r.allow)?;
    assert_eq!(w.s.wallet("u-1"), amt("1.00"));

    let o = w.ok(payout_event("po-5", T0 + 120, "c-5"), &r.freeze)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("6.00")));
    assert!(w.s.is_frozen("u-1"));
    assert_eq!(
        w.s.payout_record("po-5").map(|p| p.state),
        Some(PayoutState::Frozen)
    );
    assert_eq!(w.s.wallet("u-1"), Amount::ZERO);
    assert_eq!(w.s.summary().frozen, amt("6.00"));

    let o = w.ok(unfreeze_event("uf-1", T0 + 180, "u-1"), &r.allow)?;
    assert_eq!(o.amount, amt("6.00"));
    assert_eq!(w.s.wallet("u-1"), amt("1.00"), "the wallet balance returns");
    assert_eq!(
        w.claim_state("c-5"),
        Some(ClaimState::PayoutHeld {
            payout: "po-5".into()
        })
    );
    assert_eq!(
        w.s.payout_record("po-5").map(|p| p.state),
        Some(PayoutState::HeldForReview)
    );
    let sum = w.s.summary();
    assert_eq!(
        (sum.frozen, sum.held_for_review, sum.paid_out),
        (Amount::ZERO, amt("5.00"), amt("1.00"))
    );
    let e = w.refused(payout_event("po-5b", T0 + 200, "c-5"), &r.allow)?;
    assert_eq!(e.code(), "payout-in-progress");
    Ok(w)
}

/// A payout frozen by a rule is held for review after the unfreeze, never
/// paid by it; the reviewer's approval pays it exactly once.
#[test]
fn unfreeze_holds_a_frozen_payout_and_approval_pays_it_once() -> Result<()> {
    let r = rules()?;
    let counting = Counting::new(&r.allow);
    let mut w = payout_frozen_then_unfrozen(&r)?;
    let o = w.ok(
        resolve_event("rv-1", T0 + 240, "po-5", ReviewDecision::Approve),
        &counting,
    )?;
    assert_eq!(o.amount, amt("5.00"));
    assert_eq!(
        counting.payouts.get(),
        0,
        "a reviewer decides, not the rules"
    );
    assert_eq!(w.s.wallet("u-1"), amt("6.00"));
    assert_eq!(
        w.s.payout_record("po-5").map(|p| p.state),
        Some(PayoutState::Paid)
    );
    let replay = w.run(
        resolve_event("rv-1", T0 + 300, "po-5", ReviewDecision::Approve),
        &r.allow,
    )?;
    assert!(replay.replay, "{replay:?}");
    let e = w.refused(
        resolve_event("rv-2", T0 + 300, "po-5", ReviewDecision::Approve),
        &r.allow,
    )?;
    assert_eq!(e.code(), "not-held");
    let e = w.refused(payout_event("po-5c", T0 + 300, "c-5"), &r.allow)?;
    assert_eq!(e.code(), "already-paid");
    let sum = w.s.summary();
    assert_eq!(
        (sum.paid_out, sum.held_for_review, sum.in_escrow, sum.frozen),
        (amt("6.00"), Amount::ZERO, Amount::ZERO, Amount::ZERO)
    );
    Ok(())
}

/// A payout frozen by a rule, unfrozen and then rejected: the share goes
/// back to its packet; only the wallet balance was ever paid.
#[test]
fn unfreeze_holds_a_frozen_payout_and_a_reject_returns_it() -> Result<()> {
    let r = rules()?;
    let mut w = payout_frozen_then_unfrozen(&r)?;
    w.ok(
        resolve_event("rv-1", T0 + 240, "po-5", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(w.claim_state("c-5"), Some(ClaimState::Released));
    assert_eq!(
        w.s.payout_record("po-5").map(|p| p.state),
        Some(PayoutState::Rejected)
    );
    assert_eq!(w.open_shares("p-5")?, 1);
    assert_eq!(w.s.wallet("u-1"), amt("1.00"));
    let sum = w.s.summary();
    assert_eq!(
        (sum.in_escrow, sum.held_for_review, sum.paid_out),
        (amt("5.00"), Amount::ZERO, amt("1.00"))
    );
    let e = w.refused(payout_event("po-5c", T0 + 300, "c-5"), &r.allow)?;
    assert_eq!(e.code(), "claim-not-reserved");
    w.ok(claim_event("c-5again", T0 + 360, "p-5", "u-2"), &r.allow)?;
    Ok(())
}

/// A wallet balance frozen by a freeze at claim comes back to the wallet,
/// exactly, and the claims that paid it stay paid by their payouts.
#[test]
fn unfreeze_returns_the_wallet_balance() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.ok(deposit_event("dep-1", T0, "m1", "3.00"), &r.allow)?;
    for p in ["p-a", "p-b", "p-c"] {
        w.ok(
            packet_event(p, T0, "m1", "1.00", 1, SplitKind::Fixed),
            &r.allow,
        )?;
    }
    for k in ["a", "b"] {
        w.ok(
            claim_event(&format!("c-{k}"), T0 + 60, &format!("p-{k}"), "u-1"),
            &r.allow,
        )?;
        w.ok(
            payout_event(&format!("po-{k}"), T0 + 90, &format!("c-{k}")),
            &r.allow,
        )?;
    }
    assert_eq!(w.s.wallet("u-1"), amt("2.00"));

    let o = w.ok(claim_event("c-c", T0 + 120, "p-c", "u-1"), &r.freeze)?;
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("2.00")));
    assert_eq!(w.s.wallet("u-1"), Amount::ZERO);
    assert_eq!(w.s.summary().frozen, amt("2.00"));

    let o = w.ok(unfreeze_event("uf-1", T0 + 180, "u-1"), &r.allow)?;
    assert_eq!(o.amount, amt("2.00"));
    assert_eq!(w.s.wallet("u-1"), amt("2.00"));
    let sum = w.s.summary();
    assert_eq!(
        (sum.frozen, sum.paid_out, sum.held_for_review),
        (Amount::ZERO, amt("2.00"), Amount::ZERO)
    );
    for k in ["a", "b"] {
        assert_eq!(
            w.claim_state(&format!("c-{k}")),
            Some(ClaimState::Paid {
                payout: format!("po-{k}")
            })
        );
    }
    w.ok(claim_event("c-c2", T0 + 240, "p-c", "u-1"), &r.allow)?;
    Ok(())
}

/// An id that failed stays failed: a claim refused for an unknown packet is
/// still refused when retried after the packet exists, and a packet refused
/// for lack of funds is still refused after a deposit; nothing moves. The
/// same id with a different body is a conflict.
#[test]
fn an_id_that_failed_stays_failed() -> Result<()> {
    let r = rules()?;
    let counting = Counting::new(&r.allow);
    let mut w = World::new();
    let early = claim_event("c-early", T0, "p-late", "u-1");
    let e = w.refused(early.clone(), &counting)?;
    assert_eq!(e.code(), "unknown-packet");
    w.funded(&counting, "m1", "p-late", "5.00", 5)?;
    let retry = w.run(early, &counting)?;
    assert!(retry.replay, "{retry:?}");
    assert_eq!(
        retry.error().map(SettlementError::code),
        Some("unknown-packet")
    );
    assert_eq!(retry.amount, Amount::ZERO);
    assert!(w.s.claim_record("c-early").is_none());
    assert_eq!(w.open_shares("p-late")?, 5);
    assert_eq!(
        counting.claims.get(),
        0,
        "neither attempt reached the rules"
    );

    let big = packet_event("p-big", T0 + 10, "m1", "50.00", 5, SplitKind::Fixed);
    let e = w.refused(big.clone(), &counting)?;
    assert_eq!(e.code(), "insufficient-funds");
    w.ok(deposit_event("dep-big", T0 + 20, "m1", "100.00"), &counting)?;
    let retry = w.run(big, &counting)?;
    assert!(retry.replay, "{retry:?}");
    assert_eq!(
        retry.error().map(SettlementError::code),
        Some("insufficient-funds")
    );
    assert!(w.s.packet("p-big").is_none());
    assert_eq!(w.s.merchant_available("m1"), amt("100.00"));

    // The same claim id from another user is a conflict; the first stands.
    w.ok(claim_event("c-1", T0 + 30, "p-late", "u-1"), &counting)?;
    let other = w.run(claim_event("c-1", T0 + 31, "p-late", "u-2"), &counting)?;
    assert!(
        matches!(other.status, Status::Conflict(_)),
        "{:?}",
        other.status
    );
    assert!(!other.replay);
    assert_eq!(counting.claims.get(), 1);
    assert_eq!(w.open_shares("p-late")?, 4);
    assert_eq!(
        w.s.claim_record("c-1").map(|c| c.user.as_str()),
        Some("u-1")
    );
    Ok(())
}

/// M05, reversed by a reviewer: a payout K of 5.00 is held for review and
/// rejected (the share goes back to the packet). A retry of K returns the
/// stored outcome (held, nothing paid) without the rules; K with another
/// body is a conflict; a new id for the same claim is refused because the
/// claim holds nothing. The share, claimed again, is paid exactly once:
/// total paid equals total debited from the escrow.
#[test]
fn m05_a_payout_rejected_in_review_is_never_paid_by_a_retry() -> Result<()> {
    let r = rules()?;
    let counting = Counting::new(&r.allow);
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-1", "5.00", 1)?;
    w.ok(claim_event("c-1", T0 + 60, "p-1", "u-1"), &r.allow)?;
    let held = w.ok(payout_event("K", T0 + 120, "c-1"), &r.review)?;
    assert_eq!(
        (held.verdict, held.amount),
        (Some(Verdict::Review), amt("5.00"))
    );
    w.ok(
        resolve_event("rv-K", T0 + 180, "K", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(
        w.s.payout_record("K").map(|p| p.state),
        Some(PayoutState::Rejected)
    );
    assert_eq!(
        w.s.summary().in_escrow,
        amt("5.00"),
        "reversed to the escrow"
    );

    let retry = w.run(payout_event("K", T0 + 240, "c-1"), &counting)?;
    assert!(retry.replay, "{retry:?}");
    assert_eq!(retry.verdict, Some(Verdict::Review), "the stored outcome");
    assert!(retry.decision.is_none());
    let other = w.run(payout_event("K", T0 + 241, "c-other"), &counting)?;
    assert_eq!(other.error().map(SettlementError::code), Some("conflict"));
    let fresh = w.refused(payout_event("K-2", T0 + 242, "c-1"), &counting)?;
    assert_eq!(fresh.code(), "claim-not-reserved");
    assert_eq!(counting.payouts.get(), 0, "no retry reached the rules");
    assert_eq!(w.s.wallet("u-1"), Amount::ZERO);

    w.ok(claim_event("c-2", T0 + 300, "p-1", "u-1"), &r.allow)?;
    w.ok(payout_event("K-3", T0 + 360, "c-2"), &r.allow)?;
    for (i, id) in ["K", "K-3"].into_iter().enumerate() {
        let again = w.run(
            payout_event(
                id,
                T0 + 400 + i as i64,
                if id == "K" { "c-1" } else { "c-2" },
            ),
            &r.allow,
        )?;
        assert!(again.replay, "{again:?}");
    }
    let sum = w.s.summary();
    assert_eq!(w.s.wallet("u-1"), amt("5.00"), "paid once");
    assert_eq!(sum.paid_out, amt("5.00"));
    assert_eq!(
        sum.in_escrow.fen() + sum.reserved.fen() + sum.held_for_review.fen(),
        0
    );
    assert_eq!(sum.deposited, sum.paid_out, "total paid = total debited");
    Ok(())
}

/// Review at expiry: a claim held at claim and a payout held at payout
/// when their packet expires. Approving the held claim after expiry
/// reserves it and its payout pays; rejecting a held claim or payout after
/// expiry refunds its share to the funder at once. Every claim and payout
/// ends in a final state (paid or released; paid, rejected or denied) and
/// nothing is left in escrow, the hold or a reservation.
#[test]
fn held_claims_and_payouts_resolve_after_expiry_and_nothing_stays_stuck() -> Result<()> {
    let r = rules()?;
    let mut w = World::new();
    w.funded(&r.allow, "m1", "p-1", "5.00", 5)?;
    w.ok(deposit_event("dep-m2", T0, "m2", "1.00"), &r.allow)?;
    w.ok(claim_event("c-approve", T0 + 60, "p-1", "u-1"), &r.review)?;
    w.ok(claim_event("c-reject", T0 + 61, "p-1", "u-2"), &r.review)?;
    w.ok(claim_event("c-3", T0 + 62, "p-1", "u-3"), &r.allow)?;
    w.ok(claim_event("c-4", T0 + 63, "p-1", "u-4"), &r.allow)?;
    w.ok(payout_event("po-3", T0 + 120, "c-3"), &r.review)?;
    w.ok(payout_event("po-4", T0 + 121, "c-4"), &r.review)?;
    assert_eq!(w.s.summary().held_for_review, amt("4.00"));

    let expiry = w.ok(tick_event(T0 + DAY), &r.allow)?;
    assert_eq!(expiry.expired.len(), 1);
    assert_eq!(
        expiry.expired[0].refunded,
        amt("1.00"),
        "only the open share"
    );
    assert_eq!(w.s.merchant_available("m1"), amt("1.00"));

    let at = T0 + DAY + 60;
    w.ok(
        resolve_event("rv-1", at, "c-approve", ReviewDecision::Approve),
        &r.allow,
    )?;
    assert!(matches!(
        w.claim_state("c-approve"),
        Some(ClaimState::Reserved { .. })
    ));
    w.ok(
        resolve_event("rv-2", at, "c-reject", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(
        w.s.merchant_available("m1"),
        amt("2.00"),
        "refunded on reject"
    );
    w.ok(
        resolve_event("rv-3", at, "po-3", ReviewDecision::Approve),
        &r.allow,
    )?;
    w.ok(
        resolve_event("rv-4", at, "po-4", ReviewDecision::Reject),
        &r.allow,
    )?;
    assert_eq!(w.s.merchant_available("m1"), amt("3.00"));
    let paid = w.ok(payout_event("po-1", at + 60, "c-approve"), &r.allow)?;
    assert_eq!(
        paid.amount,
        amt("1.00"),
        "a reservation stays payable after expiry"
    );

    for (claim, paid_by) in [("c-approve", Some("po-1")), ("c-3", Some("po-3"))] {
        assert_eq!(
            w.claim_state(claim),
            paid_by.map(|p| ClaimState::Paid { payout: p.into() }),
            "{claim}"
        );
    }
    for claim in ["c-reject", "c-4"] {
        assert_eq!(w.claim_state(claim), Some(ClaimState::Released), "{claim}");
    }
    for (payout, state) in [
        ("po-1", PayoutState::Paid),
        ("po-3", PayoutState::Paid),
        ("po-4", PayoutState::Rejected),
    ] {
        assert_eq!(w.s.payout_record(payout).map(|p| p.state), Some(state));
    }
    let sum = w.s.summary();
    assert_eq!(
        (sum.in_escrow, sum.reserved, sum.held_for_review, sum.frozen),
        (Amount::ZERO, Amount::ZERO, Amount::ZERO, Amount::ZERO)
    );
    assert_eq!(sum.paid_out, amt("2.00"));
    assert_eq!(sum.refunded, amt("3.00"));
    assert_eq!(
        sum.paid_out.fen() + sum.refunded.fen(),
        500,
        "claimed + refunded = funded"
    );
    assert_eq!(w.s.merchant_available("m2"), amt("1.00"), "m2 never moved");
    Ok(())
}

/// Decimal discipline at every boundary: amounts come in as strings with at
/// most two decimals (never a number, a third decimal, a sign or an
/// exponent), and go out as strings with exactly two: in outcomes, in the
/// money summary, in the decision record's input to the rules, and in
/// refusal messages.
#[test]
fn amounts_cross_every_boundary_as_exact_strings() -> Result<()> {
    let line = |amount: &str| {
        format!(r#"{{"type":"deposit","id":"d","at":1,"merchant":"m1","amount":{amount}}}"#)
    };
    for bad in [
        "0.1",
        "1",
        r#""0.101""#,
        r#""-1.00""#,
        r#""1e2""#,
        r#"" 1.00""#,
        r#""1,00""#,
    ] {
        assert!(
            serde_json::from_str::<Event>(&line(bad)).is_err(),
            "{bad} must be refused"
        );
    }
    let parsed: Event = serde_json::from_str(&line(r#""0.1""#))?;
    assert_eq!(parsed, deposit_event("d", 1, "m1", "0.10"));

    let r = rules()?;
    let mut w = World::new();
    let dep = w.ok(deposit_event("dep-1", T0, "m1", "1.1"), &r.allow)?;
    let json = serde_json::to_value(&dep)?;
    assert_eq!(json["amount"], serde_json::json!("1.10"));
    w.ok(
        packet_event("p-1", T0, "m1", "1.00", 3, SplitKind::Fixed),
        &r.allow,
    )?;
    let claimed = w.ok(claim_event("c-1", T0 + 1, "p-1", "u-1"), &r.allow)?;
    let json = serde_json::to_value(&claimed)?;
    assert_eq!(json["amount"], serde_json::json!("0.34"));
    assert_eq!(
        json["decision"]["input"]["request"]["amount"],
        serde_json::json!("0.34"),
        "the rules see the share as an exact string"
    );
    assert_eq!(
        json["decision"]["input"]["request"]["packet_total"],
        serde_json::json!("1.00")
    );
    let summary = serde_json::to_value(w.s.summary())?;
    for (field, text) in [
        ("deposited", "1.10"),
        ("merchant_available", "0.10"),
        ("in_escrow", "0.66"),
        ("reserved", "0.34"),
    ] {
        assert_eq!(summary[field], serde_json::json!(text), "{field}");
    }
    let e = w.refused(
        packet_event("p-2", T0 + 2, "m1", "0.11", 1, SplitKind::Fixed),
        &r.allow,
    )?;
    assert_eq!(
        e.to_string(),
        "insufficient funds: merchant m1 has 0.10 available, packet needs 0.11"
    );
    Ok(())
}
