//! The facts and velocity features the host computes for rules.
//!
//! Facts describe the history *before* the current request and never
//! include it: the settlement core asks for facts, runs the rules, and only
//! then records the request if it succeeded. Only successful claims (allowed
//! or held for review) and completed payouts (money in the wallet) are
//! recorded; denied and frozen requests leave no trace here.
//!
//! Time is the logical clock of the events. "The last hour" and "the last
//! 24 h" are the half-open windows `(now - span, now]`: a record exactly
//! `span` seconds old has left the window. "Today" is the local day of the
//! packet's merchant: `floor((t + offset_minutes * 60) / 86_400)`.
//!
//! Memory stays bounded by the traffic of the last [`HISTORY_SECONDS`]:
//! windows are trimmed when they are read or written, and a sweep every
//! [`SWEEP_EVERY_SECONDS`] of logical time trims every history and drops the
//! empty ones. What is kept per user forever is small and fixed: the last
//! known account creation time and one tally per campaign.

use std::collections::{HashMap, HashSet, VecDeque};

use rules_sdk::{Amount, ClaimFacts, PayoutFacts};

use crate::ledger::fen_to_amount;

/// One hour, in seconds.
pub const HOUR_SECONDS: i64 = 3_600;
/// One day, in seconds.
pub const DAY_SECONDS: i64 = 86_400;
/// How long claim and payout histories are kept, in seconds.
pub const HISTORY_SECONDS: i64 = 2 * DAY_SECONDS;
/// How often, in logical seconds, every history is trimmed.
pub const SWEEP_EVERY_SECONDS: i64 = HOUR_SECONDS;
/// The most users listed in [`ClaimFacts::device_recent_users`].
pub const DEVICE_USERS_LISTED_MAX: usize = 32;
/// The UTC offset that defines "today" when a merchant has none configured:
/// UTC+8, as WeChat's daily limits use.
pub const UTC_OFFSET_DEFAULT_MINUTES: i32 = 480;

// A local day must fit inside the history, or "today" would lose claims.
const _: () = assert!(HISTORY_SECONDS >= DAY_SECONDS);
const _: () = assert!(DEVICE_USERS_LISTED_MAX >= 1);

/// The local day number of `t` at `utc_offset_minutes` east of UTC.
pub fn local_day(t: i64, utc_offset_minutes: i32) -> i64 {
    t.saturating_add(i64::from(utc_offset_minutes) * 60)
        .div_euclid(DAY_SECONDS)
}

/// The first second (UTC) of the local day that contains `t`.
fn local_day_start(t: i64, utc_offset_minutes: i32) -> i64 {
    local_day(t, utc_offset_minutes) * DAY_SECONDS - i64::from(utc_offset_minutes) * 60
}

/// What the host knows about a claim request, to compute its facts and,
/// once it succeeded, to record it.
#[derive(Clone, Copy, Debug)]
pub struct ClaimQuery<'a> {
    /// The claiming user.
    pub user: &'a str,
    /// The device, if the client sent one.
    pub device: Option<&'a str>,
    /// The client IP, if known.
    pub ip: Option<&'a str>,
    /// The packet's campaign, if any.
    pub campaign: Option<&'a str>,
    /// The account creation time the request carried, if any.
    pub account_created_at: Option<i64>,
    /// The packet merchant's UTC offset, in minutes.
    pub utc_offset_minutes: i32,
}

/// What the host knows about a payout request.
#[derive(Clone, Copy, Debug)]
pub struct PayoutQuery<'a> {
    /// The user being paid.
    pub user: &'a str,
    /// The packet's merchant.
    pub merchant: &'a str,
    /// The packet paid from.
    pub packet: &'a str,
    /// When the claim was made (logical seconds).
    pub claimed_at: i64,
    /// The merchant's UTC offset, in minutes.
    pub utc_offset_minutes: i32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    count: u32,
    fen: i64,
}

impl Tally {
    fn add(&mut self, fen: i64) {
        self.count = self.count.saturating_add(1);
        self.fen = self.fen.saturating_add(fen);
    }
}

#[derive(Clone, Copy, Debug)]
struct Mark {
    at: i64,
    fen: i64,
}

#[derive(Clone, Debug)]
struct PayoutMark {
    at: i64,
    fen: i64,
    packet: String,
}

#[derive(Clone, Debug, Default)]
struct UserHistory {
    account_created_at: Option<i64>,
    claims: VecDeque<Mark>,
    payouts: VecDeque<PayoutMark>,
    campaigns: HashMap<String, Tally>,
}

impl UserHistory {
    fn trim(&mut self, now: i64) {
        let oldest = now.saturating_sub(HISTORY_SECONDS);
        while self.claims.front().is_some_and(|m| m.at <= oldest) {
            self.claims.pop_front();
        }
        while self.payouts.front().is_some_and(|m| m.at <= oldest) {
            self.payouts.pop_front();
        }
    }

    fn is_empty(&self) -> bool {
        self.account_created_at.is_none()
            && self.claims.is_empty()
            && self.payouts.is_empty()
            && self.campaigns.is_empty()
    }
}

/// The users of one device over the last 24 h, with a count per user so the
/// number of distinct users is known without a scan.
#[derive(Clone, Debug, Default)]
struct DeviceWindow {
    claims: VecDeque<(i64, String)>,
    users: HashMap<String, u32>,
}

impl DeviceWindow {
    fn trim(&mut self, now: i64) {
        let oldest = now.saturating_sub(DAY_SECONDS);
        while self.claims.front().is_some_and(|(at, _)| *at <= oldest) {
            if let Some((_, user)) = self.claims.pop_front()
                && let Some(n) = self.users.get_mut(&user)
            {
                *n -= 1;
                if *n == 0 {
                    self.users.remove(&user);
                }
            }
        }
    }
}

/// A merchant's paid total for one local day.
#[derive(Clone, Copy, Debug, Default)]
struct DayTally {
    day: i64,
    fen: i64,
}

/// Claim and payout history, for computing [`ClaimFacts`] and [`PayoutFacts`].
#[derive(Clone, Debug, Default)]
pub struct Velocity {
    users: HashMap<String, UserHistory>,
    devices: HashMap<String, DeviceWindow>,
    ips: HashMap<String, VecDeque<i64>>,
    merchants: HashMap<String, DayTally>,
    next_sweep_at: Option<i64>,
}

fn trim_ip(window: &mut VecDeque<i64>, now: i64) {
    let oldest = now.saturating_sub(HOUR_SECONDS);
    while window.front().is_some_and(|at| *at <= oldest) {
        window.pop_front();
    }
}

/// Releases spare capacity of a window that shrank to a quarter of it.
fn shrink<T>(window: &mut VecDeque<T>) {
    if window.capacity() > 64 && window.len() < window.capacity() / 4 {
        window.shrink_to_fit();
    }
}

impl Velocity {
    /// An empty history.
    pub fn new() -> Velocity {
        Velocity::default()
    }

    /// The facts of a claim at `now`, from the history before it.
    ///
    /// When the request carries an account creation time it is remembered
    /// for the user's later requests that do not.
    pub fn claim_facts(&mut self, now: i64, q: &ClaimQuery<'_>) -> ClaimFacts {
        self.maybe_sweep(now);
        if let Some(created) = q.account_created_at {
            self.users
                .entry(q.user.to_string())
                .or_default()
                .account_created_at = Some(created);
        }
        let mut facts = ClaimFacts {
            utc_offset_minutes: q.utc_offset_minutes,
            ..ClaimFacts::default()
        };
        if let Some(history) = self.users.get(q.user) {
            facts.account_age_seconds = history
                .account_created_at
                .map(|created| now.saturating_sub(created));
            let day_start = local_day_start(now, q.utc_offset_minutes);
            let hour_start = now.saturating_sub(HOUR_SECONDS);
            let mut today = Tally::default();
            for mark in &history.claims {
                if mark.at >= day_start {
                    today.add(mark.fen);
                }
                if mark.at > hour_start {
                    facts.user_claims_last_hour += 1;
                }
            }
            facts.user_claims_today = today.count;
            facts.user_claimed_today = fen_to_amount(today.fen);
            if let Some(tally) = q.campaign.and_then(|c| history.campaigns.get(c)) {
                facts.user_campaign_claims = tally.count;
                facts.user_campaign_claimed = fen_to_amount(tally.fen);
            }
        }
        if let Some(device) = q.device {
            let mut others: Vec<&str> = Vec::new();
            if let Some(window) = self.devices.get_mut(device) {
                window.trim(now);
            }
            if let Some(window) = self.devices.get(device) {
                others.extend(
                    window
                        .users
                        .keys()
                        .map(String::as_str)
                        .filter(|u| *u != q.user),
                );
            }
            facts.device_distinct_users_24h = u32::try_from(others.len() + 1).unwrap_or(u32::MAX);
            others.sort_unstable();
            others.truncate(DEVICE_USERS_LISTED_MAX - 1);
            others.push(q.user);
            others.sort_unstable();
            facts.device_recent_users = others.into_iter().map(str::to_string).collect();
        }
        if let Some(ip) = q.ip
            && let Some(window) = self.ips.get_mut(ip)
        {
            trim_ip(window, now);
            facts.ip_claims_last_hour = u32::try_from(window.len()).unwrap_or(u32::MAX);
        }
        facts
    }

    /// Records a successful claim of `amount` at `now`.
    pub fn record_claim(&mut self, now: i64, q: &ClaimQuery<'_>, amount: Amount) {
        self.maybe_sweep(now);
        let fen = amount.fen();
        let history = self.users.entry(q.user.to_string()).or_default();
        history.trim(now);
        history.claims.push_back(Mark { at: now, fen });
        if let Some(campaign) = q.campaign {
            match history.campaigns.get_mut(campaign) {
                Some(tally) => tally.add(fen),
                None => {
                    let mut tally = Tally::default();
                    tally.add(fen);
                    history.campaigns.insert(campaign.to_string(), tally);
                }
            }
        }
        if let Some(device) = q.device {
            let window = self.devices.entry(device.to_string()).or_default();
            window.trim(now);
            window.claims.push_back((now, q.user.to_string()));
            *window.users.entry(q.user.to_string()).or_default() += 1;
        }
        if let Some(ip) = q.ip {
            let window = self.ips.entry(ip.to_string()).or_default();
            trim_ip(window, now);
            window.push_back(now);
        }
    }

    /// The facts of a payout at `now`, from the history before it.
    pub fn payout_facts(&mut self, now: i64, q: &PayoutQuery<'_>) -> PayoutFacts {
        self.maybe_sweep(now);
        let mut facts = PayoutFacts {
            utc_offset_minutes: q.utc_offset_minutes,
            seconds_since_claim: now.saturating_sub(q.claimed_at),
            ..PayoutFacts::default()
        };
        if let Some(history) = self.users.get(q.user) {
            facts.account_age_seconds = history
                .account_created_at
                .map(|created| now.saturating_sub(created));
            let day_start = local_day_start(now, q.utc_offset_minutes);
            let hour_start = now.saturating_sub(HOUR_SECONDS);
            let day_ago = now.saturating_sub(DAY_SECONDS);
            let mut today = Tally::default();
            let mut packets: HashSet<&str> = HashSet::new();
            for mark in &history.payouts {
                if mark.at >= day_start {
                    today.add(mark.fen);
                }
                if mark.at > hour_start {
                    facts.user_payouts_last_hour += 1;
                }
                if mark.at > day_ago {
                    packets.insert(&mark.packet);
                }
            }
            facts.user_payouts_today = today.count;
            facts.user_paid_today = fen_to_amount(today.fen);
            facts.user_distinct_packets_paid_24h = u32::try_from(packets.len()).unwrap_or(u32::MAX);
        }
        if let Some(tally) = self.merchants.get(q.merchant)
            && tally.day == local_day(now, q.utc_offset_minutes)
        {
            facts.merchant_paid_today = fen_to_amount(tally.fen);
        }
        facts
    }

    /// Records a completed payout of `amount` at `now`.
    pub fn record_payout(&mut self, now: i64, q: &PayoutQuery<'_>, amount: Amount) {
        self.maybe_sweep(now);
        let fen = amount.fen();
        let history = self.users.entry(q.user.to_string()).or_default();
        history.trim(now);
        history.payouts.push_back(PayoutMark {
            at: now,
            fen,
            packet: q.packet.to_string(),
        });
        let day = local_day(now, q.utc_offset_minutes);
        let tally = self.merchants.entry(q.merchant.to_string()).or_default();
        if tally.day != day {
            *tally = DayTally { day, fen: 0 };
        }
        tally.fen = tally.fen.saturating_add(fen);
    }

    /// Trims every history once per [`SWEEP_EVERY_SECONDS`] of logical time.
    fn maybe_sweep(&mut self, now: i64) {
        if self.next_sweep_at.is_some_and(|at| now < at) {
            return;
        }
        self.next_sweep_at = Some(now.saturating_add(SWEEP_EVERY_SECONDS));
        self.users.retain(|_, h| {
            h.trim(now);
            shrink(&mut h.claims);
            shrink(&mut h.payouts);
            !h.is_empty()
        });
        self.devices.retain(|_, w| {
            w.trim(now);
            shrink(&mut w.claims);
            !w.claims.is_empty()
        });
        self.ips.retain(|_, w| {
            trim_ip(w, now);
            shrink(w);
            !w.is_empty()
        });
    }

    /// How many users, devices and IPs have history: for tests and reports
    /// of memory use.
    pub fn tracked(&self) -> (usize, usize, usize) {
        (self.users.len(), self.devices.len(), self.ips.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(text: &str) -> Amount {
        Amount::parse(text).expect("test amount")
    }

    fn q<'a>(user: &'a str, device: Option<&'a str>, ip: Option<&'a str>) -> ClaimQuery<'a> {
        ClaimQuery {
            user,
            device,
            ip,
            campaign: Some("spring"),
            account_created_at: None,
            utc_offset_minutes: UTC_OFFSET_DEFAULT_MINUTES,
        }
    }

    // 2026-12-03 00:00:00 in UTC+8 is 2026-12-02 16:00:00 UTC.
    const MIDNIGHT_CST: i64 = 1_796_227_200;

    #[test]
    fn local_days_follow_the_offset() {
        assert_eq!(
            local_day(MIDNIGHT_CST, 480),
            local_day(MIDNIGHT_CST + 1, 480)
        );
        assert_eq!(
            local_day(MIDNIGHT_CST - 1, 480) + 1,
            local_day(MIDNIGHT_CST, 480)
        );
        assert_eq!(local_day_start(MIDNIGHT_CST + 5_000, 480), MIDNIGHT_CST);
        // The same instant is still the previous day in UTC.
        assert_eq!(local_day(MIDNIGHT_CST, 0), local_day(MIDNIGHT_CST - 1, 0));
        assert_eq!(local_day(-1, 0), -1);
        assert_eq!(local_day(0, -60), -1);
    }

    #[test]
    fn claim_facts_count_history_before_the_request() {
        let mut v = Velocity::new();
        let t = MIDNIGHT_CST + 10 * HOUR_SECONDS;
        let first = v.claim_facts(t, &q("u1", Some("d1"), Some("ip1")));
        assert_eq!(first.user_claims_today, 0);
        assert_eq!(first.device_distinct_users_24h, 1);
        assert_eq!(first.device_recent_users, ["u1"]);
        assert_eq!(first.ip_claims_last_hour, 0);
        assert_eq!(first.utc_offset_minutes, 480);
        v.record_claim(t, &q("u1", Some("d1"), Some("ip1")), amt("1.50"));
        v.record_claim(t + 10, &q("u1", Some("d1"), Some("ip1")), amt("2.00"));
        v.record_claim(t + 20, &q("u2", Some("d1"), Some("ip2")), amt("0.10"));

        let f = v.claim_facts(t + 30, &q("u1", Some("d1"), Some("ip1")));
        assert_eq!(f.user_claims_today, 2);
        assert_eq!(f.user_claimed_today, amt("3.50"));
        assert_eq!(f.user_claims_last_hour, 2);
        assert_eq!(f.user_campaign_claims, 2);
        assert_eq!(f.user_campaign_claimed, amt("3.50"));
        assert_eq!(f.device_distinct_users_24h, 2);
        assert_eq!(f.device_recent_users, ["u1", "u2"]);
        assert_eq!(f.ip_claims_last_hour, 2);

        // A new user on the same device counts itself too.
        let f = v.claim_facts(t + 30, &q("u0", Some("d1"), None));
        assert_eq!(f.device_distinct_users_24h, 3);
        assert_eq!(f.device_recent_users, ["u0", "u1", "u2"]);
        assert_eq!(f.user_claims_today, 0);
        assert_eq!(f.ip_claims_last_hour, 0);
        // No device: nothing to count.
        let f = v.claim_facts(t + 30, &q("u1", None, None));
        assert_eq!(f.device_distinct_users_24h, 0);
        assert!(f.device_recent_users.is_empty());
        // Another campaign has its own tally.
        let mut other = q("u1", None, None);
        other.campaign = Some("autumn");
        assert_eq!(v.claim_facts(t + 30, &other).user_campaign_claims, 0);
        other.campaign = None;
        assert_eq!(
            v.claim_facts(t + 30, &other).user_campaign_claimed,
            Amount::ZERO
        );
    }

    #[test]
    fn windows_and_days_roll_over() {
        let mut v = Velocity::new();
        let t = MIDNIGHT_CST - 100; // 23:58:20 local.
        v.record_claim(t, &q("u1", Some("d1"), Some("ip1")), amt("1.00"));
        // Just after local midnight: a new day, but still the same hour.
        let f = v.claim_facts(MIDNIGHT_CST, &q("u1", Some("d1"), Some("ip1")));
        assert_eq!((f.user_claims_today, f.user_claims_last_hour), (0, 1));
        assert_eq!(f.ip_claims_last_hour, 1);
        // Exactly one hour later the claim has left the hour window.
        let f = v.claim_facts(t + HOUR_SECONDS, &q("u1", Some("d1"), Some("ip1")));
        assert_eq!((f.user_claims_last_hour, f.ip_claims_last_hour), (0, 0));
        assert_eq!(f.device_distinct_users_24h, 1);
        // Seen from UTC, the same claim is on the same day as midnight CST.
        let mut utc = q("u1", None, None);
        utc.utc_offset_minutes = 0;
        assert_eq!(v.claim_facts(MIDNIGHT_CST, &utc).user_claims_today, 1);
        // Another user on the device, then 24 h later the first one is gone.
        v.record_claim(t + 1_000, &q("u2", Some("d1"), None), amt("1.00"));
        let f = v.claim_facts(t + DAY_SECONDS, &q("u3", Some("d1"), None));
        assert_eq!(f.device_recent_users, ["u2", "u3"]);
        // The campaign tally is not a window.
        assert_eq!(
            v.claim_facts(t + 3 * DAY_SECONDS, &q("u1", None, None))
                .user_campaign_claims,
            1
        );
    }

    #[test]
    fn device_lists_at_most_32_users_and_always_this_one() {
        let mut v = Velocity::new();
        for i in 0..40 {
            let user = format!("u{i:02}");
            v.record_claim(100 + i, &q(&user, Some("farm"), None), amt("0.01"));
        }
        let f = v.claim_facts(200, &q("zz", Some("farm"), None));
        assert_eq!(f.device_distinct_users_24h, 41);
        assert_eq!(f.device_recent_users.len(), DEVICE_USERS_LISTED_MAX);
        assert_eq!(
            f.device_recent_users.first().map(String::as_str),
            Some("u00")
        );
        assert_eq!(f.device_recent_users.last().map(String::as_str), Some("zz"));
        let mut sorted = f.device_recent_users.clone();
        sorted.sort();
        assert_eq!(sorted, f.device_recent_users);
        let f = v.claim_facts(200, &q("u05", Some("farm"), None));
        assert_eq!(f.device_distinct_users_24h, 40);
        assert_eq!(f.device_recent_users.len(), DEVICE_USERS_LISTED_MAX);
    }

    #[test]
    fn account_age_comes_from_the_request_or_the_last_one_seen() {
        let mut v = Velocity::new();
        let mut with_age = q("u1", None, None);
        with_age.account_created_at = Some(1_000);
        assert_eq!(
            v.claim_facts(5_000, &with_age).account_age_seconds,
            Some(4_000)
        );
        assert_eq!(
            v.claim_facts(6_000, &q("u1", None, None))
                .account_age_seconds,
            Some(5_000)
        );
        assert_eq!(
            v.claim_facts(6_000, &q("u2", None, None))
                .account_age_seconds,
            None
        );
        let p = PayoutQuery {
            user: "u1",
            merchant: "m1",
            packet: "p1",
            claimed_at: 5_500,
            utc_offset_minutes: 480,
        };
        let f = v.payout_facts(7_000, &p);
        assert_eq!(f.account_age_seconds, Some(6_000));
        assert_eq!(f.seconds_since_claim, 1_500);
    }

    #[test]
    fn payout_facts_count_completed_payouts() {
        let mut v = Velocity::new();
        let t = MIDNIGHT_CST + HOUR_SECONDS;
        let p = |user, merchant, packet| PayoutQuery {
            user,
            merchant,
            packet,
            claimed_at: t,
            utc_offset_minutes: 480,
        };
        let f = v.payout_facts(t, &p("u1", "m1", "p1"));
        assert_eq!(
            (f.user_payouts_today, f.merchant_paid_today),
            (0, Amount::ZERO)
        );
        v.record_payout(t, &p("u1", "m1", "p1"), amt("1.00"));
        v.record_payout(t + 10, &p("u1", "m1", "p2"), amt("2.00"));
        v.record_payout(t + 20, &p("u1", "m2", "p2"), amt("4.00"));
        v.record_payout(t + 30, &p("u2", "m1", "p3"), amt("8.00"));
        let f = v.payout_facts(t + 40, &p("u1", "m1", "p9"));
        assert_eq!(f.user_payouts_today, 3);
        assert_eq!(f.user_paid_today, amt("7.00"));
        assert_eq!(f.user_payouts_last_hour, 3);
        assert_eq!(f.user_distinct_packets_paid_24h, 2);
        assert_eq!(f.merchant_paid_today, amt("11.00"));
        // Next local day: day counters reset, the 24 h window does not.
        let next = MIDNIGHT_CST + DAY_SECONDS;
        let f = v.payout_facts(next, &p("u1", "m1", "p9"));
        assert_eq!((f.user_payouts_today, f.user_payouts_last_hour), (0, 0));
        assert_eq!(f.user_distinct_packets_paid_24h, 2);
        assert_eq!(f.merchant_paid_today, Amount::ZERO);
    }

    #[test]
    fn memory_stays_bounded_by_the_window() {
        let mut v = Velocity::new();
        for i in 0..10_000i64 {
            let user = format!("u{}", i % 500);
            let device = format!("d{}", i % 300);
            let ip = format!("ip{}", i % 200);
            v.record_claim(i * 60, &q(&user, Some(&device), Some(&ip)), amt("0.01"));
        }
        // Three days later, after a sweep, only campaign tallies remain.
        let late = 10_000 * 60 + 3 * DAY_SECONDS;
        v.claim_facts(late, &q("new", None, None));
        let (users, devices, ips) = v.tracked();
        assert_eq!((devices, ips), (0, 0));
        assert!(users <= 500);
        assert!(v.users.values().all(|h| h.claims.is_empty()));
    }
}
