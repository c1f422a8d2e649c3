//! The two phases of a claim or payout (`inflight.rs`), driven by hand:
//! what is set aside and busy while the rules decide, what waits, and what
//! an expiry does meanwhile. Every invariant is checked between phases.

use super::*;
use crate::settlement::inflight::{Begun, Ticket};

fn check(s: &Settlement) {
    if let Err(e) = s.check_invariants() {
        panic!("invariant broken: {e}");
    }
    assert!(s.summary().zero_sum_ok);
}

fn decide(s: &mut Settlement, event: &Event) -> Box<Ticket> {
    match s.begin(event) {
        Begun::Decide(ticket) => {
            check(s);
            ticket
        }
        Begun::Done(o) => panic!("expected a decision, got {o:?}"),
        Begun::Wait(_) => panic!("expected a decision, got a wait"),
    }
}

fn waits(s: &mut Settlement, event: &Event) -> bool {
    matches!(s.begin(event), Begun::Wait(_))
}

fn verdict(v: Verdict) -> crate::risk::Evaluation {
    evaluation(v)
}

/// A packet of 2 shares of 1.00 expiring after 600 s.
fn world() -> Settlement {
    let mut w = World::new();
    w.ok(deposit("d", T0, "m1", "2.00"));
    w.ok(expiring_packet("p1", T0, "m1", "2.00", 2, 600));
    w.s
}

#[test]
fn a_claim_being_decided_sets_its_share_aside_and_makes_its_user_wait() {
    let mut s = world();
    let first = decide(&mut s, &claim("c1", T0 + 1, "p1", "u1"));
    let p = s.packet("p1").expect("p1");
    assert_eq!(p.shares[0].state, ShareState::Claiming);
    assert_eq!(p.open_shares(), 1);
    assert!(!s.is_idle());
    // The same user, or the same id, waits; another user gets the next share.
    assert!(waits(&mut s, &claim("c2", T0 + 2, "p1", "u1")));
    assert!(waits(&mut s, &claim("c1", T0 + 2, "p1", "u1")));
    assert!(waits(&mut s, &unfreeze("uf", T0 + 2, "u1")));
    let second = decide(&mut s, &claim("c3", T0 + 3, "p1", "u2"));
    // No open share but one set aside: a third user waits for the verdicts.
    assert!(waits(&mut s, &claim("c4", T0 + 4, "p1", "u3")));

    // The first claim is denied: its share comes back, and u3 gets it.
    let o = s.finish(first, verdict(Verdict::Deny));
    assert_eq!(o.verdict, Some(Verdict::Deny));
    check(&s);
    let third = decide(&mut s, &claim("c4", T0 + 5, "p1", "u3"));
    let o = s.finish(third, verdict(Verdict::Allow));
    assert_eq!(o.amount, amt("1.00"));
    let o = s.finish(second, verdict(Verdict::Allow));
    assert_eq!(o.amount, amt("1.00"));
    check(&s);
    assert!(s.is_idle());
    // u1 may claim again and finds the packet empty, as it would in order.
    let e = s.apply(&claim("c2", T0 + 6, "p1", "u1"), &Script::allowing());
    assert_eq!(e.error().map(SettlementError::code), Some("packet-empty"));
    check(&s);
}

#[test]
fn an_expiry_while_a_claim_is_decided_refunds_only_the_open_shares() {
    for (v, claimed, refunded) in [
        (Verdict::Allow, "1.00", "1.00"),
        (Verdict::Review, "1.00", "1.00"),
        (Verdict::Deny, "0.00", "2.00"),
        (Verdict::Freeze, "0.00", "2.00"),
    ] {
        let mut s = world();
        let ticket = decide(&mut s, &claim("c1", T0 + 1, "p1", "u1"));
        let o = s.apply(&tick(T0 + 600), &Script::allowing());
        assert_eq!(o.expired.len(), 1, "{v:?}");
        assert_eq!(
            o.expired[0].refunded,
            amt("1.00"),
            "{v:?}: the open share only"
        );
        check(&s);
        let o = s.finish(ticket, verdict(v));
        assert_eq!(o.status, Status::Accepted, "{v:?}: {o:?}");
        assert_eq!(o.verdict, Some(v));
        check(&s);
        let p = s.packet("p1").expect("p1");
        assert_eq!(p.refunded(), amt(refunded), "{v:?}");
        assert_eq!(s.merchant_available("m1"), amt(refunded), "{v:?}");
        let sum = s.summary();
        assert_eq!(
            sum.reserved.fen() + sum.held_for_review.fen(),
            amt(claimed).fen(),
            "{v:?}: the claim made before the expiry keeps its share"
        );
        assert_eq!(sum.in_escrow, Amount::ZERO, "{v:?}");
    }
}

#[test]
fn a_payout_being_decided_makes_its_user_and_id_wait() {
    let mut s = world();
    s.apply(&claim("c1", T0 + 1, "p1", "u1"), &Script::allowing());
    let ticket = decide(&mut s, &payout("k1", T0 + 2, "c1"));
    assert!(waits(&mut s, &payout("k1", T0 + 3, "c1")), "the same id");
    assert!(waits(&mut s, &payout("k2", T0 + 3, "c1")), "the same user");
    assert!(
        waits(&mut s, &claim("k1", T0 + 3, "p1", "u2")),
        "a claim with its id"
    );
    let o = s.finish(ticket, verdict(Verdict::Allow));
    assert_eq!(o.amount, amt("1.00"));
    let again = s.apply(&payout("k1", T0 + 4, "c1"), &Script::allowing());
    assert!(again.replay);
    let other = s.apply(&payout("k2", T0 + 4, "c1"), &Script::allowing());
    assert_eq!(
        other.error().map(SettlementError::code),
        Some("already-paid")
    );
    check(&s);
    assert_eq!(s.wallet("u1"), amt("1.00"));
}

#[test]
fn the_invariants_catch_a_share_set_aside_for_nobody() {
    let mut s = world();
    let _ticket = decide(&mut s, &claim("c1", T0 + 1, "p1", "u1"));
    s.in_flight.claims.clear();
    let e = s
        .check_invariants()
        .expect_err("a share set aside for nobody");
    assert!(e.to_string().contains("set aside"), "{e}");
}
