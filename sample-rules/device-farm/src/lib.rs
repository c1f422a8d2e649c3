//! # device-farm: many accounts on one device, scripted claim bursts
//!
//! Platform rule on the `claim` hook.
//!
//! ## Risk
//!
//! Red-packet farms run many accounts from a handful of phones or emulators
//! and claim by script. Three signals the host computes show it:
//!
//! - **Many accounts on one device.** `facts.device_distinct_users_24h` counts
//!   the distinct users, this one included, that claimed from this device in
//!   the last 24 hours. A family phone shows two or three; a farm shows more.
//! - **Scripted bursts from one IP.** `facts.ip_claims_last_hour` counts the
//!   claims from this IP address in the last hour, before this one.
//! - **Scripted bursts from one user.** `facts.user_claims_last_hour` counts the
//!   user's successful claims in the last hour, before this one.
//!
//! A claim without a device id (or without an IP address) cannot be checked
//! for the first (or second) signal, and farm scripts drop identifiers
//! precisely to dodge such checks, so it goes to review instead of passing.
//!
//! ## Settings
//!
//! The rule's `settings` table, shown as the JSON the rule receives:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `device_users_review` | integer ≥ 2 | `3` | review when `device_distinct_users_24h >=` this |
//! | `device_users_deny` | integer ≥ `device_users_review` | `5` | deny when `device_distinct_users_24h >=` this |
//! | `ip_claims_review` | integer ≥ 1 | `20` | review when `ip_claims_last_hour >=` this |
//! | `ip_claims_deny` | integer ≥ `ip_claims_review` | `60` | deny when `ip_claims_last_hour >=` this |
//! | `user_hourly_claims_max` | integer | `6` | review when `user_claims_last_hour >` this |
//!
//! ```json
//! {"device_users_review": 3, "device_users_deny": 5,
//!  "ip_claims_review": 20, "ip_claims_deny": 60, "user_hourly_claims_max": 6}
//! ```
//!
//! The device thresholds start at 2 because the count includes the claiming
//! user: a threshold of 1 would flag every claim. A review threshold above its
//! deny threshold, a zero threshold, an unknown setting or a value of the wrong
//! type makes the rule answer with an error, never a verdict.
//!
//! ## Reason codes
//!
//! | code | verdict | when |
//! |---|---|---|
//! | `ok` | allow | no signal |
//! | `device_many_users` | review, deny | too many accounts on the claim's device |
//! | `ip_claim_burst` | review, deny | too many claims from the claim's IP in the last hour |
//! | `user_claim_burst` | review | too many claims by the user in the last hour |
//! | `missing_device` | review | the claim has no (or a blank) device id |
//! | `missing_ip` | review | the claim has no (or a blank) IP address |
//!
//! Every signal is evaluated and the most severe wins; among equally severe
//! ones the first in this table is reported.
//!
//! ## Missing data
//!
//! A missing or blank device id or IP address is reviewed, never allowed. A
//! claim with a device whose distinct-user count is 0 contradicts the host's
//! contract (the count includes the claiming user), so the rule answers with
//! an error rather than guess.

use rules_sdk::{ClaimInput, Decision, RuleError};
use serde::Deserialize;

/// Reason code of a device used by too many accounts.
pub const REASON_DEVICE_MANY_USERS: &str = "device_many_users";
/// Reason code of too many claims from one IP address.
pub const REASON_IP_CLAIM_BURST: &str = "ip_claim_burst";
/// Reason code of too many claims by one user.
pub const REASON_USER_CLAIM_BURST: &str = "user_claim_burst";
/// Reason code of a claim without a device id.
pub const REASON_MISSING_DEVICE: &str = "missing_device";
/// Reason code of a claim without an IP address.
pub const REASON_MISSING_IP: &str = "missing_ip";

/// The rule's settings; every field is optional and has a documented default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Review when the device's distinct users in 24 h, this one included,
    /// reach this. Default 3; at least 2.
    pub device_users_review: u32,
    /// Deny when the device's distinct users in 24 h, this one included,
    /// reach this. Default 5; at least `device_users_review`.
    pub device_users_deny: u32,
    /// Review when the claims from the IP in the last hour reach this.
    /// Default 20; at least 1.
    pub ip_claims_review: u32,
    /// Deny when the claims from the IP in the last hour reach this.
    /// Default 60; at least `ip_claims_review`.
    pub ip_claims_deny: u32,
    /// Review when the user's claims in the last hour, before this one, are
    /// more than this. Default 6.
    pub user_hourly_claims_max: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            device_users_review: 3,
            device_users_deny: 5,
            ip_claims_review: 20,
            ip_claims_deny: 60,
            user_hourly_claims_max: 6,
        }
    }
}

impl Settings {
    /// Checks that every threshold can tell normal traffic from a farm.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] naming the setting when a device threshold is
    /// below 2, an IP threshold is 0, or a review threshold is above its deny
    /// threshold.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.device_users_review < 2 {
            return Err(RuleError::new(
                "setting device_users_review must be at least 2 (the count includes the claiming user)",
            ));
        }
        if self.device_users_deny < self.device_users_review {
            return Err(RuleError::new(
                "setting device_users_deny must be at least device_users_review",
            ));
        }
        if self.ip_claims_review == 0 {
            return Err(RuleError::new(
                "setting ip_claims_review must be at least 1",
            ));
        }
        if self.ip_claims_deny < self.ip_claims_review {
            return Err(RuleError::new(
                "setting ip_claims_deny must be at least ip_claims_review",
            ));
        }
        Ok(())
    }
}

/// The value of an optional identifier, or `None` when it is absent or blank.
fn present(id: Option<&String>) -> Option<&str> {
    id.map(String::as_str).filter(|s| !s.trim().is_empty())
}

/// A verdict from a count and its review and deny thresholds, if any.
fn graded(count: u32, review: u32, deny: u32, reason: &str, what: &str) -> Option<Decision> {
    let decision = if count >= deny {
        Decision::deny(reason)
    } else if count >= review {
        Decision::review(reason)
    } else {
        return None;
    };
    Some(decision.with_note(format!(
        "{count} {what}, review at {review}, deny at {deny}"
    )))
}

/// The `claim` hook: reviews or denies device farms and scripted bursts.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::validate`]) or when a claim with a device reports 0 distinct
/// users on it.
pub fn claim(input: &ClaimInput<Settings>) -> Result<Decision, RuleError> {
    let settings = &input.settings;
    settings.validate()?;
    let facts = &input.facts;
    let request = &input.request;

    // In the order of the reason-code table: the first of equal severity wins.
    let mut findings: Vec<Decision> = Vec::new();
    let device = present(request.device_id.as_ref());
    if device.is_some() {
        if facts.device_distinct_users_24h == 0 {
            return Err(RuleError::new(
                "facts.device_distinct_users_24h is 0 for a claim with a device id",
            ));
        }
        findings.extend(graded(
            facts.device_distinct_users_24h,
            settings.device_users_review,
            settings.device_users_deny,
            REASON_DEVICE_MANY_USERS,
            "users on the device in 24 h",
        ));
    }
    let ip = present(request.ip.as_ref());
    if ip.is_some() {
        findings.extend(graded(
            facts.ip_claims_last_hour,
            settings.ip_claims_review,
            settings.ip_claims_deny,
            REASON_IP_CLAIM_BURST,
            "claims from the ip in the last hour",
        ));
    }
    if facts.user_claims_last_hour > settings.user_hourly_claims_max {
        findings.push(Decision::review(REASON_USER_CLAIM_BURST).with_note(format!(
            "{} claims by the user in the last hour, more than {}",
            facts.user_claims_last_hour, settings.user_hourly_claims_max
        )));
    }
    if device.is_none() {
        findings.push(Decision::review(REASON_MISSING_DEVICE));
    }
    if ip.is_none() {
        findings.push(Decision::review(REASON_MISSING_IP));
    }

    Ok(findings
        .into_iter()
        .reduce(Decision::most_severe)
        .unwrap_or_else(Decision::allow))
}

rules_sdk::export_rule!(claim => claim);

#[cfg(test)]
mod tests {
    use rules_sdk::{RuleOutput, Verdict, testing};
    use serde_json::json;

    use super::*;
    use rules_sdk::testing::{assert_decision, assert_error};

    /// An ordinary claim with the three velocity counters set as given.
    fn input(device_users: u32, ip_claims: u32, user_claims: u32) -> ClaimInput {
        let mut input = testing::claim_fixture();
        input.facts.device_distinct_users_24h = device_users;
        input.facts.ip_claims_last_hour = ip_claims;
        input.facts.user_claims_last_hour = user_claims;
        input
    }

    fn decide(input: &ClaimInput) -> RuleOutput {
        testing::run(claim, input)
    }

    #[test]
    fn an_ordinary_claim_is_allowed() {
        assert_decision(&decide(&testing::claim_fixture()), Verdict::Allow, "ok");
        assert_decision(&decide(&input(2, 19, 6)), Verdict::Allow, "ok");
    }

    #[test]
    fn device_users_review_at_three_and_deny_at_five() {
        assert_decision(&decide(&input(2, 1, 1)), Verdict::Allow, "ok");
        assert_decision(
            &decide(&input(3, 1, 1)),
            Verdict::Review,
            REASON_DEVICE_MANY_USERS,
        );
        assert_decision(
            &decide(&input(4, 1, 1)),
            Verdict::Review,
            REASON_DEVICE_MANY_USERS,
        );
        let output = decide(&input(5, 1, 1));
        assert_decision(&output, Verdict::Deny, REASON_DEVICE_MANY_USERS);
        match output {
            RuleOutput::Decision(d) => assert_eq!(
                d.note.as_deref(),
                Some("5 users on the device in 24 h, review at 3, deny at 5")
            ),
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn ip_claims_review_at_twenty_and_deny_at_sixty() {
        assert_decision(&decide(&input(1, 19, 1)), Verdict::Allow, "ok");
        assert_decision(
            &decide(&input(1, 20, 1)),
            Verdict::Review,
            REASON_IP_CLAIM_BURST,
        );
        assert_decision(
            &decide(&input(1, 59, 1)),
            Verdict::Review,
            REASON_IP_CLAIM_BURST,
        );
        assert_decision(
            &decide(&input(1, 60, 1)),
            Verdict::Deny,
            REASON_IP_CLAIM_BURST,
        );
    }

    #[test]
    fn more_than_six_user_claims_in_an_hour_is_reviewed() {
        assert_decision(&decide(&input(1, 1, 6)), Verdict::Allow, "ok");
        assert_decision(
            &decide(&input(1, 1, 7)),
            Verdict::Review,
            REASON_USER_CLAIM_BURST,
        );
        assert_decision(
            &decide(&input(1, 1, u32::MAX)),
            Verdict::Review,
            REASON_USER_CLAIM_BURST,
        );
    }

    #[test]
    fn the_most_severe_signal_wins_and_ties_keep_table_order() {
        // Device review, IP deny: deny from the IP.
        assert_decision(
            &decide(&input(3, 60, 7)),
            Verdict::Deny,
            REASON_IP_CLAIM_BURST,
        );
        // Both deny: the device comes first.
        assert_decision(
            &decide(&input(5, 60, 7)),
            Verdict::Deny,
            REASON_DEVICE_MANY_USERS,
        );
        // All review: the device comes first.
        assert_decision(
            &decide(&input(3, 20, 7)),
            Verdict::Review,
            REASON_DEVICE_MANY_USERS,
        );
        assert_decision(
            &decide(&input(1, 20, 7)),
            Verdict::Review,
            REASON_IP_CLAIM_BURST,
        );
    }

    #[test]
    fn a_claim_without_a_device_is_reviewed_not_allowed() {
        for device in [None, Some(String::new()), Some("  ".to_string())] {
            let mut input = input(1, 1, 1);
            input.request.device_id = device;
            assert_decision(&decide(&input), Verdict::Review, REASON_MISSING_DEVICE);
        }
    }

    #[test]
    fn a_missing_device_does_not_hide_a_deny_from_the_ip() {
        let mut input = input(0, 60, 1);
        input.request.device_id = None;
        assert_decision(&decide(&input), Verdict::Deny, REASON_IP_CLAIM_BURST);
    }

    #[test]
    fn a_claim_without_an_ip_is_reviewed_not_allowed() {
        for ip in [None, Some(String::new())] {
            let mut input = input(1, 0, 1);
            input.request.ip = ip;
            assert_decision(&decide(&input), Verdict::Review, REASON_MISSING_IP);
        }
        let mut input = input(5, 0, 1);
        input.request.ip = None;
        assert_decision(&decide(&input), Verdict::Deny, REASON_DEVICE_MANY_USERS);
    }

    #[test]
    fn a_device_with_zero_users_is_an_error() {
        assert_error(&decide(&input(0, 1, 1)), "device_distinct_users_24h");
    }

    #[test]
    fn settings_override_the_defaults() {
        let mut input = input(2, 5, 2);
        input.settings = json!({"device_users_review": 2, "device_users_deny": 2});
        assert_decision(&decide(&input), Verdict::Deny, REASON_DEVICE_MANY_USERS);
        input.settings = json!({"ip_claims_review": 5, "ip_claims_deny": 10});
        assert_decision(&decide(&input), Verdict::Review, REASON_IP_CLAIM_BURST);
        input.settings = json!({"user_hourly_claims_max": 1});
        assert_decision(&decide(&input), Verdict::Review, REASON_USER_CLAIM_BURST);
        input.settings = json!({"user_hourly_claims_max": 0});
        input.facts.user_claims_last_hour = 0;
        assert_decision(&decide(&input), Verdict::Allow, "ok");
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let cases = [
            (json!({"device_users_review": 1}), "device_users_review"),
            (json!({"device_users_deny": 2}), "device_users_deny"),
            (json!({"ip_claims_review": 0}), "ip_claims_review"),
            (json!({"ip_claims_review": 61}), "ip_claims_deny"),
            (json!({"ip_claims_deny": -1}), "cannot decode input"),
            (json!({"device_users_review": "3"}), "cannot decode input"),
            (json!({"device_users": 3}), "unknown field"),
        ];
        for (settings, fragment) in cases {
            let mut input = testing::claim_fixture();
            input.settings = settings;
            assert_error(&decide(&input), fragment);
        }
    }
}
