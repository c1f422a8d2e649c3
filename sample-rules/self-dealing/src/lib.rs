//! # self-dealing: claims by the merchant's staff
//!
//! Merchant rule on the `claim` hook: each merchant runs its own instance with
//! its own staff list, and it sees only that merchant's packets.
//!
//! ## Risk
//!
//! Employees who run a campaign know when its packets go out and can claim
//! them themselves, or through friends' and relatives' accounts on their own
//! phone. This rule denies a claim by a staff account, and a claim from a
//! device that a staff account used in the last 24 hours.
//!
//! The second check reads `facts.device_recent_users`, the users that claimed
//! from the claim's device in the last 24 hours, this one included. The host
//! sends at most 32 of them; `facts.device_distinct_users_24h` says how many
//! there are in all. When the list is incomplete a staff account may be among
//! the missing ones, so the claim is reviewed rather than allowed.
//!
//! ## Settings
//!
//! The rule's `settings` table, shown as the JSON the rule receives:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `staff` | list of strings | `[]` | user ids of the merchant's staff accounts |
//!
//! ```json
//! {"staff": ["u-cashier-1", "u-manager"]}
//! ```
//!
//! With an empty list there is nothing to check: every claim is allowed with
//! the reason `no_staff`, so the decision record shows the rule did nothing. A
//! blank entry, an entry with surrounding white space (it could never match),
//! an unknown setting or a value of the wrong type makes the rule answer with
//! an error, never a verdict.
//!
//! ## Reason codes
//!
//! | code | verdict | when |
//! |---|---|---|
//! | `ok` | allow | no staff link |
//! | `no_staff` | allow | `staff` is empty |
//! | `staff_claim` | deny | the claiming user is staff |
//! | `shared_device_with_staff` | deny | a staff account is in `device_recent_users` |
//! | `missing_device` | review | the claim has no (or a blank) device id |
//! | `device_users_incomplete` | review | the claim has a device, but `device_recent_users` lists fewer users than `device_distinct_users_24h` (or that count is 0) |
//!
//! The first matching row wins.
//!
//! ## Missing data
//!
//! Without a device id, or with a truncated list of the device's users, the
//! shared-device check cannot be completed, so such a claim is reviewed, never
//! allowed (unless a staff link is already found, which denies).

use rules_sdk::{ClaimInput, Decision, RuleError, Verdict};
use serde::Deserialize;

/// Reason code of a rule instance with no staff configured.
pub const REASON_NO_STAFF: &str = "no_staff";
/// Reason code of a claim by a staff account.
pub const REASON_STAFF_CLAIM: &str = "staff_claim";
/// Reason code of a claim from a device a staff account used.
pub const REASON_SHARED_DEVICE_WITH_STAFF: &str = "shared_device_with_staff";
/// Reason code of a claim without a device id.
pub const REASON_MISSING_DEVICE: &str = "missing_device";
/// Reason code of a claim whose device users are not all known.
pub const REASON_DEVICE_USERS_INCOMPLETE: &str = "device_users_incomplete";

/// The rule's settings; every field is optional and has a documented default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// User ids of the merchant's staff accounts. Default empty.
    pub staff: Vec<String>,
}

impl Settings {
    /// Checks every staff entry.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] naming the entry when it is blank or has
    /// surrounding white space.
    pub fn validate(&self) -> Result<(), RuleError> {
        for id in &self.staff {
            if id.trim().is_empty() {
                return Err(RuleError::new(format!("setting staff: blank entry {id:?}")));
            }
            if id.trim() != id {
                return Err(RuleError::new(format!(
                    "setting staff: entry {id:?} has surrounding white space"
                )));
            }
        }
        Ok(())
    }

    fn is_staff(&self, user: &str) -> bool {
        self.staff.iter().any(|s| s == user)
    }
}

/// The `claim` hook: denies claims by staff or from devices staff used.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::validate`]).
pub fn claim(input: &ClaimInput<Settings>) -> Result<Decision, RuleError> {
    let settings = &input.settings;
    settings.validate()?;
    if settings.staff.is_empty() {
        return Ok(Decision::new(Verdict::Allow, REASON_NO_STAFF));
    }
    let request = &input.request;
    let facts = &input.facts;

    if settings.is_staff(&request.user_id) {
        return Ok(Decision::deny(REASON_STAFF_CLAIM)
            .with_note(format!("user {} is staff", request.user_id)));
    }
    if let Some(staff) = facts
        .device_recent_users
        .iter()
        .find(|user| settings.is_staff(user))
    {
        return Ok(Decision::deny(REASON_SHARED_DEVICE_WITH_STAFF)
            .with_note(format!("staff {staff} used the device in the last 24 h")));
    }

    let device = request
        .device_id
        .as_deref()
        .filter(|d| !d.trim().is_empty());
    if device.is_none() {
        return Ok(Decision::review(REASON_MISSING_DEVICE));
    }
    let listed = facts.device_recent_users.len();
    let total = facts.device_distinct_users_24h;
    if total == 0 || u32::try_from(listed).is_ok_and(|listed| listed < total) {
        return Ok(Decision::review(REASON_DEVICE_USERS_INCOMPLETE)
            .with_note(format!("{listed} of {total} device users listed")));
    }

    Ok(Decision::allow())
}

rules_sdk::export_rule!(claim => claim);

#[cfg(test)]
mod tests {
    use rules_sdk::{RuleOutput, testing};
    use serde_json::json;

    use super::*;
    use rules_sdk::testing::{assert_decision, assert_error};

    /// A claim by u-1 from a device used by `users`, with staff s-1 and s-2.
    fn input(users: &[&str]) -> ClaimInput {
        let mut input = testing::claim_fixture();
        input.settings = json!({"staff": ["s-1", "s-2"]});
        input.facts.device_recent_users = users.iter().map(|u| u.to_string()).collect();
        input.facts.device_distinct_users_24h = u32::try_from(users.len()).expect("a short list");
        input
    }

    fn decide(input: &ClaimInput) -> RuleOutput {
        testing::run(claim, input)
    }

    #[test]
    fn a_customer_on_their_own_device_is_allowed() {
        assert_decision(&decide(&input(&["u-1"])), Verdict::Allow, "ok");
        assert_decision(
            &decide(&input(&["u-1", "u-2", "u-3"])),
            Verdict::Allow,
            "ok",
        );
    }

    #[test]
    fn a_claim_by_staff_is_denied() {
        let mut input = input(&["s-2"]);
        input.request.user_id = "s-2".into();
        let output = decide(&input);
        assert_decision(&output, Verdict::Deny, REASON_STAFF_CLAIM);
        match output {
            RuleOutput::Decision(d) => assert_eq!(d.note.as_deref(), Some("user s-2 is staff")),
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
        // Even without a device.
        input.request.device_id = None;
        assert_decision(&decide(&input), Verdict::Deny, REASON_STAFF_CLAIM);
    }

    #[test]
    fn a_claim_from_a_device_staff_used_is_denied() {
        assert_decision(
            &decide(&input(&["s-1", "u-1"])),
            Verdict::Deny,
            REASON_SHARED_DEVICE_WITH_STAFF,
        );
        assert_decision(
            &decide(&input(&["a", "b", "s-2", "u-1"])),
            Verdict::Deny,
            REASON_SHARED_DEVICE_WITH_STAFF,
        );
    }

    #[test]
    fn ids_are_compared_exactly() {
        assert_decision(
            &decide(&input(&["S-1", "s-10", "u-1"])),
            Verdict::Allow,
            "ok",
        );
    }

    #[test]
    fn a_claim_without_a_device_is_reviewed() {
        for device in [None, Some(String::new()), Some("\t".to_string())] {
            let mut input = input(&[]);
            input.request.device_id = device;
            assert_decision(&decide(&input), Verdict::Review, REASON_MISSING_DEVICE);
        }
    }

    #[test]
    fn a_truncated_device_user_list_is_reviewed() {
        let users: Vec<String> = (0..32).map(|i| format!("u-{i:02}")).collect();
        let refs: Vec<&str> = users.iter().map(String::as_str).collect();
        let mut input = input(&refs);
        // Exactly complete: 32 of 32.
        assert_decision(&decide(&input), Verdict::Allow, "ok");
        // 32 of 33: a staff account could be the one left out.
        input.facts.device_distinct_users_24h = 33;
        let output = decide(&input);
        assert_decision(&output, Verdict::Review, REASON_DEVICE_USERS_INCOMPLETE);
        match output {
            RuleOutput::Decision(d) => {
                assert_eq!(d.note.as_deref(), Some("32 of 33 device users listed"));
            }
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
        // A staff account in the truncated list still denies.
        input.facts.device_recent_users[5] = "s-1".into();
        assert_decision(
            &decide(&input),
            Verdict::Deny,
            REASON_SHARED_DEVICE_WITH_STAFF,
        );
    }

    #[test]
    fn a_device_with_no_known_users_is_reviewed() {
        assert_decision(
            &decide(&input(&[])),
            Verdict::Review,
            REASON_DEVICE_USERS_INCOMPLETE,
        );
    }

    #[test]
    fn no_staff_means_nothing_to_check() {
        let mut input = input(&[]);
        input.settings = json!({});
        input.request.device_id = None;
        assert_decision(&decide(&input), Verdict::Allow, REASON_NO_STAFF);
        input.settings = json!({"staff": []});
        assert_decision(&decide(&input), Verdict::Allow, REASON_NO_STAFF);
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let cases = [
            (json!({"staff": [""]}), "blank entry"),
            (json!({"staff": ["s-1", " s-2"]}), "white space"),
            (json!({"staff": "s-1"}), "cannot decode input"),
            (json!({"staff": [7]}), "cannot decode input"),
            (json!({"employees": ["s-1"]}), "unknown field"),
        ];
        for (settings, fragment) in cases {
            let mut input = input(&["u-1"]);
            input.settings = settings;
            assert_error(&decide(&input), fragment);
        }
    }
}
