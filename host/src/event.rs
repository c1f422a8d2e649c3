//! The traffic format: one JSON object per line, each an event for the
//! settlement core. `README.md` documents every field.
//!
//! Every event carries `at`, its logical time in seconds since the Unix
//! epoch; the core never reads the wall clock, so a traffic file replays
//! exactly. Amounts are decimal strings ("12.30"), never JSON numbers.

use rules_sdk::Amount;
use serde::{Deserialize, Serialize};

/// How a packet's total is divided into shares at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitKind {
    /// Equal shares; the remainder fen go one each to the first shares.
    Fixed,
    /// Random shares ("lucky" packets), seeded from the packet id.
    Random,
}

/// A reviewer's decision on a held claim or payout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewDecision {
    /// Let the held claim or payout proceed.
    Approve,
    /// Refuse it; the share returns to the packet's escrow.
    Reject,
}

/// One line of traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Money arrives in a merchant's available balance from outside.
    Deposit {
        /// Request id of the deposit.
        id: String,
        /// Logical time, seconds since the Unix epoch.
        at: i64,
        /// The merchant credited.
        merchant: String,
        /// The amount deposited.
        amount: Amount,
    },
    /// A merchant funds a packet from its available balance; `id` is the
    /// merchant's bill number and becomes the packet id.
    CreatePacket {
        /// Request id: the merchant's bill number, also the packet id.
        id: String,
        /// Logical time.
        at: i64,
        /// The funding merchant.
        merchant: String,
        /// The packet's total.
        total: Amount,
        /// Number of shares, 1 or more.
        shares: u32,
        /// How the total is split.
        split: SplitKind,
        /// The merchant's campaign, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign: Option<String>,
        /// Seconds until unclaimed escrow is refunded (default 24 h).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_in: Option<i64>,
    },
    /// A user asks for a share of a packet.
    Claim {
        /// Request id of the claim.
        id: String,
        /// Logical time.
        at: i64,
        /// The packet claimed from.
        packet: String,
        /// The claiming user.
        user: String,
        /// Device id, if the client sent one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        /// Client IP, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        /// When the user's account was created, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account_created_at: Option<i64>,
        /// Ground-truth label from the traffic generator; ignored by the core.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// Pay a claimed share out to the user's wallet.
    Payout {
        /// Request id of the payout.
        id: String,
        /// Logical time.
        at: i64,
        /// The claim being paid.
        claim: String,
        /// Device id of the payout request, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        /// Client IP, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        /// Ground-truth label; ignored by the core.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// A reviewer approves or rejects a claim or payout held for review.
    ResolveReview {
        /// Request id of the resolution.
        id: String,
        /// Logical time.
        at: i64,
        /// The claim id or payout id that is held.
        target: String,
        /// Approve or reject.
        decision: ReviewDecision,
    },
    /// An operator unfreezes a user; frozen funds return to the wallet.
    Unfreeze {
        /// Request id of the unfreeze.
        id: String,
        /// Logical time.
        at: i64,
        /// The user to unfreeze.
        user: String,
    },
    /// Advances the logical clock (running any expiries due) without a request.
    Tick {
        /// Logical time.
        at: i64,
    },
}

impl Event {
    /// The event's logical time.
    pub fn at(&self) -> i64 {
        match self {
            Event::Deposit { at, .. }
            | Event::CreatePacket { at, .. }
            | Event::Claim { at, .. }
            | Event::Payout { at, .. }
            | Event::ResolveReview { at, .. }
            | Event::Unfreeze { at, .. }
            | Event::Tick { at } => *at,
        }
    }

    /// The event's type name, as in the `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Deposit { .. } => "deposit",
            Event::CreatePacket { .. } => "create_packet",
            Event::Claim { .. } => "claim",
            Event::Payout { .. } => "payout",
            Event::ResolveReview { .. } => "resolve_review",
            Event::Unfreeze { .. } => "unfreeze",
            Event::Tick { .. } => "tick",
        }
    }

    /// The ground-truth label, for claims and payouts that carry one.
    pub fn label(&self) -> Option<&str> {
        match self {
            Event::Claim { label, .. } | Event::Payout { label, .. } => label.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_line_round_trips() {
        let line = r#"{"type":"claim","id":"c1","at":100,"packet":"p1","user":"u1","device":"d1"}"#;
        let e: Event = serde_json::from_str(line).expect("valid claim line");
        assert_eq!(e.kind(), "claim");
        assert_eq!(e.at(), 100);
        let back = serde_json::to_string(&e).expect("serialize");
        assert_eq!(serde_json::from_str::<Event>(&back).expect("re-parse"), e);
    }

    #[test]
    fn float_amounts_and_unknown_fields_are_refused() {
        assert!(
            serde_json::from_str::<Event>(
                r#"{"type":"deposit","id":"d","at":1,"merchant":"m","amount":1.5}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<Event>(r#"{"type":"tick","at":1,"surprise":true}"#).is_err()
        );
    }
}
