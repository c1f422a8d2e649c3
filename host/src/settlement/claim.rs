//! Claims: a user asks for a share; the rules decide; the share is reserved,
//! held for review, left claimable, or the user is frozen.

use rules_sdk::{Amount, ClaimFacts, ClaimRequest, Hook, Verdict};
use serde::Serialize;

use super::inflight::{Pending, Step};
use super::record::{DecisionInput, DecisionRecord, Outcome, Status};
use super::{Settlement, SettlementError, transfer_id};
use crate::ledger::{Account, LedgerOp, LedgerStore};
use crate::risk::Evaluation;
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

/// A claim whose share is set aside while its rules decide.
pub(super) struct PendingClaim {
    pub request: ClaimRequest,
    pub facts: ClaimFacts,
    /// The share set aside.
    pub share: u32,
    device: Option<String>,
    ip: Option<String>,
    account_created_at: Option<i64>,
    utc_offset_minutes: i32,
}

impl PendingClaim {
    /// The velocity query of this claim.
    fn query(&self) -> ClaimQuery<'_> {
        ClaimQuery {
            user: &self.request.user_id,
            device: self.device.as_deref(),
            ip: self.ip.as_deref(),
            campaign: self.request.campaign_id.as_deref(),
            account_created_at: self.account_created_at,
            utc_offset_minutes: self.utc_offset_minutes,
        }
    }
}

impl<S: LedgerStore> Settlement<S> {
    /// Checks the claim, computes its facts and sets its share aside for
    /// the rules to decide; [`Step::Wait`] while another request of the
    /// same user is being decided, or while the packet has no open share
    /// but some set aside (one may come back).
    pub(super) fn begin_claim(
        &mut self,
        now: i64,
        req: ClaimArgs<'_>,
    ) -> Result<Step, SettlementError> {
        if self.in_flight.users.contains(req.user) {
            return Ok(Step::Wait);
        }
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
        let Some(share) = packet.next_open() else {
            if packet.has_claiming() {
                return Ok(Step::Wait);
            }
            return Err(SettlementError::PacketEmpty {
                packet: req.packet.to_string(),
            });
        };
        let amount = packet
            .shares
            .get(share as usize)
            .ok_or_else(|| SettlementError::PacketEmpty {
                packet: req.packet.to_string(),
            })?
            .amount;

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
        let utc_offset_minutes = self.config.utc_offset_minutes(&request.merchant_id);
        let query = ClaimQuery {
            user: req.user,
            device: req.device,
            ip: req.ip,
            campaign: request.campaign_id.as_deref(),
            account_created_at: req.account_created_at,
            utc_offset_minutes,
        };
        let facts = self.velocity.claim_facts(now, &query);
        let pending = PendingClaim {
            facts,
            share,
            device: req.device.map(str::to_string),
            ip: req.ip.map(str::to_string),
            account_created_at: req.account_created_at,
            utc_offset_minutes,
            request,
        };
        if let Some(packet) = self.packets.get_mut(req.packet) {
            packet.set_aside(share);
        }
        Ok(Step::Decide(Box::new(Pending::Claim(pending))))
    }

    /// Moves money for the verdict of a claim begun by
    /// [`Settlement::begin_claim`]; the share set aside becomes taken, or
    /// goes back to the packet.
    pub(super) fn finish_claim(
        &mut self,
        now: i64,
        pending: PendingClaim,
        evaluation: Evaluation,
        out: &mut Outcome,
    ) {
        let verdict = evaluation.verdict;
        let moved = self.settle_claim(now, &pending, verdict);
        out.verdict = Some(verdict);
        out.decision = Some(DecisionRecord {
            request_id: pending.request.claim_id.clone(),
            hook: Hook::Claim,
            at: now,
            verdict,
            reason: evaluation.reason,
            rules: evaluation.rules,
            input: DecisionInput::Claim {
                request: pending.request,
                facts: pending.facts,
            },
        });
        match moved {
            Ok(amount) => out.amount = amount,
            Err(e) => {
                out.status = Status::Refused(e);
                out.amount = Amount::ZERO;
            }
        }
    }

    /// Moves money for a claim's verdict; returns the amount moved. When
    /// nothing is reserved or held (deny, freeze, or a refused ledger
    /// step), the share set aside goes back to the packet.
    fn settle_claim(
        &mut self,
        now: i64,
        pending: &PendingClaim,
        verdict: Verdict,
    ) -> Result<Amount, SettlementError> {
        let req = &pending.request;
        let (id, user, packet_id) = (&req.claim_id, &req.user_id, &req.packet_id);
        let escrow = Account::Escrow(packet_id.clone());
        let expired = self.packets.get(packet_id).is_some_and(|p| p.expired);
        // The share goes back to the packet; refunded at once if it expired.
        let refund = expired.then(|| LedgerOp::Post {
            id: transfer_id("claim", id, "refund"),
            debit: escrow.clone(),
            credit: Account::MerchantAvailable(req.merchant_id.clone()),
            amount: req.amount,
        });
        let state = match verdict {
            Verdict::Allow => {
                let reservation = transfer_id("claim", id, "reserve");
                self.ledger
                    .pending(
                        reservation.clone(),
                        escrow,
                        Account::Wallet(user.clone()),
                        req.amount,
                    )
                    .map(|()| ClaimState::Reserved { reservation })
            }
            Verdict::Review => self
                .ledger
                .post(
                    transfer_id("claim", id, "hold"),
                    escrow,
                    Account::ReviewHold,
                    req.amount,
                )
                .map(|()| ClaimState::HeldForReview),
            Verdict::Deny => {
                let done = match refund {
                    Some(op) => self.ledger.apply(vec![op]),
                    None => Ok(()),
                };
                self.put_back(packet_id, pending.share, done.is_ok());
                return done.map(|()| Amount::ZERO).map_err(Into::into);
            }
            Verdict::Freeze => {
                let ops = refund.into_iter().collect();
                let done = self.freeze_user(user, "claim", id, ops, None);
                self.put_back(packet_id, pending.share, done.is_ok());
                return done;
            }
        };
        let state = match state {
            Ok(state) => state,
            Err(e) => {
                // Nothing moved: the share is open again, or refunded if
                // that can be done.
                let refunded = match refund {
                    Some(op) => self.ledger.apply(vec![op]).is_ok(),
                    None => true,
                };
                self.put_back(packet_id, pending.share, refunded);
                return Err(e.into());
            }
        };
        if state == ClaimState::HeldForReview {
            self.user_mut(user).held.insert(id.clone());
        }
        if let Some(packet) = self.packets.get_mut(packet_id) {
            packet.take(pending.share, user, id);
        }
        self.claims.insert(
            id.clone(),
            Claim {
                packet: packet_id.clone(),
                user: user.clone(),
                share: pending.share,
                amount: req.amount,
                at: now,
                state,
            },
        );
        let at = self.velocity_now(now);
        self.velocity.record_claim(at, &pending.query(), req.amount);
        Ok(req.amount)
    }

    /// Returns a share set aside to its packet; `refunded` says whether
    /// the refund of an expired packet's share went through the ledger.
    fn put_back(&mut self, packet_id: &str, share: u32, refunded: bool) {
        let Some(packet) = self.packets.get_mut(packet_id) else {
            return;
        };
        if packet.expired && !refunded {
            // Only a failing ledger store gets here: the money is still in
            // escrow, so the share stays set aside rather than be marked
            // refunded without its transfer.
            return;
        }
        let fen = packet.put_back(share);
        self.refunded_fen = self.refunded_fen.saturating_add(fen);
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
