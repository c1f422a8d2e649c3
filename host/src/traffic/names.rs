//! The naming scheme of generated ids, and the names the bundled rule config
//! must know: the blocklist and each merchant's staff.
//!
//! | what | form | example |
//! |---|---|---|
//! | merchant | `m{i}`, `i` in `1..=merchants` | `m7` |
//! | deposit | `dep-{n:06}` | `dep-000051` |
//! | packet (bill number) | `m{i}-bill-{n:06}` | `m7-bill-000123` |
//! | campaign | `m{i}-cmp-{c}`, `c` in `1..=4` | `m7-cmp-2` |
//! | claim | `c-{n:07}` | `c-0001234` |
//! | payout | `po-{n:07}` | `po-0001234` |
//! | review resolution | `rv-{n:06}` | `rv-000012` |
//! | unfreeze | `uf-{n:06}` | `uf-000003` |
//! | user | `u-{n:06}`; ordinary users first, then accounts that join later | `u-000042` |
//! | ordinary device | `dev-{n:06}`, the user's own | `dev-000042` |
//! | merchant staff | `m{i}-staff-{k}`, device `m{i}-staff-dev-{k}`, `k` in `1..=3` | `m7-staff-2` |
//! | device farm | device `dev-farm-{n}` | `dev-farm-3` |
//! | scripted burst | IP `198.51.100.{n}`, devices `dev-bot-{n}-{k}` | `198.51.100.4` |
//! | blocklisted | see [`BLOCKLISTED_USERS`], [`BLOCKLISTED_DEVICES`], [`BLOCKLISTED_IPS`] | `dev-bl-2` |
//!
//! IP addresses come from documentation ranges only, in canonical form:
//! ordinary users' home addresses from `2001:db8:1::/48`, device-farm
//! proxies from `2001:db8:2::/48`, merchant offices (staff) from
//! `2001:db8:3::/48`, the blocklisted users' own addresses from
//! `2001:db8:6::/48`, shared mobile gateways from `192.0.2.0/24`, scripted
//! bursts from `198.51.100.0/24`, blocklisted addresses from
//! `203.0.113.1..=5`.

/// Users the bundled platform config blocklists.
pub const BLOCKLISTED_USERS: &[&str] = &["u-bl-1", "u-bl-2", "u-bl-3", "u-bl-4", "u-bl-5"];

/// Devices the bundled platform config blocklists.
pub const BLOCKLISTED_DEVICES: &[&str] =
    &["dev-bl-1", "dev-bl-2", "dev-bl-3", "dev-bl-4", "dev-bl-5"];

/// IP addresses the bundled platform config blocklists.
pub const BLOCKLISTED_IPS: &[&str] = &[
    "203.0.113.1",
    "203.0.113.2",
    "203.0.113.3",
    "203.0.113.4",
    "203.0.113.5",
];

/// Staff accounts per merchant (`m{i}-staff-1` ..= `m{i}-staff-3`).
pub const STAFF_PER_MERCHANT: usize = 3;

/// The id of merchant `merchant` (1-based): `m7` for 7.
pub fn merchant_id(merchant: usize) -> String {
    format!("m{merchant}")
}

/// The staff accounts of merchant `merchant` (1-based), which the merchant's
/// own rules should keep away from its packets: `m7-staff-1` ..= `m7-staff-3`.
pub fn staff_users(merchant: usize) -> Vec<String> {
    (1..=STAFF_PER_MERCHANT)
        .map(|k| format!("m{merchant}-staff-{k}"))
        .collect()
}

/// The devices of merchant `merchant`'s staff, in the order of
/// [`staff_users`]: `m7-staff-dev-1` ..= `m7-staff-dev-3`.
pub fn staff_devices(merchant: usize) -> Vec<String> {
    (1..=STAFF_PER_MERCHANT)
        .map(|k| format!("m{merchant}-staff-dev-{k}"))
        .collect()
}

/// The id of ordinary or later account number `n` (1-based).
pub(super) fn user_id(n: usize) -> String {
    format!("u-{n:06}")
}

/// The own device of account number `n`.
pub(super) fn user_device(n: usize) -> String {
    format!("dev-{n:06}")
}

/// The home address of account number `n`, unique per account.
pub(super) fn home_ip(n: usize) -> String {
    match n >> 16 {
        0 => format!("2001:db8:1::{:x}", n & 0xffff),
        hi => format!("2001:db8:1::{hi:x}:{:x}", n & 0xffff),
    }
}

/// A shared mobile-carrier gateway address, `192.0.2.1..=254`.
pub(super) fn mobile_ip(k: u64) -> String {
    format!("192.0.2.{}", 1 + k % 254)
}
