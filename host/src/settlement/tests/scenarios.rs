//! Hand-written scenarios: the verdict table, reviews, freezes, expiry,
//! retries and the money cases of `cases/README.md`.

use super::*;

use ReviewDecision::{Approve, Reject};

// ---- funding -------------------------------------------------------------

#[test]
fn deposits_and_packets_move_money_into_escrow() {
    let mut w = World::new();
    let o = w.ok(deposit("d1", T0, "m1", "10.00"));
    assert_eq!(o.amount, amt("10.00"));
    let o = w.ok(packet("p1", T0, "m1", "8.00", 4, SplitKind::Fixed));
    assert_eq!(o.amount, amt("8.00"));
    let p = w.s.packet("p1").expect("packet");
    assert!(p.shares.iter().all(|s| s.amount == amt("2.00")));
    assert_eq!(p.expires_at, T0 + EXPIRES_IN_DEFAULT_SECONDS);
    let sum = w.s.summary();
    assert_eq!(sum.deposited, amt("10.00"));
    assert_eq!(sum.merchant_available, amt("2.00"));
    assert_eq!(sum.in_escrow, amt("8.00"));
    assert_eq!(
        w.refused(deposit("d2", T0, "m1", "0.00")),
        SettlementError::ZeroDeposit {
            deposit: "d2".into()
        }
    );
}

#[test]
fn m07_an_overdraft_packet_is_refused_and_the_balance_stays() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "5.00"));
    let e = w.refused(packet("p1", T0, "m1", "8.00", 2, SplitKind::Random));
    assert_eq!(
        e.to_string(),
        "insufficient funds: merchant m1 has 5.00 available, packet needs 8.00"
    );
    assert_eq!(w.s.merchant_available("m1"), amt("5.00"));
    assert!(w.s.packet("p1").is_none());

    // Two packets of 8.00 against 10.00 at the same moment: one succeeds.
    w.ok(deposit("d2", T0, "m2", "10.00"));
    w.ok(packet("p2", T0, "m2", "8.00", 2, SplitKind::Fixed));
    let e = w.refused(packet("p3", T0, "m2", "8.00", 2, SplitKind::Fixed));
    assert_eq!(e.code(), "insufficient-funds");
    assert_eq!(w.s.merchant_available("m2"), amt("2.00"));
}

#[test]
fn infeasible_packets_are_refused_at_creation() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "100.00"));
    for (i, (total, shares)) in [("0.04", 5), ("0.10", 15), ("0.02", 3), ("1.00", 0)]
        .into_iter()
        .enumerate()
    {
        let e = w.refused(packet(
            &format!("p{i}"),
            T0,
            "m1",
            total,
            shares,
            SplitKind::Random,
        ));
        assert_eq!(e.code(), "infeasible-split", "{e}");
    }
    let e = w.refused(packet("big", T0, "m1", "100.00", 0, SplitKind::Fixed));
    assert_eq!(
        e.to_string(),
        "packet big cannot be split: a packet needs at least 1 share, got 0"
    );
    let e = w.refused(expiring_packet("never", T0, "m1", "1.00", 1, 0));
    assert_eq!(e.code(), "bad-expiry");
    assert_eq!(w.s.merchant_available("m1"), amt("100.00"));
    assert_eq!(w.s.summary().in_escrow, Amount::ZERO);
}

#[test]
fn m01_eighteen_users_share_a_fixed_yuan() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "1.00", 18);
    let mut sum = 0;
    for i in 0..18 {
        let o = w.ok(claim(&format!("c{i}"), T0 + 1, "p1", &format!("u{i}")));
        assert!(o.amount.fen() >= 1);
        sum += o.amount.fen();
        w.ok(payout(&format!("k{i}"), T0 + 2, &format!("c{i}")));
    }
    assert_eq!(sum, 100);
    let e = w.refused(claim("c18", T0 + 3, "p1", "u18"));
    assert_eq!(
        e,
        SettlementError::PacketEmpty {
            packet: "p1".into()
        }
    );
    let s = w.s.summary();
    assert_eq!(
        (s.paid_out, s.in_escrow, s.reserved),
        (amt("1.00"), Amount::ZERO, Amount::ZERO)
    );
}

// ---- claim verdicts ------------------------------------------------------

#[test]
fn claim_allow_reserves_and_payout_allow_pays() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "6.00", 3);
    let o = w.ok(claim("c1", T0 + 10, "p1", "u1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Allow), amt("2.00")));
    let d = o.decision.expect("decision record");
    assert_eq!(
        (d.request_id.as_str(), d.hook, d.at),
        ("c1", rules_sdk::Hook::Claim, T0 + 10)
    );
    assert_eq!(
        (d.verdict, d.reason.as_str(), d.rules.len()),
        (Verdict::Allow, "ok", 1)
    );
    let DecisionInput::Claim { request, facts } = &d.input else {
        panic!("claim input expected");
    };
    assert_eq!(
        (request.amount, request.packet_total),
        (amt("2.00"), amt("6.00"))
    );
    assert_eq!(
        (request.merchant_id.as_str(), facts.utc_offset_minutes),
        ("m1", 480)
    );
    let input = serde_json::to_value(&d.input).expect("json");
    assert_eq!(input["request"]["amount"], "2.00");
    assert_eq!(input["facts"]["device_recent_users"][0], "u1");

    assert!(matches!(
        w.claim_state("c1"),
        Some(ClaimState::Reserved { .. })
    ));
    let s = w.s.summary();
    assert_eq!(
        (s.reserved, s.in_escrow, s.paid_out),
        (amt("2.00"), amt("4.00"), Amount::ZERO)
    );

    let o = w.ok(payout("k1", T0 + 70, "c1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Allow), amt("2.00")));
    let d = o.decision.expect("decision record");
    let DecisionInput::Payout { request, facts } = &d.input else {
        panic!("payout input expected");
    };
    assert_eq!(
        (request.claim_id.as_str(), request.user_id.as_str()),
        ("c1", "u1")
    );
    assert_eq!(facts.seconds_since_claim, 60);
    assert_eq!(w.s.wallet("u1"), amt("2.00"));
    assert_eq!(
        w.claim_state("c1"),
        Some(ClaimState::Paid {
            payout: "k1".into()
        })
    );
    assert_eq!(
        w.s.payout_record("k1").map(|p| p.state),
        Some(PayoutState::Paid)
    );
    // The completed payout counts in the next payout's facts.
    w.ok(claim("c2", T0 + 80, "p1", "u1b"));
    w.ok(payout("k2", T0 + 90, "c2"));
    let facts = w.rules.last_payout.borrow().clone().expect("facts").1;
    assert_eq!(facts.merchant_paid_today, amt("2.00"));
}

#[test]
fn claim_review_holds_then_approval_reserves() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "6.00", 3);
    w.next_claim(Verdict::Review);
    let o = w.ok(claim("c1", T0, "p1", "u1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Review), amt("2.00")));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::HeldForReview));
    assert_eq!(w.s.summary().held_for_review, amt("2.00"));
    // A held claim holds its share: no second claim, no payout yet.
    assert_eq!(
        w.refused(claim("c1b", T0, "p1", "u1")).code(),
        "already-claimed"
    );
    assert_eq!(
        w.refused(payout("k0", T0, "c1")).code(),
        "claim-not-reserved"
    );

    let o = w.ok(resolve("r1", T0 + 5, "c1", Approve));
    assert_eq!((o.verdict, o.amount), (None, amt("2.00")));
    assert!(matches!(
        w.claim_state("c1"),
        Some(ClaimState::Reserved { .. })
    ));
    let s = w.s.summary();
    assert_eq!((s.held_for_review, s.reserved), (Amount::ZERO, amt("2.00")));
    w.ok(payout("k1", T0 + 6, "c1"));
    assert_eq!(w.s.wallet("u1"), amt("2.00"));
    assert_eq!(
        w.refused(resolve("r2", T0 + 7, "c1", Approve)).code(),
        "not-held"
    );
}

#[test]
fn claim_review_rejected_returns_the_share() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "3.00", 2);
    w.next_claim(Verdict::Review);
    w.ok(claim("c1", T0, "p1", "u1"));
    w.ok(claim("c2", T0, "p1", "u2"));
    assert_eq!(
        w.refused(claim("c3", T0, "p1", "u3")).code(),
        "packet-empty"
    );
    w.ok(resolve("r1", T0 + 1, "c1", Reject));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::Released));
    assert_eq!(w.s.summary().in_escrow, amt("1.50"));
    // The share is claimable again: the lowest open share goes first.
    let o = w.ok(claim("c4", T0 + 2, "p1", "u3"));
    assert_eq!(o.amount, amt("1.50"));
    assert_eq!(w.s.claim_record("c4").map(|c| c.share), Some(0));
}

#[test]
fn claim_deny_moves_nothing_and_the_share_stays_claimable() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "4.00", 2);
    let before = w.s.summary();
    w.next_claim(Verdict::Deny);
    let o = w.ok(claim("c1", T0, "p1", "u1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Deny), Amount::ZERO));
    assert!(o.decision.is_some());
    assert_eq!(w.s.summary(), before);
    assert!(w.s.claim_record("c1").is_none());
    // A payout of the denied claim: the claim is known, and holds nothing.
    let refused = w.refused(payout("k1", T0, "c1"));
    assert_eq!(refused.code(), "claim-not-reserved");
    assert_eq!(
        refused.to_string(),
        "claim c1 is not reserved for payout (it is denied)"
    );
    assert_eq!(
        w.refused(payout("k2", T0, "c-never")).code(),
        "unknown-claim"
    );
    // The same user may try again with a new id, and gets the same share.
    let o = w.ok(claim("c2", T0, "p1", "u1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Allow), amt("2.00")));
    assert_eq!(w.s.claim_record("c2").map(|c| c.share), Some(0));
    // A denied claim is not counted in the velocity facts.
    w.ok(claim("c3", T0, "p1", "u2"));
    w.ok(deposit("d2", T0, "m1", "1.00"));
    w.ok(packet("p2", T0, "m1", "1.00", 1, SplitKind::Fixed));
    w.ok(claim("c4", T0, "p2", "u1"));
    let facts = w.rules.last_claim.borrow().clone().expect("facts").1;
    assert_eq!(facts.user_claims_today, 1);
}

#[test]
fn claim_freeze_freezes_the_wallet_and_held_shares() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "100.00"));
    for p in ["p1", "p2", "p3", "p4"] {
        w.ok(packet(p, T0, "m1", "10.00", 5, SplitKind::Fixed));
    }
    w.ok(claim("c1", T0, "p1", "u1"));
    w.ok(payout("k1", T0, "c1")); // 2.00 in the wallet
    w.next_claim(Verdict::Review);
    w.ok(claim("c2", T0, "p2", "u1")); // 2.00 held for review
    w.ok(claim("c3", T0, "p3", "u1")); // 2.00 reserved
    w.next_payout(Verdict::Review);
    w.ok(claim("c3b", T0, "p3", "u9"));
    w.ok(payout("k3b", T0, "c3b")); // another user's payout held: untouched

    w.next_claim(Verdict::Freeze);
    let o = w.ok(claim("c4", T0 + 1, "p4", "u1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("4.00")));
    assert!(w.s.is_frozen("u1"));
    assert!(w.s.claim_record("c4").is_none());
    assert_eq!(w.s.wallet("u1"), Amount::ZERO);
    assert_eq!(
        w.claim_state("c2"),
        Some(ClaimState::Frozen { payout: None })
    );
    assert!(matches!(
        w.claim_state("c3"),
        Some(ClaimState::Reserved { .. })
    ));
    let s = w.s.summary();
    assert_eq!(
        (s.frozen, s.held_for_review, s.reserved),
        (amt("4.00"), amt("2.00"), amt("2.00"))
    );
    assert_eq!(
        w.refused(resolve("r1", T0 + 2, "c2", Approve)).code(),
        "not-held"
    );

    // A frozen user cannot claim; the rules are not asked.
    let calls = w.rules.calls();
    assert_eq!(
        w.refused(claim("c5", T0 + 2, "p4", "u1")),
        SettlementError::UserFrozen { user: "u1".into() }
    );
    // A payout of a share reserved before the freeze goes to the frozen
    // account, decided by the host.
    let o = w.ok(payout("k3", T0 + 3, "c3"));
    assert_eq!(w.rules.calls(), calls);
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("2.00")));
    let d = o.decision.expect("host decision record");
    assert_eq!(
        (d.reason.as_str(), d.rules.len()),
        (HOST_REASON_USER_FROZEN, 0)
    );
    assert_eq!(w.s.summary().frozen, amt("6.00"));

    // Unfreeze approves nothing: the wallet amount returns to the wallet,
    // the share held at claim returns to the review hold, and the payout
    // the host froze is held for review.
    let o = w.ok(unfreeze("f1", T0 + 4, "u1"));
    assert_eq!(o.amount, amt("6.00"));
    assert_eq!(w.s.wallet("u1"), amt("2.00"));
    assert_eq!(w.claim_state("c2"), Some(ClaimState::HeldForReview));
    assert_eq!(
        w.claim_state("c3"),
        Some(ClaimState::PayoutHeld {
            payout: "k3".into()
        })
    );
    assert_eq!(
        w.s.payout_record("k3").map(|p| p.state),
        Some(PayoutState::HeldForReview)
    );
    let s = w.s.summary();
    assert_eq!(
        (s.frozen, s.held_for_review, s.paid_out),
        (Amount::ZERO, amt("6.00"), amt("2.00"))
    );
    assert_eq!(
        w.refused(payout("k3x", T0 + 5, "c3")).code(),
        "payout-in-progress"
    );
    assert_eq!(w.refused(unfreeze("f2", T0 + 5, "u1")).code(), "not-frozen");
    assert_eq!(
        w.refused(unfreeze("f3", T0 + 5, "nobody")).code(),
        "not-frozen"
    );
    w.ok(claim("c6", T0 + 6, "p4", "u1"));
}

// ---- payout verdicts -----------------------------------------------------

#[test]
fn payout_review_then_approval_pays() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 1);
    w.ok(claim("c1", T0, "p1", "u1"));
    w.next_payout(Verdict::Review);
    let o = w.ok(payout("k1", T0, "c1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Review), amt("5.00")));
    assert_eq!(
        w.claim_state("c1"),
        Some(ClaimState::PayoutHeld {
            payout: "k1".into()
        })
    );
    let s = w.s.summary();
    assert_eq!((s.held_for_review, s.reserved), (amt("5.00"), Amount::ZERO));
    assert_eq!(
        w.refused(payout("k2", T0, "c1")),
        SettlementError::PayoutInProgress {
            claim: "c1".into(),
            payout: "k1".into()
        }
    );
    w.ok(resolve("r1", T0 + 1, "k1", Approve));
    assert_eq!(w.s.wallet("u1"), amt("5.00"));
    assert_eq!(
        w.s.payout_record("k1").map(|p| p.state),
        Some(PayoutState::Paid)
    );
    assert_eq!(
        w.refused(payout("k3", T0, "c1")),
        SettlementError::AlreadyPaid {
            claim: "c1".into(),
            payout: "k1".into()
        }
    );
}

#[test]
fn payout_review_rejected_returns_the_share() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 1);
    w.ok(claim("c1", T0, "p1", "u1"));
    w.next_payout(Verdict::Review);
    w.ok(payout("k1", T0, "c1"));
    let o = w.ok(resolve("r1", T0 + 1, "k1", Reject));
    assert_eq!(o.amount, amt("5.00"));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::Released));
    assert_eq!(
        w.s.payout_record("k1").map(|p| p.state),
        Some(PayoutState::Rejected)
    );
    assert_eq!(w.s.summary().in_escrow, amt("5.00"));
    assert_eq!(
        w.refused(payout("k2", T0, "c1")).code(),
        "claim-not-reserved"
    );
    w.ok(claim("c2", T0 + 2, "p1", "u2"));
}

#[test]
fn payout_deny_voids_the_reservation_and_the_share_returns() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 1);
    w.ok(claim("c1", T0, "p1", "u1"));
    w.next_payout(Verdict::Deny);
    let o = w.ok(payout("k1", T0, "c1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Deny), amt("5.00")));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::Released));
    let s = w.s.summary();
    assert_eq!(
        (s.in_escrow, s.reserved, s.paid_out),
        (amt("5.00"), Amount::ZERO, Amount::ZERO)
    );
    assert_eq!(
        w.refused(payout("k2", T0, "c1")),
        SettlementError::ClaimNotReserved {
            claim: "c1".into(),
            state: "released"
        }
    );
    // The user no longer holds a share, so anyone may claim it again.
    w.ok(claim("c2", T0, "p1", "u1"));
}

#[test]
fn payout_freeze_freezes_the_user() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "30.00"));
    for p in ["p1", "p2", "p3"] {
        w.ok(packet(p, T0, "m1", "10.00", 2, SplitKind::Fixed));
    }
    w.ok(claim("c1", T0, "p1", "u1"));
    w.ok(payout("k1", T0, "c1")); // 5.00 in the wallet
    w.next_payout(Verdict::Review);
    w.ok(claim("c2", T0, "p2", "u1"));
    w.ok(payout("k2", T0, "c2")); // 5.00 held at payout
    w.ok(claim("c3", T0, "p3", "u1"));
    w.next_payout(Verdict::Freeze);
    let o = w.ok(payout("k3", T0, "c3"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("15.00")));
    assert!(w.s.is_frozen("u1"));
    assert_eq!(
        w.claim_state("c3"),
        Some(ClaimState::Frozen {
            payout: Some("k3".into())
        })
    );
    assert_eq!(
        w.claim_state("c2"),
        Some(ClaimState::Frozen {
            payout: Some("k2".into())
        })
    );
    assert_eq!(
        w.s.payout_record("k2").map(|p| p.state),
        Some(PayoutState::Frozen)
    );
    let s = w.s.summary();
    assert_eq!(
        (s.frozen, s.paid_out, s.held_for_review),
        (amt("15.00"), Amount::ZERO, Amount::ZERO)
    );
    assert_eq!(
        w.refused(resolve("r1", T0, "k2", Approve)).code(),
        "not-held"
    );
    // Unfreeze: the wallet amount back to the wallet; the held payout held
    // again and the frozen payout held for review: nothing paid.
    w.ok(unfreeze("f1", T0, "u1"));
    assert_eq!(w.s.wallet("u1"), amt("5.00"));
    for (c, k) in [("c2", "k2"), ("c3", "k3")] {
        assert_eq!(
            w.claim_state(c),
            Some(ClaimState::PayoutHeld { payout: k.into() })
        );
        assert_eq!(
            w.s.payout_record(k).map(|p| p.state),
            Some(PayoutState::HeldForReview)
        );
    }
    assert_eq!(w.s.summary().held_for_review, amt("10.00"));
}

#[test]
fn requests_the_host_refuses_never_reach_the_rules() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "4.00", 2);
    w.ok(claim("c1", T0, "p1", "u1"));
    let calls = w.rules.calls();
    assert_eq!(
        w.refused(claim("c2", T0, "nope", "u1")),
        SettlementError::UnknownPacket {
            packet: "nope".into()
        }
    );
    assert_eq!(
        w.refused(claim("c3", T0, "p1", "u1")).to_string(),
        "already claimed: user u1 holds a share of packet p1 (claim c1)"
    );
    assert_eq!(
        w.refused(payout("k1", T0, "c9")),
        SettlementError::UnknownClaim { claim: "c9".into() }
    );
    assert_eq!(
        w.refused(resolve("r1", T0, "c1", Approve)).code(),
        "not-held"
    );
    assert_eq!(
        w.refused(resolve("r2", T0, "zz", Reject)).code(),
        "not-held"
    );
    assert_eq!(w.rules.calls(), calls);
}

#[test]
fn a_claim_may_not_take_a_held_payouts_id() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "4.00", 2);
    w.ok(claim("x", T0, "p1", "u1"));
    w.next_payout(Verdict::Review);
    w.ok(payout("y", T0, "x"));
    w.next_claim(Verdict::Review);
    assert_eq!(w.refused(claim("y", T0, "p1", "u2")).code(), "id-in-use");
    // The claim x is not held itself (its payout y is): not a review target.
    assert_eq!(
        w.refused(resolve("r2", T0, "x", Approve)).code(),
        "not-held"
    );
    assert_eq!(w.s.summary().held_for_review, amt("2.00"));
    w.ok(resolve("r1", T0, "y", Approve));
    assert_eq!(w.s.summary().held_for_review, amt("0.00"));
}

// ---- M04: one user, one share --------------------------------------------

#[test]
fn m04_one_user_gets_one_share_and_five_users_five() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "20.00"));
    w.ok(packet("p1", T0, "m1", "10.00", 5, SplitKind::Random));
    let mut accepted = 0;
    for i in 0..50 {
        let o = w.run(claim(&format!("same-{i}"), T0 + 1, "p1", "u1"));
        match o.status {
            Status::Accepted => accepted += 1,
            Status::Refused(e) => assert_eq!(e.code(), "already-claimed"),
            Status::Conflict(e) => panic!("{e}"),
        }
    }
    assert_eq!(accepted, 1);
    // The user's velocity counter moved by one.
    w.ok(packet("p2", T0, "m1", "10.00", 5, SplitKind::Random));
    w.ok(claim("probe", T0 + 2, "p2", "u1"));
    let facts = w.rules.last_claim.borrow().clone().expect("facts").1;
    assert_eq!(
        (facts.user_claims_today, facts.user_claims_last_hour),
        (1, 1)
    );

    // Ten users race for the five shares of p2 (one already taken by u1).
    let mut sum = w.s.claim_record("probe").map_or(0, |c| c.amount.fen());
    let mut won = 1;
    for i in 0..10 {
        let o = w.run(claim(&format!("race-{i}"), T0 + 3, "p2", &format!("r{i}")));
        match o.status {
            Status::Accepted => {
                won += 1;
                sum += o.amount.fen();
            }
            Status::Refused(e) => assert_eq!(e.code(), "packet-empty"),
            Status::Conflict(e) => panic!("{e}"),
        }
    }
    assert_eq!((won, sum), (5, 1_000));
    assert_eq!(w.s.packet("p2").map(Packet::open_shares), Some(0));
}

// ---- M08: expiry ---------------------------------------------------------

#[test]
fn m08_expiry_refunds_the_funder_exactly_once() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "5.00"));
    w.ok(deposit("d2", T0, "m2", "7.00"));
    w.ok(expiring_packet("p1", T0, "m1", "5.00", 5, 600));
    for i in 0..3 {
        w.ok(claim(&format!("c{i}"), T0 + 10, "p1", &format!("u{i}")));
    }
    // Two expiry passes at the expiry instant, and a claim at that instant.
    let first = w.ok(tick(T0 + 600));
    assert_eq!(
        first.expired,
        vec![Expiry {
            packet: "p1".into(),
            merchant: "m1".into(),
            expires_at: T0 + 600,
            refunded: amt("2.00"),
        }]
    );
    assert!(w.ok(tick(T0 + 600)).expired.is_empty());
    let e = w.refused(claim("late", T0 + 600, "p1", "u9"));
    assert_eq!(
        e,
        SettlementError::PacketExpired {
            packet: "p1".into(),
            expires_at: T0 + 600
        }
    );
    assert_eq!(w.s.merchant_available("m1"), amt("2.00"));
    assert_eq!(w.s.merchant_available("m2"), amt("7.00"));
    let p = w.s.packet("p1").expect("packet");
    assert_eq!(p.refunded(), amt("2.00"));
    // Reservations stay payable after expiry.
    for i in 0..3 {
        w.ok(payout(&format!("k{i}"), T0 + 700, &format!("c{i}")));
    }
    let s = w.s.summary();
    assert_eq!(
        (s.paid_out, s.refunded, s.in_escrow),
        (amt("3.00"), amt("2.00"), Amount::ZERO)
    );
    w.ok(tick(T0 + 10 * EXPIRES_IN_DEFAULT_SECONDS));
    assert_eq!(w.s.merchant_available("m1"), amt("2.00"));
}

#[test]
fn m08_shares_held_at_expiry_are_refunded_when_their_review_ends() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "6.00"));
    w.ok(expiring_packet("p1", T0, "m1", "6.00", 6, 100));
    // c0: payout held, later rejected. c1: claim held, later rejected.
    // c2: payout held, later approved. c3: claim held, later approved.
    // c4: reserved, payout denied after expiry. One share never claimed.
    for i in 0..5 {
        if i == 1 || i == 3 {
            w.next_claim(Verdict::Review);
        }
        w.ok(claim(&format!("c{i}"), T0, "p1", &format!("u{i}")));
    }
    w.next_payout(Verdict::Review);
    w.ok(payout("k0", T0, "c0"));
    w.next_payout(Verdict::Review);
    w.ok(payout("k2", T0, "c2"));
    let o = w.ok(tick(T0 + 100));
    assert_eq!(o.expired.first().map(|e| e.refunded), Some(amt("1.00")));
    assert_eq!(w.s.summary().held_for_review, amt("4.00"));

    let o = w.ok(resolve("r0", T0 + 200, "k0", Reject));
    assert_eq!(o.amount, amt("1.00"));
    assert_eq!(w.s.merchant_available("m1"), amt("2.00"));
    w.ok(resolve("r1", T0 + 200, "c1", Reject));
    assert_eq!(w.s.merchant_available("m1"), amt("3.00"));
    w.ok(resolve("r2", T0 + 200, "k2", Approve));
    assert_eq!(w.s.wallet("u2"), amt("1.00"));
    w.ok(resolve("r3", T0 + 200, "c3", Approve));
    w.ok(payout("k3", T0 + 300, "c3"));
    assert_eq!(w.s.wallet("u3"), amt("1.00"));
    w.next_payout(Verdict::Deny);
    w.ok(payout("k4", T0 + 300, "c4"));
    assert_eq!(w.s.merchant_available("m1"), amt("4.00"));

    let s = w.s.summary();
    assert_eq!(
        (
            s.refunded,
            s.paid_out,
            s.held_for_review,
            s.reserved,
            s.in_escrow
        ),
        (
            amt("4.00"),
            amt("2.00"),
            Amount::ZERO,
            Amount::ZERO,
            Amount::ZERO
        )
    );
    assert_eq!(w.s.packet("p1").map(Packet::refunded), Some(amt("4.00")));
    assert_eq!(
        w.s.ledger()
            .balance(&crate::ledger::Account::Escrow("p1".into())),
        Default::default()
    );
}

// ---- retries -------------------------------------------------------------

#[test]
fn m06_a_retried_payout_returns_the_stored_result_without_the_rules() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 1);
    w.ok(claim("c1", T0, "p1", "u1"));
    let first = w.ok(payout("K", T0 + 1, "c1"));
    let calls = w.rules.calls();
    for i in 0..3 {
        let retry = w.ok(payout("K", T0 + 30 * (i + 1), "c1"));
        assert!(retry.replay);
        assert_eq!((retry.verdict, retry.amount), (first.verdict, first.amount));
        assert_eq!(retry.at, first.at);
        assert!(retry.decision.is_none());
    }
    assert_eq!(w.rules.calls(), calls);
    assert_eq!(w.s.wallet("u1"), amt("5.00"));
    assert_eq!(w.s.summary().paid_out, amt("5.00"));
}

#[test]
fn m05_a_retry_after_a_reversal_never_pays_twice() {
    // Reversed by the rules: the payout is denied and the share returns.
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 1);
    w.ok(claim("c1", T0, "p1", "u1"));
    w.next_payout(Verdict::Deny);
    w.ok(payout("K", T0, "c1"));
    let calls = w.rules.calls();
    let retry = w.ok(payout("K", T0 + 60, "c1"));
    assert!(retry.replay);
    assert_eq!(retry.verdict, Some(Verdict::Deny));
    assert_eq!(w.rules.calls(), calls);
    assert_eq!(w.s.wallet("u1"), Amount::ZERO);
    // A new id does not pay either: the reservation is gone.
    assert_eq!(
        w.refused(payout("K2", T0 + 60, "c1")).code(),
        "claim-not-reserved"
    );

    // Reversed by a reviewer: held, then rejected.
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 1);
    w.ok(claim("c1", T0, "p1", "u1"));
    w.next_payout(Verdict::Review);
    w.ok(payout("K", T0, "c1"));
    w.ok(resolve("R", T0 + 1, "K", Reject));
    let calls = w.rules.calls();
    let retry = w.ok(payout("K", T0 + 60, "c1"));
    assert!(retry.replay);
    let again = w.ok(resolve("R", T0 + 61, "K", Reject));
    assert!(again.replay);
    assert_eq!(w.rules.calls(), calls);
    let s = w.s.summary();
    assert_eq!((s.paid_out, s.in_escrow), (Amount::ZERO, amt("5.00")));
}

#[test]
fn a_different_body_under_a_used_id_is_a_conflict() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 5);
    w.ok(claim("c1", T0, "p1", "u1"));
    let before = w.s.summary();
    let calls = w.rules.calls();
    let o = w.run(claim("c1", T0, "p1", "u2"));
    assert_eq!(
        o.status,
        Status::Conflict(SettlementError::Conflict {
            kind: "claim",
            id: "c1".into()
        })
    );
    assert!(!o.replay);
    assert_eq!(
        w.run(deposit("dep-p1", T0, "m1", "5.01"))
            .error()
            .map(SettlementError::code),
        Some("conflict")
    );
    assert_eq!(w.s.summary(), before);
    assert_eq!(w.rules.calls(), calls);
    // The original still answers, and a different label or time is the same body.
    let mut retry = claim("c1", T0 + 99, "p1", "u1");
    if let Event::Claim { label, .. } = &mut retry {
        *label = Some("fraud".into());
    }
    assert!(w.ok(retry).replay);
    // Other kinds may reuse an id (a deposit "c1"), but a payout may not
    // reuse a claim's id: review targets name either.
    w.ok(deposit("c1", T0, "m1", "1.00"));
    assert_eq!(w.refused(payout("c1", T0, "c1")).code(), "id-in-use");
}

#[test]
fn a_failed_request_stays_failed() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "5.00"));
    let e = w.refused(packet("p1", T0, "m1", "8.00", 2, SplitKind::Fixed));
    w.ok(deposit("d2", T0, "m1", "5.00"));
    let o = w.run(packet("p1", T0 + 5, "m1", "8.00", 2, SplitKind::Fixed));
    assert!(o.replay);
    assert_eq!(o.status, Status::Refused(e));
    assert!(w.s.packet("p1").is_none());
    assert_eq!(w.s.merchant_available("m1"), amt("10.00"));
    // A new bill number is a new request.
    w.ok(packet(
        "p1-retry",
        T0 + 5,
        "m1",
        "8.00",
        2,
        SplitKind::Fixed,
    ));
    // A denied claim's id stays denied, and the rules are not asked again.
    w.next_claim(Verdict::Deny);
    w.ok(claim("c1", T0 + 6, "p1-retry", "u1"));
    let calls = w.rules.calls();
    let o = w.ok(claim("c1", T0 + 7, "p1-retry", "u1"));
    assert!(o.replay);
    assert_eq!(o.verdict, Some(Verdict::Deny));
    assert_eq!(w.rules.calls(), calls);
    assert!(w.s.claim_record("c1").is_none());
}

// ---- time and records ----------------------------------------------------

#[test]
fn the_clock_never_runs_backwards() {
    let mut w = World::new();
    w.ok(deposit("d1", T0 + 1_000, "m1", "5.00"));
    let o = w.ok(expiring_packet("p1", T0, "m1", "5.00", 5, 50));
    assert_eq!(o.at, T0 + 1_000);
    assert_eq!(w.s.packet("p1").map(|p| p.expires_at), Some(T0 + 1_050));
    let o = w.ok(claim("c1", T0 + 10, "p1", "u1"));
    assert_eq!(o.at, T0 + 1_000);
    assert_eq!(w.s.claim_record("c1").map(|c| c.at), Some(T0 + 1_000));
    w.ok(tick(T0 + 1_050));
    // An event stamped before the expiry still finds the packet expired.
    assert_eq!(
        w.refused(claim("c2", T0 + 1_001, "p1", "u2")).code(),
        "packet-expired"
    );
    assert_eq!(w.s.now(), Some(T0 + 1_050));
}

#[test]
fn transfer_ids_cannot_collide() {
    assert_ne!(
        transfer_id("claim", "a/b", "x"),
        transfer_id("claim", "a", "b/x")
    );
    assert_eq!(transfer_id("claim", "c1", "reserve"), "claim/2:c1/reserve");
    assert_ne!(
        transfer_id("claim", "a", &item_step("freeze-held", "b/c")),
        transfer_id("claim", "a", &item_step("freeze-held/1:b", "c"))
    );
}

#[test]
fn outcomes_serialize_with_string_amounts_and_typed_errors() {
    let mut w = World::new();
    let o = w.ok(deposit("d1", T0, "m1", "5.00"));
    let json = serde_json::to_value(&o).expect("json");
    assert_eq!(json["status"], "accepted");
    assert_eq!(json["amount"], "5.00");
    assert_eq!(json["kind"], "deposit");
    let o = w.run(packet("p1", T0, "m1", "8.00", 2, SplitKind::Fixed));
    let json = serde_json::to_value(&o).expect("json");
    assert_eq!(json["status"], "refused");
    assert_eq!(json["error"]["code"], "insufficient-funds");
    assert_eq!(
        json["error"]["message"],
        "insufficient funds: merchant m1 has 5.00 available, packet needs 8.00"
    );
    let s = serde_json::to_value(w.s.summary()).expect("json");
    assert_eq!(s["merchant_available"], "5.00");
    assert_eq!(s["zero_sum_ok"], true);
}

#[test]
fn a_decision_record_round_trips_through_json() {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 1);
    let d = w.ok(claim("c1", T0, "p1", "u1")).decision.expect("record");
    let text = serde_json::to_string(&d).expect("json");
    let back: DecisionRecord = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, d);
}

/// A payout may not reuse a held claim's id (nor a claim a payout's):
/// otherwise a review target would be ambiguous and the held share could be
/// locked in the review hold for good by anyone who can send a payout.
#[test]
fn claim_and_payout_ids_never_collide_so_reviews_stay_resolvable() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "100.00"));
    w.ok(packet("p1", T0, "m1", "10.00", 5, SplitKind::Fixed));
    w.rules.claim.borrow_mut().push_back(Verdict::Review);
    w.ok(claim("c-victim", T0 + 1, "p1", "u-victim"));
    w.ok(claim("c-att", T0 + 2, "p1", "u-att"));
    w.rules.payout.borrow_mut().push_back(Verdict::Review);
    let e = w.refused(payout("c-victim", T0 + 3, "c-att"));
    assert_eq!(e.code(), "id-in-use");
    w.ok(payout("po-1", T0 + 4, "c-att"));
    let e = w.refused(claim("po-1", T0 + 5, "p1", "u-other"));
    assert_eq!(e.code(), "id-in-use");
    let o = w.ok(resolve("r1", T0 + 6, "c-victim", Reject));
    assert_eq!(o.amount, amt("2.00"));
}
