//! # blocklist: blocked users, devices and IP addresses
//!
//! Platform rule on the `claim` and `payout` hooks.
//!
//! ## Risk
//!
//! Operations and investigations end with identifiers that must never take
//! money again: accounts confirmed as fraudulent, devices of a farm, exit IPs
//! of a proxy pool. This rule refuses them at both hooks, so that a share
//! claimed before the listing is still stopped at its payout.
//!
//! - A blocked **user** is frozen: the request is refused and the account and
//!   its funds move to the frozen account for investigation.
//! - A blocked **device** or **IP address** is denied: the identifier is bad,
//!   but the account behind it may be an innocent one borrowing a phone or a
//!   network, so nothing is frozen.
//!
//! IP entries are single addresses (`203.0.113.7`, `2001:db8::1`) or networks
//! in CIDR form (`203.0.113.0/24`, `2001:db8::/32`). Addresses are compared as
//! addresses, not as text, so `2001:db8:0::1` matches `2001:db8::1`, and an
//! IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) matches its IPv4 form.
//! User and device ids are compared exactly.
//!
//! ## Settings
//!
//! The rule's `settings` table, shown as the JSON the rule receives:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `users` | list of strings | `[]` | user ids to freeze |
//! | `devices` | list of strings | `[]` | device ids to deny |
//! | `ips` | list of strings | `[]` | IP addresses or CIDR networks to deny |
//! | `review_missing` | bool | `true` | review a request without a device id (or IP) while `devices` (or `ips`) is not empty |
//!
//! ```json
//! {"users": ["u-666"], "devices": ["d-farm-1"], "ips": ["203.0.113.0/24", "2001:db8::1"]}
//! ```
//!
//! A blank entry, an entry with surrounding white space (it could never match),
//! an IP entry that is not an address or network, a network with bits set after
//! its prefix (`10.0.0.1/8`: did you mean `10.0.0.0/8` or `10.0.0.1`?), an
//! unknown setting or a value of the wrong type makes the rule answer with an
//! error, never a verdict.
//!
//! ## Reason codes
//!
//! | code | verdict | when |
//! |---|---|---|
//! | `ok` | allow | nothing is blocked |
//! | `blocked_user` | freeze | the request's user is in `users` |
//! | `blocked_device` | deny | the request's device is in `devices` |
//! | `blocked_ip` | deny | the request's IP is in one of `ips` |
//! | `missing_device` | review | no (or a blank) device id, `devices` not empty, `review_missing` on |
//! | `missing_ip` | review | no (or a blank) IP, `ips` not empty, `review_missing` on |
//! | `invalid_ip` | review | the request's IP is not an address and `ips` is not empty |
//!
//! Every check is evaluated and the most severe wins; among equally severe ones
//! the first in this table is reported.
//!
//! ## Missing data
//!
//! Leaving out the device id or the IP address must not be a way around the
//! list, so while the matching list is not empty such a request is reviewed.
//! Payout requests carry a device and an IP only when the host knows them; an
//! operator who accepts that gap can turn `review_missing` off, and then a
//! missing identifier is simply not checked. An IP that cannot be parsed is
//! always reviewed while `ips` is not empty: it is malformed data, not absent
//! data.

use std::net::IpAddr;

use rules_sdk::{ClaimInput, Decision, PayoutInput, RuleError};
use serde::Deserialize;

/// Reason code of a blocked user.
pub const REASON_BLOCKED_USER: &str = "blocked_user";
/// Reason code of a blocked device.
pub const REASON_BLOCKED_DEVICE: &str = "blocked_device";
/// Reason code of a blocked IP address.
pub const REASON_BLOCKED_IP: &str = "blocked_ip";
/// Reason code of a request without a device id while devices are blocked.
pub const REASON_MISSING_DEVICE: &str = "missing_device";
/// Reason code of a request without an IP address while IPs are blocked.
pub const REASON_MISSING_IP: &str = "missing_ip";
/// Reason code of a request whose IP address cannot be parsed.
pub const REASON_INVALID_IP: &str = "invalid_ip";

/// The rule's settings; every field is optional and has a documented default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// User ids whose requests are frozen. Default empty.
    pub users: Vec<String>,
    /// Device ids whose requests are denied. Default empty.
    pub devices: Vec<String>,
    /// IP addresses and CIDR networks whose requests are denied. Default empty.
    pub ips: Vec<String>,
    /// Review a request that lacks the device id (or the IP) while `devices`
    /// (or `ips`) is not empty. Default `true`.
    pub review_missing: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            users: Vec::new(),
            devices: Vec::new(),
            ips: Vec::new(),
            review_missing: true,
        }
    }
}

impl Settings {
    /// Checks every entry and parses the IP entries.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] naming the setting and the entry when an entry
    /// is blank or has surrounding white space, or when an IP entry is not an
    /// address or a CIDR network with no bits set after its prefix.
    pub fn validate(&self) -> Result<Vec<Network>, RuleError> {
        check_ids("users", &self.users)?;
        check_ids("devices", &self.devices)?;
        check_ids("ips", &self.ips)?;
        self.ips.iter().map(|entry| Network::parse(entry)).collect()
    }
}

fn check_ids(setting: &str, ids: &[String]) -> Result<(), RuleError> {
    for id in ids {
        if id.trim().is_empty() {
            return Err(RuleError::new(format!(
                "setting {setting}: blank entry {id:?}"
            )));
        }
        if id.trim() != id {
            return Err(RuleError::new(format!(
                "setting {setting}: entry {id:?} has surrounding white space"
            )));
        }
    }
    Ok(())
}

/// An IP address or network from the `ips` setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// The entry as written in the settings, for notes.
    entry: String,
    /// Whether the network is IPv6 (after IPv4-mapped addresses are unmapped).
    v6: bool,
    /// The network's address, left-aligned in 128 bits (IPv4 in the top 32).
    bits: u128,
    /// How many leading bits of an address must equal `bits`.
    prefix: u32,
}

/// An address as (is IPv6, left-aligned bits), IPv4-mapped IPv6 unmapped.
fn address_bits(addr: IpAddr) -> (bool, u128) {
    match addr.to_canonical() {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4)) << 96),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// The mask of the first `prefix` bits of 128 (`prefix` at most 128).
fn prefix_mask(prefix: u32) -> u128 {
    u128::MAX.checked_shl(128 - prefix).unwrap_or(0)
}

impl Network {
    /// Parses `203.0.113.7`, `203.0.113.0/24`, `2001:db8::1` or `2001:db8::/32`.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] naming the entry when it is not one of those
    /// forms, when its prefix is longer than its address, or when it has bits
    /// set after its prefix.
    pub fn parse(entry: &str) -> Result<Network, RuleError> {
        let bad = |why: &str| RuleError::new(format!("setting ips: entry {entry:?} {why}"));
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry, None),
        };
        let addr: IpAddr = address
            .parse()
            .map_err(|_| bad("is not an ip address or cidr network"))?;
        let width: u32 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text
                .parse::<u32>()
                .ok()
                .filter(|&p| p <= width)
                .ok_or_else(|| bad("has a prefix longer than its address"))?,
            Some(_) => return Err(bad("has a prefix that is not a number")),
        };
        let (v6, bits) = address_bits(addr);
        // An IPv4-mapped IPv6 network is the IPv4 network it maps; a shorter
        // prefix reaches into real IPv6 space and stays IPv6.
        let prefix = match addr {
            IpAddr::V6(_) if !v6 && prefix >= 96 => prefix - 96,
            IpAddr::V6(_) if !v6 => return Err(bad("is an ipv4-mapped network shorter than /96")),
            _ => prefix,
        };
        if bits & !prefix_mask(prefix) != 0 {
            return Err(bad("has bits set after its prefix"));
        }
        Ok(Network {
            entry: entry.to_string(),
            v6,
            bits,
            prefix,
        })
    }

    /// Whether `addr` is in this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let (v6, bits) = address_bits(addr);
        v6 == self.v6 && (bits ^ self.bits) & prefix_mask(self.prefix) == 0
    }
}

/// The value of an optional identifier, or `None` when it is absent or blank.
fn present(id: Option<&String>) -> Option<&str> {
    id.map(String::as_str).filter(|s| !s.trim().is_empty())
}

/// The decision for one request's user, device and IP.
fn decide(
    settings: &Settings,
    user: &str,
    device: Option<&String>,
    ip: Option<&String>,
) -> Result<Decision, RuleError> {
    let networks = settings.validate()?;

    // In the order of the reason-code table: the first of equal severity wins.
    let mut findings: Vec<Decision> = Vec::new();
    if settings.users.iter().any(|u| u == user) {
        findings.push(Decision::freeze(REASON_BLOCKED_USER).with_note(format!("user {user}")));
    }
    match present(device) {
        Some(device) if settings.devices.iter().any(|d| d == device) => findings
            .push(Decision::deny(REASON_BLOCKED_DEVICE).with_note(format!("device {device}"))),
        Some(_) => {}
        None if settings.review_missing && !settings.devices.is_empty() => {
            findings.push(Decision::review(REASON_MISSING_DEVICE));
        }
        None => {}
    }
    match present(ip) {
        Some(text) => match text.parse::<IpAddr>() {
            Ok(addr) => {
                if let Some(network) = networks.iter().find(|n| n.contains(addr)) {
                    findings.push(
                        Decision::deny(REASON_BLOCKED_IP)
                            .with_note(format!("ip {text} in {}", network.entry)),
                    );
                }
            }
            Err(_) if !networks.is_empty() => {
                findings
                    .push(Decision::review(REASON_INVALID_IP).with_note(format!("ip {text:?}")));
            }
            Err(_) => {}
        },
        None if settings.review_missing && !networks.is_empty() => {
            findings.push(Decision::review(REASON_MISSING_IP));
        }
        None => {}
    }

    Ok(findings
        .into_iter()
        .reduce(Decision::most_severe)
        .unwrap_or_else(Decision::allow))
}

/// The `claim` hook: freezes blocked users, denies blocked devices and IPs.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::validate`]).
pub fn claim(input: &ClaimInput<Settings>) -> Result<Decision, RuleError> {
    let request = &input.request;
    decide(
        &input.settings,
        &request.user_id,
        request.device_id.as_ref(),
        request.ip.as_ref(),
    )
}

/// The `payout` hook: the same checks on the payout request.
///
/// # Errors
///
/// Returns a [`RuleError`] when the settings are invalid (see
/// [`Settings::validate`]).
pub fn payout(input: &PayoutInput<Settings>) -> Result<Decision, RuleError> {
    let request = &input.request;
    decide(
        &input.settings,
        &request.user_id,
        request.device_id.as_ref(),
        request.ip.as_ref(),
    )
}

rules_sdk::export_rule!(claim => claim, payout => payout);

#[cfg(test)]
mod tests {
    use rules_sdk::{RuleOutput, Verdict, testing};
    use serde_json::{Value, json};

    use super::*;
    use rules_sdk::testing::{assert_decision, assert_error};

    fn claim_with(settings: Value) -> ClaimInput {
        let mut input = testing::claim_fixture();
        input.settings = settings;
        input
    }

    fn payout_with(settings: Value) -> PayoutInput {
        let mut input = testing::payout_fixture();
        input.settings = settings;
        input
    }

    /// Lists that block identifiers other than the fixtures' (u-1, d-1, 10.0.0.1).
    fn other_lists() -> Value {
        json!({"users": ["u-9"], "devices": ["d-9"], "ips": ["10.0.0.2", "192.168.0.0/16"]})
    }

    #[test]
    fn nothing_blocked_is_allowed_at_both_hooks() {
        assert_decision(
            &testing::run(claim, &claim_with(json!({}))),
            Verdict::Allow,
            "ok",
        );
        assert_decision(
            &testing::run(claim, &claim_with(other_lists())),
            Verdict::Allow,
            "ok",
        );
        assert_decision(
            &testing::run(payout, &payout_with(other_lists())),
            Verdict::Allow,
            "ok",
        );
    }

    #[test]
    fn a_blocked_user_is_frozen_at_both_hooks() {
        let settings = json!({"users": ["u-9", "u-1"]});
        let output = testing::run(claim, &claim_with(settings.clone()));
        assert_decision(&output, Verdict::Freeze, REASON_BLOCKED_USER);
        assert_decision(
            &testing::run(payout, &payout_with(settings)),
            Verdict::Freeze,
            REASON_BLOCKED_USER,
        );
        match output {
            RuleOutput::Decision(d) => assert_eq!(d.note.as_deref(), Some("user u-1")),
            RuleOutput::Error(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn a_blocked_device_is_denied_at_both_hooks() {
        let settings = json!({"devices": ["d-1"]});
        assert_decision(
            &testing::run(claim, &claim_with(settings.clone())),
            Verdict::Deny,
            REASON_BLOCKED_DEVICE,
        );
        assert_decision(
            &testing::run(payout, &payout_with(settings)),
            Verdict::Deny,
            REASON_BLOCKED_DEVICE,
        );
    }

    #[test]
    fn ids_are_compared_exactly() {
        let settings = json!({"users": ["U-1", "u-10"], "devices": ["D-1", "d-"]});
        assert_decision(
            &testing::run(claim, &claim_with(settings)),
            Verdict::Allow,
            "ok",
        );
    }

    #[test]
    fn a_blocked_ip_is_denied_at_both_hooks() {
        let settings = json!({"ips": ["10.0.0.1"]});
        assert_decision(
            &testing::run(claim, &claim_with(settings.clone())),
            Verdict::Deny,
            REASON_BLOCKED_IP,
        );
        assert_decision(
            &testing::run(payout, &payout_with(settings)),
            Verdict::Deny,
            REASON_BLOCKED_IP,
        );
    }

    #[test]
    fn networks_match_their_addresses_and_nothing_else() {
        let cases = [
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.0", false),
            ("10.0.0.0/31", "10.0.0.1", true),
            ("10.0.0.0/31", "10.0.0.2", false),
            ("0.0.0.0/0", "203.0.113.7", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("203.0.113.7/32", "203.0.113.7", true),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("2001:db8::1", "2001:0db8:0000::0001", true),
            ("::/0", "2001:db8::1", true),
            ("::/0", "10.0.0.1", false),
            ("203.0.113.7", "::ffff:203.0.113.7", true),
            ("::ffff:203.0.113.0/120", "203.0.113.9", true),
            ("::ffff:203.0.113.0/120", "203.0.114.9", false),
        ];
        for (entry, ip, blocked) in cases {
            let mut input = claim_with(json!({ "ips": [entry] }));
            input.request.ip = Some(ip.to_string());
            let expected = if blocked {
                (Verdict::Deny, REASON_BLOCKED_IP)
            } else {
                (Verdict::Allow, "ok")
            };
            let output = testing::run(claim, &input);
            assert_eq!(
                (testing::verdict(&output), testing::reason(&output)),
                (Some(expected.0), Some(expected.1)),
                "{entry} vs {ip}"
            );
        }
    }

    #[test]
    fn the_most_severe_finding_wins() {
        let settings = json!({"users": ["u-1"], "devices": ["d-1"], "ips": ["10.0.0.1"]});
        assert_decision(
            &testing::run(claim, &claim_with(settings)),
            Verdict::Freeze,
            REASON_BLOCKED_USER,
        );
        let settings = json!({"devices": ["d-1"], "ips": ["10.0.0.1"]});
        assert_decision(
            &testing::run(payout, &payout_with(settings)),
            Verdict::Deny,
            REASON_BLOCKED_DEVICE,
        );
        let mut input = claim_with(json!({"users": ["u-1"], "devices": ["d-1"]}));
        input.request.device_id = None;
        assert_decision(
            &testing::run(claim, &input),
            Verdict::Freeze,
            REASON_BLOCKED_USER,
        );
    }

    #[test]
    fn a_missing_device_is_reviewed_while_devices_are_blocked() {
        for device in [None, Some(String::new()), Some(" ".to_string())] {
            let mut input = claim_with(other_lists());
            input.request.device_id = device.clone();
            assert_decision(
                &testing::run(claim, &input),
                Verdict::Review,
                REASON_MISSING_DEVICE,
            );
            let mut input = payout_with(other_lists());
            input.request.device_id = device;
            assert_decision(
                &testing::run(payout, &input),
                Verdict::Review,
                REASON_MISSING_DEVICE,
            );
        }
        // With no device list there is nothing to check.
        let mut input = claim_with(json!({"ips": ["10.0.0.2"]}));
        input.request.device_id = None;
        assert_decision(&testing::run(claim, &input), Verdict::Allow, "ok");
    }

    #[test]
    fn a_missing_ip_is_reviewed_while_ips_are_blocked() {
        let mut input = payout_with(other_lists());
        input.request.ip = None;
        assert_decision(
            &testing::run(payout, &input),
            Verdict::Review,
            REASON_MISSING_IP,
        );
        let mut input = claim_with(json!({"devices": ["d-9"]}));
        input.request.ip = None;
        assert_decision(&testing::run(claim, &input), Verdict::Allow, "ok");
    }

    #[test]
    fn review_missing_off_checks_only_what_is_there() {
        let mut settings = other_lists();
        settings["review_missing"] = json!(false);
        let mut input = payout_with(settings.clone());
        input.request.device_id = None;
        input.request.ip = None;
        assert_decision(&testing::run(payout, &input), Verdict::Allow, "ok");
        settings["users"] = json!(["u-1"]);
        input.settings = settings;
        assert_decision(
            &testing::run(payout, &input),
            Verdict::Freeze,
            REASON_BLOCKED_USER,
        );
    }

    #[test]
    fn an_unparseable_ip_is_reviewed_while_ips_are_blocked() {
        for ip in ["10.0.0.1:443", "not-an-ip", "10.0.0.256", "fe80::1%eth0"] {
            let mut input = claim_with(other_lists());
            input.request.ip = Some(ip.to_string());
            assert_decision(
                &testing::run(claim, &input),
                Verdict::Review,
                REASON_INVALID_IP,
            );
            let mut settings = other_lists();
            settings["review_missing"] = json!(false);
            input.settings = settings;
            assert_decision(
                &testing::run(claim, &input),
                Verdict::Review,
                REASON_INVALID_IP,
            );
        }
    }

    #[test]
    fn bad_settings_are_an_error_not_a_verdict() {
        let cases = [
            (json!({"users": [""]}), "blank entry"),
            (json!({"devices": ["d-1 "]}), "white space"),
            (json!({"ips": [" 10.0.0.1"]}), "white space"),
            (json!({"ips": ["10.0.0.300"]}), "not an ip address"),
            (json!({"ips": ["10.0.0.0/33"]}), "prefix longer"),
            (json!({"ips": ["2001:db8::/129"]}), "prefix longer"),
            (json!({"ips": ["10.0.0.0/"]}), "not a number"),
            (json!({"ips": ["10.0.0.0/+8"]}), "not a number"),
            (json!({"ips": ["10.0.0.1/8"]}), "bits set after its prefix"),
            (json!({"ips": ["::ffff:10.0.0.0/64"]}), "shorter than /96"),
            (json!({"ips": "10.0.0.1"}), "cannot decode input"),
            (json!({"users": [1]}), "cannot decode input"),
            (json!({"review_missing": "no"}), "cannot decode input"),
            (json!({"user": ["u-1"]}), "unknown field"),
        ];
        for (settings, fragment) in cases {
            assert_error(
                &testing::run(claim, &claim_with(settings.clone())),
                fragment,
            );
            assert_error(&testing::run(payout, &payout_with(settings)), fragment);
        }
    }
}
