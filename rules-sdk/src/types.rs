//! The data that crosses the rule boundary: inputs, verdicts and outputs.
//!
//! Every type here is the JSON of ABI version 1, documented field by field in
//! `ABI.md`. The host serialises the inputs and parses the outputs with these
//! same definitions, so the two sides cannot drift apart.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;

/// The two points at which the host asks rules for a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    /// A user asks for a share of a packet.
    Claim,
    /// A claimed share is about to be paid to the user's wallet.
    Payout,
}

impl Hook {
    /// Both hooks, in a fixed order.
    pub const ALL: [Hook; 2] = [Hook::Claim, Hook::Payout];

    /// The lowercase name used in configs, records and export names.
    pub const fn as_str(self) -> &'static str {
        match self {
            Hook::Claim => "claim",
            Hook::Payout => "payout",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's answer, ordered by severity: `Allow < Review < Deny < Freeze`.
///
/// The host combines the verdicts of all rules on a request by taking the
/// most severe one, so no rule can loosen another's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Let the request through.
    Allow,
    /// Hold the money for a person to approve or reject.
    Review,
    /// Refuse the request; nothing is paid.
    Deny,
    /// Refuse the request and freeze the user's account and funds.
    Freeze,
}

impl Verdict {
    /// The lowercase name used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Review => "review",
            Verdict::Deny => "deny",
            Verdict::Freeze => "freeze",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest reason code a rule may return, in bytes.
pub const REASON_BYTES_MAX: usize = 64;
/// The longest note a rule may attach to its decision, in bytes.
pub const NOTE_BYTES_MAX: usize = 256;

/// True when `code` is a valid reason code: 1 to [`REASON_BYTES_MAX`] bytes of
/// `a-z`, `0-9`, `_`, `-` and `.`.
pub fn is_valid_reason(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= REASON_BYTES_MAX
        && code.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

/// The envelope around every rule input.
///
/// `R` is the hook's request, `F` the facts the host computed for it and `S`
/// the rule's own settings, taken from the `settings` table of its config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleInput<R, F, S = serde_json::Value> {
    /// Always [`crate::ABI_VERSION`].
    pub abi_version: u32,
    /// Which hook is being evaluated.
    pub hook: Hook,
    /// The rule's id in the host's config.
    pub rule_id: String,
    /// The logical time of the request, in seconds since the Unix epoch.
    pub now: i64,
    /// The rule's settings from the config; `{}` when it has none.
    pub settings: S,
    /// The request being decided.
    pub request: R,
    /// Facts and velocity features the host computed for this request.
    pub facts: F,
}

/// Input of the `claim` hook.
pub type ClaimInput<S = serde_json::Value> = RuleInput<ClaimRequest, ClaimFacts, S>;
/// Input of the `payout` hook.
pub type PayoutInput<S = serde_json::Value> = RuleInput<PayoutRequest, PayoutFacts, S>;

/// A user's request for a share of a packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// The claim's request id.
    pub claim_id: String,
    /// The packet being claimed.
    pub packet_id: String,
    /// The merchant that funded the packet.
    pub merchant_id: String,
    /// The merchant's campaign the packet belongs to, if any.
    pub campaign_id: Option<String>,
    /// The claiming user.
    pub user_id: String,
    /// The share the user would receive.
    pub amount: Amount,
    /// The packet's total.
    pub packet_total: Amount,
    /// The device the request came from, if the client sent one.
    pub device_id: Option<String>,
    /// The client IP address, if known.
    pub ip: Option<String>,
}

/// What the host knows about a claim beyond the request itself.
///
/// Counters cover the history before this request; they never include it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimFacts {
    /// Seconds since the user's account was created, when the host knows it.
    pub account_age_seconds: Option<i64>,
    /// The merchant's UTC offset in minutes, which defines "today".
    pub utc_offset_minutes: i32,
    /// The user's successful claims, on any packet, in the current local day.
    pub user_claims_today: u32,
    /// The sum of those claims.
    pub user_claimed_today: Amount,
    /// The user's successful claims in the last hour.
    pub user_claims_last_hour: u32,
    /// The user's successful claims in this packet's campaign.
    pub user_campaign_claims: u32,
    /// The sum of those claims.
    pub user_campaign_claimed: Amount,
    /// Distinct users, this one included, that claimed from this device in the last 24 h.
    pub device_distinct_users_24h: u32,
    /// Up to 32 of those users, sorted, this one included.
    pub device_recent_users: Vec<String>,
    /// Claims from this IP address in the last hour.
    pub ip_claims_last_hour: u32,
}

/// A request to pay a claimed share out to the user's wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutRequest {
    /// The payout's request id.
    pub payout_id: String,
    /// The claim being paid.
    pub claim_id: String,
    /// The packet of that claim.
    pub packet_id: String,
    /// The merchant that funded the packet.
    pub merchant_id: String,
    /// The merchant's campaign, if any.
    pub campaign_id: Option<String>,
    /// The user being paid.
    pub user_id: String,
    /// The amount to pay: the claimed share.
    pub amount: Amount,
    /// The device of the payout request, if known.
    pub device_id: Option<String>,
    /// The client IP address, if known.
    pub ip: Option<String>,
}

/// What the host knows about a payout beyond the request itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutFacts {
    /// Seconds since the user's account was created, when the host knows it.
    pub account_age_seconds: Option<i64>,
    /// The merchant's UTC offset in minutes, which defines "today".
    pub utc_offset_minutes: i32,
    /// Seconds between the claim and this payout request.
    pub seconds_since_claim: i64,
    /// The user's completed payouts in the current local day.
    pub user_payouts_today: u32,
    /// The sum of those payouts.
    pub user_paid_today: Amount,
    /// The user's completed payouts in the last hour.
    pub user_payouts_last_hour: u32,
    /// Distinct packets the user was paid from in the last 24 h.
    pub user_distinct_packets_paid_24h: u32,
    /// The sum the merchant's packets paid out in the merchant's local day.
    pub merchant_paid_today: Amount,
}

/// A rule's decision: a verdict and a reason code.
///
/// Unknown fields are refused, so an answer that is both a decision and an
/// error (`{"verdict":"allow","reason":"ok","error":".."}`) is not an allow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// A reason code (see [`is_valid_reason`]); `"ok"` is customary for allow.
    pub reason: String,
    /// An optional short note for the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Decision {
    /// An allow with reason `ok`.
    pub fn allow() -> Decision {
        Decision::new(Verdict::Allow, "ok")
    }

    /// A decision with a verdict and a reason code.
    pub fn new(verdict: Verdict, reason: &str) -> Decision {
        Decision {
            verdict,
            reason: reason.to_string(),
            note: None,
        }
    }

    /// A review with a reason code.
    pub fn review(reason: &str) -> Decision {
        Decision::new(Verdict::Review, reason)
    }

    /// A deny with a reason code.
    pub fn deny(reason: &str) -> Decision {
        Decision::new(Verdict::Deny, reason)
    }

    /// A freeze with a reason code.
    pub fn freeze(reason: &str) -> Decision {
        Decision::new(Verdict::Freeze, reason)
    }

    /// The same decision with a note attached (cut to [`NOTE_BYTES_MAX`]).
    pub fn with_note(mut self, note: impl Into<String>) -> Decision {
        let mut note: String = note.into();
        if note.len() > NOTE_BYTES_MAX {
            let mut end = NOTE_BYTES_MAX;
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            note.truncate(end);
        }
        self.note = Some(note);
        self
    }

    /// The more severe of two decisions; the first wins a tie.
    pub fn most_severe(self, other: Decision) -> Decision {
        if other.verdict > self.verdict {
            other
        } else {
            self
        }
    }
}

/// A rule's statement that it cannot decide (bad settings, missing data).
///
/// The host treats it like any other failure: the rule's failure verdict
/// applies, never allow unless configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleError {
    /// What went wrong, for the decision record.
    pub error: String,
}

impl RuleError {
    /// A rule error with a message.
    pub fn new(message: impl Into<String>) -> RuleError {
        RuleError {
            error: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)
    }
}

impl std::error::Error for RuleError {}

/// What a rule writes back: a decision, or an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleOutput {
    /// `{"verdict": .., "reason": .., "note": ..}`
    Decision(Decision),
    /// `{"error": ".."}`
    Error(RuleError),
}

impl From<Result<Decision, RuleError>> for RuleOutput {
    fn from(r: Result<Decision, RuleError>) -> RuleOutput {
        match r {
            Ok(d) => RuleOutput::Decision(d),
            Err(e) => RuleOutput::Error(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_order_by_severity() {
        assert!(Verdict::Allow < Verdict::Review);
        assert!(Verdict::Review < Verdict::Deny);
        assert!(Verdict::Deny < Verdict::Freeze);
        let d = Decision::allow().most_severe(Decision::review("x"));
        assert_eq!(d.verdict, Verdict::Review);
    }

    #[test]
    fn reason_codes_are_checked() {
        assert!(is_valid_reason("daily_claim_limit"));
        assert!(is_valid_reason("a.b-c_9"));
        assert!(!is_valid_reason(""));
        assert!(!is_valid_reason("Upper"));
        assert!(!is_valid_reason("has space"));
        assert!(!is_valid_reason(&"x".repeat(REASON_BYTES_MAX + 1)));
    }

    #[test]
    fn output_is_a_decision_or_an_error() {
        let d: RuleOutput =
            serde_json::from_str(r#"{"verdict":"deny","reason":"blocked"}"#).expect("decision");
        assert_eq!(d, RuleOutput::Decision(Decision::deny("blocked")));
        let e: RuleOutput = serde_json::from_str(r#"{"error":"no device"}"#).expect("error");
        assert_eq!(e, RuleOutput::Error(RuleError::new("no device")));
        assert!(serde_json::from_str::<RuleOutput>(r#"{"verdict":"maybe","reason":"x"}"#).is_err());
        assert!(
            serde_json::from_str::<RuleOutput>(r#"{"verdict":"allow","reason":"ok","error":"x"}"#)
                .is_err()
        );
    }
}
