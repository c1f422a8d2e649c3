//! Users, freezing and unfreezing.
//!
//! A freeze (a `freeze` verdict at claim or payout) moves the user's wallet
//! balance and every share of theirs sitting in the review hold to their
//! frozen account, and marks the user frozen: claims are refused, and a
//! payout of a share reserved earlier goes to the frozen account without
//! asking the rules. An unfreeze moves the frozen account back to the
//! wallet.

use std::collections::BTreeSet;

use serde::Serialize;

use super::claim::ClaimState;
use super::payout::PayoutState;
use super::record::Outcome;
use super::{Settlement, SettlementError, item_step, transfer_id};
use crate::ledger::{Account, LedgerOp, LedgerStore, fen_to_amount};

/// What the core keeps per user beyond the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// True while the user is frozen.
    pub frozen: bool,
    /// Claims of this user whose share is in the review hold (held at claim
    /// or at payout), sorted.
    pub held: BTreeSet<String>,
    /// Claims of this user whose share is in the frozen account, sorted.
    pub frozen_claims: BTreeSet<String>,
}

impl<S: LedgerStore> Settlement<S> {
    /// The user record, created on first use.
    pub(super) fn user_mut(&mut self, user: &str) -> &mut User {
        self.users.entry(user.to_string()).or_default()
    }

    /// Freezes `user` in one ledger batch: `ops` first (the request's own
    /// transfers, moving `moved_fen`), then the wallet balance and every
    /// review-held share to the frozen account. Returns the fen moved into
    /// the frozen account.
    pub(super) fn freeze_user(
        &mut self,
        user: &str,
        kind: &str,
        request: &str,
        mut ops: Vec<LedgerOp>,
        moved_fen: i64,
    ) -> Result<i64, SettlementError> {
        let frozen = Account::Frozen(user.to_string());
        let wallet = Account::Wallet(user.to_string());
        let mut moved = moved_fen;
        let in_wallet = self.ledger.balance(&wallet).available_fen();
        if in_wallet > 0 {
            ops.push(LedgerOp::Post {
                id: transfer_id(kind, request, "freeze-wallet"),
                debit: wallet,
                credit: frozen.clone(),
                amount: fen_to_amount(in_wallet),
            });
            moved += in_wallet;
        }
        let held: Vec<String> = self
            .users
            .get(user)
            .map(|u| u.held.iter().cloned().collect())
            .unwrap_or_default();
        for claim_id in &held {
            let claim = self
                .claims
                .get(claim_id)
                .ok_or_else(|| SettlementError::UnknownClaim {
                    claim: claim_id.clone(),
                })?;
            ops.push(LedgerOp::Post {
                id: transfer_id(kind, request, &item_step("freeze-held", claim_id)),
                debit: Account::ReviewHold,
                credit: frozen.clone(),
                amount: claim.amount,
            });
            moved += claim.amount.fen();
        }
        self.ledger.apply(ops)?;

        for claim_id in &held {
            if let Some(claim) = self.claims.get_mut(claim_id) {
                let payout = match &claim.state {
                    ClaimState::PayoutHeld { payout } => Some(payout.clone()),
                    _ => None,
                };
                if let Some(p) = payout.as_ref().and_then(|p| self.payouts.get_mut(p)) {
                    p.state = PayoutState::Frozen;
                }
                claim.state = ClaimState::Frozen { payout };
            }
        }
        let u = self.user_mut(user);
        u.frozen = true;
        u.held.clear();
        u.frozen_claims.extend(held);
        Ok(moved)
    }

    /// Unfreezes `user`: frozen account → wallet; the user may claim again.
    pub(super) fn unfreeze(
        &mut self,
        id: &str,
        user: &str,
        out: &mut Outcome,
    ) -> Result<(), SettlementError> {
        if !self.is_frozen(user) {
            return Err(SettlementError::NotFrozen {
                user: user.to_string(),
            });
        }
        let frozen = Account::Frozen(user.to_string());
        let amount = self.ledger.balance(&frozen).available_fen();
        if amount > 0 {
            self.ledger.post(
                transfer_id("unfreeze", id, "release"),
                frozen,
                Account::Wallet(user.to_string()),
                fen_to_amount(amount),
            )?;
        }
        let u = self.user_mut(user);
        u.frozen = false;
        let claims = std::mem::take(&mut u.frozen_claims);
        for claim_id in claims {
            if let Some(claim) = self.claims.get_mut(&claim_id)
                && let ClaimState::Frozen { payout } = &mut claim.state
            {
                let payout = payout.take();
                if let Some(p) = payout.as_ref().and_then(|p| self.payouts.get_mut(p)) {
                    p.state = PayoutState::Paid;
                }
                claim.state = ClaimState::Paid { payout };
            }
        }
        out.amount = fen_to_amount(amount);
        Ok(())
    }
}
