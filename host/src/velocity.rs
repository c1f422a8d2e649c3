//! The facts and velocity features the host computes for rules.
//!
//! Facts describe the history *before* the current request and never
//! include it: the settlement core asks for facts, runs the rules, and only
//! then records the request if it succeeded. Only successful claims (allowed
//! or held for review) and completed payouts (money in the wallet) are
//! recorded; denied and frozen requests leave no trace here.
//!
//! Time is the logical clock of the events, which never runs backwards: the
//! settlement processes a late event at the latest time seen. "The last
//! hour" and "the last 24 h" are the half-open windows `(now - span, now]`: a
//! record exactly `span` seconds old has left the window. "Today" is the local
//! day of the packet's merchant: `floor((t + offset_minutes * 60) / 86_400)`.
//!
//! Every fact costs `O(log n)` in the size of the history, or amortized
//! `O(1)`, however the traffic is shaped (one device shared by every user, one
//! user claiming all day): the windows slide forward, evicting from the
//! front as time passes (see the `window` submodule), per-user sums are running sums found by
//! binary search, and a device's users are kept sorted with a count each.
//!
//! Memory stays bounded by the traffic of the last [`HISTORY_SECONDS`]: each
//! history is trimmed when it is read or written, and a queue ordered by the
//! time each history's oldest record leaves it trims the others and drops
//! the empty ones, so a history nobody asks about is not kept either. What is
//! kept per user forever is small and fixed: the last known account creation
//! time and one tally per campaign.

mod window;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rules_sdk::{Amount, ClaimFacts, PayoutFacts};

use crate::ledger::fen_to_amount;

use window::{CountWindow, DistinctWindow, Series};

/// One hour, in seconds.
pub const HOUR_SECONDS: i64 = 3_600;
/// One day, in seconds.
pub const DAY_SECONDS: i64 = 86_400;
/// How long claim and payout histories are kept, in seconds.
pub const HISTORY_SECONDS: i64 = 2 * DAY_SECONDS;
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

#[derive(Clone, Debug, Default)]
struct UserHistory {
    account_created_at: Option<i64>,
    /// Claims of the last [`HISTORY_SECONDS`]: "today" and "the last hour".
    claims: Series,
    /// Payouts of the last [`HISTORY_SECONDS`]: "today" and "the last hour".
    payouts: Series,
    /// The packets of the payouts of the last 24 h. Trimmed whenever the
    /// payouts are, and further, so it never holds a payout they do not.
    packets_paid: DistinctWindow,
    campaigns: HashMap<String, Tally>,
    /// Whether a trim of this history is pending in [`Velocity::due`].
    scheduled: bool,
}

impl UserHistory {
    fn trim(&mut self, now: i64) {
        let oldest = now.saturating_sub(HISTORY_SECONDS);
        self.claims.trim(oldest);
        self.payouts.trim(oldest);
        self.packets_paid.trim(now.saturating_sub(DAY_SECONDS));
    }

    /// When the oldest claim or payout leaves the history.
    fn next_due(&self) -> Option<i64> {
        let oldest = match (self.claims.oldest(), self.payouts.oldest()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        oldest.map(|at| at.saturating_add(HISTORY_SECONDS))
    }

    fn shrink(&mut self) {
        self.claims.shrink();
        self.payouts.shrink();
        self.packets_paid.shrink();
    }

    fn is_empty(&self) -> bool {
        self.account_created_at.is_none()
            && self.claims.is_empty()
            && self.payouts.is_empty()
            && self.packets_paid.is_empty()
            && self.campaigns.is_empty()
    }
}

/// A merchant's paid total for one local day.
#[derive(Clone, Copy, Debug, Default)]
struct DayTally {
    day: i64,
    fen: i64,
}

/// A history with records, in the queue of trims.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    User(String),
    Device(String),
    Ip(String),
}

/// Claim and payout history, for computing [`ClaimFacts`] and [`PayoutFacts`].
///
/// Calls must come in nondecreasing `now`, as the settlement's clock does:
/// the windows slide forward and forget what has left them.
#[derive(Clone, Debug, Default)]
pub struct Velocity {
    users: HashMap<String, UserHistory>,
    /// The users of each device over the last 24 h.
    devices: HashMap<String, DistinctWindow>,
    /// The claims from each IP over the last hour.
    ips: HashMap<String, CountWindow>,
    merchants: HashMap<String, DayTally>,
    /// When each history's oldest record leaves it: one entry per device and
    /// IP in the maps above and per user whose history is `scheduled`.
    due: BinaryHeap<Reverse<(i64, Slot)>>,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
        self.expire(now);
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
            let (today, fen) = history
                .claims
                .since(local_day_start(now, q.utc_offset_minutes));
            facts.user_claims_today = count(today);
            facts.user_claimed_today = fen_to_amount(fen);
            facts.user_claims_last_hour =
                count(history.claims.count_after(now.saturating_sub(HOUR_SECONDS)));
            if let Some(tally) = q.campaign.and_then(|c| history.campaigns.get(c)) {
                facts.user_campaign_claims = tally.count;
                facts.user_campaign_claimed = fen_to_amount(tally.fen);
            }
        }
        if let Some(device) = q.device {
            let window = self.devices.get_mut(device).map(|window| {
                window.trim(now.saturating_sub(DAY_SECONDS));
                &*window
            });
            let others = window.map_or(0, |w| w.distinct() - usize::from(w.contains(q.user)));
            facts.device_distinct_users_24h = count(others + 1);
            // The smallest others, in order, then this user in its place.
            let mut listed: Vec<String> = window
                .into_iter()
                .flat_map(DistinctWindow::keys)
                .filter(|u| *u != q.user)
                .take(DEVICE_USERS_LISTED_MAX - 1)
                .map(str::to_string)
                .collect();
            let at = listed.partition_point(|u| u.as_str() < q.user);
            listed.insert(at, q.user.to_string());
            facts.device_recent_users = listed;
        }
        if let Some(ip) = q.ip
            && let Some(window) = self.ips.get_mut(ip)
        {
            window.trim(now.saturating_sub(HOUR_SECONDS));
            facts.ip_claims_last_hour = count(window.len());
        }
        facts
    }

    /// Records a successful claim of `amount` at `now`.
    pub fn record_claim(&mut self, now: i64, q: &ClaimQuery<'_>, amount: Amount) {
        self.expire(now);
        let fen = amount.fen();
        let history = self.users.entry(q.user.to_string()).or_default();
        history.trim(now);
        history.claims.push(now, fen);
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
        schedule_user(&mut self.due, history, q.user);
        if let Some(device) = q.device {
            let oldest = now.saturating_sub(DAY_SECONDS);
            let window = match self.devices.get_mut(device) {
                Some(window) => window,
                None => {
                    let due = now.saturating_add(DAY_SECONDS);
                    self.due
                        .push(Reverse((due, Slot::Device(device.to_string()))));
                    self.devices.entry(device.to_string()).or_default()
                }
            };
            window.trim(oldest);
            window.push(now, q.user);
        }
        if let Some(ip) = q.ip {
            let oldest = now.saturating_sub(HOUR_SECONDS);
            let window = match self.ips.get_mut(ip) {
                Some(window) => window,
                None => {
                    let due = now.saturating_add(HOUR_SECONDS);
                    self.due.push(Reverse((due, Slot::Ip(ip.to_string()))));
                    self.ips.entry(ip.to_string()).or_default()
                }
            };
            window.trim(oldest);
            window.push(now);
        }
    }

    /// The facts of a payout at `now`, from the history before it.
    pub fn payout_facts(&mut self, now: i64, q: &PayoutQuery<'_>) -> PayoutFacts {
        self.expire(now);
        let mut facts = PayoutFacts {
            utc_offset_minutes: q.utc_offset_minutes,
            seconds_since_claim: now.saturating_sub(q.claimed_at),
            ..PayoutFacts::default()
        };
        if let Some(history) = self.users.get_mut(q.user) {
            facts.account_age_seconds = history
                .account_created_at
                .map(|created| now.saturating_sub(created));
            let (today, fen) = history
                .payouts
                .since(local_day_start(now, q.utc_offset_minutes));
            facts.user_payouts_today = count(today);
            facts.user_paid_today = fen_to_amount(fen);
            facts.user_payouts_last_hour = count(
                history
                    .payouts
                    .count_after(now.saturating_sub(HOUR_SECONDS)),
            );
            history.packets_paid.trim(now.saturating_sub(DAY_SECONDS));
            facts.user_distinct_packets_paid_24h = count(history.packets_paid.distinct());
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
        self.expire(now);
        let fen = amount.fen();
        let history = self.users.entry(q.user.to_string()).or_default();
        history.trim(now);
        history.payouts.push(now, fen);
        history.packets_paid.push(now, q.packet);
        schedule_user(&mut self.due, history, q.user);
        let day = local_day(now, q.utc_offset_minutes);
        let tally = self.merchants.entry(q.merchant.to_string()).or_default();
        if tally.day != day {
            *tally = DayTally { day, fen: 0 };
        }
        tally.fen = tally.fen.saturating_add(fen);
    }

    /// Trims every history whose oldest record has left it by `now`, and
    /// drops the histories left empty.
    ///
    /// Each trim removes at least one record or one history, so the work is
    /// paid for by the records: `O(log n)` per record, amortized.
    fn expire(&mut self, now: i64) {
        // Histories still holding records come back into the queue after the
        // loop, so a due time that saturated at `i64::MAX` is seen once.
        let mut again = Vec::new();
        while self.due.peek().is_some_and(|Reverse((at, _))| *at <= now) {
            let Some(Reverse((_, slot))) = self.due.pop() else {
                break;
            };
            let next = match &slot {
                Slot::User(user) => match self.users.get_mut(user) {
                    Some(history) => {
                        history.trim(now);
                        history.shrink();
                        let next = history.next_due();
                        history.scheduled = next.is_some();
                        if history.is_empty() {
                            self.users.remove(user);
                        }
                        next
                    }
                    None => None,
                },
                Slot::Device(device) => match self.devices.get_mut(device) {
                    Some(window) => {
                        window.trim(now.saturating_sub(DAY_SECONDS));
                        window.shrink();
                        let next = window.oldest().map(|at| at.saturating_add(DAY_SECONDS));
                        if next.is_none() {
                            self.devices.remove(device);
                        }
                        next
                    }
                    None => None,
                },
                Slot::Ip(ip) => match self.ips.get_mut(ip) {
                    Some(window) => {
                        window.trim(now.saturating_sub(HOUR_SECONDS));
                        window.shrink();
                        let next = window.oldest().map(|at| at.saturating_add(HOUR_SECONDS));
                        if next.is_none() {
                            self.ips.remove(ip);
                        }
                        next
                    }
                    None => None,
                },
            };
            if let Some(at) = next {
                again.push(Reverse((at, slot)));
            }
        }
        self.due.extend(again);
    }

    /// How many users, devices and IPs have history: for tests and reports
    /// of memory use.
    pub fn tracked(&self) -> (usize, usize, usize) {
        (self.users.len(), self.devices.len(), self.ips.len())
    }
}

/// Queues the trim of a user's history that just got a record, unless one
/// is queued already.
fn schedule_user(
    due: &mut BinaryHeap<Reverse<(i64, Slot)>>,
    history: &mut UserHistory,
    user: &str,
) {
    if !history.scheduled
        && let Some(at) = history.next_due()
    {
        history.scheduled = true;
        due.push(Reverse((at, Slot::User(user.to_string()))));
    }
}

#[cfg(test)]
mod tests;
