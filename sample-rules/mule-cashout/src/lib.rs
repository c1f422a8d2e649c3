//! # mule-cashout: fast cash-out across many packets
//!
//! Platform rule on the `payout` hook.
//!
//! ## Risk
//!
//! Red packets are a way to move money: stolen or laundered funds go into
//! packets that a ring of mule accounts claims and cashes out at once. A
//! person claims a few packets from friends and groups and cashes out whenever;
//! a mule is paid from many different packets and withdraws each share
//! within a minute or two of claiming it, or withdraws in a burst.
//!
//! - **Fast cash-out across many packets.** The payout comes less than
//!   `fast_seconds` after its claim, and the user was paid from at least
//!   `review_packets` distinct packets in the last 24 hours: review; from at
//!   least `freeze_packets`: freeze.
//! - **Payout burst.** The user completed at least `hourly_payouts_freeze`
//!   payouts in the last hour: freeze, however slow each one was.
//!
//! The counters are the host's: `user_distinct_packets_paid_24h` and
//! `user_payouts_last_hour` cover payouts completed before this one.
//!
//! ## Settings
//!
//! The rule's `settings` table, shown as the JSON the rule receives:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `fast_seconds` | integer ≥ 1 | `120` | a payout less than this long after its claim is fast |
//! | `review_packets` | integer ≥ 1 | `5` | review a fast payout when `user_distinct_packets_paid_24h >=` this |
//! | `freeze_packets` | integer ≥ `review_packets` | `12` | freeze a fast payout when `user_distinct_packets_paid_24h >=` this |
//! | `hourly_payouts_freeze` | integer ≥ 1 | `20` | freeze when `user_payouts_last_hour >=` this |
//!
//! ```json
//! {"fast_seconds": 120, "review_packets": 5, "freeze_packets": 12, "hourly_payouts_freeze": 20}
//! ```
//!
//! A zero threshold, a review threshold above its freeze threshold, an unknown
//! setting or a value of the wrong type makes the rule answer with an error,
//! never a verdict.
//!
//! ## Reason codes
//!
//! | code | verdict | when |
//! |---|---|---|
//! | `ok` | allow | neither pattern |
//! | `fast_cashout` | review, freeze | a fast payout by a user paid from many packets |
//! | `payout_burst` | freeze | too many payouts by the user in the last hour |
//!
//! Both patterns are evaluated and the most severe wins; when both freeze,
//! `fast_cashout` is reported. A payout exactly `fast_seconds` after its claim
//! is not fast.
//!
//! ## Missing data
//!
//! Every fact this rule reads is required by the ABI, so an input without them
//! fails to decode and the host applies the rule's failure verdict. A negative
//! `seconds_since_claim` (a payout before its claim: a clock or data fault)
//! counts as fast rather than slow.

use rules_sdk::{Decision, PayoutInput, RuleError};
use serde::Deserialize;

/// Reason code of a fast payout by a user paid from many packets.
pub const REASON_FAST_CASHOUT: &str = "fast_cashout";
/// Reason code of too many payouts in the last hour.
pub const REASON_PAYOUT_BURST: &str = "payout_burst";

/// The rule's settings; every field is optional and has a documented default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// A payout less than this many seconds after its claim is fast.
    /// Default 120; at least 1.
    pub fast_seconds: i64,
    /// Review a fast payout when the user's distinct packets paid in 24 h
    /// reach this. Default 5; at least 1.
    pub review_packets: u32,
    /// Freeze a fast payout when the user's distinct packets paid in 24 h
    /// reach this. Default 12; at least `review_packets`.
    pub freeze_packets: u32,
    /// Freeze when the user's payouts in the last hour reach this.
    /// Default 20; at least 1.
    pub hourly_payouts_freeze: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            fast_seconds: 120,
            review_packets: 5,
            freeze_packets: 12,
            hourly_payouts_freeze: 20,
        }
    }
}

impl Settings {
    /// Checks that every threshold can tell a person from a mule.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] naming the setting when `fast_seconds`,
    /// `review_packets` or `hourly_payouts_freeze` is below 1, or when
    /// `freeze_packets` is below `review_packets`.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.fast_seconds < 1 {
            return Err(RuleError::new("setting fast_seconds must be at least 1"));
        }
        if self.review_packets == 0 {
            return Err(RuleError::new("setting review_packets must be at least 1"));
        }
        if self.freeze_packets < self.review_packets {
            return Err(RuleError::new(
                "setting freeze_packets must be at least review_packets",
            ));
        }
        if self.hourly_payouts_freeze == 0 {
            return Err(RuleError::new(
                "setting hourly_payouts_freeze must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The `payout` hook: reviews or freezes mule-like cash-out.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::validate`]).
pub fn payout(input: &PayoutInput<Settings>) -> Result<Decision, RuleError> {
    let settings = &input.settings;
    settings.validate()?;
    let facts = &input.facts;

    // In the order of the reason-code table: the first of equal severity wins.
    let mut findings: Vec<Decision> = Vec::new();
    if facts.seconds_since_claim < settings.fast_seconds {
        let packets = facts.user_distinct_packets_paid_24h;
        let decision = if packets >= settings.freeze_packets {
            Some(Decision::freeze(REASON_FAST_CASHOUT))
        } else if packets >= settings.review_packets {
            Some(Decision::review(REASON_FAST_CASHOUT))
        } else {
            None
        };
        findings.extend(decision.map(|d| {
            d.with_note(format!(
                "paid {} s after claim, {packets} packets paid in 24 h, review at {}, freeze at {}",
                facts.seconds_since_claim, settings.review_packets, settings.freeze_packets
            ))
        }));
    }
    if facts.user_payouts_last_hour >= settings.hourly_payouts_freeze {
        findings.push(Decision::freeze(REASON_PAYOUT_BURST).with_note(format!(
            "{} payouts in the last hour, freeze at {}",
            facts.user_payouts_last_hour, settings.hourly_payouts_freeze
        )));
    }

    Ok(findings
        .into_iter()
        .reduce(Decision::most_severe)
        .unwrap_or_else(Decision::allow))
}

rules_sdk::export_rule!(payout => payout);

#[cfg(test)]
mod tests {
    use rules_sdk::{RuleOutput, Verdict, testing};
    use serde_json::json;

    use super::*;
    use rules_sdk::testing::{assert_decision, assert_error};

    /// An ordinary payout with the three facts the rule reads set as given.
    fn input(seconds_since_claim: i64, packets_24h: u32, payouts_hour: u32) -> PayoutInput {
        let mut input = testing::payout_fixture();
        input.facts.seconds_since_claim = seconds_since_claim;
        input.facts.user_distinct_packets_paid_24h = packets_24h;
        input.facts.user_payouts_last_hour = payouts_hour;
        input
    }

    fn decide(input: &PayoutInput) -> RuleOutput {
        testing::run(payout, input)
    }

    #[test]
    fn ordinary_payouts_are_allowed() {
        assert_decision(&decide(&testing::payout_fixture()), Verdict::Allow, "ok");
        // Fast but from few packets, or from many packets but slow.
        assert_decision(&decide(&input(10, 4, 0)), Verdict::Allow, "ok");
        assert_decision(&decide(&input(3_600, 30, 19)), Verdict::Allow, "ok");
    }

    #[test]
    fn fast_payouts_from_many_packets_are_reviewed_then_frozen() {
        assert_decision(
            &decide(&input(30, 5, 0)),
            Verdict::Review,
            REASON_FAST_CASHOUT,
        );
        assert_decision(
            &decide(&input(30, 11, 0)),
            Verdict::Review,
            REASON_FAST_CASHOUT,
        );
        let output = decide(&input(30, 12, 0));
        assert_decision(&output, Verdict::Freeze, REASON_FAST_CASHOUT);
        match output {
            RuleOutput::Decision(d) => assert_eq!(
                d.note.as_deref(),
                Some("paid 30 s after claim, 12 packets paid in 24 h, review at 5, freeze at 12")
            ),
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn the_fast_boundary_is_exactly_two_minutes() {
        assert_decision(
            &decide(&input(119, 12, 0)),
            Verdict::Freeze,
            REASON_FAST_CASHOUT,
        );
        assert_decision(&decide(&input(120, 12, 0)), Verdict::Allow, "ok");
        assert_decision(
            &decide(&input(0, 5, 0)),
            Verdict::Review,
            REASON_FAST_CASHOUT,
        );
    }

    #[test]
    fn a_negative_delay_counts_as_fast() {
        assert_decision(
            &decide(&input(-1, 5, 0)),
            Verdict::Review,
            REASON_FAST_CASHOUT,
        );
        assert_decision(
            &decide(&input(i64::MIN, 12, 0)),
            Verdict::Freeze,
            REASON_FAST_CASHOUT,
        );
    }

    #[test]
    fn twenty_payouts_in_an_hour_freeze() {
        assert_decision(&decide(&input(3_600, 1, 19)), Verdict::Allow, "ok");
        assert_decision(
            &decide(&input(3_600, 1, 20)),
            Verdict::Freeze,
            REASON_PAYOUT_BURST,
        );
    }

    #[test]
    fn the_most_severe_pattern_wins() {
        assert_decision(
            &decide(&input(30, 5, 20)),
            Verdict::Freeze,
            REASON_PAYOUT_BURST,
        );
        assert_decision(
            &decide(&input(30, 12, 20)),
            Verdict::Freeze,
            REASON_FAST_CASHOUT,
        );
    }

    #[test]
    fn settings_override_the_defaults() {
        let mut input = input(200, 3, 5);
        input.settings = json!({"fast_seconds": 300, "review_packets": 3, "freeze_packets": 3});
        assert_decision(&decide(&input), Verdict::Freeze, REASON_FAST_CASHOUT);
        input.settings = json!({"hourly_payouts_freeze": 5});
        assert_decision(&decide(&input), Verdict::Freeze, REASON_PAYOUT_BURST);
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let cases = [
            (json!({"fast_seconds": 0}), "fast_seconds"),
            (json!({"fast_seconds": -120}), "fast_seconds"),
            (json!({"review_packets": 0}), "review_packets"),
            (json!({"freeze_packets": 4}), "freeze_packets"),
            (json!({"review_packets": 13}), "freeze_packets"),
            (json!({"hourly_payouts_freeze": 0}), "hourly_payouts_freeze"),
            (json!({"review_packets": -5}), "cannot decode input"),
            (json!({"fast_seconds": "120"}), "cannot decode input"),
            (json!({"fast_secs": 120}), "unknown field"),
        ];
        for (settings, fragment) in cases {
            let mut input = testing::payout_fixture();
            input.settings = settings;
            assert_error(&decide(&input), fragment);
        }
    }

    #[test]
    fn missing_facts_are_an_error_not_a_pass() {
        let mut value = serde_json::to_value(input(30, 12, 0)).expect("input encodes");
        let facts = value["facts"].as_object_mut().expect("facts is an object");
        facts.remove("seconds_since_claim");
        let bytes = serde_json::to_vec(&value).expect("input encodes");
        assert_error(&testing::run_json(payout, &bytes), "seconds_since_claim");
    }
}
