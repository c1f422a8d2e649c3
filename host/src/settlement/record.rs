//! What the settlement core says about each event: the [`Outcome`], and the
//! [`DecisionRecord`] of every evaluation of the rules.

use rules_sdk::{Amount, ClaimFacts, ClaimRequest, Hook, PayoutFacts, PayoutRequest, Verdict};
use serde::{Deserialize, Serialize};

use super::SettlementError;
use crate::event::Event;
use crate::risk::RuleOutcome;

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "error")]
pub enum Status {
    /// The request was carried out; see the verdict for what the rules said.
    Accepted,
    /// The request was refused; nothing moved.
    Refused(SettlementError),
    /// The request id was used before with a different body; nothing moved
    /// and the first request's outcome stands.
    Conflict(SettlementError),
}

/// The result of one event.
///
/// A retry of a stored request returns that request's outcome with
/// `replay` set: the rules are not evaluated again and nothing moves. Its
/// `decision` is `None`, because no decision was made for the retry; the
/// decision was returned once, with the first outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// The request id (empty for a tick).
    pub request_id: String,
    /// The event kind, as in its `type` field.
    pub kind: &'static str,
    /// The logical time the request was processed at (see
    /// [`super::Settlement::apply`]).
    pub at: i64,
    /// Accepted, refused or conflict.
    #[serde(flatten)]
    pub status: Status,
    /// True when this is the stored outcome of an earlier request with the
    /// same id and body.
    pub replay: bool,
    /// The final verdict, when rules ran (or the host decided in their
    /// place, as for a payout of a frozen user).
    pub verdict: Option<Verdict>,
    /// The money this request moved: the deposit, the packet total, the
    /// share reserved, held, paid, returned or refunded, everything a
    /// freeze moved into the frozen account, or everything an unfreeze moved
    /// out of it (to the wallet and the review hold). Zero when nothing
    /// moved.
    pub amount: Amount,
    /// The decision record, when a decision was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionRecord>,
    /// Packets that expired before this event was processed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expired: Vec<Expiry>,
}

impl Outcome {
    /// A fresh outcome for `event` at `at`, accepted with nothing moved.
    pub(super) fn new(event: &Event, at: i64) -> Outcome {
        Outcome {
            request_id: request_id(event).to_string(),
            kind: event.kind(),
            at,
            status: Status::Accepted,
            replay: false,
            verdict: None,
            amount: Amount::ZERO,
            decision: None,
            expired: Vec::new(),
        }
    }

    /// True when the request was carried out (replays included).
    pub fn is_accepted(&self) -> bool {
        self.status == Status::Accepted
    }

    /// The refusal or conflict, if any.
    pub fn error(&self) -> Option<&SettlementError> {
        match &self.status {
            Status::Accepted => None,
            Status::Refused(e) | Status::Conflict(e) => Some(e),
        }
    }
}

/// The request id of `event`; empty for a tick.
pub(super) fn request_id(event: &Event) -> &str {
    match event {
        Event::Deposit { id, .. }
        | Event::CreatePacket { id, .. }
        | Event::Claim { id, .. }
        | Event::Payout { id, .. }
        | Event::ResolveReview { id, .. }
        | Event::Unfreeze { id, .. } => id,
        Event::Tick { .. } => "",
    }
}

/// Everything needed to re-execute a decision: the request and the facts
/// the rules saw. Serialises as `{"request": .., "facts": ..}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DecisionInput {
    /// Input of the claim hook.
    Claim {
        /// The claim request.
        request: ClaimRequest,
        /// The facts computed for it.
        facts: ClaimFacts,
    },
    /// Input of the payout hook.
    Payout {
        /// The payout request.
        request: PayoutRequest,
        /// The facts computed for it.
        facts: PayoutFacts,
    },
}

/// The record of one decision at a hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The claim or payout request id.
    pub request_id: String,
    /// The hook evaluated.
    pub hook: Hook,
    /// The logical time passed to the rules as `now`.
    pub at: i64,
    /// The final verdict.
    pub verdict: Verdict,
    /// The reason of the rule that set the verdict, `ok` for allow, or a
    /// `host:` reason when the host decided without rules.
    pub reason: String,
    /// Every rule that ran, in evaluation order; empty when the host decided.
    pub rules: Vec<RuleOutcome>,
    /// The request and facts the rules saw.
    pub input: DecisionInput,
}

/// A packet that expired, and what was refunded to its merchant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// The packet id.
    pub packet: String,
    /// The funding merchant, who got the refund.
    pub merchant: String,
    /// When the packet expired.
    pub expires_at: i64,
    /// The unclaimed escrow returned to the merchant.
    pub refunded: Amount,
}
