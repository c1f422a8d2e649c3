//! Native test helpers: fixtures of ordinary requests, and a runner that puts
//! a rule through the same JSON encoding the Wasm build uses.
//!
//! ```
//! use rules_sdk::{testing, ClaimInput, Decision, RuleError, RuleOutput, Verdict};
//!
//! fn rule(input: &ClaimInput) -> Result<Decision, RuleError> {
//!     Ok(if input.facts.user_claims_today >= 10 { Decision::deny("limit") } else { Decision::allow() })
//! }
//!
//! let mut input = testing::claim_fixture();
//! input.facts.user_claims_today = 10;
//! assert_eq!(testing::verdict(&testing::run(rule, &input)), Some(Verdict::Deny));
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::ABI_VERSION;
use crate::amount::Amount;
use crate::guest::evaluate_bytes;
use crate::types::{
    ClaimFacts, ClaimInput, ClaimRequest, Decision, Hook, PayoutFacts, PayoutInput, PayoutRequest,
    RuleError, RuleInput, RuleOutput, Verdict,
};

/// 2026-12-03 12:00:00 UTC, the logical time of every fixture.
pub const FIXTURE_NOW: i64 = 1_796_299_200;

fn fixture_amount(text: &str) -> Amount {
    Amount::parse(text).unwrap_or_default()
}

/// An ordinary claim of 1.23 by a month-old account, with empty settings.
pub fn claim_fixture() -> ClaimInput {
    RuleInput {
        abi_version: ABI_VERSION,
        hook: Hook::Claim,
        rule_id: "rule-under-test".into(),
        now: FIXTURE_NOW,
        settings: serde_json::json!({}),
        request: ClaimRequest {
            claim_id: "c-1".into(),
            packet_id: "p-1".into(),
            merchant_id: "m-1".into(),
            campaign_id: Some("spring".into()),
            user_id: "u-1".into(),
            amount: fixture_amount("1.23"),
            packet_total: fixture_amount("10.00"),
            device_id: Some("d-1".into()),
            ip: Some("10.0.0.1".into()),
        },
        facts: ClaimFacts {
            account_age_seconds: Some(30 * 86_400),
            utc_offset_minutes: 480,
            user_claims_today: 1,
            user_claimed_today: fixture_amount("2.00"),
            user_claims_last_hour: 1,
            user_campaign_claims: 0,
            user_campaign_claimed: Amount::ZERO,
            device_distinct_users_24h: 1,
            device_recent_users: vec!["u-1".into()],
            ip_claims_last_hour: 1,
        },
    }
}

/// An ordinary payout of 1.23, an hour after its claim, with empty settings.
pub fn payout_fixture() -> PayoutInput {
    RuleInput {
        abi_version: ABI_VERSION,
        hook: Hook::Payout,
        rule_id: "rule-under-test".into(),
        now: FIXTURE_NOW,
        settings: serde_json::json!({}),
        request: PayoutRequest {
            payout_id: "po-1".into(),
            claim_id: "c-1".into(),
            packet_id: "p-1".into(),
            merchant_id: "m-1".into(),
            campaign_id: Some("spring".into()),
            user_id: "u-1".into(),
            amount: fixture_amount("1.23"),
            device_id: Some("d-1".into()),
            ip: Some("10.0.0.1".into()),
        },
        facts: PayoutFacts {
            account_age_seconds: Some(30 * 86_400),
            utc_offset_minutes: 480,
            seconds_since_claim: 3_600,
            user_payouts_today: 1,
            user_paid_today: fixture_amount("2.00"),
            user_payouts_last_hour: 0,
            user_distinct_packets_paid_24h: 1,
            merchant_paid_today: fixture_amount("100.00"),
        },
    }
}

/// Runs `rule` on `input` through the exact JSON path of the Wasm build:
/// the input, settings included, is encoded, decoded into the rule's own
/// types, and the answer is encoded and decoded again.
pub fn run<R, F, S, I>(
    rule: impl FnOnce(&RuleInput<R, F, S>) -> Result<Decision, RuleError>,
    input: &I,
) -> RuleOutput
where
    R: DeserializeOwned,
    F: DeserializeOwned,
    S: DeserializeOwned,
    I: Serialize,
{
    let bytes = serde_json::to_vec(input).unwrap_or_default();
    run_bytes(rule, &bytes)
}

/// Runs `rule` on raw input bytes, such as a JSON fixture file.
pub fn run_bytes<R, F, S>(
    rule: impl FnOnce(&RuleInput<R, F, S>) -> Result<Decision, RuleError>,
    input: &[u8],
) -> RuleOutput
where
    R: DeserializeOwned,
    F: DeserializeOwned,
    S: DeserializeOwned,
{
    let out = evaluate_bytes(input, rule);
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| RuleOutput::Error(RuleError::new(format!("undecodable output: {e}"))))
}

/// The verdict of an output, or `None` for an error.
pub fn verdict(output: &RuleOutput) -> Option<Verdict> {
    match output {
        RuleOutput::Decision(d) => Some(d.verdict),
        RuleOutput::Error(_) => None,
    }
}

/// The reason code of an output, or `None` for an error.
pub fn reason(output: &RuleOutput) -> Option<&str> {
    match output {
        RuleOutput::Decision(d) => Some(&d.reason),
        RuleOutput::Error(_) => None,
    }
}

/// Parses an amount in a test.
///
/// # Panics
///
/// Panics when `text` is not a valid amount: a bug in the test itself.
pub fn amount(text: &str) -> Amount {
    match Amount::parse(text) {
        Ok(a) => a,
        Err(e) => panic!("test amount: {e}"),
    }
}

/// Asserts that `output` is a decision with `verdict` and `reason`.
///
/// # Panics
///
/// Panics, showing the output, when it is an error or another decision.
pub fn assert_decision(output: &RuleOutput, verdict: Verdict, reason: &str) {
    assert_eq!(self::verdict(output), Some(verdict), "{output:?}");
    assert_eq!(self::reason(output), Some(reason), "{output:?}");
}

/// Asserts that `output` is a rule error whose message contains `fragment`.
///
/// # Panics
///
/// Panics, showing the output, when it is a decision or another error.
pub fn assert_error(output: &RuleOutput, fragment: &str) {
    match output {
        RuleOutput::Error(e) => assert!(e.error.contains(fragment), "{e:?}"),
        RuleOutput::Decision(d) => panic!("expected an error containing {fragment:?}, got {d:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_helpers_accept_what_they_describe() {
        let out = run(over, &{
            let mut i = claim_fixture();
            i.settings = serde_json::json!({"max": "1.00"});
            i
        });
        assert_decision(&out, Verdict::Deny, "over");
        let err = run(over, &claim_fixture());
        assert_error(&err, "max");
        assert_eq!(amount("4.81").fen(), 481);
    }

    fn over(input: &ClaimInput<Limit>) -> Result<Decision, RuleError> {
        Ok(if input.request.amount > input.settings.max {
            Decision::deny("over")
        } else {
            Decision::allow()
        })
    }

    #[derive(serde::Deserialize)]
    struct Limit {
        max: Amount,
    }

    #[test]
    fn settings_cross_the_json_path() {
        let mut input = claim_fixture();
        input.settings = serde_json::json!({"max": "1.00"});
        assert_eq!(verdict(&run(over, &input)), Some(Verdict::Deny));
        input.settings = serde_json::json!({"max": "2.00"});
        assert_eq!(verdict(&run(over, &input)), Some(Verdict::Allow));
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let mut input = claim_fixture();
        input.settings = serde_json::json!({"max": 1.0});
        assert_eq!(verdict(&run(over, &input)), None);
    }

    #[test]
    fn wrong_abi_version_is_an_error() {
        let mut input = claim_fixture();
        input.abi_version = 2;
        assert_eq!(verdict(&run(over, &input)), None);
    }
}
