//! Request ids, WeChat style: the same id with the same body returns the
//! stored outcome; the same id with a different body is a conflict; an id
//! whose request failed stays failed.
//!
//! The key is the event kind and the request id, so a claim and a payout
//! may share an id. The body is the event without `at` and `label`: a
//! retry arrives later than the first attempt, and the label is the traffic
//! generator's, not the client's.

use std::collections::HashMap;

use super::record::{Outcome, request_id};
use crate::event::Event;

/// What the table says about an incoming request.
pub(super) enum Seen<'a> {
    /// A request id never used before (or an event without one).
    New,
    /// The same id and body: the stored outcome.
    Replay(&'a Outcome),
    /// The same id with a different body.
    Conflict,
}

struct Stored {
    /// The first request, with `at` and `label` cleared.
    body: Event,
    /// Its outcome, without the decision record.
    outcome: Outcome,
}

/// Stored requests, one map per event kind that carries an id.
#[derive(Default)]
pub(super) struct Requests {
    by_kind: [HashMap<String, Stored>; 6],
}

/// The map index of an event kind; `None` for a tick, which has no id.
fn slot(event: &Event) -> Option<usize> {
    match event {
        Event::Deposit { .. } => Some(0),
        Event::CreatePacket { .. } => Some(1),
        Event::Claim { .. } => Some(2),
        Event::Payout { .. } => Some(3),
        Event::ResolveReview { .. } => Some(4),
        Event::Unfreeze { .. } => Some(5),
        Event::Tick { .. } => None,
    }
}

/// `event` without the fields that are not part of its body.
fn body(event: &Event) -> Event {
    let mut body = event.clone();
    match &mut body {
        Event::Claim { at, label, .. } | Event::Payout { at, label, .. } => {
            *at = 0;
            *label = None;
        }
        Event::Deposit { at, .. }
        | Event::CreatePacket { at, .. }
        | Event::ResolveReview { at, .. }
        | Event::Unfreeze { at, .. }
        | Event::Tick { at } => *at = 0,
    }
    body
}

impl Requests {
    /// Looks `event` up by kind and id.
    pub(super) fn seen(&self, event: &Event) -> Seen<'_> {
        let Some(slot) = slot(event) else {
            return Seen::New;
        };
        match self.by_kind[slot].get(request_id(event)) {
            None => Seen::New,
            Some(stored) if stored.body == body(event) => Seen::Replay(&stored.outcome),
            Some(_) => Seen::Conflict,
        }
    }

    /// Stores `outcome` as the answer to every later request with the id
    /// and body of `event`.
    pub(super) fn remember(&mut self, event: &Event, outcome: &Outcome) {
        let Some(slot) = slot(event) else {
            return;
        };
        let stored = Stored {
            body: body(event),
            outcome: Outcome {
                request_id: outcome.request_id.clone(),
                kind: outcome.kind,
                at: outcome.at,
                status: outcome.status.clone(),
                replay: false,
                verdict: outcome.verdict,
                amount: outcome.amount,
                decision: None,
                expired: Vec::new(),
            },
        };
        self.by_kind[slot].insert(outcome.request_id.clone(), stored);
    }

    /// The stored outcome of the claim request `id`, if there was one.
    pub(super) fn claim_outcome(&self, id: &str) -> Option<&Outcome> {
        self.by_kind[2].get(id).map(|stored| &stored.outcome)
    }

    /// How many requests are stored.
    pub(super) fn len(&self) -> usize {
        self.by_kind.iter().map(HashMap::len).sum()
    }
}
