//! # payout-budget: daily payout budget for a merchant's packets
//!
//! Merchant rule on the `payout` hook: each merchant runs its own instance with
//! its own budget, and it sees only that merchant's packets.
//!
//! ## Risk
//!
//! A merchant plans how much its packets should pay out per day. Paying far
//! more than planned means something went wrong: a leaked campaign link, a
//! farm that got past the claim rules, a packet created with the wrong total.
//! This rule holds every payout past the day's budget for a person to approve
//! or reject, so the merchant can look before more money leaves.
//!
//! `facts.merchant_paid_today` is the sum the merchant's packets paid out in
//! the merchant's local day before this payout. A payout that lands exactly on
//! the budget is allowed; one that would take the day past it is reviewed.
//!
//! ## Settings
//!
//! The rule's `settings` table, shown as the JSON the rule receives:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `daily_budget` | amount string > 0 | **required** | most the merchant's packets may pay out per local day without review |
//!
//! ```json
//! {"daily_budget": "5000.00"}
//! ```
//!
//! There is no sensible default budget, so a missing `daily_budget` makes the
//! rule answer with an error, as do a zero or malformed budget, an unknown
//! setting or a value of the wrong type: an error, never a verdict.
//!
//! ## Reason codes
//!
//! | code | verdict | when |
//! |---|---|---|
//! | `ok` | allow | `merchant_paid_today + amount <= daily_budget` |
//! | `budget_exceeded` | review | `merchant_paid_today + amount > daily_budget` |
//!
//! ## Missing data
//!
//! `merchant_paid_today` is required by the ABI, so an input without it fails
//! to decode and the host applies the rule's failure verdict. A sum past the
//! largest amount the ABI carries counts as over the budget.

use rules_sdk::{Amount, Decision, PayoutInput, RuleError};
use serde::Deserialize;

/// Reason code of a payout past the merchant's daily budget.
pub const REASON_BUDGET_EXCEEDED: &str = "budget_exceeded";

/// The rule's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Most the merchant's packets may pay out per local day, this payout
    /// included, before payouts are held for review. Required; no default.
    /// Must be above zero.
    pub daily_budget: Option<Amount>,
}

impl Settings {
    /// The configured budget.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] when `daily_budget` is missing or zero.
    pub fn budget(&self) -> Result<Amount, RuleError> {
        match self.daily_budget {
            None => Err(RuleError::new("setting daily_budget is required")),
            Some(Amount::ZERO) => Err(RuleError::new("setting daily_budget must be above 0.00")),
            Some(budget) => Ok(budget),
        }
    }
}

/// The `payout` hook: reviews payouts past the merchant's daily budget.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::budget`]).
pub fn payout(input: &PayoutInput<Settings>) -> Result<Decision, RuleError> {
    let budget = input.settings.budget()?;
    let paid = input.facts.merchant_paid_today;
    let amount = input.request.amount;
    // A sum past the ABI's largest amount is necessarily over any budget.
    let over = paid.checked_add(amount).is_none_or(|total| total > budget);
    if over {
        return Ok(Decision::review(REASON_BUDGET_EXCEEDED)
            .with_note(format!("{paid} paid today plus {amount}, budget {budget}")));
    }
    Ok(Decision::allow())
}

rules_sdk::export_rule!(payout => payout);

#[cfg(test)]
mod tests {
    use rules_sdk::{AMOUNT_FEN_MAX, RuleOutput, Verdict, testing};
    use serde_json::json;

    use super::*;
    use rules_sdk::testing::{amount, assert_decision, assert_error};

    /// A payout of `payout` after `paid_today`, with a budget of 1,000.00.
    fn input(paid_today: &str, payout: &str) -> PayoutInput {
        let mut input = testing::payout_fixture();
        input.settings = json!({"daily_budget": "1000.00"});
        input.facts.merchant_paid_today = amount(paid_today);
        input.request.amount = amount(payout);
        input
    }

    fn decide(input: &PayoutInput) -> RuleOutput {
        testing::run(payout, input)
    }

    #[test]
    fn a_payout_within_budget_is_allowed() {
        assert_decision(&decide(&input("100.00", "1.23")), Verdict::Allow, "ok");
        assert_decision(&decide(&input("0.00", "999.99")), Verdict::Allow, "ok");
    }

    #[test]
    fn a_payout_landing_exactly_on_the_budget_is_allowed() {
        assert_decision(&decide(&input("990.00", "10.00")), Verdict::Allow, "ok");
        assert_decision(&decide(&input("0.00", "1000.00")), Verdict::Allow, "ok");
    }

    #[test]
    fn one_fen_past_the_budget_is_reviewed() {
        let output = decide(&input("990.00", "10.01"));
        assert_decision(&output, Verdict::Review, REASON_BUDGET_EXCEEDED);
        match output {
            RuleOutput::Decision(d) => assert_eq!(
                d.note.as_deref(),
                Some("990.00 paid today plus 10.01, budget 1000.00")
            ),
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
        assert_decision(
            &decide(&input("5000.00", "0.01")),
            Verdict::Review,
            REASON_BUDGET_EXCEEDED,
        );
    }

    #[test]
    fn a_sum_past_the_abi_maximum_is_over_the_budget() {
        let mut input = input("0.00", "0.01");
        input.facts.merchant_paid_today =
            Amount::from_fen(AMOUNT_FEN_MAX).expect("the maximum is an amount");
        input.settings = json!({"daily_budget": "10000000000000.00"});
        assert_decision(&decide(&input), Verdict::Review, REASON_BUDGET_EXCEEDED);
    }

    #[test]
    fn a_missing_budget_is_an_error_not_a_verdict() {
        let mut input = input("0.00", "0.01");
        input.settings = json!({});
        assert_error(&decide(&input), "daily_budget is required");
        input.settings = json!({"daily_budget": null});
        assert_error(&decide(&input), "daily_budget is required");
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let cases = [
            (json!({"daily_budget": "0.00"}), "above 0.00"),
            (json!({"daily_budget": 1000}), "cannot decode input"),
            (json!({"daily_budget": "1,000.00"}), "cannot decode input"),
            (json!({"daily_budget": "-1.00"}), "cannot decode input"),
            (
                json!({"daily_budget": "1000.00", "currency": "CNY"}),
                "unknown field",
            ),
            (json!({"budget": "1000.00"}), "unknown field"),
        ];
        for (settings, fragment) in cases {
            let mut input = input("0.00", "0.01");
            input.settings = settings;
            assert_error(&decide(&input), fragment);
        }
    }

    #[test]
    fn missing_facts_are_an_error_not_a_pass() {
        let mut value = serde_json::to_value(input("0.00", "0.01")).expect("input encodes");
        let facts = value["facts"].as_object_mut().expect("facts is an object");
        facts.remove("merchant_paid_today");
        let bytes = serde_json::to_vec(&value).expect("input encodes");
        assert_error(&testing::run_json(payout, &bytes), "merchant_paid_today");
    }
}
