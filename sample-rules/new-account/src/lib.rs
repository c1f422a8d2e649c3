//! # new-account: large claims by young accounts
//!
//! Platform rule on the `claim` hook.
//!
//! ## Risk
//!
//! Accounts registered in bulk (or bought freshly registered) are the raw
//! material of red-packet farming: they are days old when they start claiming.
//! Small shares are not worth a person's time, but a large share claimed by an
//! account younger than a week is held for review.
//!
//! An account whose age the host does not know is treated like a young one:
//! not knowing is never a reason to pay a large share (case R02 of the
//! product's cases). An age below zero (an account "created" after the claim,
//! a clock or data fault) is also treated as young.
//!
//! ## Settings
//!
//! The rule's `settings` table, shown as the JSON the rule receives:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `min_age_seconds` | integer ≥ 1 | `604800` (7 days) | an account younger than this is young |
//! | `large_amount` | amount string | `"50.00"` | a claim above this is large |
//!
//! ```json
//! {"min_age_seconds": 604800, "large_amount": "50.00"}
//! ```
//!
//! `large_amount` may be `"0.00"`: every claim by a young account is then
//! reviewed. A `min_age_seconds` below 1, a malformed amount, an unknown
//! setting or a value of the wrong type makes the rule answer with an error,
//! never a verdict.
//!
//! ## Reason codes
//!
//! | code | verdict | when |
//! |---|---|---|
//! | `ok` | allow | the claim is not large, or the account is old enough |
//! | `new_account_large_claim` | review | `account_age_seconds < min_age_seconds` and `amount > large_amount` |
//! | `unknown_account_age` | review | `account_age_seconds` is missing and `amount > large_amount` |
//!
//! An account exactly `min_age_seconds` old is not young; a claim of exactly
//! `large_amount` is not large.
//!
//! ## Missing data
//!
//! A missing account age reviews a large claim (`unknown_account_age`); it
//! never allows it. It does not matter for a claim that is not large.

use rules_sdk::{Amount, ClaimInput, Decision, RuleError};
use serde::Deserialize;

/// Reason code of a large claim by a young account.
pub const REASON_NEW_ACCOUNT_LARGE_CLAIM: &str = "new_account_large_claim";
/// Reason code of a large claim by an account of unknown age.
pub const REASON_UNKNOWN_ACCOUNT_AGE: &str = "unknown_account_age";

/// Default for [`Settings::min_age_seconds`]: 7 days.
pub const DEFAULT_MIN_AGE_SECONDS: i64 = 7 * 24 * 60 * 60;
/// Default for [`Settings::large_amount`]: 50.00 CNY.
pub const DEFAULT_LARGE_AMOUNT: Amount = Amount::from_yuan(50);

/// The rule's settings; every field is optional and has a documented default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// An account younger than this many seconds is young. Default
    /// [`DEFAULT_MIN_AGE_SECONDS`] (7 days). Must be at least 1.
    pub min_age_seconds: i64,
    /// A claim above this amount is large. Default [`DEFAULT_LARGE_AMOUNT`]
    /// (50.00).
    pub large_amount: Amount,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            min_age_seconds: DEFAULT_MIN_AGE_SECONDS,
            large_amount: DEFAULT_LARGE_AMOUNT,
        }
    }
}

impl Settings {
    /// Checks that the age threshold can make an account young.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] when `min_age_seconds` is below 1.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.min_age_seconds < 1 {
            return Err(RuleError::new("setting min_age_seconds must be at least 1"));
        }
        Ok(())
    }
}

/// The `claim` hook: reviews large claims by young accounts or accounts of
/// unknown age.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::validate`]).
pub fn claim(input: &ClaimInput<Settings>) -> Result<Decision, RuleError> {
    let settings = &input.settings;
    settings.validate()?;
    let amount = input.request.amount;
    if amount <= settings.large_amount {
        return Ok(Decision::allow());
    }
    match input.facts.account_age_seconds {
        None => Ok(
            Decision::review(REASON_UNKNOWN_ACCOUNT_AGE).with_note(format!(
                "claim of {amount} above {}, account age unknown",
                settings.large_amount
            )),
        ),
        Some(age) if age < settings.min_age_seconds => Ok(Decision::review(
            REASON_NEW_ACCOUNT_LARGE_CLAIM,
        )
        .with_note(format!(
            "claim of {amount} above {}, account {age} s old, younger than {} s",
            settings.large_amount, settings.min_age_seconds
        ))),
        Some(_) => Ok(Decision::allow()),
    }
}

rules_sdk::export_rule!(claim => claim);

#[cfg(test)]
mod tests {
    use rules_sdk::{RuleOutput, Verdict, testing};
    use serde_json::json;

    use super::*;
    use rules_sdk::testing::{amount, assert_decision, assert_error};

    const DAY: i64 = 86_400;

    fn input(age: Option<i64>, claim: &str) -> ClaimInput {
        let mut input = testing::claim_fixture();
        input.facts.account_age_seconds = age;
        input.request.amount = amount(claim);
        input
    }

    fn decide(input: &ClaimInput) -> RuleOutput {
        testing::run(claim, input)
    }

    #[test]
    fn defaults_are_a_week_and_fifty_yuan() {
        let settings = Settings::default();
        assert_eq!(settings.min_age_seconds, 604_800);
        assert_eq!(settings.large_amount, amount("50.00"));
    }

    #[test]
    fn ordinary_claims_are_allowed() {
        assert_decision(&decide(&testing::claim_fixture()), Verdict::Allow, "ok");
        assert_decision(
            &decide(&input(Some(30 * DAY), "80.00")),
            Verdict::Allow,
            "ok",
        );
        assert_decision(&decide(&input(Some(0), "1.00")), Verdict::Allow, "ok");
    }

    #[test]
    fn a_large_claim_by_a_young_account_is_reviewed() {
        let output = decide(&input(Some(DAY), "80.00"));
        assert_decision(&output, Verdict::Review, REASON_NEW_ACCOUNT_LARGE_CLAIM);
        match output {
            RuleOutput::Decision(d) => assert_eq!(
                d.note.as_deref(),
                Some("claim of 80.00 above 50.00, account 86400 s old, younger than 604800 s")
            ),
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn the_age_boundary_is_exactly_seven_days() {
        assert_decision(
            &decide(&input(Some(7 * DAY - 1), "50.01")),
            Verdict::Review,
            REASON_NEW_ACCOUNT_LARGE_CLAIM,
        );
        assert_decision(
            &decide(&input(Some(7 * DAY), "50.01")),
            Verdict::Allow,
            "ok",
        );
    }

    #[test]
    fn the_amount_boundary_is_exactly_fifty_yuan() {
        assert_decision(&decide(&input(Some(DAY), "50.00")), Verdict::Allow, "ok");
        assert_decision(
            &decide(&input(Some(DAY), "50.01")),
            Verdict::Review,
            REASON_NEW_ACCOUNT_LARGE_CLAIM,
        );
    }

    #[test]
    fn a_negative_age_counts_as_young() {
        assert_decision(
            &decide(&input(Some(-5), "80.00")),
            Verdict::Review,
            REASON_NEW_ACCOUNT_LARGE_CLAIM,
        );
    }

    /// R02: a claim of 80.00 whose account age is missing is never allowed.
    #[test]
    fn r02_missing_account_age_on_a_large_claim_is_never_allowed() {
        assert_decision(
            &decide(&input(None, "80.00")),
            Verdict::Review,
            REASON_UNKNOWN_ACCOUNT_AGE,
        );
        assert_decision(
            &decide(&input(None, "50.01")),
            Verdict::Review,
            REASON_UNKNOWN_ACCOUNT_AGE,
        );
        // A claim that is not large does not need the age.
        assert_decision(&decide(&input(None, "50.00")), Verdict::Allow, "ok");
    }

    #[test]
    fn an_absent_age_field_reads_as_unknown() {
        let mut value = serde_json::to_value(input(Some(DAY), "80.00")).expect("input encodes");
        let facts = value["facts"].as_object_mut().expect("facts is an object");
        facts.remove("account_age_seconds");
        let bytes = serde_json::to_vec(&value).expect("input encodes");
        assert_decision(
            &testing::run_json(claim, &bytes),
            Verdict::Review,
            REASON_UNKNOWN_ACCOUNT_AGE,
        );
    }

    #[test]
    fn settings_override_the_defaults() {
        let mut input = input(Some(20 * DAY), "10.00");
        input.settings = json!({"min_age_seconds": 30 * DAY, "large_amount": "9.99"});
        assert_decision(
            &decide(&input),
            Verdict::Review,
            REASON_NEW_ACCOUNT_LARGE_CLAIM,
        );
        input.settings = json!({"large_amount": "0.00"});
        input.facts.account_age_seconds = Some(DAY);
        input.request.amount = amount("0.01");
        assert_decision(
            &decide(&input),
            Verdict::Review,
            REASON_NEW_ACCOUNT_LARGE_CLAIM,
        );
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let cases = [
            (json!({"min_age_seconds": 0}), "min_age_seconds"),
            (json!({"min_age_seconds": -604_800}), "min_age_seconds"),
            (json!({"min_age_seconds": 7.5}), "cannot decode input"),
            (json!({"large_amount": 50}), "cannot decode input"),
            (json!({"large_amount": "-50.00"}), "cannot decode input"),
            (json!({"large_amount": "50.001"}), "cannot decode input"),
            (json!({"min_age_days": 7}), "unknown field"),
        ];
        for (settings, fragment) in cases {
            // A claim that is not large still reports bad settings.
            let mut input = input(Some(30 * DAY), "1.00");
            input.settings = settings;
            assert_error(&decide(&input), fragment);
        }
    }
}
