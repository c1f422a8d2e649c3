//! Resolving a claim or payout held for review.
//!
//! The target is the id of a held claim or a held payout. Approving a held
//! claim reserves its share as an allowed claim would; approving a held
//! payout pays it. Rejecting either returns the share to its packet, where
//! it is claimable again, or refunded to the merchant at once if the packet
//! has expired meanwhile, so nothing is left stuck in the review hold.

use super::claim::ClaimState;
use super::payout::PayoutState;
use super::record::Outcome;
use super::{Settlement, SettlementError, transfer_id};
use crate::event::ReviewDecision;
use crate::ledger::{Account, LedgerOp, LedgerStore};
use crate::velocity::PayoutQuery;

const KIND: &str = "resolve_review";

impl<S: LedgerStore> Settlement<S> {
    /// Approves or rejects the held claim or payout `target`.
    pub(super) fn resolve_review(
        &mut self,
        now: i64,
        id: &str,
        target: &str,
        decision: ReviewDecision,
        out: &mut Outcome,
    ) -> Result<(), SettlementError> {
        let held_payout = self
            .payouts
            .get(target)
            .filter(|p| p.state == PayoutState::HeldForReview)
            .map(|p| p.claim.clone());
        let claim_held = self
            .claims
            .get(target)
            .is_some_and(|c| c.state == ClaimState::HeldForReview);
        let (claim_id, payout_id) = match (held_payout, claim_held) {
            (Some(_), true) => {
                return Err(SettlementError::AmbiguousTarget {
                    target: target.to_string(),
                });
            }
            (Some(claim), false) => (claim, Some(target)),
            (None, true) => (target.to_string(), None),
            (None, false) => {
                return Err(SettlementError::NotHeld {
                    target: target.to_string(),
                });
            }
        };
        let claim = self
            .claims
            .get(&claim_id)
            .ok_or_else(|| SettlementError::NotHeld {
                target: target.to_string(),
            })?;
        let (user, packet, amount) = (claim.user.clone(), claim.packet.clone(), claim.amount);
        let back_to_escrow = LedgerOp::Post {
            id: transfer_id(KIND, id, "return"),
            debit: Account::ReviewHold,
            credit: Account::Escrow(packet.clone()),
            amount,
        };
        let (claim_state, payout_state) = match (decision, payout_id) {
            (ReviewDecision::Approve, Some(payout)) => {
                self.ledger.post(
                    transfer_id(KIND, id, "pay"),
                    Account::ReviewHold,
                    Account::Wallet(user.clone()),
                    amount,
                )?;
                self.record_completed_payout(now, &claim_id);
                (
                    Some(ClaimState::Paid {
                        payout: payout.to_string(),
                    }),
                    Some(PayoutState::Paid),
                )
            }
            (ReviewDecision::Approve, None) => {
                let reservation = transfer_id(KIND, id, "reserve");
                self.ledger.apply(vec![
                    back_to_escrow,
                    LedgerOp::Pending {
                        id: reservation.clone(),
                        debit: Account::Escrow(packet),
                        credit: Account::Wallet(user.clone()),
                        amount,
                    },
                ])?;
                (Some(ClaimState::Reserved { reservation }), None)
            }
            (ReviewDecision::Reject, _) => {
                self.release_share(&claim_id, vec![back_to_escrow], KIND, id)?;
                (None, Some(PayoutState::Rejected))
            }
        };
        if let Some(state) = claim_state
            && let Some(claim) = self.claims.get_mut(&claim_id)
        {
            claim.state = state;
        }
        if let Some(state) = payout_state
            && let Some(p) = payout_id.and_then(|p| self.payouts.get_mut(p))
        {
            p.state = state;
        }
        self.user_mut(&user).held.remove(&claim_id);
        out.amount = amount;
        Ok(())
    }

    /// Records the payout of `claim_id` as completed in the velocity facts.
    fn record_completed_payout(&mut self, now: i64, claim_id: &str) {
        let Some(claim) = self.claims.get(claim_id) else {
            return;
        };
        let Some(packet) = self.packets.get(&claim.packet) else {
            return;
        };
        let query = PayoutQuery {
            user: &claim.user,
            merchant: &packet.merchant,
            packet: &claim.packet,
            claimed_at: claim.at,
            utc_offset_minutes: self.config.utc_offset_minutes(&packet.merchant),
        };
        self.velocity.record_payout(now, &query, claim.amount);
    }
}
