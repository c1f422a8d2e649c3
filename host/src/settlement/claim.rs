//! Claims: a user asks for a share; the rules decide; the share is reserved,
//! held for review, left claimable, or the user is frozen.

use rules_sdk::{Amount, ClaimRequest, Hook, Verdict};
use serde::Serialize;

use super::record::{DecisionInput, DecisionRecord, Outcome};
use super::{Settlement, SettlementError, transfer_id};
use crate::ledger::{Account, LedgerOp, LedgerStore};
use crate::risk::Evaluator;
use crate::velocity::ClaimQuery;

/// Where a successful claim stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ClaimState {
    /// The share is reserved for the user by a pending escrow → wallet
    /// transfer, waiting for a payout.
    Reserved {
        /// The pending transfer's id.
        reservation: String,
    },
    /// The claim is held for review; the share sits in the review hold.
    HeldForReview,
    /// A payout of the claim is held for review.
    PayoutHeld {
        /// The payout id.
        payout: String,
    },
    /// The share is in the user's wallet, paid by a payout that the rules
    /// allowed or a reviewer approved. Nothing else pays a share: an
    /// unfreeze never does.
    Paid {
        /// The payout that paid it.
        payout: String,
    },
    /// The share is in the user's frozen account; the user record says
    /// where it came from ([`super::FrozenFrom`]), and an unfreeze puts it
    /// back in the review hold.
    Frozen {
        /// The payout involved: the held payout frozen with it, or the
        /// payout that moved it there; `None` when it was held at claim.
        payout: Option<String>,
    },
    /// The share went back to the packet (a denied payout or a rejected
    /// review); the claim holds nothing.
    Released,
}

impl ClaimState {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            ClaimState::Reserved { .. } => "reserved",
            ClaimState::HeldForReview => "held for review",
            ClaimState::PayoutHeld { .. } => "held for payout review",
            ClaimState::Paid { .. } => "paid",
            ClaimState::Frozen { .. } => "frozen",
            ClaimState::Released => "released",
        }
    }

    /// True while the claim holds its share.
    pub fn holds_share(&self) -> bool {
        *self != ClaimState::Released
    }

    /// True while the share sits in the review hold.
    pub fn in_review_hold(&self) -> bool {
        matches!(
            self,
            ClaimState::HeldForReview | ClaimState::PayoutHeld { .. }
        )
    }
}

/// A claim that the rules let through (allow or review). Refused and
/// denied claims leave only their stored outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The packet claimed from.
    pub packet: String,
    /// The claiming user.
    pub user: String,
    /// The index of the share in the packet.
    pub share: u32,
    /// The share's amount.
    pub amount: Amount,
    /// When the claim was made (logical seconds).
    pub at: i64,
    /// Where it stands.
    #[serde(flatten)]
    pub state: ClaimState,
}

/// The fields of a `claim` event.
pub(super) struct ClaimArgs<'a> {
    pub id: &'a str,
    pub packet: &'a str,
    pub user: &'a str,
    pub device: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub account_created_at: Option<i64>,
}

impl<S: LedgerStore> Settlement<S> {
    /// Checks the claim, runs the claim rules, and moves money by verdict.
    pub(super) fn claim(
        &mut self,
        now: i64,
        req: ClaimArgs<'_>,
        rules: &dyn Evaluator,
        out: &mut Outcome,
    ) -> Result<(), SettlementError> {
        if self.payouts.contains_key(req.id) {
            return Err(SettlementError::IdInUse {
                id: req.id.to_string(),
                other: "payout",
            });
        }
        let packet =
            self.packets
                .get(req.packet)
                .ok_or_else(|| SettlementError::UnknownPacket {
                    packet: req.packet.to_string(),
                })?;
        if packet.expired {
            return Err(SettlementError::PacketExpired {
                packet: req.packet.to_string(),
                expires_at: packet.expires_at,
            });
        }
        if let Some(claim) = packet.holder(req.user) {
            return Err(SettlementError::AlreadyClaimed {
                user: req.user.to_string(),
                packet: req.packet.to_string(),
                claim: claim.to_string(),
            });
        }
        if self.is_frozen(req.user) {
            return Err(SettlementError::UserFrozen {
                user: req.user.to_string(),
            });
        }
        let empty = || SettlementError::PacketEmpty {
            packet: req.packet.to_string(),
        };
        let share = packet.next_open().ok_or_else(empty)?;
        let amount = packet.shares.get(share as usize).ok_or_else(empty)?.amount;

        let request = ClaimRequest {
            claim_id: req.id.to_string(),
            packet_id: req.packet.to_string(),
            merchant_id: packet.merchant.clone(),
            campaign_id: packet.campaign.clone(),
            user_id: req.user.to_string(),
            amount,
            packet_total: packet.total,
            device_id: req.device.map(str::to_string),
            ip: req.ip.map(str::to_string),
        };
        let query = ClaimQuery {
            user: req.user,
            device: req.device,
            ip: req.ip,
            campaign: request.campaign_id.as_deref(),
            account_created_at: req.account_created_at,
            utc_offset_minutes: self.config.utc_offset_minutes(&request.merchant_id),
        };
        let facts = self.velocity.claim_facts(now, &query);
        let evaluation = rules.claim(now, &request, &facts);
        let verdict = evaluation.verdict;
        let moved = self.settle_claim(now, &req, share, amount, verdict, &query);
        out.verdict = Some(verdict);
        out.decision = Some(DecisionRecord {
            request_id: req.id.to_string(),
            hook: Hook::Claim,
            at: now,
            verdict,
            reason: evaluation.reason,
            rules: evaluation.rules,
            input: DecisionInput::Claim { request, facts },
        });
        out.amount = moved?;
        Ok(())
    }

    /// Moves money for a claim's verdict; returns the amount moved.
    fn settle_claim(
        &mut self,
        now: i64,
        req: &ClaimArgs<'_>,
        share: u32,
        amount: Amount,
        verdict: Verdict,
        query: &ClaimQuery<'_>,
    ) -> Result<Amount, SettlementError> {
        let escrow = Account::Escrow(req.packet.to_string());
        let state = match verdict {
            Verdict::Allow => {
                let reservation = transfer_id("claim", req.id, "reserve");
                self.ledger.pending(
                    reservation.clone(),
                    escrow,
                    Account::Wallet(req.user.to_string()),
                    amount,
                )?;
                ClaimState::Reserved { reservation }
            }
            Verdict::Review => {
                self.ledger.post(
                    transfer_id("claim", req.id, "hold"),
                    escrow,
                    Account::ReviewHold,
                    amount,
                )?;
                self.user_mut(req.user).held.insert(req.id.to_string());
                ClaimState::HeldForReview
            }
            Verdict::Deny => return Ok(Amount::ZERO),
            Verdict::Freeze => {
                return self.freeze_user(req.user, "claim", req.id, Vec::new(), None);
            }
        };
        if let Some(packet) = self.packets.get_mut(req.packet) {
            packet.take(share, req.user, req.id);
        }
        self.claims.insert(
            req.id.to_string(),
            Claim {
                packet: req.packet.to_string(),
                user: req.user.to_string(),
                share,
                amount,
                at: now,
                state,
            },
        );
        self.velocity.record_claim(now, query, amount);
        Ok(amount)
    }

    /// Returns the share of `claim_id` to its packet after `ops` (which
    /// must put the money back in escrow); if the packet has expired, the
    /// share is refunded to the merchant in the same ledger batch.
    pub(super) fn release_share(
        &mut self,
        claim_id: &str,
        mut ops: Vec<LedgerOp>,
        kind: &str,
        request: &str,
    ) -> Result<(), SettlementError> {
        let unknown = || SettlementError::UnknownClaim {
            claim: claim_id.to_string(),
        };
        let claim = self.claims.get(claim_id).ok_or_else(unknown)?;
        let packet =
            self.packets
                .get(&claim.packet)
                .ok_or_else(|| SettlementError::UnknownPacket {
                    packet: claim.packet.clone(),
                })?;
        if packet.expired {
            ops.push(LedgerOp::Post {
                id: transfer_id(kind, request, "refund"),
                debit: Account::Escrow(claim.packet.clone()),
                credit: Account::MerchantAvailable(packet.merchant.clone()),
                amount: claim.amount,
            });
        }
        self.ledger.apply(ops)?;
        let claim = self.claims.get_mut(claim_id).ok_or_else(unknown)?;
        claim.state = ClaimState::Released;
        if let Some(packet) = self.packets.get_mut(&claim.packet) {
            let refunded = packet.give_back(claim.share, &claim.user);
            self.refunded_fen = self.refunded_fen.saturating_add(refunded);
        }
        Ok(())
    }
}
