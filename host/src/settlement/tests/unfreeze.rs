//! Freezing and unfreezing: an unfreeze approves nothing. The wallet amount
//! goes back to the wallet, every frozen share back to the review hold (held
//! at claim, or as its payout held for review), and a reviewer decides.
//! Every event goes through [`World::run`], which checks every invariant.

use super::*;
use crate::ledger::{Account, TransferKind};

use ReviewDecision::{Approve, Reject};

/// The ledger transfer `id` as `(kind, debit, credit, amount)`.
fn transfer(w: &World, id: &str) -> Option<(TransferKind, Account, Account, Amount)> {
    w.s.ledger()
        .transfer(id)
        .map(|t| (t.kind, t.debit, t.credit, t.amount))
}

fn frozen_account(w: &World, user: &str) -> i64 {
    w.s.ledger()
        .balance(&Account::Frozen(user.into()))
        .posted_fen
}

/// The user's case: a 60.00 claim held for review, then the account frozen
/// by a later claim. Returns the world with `u1` frozen: `c1` (60.00, packet
/// `p1`) in the frozen account, nothing in the wallet.
fn held_claim_then_frozen(expires_in: Option<i64>) -> World {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "200.00"));
    w.ok(Event::CreatePacket {
        id: "p1".into(),
        at: T0,
        merchant: "m1".into(),
        total: amt("120.00"),
        shares: 2,
        split: SplitKind::Fixed,
        campaign: None,
        expires_in,
    });
    w.ok(packet("p2", T0, "m1", "10.00", 1, SplitKind::Fixed));
    w.next_claim(Verdict::Review);
    let o = w.ok(claim("c1", T0 + 10, "p1", "u1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Review), amt("60.00")));
    assert_eq!(w.s.summary().held_for_review, amt("60.00"));

    w.next_claim(Verdict::Freeze);
    let o = w.ok(claim("c2", T0 + 20, "p2", "u1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("60.00")));
    assert!(w.s.is_frozen("u1"));
    assert_eq!(
        w.claim_state("c1"),
        Some(ClaimState::Frozen { payout: None })
    );
    let user = w.s.user("u1").expect("user record");
    assert_eq!(user.frozen_wallet, Amount::ZERO);
    assert_eq!(
        user.frozen_claims.get("c1"),
        Some(&FrozenShare {
            amount: amt("60.00"),
            from: FrozenFrom::ClaimReview
        })
    );
    assert_eq!(
        transfer(
            &w,
            &transfer_id("claim", "c2", &item_step("freeze-held", "c1"))
        ),
        Some((
            TransferKind::Posted,
            Account::ReviewHold,
            Account::Frozen("u1".into()),
            amt("60.00")
        ))
    );
    // Frozen: no reviewer can touch it, and the user cannot claim.
    assert_eq!(
        w.refused(resolve("r0", T0 + 30, "c1", Approve)).code(),
        "not-held"
    );
    assert_eq!(
        w.refused(claim("c3", T0 + 30, "p2", "u1")).code(),
        "user-frozen"
    );
    w
}

/// Unfreezes `u1` of [`held_claim_then_frozen`] and checks that the 60.00
/// is back in the review hold, held at claim, and nothing was paid.
fn unfreeze_held_claim(w: &mut World, at: i64) {
    let o = w.ok(unfreeze("f1", at, "u1"));
    assert_eq!(o.amount, amt("60.00"));
    assert!(!w.s.is_frozen("u1"));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::HeldForReview));
    assert_eq!(w.s.wallet("u1"), Amount::ZERO);
    let s = w.s.summary();
    assert_eq!(
        (s.held_for_review, s.paid_out, s.frozen, s.reserved),
        (amt("60.00"), Amount::ZERO, Amount::ZERO, Amount::ZERO)
    );
    assert_eq!(frozen_account(w, "u1"), 0);
    assert_eq!(
        transfer(w, &transfer_id("unfreeze", "f1", &item_step("hold", "c1"))),
        Some((
            TransferKind::Posted,
            Account::Frozen("u1".into()),
            Account::ReviewHold,
            amt("60.00")
        ))
    );
    assert!(
        transfer(w, &transfer_id("unfreeze", "f1", "wallet")).is_none(),
        "nothing came from the wallet"
    );
    let user = w.s.user("u1").expect("user record");
    assert!(user.frozen_claims.is_empty() && user.frozen_wallet == Amount::ZERO);
    assert!(user.held.contains("c1"));
    // Still not paid: no payout can run on a claim under review.
    assert_eq!(
        w.refused(payout("k1", at + 1, "c1")).code(),
        "claim-not-reserved"
    );
}

#[test]
fn a_held_claim_frozen_and_unfrozen_is_held_again_and_a_reject_returns_it() {
    let mut w = held_claim_then_frozen(None);
    unfreeze_held_claim(&mut w, T0 + 40);

    let o = w.ok(resolve("r1", T0 + 50, "c1", Reject));
    assert_eq!(o.amount, amt("60.00"));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::Released));
    let s = w.s.summary();
    assert_eq!(
        (s.in_escrow, s.held_for_review, s.paid_out),
        (amt("130.00"), Amount::ZERO, Amount::ZERO)
    );
    assert_eq!(w.s.packet("p1").map(Packet::open_shares), Some(2));
    assert_eq!(
        w.refused(resolve("r2", T0 + 60, "c1", Approve)).code(),
        "not-held"
    );
    // The share is claimable again, by the same user too.
    w.ok(claim("c4", T0 + 70, "p1", "u1"));
}

#[test]
fn a_held_claim_rejected_after_expiry_is_refunded() {
    let mut w = held_claim_then_frozen(Some(100));
    let o = w.ok(tick(T0 + 100));
    assert_eq!(o.expired.first().map(|e| e.refunded), Some(amt("60.00")));
    assert_eq!(w.s.merchant_available("m1"), amt("130.00"));
    unfreeze_held_claim(&mut w, T0 + 200);

    w.ok(resolve("r1", T0 + 300, "c1", Reject));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::Released));
    assert_eq!(w.s.merchant_available("m1"), amt("190.00"));
    let p = w.s.packet("p1").expect("p1");
    assert_eq!(p.refunded(), amt("120.00"));
    let s = w.s.summary();
    assert_eq!(
        (s.in_escrow, s.held_for_review, s.refunded),
        (amt("10.00"), Amount::ZERO, amt("120.00"))
    );
}

#[test]
fn a_held_claim_approved_after_unfreeze_is_reserved_and_paid_once() {
    let mut w = held_claim_then_frozen(None);
    unfreeze_held_claim(&mut w, T0 + 40);

    let o = w.ok(resolve("r1", T0 + 50, "c1", Approve));
    assert_eq!(o.amount, amt("60.00"));
    assert!(matches!(
        w.claim_state("c1"),
        Some(ClaimState::Reserved { .. })
    ));
    let s = w.s.summary();
    assert_eq!(
        (s.reserved, s.held_for_review, s.paid_out),
        (amt("60.00"), Amount::ZERO, Amount::ZERO)
    );
    w.ok(payout("k2", T0 + 60, "c1"));
    assert_eq!(w.s.wallet("u1"), amt("60.00"));
    assert_eq!(
        w.refused(payout("k3", T0 + 70, "c1")).code(),
        "already-paid"
    );
    assert_eq!(w.s.summary().paid_out, amt("60.00"));
}

/// A payout that a rule froze: the reservation went to the frozen account.
/// Returns the world with `u1` frozen; `c1` (5.00 of `p1`) frozen by `k1`.
fn payout_frozen_by_a_rule() -> World {
    let mut w = World::new();
    w.funded_packet("m1", "p1", "5.00", 1);
    w.ok(claim("c1", T0, "p1", "u1"));
    w.next_payout(Verdict::Freeze);
    let o = w.ok(payout("k1", T0 + 10, "c1"));
    assert_eq!((o.verdict, o.amount), (Some(Verdict::Freeze), amt("5.00")));
    assert_eq!(
        w.claim_state("c1"),
        Some(ClaimState::Frozen {
            payout: Some("k1".into())
        })
    );
    assert_eq!(
        w.s.payout_record("k1").map(|p| p.state),
        Some(PayoutState::Frozen)
    );
    assert_eq!(
        w.s.user("u1").and_then(|u| u.frozen_claims.get("c1")),
        Some(&FrozenShare {
            amount: amt("5.00"),
            from: FrozenFrom::Payout {
                payout: "k1".into()
            }
        })
    );
    w
}

/// Unfreezes `u1` of [`payout_frozen_by_a_rule`]: `k1` is held for review.
fn unfreeze_frozen_payout(w: &mut World) {
    let o = w.ok(unfreeze("f1", T0 + 20, "u1"));
    assert_eq!(o.amount, amt("5.00"));
    assert_eq!(
        w.claim_state("c1"),
        Some(ClaimState::PayoutHeld {
            payout: "k1".into()
        })
    );
    assert_eq!(
        w.s.payout_record("k1").map(|p| p.state),
        Some(PayoutState::HeldForReview)
    );
    assert_eq!(w.s.wallet("u1"), Amount::ZERO);
    let s = w.s.summary();
    assert_eq!(
        (s.held_for_review, s.frozen, s.paid_out),
        (amt("5.00"), Amount::ZERO, Amount::ZERO)
    );
    assert_eq!(
        w.refused(payout("k2", T0 + 30, "c1")),
        SettlementError::PayoutInProgress {
            claim: "c1".into(),
            payout: "k1".into()
        }
    );
}

#[test]
fn a_payout_frozen_by_a_rule_is_held_after_unfreeze_and_approval_pays_once() {
    let mut w = payout_frozen_by_a_rule();
    unfreeze_frozen_payout(&mut w);
    let calls = w.rules.calls();
    let o = w.ok(resolve("r1", T0 + 40, "k1", Approve));
    assert_eq!(o.amount, amt("5.00"));
    assert_eq!(w.rules.calls(), calls, "a reviewer decides, not the rules");
    assert_eq!(w.s.wallet("u1"), amt("5.00"));
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
    // Once: a retry replays, a new review is refused, a new payout too.
    let replay = w.run(resolve("r1", T0 + 50, "k1", Approve));
    assert!(replay.replay);
    assert_eq!(
        w.refused(resolve("r2", T0 + 50, "k1", Approve)).code(),
        "not-held"
    );
    assert_eq!(
        w.refused(payout("k3", T0 + 50, "c1")),
        SettlementError::AlreadyPaid {
            claim: "c1".into(),
            payout: "k1".into()
        }
    );
    assert_eq!(w.s.summary().paid_out, amt("5.00"));
    // The approved payout counts in the velocity facts of the next one.
    w.funded_packet("m1", "p2", "1.00", 1);
    w.ok(claim("c4", T0 + 60, "p2", "u1"));
    w.ok(payout("k4", T0 + 70, "c4"));
    let facts = w.rules.last_payout.borrow().clone().expect("facts").1;
    assert_eq!(facts.user_paid_today, amt("5.00"));
}

#[test]
fn a_payout_frozen_by_a_rule_is_held_after_unfreeze_and_a_reject_returns_it() {
    let mut w = payout_frozen_by_a_rule();
    unfreeze_frozen_payout(&mut w);
    w.ok(resolve("r1", T0 + 40, "k1", Reject));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::Released));
    assert_eq!(
        w.s.payout_record("k1").map(|p| p.state),
        Some(PayoutState::Rejected)
    );
    let s = w.s.summary();
    assert_eq!(
        (s.in_escrow, s.held_for_review, s.paid_out),
        (amt("5.00"), Amount::ZERO, Amount::ZERO)
    );
    assert_eq!(
        w.refused(payout("k3", T0 + 50, "c1")).code(),
        "claim-not-reserved"
    );
    w.ok(claim("c2", T0 + 60, "p1", "u2"));
}

#[test]
fn the_wallet_balance_returns_to_the_wallet() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "20.00"));
    w.ok(packet("p1", T0, "m1", "10.00", 2, SplitKind::Fixed));
    w.ok(packet("p2", T0, "m1", "10.00", 2, SplitKind::Fixed));
    w.ok(claim("c1", T0, "p1", "u1"));
    w.ok(payout("k1", T0, "c1"));
    assert_eq!(w.s.wallet("u1"), amt("5.00"));

    w.next_claim(Verdict::Freeze);
    let o = w.ok(claim("c2", T0 + 10, "p2", "u1"));
    assert_eq!(o.amount, amt("5.00"));
    assert_eq!(w.s.wallet("u1"), Amount::ZERO);
    assert_eq!(w.s.user("u1").map(|u| u.frozen_wallet), Some(amt("5.00")));
    assert_eq!(frozen_account(&w, "u1"), 500);

    let o = w.ok(unfreeze("f1", T0 + 20, "u1"));
    assert_eq!(o.amount, amt("5.00"));
    assert_eq!(w.s.wallet("u1"), amt("5.00"));
    assert_eq!(frozen_account(&w, "u1"), 0);
    assert_eq!(
        transfer(&w, &transfer_id("unfreeze", "f1", "wallet")),
        Some((
            TransferKind::Posted,
            Account::Frozen("u1".into()),
            Account::Wallet("u1".into()),
            amt("5.00")
        ))
    );
    // Still paid by k1, and only by k1.
    assert_eq!(
        w.claim_state("c1"),
        Some(ClaimState::Paid {
            payout: "k1".into()
        })
    );
    assert_eq!(w.s.summary().paid_out, amt("5.00"));
}

/// Everything at once: wallet, a claim held at claim, a payout held at
/// payout, a payout frozen by a rule and one frozen by the host because the
/// user was frozen. Each returns where it came from, each by its own
/// transfer, and a reviewer then decides each share.
#[test]
fn every_origin_returns_where_it_came_from() {
    let mut w = World::new();
    w.ok(deposit("d1", T0, "m1", "50.00"));
    for p in ["p1", "p2", "p3", "p4", "p5"] {
        w.ok(packet(p, T0, "m1", "10.00", 5, SplitKind::Fixed));
    }
    w.ok(claim("c1", T0, "p1", "u1"));
    w.ok(payout("k1", T0, "c1")); // 2.00 in the wallet
    w.next_claim(Verdict::Review);
    w.ok(claim("c2", T0, "p2", "u1")); // 2.00 held at claim
    w.ok(claim("c3", T0, "p3", "u1"));
    w.next_payout(Verdict::Review);
    w.ok(payout("k3", T0, "c3")); // 2.00 held at payout
    w.ok(claim("c4", T0, "p4", "u1")); // reserved, frozen by a rule below
    w.ok(claim("c5", T0, "p5", "u1")); // reserved, frozen by the host below

    w.next_payout(Verdict::Freeze);
    let o = w.ok(payout("k4", T0 + 10, "c4"));
    assert_eq!(o.amount, amt("8.00"));
    let calls = w.rules.calls();
    let o = w.ok(payout("k5", T0 + 20, "c5"));
    assert_eq!(w.rules.calls(), calls);
    assert_eq!(
        o.decision.map(|d| d.reason),
        Some(HOST_REASON_USER_FROZEN.to_string())
    );
    let user = w.s.user("u1").expect("user record");
    assert_eq!(user.frozen_wallet, amt("2.00"));
    let origins: Vec<(&str, &FrozenFrom)> = user
        .frozen_claims
        .iter()
        .map(|(c, s)| (c.as_str(), &s.from))
        .collect();
    assert_eq!(
        origins,
        [
            ("c2", &FrozenFrom::ClaimReview),
            (
                "c3",
                &FrozenFrom::PayoutReview {
                    payout: "k3".into()
                }
            ),
            (
                "c4",
                &FrozenFrom::Payout {
                    payout: "k4".into()
                }
            ),
            (
                "c5",
                &FrozenFrom::Payout {
                    payout: "k5".into()
                }
            ),
        ]
    );
    assert_eq!(frozen_account(&w, "u1"), 1000);
    let s = w.s.summary();
    assert_eq!(
        (s.frozen, s.held_for_review, s.reserved, s.paid_out),
        (amt("10.00"), Amount::ZERO, Amount::ZERO, Amount::ZERO)
    );

    let o = w.ok(unfreeze("f1", T0 + 30, "u1"));
    assert_eq!(o.amount, amt("10.00"));
    assert_eq!(frozen_account(&w, "u1"), 0);
    assert_eq!(w.s.wallet("u1"), amt("2.00"));
    assert_eq!(w.claim_state("c2"), Some(ClaimState::HeldForReview));
    for (c, k) in [("c3", "k3"), ("c4", "k4"), ("c5", "k5")] {
        assert_eq!(
            w.claim_state(c),
            Some(ClaimState::PayoutHeld { payout: k.into() }),
            "{c}"
        );
        assert_eq!(
            w.s.payout_record(k).map(|p| p.state),
            Some(PayoutState::HeldForReview),
            "{k}"
        );
    }
    for c in ["c2", "c3", "c4", "c5"] {
        let id = transfer_id("unfreeze", "f1", &item_step("hold", c));
        assert_eq!(
            transfer(&w, &id),
            Some((
                TransferKind::Posted,
                Account::Frozen("u1".into()),
                Account::ReviewHold,
                amt("2.00")
            )),
            "{id}"
        );
    }
    let s = w.s.summary();
    assert_eq!(
        (s.frozen, s.held_for_review, s.paid_out),
        (Amount::ZERO, amt("8.00"), amt("2.00"))
    );

    // A reviewer decides each.
    w.ok(resolve("r2", T0 + 40, "c2", Approve));
    w.ok(resolve("r3", T0 + 40, "k3", Reject));
    w.ok(resolve("r4", T0 + 40, "k4", Approve));
    w.ok(resolve("r5", T0 + 40, "k5", Reject));
    assert!(matches!(
        w.claim_state("c2"),
        Some(ClaimState::Reserved { .. })
    ));
    assert_eq!(w.s.wallet("u1"), amt("4.00"));
    let s = w.s.summary();
    assert_eq!(
        (s.held_for_review, s.reserved, s.paid_out, s.in_escrow),
        (Amount::ZERO, amt("2.00"), amt("4.00"), amt("44.00"))
    );
}

/// Frozen, unfrozen, frozen again: the shares that went back to the review
/// hold are frozen again with their origin, every transfer has its own id,
/// and the second unfreeze returns them once more.
#[test]
fn a_second_freeze_takes_the_held_shares_again() {
    let mut w = held_claim_then_frozen(None);
    unfreeze_held_claim(&mut w, T0 + 40);
    w.ok(packet("p3", T0 + 50, "m1", "10.00", 1, SplitKind::Fixed));
    w.next_claim(Verdict::Freeze);
    let o = w.ok(claim("c5", T0 + 60, "p3", "u1"));
    assert_eq!(o.amount, amt("60.00"));
    assert_eq!(
        w.claim_state("c1"),
        Some(ClaimState::Frozen { payout: None })
    );
    let o = w.ok(unfreeze("f2", T0 + 70, "u1"));
    assert_eq!(o.amount, amt("60.00"));
    assert_eq!(w.claim_state("c1"), Some(ClaimState::HeldForReview));
    for (request, id) in [
        (
            "claim",
            transfer_id("claim", "c2", &item_step("freeze-held", "c1")),
        ),
        (
            "claim",
            transfer_id("claim", "c5", &item_step("freeze-held", "c1")),
        ),
        (
            "unfreeze",
            transfer_id("unfreeze", "f1", &item_step("hold", "c1")),
        ),
        (
            "unfreeze",
            transfer_id("unfreeze", "f2", &item_step("hold", "c1")),
        ),
    ] {
        assert!(transfer(&w, &id).is_some(), "{request}: {id}");
    }
    w.ok(resolve("r1", T0 + 80, "c1", Reject));
    assert_eq!(w.s.summary().held_for_review, Amount::ZERO);
}

/// An unfreeze the ledger refuses moves nothing and changes no state: it is
/// one all-or-nothing batch.
#[test]
fn a_refused_unfreeze_moves_nothing() {
    let mut w = payout_frozen_by_a_rule();
    // Tamper: the record claims 0.01 more from the wallet than the frozen
    // account holds, so the batch cannot be applied.
    w.s.users.get_mut("u1").expect("user record").frozen_wallet = amt("0.01");
    assert!(w.s.check_invariants().is_err(), "the invariants see it");
    let before = w.s.summary();
    let outcome = w.s.apply(&unfreeze("f1", T0 + 20, "u1"), &w.rules);
    assert_eq!(outcome.error().map(SettlementError::code), Some("ledger"));
    assert_eq!(w.s.summary(), before);
    assert!(w.s.is_frozen("u1"));
    assert_eq!(
        w.claim_state("c1"),
        Some(ClaimState::Frozen {
            payout: Some("k1".into())
        })
    );
    assert!(transfer(&w, &transfer_id("unfreeze", "f1", &item_step("hold", "c1"))).is_none());
}

/// The invariants see the states this module is about going wrong.
#[test]
fn the_invariants_cover_frozen_and_returned_shares() {
    // The old bug: an unfreeze that marks a frozen payout paid.
    let mut w = payout_frozen_by_a_rule();
    w.s.claims.get_mut("c1").expect("c1").state = ClaimState::Paid {
        payout: "k1".into(),
    };
    assert!(w.s.check_invariants().is_err());

    // A frozen share whose recorded origin disagrees with the claim.
    let mut w = payout_frozen_by_a_rule();
    w.s.users
        .get_mut("u1")
        .and_then(|u| u.frozen_claims.get_mut("c1"))
        .expect("frozen share")
        .from = FrozenFrom::ClaimReview;
    assert!(w.s.check_invariants().is_err());

    // Money in a wallet that no payout paid.
    let mut w = held_claim_then_frozen(None);
    w.ok(unfreeze("f1", T0 + 40, "u1"));
    w.s.ledger
        .post(
            "tamper",
            Account::External,
            Account::Wallet("u1".into()),
            amt("1.00"),
        )
        .expect("post");
    assert!(w.s.check_invariants().is_err());
}
