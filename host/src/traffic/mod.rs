//! Seeded sample traffic: a JSONL stream of [`Event`](crate::event::Event)s
//! that plays out a real settlement flow with labelled abuse mixed in.
//!
//! [`generate`] writes one event per line in nondecreasing logical time,
//! starting at [`START_AT`] and covering about [`SPAN_SECONDS`] (36 h, so
//! that packets created in the first hours expire and are refunded within the
//! run). The same [`TrafficConfig`] always gives byte-identical output: the
//! only source of randomness is a SplitMix64 generator seeded from
//! [`TrafficConfig::seed`], and no floating point is involved.
//!
//! # The flow
//!
//! - Every merchant `m1..=mN` deposits 5,000.00..=50,000.00 at the start
//!   (`dep-…`), and tops up 10,000.00..=50,000.00 whenever a packet would
//!   exceed what it has deposited less what it has put in packets.
//! - Merchants create packets (`create_packet`, id = bill number
//!   `m7-bill-000123`): 1..=50 shares, totals mostly 1.00..=500.00 (2% up to
//!   2,000.00, 2% big fixed packets of 60.00..=200.00 a share), 70% random
//!   split, 75% in a campaign `m7-cmp-{1..=4}`, 10% with an expiry of 2, 6
//!   or 12 h instead of the default 24 h. 15% of packets are unpopular: some
//!   of their shares are never claimed and are refunded at expiry.
//! - Ordinary users (`u-000001..`, accounts 60..=900 days old, their own
//!   device and home address, 5% of requests through a shared mobile
//!   gateway, 0.5% of claims without a device) claim open packets, at most 5
//!   times and 900.00 (counting random shares at their largest possible
//!   value) per local day, and 92% pay out 3 min..=20 h later (60% within
//!   the hour). Those claims and payouts are labelled `normal`. When the
//!   population cannot carry the traffic at that rate, new ordinary
//!   accounts join.
//! - A `tick` every [`TrafficConfig::tick_seconds`] moves the clock so that
//!   expiries run even in quiet moments.
//! - Reviewers resolve 5% of abuse-labelled claims and payouts 15 min..=6 h
//!   later (`resolve_review`, 75% reject); the core refuses the ones it does
//!   not actually hold. Operators unfreeze some mules (`unfreeze`).
//! - About [`TrafficConfig::malformed_per_mille`] lines per thousand are not
//!   valid events (see `malformed.rs`); they carry no label.
//!
//! # Labels
//!
//! Every claim and payout carries a ground-truth `label` from [`LABELS`].
//! Targets as a share of claim lines: `normal` about 85%, `heavy_user` 1.5%,
//! and the abuse patterns ([`ABUSE_LABELS`]) about 13% together:
//! `device_farm` 3%, `scripted_burst` 3%, `duplicate` 2%, `self_dealing`
//! 1.5%, `mule` 1.5%, `new_account` 1%, `blocklisted` 1%. The shape of each
//! pattern is documented on its episode in `episodes.rs`; `duplicate` lines
//! are retries of 2.5% of ordinary claims and payouts under the same id,
//! 1..=30 s later (10%: 1..=10 min), of which 15% have a different body (a
//! claim from another device, a payout from another address).
//!
//! A retry differs from its original in `at` and `label`, which are not part
//! of a request's body: the core compares the rest to tell a replay from a
//! conflict.

mod episodes;
mod r#gen;
mod label;
mod malformed;
mod names;
mod rng;
mod sink;
mod stats;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

pub use label::{ABUSE_LABELS, LABELS};
pub use names::{
    BLOCKLISTED_DEVICES, BLOCKLISTED_IPS, BLOCKLISTED_USERS, STAFF_PER_MERCHANT, merchant_id,
    staff_devices, staff_users,
};
pub use stats::TrafficStats;

/// The default logical start of the traffic: 2026-12-03 00:00:00 UTC
/// (08:00 in UTC+8), in seconds since the Unix epoch.
pub const START_AT: i64 = 1_796_256_000;

/// The default logical span of the traffic: 36 h, more than the 24 h
/// default expiry, so that expiry refunds happen within a run.
pub const SPAN_SECONDS: i64 = 36 * 3600;

/// The default interval between `tick` events: 10 minutes.
pub const TICK_SECONDS: i64 = 600;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficConfig {
    /// Seeds the whole stream; the same config gives the same bytes.
    pub seed: u64,
    /// Lines to write, malformed ones included.
    pub events: usize,
    /// Merchants `m1..=m{merchants}`; at least 1.
    pub merchants: usize,
    /// Ordinary users at the start (`u-000001..`); at least 1. More join
    /// when these cannot carry the traffic at ordinary rates.
    pub users: usize,
    /// Malformed lines per thousand well-formed ones (so 1000 gives one in
    /// two lines), at most 1000.
    pub malformed_per_mille: u32,
    /// Logical time of the first event, seconds since the Unix epoch.
    pub start_at: i64,
    /// Logical time the whole stream covers, approximately, in seconds; at
    /// least 60. The pace adapts so that the last line falls near
    /// `start_at + span_seconds`.
    pub span_seconds: i64,
    /// Seconds between `tick` events; at least 1.
    pub tick_seconds: i64,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            seed: 42,
            events: 100_000,
            merchants: 50,
            users: 20_000,
            malformed_per_mille: 1,
            start_at: START_AT,
            span_seconds: SPAN_SECONDS,
            tick_seconds: TICK_SECONDS,
        }
    }
}

impl TrafficConfig {
    /// Refuses settings the generator cannot honour.
    fn validate(&self) -> io::Result<()> {
        let bad = |what: &str| {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                what.to_string(),
            ))
        };
        if self.merchants == 0 {
            return bad("traffic needs at least one merchant");
        }
        if self.users == 0 {
            return bad("traffic needs at least one user");
        }
        if self.malformed_per_mille > 1000 {
            return bad("malformed_per_mille is above 1000");
        }
        if self.span_seconds < 60 {
            return bad("span_seconds is below 60");
        }
        if self.tick_seconds < 1 {
            return bad("tick_seconds is below 1");
        }
        // Keep every logical time, plus a day of headroom, within i64
        // milliseconds.
        let limit = i64::MAX / 1000 / 4;
        if self.start_at < 0 || self.start_at > limit || self.span_seconds > limit - self.start_at {
            return bad("start_at or span_seconds is out of range");
        }
        Ok(())
    }
}

/// Writes `cfg.events` lines of JSONL traffic to `out` and says what was
/// written. Output is buffered internally and `out` is flushed at the end.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] when the config is unusable (no merchant,
/// no user, a per-mille above 1000, a span under a minute, a tick under a
/// second, times out of range), and any error of `out`.
pub fn generate(cfg: &TrafficConfig, out: &mut impl Write) -> io::Result<TrafficStats> {
    cfg.validate()?;
    r#gen::Engine::new(cfg, out).run()
}
