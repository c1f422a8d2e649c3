//! Users, freezing and unfreezing.
//!
//! A freeze (a `freeze` verdict at claim or payout) marks the user frozen
//! and moves into their frozen account, in one ledger batch:
//!
//! - their wallet balance (money already paid to them);
//! - every share of theirs in the review hold, whether held at claim or
//!   held at payout;
//! - at payout, the share of the payout itself: its reservation is voided
//!   and the share moves from escrow to the frozen account.
//!
//! While frozen, claims are refused without asking the rules, and a payout
//! of a share reserved earlier moves that share to the frozen account the
//! same way, decided by the host ([`super::HOST_REASON_USER_FROZEN`]).
//! Nothing in the frozen account can be reviewed or paid.
//!
//! The user record keeps exactly what came from where: the amount taken
//! from the wallet ([`User::frozen_wallet`]) and each frozen claim's share
//! with its origin ([`User::frozen_claims`], a [`FrozenShare`]). The frozen
//! account always holds exactly their sum.
//!
//! An unfreeze never approves anything. It returns every fen to where the
//! record says it came from, each with its own transfer, in one
//! all-or-nothing ledger batch, and the frozen account ends at zero:
//!
//! - the wallet amount goes back to the wallet;
//! - a share held for review at claim goes back to the review hold, held
//!   for review at claim again ([`FrozenFrom::ClaimReview`]);
//! - a share whose payout was held for review goes back to the review
//!   hold with that payout held again ([`FrozenFrom::PayoutReview`]);
//! - a share that its payout moved to the frozen account (a `freeze`
//!   verdict, or the host because the user was frozen) goes to the review
//!   hold as that payout held for review ([`FrozenFrom::Payout`]).
//!
//! A reviewer then approves or rejects each held share with
//! `resolve_review` as for any other: approval reserves a claim or pays a
//! payout, once; rejection returns the share to its packet, or refunds it
//! to the merchant if the packet has expired meanwhile.

use std::collections::{BTreeMap, BTreeSet};

use rules_sdk::Amount;
use serde::Serialize;

use super::claim::ClaimState;
use super::payout::PayoutState;
use super::record::Outcome;
use super::{Settlement, SettlementError, item_step, transfer_id};
use crate::ledger::{Account, LedgerError, LedgerOp, LedgerStore, fen_to_amount};

/// What the core keeps per user beyond the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// True while the user is frozen.
    pub frozen: bool,
    /// Claims of this user whose share is in the review hold (held at claim
    /// or at payout), sorted.
    pub held: BTreeSet<String>,
    /// While frozen: the wallet balance moved to the frozen account by the
    /// freeze; an unfreeze returns exactly this to the wallet. Zero while
    /// not frozen.
    pub frozen_wallet: Amount,
    /// While frozen: every claim of this user whose share is in the frozen
    /// account, with its amount and where it came from; an unfreeze moves
    /// each to the review hold. Empty while not frozen.
    pub frozen_claims: BTreeMap<String, FrozenShare>,
}

impl User {
    /// What the frozen account must hold: the wallet amount plus every
    /// frozen share, in fen.
    pub fn frozen_fen(&self) -> i128 {
        i128::from(self.frozen_wallet.fen())
            + self
                .frozen_claims
                .values()
                .map(|s| i128::from(s.amount.fen()))
                .sum::<i128>()
    }
}

/// A claim's share in its user's frozen account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FrozenShare {
    /// The share's amount.
    pub amount: Amount,
    /// Where it came from, and so where an unfreeze puts it.
    pub from: FrozenFrom,
}

/// Where a frozen share came from. An unfreeze puts every one of them in
/// the review hold, for a reviewer to decide; none is ever paid by it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FrozenFrom {
    /// The claim was held for review at claim (review hold → frozen).
    /// Unfreeze: back to the review hold, the claim held for review.
    ClaimReview,
    /// The claim's payout was held for review (review hold → frozen).
    /// Unfreeze: back to the review hold, the payout held for review.
    PayoutReview {
        /// The held payout.
        payout: String,
    },
    /// The payout moved the reserved share to the frozen account: a
    /// `freeze` verdict, or the host because the user was frozen (escrow →
    /// frozen). Unfreeze: to the review hold, the payout held for review.
    Payout {
        /// The payout that moved it.
        payout: String,
    },
}

impl FrozenFrom {
    /// The payout involved, if any.
    pub fn payout(&self) -> Option<&str> {
        match self {
            FrozenFrom::ClaimReview => None,
            FrozenFrom::PayoutReview { payout } | FrozenFrom::Payout { payout } => Some(payout),
        }
    }
}

/// The share a request itself moves into the frozen account.
pub(super) struct Taken {
    /// The claim whose share it is.
    pub claim: String,
    /// The share and where it came from.
    pub share: FrozenShare,
}

impl<S: LedgerStore> Settlement<S> {
    /// The user record, created on first use.
    pub(super) fn user_mut(&mut self, user: &str) -> &mut User {
        self.users.entry(user.to_string()).or_default()
    }

    /// Freezes `user` (or keeps them frozen) in one ledger batch: `ops`
    /// first (the request's own transfers, moving `taken`'s share into the
    /// frozen account), then the wallet balance and every review-held share
    /// to the frozen account. Records where each fen came from. Returns the
    /// amount moved into the frozen account.
    pub(super) fn freeze_user(
        &mut self,
        user: &str,
        kind: &str,
        request: &str,
        mut ops: Vec<LedgerOp>,
        taken: Option<Taken>,
    ) -> Result<Amount, SettlementError> {
        let frozen = Account::Frozen(user.to_string());
        let wallet = Account::Wallet(user.to_string());
        let mut moved: i128 = taken.as_ref().map_or(0, |t| t.share.amount.fen().into());

        let in_wallet = fen_to_amount(self.ledger.balance(&wallet).available_fen());
        let wallet_step = transfer_id(kind, request, "freeze-wallet");
        let record = self.users.get(user).cloned().unwrap_or_default();
        let frozen_wallet = record.frozen_wallet.checked_add(in_wallet).ok_or_else(|| {
            LedgerError::BalanceLimit {
                id: wallet_step.clone(),
                account: frozen.clone(),
            }
        })?;
        if in_wallet.fen() > 0 {
            ops.push(LedgerOp::Post {
                id: wallet_step,
                debit: wallet,
                credit: frozen.clone(),
                amount: in_wallet,
            });
            moved += i128::from(in_wallet.fen());
        }

        let mut shares = Vec::with_capacity(record.held.len());
        for claim_id in &record.held {
            let claim = self
                .claims
                .get(claim_id)
                .ok_or_else(|| SettlementError::UnknownClaim {
                    claim: claim_id.clone(),
                })?;
            let from = match &claim.state {
                ClaimState::HeldForReview => FrozenFrom::ClaimReview,
                ClaimState::PayoutHeld { payout } => FrozenFrom::PayoutReview {
                    payout: payout.clone(),
                },
                // The held list names only held claims (an invariant).
                _ => {
                    return Err(SettlementError::NotHeld {
                        target: claim_id.clone(),
                    });
                }
            };
            ops.push(LedgerOp::Post {
                id: transfer_id(kind, request, &item_step("freeze-held", claim_id)),
                debit: Account::ReviewHold,
                credit: frozen.clone(),
                amount: claim.amount,
            });
            moved += i128::from(claim.amount.fen());
            shares.push((
                claim_id.clone(),
                FrozenShare {
                    amount: claim.amount,
                    from,
                },
            ));
        }
        self.ledger.apply(ops)?;

        let everything = shares
            .iter()
            .map(|(claim, share)| (claim, share))
            .chain(taken.iter().map(|t| (&t.claim, &t.share)));
        for (claim_id, share) in everything {
            let payout = share.from.payout().map(str::to_string);
            if let Some(p) = payout.as_ref().and_then(|p| self.payouts.get_mut(p)) {
                p.state = PayoutState::Frozen;
            }
            if let Some(claim) = self.claims.get_mut(claim_id) {
                claim.state = ClaimState::Frozen { payout };
            }
        }
        let u = self.user_mut(user);
        u.frozen = true;
        u.held.clear();
        u.frozen_wallet = frozen_wallet;
        u.frozen_claims.extend(shares);
        if let Some(t) = taken {
            u.frozen_claims.insert(t.claim, t.share);
        }
        Ok(fen_to_amount(moved))
    }

    /// Unfreezes `user`: the wallet amount back to the wallet, every frozen
    /// share to the review hold (see the module doc), all in one ledger
    /// batch; the user may claim again. Approves nothing.
    pub(super) fn unfreeze(
        &mut self,
        id: &str,
        user: &str,
        out: &mut Outcome,
    ) -> Result<(), SettlementError> {
        let Some(record) = self.users.get(user).filter(|u| u.frozen) else {
            return Err(SettlementError::NotFrozen {
                user: user.to_string(),
            });
        };
        let frozen = Account::Frozen(user.to_string());
        let mut ops = Vec::with_capacity(record.frozen_claims.len() + 1);
        if record.frozen_wallet.fen() > 0 {
            ops.push(LedgerOp::Post {
                id: transfer_id("unfreeze", id, "wallet"),
                debit: frozen.clone(),
                credit: Account::Wallet(user.to_string()),
                amount: record.frozen_wallet,
            });
        }
        for (claim_id, share) in &record.frozen_claims {
            ops.push(LedgerOp::Post {
                id: transfer_id("unfreeze", id, &item_step("hold", claim_id)),
                debit: frozen.clone(),
                credit: Account::ReviewHold,
                amount: share.amount,
            });
        }
        let moved = record.frozen_fen();
        self.ledger.apply(ops)?;

        let u = self.user_mut(user);
        u.frozen = false;
        u.frozen_wallet = Amount::ZERO;
        let claims = std::mem::take(&mut u.frozen_claims);
        u.held.extend(claims.keys().cloned());
        for (claim_id, share) in claims {
            let state = match share.from {
                FrozenFrom::ClaimReview => ClaimState::HeldForReview,
                FrozenFrom::PayoutReview { payout } | FrozenFrom::Payout { payout } => {
                    if let Some(p) = self.payouts.get_mut(&payout) {
                        p.state = PayoutState::HeldForReview;
                    }
                    ClaimState::PayoutHeld { payout }
                }
            };
            if let Some(claim) = self.claims.get_mut(&claim_id) {
                claim.state = state;
            }
        }
        out.amount = fen_to_amount(moved);
        Ok(())
    }
}
