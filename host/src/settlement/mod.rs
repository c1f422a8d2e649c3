//! The settlement core: packets, claims, payouts, reviews, freezes, expiry
//! and idempotent request ids, on top of the [`crate::ledger`].
//!
//! [`Settlement::apply`] takes one traffic [`Event`] at a time and returns
//! its [`Outcome`]. At every claim and payout it computes the facts
//! ([`crate::velocity`]), asks the rules through an [`Evaluator`], and moves
//! money by the final verdict as `DESIGN.md`'s table says:
//!
//! | verdict | at claim | at payout |
//! |---|---|---|
//! | allow | pending escrow → wallet (reserved) | pending posted (paid) |
//! | review | escrow → review hold | void, escrow → review hold |
//! | deny | nothing moves; share stays claimable | void; share back to the packet |
//! | freeze | user frozen: wallet and held shares → frozen | void, escrow → frozen; user frozen |
//!
//! An unfreeze approves nothing: the wallet amount goes back to the wallet
//! and every frozen share goes to the review hold, held as it was (or, for a
//! payout that was frozen, held for review); see `freeze.rs`.
//!
//! Every step that moves money is one all-or-nothing ledger batch, so a
//! refused step leaves nothing behind. Time is logical: it comes from the
//! events, never from the wall clock, so a traffic file replays exactly.
//!
//! A claim or payout runs in two phases (`inflight.rs`): check and set
//! aside, then the rules, then move the money. [`Settlement::apply`] runs
//! them in a row; [`SharedSettlement`] runs them from many threads with the
//! rules outside its lock. [`simulation`] is the seeded simulation that
//! checks every invariant after every step. `MONEY.md` at the repository
//! root lists the invariants, the tests that enforce them, and what a
//! caller can rely on.

mod claim;
mod config;
mod error;
mod expiry;
mod freeze;
mod idempotency;
mod inflight;
mod invariants;
mod packet;
mod payout;
mod record;
mod review;
mod shared;
pub mod simulation;
mod summary;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

use rules_sdk::Amount;

pub use claim::{Claim, ClaimState};
pub use config::{EXPIRES_IN_DEFAULT_SECONDS, SettlementConfig};
pub use error::{InvariantError, SettlementError};
pub use freeze::{FrozenFrom, FrozenShare, User};
pub use packet::{Packet, Share, ShareState};
pub use payout::{HOST_REASON_USER_FROZEN, Payout, PayoutState};
pub use record::{DecisionInput, DecisionRecord, Expiry, Outcome, Status};
pub use shared::{HOST_REASON_EVALUATOR_PANIC, SharedSettlement};
pub use summary::MoneySummary;

use crate::event::Event;
use crate::ledger::{Account, Ledger, LedgerStore, MemoryStore, fen_to_amount};
use crate::risk::Evaluator;
use crate::velocity::Velocity;
use idempotency::{Requests, Seen};
use inflight::{Begun, InFlight, Step};

/// The settlement core. One instance owns one shard's money and state.
pub struct Settlement<S = MemoryStore> {
    config: SettlementConfig,
    ledger: Ledger<S>,
    /// The logical clock: the latest event time seen.
    clock: Option<i64>,
    packets: HashMap<String, Packet>,
    /// Packets not yet expired, by `(expires_at, packet id)`.
    expiries: BTreeSet<(i64, String)>,
    claims: HashMap<String, Claim>,
    payouts: HashMap<String, Payout>,
    users: HashMap<String, User>,
    velocity: Velocity,
    requests: Requests,
    /// Claims and payouts being decided (see `inflight.rs`).
    in_flight: InFlight,
    /// Refunded to merchants so far (expiries and late returns), in fen.
    refunded_fen: i64,
}

impl Settlement<MemoryStore> {
    /// A settlement core with an empty in-memory ledger.
    pub fn new(config: SettlementConfig) -> Settlement<MemoryStore> {
        Settlement::with_ledger(config, Ledger::new())
    }
}

impl<S: LedgerStore> Settlement<S> {
    /// A settlement core over `ledger`, which should be empty: the core's
    /// own state (packets, claims) is not rebuilt from a ledger.
    pub fn with_ledger(config: SettlementConfig, ledger: Ledger<S>) -> Settlement<S> {
        Settlement {
            config,
            ledger,
            clock: None,
            packets: HashMap::new(),
            expiries: BTreeSet::new(),
            claims: HashMap::new(),
            payouts: HashMap::new(),
            users: HashMap::new(),
            velocity: Velocity::new(),
            requests: Requests::default(),
            in_flight: InFlight::default(),
            refunded_fen: 0,
        }
    }

    /// Processes one event and returns its outcome.
    ///
    /// Time is logical: the event's `at`. An event whose `at` is earlier
    /// than the latest one seen is processed at the latest time instead, so
    /// the clock never runs backwards (an expiry never un-happens, and
    /// windows never see the future). Before the event, every packet whose
    /// `expires_at` is at or before that time expires (see
    /// [`Outcome::expired`]).
    ///
    /// A request id seen before with the same body returns the stored
    /// outcome as a replay, without evaluating the rules or moving money;
    /// with a different body it is a conflict. Refused requests are stored
    /// too, so an id that failed stays failed.
    pub fn apply(&mut self, event: &Event, rules: &dyn Evaluator) -> Outcome {
        match self.begin(event) {
            Begun::Done(outcome) => outcome,
            Begun::Decide(ticket) => {
                let evaluation = ticket.evaluate(rules);
                self.finish(ticket, evaluation)
            }
            // Only when a `SharedSettlement` left a request in flight,
            // which it never does between its calls.
            Begun::Wait(expired) => {
                inflight::in_progress(event, self.clock.unwrap_or(event.at()), expired)
            }
        }
    }

    /// Checks and carries out a new request; a claim or payout stops at
    /// [`Step::Decide`] for the rules.
    fn execute(
        &mut self,
        event: &Event,
        now: i64,
        out: &mut Outcome,
    ) -> Result<Step, SettlementError> {
        match event {
            Event::Deposit {
                id,
                merchant,
                amount,
                ..
            } => self
                .deposit(id, merchant, *amount, out)
                .map(|()| Step::Done),
            Event::CreatePacket {
                id,
                merchant,
                total,
                shares,
                split,
                campaign,
                expires_in,
                ..
            } => self
                .create_packet(
                    now,
                    packet::CreatePacket {
                        id,
                        merchant,
                        total: *total,
                        shares: *shares,
                        split: *split,
                        campaign: campaign.as_deref(),
                        expires_in: *expires_in,
                    },
                    out,
                )
                .map(|()| Step::Done),
            Event::Claim {
                id,
                packet,
                user,
                device,
                ip,
                account_created_at,
                ..
            } => self.begin_claim(
                now,
                claim::ClaimArgs {
                    id,
                    packet,
                    user,
                    device: device.as_deref(),
                    ip: ip.as_deref(),
                    account_created_at: *account_created_at,
                },
            ),
            Event::Payout {
                id,
                claim,
                device,
                ip,
                ..
            } => self.begin_payout(
                now,
                payout::PayoutArgs {
                    id,
                    claim,
                    device: device.as_deref(),
                    ip: ip.as_deref(),
                },
            ),
            Event::ResolveReview {
                id,
                target,
                decision,
                ..
            } => {
                if self
                    .review_target_user(target)
                    .is_some_and(|u| self.user_busy(u))
                {
                    return Ok(Step::Wait);
                }
                self.resolve_review(now, id, target, *decision, out)
                    .map(|()| Step::Done)
            }
            Event::Unfreeze { id, user, .. } => {
                if self.user_busy(user) {
                    return Ok(Step::Wait);
                }
                self.unfreeze(id, user, out).map(|()| Step::Done)
            }
            Event::Tick { .. } => Ok(Step::Done),
        }
    }

    /// The user whose claim or payout `target` names, if any.
    fn review_target_user(&self, target: &str) -> Option<&str> {
        let claim = match self.payouts.get(target) {
            Some(p) => self.claims.get(&p.claim),
            None => self.claims.get(target),
        };
        claim.map(|c| c.user.as_str())
    }

    /// External → merchant available.
    fn deposit(
        &mut self,
        id: &str,
        merchant: &str,
        amount: Amount,
        out: &mut Outcome,
    ) -> Result<(), SettlementError> {
        if amount == Amount::ZERO {
            return Err(SettlementError::ZeroDeposit {
                deposit: id.to_string(),
            });
        }
        self.ledger.post(
            transfer_id("deposit", id, "in"),
            Account::External,
            Account::MerchantAvailable(merchant.to_string()),
            amount,
        )?;
        out.amount = amount;
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &SettlementConfig {
        &self.config
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger<S> {
        &self.ledger
    }

    /// The logical clock: the latest event time processed, if any.
    pub fn now(&self) -> Option<i64> {
        self.clock
    }

    /// The packet with id `id`.
    pub fn packet(&self, id: &str) -> Option<&Packet> {
        self.packets.get(id)
    }

    /// The claim with id `id`, if the rules let it through.
    pub fn claim_record(&self, id: &str) -> Option<&Claim> {
        self.claims.get(id)
    }

    /// The payout with id `id`, if it passed the host's checks.
    pub fn payout_record(&self, id: &str) -> Option<&Payout> {
        self.payouts.get(id)
    }

    /// The user record of `user`, once they have one.
    pub fn user(&self, user: &str) -> Option<&User> {
        self.users.get(user)
    }

    /// True while `user` is frozen.
    pub fn is_frozen(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.frozen)
    }

    /// The available balance of `merchant`.
    pub fn merchant_available(&self, merchant: &str) -> Amount {
        let account = Account::MerchantAvailable(merchant.to_string());
        fen_to_amount(self.ledger.balance(&account).available_fen())
    }

    /// The posted balance of `user`'s wallet.
    pub fn wallet(&self, user: &str) -> Amount {
        let account = Account::Wallet(user.to_string());
        fen_to_amount(self.ledger.balance(&account).posted_fen)
    }

    /// How many packets, claims, payouts and stored request ids there are.
    pub fn counts(&self) -> Counts {
        Counts {
            packets: self.packets.len(),
            claims: self.claims.len(),
            payouts: self.payouts.len(),
            requests: self.requests.len(),
        }
    }
}

/// Sizes of the core's state, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Packets created.
    pub packets: usize,
    /// Claims the rules let through.
    pub claims: usize,
    /// Payouts that passed the host's checks.
    pub payouts: usize,
    /// Request ids stored for idempotency.
    pub requests: usize,
}

/// The ledger transfer id of step `step` of request `request` of `kind`.
///
/// The request id is length-prefixed, so two different requests can never
/// produce the same transfer id whatever characters their ids contain.
fn transfer_id(kind: &str, request: &str, step: &str) -> String {
    format!("{kind}/{}:{request}/{step}", request.len())
}

/// A transfer step about one item (a claim id), length-prefixed likewise.
fn item_step(step: &str, item: &str) -> String {
    format!("{step}/{}:{item}", item.len())
}
