//! # daily-limits: per-user claim limits per local day
//!
//! Platform rule on the `claim` hook.
//!
//! ## Risk
//!
//! WeChat caps what one user may take out of red packets in a day: a bounded
//! number of claims and a bounded sum. The cap limits what a single stolen,
//! rented or scripted account can drain from packets in one day, and turns a
//! bulk claiming campaign into many accounts, which the device and IP rules
//! then see.
//!
//! The host's facts `user_claims_today` and `user_claimed_today` cover the
//! user's successful claims in the merchant's local day **before** this
//! claim, so the claim is denied when the count has already reached the
//! limit, or when this claim would take the sum past the limit. A claim that
//! lands exactly on the amount limit is allowed.
//!
//! ## Settings
//!
//! The rule's `settings` table, shown as the JSON the rule receives:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `max_claims` | integer ≥ 1 | `10` | claims per user per local day |
//! | `max_amount` | amount string > 0 | `"1000.00"` | sum per user per local day |
//!
//! ```json
//! {"max_claims": 10, "max_amount": "1000.00"}
//! ```
//!
//! A setting of the wrong type, an unknown setting, a zero limit or a malformed
//! amount makes the rule answer with an error, never a verdict.
//!
//! ## Reason codes
//!
//! | code | verdict | when |
//! |---|---|---|
//! | `ok` | allow | both limits hold |
//! | `daily_claim_count` | deny | `user_claims_today >= max_claims` |
//! | `daily_claim_amount` | deny | `user_claimed_today + amount > max_amount` |
//!
//! When both limits are hit, `daily_claim_count` is reported.
//!
//! ## Missing data
//!
//! Every fact this rule reads is required by the ABI, so an input without them
//! fails to decode and the host applies the rule's failure verdict. A sum past
//! the largest amount the ABI carries counts as over the limit.

use rules_sdk::{Amount, ClaimInput, Decision, RuleError};
use serde::Deserialize;

/// Reason code of a claim over the daily claim count.
pub const REASON_CLAIM_COUNT: &str = "daily_claim_count";
/// Reason code of a claim over the daily claimed sum.
pub const REASON_CLAIM_AMOUNT: &str = "daily_claim_amount";

/// Default for [`Settings::max_claims`].
pub const DEFAULT_MAX_CLAIMS: u32 = 10;
/// Default for [`Settings::max_amount`]: 1,000.00 CNY.
pub const DEFAULT_MAX_AMOUNT: Amount = Amount::from_yuan(1000);

/// The rule's settings; every field is optional and has a documented default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Most successful claims a user may make per local day, this one
    /// included. Default [`DEFAULT_MAX_CLAIMS`] (10). Must be at least 1.
    pub max_claims: u32,
    /// Most a user may claim per local day, this claim included. Default
    /// [`DEFAULT_MAX_AMOUNT`] (1,000.00). Must be above zero.
    pub max_amount: Amount,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_claims: DEFAULT_MAX_CLAIMS,
            max_amount: DEFAULT_MAX_AMOUNT,
        }
    }
}

impl Settings {
    /// Checks that the limits can be met by at least one claim.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] naming the setting when `max_claims` is 0 or
    /// `max_amount` is zero: such a limit refuses every claim, which is a
    /// configuration mistake, not a policy.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.max_claims == 0 {
            return Err(RuleError::new("setting max_claims must be at least 1"));
        }
        if self.max_amount == Amount::ZERO {
            return Err(RuleError::new("setting max_amount must be above 0.00"));
        }
        Ok(())
    }
}

/// The `claim` hook: denies a claim that breaks the user's daily limits.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::validate`]).
pub fn claim(input: &ClaimInput<Settings>) -> Result<Decision, RuleError> {
    let settings = &input.settings;
    settings.validate()?;
    let facts = &input.facts;

    if facts.user_claims_today >= settings.max_claims {
        return Ok(Decision::deny(REASON_CLAIM_COUNT).with_note(format!(
            "{} claims today, limit {}",
            facts.user_claims_today, settings.max_claims
        )));
    }

    let amount = input.request.amount;
    // A sum past the ABI's largest amount is necessarily over any valid limit.
    let over = facts
        .user_claimed_today
        .checked_add(amount)
        .is_none_or(|total| total > settings.max_amount);
    if over {
        return Ok(Decision::deny(REASON_CLAIM_AMOUNT).with_note(format!(
            "{} claimed today plus {amount}, limit {}",
            facts.user_claimed_today, settings.max_amount
        )));
    }

    Ok(Decision::allow())
}

rules_sdk::export_rule!(claim => claim);

#[cfg(test)]
mod tests {
    use rules_sdk::{AMOUNT_FEN_MAX, RuleOutput, Verdict, testing};
    use serde_json::json;

    use super::*;
    use rules_sdk::testing::{amount, assert_decision, assert_error};

    /// An ordinary claim with the user's counters set as given.
    fn input(claims_today: u32, claimed_today: &str, claim: &str) -> ClaimInput {
        let mut input = testing::claim_fixture();
        input.facts.user_claims_today = claims_today;
        input.facts.user_claimed_today = amount(claimed_today);
        input.request.amount = amount(claim);
        input
    }

    fn decide(input: &ClaimInput) -> RuleOutput {
        testing::run(claim, input)
    }

    #[test]
    fn an_ordinary_claim_is_allowed() {
        assert_decision(&decide(&testing::claim_fixture()), Verdict::Allow, "ok");
    }

    #[test]
    fn defaults_are_wechat_limits() {
        let settings = Settings::default();
        assert_eq!(settings.max_claims, 10);
        assert_eq!(settings.max_amount, amount("1000.00"));
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn the_tenth_claim_is_allowed_and_the_eleventh_denied() {
        assert_decision(&decide(&input(9, "10.00", "1.00")), Verdict::Allow, "ok");
        let output = decide(&input(10, "10.00", "1.00"));
        assert_decision(&output, Verdict::Deny, REASON_CLAIM_COUNT);
        match output {
            RuleOutput::Decision(d) => {
                assert_eq!(d.note.as_deref(), Some("10 claims today, limit 10"));
            }
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
        assert_decision(
            &decide(&input(u32::MAX, "0.00", "0.01")),
            Verdict::Deny,
            REASON_CLAIM_COUNT,
        );
    }

    #[test]
    fn a_claim_landing_exactly_on_the_amount_limit_is_allowed() {
        assert_decision(&decide(&input(3, "999.00", "1.00")), Verdict::Allow, "ok");
        assert_decision(&decide(&input(0, "0.00", "1000.00")), Verdict::Allow, "ok");
    }

    #[test]
    fn one_fen_over_the_amount_limit_is_denied() {
        assert_decision(
            &decide(&input(3, "999.00", "1.01")),
            Verdict::Deny,
            REASON_CLAIM_AMOUNT,
        );
        assert_decision(
            &decide(&input(0, "0.00", "1000.01")),
            Verdict::Deny,
            REASON_CLAIM_AMOUNT,
        );
    }

    #[test]
    fn the_count_is_reported_when_both_limits_are_hit() {
        assert_decision(
            &decide(&input(10, "999.00", "5.00")),
            Verdict::Deny,
            REASON_CLAIM_COUNT,
        );
    }

    #[test]
    fn a_sum_past_the_abi_maximum_is_over_the_limit() {
        let mut input = input(0, "0.00", "1.00");
        input.facts.user_claimed_today =
            Amount::from_fen(AMOUNT_FEN_MAX).expect("the maximum is an amount");
        input.settings = json!({"max_amount": "10000000000000.00"});
        assert_decision(&decide(&input), Verdict::Deny, REASON_CLAIM_AMOUNT);
    }

    #[test]
    fn settings_override_the_defaults() {
        let mut input = input(2, "40.00", "10.01");
        input.settings = json!({"max_claims": 3, "max_amount": "50.00"});
        assert_decision(&decide(&input), Verdict::Deny, REASON_CLAIM_AMOUNT);
        input.request.amount = amount("10.00");
        assert_decision(&decide(&input), Verdict::Allow, "ok");
        input.facts.user_claims_today = 3;
        assert_decision(&decide(&input), Verdict::Deny, REASON_CLAIM_COUNT);
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let cases = [
            (json!({"max_claims": 0}), "max_claims"),
            (json!({"max_amount": "0.00"}), "max_amount"),
            (json!({"max_amount": 1000.0}), "cannot decode input"),
            (json!({"max_amount": "1000.001"}), "cannot decode input"),
            (json!({"max_claims": -1}), "cannot decode input"),
            (json!({"max_claim": 5}), "unknown field"),
            (json!({"max_claims": "10"}), "cannot decode input"),
        ];
        for (settings, fragment) in cases {
            let mut input = testing::claim_fixture();
            input.settings = settings;
            assert_error(&decide(&input), fragment);
        }
    }

    #[test]
    fn missing_counters_are_an_error_not_a_pass() {
        let mut value = serde_json::to_value(testing::claim_fixture()).expect("fixture encodes");
        let facts = value["facts"].as_object_mut().expect("facts is an object");
        facts.remove("user_claimed_today");
        let bytes = serde_json::to_vec(&value).expect("input encodes");
        assert_error(&testing::run_json(claim, &bytes), "user_claimed_today");
    }
}
