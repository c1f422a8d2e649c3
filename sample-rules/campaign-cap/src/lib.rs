//! # campaign-cap: per-user cap per campaign
//!
//! Merchant rule on the `claim` hook: each merchant runs its own instance with
//! its own settings, and it sees only that merchant's packets.
//!
//! ## Risk
//!
//! A merchant's promotional campaign is meant to reach many customers a
//! little each. Without a cap, one user (or one farm behind one account) can
//! collect share after share from the campaign's packets and drain its budget.
//! This rule caps what one user may claim per campaign, in count and in sum.
//!
//! The host's facts `user_campaign_claims` and `user_campaign_claimed` cover
//! the user's successful claims in this packet's campaign **before** this
//! claim, so the claim is denied when the count has already reached the cap,
//! or when this claim would take the sum past the cap. A claim that lands
//! exactly on the amount cap is allowed.
//!
//! A packet outside any campaign (`campaign_id` absent) is not capped by this
//! rule: it is allowed with the reason `no_campaign`, so the decision record
//! shows the cap did not apply. Platform-wide daily limits still hold.
//!
//! ## Settings
//!
//! The rule's `settings` table, shown as the JSON the rule receives:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `max_claims` | integer ≥ 1 | `3` | claims per user per campaign |
//! | `max_amount` | amount string > 0 | `"100.00"` | sum per user per campaign |
//!
//! ```json
//! {"max_claims": 3, "max_amount": "100.00"}
//! ```
//!
//! A zero cap, a malformed amount, an unknown setting or a value of the wrong
//! type makes the rule answer with an error, never a verdict, whether or not
//! the packet belongs to a campaign.
//!
//! ## Reason codes
//!
//! | code | verdict | when |
//! |---|---|---|
//! | `ok` | allow | both caps hold |
//! | `no_campaign` | allow | the packet belongs to no campaign |
//! | `campaign_claim_count` | deny | `user_campaign_claims >= max_claims` |
//! | `campaign_claim_amount` | deny | `user_campaign_claimed + amount > max_amount` |
//!
//! When both caps are hit, `campaign_claim_count` is reported.
//!
//! ## Missing data
//!
//! The counters are required by the ABI, so an input without them fails to
//! decode and the host applies the rule's failure verdict. A sum past the
//! largest amount the ABI carries counts as over the cap.

use rules_sdk::{Amount, ClaimInput, Decision, RuleError, Verdict};
use serde::Deserialize;

/// Reason code of a claim on a packet outside any campaign.
pub const REASON_NO_CAMPAIGN: &str = "no_campaign";
/// Reason code of a claim over the per-campaign claim count.
pub const REASON_CLAIM_COUNT: &str = "campaign_claim_count";
/// Reason code of a claim over the per-campaign claimed sum.
pub const REASON_CLAIM_AMOUNT: &str = "campaign_claim_amount";

/// Default for [`Settings::max_claims`].
pub const DEFAULT_MAX_CLAIMS: u32 = 3;
/// Default for [`Settings::max_amount`]: 100.00 CNY.
pub const DEFAULT_MAX_AMOUNT: Amount = Amount::from_yuan(100);

/// The rule's settings; every field is optional and has a documented default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Most successful claims a user may make per campaign, this one
    /// included. Default [`DEFAULT_MAX_CLAIMS`] (3). Must be at least 1.
    pub max_claims: u32,
    /// Most a user may claim per campaign, this claim included. Default
    /// [`DEFAULT_MAX_AMOUNT`] (100.00). Must be above zero.
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
    /// Checks that the caps can be met by at least one claim.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] naming the setting when `max_claims` is 0 or
    /// `max_amount` is zero: such a cap refuses every claim of the campaign,
    /// which is a configuration mistake (end the campaign instead).
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

/// The `claim` hook: denies a claim over the user's cap for the campaign.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::validate`]).
pub fn claim(input: &ClaimInput<Settings>) -> Result<Decision, RuleError> {
    let settings = &input.settings;
    settings.validate()?;
    let Some(campaign) = &input.request.campaign_id else {
        return Ok(Decision::new(Verdict::Allow, REASON_NO_CAMPAIGN));
    };
    let facts = &input.facts;

    if facts.user_campaign_claims >= settings.max_claims {
        return Ok(Decision::deny(REASON_CLAIM_COUNT).with_note(format!(
            "{} claims in campaign {campaign}, cap {}",
            facts.user_campaign_claims, settings.max_claims
        )));
    }

    let amount = input.request.amount;
    // A sum past the ABI's largest amount is necessarily over any valid cap.
    let over = facts
        .user_campaign_claimed
        .checked_add(amount)
        .is_none_or(|total| total > settings.max_amount);
    if over {
        return Ok(Decision::deny(REASON_CLAIM_AMOUNT).with_note(format!(
            "{} claimed in campaign {campaign} plus {amount}, cap {}",
            facts.user_campaign_claimed, settings.max_amount
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

    /// A claim in campaign "spring" with the user's campaign counters as given.
    fn input(campaign_claims: u32, campaign_claimed: &str, claim: &str) -> ClaimInput {
        let mut input = testing::claim_fixture();
        input.facts.user_campaign_claims = campaign_claims;
        input.facts.user_campaign_claimed = amount(campaign_claimed);
        input.request.amount = amount(claim);
        input
    }

    fn decide(input: &ClaimInput) -> RuleOutput {
        testing::run(claim, input)
    }

    #[test]
    fn an_ordinary_claim_is_allowed() {
        assert_decision(&decide(&testing::claim_fixture()), Verdict::Allow, "ok");
        assert_decision(&decide(&input(2, "50.00", "10.00")), Verdict::Allow, "ok");
    }

    #[test]
    fn the_third_claim_is_allowed_and_the_fourth_denied() {
        assert_decision(&decide(&input(2, "3.00", "1.00")), Verdict::Allow, "ok");
        let output = decide(&input(3, "3.00", "1.00"));
        assert_decision(&output, Verdict::Deny, REASON_CLAIM_COUNT);
        match output {
            RuleOutput::Decision(d) => {
                assert_eq!(
                    d.note.as_deref(),
                    Some("3 claims in campaign spring, cap 3")
                );
            }
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn a_claim_landing_exactly_on_the_amount_cap_is_allowed() {
        assert_decision(&decide(&input(2, "90.00", "10.00")), Verdict::Allow, "ok");
        assert_decision(&decide(&input(0, "0.00", "100.00")), Verdict::Allow, "ok");
    }

    #[test]
    fn one_fen_over_the_amount_cap_is_denied() {
        assert_decision(
            &decide(&input(2, "90.00", "10.01")),
            Verdict::Deny,
            REASON_CLAIM_AMOUNT,
        );
        assert_decision(
            &decide(&input(0, "0.00", "100.01")),
            Verdict::Deny,
            REASON_CLAIM_AMOUNT,
        );
    }

    #[test]
    fn the_count_is_reported_when_both_caps_are_hit() {
        assert_decision(
            &decide(&input(3, "99.00", "5.00")),
            Verdict::Deny,
            REASON_CLAIM_COUNT,
        );
    }

    #[test]
    fn a_sum_past_the_abi_maximum_is_over_the_cap() {
        let mut input = input(0, "0.00", "0.01");
        input.facts.user_campaign_claimed =
            Amount::from_fen(AMOUNT_FEN_MAX).expect("the maximum is an amount");
        input.settings = json!({"max_amount": "10000000000000.00"});
        assert_decision(&decide(&input), Verdict::Deny, REASON_CLAIM_AMOUNT);
    }

    #[test]
    fn a_packet_outside_any_campaign_is_not_capped() {
        let mut input = input(50, "5000.00", "99.00");
        input.request.campaign_id = None;
        assert_decision(&decide(&input), Verdict::Allow, REASON_NO_CAMPAIGN);
    }

    #[test]
    fn settings_override_the_defaults() {
        let mut input = input(1, "15.00", "5.01");
        input.settings = json!({"max_claims": 1});
        assert_decision(&decide(&input), Verdict::Deny, REASON_CLAIM_COUNT);
        input.settings = json!({"max_claims": 5, "max_amount": "20.00"});
        assert_decision(&decide(&input), Verdict::Deny, REASON_CLAIM_AMOUNT);
        input.request.amount = amount("5.00");
        assert_decision(&decide(&input), Verdict::Allow, "ok");
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let cases = [
            (json!({"max_claims": 0}), "max_claims"),
            (json!({"max_amount": "0"}), "max_amount"),
            (json!({"max_amount": 100}), "cannot decode input"),
            (json!({"max_amount": "1e2"}), "cannot decode input"),
            (json!({"max_claims": 3.5}), "cannot decode input"),
            (json!({"max_claims_per_user": 3}), "unknown field"),
        ];
        for (settings, fragment) in cases {
            let mut input = testing::claim_fixture();
            input.settings = settings.clone();
            assert_error(&decide(&input), fragment);
            // Also when the cap would not apply.
            input.request.campaign_id = None;
            assert_error(&decide(&input), fragment);
        }
    }
}
