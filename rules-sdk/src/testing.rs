//! Native test helpers: fixtures of ordinary requests, and a runner that puts
//! a rule through the same compact encoding the Wasm build uses, and through
//! the JSON encoding of ABI version 1 as well, and checks that both agree.
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

use crate::abi::ABI_VERSION_JSON;
use crate::amount::Amount;
use crate::compact::{self, Section};
use crate::guest::{evaluate_bytes, evaluate_json};
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
        abi_version: ABI_VERSION_JSON,
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
        abi_version: ABI_VERSION_JSON,
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

/// Runs `rule` on `input` through the exact path of the Wasm build: the
/// input, settings included, is encoded compactly (ABI version 2), decoded
/// into the rule's own types, and the answer is encoded as JSON and decoded
/// again.
///
/// It also runs the rule on the same input as JSON (ABI version 1) and
/// checks that the answers agree, so a test covers both encodings. Each
/// encoding writes its own version; `input.abi_version` is not used (to
/// test a wrong version, patch the bytes and use [`run_compact`]).
///
/// # Panics
///
/// Panics, showing both answers, when the two encodings give different
/// answers: a bug in the SDK's encoders, or a rule that reads
/// `abi_version`.
pub fn run<R, F, S, T>(
    rule: impl Fn(&RuleInput<R, F, S>) -> Result<Decision, RuleError>,
    input: &RuleInput<R, F, T>,
) -> RuleOutput
where
    R: Section + Serialize + DeserializeOwned,
    F: Section + Serialize + DeserializeOwned,
    S: DeserializeOwned,
    T: Serialize,
{
    let compact_out = match compact::encode(input) {
        Ok(bytes) => run_compact(&rule, &bytes),
        Err(e) => RuleOutput::Error(RuleError::new(format!("settings do not encode: {e}"))),
    };
    let json_out = match serde_json::to_value(input) {
        Ok(mut value) => {
            value["abi_version"] = serde_json::json!(ABI_VERSION_JSON);
            run_json(&rule, &serde_json::to_vec(&value).unwrap_or_default())
        }
        Err(e) => RuleOutput::Error(RuleError::new(format!("input does not encode: {e}"))),
    };
    // The two encodings' decode errors are worded differently; any other
    // answer must be the same.
    match (&compact_out, &json_out) {
        (RuleOutput::Error(_), RuleOutput::Error(_)) => {}
        _ => assert_eq!(
            compact_out, json_out,
            "the rule answers differently through the compact (left) and JSON (right) encodings"
        ),
    }
    compact_out
}

/// Runs `rule` on raw compact input bytes (ABI version 2).
pub fn run_compact<R, F, S>(
    rule: impl FnOnce(&RuleInput<R, F, S>) -> Result<Decision, RuleError>,
    input: &[u8],
) -> RuleOutput
where
    R: Section,
    F: Section,
    S: DeserializeOwned,
{
    decode_output(&evaluate_bytes(input, rule))
}

/// Runs `rule` on raw JSON input bytes (ABI version 1), such as a JSON
/// fixture file or an input with a field removed.
pub fn run_json<R, F, S>(
    rule: impl FnOnce(&RuleInput<R, F, S>) -> Result<Decision, RuleError>,
    input: &[u8],
) -> RuleOutput
where
    R: DeserializeOwned,
    F: DeserializeOwned,
    S: DeserializeOwned,
{
    decode_output(&evaluate_json(input, rule))
}

fn decode_output(out: &[u8]) -> RuleOutput {
    serde_json::from_slice(out)
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
        RuleOutput::Error(e) => assert!(
            e.error.contains(fragment),
            "expected an error containing {fragment:?}, got {e:?}"
        ),
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
        let mut bytes = compact::encode(&claim_fixture()).expect("encodes");
        assert_eq!(
            verdict(&run_compact(over_or_allow, &bytes)),
            Some(Verdict::Allow)
        );
        bytes[0] = 1;
        assert_error(&run_compact(over_or_allow, &bytes), "abi_version");
        let mut json = serde_json::to_value(claim_fixture()).expect("encodes");
        json["abi_version"] = serde_json::json!(2);
        let json = serde_json::to_vec(&json).expect("encodes");
        assert_error(&run_json(over_or_allow, &json), "abi version 2");
    }

    fn over_or_allow(input: &ClaimInput) -> Result<Decision, RuleError> {
        Ok(if input.request.amount.fen() > 10_000 {
            Decision::deny("over")
        } else {
            Decision::allow()
        })
    }

    #[test]
    #[should_panic(expected = "answers differently")]
    fn a_rule_that_tells_the_encodings_apart_is_caught() {
        run(
            |i: &ClaimInput| {
                Ok(if i.abi_version == 2 {
                    Decision::allow()
                } else {
                    Decision::deny("json")
                })
            },
            &claim_fixture(),
        );
    }
}
