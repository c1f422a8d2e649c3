//! The patterns played out over minutes to hours: the abuse patterns and
//! the daily-limit pattern. Each episode creates the packets it needs, adds
//! the accounts it needs and queues its claims; payouts follow each claim
//! when it is emitted.
//!
//! An episode of a pattern starts when the pattern's committed claims fall
//! behind its share of all claims (less a random slack of up to one
//! episode), so shares hold from small runs to large ones and episodes are
//! spread through the run rather than bunched.

use std::io::{self, Write};

use super::r#gen::{
    Action, DAY_SECONDS, Engine, HOUR_MS, MINUTE_MS, PacketSpec, SECOND_MS, Target,
    next_local_midnight_ms, yuan,
};
use super::label::Label;
use super::names;
use crate::event::SplitKind;

/// A pattern played out by an episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Episode {
    DeviceFarm,
    ScriptedBurst,
    NewAccount,
    SelfDealing,
    Mule,
    Blocklisted,
    HeavyUser,
}

impl Episode {
    pub(super) const ALL: [Episode; 7] = [
        Episode::DeviceFarm,
        Episode::ScriptedBurst,
        Episode::NewAccount,
        Episode::SelfDealing,
        Episode::Mule,
        Episode::Blocklisted,
        Episode::HeavyUser,
    ];

    pub(super) const fn label(self) -> Label {
        match self {
            Episode::DeviceFarm => Label::DeviceFarm,
            Episode::ScriptedBurst => Label::ScriptedBurst,
            Episode::NewAccount => Label::NewAccount,
            Episode::SelfDealing => Label::SelfDealing,
            Episode::Mule => Label::Mule,
            Episode::Blocklisted => Label::Blocklisted,
            Episode::HeavyUser => Label::HeavyUser,
        }
    }

    /// The pattern's target share of all claims, per mille. With retries
    /// (`duplicate`, about 20 per mille) the abuse patterns come to about
    /// 130 per mille.
    pub(super) const fn claims_per_mille(self) -> u64 {
        match self {
            Episode::DeviceFarm | Episode::ScriptedBurst => 30,
            Episode::SelfDealing | Episode::Mule | Episode::HeavyUser => 15,
            Episode::NewAccount | Episode::Blocklisted => 10,
        }
    }

    /// Typical claims of one episode.
    pub(super) const fn mean_claims(self) -> u64 {
        match self {
            Episode::DeviceFarm => 36,
            Episode::ScriptedBurst => 105,
            Episode::NewAccount | Episode::SelfDealing | Episode::Blocklisted => 3,
            Episode::Mule => 20,
            Episode::HeavyUser => 11,
        }
    }
}

impl<W: Write> Engine<'_, '_, W> {
    /// Starts the first pattern that is behind its share, if any.
    ///
    /// # Errors
    ///
    /// Any error of the underlying writer.
    pub(super) fn start_due_episode(&mut self) -> io::Result<bool> {
        for episode in Episode::ALL {
            let label = episode.label();
            let (done, total) = self.committed(label);
            let slack = self.slack[label.index()];
            if (done + slack) * 1000 < episode.claims_per_mille() * total {
                self.slack[label.index()] = self.rng.below(episode.mean_claims() + 1);
                let planned = match episode {
                    Episode::DeviceFarm => self.device_farm()?,
                    Episode::ScriptedBurst => self.scripted_burst(),
                    Episode::NewAccount => self.new_accounts()?,
                    Episode::SelfDealing => self.self_dealing()?,
                    Episode::Mule => self.mule(),
                    Episode::Blocklisted => self.blocklisted(),
                    Episode::HeavyUser => self.heavy_user(),
                };
                self.commit(label, planned);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Draws the first slack of every pattern.
    pub(super) fn init_slack(&mut self) {
        for episode in Episode::ALL {
            self.slack[episode.label().index()] = self.rng.below(episode.mean_claims() + 1);
        }
    }

    fn queue_claim(&mut self, at_ms: i64, user: u32, target: Target, label: Label) {
        self.schedule(
            at_ms,
            Action::Claim {
                user,
                target,
                label,
            },
        );
    }

    /// `device_farm`: 6..=30 accounts made in one batch 10..=120 days ago
    /// share the device `dev-farm-{n}`, each behind its own proxy address.
    /// 1..=3 group packets (random split, k+2..=k+20 shares, 0.50..=5.00 a
    /// share) are created with k shares set aside; every account claims a
    /// share of each, spread over 20 min..=3 h per packet, packets 10 min..=3 h
    /// apart. Payouts 10 min..=2 h after each claim.
    fn device_farm(&mut self) -> io::Result<u64> {
        let t = self.now_ms;
        self.counters.farm += 1;
        let farm = self.counters.farm;
        let device = format!("dev-farm-{farm}");
        let k = self.rng.range(6, 30);
        let batch = t / SECOND_MS - self.rng.range(10, 120) * DAY_SECONDS;
        let mut accounts = Vec::with_capacity(k as usize);
        for a in 1..=k {
            let created = batch - self.rng.range(0, 6 * 3600);
            let ip = format!("2001:db8:2::{farm:x}:{a:x}");
            accounts.push(self.join(created, Some(device.clone()), Some(ip)));
        }
        let packets = self.rng.range(1, 3);
        let mut start = t;
        for _ in 0..packets {
            let shares = (k + self.rng.range(2, 20)).min(50);
            let spec = PacketSpec {
                total_fen: shares * self.rng.range(50, 500),
                shares: shares as u32,
                split: SplitKind::Random,
                expires_in: None,
            };
            let merchant = self.pick_merchant();
            let packet = self.create_packet(t, merchant, &spec, (shares - k) as u32)?;
            let spread = self.rng.range(20 * MINUTE_MS, 3 * HOUR_MS);
            for &user in &accounts {
                let at = start + self.rng.range(0, spread);
                self.queue_claim(at, user, Target::Reserved(packet), Label::DeviceFarm);
            }
            start += self.rng.range(10 * MINUTE_MS, 3 * HOUR_MS);
        }
        Ok((k * packets) as u64)
    }

    /// `scripted_burst`: 8..=25 fresh accounts (2..=30 days old), each on
    /// its own emulator device `dev-bot-{n}-{k}` but all behind one address
    /// `198.51.100.{n}`, make 3..=10 claims each on open packets within one
    /// window of 3..=12 minutes: 24..=250 claims per address, and users with
    /// 7..=10 claims inside the hour. Payouts 3..=40 min later.
    fn scripted_burst(&mut self) -> u64 {
        let t = self.now_ms;
        self.counters.burst += 1;
        let burst = self.counters.burst;
        let ip = format!("198.51.100.{}", 1 + (burst - 1) % 254);
        let users = self.rng.range(8, 25);
        let window = self.rng.range(3 * MINUTE_MS, 12 * MINUTE_MS);
        let mut planned = 0;
        for k in 1..=users {
            let created = t / SECOND_MS - self.rng.range(2, 30) * DAY_SECONDS;
            let device = format!("dev-bot-{burst}-{k}");
            let user = self.join(created, Some(device), Some(ip.clone()));
            let claims = self.rng.range(3, 10);
            for _ in 0..claims {
                let at = t + self.rng.range(0, window);
                self.queue_claim(at, user, Target::Pool, Label::ScriptedBurst);
            }
            planned += claims as u64;
        }
        planned
    }

    /// `new_account`: 1..=3 accounts created 30 min..=20 h before, each
    /// claiming one share of each of 1..=2 big packets (fixed split, 60.00..
    /// =170.00 a share, 2..=5 shares) 1..=40 min after they appear. Payouts
    /// 2..=30 min later.
    fn new_accounts(&mut self) -> io::Result<u64> {
        let t = self.now_ms;
        let n = self.rng.range(1, 3);
        let mut accounts = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let created = t / SECOND_MS - self.rng.range(30 * 60, 20 * 3600);
            accounts.push(self.join(created, None, None));
        }
        let packets = self.rng.range(1, 2);
        for _ in 0..packets {
            let shares = self.rng.range((n + 1).max(2), 5);
            let share = self.rng.range(yuan(60), yuan(170));
            let spec = PacketSpec {
                total_fen: share * shares,
                shares: shares as u32,
                split: SplitKind::Fixed,
                expires_in: None,
            };
            let merchant = self.pick_merchant();
            let packet = self.create_packet(t, merchant, &spec, (shares - n) as u32)?;
            for &user in &accounts {
                let at = t + self.rng.range(MINUTE_MS, 40 * MINUTE_MS);
                self.queue_claim(at, user, Target::Reserved(packet), Label::NewAccount);
            }
        }
        Ok((n * packets) as u64)
    }

    /// `self_dealing`: a merchant creates a packet (k+2..=20 shares, 0.50..=
    /// 20.00 a share) and 1..=3 of its staff `m{i}-staff-{k}` claim it
    /// 5..=90 s later from their own devices `m{i}-staff-dev-{k}`; 0..=2
    /// other accounts claim it 1..=10 min later from a staff device.
    /// Payouts 5..=60 min later.
    fn self_dealing(&mut self) -> io::Result<u64> {
        let t = self.now_ms;
        let merchant = self.rng.index(self.merchants.len());
        let staff = self.rng.range(1, 3) as usize;
        let friends = self.rng.range(0, 2) as usize;
        let first = self.rng.index(names::STAFF_PER_MERCHANT);
        let members: Vec<u32> = (0..staff)
            .map(|j| {
                let k = (first + j) % names::STAFF_PER_MERCHANT;
                (self.staff_base + merchant * names::STAFF_PER_MERCHANT + k) as u32
            })
            .collect();
        let reserved = (staff + friends) as i64;
        let shares = self.rng.range(reserved + 2, 20);
        let spec = PacketSpec {
            total_fen: shares * self.rng.range(50, yuan(20)),
            shares: shares as u32,
            split: if self.rng.chance(70, 100) {
                SplitKind::Random
            } else {
                SplitKind::Fixed
            },
            expires_in: None,
        };
        let packet = self.create_packet(t, merchant, &spec, (shares - reserved) as u32)?;
        for &user in &members {
            let at = t + self.rng.range(5 * SECOND_MS, 90 * SECOND_MS);
            self.queue_claim(at, user, Target::Reserved(packet), Label::SelfDealing);
        }
        for _ in 0..friends {
            let lender = members[self.rng.index(members.len())] as usize;
            let device = self.accounts[lender].device.clone();
            let ip = self.accounts[lender].ip.clone();
            let created = t / SECOND_MS - self.rng.range(60, 700) * DAY_SECONDS;
            let user = self.join(created, Some(device), Some(ip));
            let at = t + self.rng.range(MINUTE_MS, 10 * MINUTE_MS);
            self.queue_claim(at, user, Target::Reserved(packet), Label::SelfDealing);
        }
        Ok(reserved as u64)
    }

    /// `mule`: one account (30..=400 days old, its own device and address)
    /// claims 10..=30 distinct open packets, one every 10..=20 min (at most
    /// six an hour, so 1.7..=10 h in all), and pays each out 5..=60 s after
    /// the claim. 40% of mules are unfrozen by an operator 2..=8 h after
    /// their last claim.
    fn mule(&mut self) -> u64 {
        let t = self.now_ms;
        let created = t / SECOND_MS - self.rng.range(30, 400) * DAY_SECONDS;
        let user = self.join(created, None, None);
        let claims = self.rng.range(10, 30);
        let mut at = t + self.rng.range(0, 10 * MINUTE_MS);
        for i in 0..claims {
            if i > 0 {
                at += self.rng.range(10 * MINUTE_MS, 20 * MINUTE_MS);
            }
            self.queue_claim(at, user, Target::Pool, Label::Mule);
        }
        if self.rng.chance(40, 100) {
            let later = at + self.rng.range(2 * HOUR_MS, 8 * HOUR_MS);
            self.schedule(later, Action::Unfreeze { user });
        }
        claims as u64
    }

    /// `blocklisted`: 1..=4 claims on open packets within 3 h, by one of
    /// `u-bl-{1..5}` (its own device `dev-blu-{k}`), or by an ordinary-looking
    /// account on a device `dev-bl-{1..5}`, or from an address
    /// `203.0.113.{1..5}`, one third each. Payouts 5 min..=2 h later.
    fn blocklisted(&mut self) -> u64 {
        let t = self.now_ms;
        let k = self.rng.index(names::BLOCKLISTED_USERS.len());
        let created = t / SECOND_MS - self.rng.range(60, 700) * DAY_SECONDS;
        let user = match self.rng.below(3) {
            0 => (self.blocklisted_base + k) as u32,
            1 => {
                let device = names::BLOCKLISTED_DEVICES[k].to_string();
                self.join(created, Some(device), None)
            }
            _ => {
                let ip = names::BLOCKLISTED_IPS[k].to_string();
                self.join(created, None, Some(ip))
            }
        };
        let claims = self.rng.range(1, 4);
        for _ in 0..claims {
            let at = t + self.rng.range(0, 3 * HOUR_MS);
            self.queue_claim(at, user, Target::Pool, Label::Blocklisted);
        }
        claims as u64
    }

    /// `heavy_user`: an ordinary-looking account (old, its own device and
    /// home address) that breaks the daily limit within one local (UTC+8)
    /// day. 70%: 11..=15 claims on open packets, 20..=50 min apart (at most
    /// three an hour). 30%: 5 claims, 20..=70 min apart, each one share of a
    /// 2-share fixed packet of 210.00..=300.00 a share that a merchant creates
    /// just then (the other share goes to anyone), so the fifth
    /// takes the day past 1,000.00. When the rest of the local day is too
    /// short the claims start at 08:00..=10:00 the next local day.
    fn heavy_user(&mut self) -> u64 {
        let t = self.now_ms;
        let created = t / SECOND_MS - self.rng.range(60, 900) * DAY_SECONDS;
        let user = self.join(created, None, None);
        let by_amount = self.rng.chance(30, 100);
        let (claims, gap_min, gap_max) = if by_amount {
            (5, 20 * MINUTE_MS, 70 * MINUTE_MS)
        } else {
            (self.rng.range(11, 15), 20 * MINUTE_MS, 50 * MINUTE_MS)
        };
        let mut offsets = Vec::with_capacity(claims as usize);
        let mut offset = self.rng.range(0, 10 * MINUTE_MS);
        for i in 0..claims {
            if i > 0 {
                offset += self.rng.range(gap_min, gap_max);
            }
            offsets.push(offset);
        }
        let midnight = next_local_midnight_ms(t);
        let start = if t + offset + 5 * MINUTE_MS < midnight {
            t
        } else {
            midnight + self.rng.range(8 * HOUR_MS, 10 * HOUR_MS)
        };
        for offset in offsets {
            let target = if by_amount {
                let share = self.rng.range(yuan(210), yuan(300));
                let spec = PacketSpec {
                    total_fen: share * 2,
                    shares: 2,
                    split: SplitKind::Fixed,
                    expires_in: None,
                };
                let merchant = self.pick_merchant();
                Target::NewPacket { merchant, spec }
            } else {
                Target::Pool
            };
            self.queue_claim(start + offset, user, target, Label::HeavyUser);
        }
        claims as u64
    }
}
