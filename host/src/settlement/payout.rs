//! Payouts: a reserved share is posted to the user's wallet, held for
//! review, returned to the packet, or moved to the frozen account.

use rules_sdk::{Amount, Hook, PayoutFacts, PayoutRequest, Verdict};
use serde::Serialize;

use super::claim::ClaimState;
use super::freeze::{FrozenFrom, FrozenShare, Taken};
use super::inflight::{Pending, Step};
use super::record::{DecisionInput, DecisionRecord, Outcome, Status};
use super::{Settlement, SettlementError, transfer_id};
use crate::ledger::{Account, LedgerOp, LedgerStore};
use crate::risk::Evaluation;
use crate::velocity::PayoutQuery;

/// The decision-record reason when the host moves a frozen user's payout to
/// the frozen account without asking the rules.
pub const HOST_REASON_USER_FROZEN: &str = "host:user-frozen";

/// Where a payout stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutState {
    /// The share is in the user's wallet.
    Paid,
    /// Held for review; the share sits in the review hold.
    HeldForReview,
    /// Denied; the share went back to the packet.
    Denied,
    /// The share went to the user's frozen account (the payout was frozen,
    /// or it was held and the user was frozen); an unfreeze holds it for
    /// review.
    Frozen,
    /// Held, then rejected by a reviewer; the share went back to the packet.
    Rejected,
}

/// A payout that passed the host's checks (whatever the rules said).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payout {
    /// The claim paid.
    pub claim: String,
    /// When the payout was requested (logical seconds).
    pub at: i64,
    /// Where it stands.
    pub state: PayoutState,
}

/// The fields of a `payout` event.
pub(super) struct PayoutArgs<'a> {
    pub id: &'a str,
    pub claim: &'a str,
    pub device: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// A payout whose user's requests wait while its rules decide.
pub(super) struct PendingPayout {
    pub request: PayoutRequest,
    pub facts: PayoutFacts,
    /// The claim's pending transfer.
    reservation: String,
    claimed_at: i64,
    utc_offset_minutes: i32,
    /// True when the user is frozen: the host decides, without rules.
    pub frozen: bool,
}

impl PendingPayout {
    /// The velocity query of this payout.
    fn query(&self) -> PayoutQuery<'_> {
        PayoutQuery {
            user: &self.request.user_id,
            merchant: &self.request.merchant_id,
            packet: &self.request.packet_id,
            claimed_at: self.claimed_at,
            utc_offset_minutes: self.utc_offset_minutes,
        }
    }
}

impl<S: LedgerStore> Settlement<S> {
    /// Checks the payout and computes its facts for the rules to decide
    /// (or the host, when the user is frozen); [`Step::Wait`] while another
    /// request of the same user is being decided.
    pub(super) fn begin_payout(
        &mut self,
        now: i64,
        req: PayoutArgs<'_>,
    ) -> Result<Step, SettlementError> {
        if self.claims.contains_key(req.id) {
            return Err(SettlementError::IdInUse {
                id: req.id.to_string(),
                other: "claim",
            });
        }
        let Some(claim) = self.claims.get(req.claim) else {
            // A claim that was decided but took no share (denied, frozen,
            // or refused) is known: it holds nothing to pay.
            return Err(match self.requests.claim_outcome(req.claim) {
                Some(o) => SettlementError::ClaimNotReserved {
                    claim: req.claim.to_string(),
                    state: match (&o.status, o.verdict) {
                        (super::Status::Accepted, Some(rules_sdk::Verdict::Freeze)) => {
                            "frozen at claim"
                        }
                        (super::Status::Accepted, _) => "denied",
                        _ => "refused",
                    },
                },
                None => SettlementError::UnknownClaim {
                    claim: req.claim.to_string(),
                },
            });
        };
        if self.in_flight.users.contains(&claim.user) {
            return Ok(Step::Wait);
        }
        let reservation = match &claim.state {
            ClaimState::Reserved { reservation } => reservation.clone(),
            ClaimState::PayoutHeld { payout } => {
                return Err(SettlementError::PayoutInProgress {
                    claim: req.claim.to_string(),
                    payout: payout.clone(),
                });
            }
            ClaimState::Paid { payout } => {
                return Err(SettlementError::AlreadyPaid {
                    claim: req.claim.to_string(),
                    payout: payout.clone(),
                });
            }
            other => {
                return Err(SettlementError::ClaimNotReserved {
                    claim: req.claim.to_string(),
                    state: other.name(),
                });
            }
        };
        let packet =
            self.packets
                .get(&claim.packet)
                .ok_or_else(|| SettlementError::UnknownPacket {
                    packet: claim.packet.clone(),
                })?;
        let request = PayoutRequest {
            payout_id: req.id.to_string(),
            claim_id: req.claim.to_string(),
            packet_id: claim.packet.clone(),
            merchant_id: packet.merchant.clone(),
            campaign_id: packet.campaign.clone(),
            user_id: claim.user.clone(),
            amount: claim.amount,
            device_id: req.device.map(str::to_string),
            ip: req.ip.map(str::to_string),
        };
        let claimed_at = claim.at;
        let utc_offset_minutes = self.config.utc_offset_minutes(&request.merchant_id);
        let query = PayoutQuery {
            user: &request.user_id,
            merchant: &request.merchant_id,
            packet: &request.packet_id,
            claimed_at,
            utc_offset_minutes,
        };
        let facts = self.velocity.payout_facts(now, &query);
        let frozen = self.is_frozen(&request.user_id);
        Ok(Step::Decide(Box::new(Pending::Payout(PendingPayout {
            request,
            facts,
            reservation,
            claimed_at,
            utc_offset_minutes,
            frozen,
        }))))
    }

    /// Moves money for the verdict of a payout begun by
    /// [`Settlement::begin_payout`].
    pub(super) fn finish_payout(
        &mut self,
        now: i64,
        pending: PendingPayout,
        evaluation: Evaluation,
        out: &mut Outcome,
    ) {
        let verdict = evaluation.verdict;
        let moved = self.settle_payout(now, &pending, verdict);
        out.verdict = Some(verdict);
        out.decision = Some(DecisionRecord {
            request_id: pending.request.payout_id.clone(),
            hook: Hook::Payout,
            at: now,
            verdict,
            reason: evaluation.reason,
            rules: evaluation.rules,
            input: DecisionInput::Payout {
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

    /// Moves money for a payout's verdict; returns the amount moved.
    fn settle_payout(
        &mut self,
        now: i64,
        pending: &PendingPayout,
        verdict: Verdict,
    ) -> Result<Amount, SettlementError> {
        let query = &pending.query();
        let reservation = pending.reservation.as_str();
        let amount = pending.request.amount;
        let req = PayoutArgs {
            id: &pending.request.payout_id,
            claim: &pending.request.claim_id,
            device: None,
            ip: None,
        };
        let req = &req;
        let void = LedgerOp::VoidPending {
            id: reservation.to_string(),
        };
        let escrow = Account::Escrow(query.packet.to_string());
        let (claim_state, payout_state, moved) = match verdict {
            Verdict::Allow => {
                self.ledger.post_pending(reservation)?;
                let at = self.velocity_now(now);
                self.velocity.record_payout(at, query, amount);
                (
                    ClaimState::Paid {
                        payout: req.id.to_string(),
                    },
                    PayoutState::Paid,
                    amount,
                )
            }
            Verdict::Review => {
                self.ledger.apply(vec![
                    void,
                    LedgerOp::Post {
                        id: transfer_id("payout", req.id, "hold"),
                        debit: escrow,
                        credit: Account::ReviewHold,
                        amount,
                    },
                ])?;
                self.user_mut(query.user).held.insert(req.claim.to_string());
                (
                    ClaimState::PayoutHeld {
                        payout: req.id.to_string(),
                    },
                    PayoutState::HeldForReview,
                    amount,
                )
            }
            Verdict::Deny => {
                self.release_share(req.claim, vec![void], "payout", req.id)?;
                self.record_payout(req, now, PayoutState::Denied);
                return Ok(amount);
            }
            Verdict::Freeze => {
                let ops = vec![
                    void,
                    LedgerOp::Post {
                        id: transfer_id("payout", req.id, "freeze"),
                        debit: escrow,
                        credit: Account::Frozen(query.user.to_string()),
                        amount,
                    },
                ];
                let taken = Taken {
                    claim: req.claim.to_string(),
                    share: FrozenShare {
                        amount,
                        from: FrozenFrom::Payout {
                            payout: req.id.to_string(),
                        },
                    },
                };
                let moved = self.freeze_user(query.user, "payout", req.id, ops, Some(taken))?;
                (
                    ClaimState::Frozen {
                        payout: Some(req.id.to_string()),
                    },
                    PayoutState::Frozen,
                    moved,
                )
            }
        };
        if let Some(claim) = self.claims.get_mut(req.claim) {
            claim.state = claim_state;
        }
        self.record_payout(req, now, payout_state);
        Ok(moved)
    }

    fn record_payout(&mut self, req: &PayoutArgs<'_>, now: i64, state: PayoutState) {
        self.payouts.insert(
            req.id.to_string(),
            Payout {
                claim: req.claim.to_string(),
                at: now,
                state,
            },
        );
    }
}
