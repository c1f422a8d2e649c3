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
    /// An operator unfreezes a user: money frozen from the wallet returns to
    /// the wallet, and frozen shares return to the review hold for a reviewer.
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

/// The longest id (request, merchant, packet, user, device, IP, campaign)
/// an event may carry, in bytes.
pub const ID_BYTES_MAX: usize = 128;

fn check_id(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("field `{field}` is empty"));
    }
    if value.len() > ID_BYTES_MAX {
        return Err(format!(
            "field `{field}` is {} bytes long; at most {ID_BYTES_MAX}",
            value.len()
        ));
    }
    if value.chars().any(crate::text::is_hidden) {
        return Err(format!(
            "field `{field}` contains a control or invisible formatting character (bidi, separator, zero-width)"
        ));
    }
    Ok(())
}

/// The longest traffic label, in bytes.
pub const LABEL_BYTES_MAX: usize = 32;

/// A label is a report key, not free text: 1 to [`LABEL_BYTES_MAX`] bytes of
/// `a-z 0-9 _ -`, so it can neither forge the report's lines nor bloat it.
fn check_label(label: &Option<String>) -> Result<(), String> {
    match label {
        Some(l)
            if l.is_empty()
                || l.len() > LABEL_BYTES_MAX
                || !l.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                }) =>
        {
            Err(format!(
                "field `label` must be 1 to {LABEL_BYTES_MAX} bytes of a-z 0-9 _ -"
            ))
        }
        _ => Ok(()),
    }
}

impl Event {
    /// Checks what the JSON schema cannot: every id is non-empty, at most
    /// [`ID_BYTES_MAX`] bytes and free of control characters, a label is
    /// a short lowercase key, and times are not negative.
    ///
    /// # Errors
    ///
    /// Returns a message naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.at() < 0 {
            return Err("field `at` is negative".into());
        }
        let optional = |field: &str, v: &Option<String>| match v {
            Some(v) => check_id(field, v),
            None => Ok(()),
        };
        match self {
            Event::Deposit { id, merchant, .. } => {
                check_id("id", id)?;
                check_id("merchant", merchant)
            }
            Event::CreatePacket {
                id,
                merchant,
                campaign,
                expires_in,
                ..
            } => {
                check_id("id", id)?;
                check_id("merchant", merchant)?;
                optional("campaign", campaign)?;
                match expires_in {
                    Some(s) if *s <= 0 => Err("field `expires_in` must be positive".into()),
                    _ => Ok(()),
                }
            }
            Event::Claim {
                id,
                packet,
                user,
                device,
                ip,
                label,
                ..
            } => {
                check_id("id", id)?;
                check_id("packet", packet)?;
                check_id("user", user)?;
                optional("device", device)?;
                optional("ip", ip)?;
                check_label(label)
            }
            Event::Payout {
                id,
                claim,
                device,
                ip,
                label,
                ..
            } => {
                check_id("id", id)?;
                check_id("claim", claim)?;
                optional("device", device)?;
                optional("ip", ip)?;
                check_label(label)
            }
            Event::ResolveReview { id, target, .. } => {
                check_id("id", id)?;
                check_id("target", target)
            }
            Event::Unfreeze { id, user, .. } => {
                check_id("id", id)?;
                check_id("user", user)
            }
            Event::Tick { .. } => Ok(()),
        }
    }

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

    /// Every event type name, as in the `type` field.
    pub const KINDS: [&'static str; 7] = [
        "deposit",
        "create_packet",
        "claim",
        "payout",
        "resolve_review",
        "unfreeze",
        "tick",
    ];

    /// The event's type name, as in the `type` field (one of [`Event::KINDS`]).
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
    fn empty_long_or_control_ids_are_refused() {
        let parse = |line: &str| serde_json::from_str::<Event>(line).expect("schema-valid");
        let ok = parse(r#"{"type":"claim","id":"c1","at":1,"packet":"p","user":"u"}"#);
        assert_eq!(ok.validate(), Ok(()));
        let empty = parse(r#"{"type":"claim","id":"c1","at":1,"packet":"p","user":""}"#);
        assert_eq!(empty.validate(), Err("field `user` is empty".to_string()));
        let long = format!(
            r#"{{"type":"deposit","id":"{}","at":1,"merchant":"m","amount":"1.00"}}"#,
            "x".repeat(ID_BYTES_MAX + 1)
        );
        assert!(parse(&long).validate().is_err_and(|e| e.contains("`id`")));
        let ctrl = parse(r#"{"type":"unfreeze","id":"a\nb","at":1,"user":"u"}"#);
        assert!(ctrl.validate().is_err_and(|e| e.contains("control")));
        // An id that reads as another in a report or a reviewer's tool.
        for id in ["u\\u202e1", "u\\u2028", "u\\u200b1"] {
            let line = format!(r#"{{"type":"claim","id":"c1","at":1,"packet":"p","user":"{id}"}}"#);
            assert!(
                parse(&line).validate().is_err_and(|e| e.contains("`user`")),
                "{id}"
            );
        }
        let chinese = parse(r#"{"type":"claim","id":"c1","at":1,"packet":"红包","user":"用户"}"#);
        assert_eq!(chinese.validate(), Ok(()));
        let neg = parse(r#"{"type":"tick","at":-5}"#);
        assert!(neg.validate().is_err());
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
