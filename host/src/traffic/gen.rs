//! The simulation behind [`generate`](super::generate): accounts, merchants,
//! packets, a logical clock and a queue of future actions.
//!
//! The clock moves in milliseconds; events carry whole seconds. Each step of
//! the main loop first runs every queued action due before the next step's
//! time, in time order (ties in the order they were queued), then takes one
//! step: start an abuse episode if that pattern is behind its share of claims,
//! create a packet if the open packets run short of shares, or let an
//! ordinary user claim. Whatever happens later (payouts, retries, review
//! resolutions, an episode's claims, ticks) is queued. So lines come out in
//! nondecreasing time, and only the seed decides what they are.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::{self, Write};

use rules_sdk::{AMOUNT_FEN_MAX, Amount};

use super::TrafficConfig;
use super::label::Label;
use super::names;
use super::rng::Rng;
use super::sink::Sink;
use super::stats::TrafficStats;
use crate::event::{Event, ReviewDecision, SplitKind};

pub(super) const SECOND_MS: i64 = 1_000;
pub(super) const MINUTE_MS: i64 = 60 * SECOND_MS;
pub(super) const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(super) const DAY_MS: i64 = 24 * HOUR_MS;
pub(super) const DAY_SECONDS: i64 = 24 * 3600;

/// The UTC offset of "today" for daily limits: UTC+8, as WeChat's.
pub(super) const LOCAL_OFFSET_MS: i64 = 8 * HOUR_MS;

/// The core's default packet expiry.
pub(super) const DEFAULT_EXPIRY_MS: i64 = DAY_MS;

/// A claim is only aimed at a packet that stays open at least this long.
const EXPIRY_MARGIN_MS: i64 = MINUTE_MS;

/// When the open packets offer fewer shares than this to ordinary claims,
/// the next step creates a packet.
const POOL_LOW_SHARES: u64 = 150;

/// Ordinary users claim at most this many times per local day, well under
/// the platform's daily limit of 10.
const ORDINARY_CLAIMS_PER_DAY_MAX: u32 = 5;

/// Ordinary users' claims in a local day stay under this sum of share upper
/// bounds (900.00), under the platform's daily limit of 1,000.00.
const ORDINARY_BOUND_PER_DAY_FEN_MAX: i64 = 90_000;

/// Per mille of ordinary claims and payouts re-sent under the same id.
const DUPLICATE_PER_MILLE: u64 = 25;

/// Per mille of those re-sends whose body differs (a conflict).
const DUPLICATE_CONFLICT_PER_MILLE: u64 = 150;

/// Per mille of abuse-labelled claims and payouts a reviewer later resolves.
const RESOLVE_PER_MILLE: u64 = 50;

/// Expected lines per main-loop step, in thousandths, for the initial pace
/// (a claim, most of a payout, a share of a packet, retries, episodes); the
/// pacer corrects it as the run goes.
const LINES_PER_STEP_MILLI: i64 = 2_100;

/// An account that claims: ordinary users, staff, and accounts that join for
/// an episode.
pub(super) struct Account {
    pub(super) id: String,
    pub(super) device: String,
    pub(super) ip: String,
    /// Seconds since the Unix epoch.
    pub(super) created_at: i64,
    /// The local day of the counters below.
    day: i64,
    day_claims: u32,
    day_bound_fen: i64,
}

impl Account {
    fn claims_on(&self, day: i64) -> u32 {
        if self.day == day { self.day_claims } else { 0 }
    }

    fn bound_on(&self, day: i64) -> i64 {
        if self.day == day {
            self.day_bound_fen
        } else {
            0
        }
    }

    fn note_claim(&mut self, day: i64, bound_fen: i64) {
        if self.day != day {
            self.day = day;
            self.day_claims = 0;
            self.day_bound_fen = 0;
        }
        self.day_claims += 1;
        self.day_bound_fen += bound_fen;
    }
}

pub(super) struct Merchant {
    pub(super) id: String,
    /// Deposits minus packet totals; expiry refunds are left out, so this
    /// never overstates what the core holds.
    available_fen: i64,
    bills: u64,
    campaigns: i64,
}

pub(super) struct Packet {
    id: String,
    expires_ms: i64,
    /// The largest share this packet can give: exact for a fixed split, the
    /// total minus 0.01 per other share for a random one.
    pub(super) share_bound_fen: i64,
    /// Shares still offered to claims that pick any open packet.
    pool_left: u32,
    /// Accounts that claimed it, so that nobody is sent twice (retries
    /// aside).
    claimers: Vec<u32>,
}

/// What a packet is made of.
pub(super) struct PacketSpec {
    pub(super) total_fen: i64,
    pub(super) shares: u32,
    pub(super) split: SplitKind,
    /// Seconds; `None` for the core's default of 24 h.
    pub(super) expires_in: Option<i64>,
}

impl PacketSpec {
    fn share_bound_fen(&self) -> i64 {
        let shares = i64::from(self.shares.max(1));
        match self.split {
            SplitKind::Fixed => (self.total_fen + shares - 1) / shares,
            SplitKind::Random => self.total_fen - (shares - 1),
        }
    }
}

/// Which packet a queued claim goes to.
pub(super) enum Target {
    /// Any open packet offered to the pool.
    Pool,
    /// A share set aside on this packet when the episode began.
    Reserved(u32),
    /// One share of a packet the merchant creates right then; its other
    /// shares are offered to the pool.
    NewPacket { merchant: usize, spec: PacketSpec },
}

pub(super) enum Action {
    Tick,
    Claim {
        user: u32,
        target: Target,
        label: Label,
    },
    Payout {
        claim: String,
        user: u32,
        label: Label,
    },
    /// A retry of an earlier claim or payout, already built.
    Resend(Box<Event>),
    Resolve {
        target: String,
        decision: ReviewDecision,
    },
    Unfreeze {
        user: u32,
    },
}

/// A queued action; the heap pops the earliest, ties in queueing order.
struct Due {
    at_ms: i64,
    seq: u64,
    action: Action,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ms, self.seq) == (other.at_ms, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap.
        (other.at_ms, other.seq).cmp(&(self.at_ms, self.seq))
    }
}

/// Running request numbers, one per id prefix.
#[derive(Default)]
pub(super) struct Counters {
    deposit: u64,
    claim: u64,
    payout: u64,
    review: u64,
    unfreeze: u64,
    pub(super) farm: u64,
    pub(super) burst: u64,
}

pub(super) struct Engine<'a, 'w, W: Write> {
    pub(super) cfg: &'a TrafficConfig,
    pub(super) rng: Rng,
    sink: Sink<'w, W>,
    pub(super) now_ms: i64,
    start_ms: i64,
    span_ms: i64,
    heap: BinaryHeap<Due>,
    seq: u64,
    pub(super) accounts: Vec<Account>,
    /// Accounts that ordinary claims are drawn from.
    ordinary: Vec<u32>,
    /// Index of `u-bl-1` in `accounts`; the blocklisted users follow it.
    pub(super) blocklisted_base: usize,
    /// Index of `m1-staff-1` in `accounts`; merchant `i` (0-based) has its
    /// staff at `staff_base + i * 3 ..`.
    pub(super) staff_base: usize,
    next_user: usize,
    pub(super) merchants: Vec<Merchant>,
    packets: Vec<Packet>,
    /// Packets offering shares to any claim; stale entries are dropped
    /// when drawn.
    pool: Vec<u32>,
    pool_free: u64,
    pub(super) counters: Counters,
    /// Claims committed per label (planned ones included), and in total.
    committed: [u64; Label::ALL.len()],
    committed_total: u64,
    /// Per pattern, how far it may fall behind its share before its next
    /// episode (see `episodes.rs`).
    pub(super) slack: [u64; Label::ALL.len()],
}

/// The local (UTC+8) day number of a time in milliseconds.
pub(super) fn local_day(at_ms: i64) -> i64 {
    (at_ms + LOCAL_OFFSET_MS).div_euclid(DAY_MS)
}

/// The start of the local day after the one holding `at_ms`.
pub(super) fn next_local_midnight_ms(at_ms: i64) -> i64 {
    (local_day(at_ms) + 1) * DAY_MS - LOCAL_OFFSET_MS
}

/// An amount of fen as an [`Amount`], clamped into its range.
fn amount(fen: i64) -> Amount {
    Amount::from_fen(fen.clamp(0, AMOUNT_FEN_MAX)).unwrap_or(Amount::ZERO)
}

/// Whole yuan in fen.
pub(super) const fn yuan(yuan: i64) -> i64 {
    yuan * 100
}

/// Seconds of a millisecond time.
fn secs(at_ms: i64) -> i64 {
    at_ms.div_euclid(SECOND_MS)
}

impl<'a, 'w, W: Write> Engine<'a, 'w, W> {
    pub(super) fn new(cfg: &'a TrafficConfig, out: &'w mut W) -> Self {
        let start_ms = cfg.start_at.saturating_mul(SECOND_MS);
        let mut engine = Engine {
            cfg,
            rng: Rng::new(cfg.seed),
            sink: Sink::new(out, cfg.events as u64, cfg.malformed_per_mille),
            now_ms: start_ms,
            start_ms,
            span_ms: cfg.span_seconds.saturating_mul(SECOND_MS),
            heap: BinaryHeap::new(),
            seq: 0,
            accounts: Vec::with_capacity(cfg.users + cfg.merchants * 3 + 1024),
            ordinary: Vec::with_capacity(cfg.users),
            blocklisted_base: 0,
            staff_base: 0,
            next_user: 1,
            merchants: Vec::with_capacity(cfg.merchants),
            packets: Vec::new(),
            pool: Vec::new(),
            pool_free: 0,
            counters: Counters::default(),
            committed: [0; Label::ALL.len()],
            committed_total: 0,
            slack: [0; Label::ALL.len()],
        };
        engine.populate();
        engine.init_slack();
        engine
    }

    /// Creates the merchants, the ordinary users, the blocklisted users and
    /// the merchants' staff.
    fn populate(&mut self) {
        let start = self.cfg.start_at;
        for i in 1..=self.cfg.merchants {
            let campaigns = self.rng.range(1, 4);
            self.merchants.push(Merchant {
                id: names::merchant_id(i),
                available_fen: 0,
                bills: 0,
                campaigns,
            });
        }
        for _ in 0..self.cfg.users {
            // Ordinary accounts are two months to two and a half years old.
            let created =
                start - self.rng.range(60, 900) * DAY_SECONDS - self.rng.range(0, DAY_SECONDS);
            let user = self.join(created, None, None);
            self.ordinary.push(user);
        }
        self.blocklisted_base = self.accounts.len();
        for (k, id) in names::BLOCKLISTED_USERS.iter().enumerate() {
            let created = start - self.rng.range(30, 400) * DAY_SECONDS;
            self.accounts.push(Account {
                id: (*id).to_string(),
                device: format!("dev-blu-{}", k + 1),
                ip: format!("2001:db8:6::{:x}", k + 1),
                created_at: created,
                day: 0,
                day_claims: 0,
                day_bound_fen: 0,
            });
        }
        self.staff_base = self.accounts.len();
        for i in 1..=self.cfg.merchants {
            let users = names::staff_users(i);
            let devices = names::staff_devices(i);
            for (k, (id, device)) in users.into_iter().zip(devices).enumerate() {
                let created = start - self.rng.range(100, 1000) * DAY_SECONDS;
                self.accounts.push(Account {
                    id,
                    device,
                    ip: format!("2001:db8:3::{i:x}:{:x}", k + 1),
                    created_at: created,
                    day: 0,
                    day_claims: 0,
                    day_bound_fen: 0,
                });
            }
        }
    }

    /// Adds the next `u-{n:06}` account, with its own device and home
    /// address unless others are given; returns its index.
    pub(super) fn join(
        &mut self,
        created_at: i64,
        device: Option<String>,
        ip: Option<String>,
    ) -> u32 {
        let n = self.next_user;
        self.next_user += 1;
        self.accounts.push(Account {
            id: names::user_id(n),
            device: device.unwrap_or_else(|| names::user_device(n)),
            ip: ip.unwrap_or_else(|| names::home_ip(n)),
            created_at,
            day: 0,
            day_claims: 0,
            day_bound_fen: 0,
        });
        (self.accounts.len() - 1) as u32
    }

    /// Runs the simulation until the line budget is spent.
    pub(super) fn run(mut self) -> io::Result<TrafficStats> {
        let start = self.start_ms;
        for m in 0..self.merchants.len() {
            let fen = self.rng.range(yuan(5000), yuan(50_000));
            self.deposit(start, m, fen)?;
        }
        let tick_ms = self.cfg.tick_seconds.saturating_mul(SECOND_MS);
        self.schedule(start + tick_ms, Action::Tick);
        let events = (self.cfg.events as i64).max(1);
        let base_ms = ((i128::from(self.span_ms) * i128::from(LINES_PER_STEP_MILLI))
            / (i128::from(events) * 1000))
            .clamp(1, i128::from(i64::MAX / 4)) as i64;
        while !self.sink.full() {
            let mean = self.pace(base_ms, events);
            let next = self.now_ms + self.rng.range(0, 2 * mean);
            while !self.sink.full() && self.heap.peek().is_some_and(|d| d.at_ms <= next) {
                if let Some(due) = self.heap.pop() {
                    self.now_ms = due.at_ms;
                    self.execute(due.action)?;
                }
            }
            if self.sink.full() {
                break;
            }
            self.now_ms = next;
            self.step()?;
        }
        self.sink.finish()
    }

    /// The mean milliseconds between steps: the base pace, slowed while the
    /// clock runs ahead of the share of lines written and sped up while it
    /// lags, so that the last line lands near the end of the span.
    fn pace(&self, base_ms: i64, events: i64) -> i64 {
        let lines_milli = (self.sink.lines() as i64).saturating_mul(1000) / events + 10;
        let elapsed = self.now_ms - self.start_ms;
        let time_milli =
            ((i128::from(elapsed) * 1000) / i128::from(self.span_ms.max(1))) as i64 + 10;
        let mean =
            (i128::from(base_ms) * i128::from(lines_milli) / i128::from(time_milli.max(1))) as i64;
        mean.clamp((base_ms / 2).max(1), base_ms * 2)
    }

    pub(super) fn schedule(&mut self, at_ms: i64, action: Action) {
        self.seq += 1;
        self.heap.push(Due {
            at_ms: at_ms.max(self.now_ms),
            seq: self.seq,
            action,
        });
    }

    /// Counts `n` claims of `label` towards the pattern shares.
    pub(super) fn commit(&mut self, label: Label, n: u64) {
        self.committed[label.index()] += n;
        self.committed_total += n;
    }

    /// Claims committed so far, per label and in total.
    pub(super) fn committed(&self, label: Label) -> (u64, u64) {
        (self.committed[label.index()], self.committed_total)
    }

    fn emit(&mut self, event: &Event) -> io::Result<()> {
        self.sink.event(&mut self.rng, event)
    }

    /// One step of the main loop at `self.now_ms`.
    fn step(&mut self) -> io::Result<()> {
        if self.start_due_episode()? {
            return Ok(());
        }
        if self.pool_free < POOL_LOW_SHARES {
            let t = self.now_ms;
            let merchant = self.pick_merchant();
            let spec = self.ordinary_spec();
            let pool_shares = if self.rng.chance(15, 100) {
                // Unpopular packets: some shares are never claimed and are
                // refunded at expiry.
                self.rng.range(0, i64::from(spec.shares) - 1) as u32
            } else {
                spec.shares
            };
            self.create_packet(t, merchant, &spec, pool_shares)?;
            return Ok(());
        }
        self.ordinary_claim()
    }

    fn execute(&mut self, action: Action) -> io::Result<()> {
        let t = self.now_ms;
        match action {
            Action::Tick => {
                self.emit(&Event::Tick { at: secs(t) })?;
                let tick_ms = self.cfg.tick_seconds.saturating_mul(SECOND_MS);
                self.schedule(t + tick_ms, Action::Tick);
            }
            Action::Claim {
                user,
                target,
                label,
            } => self.queued_claim(user, target, label)?,
            Action::Payout { claim, user, label } => self.payout(claim, user, label)?,
            Action::Resend(event) => {
                if matches!(*event, Event::Claim { .. }) {
                    self.commit(Label::Duplicate, 1);
                }
                self.emit(&event)?;
            }
            Action::Resolve { target, decision } => {
                self.counters.review += 1;
                let id = format!("rv-{:06}", self.counters.review);
                self.emit(&Event::ResolveReview {
                    id,
                    at: secs(t),
                    target,
                    decision,
                })?;
            }
            Action::Unfreeze { user } => {
                self.counters.unfreeze += 1;
                let id = format!("uf-{:06}", self.counters.unfreeze);
                let user = self.accounts[user as usize].id.clone();
                self.emit(&Event::Unfreeze {
                    id,
                    at: secs(t),
                    user,
                })?;
            }
        }
        Ok(())
    }

    /// A merchant, busier ones (low numbers) more often.
    pub(super) fn pick_merchant(&mut self) -> usize {
        let n = self.merchants.len();
        let a = self.rng.index(n);
        let b = self.rng.index(n);
        a.min(b)
    }

    fn deposit(&mut self, t: i64, merchant: usize, fen: i64) -> io::Result<()> {
        self.counters.deposit += 1;
        let id = format!("dep-{:06}", self.counters.deposit);
        self.merchants[merchant].available_fen += fen;
        let event = Event::Deposit {
            id,
            at: secs(t),
            merchant: self.merchants[merchant].id.clone(),
            amount: amount(fen),
        };
        self.emit(&event)
    }

    /// An ordinary packet: 1..=50 shares, mostly 1.00..=500.00, 70% random.
    pub(super) fn ordinary_spec(&mut self) -> PacketSpec {
        if self.rng.chance(2, 100) {
            // A few big packets in ordinary traffic too, so that large
            // shares alone do not mark abuse.
            let shares = self.rng.range(2, 5) as u32;
            let share = self.rng.range(yuan(60), yuan(200));
            return PacketSpec {
                total_fen: share * i64::from(shares),
                shares,
                split: SplitKind::Fixed,
                expires_in: None,
            };
        }
        let shares = match self.rng.below(100) {
            0..10 => 1,
            10..55 => self.rng.range(2, 10),
            55..85 => self.rng.range(11, 30),
            _ => self.rng.range(31, 50),
        } as u32;
        // Totals people like: 5.20 (5-2-0 sounds like "I love you"), 6.66,
        // 8.88, 16.88, ..., 88.88, 100.00, 168.00, ..., 500.00.
        const LUCKY_FEN: [i64; 14] = [
            520, 666, 888, 1688, 1888, 2888, 6666, 8888, 10_000, 16_800, 18_888, 20_000, 28_800,
            50_000,
        ];
        let total_fen = match self.rng.below(100) {
            0..25 => LUCKY_FEN[self.rng.index(LUCKY_FEN.len())],
            25..47 => self.rng.range(yuan(1), yuan(5)),
            47..72 => self.rng.range(yuan(5), yuan(20)),
            72..90 => self.rng.range(yuan(20), yuan(100)),
            90..98 => self.rng.range(yuan(100), yuan(500)),
            _ => self.rng.range(50_001, yuan(2000)),
        }
        // Feasible by construction: at least 0.01 and at most the default
        // share cap per share, as the core requires at creation.
        .clamp(
            i64::from(shares),
            i64::from(shares) * crate::split::SHARE_CAP_DEFAULT_FEN,
        );
        let split = if self.rng.chance(70, 100) {
            SplitKind::Random
        } else {
            SplitKind::Fixed
        };
        let expires_in = if self.rng.chance(10, 100) {
            Some(3600 * [2, 6, 12][self.rng.index(3)])
        } else {
            None
        };
        PacketSpec {
            total_fen,
            shares,
            split,
            expires_in,
        }
    }

    /// Emits `create_packet` (after a top-up deposit when the merchant's
    /// balance would not cover it) and offers `pool_shares` of its shares to
    /// any claim; the rest are set aside or left to expire.
    pub(super) fn create_packet(
        &mut self,
        t: i64,
        merchant: usize,
        spec: &PacketSpec,
        pool_shares: u32,
    ) -> io::Result<u32> {
        if self.merchants[merchant].available_fen < spec.total_fen {
            let fen = spec
                .total_fen
                .max(self.rng.range(yuan(10_000), yuan(50_000)));
            self.deposit(t, merchant, fen)?;
        }
        let m = &mut self.merchants[merchant];
        m.available_fen -= spec.total_fen;
        m.bills += 1;
        let id = format!("{}-bill-{:06}", m.id, m.bills);
        let campaigns = m.campaigns;
        let merchant_id = m.id.clone();
        let campaign = if self.rng.chance(75, 100) {
            Some(format!(
                "{merchant_id}-cmp-{}",
                self.rng.range(1, campaigns)
            ))
        } else {
            None
        };
        let expires_ms = t + spec.expires_in.map_or(DEFAULT_EXPIRY_MS, |s| s * SECOND_MS);
        let event = Event::CreatePacket {
            id: id.clone(),
            at: secs(t),
            merchant: merchant_id,
            total: amount(spec.total_fen),
            shares: spec.shares,
            split: spec.split,
            campaign,
            expires_in: spec.expires_in,
        };
        self.emit(&event)?;
        let index = self.packets.len() as u32;
        let pool_left = pool_shares.min(spec.shares);
        self.packets.push(Packet {
            id,
            expires_ms,
            share_bound_fen: spec.share_bound_fen(),
            pool_left,
            claimers: Vec::new(),
        });
        if pool_left > 0 {
            self.pool.push(index);
            self.pool_free += u64::from(pool_left);
        }
        Ok(index)
    }

    /// True when `user` may still be sent to `packet` at `t`.
    fn claimable(&self, packet: u32, user: u32, t: i64) -> bool {
        let p = &self.packets[packet as usize];
        t < p.expires_ms - EXPIRY_MARGIN_MS && !p.claimers.contains(&user)
    }

    /// An open pool packet `user` has not claimed whose share bound is at
    /// most `bound_max_fen`, taking one of its pool shares.
    fn take_from_pool(&mut self, t: i64, user: u32, bound_max_fen: i64) -> Option<u32> {
        for _ in 0..8 {
            if self.pool.is_empty() {
                return None;
            }
            let slot = self.rng.index(self.pool.len());
            let index = self.pool[slot];
            let p = &mut self.packets[index as usize];
            if p.pool_left == 0 || t >= p.expires_ms - EXPIRY_MARGIN_MS {
                self.pool_free -= u64::from(p.pool_left);
                p.pool_left = 0;
                self.pool.swap_remove(slot);
                continue;
            }
            if p.share_bound_fen > bound_max_fen || p.claimers.contains(&user) {
                continue;
            }
            p.pool_left -= 1;
            self.pool_free -= 1;
            return Some(index);
        }
        None
    }

    /// A pool packet for `user`, or a fresh ordinary packet when none fits.
    fn pool_packet_or_new(
        &mut self,
        t: i64,
        user: u32,
        bound_max_fen: i64,
    ) -> io::Result<Option<u32>> {
        if let Some(p) = self.take_from_pool(t, user, bound_max_fen) {
            return Ok(Some(p));
        }
        let merchant = self.pick_merchant();
        let spec = self.ordinary_spec();
        let shares = spec.shares;
        let index = self.create_packet(t, merchant, &spec, shares)?;
        let p = &mut self.packets[index as usize];
        if p.share_bound_fen > bound_max_fen || p.pool_left == 0 {
            return Ok(None);
        }
        p.pool_left -= 1;
        self.pool_free -= 1;
        Ok(Some(index))
    }

    /// An ordinary user under the ordinary daily caps; a new ordinary
    /// account joins when the population cannot carry the traffic.
    fn pick_ordinary(&mut self, t: i64) -> u32 {
        let day = local_day(t);
        for _ in 0..8 {
            if self.ordinary.is_empty() {
                break;
            }
            let user = self.ordinary[self.rng.index(self.ordinary.len())];
            let a = &self.accounts[user as usize];
            if a.claims_on(day) < ORDINARY_CLAIMS_PER_DAY_MAX
                && a.bound_on(day) <= ORDINARY_BOUND_PER_DAY_FEN_MAX - yuan(100)
            {
                return user;
            }
        }
        let created = secs(t) - self.rng.range(60, 900) * DAY_SECONDS;
        let user = self.join(created, None, None);
        self.ordinary.push(user);
        user
    }

    fn ordinary_claim(&mut self) -> io::Result<()> {
        let t = self.now_ms;
        let user = self.pick_ordinary(t);
        let room =
            ORDINARY_BOUND_PER_DAY_FEN_MAX - self.accounts[user as usize].bound_on(local_day(t));
        if let Some(packet) = self.pool_packet_or_new(t, user, room)? {
            self.commit(Label::Normal, 1);
            self.claim(t, user, packet, Label::Normal)?;
        }
        Ok(())
    }

    /// A claim an episode queued: its set-aside share when still good, else
    /// any open packet.
    fn queued_claim(&mut self, user: u32, target: Target, label: Label) -> io::Result<()> {
        let t = self.now_ms;
        let packet = match target {
            Target::Reserved(p) if self.claimable(p, user, t) => Some(p),
            Target::NewPacket { merchant, spec } => {
                let pool_shares = spec.shares.saturating_sub(1);
                Some(self.create_packet(t, merchant, &spec, pool_shares)?)
            }
            _ => self.pool_packet_or_new(t, user, i64::MAX)?,
        };
        if let Some(packet) = packet {
            self.claim(t, user, packet, label)?;
        }
        Ok(())
    }

    /// Device and address of a request by `user`: ordinary users sometimes
    /// come through a mobile gateway and rarely send no device; everyone
    /// else always uses their own.
    fn origin(&mut self, user: u32, label: Label) -> (Option<String>, Option<String>) {
        let a = &self.accounts[user as usize];
        let (device, ip) = (a.device.clone(), a.ip.clone());
        if !matches!(label, Label::Normal | Label::HeavyUser) {
            return (Some(device), Some(ip));
        }
        let device = if label == Label::Normal && self.rng.chance(5, 1000) {
            None
        } else {
            Some(device)
        };
        let ip = if self.rng.chance(5, 100) {
            names::mobile_ip(self.rng.next_u64())
        } else {
            ip
        };
        (device, Some(ip))
    }

    /// Emits a claim and queues what follows it: a payout, maybe a retry,
    /// maybe a review resolution.
    fn claim(&mut self, t: i64, user: u32, packet: u32, label: Label) -> io::Result<()> {
        self.counters.claim += 1;
        let id = format!("c-{:07}", self.counters.claim);
        let (device, ip) = self.origin(user, label);
        let p = &mut self.packets[packet as usize];
        p.claimers.push(user);
        let bound = p.share_bound_fen;
        let packet_id = p.id.clone();
        let a = &mut self.accounts[user as usize];
        a.note_claim(local_day(t), bound);
        let event = Event::Claim {
            id: id.clone(),
            at: secs(t),
            packet: packet_id,
            user: a.id.clone(),
            device,
            ip,
            account_created_at: Some(a.created_at),
            label: Some(label.as_str().to_string()),
        };
        self.emit(&event)?;
        if label == Label::Normal && self.rng.chance(DUPLICATE_PER_MILLE, 1000) {
            self.schedule_retry(t, event);
        }
        if label.is_abuse() && self.rng.chance(RESOLVE_PER_MILLE, 1000) {
            self.schedule_resolve(t, id.clone());
        }
        if let Some(delay) = self.payout_delay(label) {
            self.schedule(
                t + delay,
                Action::Payout {
                    claim: id,
                    user,
                    label,
                },
            );
        }
        Ok(())
    }

    fn payout(&mut self, claim: String, user: u32, label: Label) -> io::Result<()> {
        let t = self.now_ms;
        self.counters.payout += 1;
        let id = format!("po-{:07}", self.counters.payout);
        let (device, ip) = self.origin(user, label);
        let event = Event::Payout {
            id: id.clone(),
            at: secs(t),
            claim,
            device,
            ip,
            label: Some(label.as_str().to_string()),
        };
        self.emit(&event)?;
        if label == Label::Normal && self.rng.chance(DUPLICATE_PER_MILLE, 1000) {
            self.schedule_retry(t, event);
        }
        if label.is_abuse() && self.rng.chance(RESOLVE_PER_MILLE, 1000) {
            self.schedule_resolve(t, id);
        }
        Ok(())
    }

    /// How long after its claim a payout follows, or `None` when the user
    /// never asks.
    fn payout_delay(&mut self, label: Label) -> Option<i64> {
        let r = &mut self.rng;
        match label {
            Label::Normal | Label::HeavyUser => {
                if r.chance(8, 100) {
                    return None;
                }
                Some(match r.below(100) {
                    0..60 => r.range(3 * MINUTE_MS, HOUR_MS),
                    60..90 => r.range(HOUR_MS, 6 * HOUR_MS),
                    _ => r.range(6 * HOUR_MS, 20 * HOUR_MS),
                })
            }
            Label::Mule => Some(r.range(5 * SECOND_MS, 60 * SECOND_MS)),
            Label::DeviceFarm => r
                .chance(95, 100)
                .then(|| r.range(10 * MINUTE_MS, 2 * HOUR_MS)),
            Label::ScriptedBurst => r
                .chance(95, 100)
                .then(|| r.range(3 * MINUTE_MS, 40 * MINUTE_MS)),
            Label::NewAccount => Some(r.range(2 * MINUTE_MS, 30 * MINUTE_MS)),
            Label::SelfDealing => r.chance(95, 100).then(|| r.range(5 * MINUTE_MS, HOUR_MS)),
            Label::Blocklisted => r
                .chance(90, 100)
                .then(|| r.range(5 * MINUTE_MS, 2 * HOUR_MS)),
            Label::Duplicate => None,
        }
    }

    /// Queues a client retry of `event`: the same id a few seconds (now and
    /// then minutes) later, labelled `duplicate`; a share of retries carry a
    /// different device or address, which the core must refuse as a
    /// conflict.
    fn schedule_retry(&mut self, t: i64, mut event: Event) {
        let delay = if self.rng.chance(90, 100) {
            self.rng.range(SECOND_MS, 30 * SECOND_MS)
        } else {
            self.rng.range(MINUTE_MS, 10 * MINUTE_MS)
        };
        let conflict = self.rng.chance(DUPLICATE_CONFLICT_PER_MILLE, 1000);
        let other = self.rng.range(1, self.next_user as i64 + 1_000_000) as usize;
        let at_ms = t + delay;
        match &mut event {
            Event::Claim {
                at, device, label, ..
            } => {
                *at = secs(at_ms);
                *label = Some(Label::Duplicate.as_str().to_string());
                if conflict {
                    let mut other_device = names::user_device(other);
                    if device.as_deref() == Some(other_device.as_str()) {
                        other_device = names::user_device(other + 1);
                    }
                    *device = Some(other_device);
                }
            }
            Event::Payout { at, ip, label, .. } => {
                *at = secs(at_ms);
                *label = Some(Label::Duplicate.as_str().to_string());
                if conflict {
                    let mut other_ip = names::mobile_ip(other as u64);
                    if ip.as_deref() == Some(other_ip.as_str()) {
                        other_ip = names::mobile_ip(other as u64 + 1);
                    }
                    *ip = Some(other_ip);
                }
            }
            _ => return,
        }
        self.schedule(at_ms, Action::Resend(Box::new(event)));
    }

    /// Queues a reviewer's decision on `target` a quarter of an hour to six
    /// hours later; mostly a rejection.
    fn schedule_resolve(&mut self, t: i64, target: String) {
        let at = t + self.rng.range(15 * MINUTE_MS, 6 * HOUR_MS);
        let decision = if self.rng.chance(75, 100) {
            ReviewDecision::Reject
        } else {
            ReviewDecision::Approve
        };
        self.schedule(at, Action::Resolve { target, decision });
    }
}
