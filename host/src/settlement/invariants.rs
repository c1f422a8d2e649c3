//! The settlement core's invariants, checked by tests after every event and
//! by every run at its end.

use std::collections::{HashMap, HashSet};

use super::claim::ClaimState;
use super::packet::ShareState;
use super::payout::PayoutState;
use super::{InvariantError, Settlement};
use crate::ledger::{Account, LedgerStore, TransferKind};
use crate::split::SHARE_FEN_MIN;

/// What the claims say about one packet.
#[derive(Default)]
struct Holdings {
    /// Claims holding a share.
    holding: usize,
    /// Fen reserved for payout by those claims.
    reserved_fen: i64,
}

impl<S: LedgerStore> Settlement<S> {
    /// Checks every invariant of the money core:
    ///
    /// - the ledger's own: posted balances sum to zero, pending debits equal
    ///   pending credits, no account that must be non-negative is negative;
    /// - per packet: its shares sum to its total, every share is at least
    ///   0.01, claimed + refunded + still in escrow (open, reserved or held)
    ///   equals what was funded, the escrow's ledger balance equals its open
    ///   shares plus its reservations, nothing is open after expiry;
    /// - each share is held by at most one claim, and exactly the taken
    ///   shares are held; each user holds at most one share per packet;
    /// - the review hold equals the shares held for review, refunds add up,
    ///   and users' held, frozen and wallet states agree with their claims.
    ///
    /// # Errors
    ///
    /// The first [`InvariantError`] found.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        self.ledger.check_invariants()?;
        let (holdings, review_hold_fen) = self.check_claims()?;
        self.check_payouts()?;
        let mut refunded_fen: i64 = 0;
        for (id, packet) in &self.packets {
            let err = |detail: String| InvariantError::Packet {
                packet: id.clone(),
                detail,
            };
            let (mut open, mut taken, mut refunded, mut taken_count) = (0i64, 0i64, 0i64, 0usize);
            for (i, share) in packet.shares.iter().enumerate() {
                let fen = share.amount.fen();
                if fen < SHARE_FEN_MIN {
                    return Err(err(format!("share {i} is {}", share.amount)));
                }
                let index_open = u32::try_from(i).is_ok_and(|i| packet.is_open(i));
                if index_open != (share.state == ShareState::Open) {
                    return Err(err(format!(
                        "share {i} is {:?} but listed open: {index_open}",
                        share.state
                    )));
                }
                match share.state {
                    ShareState::Open => open += fen,
                    ShareState::Taken => {
                        taken += fen;
                        taken_count += 1;
                    }
                    ShareState::Refunded => refunded += fen,
                }
            }
            let total = packet.total.fen();
            if open + taken + refunded != total {
                return Err(err(format!(
                    "claimed {taken} + refunded {refunded} + open {open} fen != funded {total} fen"
                )));
            }
            if refunded != packet.refunded_fen() {
                return Err(err(format!(
                    "refunded shares make {refunded} fen, refunds {} fen",
                    packet.refunded_fen()
                )));
            }
            if packet.expired && open != 0 {
                return Err(err(format!("{open} fen still open after expiry")));
            }
            let held = holdings.get(id.as_str());
            let holding = held.map_or(0, |h| h.holding);
            let reserved = held.map_or(0, |h| h.reserved_fen);
            if taken_count != holding || packet.holder_count() != holding {
                return Err(err(format!(
                    "{taken_count} shares taken, {holding} claims hold one, {} holders listed",
                    packet.holder_count()
                )));
            }
            let escrow = self.ledger.balance(&Account::Escrow(id.clone()));
            if escrow.posted_fen != open + reserved
                || escrow.debits_pending_fen != reserved
                || escrow.credits_pending_fen != 0
            {
                return Err(err(format!(
                    "escrow {escrow:?} but open shares make {open} fen and reservations {reserved} fen"
                )));
            }
            refunded_fen += refunded;
        }
        if refunded_fen != self.refunded_fen {
            return Err(InvariantError::Totals(format!(
                "packets refunded {refunded_fen} fen, the running total says {}",
                self.refunded_fen
            )));
        }
        let hold = self.ledger.balance(&Account::ReviewHold).posted_fen;
        if i128::from(hold) != review_hold_fen {
            return Err(InvariantError::Totals(format!(
                "review hold has {hold} fen, held claims make {review_hold_fen} fen"
            )));
        }
        self.check_users()
    }

    /// Checks every claim against its packet, user and the ledger; returns
    /// what the claims hold per packet and the fen they hold for review.
    fn check_claims(&self) -> Result<(HashMap<&str, Holdings>, i128), InvariantError> {
        let mut holdings: HashMap<&str, Holdings> = HashMap::new();
        let mut taken: HashSet<(&str, u32)> = HashSet::new();
        let mut review_hold_fen: i128 = 0;
        for (id, claim) in &self.claims {
            let err = |detail: String| InvariantError::Claim {
                claim: id.clone(),
                detail,
            };
            let packet = self
                .packets
                .get(&claim.packet)
                .ok_or_else(|| err(format!("packet {} does not exist", claim.packet)))?;
            let share = packet
                .shares
                .get(claim.share as usize)
                .ok_or_else(|| err(format!("share {} does not exist", claim.share)))?;
            if share.amount != claim.amount {
                return Err(err(format!(
                    "amount {} but share is {}",
                    claim.amount, share.amount
                )));
            }
            let listed = packet.holder(&claim.user) == Some(id.as_str());
            if claim.state.holds_share() {
                if !taken.insert((&claim.packet, claim.share)) {
                    return Err(err(format!("share {} is held by two claims", claim.share)));
                }
                if share.state != ShareState::Taken || !listed {
                    return Err(err(format!(
                        "holds share {} ({:?}) but listed as holder: {listed}",
                        claim.share, share.state
                    )));
                }
                holdings.entry(&claim.packet).or_default().holding += 1;
            } else if listed {
                return Err(err("released but still listed as holder".into()));
            }
            let user = self.users.get(&claim.user);
            match &claim.state {
                ClaimState::Reserved { reservation } => {
                    let t = self
                        .ledger
                        .transfer(reservation)
                        .ok_or_else(|| err(format!("reservation {reservation} does not exist")))?;
                    let expected = (
                        TransferKind::Pending,
                        Account::Escrow(claim.packet.clone()),
                        Account::Wallet(claim.user.clone()),
                        claim.amount,
                    );
                    if (t.kind, t.debit, t.credit, t.amount) != expected {
                        return Err(err(format!(
                            "reservation {reservation} is not {expected:?}"
                        )));
                    }
                    holdings.entry(&claim.packet).or_default().reserved_fen += claim.amount.fen();
                }
                ClaimState::HeldForReview | ClaimState::PayoutHeld { .. } => {
                    review_hold_fen += i128::from(claim.amount.fen());
                    if !user.is_some_and(|u| u.held.contains(id)) {
                        return Err(err("held for review but not in the user's held list".into()));
                    }
                }
                ClaimState::Frozen { .. } => {
                    if !user.is_some_and(|u| u.frozen && u.frozen_claims.contains(id)) {
                        return Err(err("frozen but the user is not frozen with it".into()));
                    }
                }
                ClaimState::Paid { .. } | ClaimState::Released => {}
            }
        }
        Ok((holdings, review_hold_fen))
    }

    /// Checks every payout against its claim.
    fn check_payouts(&self) -> Result<(), InvariantError> {
        for (id, payout) in &self.payouts {
            let state = self.claims.get(&payout.claim).map(|c| &c.state);
            let this = Some(id.clone());
            let agrees = match (payout.state, state) {
                (PayoutState::Paid, Some(ClaimState::Paid { payout })) => *payout == this,
                (PayoutState::HeldForReview, Some(ClaimState::PayoutHeld { payout })) => {
                    payout == id
                }
                (PayoutState::Frozen, Some(ClaimState::Frozen { payout })) => *payout == this,
                (PayoutState::Denied | PayoutState::Rejected, Some(ClaimState::Released)) => true,
                _ => false,
            };
            if !agrees {
                return Err(InvariantError::Claim {
                    claim: payout.claim.clone(),
                    detail: format!(
                        "payout {id} is {:?} but the claim is {state:?}",
                        payout.state
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks each user's lists, wallet and frozen account.
    fn check_users(&self) -> Result<(), InvariantError> {
        for (id, user) in &self.users {
            let err = |detail: String| InvariantError::User {
                user: id.clone(),
                detail,
            };
            for claim_id in &user.held {
                if !self
                    .claims
                    .get(claim_id)
                    .is_some_and(|c| c.user == *id && c.state.in_review_hold())
                {
                    return Err(err(format!("lists {claim_id} as held, but it is not")));
                }
            }
            for claim_id in &user.frozen_claims {
                if !self
                    .claims
                    .get(claim_id)
                    .is_some_and(|c| c.user == *id && matches!(c.state, ClaimState::Frozen { .. }))
                {
                    return Err(err(format!("lists {claim_id} as frozen, but it is not")));
                }
            }
            let wallet = self.ledger.balance(&Account::Wallet(id.clone())).posted_fen;
            let frozen = self.ledger.balance(&Account::Frozen(id.clone())).posted_fen;
            if user.frozen && wallet != 0 {
                return Err(err(format!("frozen, yet {wallet} fen in the wallet")));
            }
            if !user.frozen && (frozen != 0 || !user.frozen_claims.is_empty()) {
                return Err(err(format!(
                    "not frozen, yet {frozen} fen in the frozen account"
                )));
            }
        }
        Ok(())
    }
}
