//! A request in two phases, so that the rules can decide without a lock.
//!
//! [`Settlement::begin`] does everything that needs the core's state: the
//! clock and expiries, the idempotency table, every check, the velocity
//! facts, and for a claim it *sets its share aside* ([`ShareState::Claiming`]):
//! no other claim gets that share and no expiry refunds it. It returns a
//! [`Ticket`] when the rules must decide. [`Ticket::evaluate`] runs the
//! rules and needs nothing of the core. [`Settlement::finish`] moves the
//! money by the verdict, stores the outcome under the request id and
//! releases what `begin` held.
//!
//! While a claim or payout is being decided its request id and its user are
//! *busy*: a request with the same id, or any claim, payout, review or
//! unfreeze of the same user, gets [`Begun::Wait`] and is begun again once
//! the busy one finishes. So the requests of one user, and all retries of
//! one id, run one after the other, exactly as [`Settlement::apply`] would
//! run them, while claims of different users on the same packet, and
//! everything on other packets, are decided at the same time. A claim that
//! finds no open share while some are set aside waits too: a denied claim
//! gives its share back, and the waiting claim must see it.
//!
//! [`Settlement::apply`] is `begin`, `evaluate` and `finish` in a row.
//!
//! [`ShareState::Claiming`]: super::ShareState::Claiming

use std::collections::{HashMap, HashSet};

use rules_sdk::Verdict;

use super::claim::PendingClaim;
use super::payout::{HOST_REASON_USER_FROZEN, PendingPayout};
use super::record::{Expiry, Outcome, Status};
use super::{Settlement, SettlementError};
use crate::event::Event;
use crate::ledger::LedgerStore;
use crate::risk::{Evaluation, Evaluator};

/// What the check of a new request found.
pub(super) enum Step {
    /// Carried out (or refused) already.
    Done,
    /// The rules must decide.
    Decide(Box<Pending>),
    /// Something it needs is busy: begin it again later.
    Wait,
}

/// A claim or payout waiting for its verdict.
pub(super) enum Pending {
    /// A claim, its share set aside.
    Claim(PendingClaim),
    /// A payout.
    Payout(PendingPayout),
}

/// Request ids and users with a claim or payout being decided.
#[derive(Default)]
pub(super) struct InFlight {
    /// Claim and payout ids being decided. One set for both kinds, since a
    /// claim id may not be reused as a payout id.
    pub requests: HashSet<String>,
    /// Users with a claim or payout being decided.
    pub users: HashSet<String>,
    /// Claims being decided, with the packet and index of the share set
    /// aside for each.
    pub claims: HashMap<String, (String, u32)>,
}

impl InFlight {
    /// True when nothing is being decided.
    pub(super) fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.users.is_empty() && self.claims.is_empty()
    }
}

/// What [`Settlement::begin`] made of a request.
#[expect(
    clippy::large_enum_variant,
    reason = "the outcome is returned by value to the caller at once, as `apply` returns it"
)]
pub(super) enum Begun {
    /// The request is finished: refused, replayed, a conflict, or carried
    /// out without rules.
    Done(Outcome),
    /// The rules must decide: evaluate the ticket, then finish it.
    Decide(Box<Ticket>),
    /// Its id or user is busy with a request being decided; nothing was
    /// done except the expiries due (carried here so that the outcome of
    /// the later attempt can report them).
    Wait(Vec<Expiry>),
}

/// A claim or payout whose rules are deciding. It must be handed back to
/// [`Settlement::finish`] of the same core: until then its share stays set
/// aside and its user and id stay busy.
pub(super) struct Ticket {
    /// The logical time of the decision.
    now: i64,
    /// The request, for the idempotency table.
    event: Event,
    /// The outcome so far (its expiries).
    outcome: Outcome,
    pending: Pending,
}

impl Ticket {
    /// Runs the rules of the ticket's hook. Needs nothing of the core.
    pub(super) fn evaluate(&self, rules: &dyn Evaluator) -> Evaluation {
        match &self.pending {
            Pending::Claim(c) => rules.claim(self.now, &c.request, &c.facts),
            Pending::Payout(p) => rules.payout(self.now, &p.request, &p.facts),
        }
    }

    /// The request id.
    pub(super) fn request_id(&self) -> &str {
        &self.outcome.request_id
    }

    /// The request begun.
    pub(super) fn event(&self) -> &Event {
        &self.event
    }

    /// The expiries reported with the outcome.
    pub(super) fn expired_mut(&mut self) -> &mut Vec<Expiry> {
        &mut self.outcome.expired
    }
}

/// The decision the host makes in place of the rules for a payout of a
/// frozen user.
fn host_freeze() -> Evaluation {
    Evaluation {
        verdict: Verdict::Freeze,
        reason: HOST_REASON_USER_FROZEN.to_string(),
        rules: Vec::new(),
    }
}

/// The id of a claim or payout, the requests that can be in flight.
fn decided_id(event: &Event) -> Option<&str> {
    match event {
        Event::Claim { id, .. } | Event::Payout { id, .. } => Some(id),
        _ => None,
    }
}

impl<S: LedgerStore> Settlement<S> {
    /// The first phase of `event`: see the module doc.
    pub(super) fn begin(&mut self, event: &Event) -> Begun {
        let now = self.clock.map_or(event.at(), |clock| clock.max(event.at()));
        self.clock = Some(now);
        let expired = self.expire_due(now);
        if decided_id(event).is_some_and(|id| self.in_flight.requests.contains(id)) {
            return Begun::Wait(expired);
        }
        let mut outcome = match self.requests.seen(event) {
            super::Seen::Replay(stored) => Outcome {
                replay: true,
                ..stored.clone()
            },
            super::Seen::Conflict => {
                let mut outcome = Outcome::new(event, now);
                outcome.status = Status::Conflict(SettlementError::Conflict {
                    kind: event.kind(),
                    id: outcome.request_id.clone(),
                });
                outcome
            }
            super::Seen::New => {
                let mut outcome = Outcome::new(event, now);
                match self.execute(event, now, &mut outcome) {
                    Ok(Step::Done) => {}
                    Ok(Step::Wait) => return Begun::Wait(expired),
                    Ok(Step::Decide(pending)) => {
                        let pending = *pending;
                        outcome.expired = expired;
                        let host_decides = matches!(&pending, Pending::Payout(p) if p.frozen);
                        let ticket = Box::new(Ticket {
                            now,
                            event: event.clone(),
                            outcome,
                            pending,
                        });
                        if host_decides {
                            return Begun::Done(self.settle(*ticket, host_freeze()));
                        }
                        self.in_flight
                            .requests
                            .insert(ticket.request_id().to_string());
                        self.in_flight.users.insert(ticket.user().to_string());
                        if let Pending::Claim(c) = &ticket.pending {
                            self.in_flight.claims.insert(
                                c.request.claim_id.clone(),
                                (c.request.packet_id.clone(), c.share),
                            );
                        }
                        return Begun::Decide(ticket);
                    }
                    Err(e) => {
                        outcome.status = Status::Refused(e);
                        outcome.amount = rules_sdk::Amount::ZERO;
                    }
                }
                self.requests.remember(event, &outcome);
                outcome
            }
        };
        outcome.expired = expired;
        Begun::Done(outcome)
    }

    /// The second phase: moves money by `evaluation`'s verdict, stores the
    /// outcome under the request id, and frees the id and the user.
    pub(super) fn finish(&mut self, ticket: Box<Ticket>, evaluation: Evaluation) -> Outcome {
        self.in_flight.requests.remove(ticket.request_id());
        self.in_flight.users.remove(ticket.user());
        self.in_flight.claims.remove(ticket.request_id());
        self.settle(*ticket, evaluation)
    }

    fn settle(&mut self, ticket: Ticket, evaluation: Evaluation) -> Outcome {
        let Ticket {
            now,
            event,
            mut outcome,
            pending,
        } = ticket;
        match pending {
            Pending::Claim(c) => self.finish_claim(now, c, evaluation, &mut outcome),
            Pending::Payout(p) => self.finish_payout(now, p, evaluation, &mut outcome),
        }
        self.requests.remember(&event, &outcome);
        outcome
    }

    /// The time to record velocity at: the clock may have moved on while
    /// the rules decided, and the windows only move forward.
    pub(super) fn velocity_now(&self, now: i64) -> i64 {
        self.clock.map_or(now, |clock| clock.max(now))
    }

    /// True while a claim or payout of `user` is being decided.
    pub(super) fn user_busy(&self, user: &str) -> bool {
        self.in_flight.users.contains(user)
    }

    /// True when no claim or payout is being decided.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }
}

impl Ticket {
    /// The user of the claim or payout.
    fn user(&self) -> &str {
        match &self.pending {
            Pending::Claim(c) => &c.request.user_id,
            Pending::Payout(p) => &p.request.user_id,
        }
    }
}

/// An [`Outcome`] for a request begun while its id or user was busy, when
/// the caller cannot wait (the sequential [`Settlement::apply`] never
/// gets here: nothing is in flight between its calls).
pub(super) fn in_progress(event: &Event, now: i64, expired: Vec<Expiry>) -> Outcome {
    let mut outcome = Outcome::new(event, now);
    outcome.status = Status::Refused(SettlementError::InProgress {
        kind: event.kind(),
        id: outcome.request_id.clone(),
    });
    outcome.expired = expired;
    outcome
}
