use std::collections::BTreeSet;

use rules_sdk::AMOUNT_FEN_MAX;

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

/// A claim as the reference remembers it: everything, forever.
struct RefClaim {
    at: i64,
    user: String,
    device: Option<String>,
    ip: Option<String>,
    campaign: Option<String>,
    fen: i64,
}

/// A payout as the reference remembers it.
struct RefPayout {
    at: i64,
    user: String,
    merchant: String,
    packet: String,
    fen: i64,
    utc_offset_minutes: i32,
}

/// The facts by their definitions, by brute force over the whole history.
#[derive(Default)]
struct Reference {
    accounts: HashMap<String, i64>,
    claims: Vec<RefClaim>,
    payouts: Vec<RefPayout>,
}

fn in_last(at: i64, now: i64, span: i64) -> bool {
    now - span < at && at <= now
}

fn fen_sum<'a>(fens: impl Iterator<Item = &'a i64>) -> Amount {
    fen_to_amount(fens.map(|f| i128::from(*f)).sum::<i128>())
}

impl Reference {
    fn claim_facts(&mut self, now: i64, q: &ClaimQuery<'_>) -> ClaimFacts {
        if let Some(created) = q.account_created_at {
            self.accounts.insert(q.user.to_string(), created);
        }
        let day = local_day(now, q.utc_offset_minutes);
        let mine: Vec<&RefClaim> = self.claims.iter().filter(|c| c.user == q.user).collect();
        let today: Vec<i64> = mine
            .iter()
            .filter(|c| c.at <= now && local_day(c.at, q.utc_offset_minutes) == day)
            .map(|c| c.fen)
            .collect();
        let campaign: Vec<i64> = mine
            .iter()
            .filter(|c| q.campaign.is_some() && c.campaign.as_deref() == q.campaign)
            .map(|c| c.fen)
            .collect();
        let mut facts = ClaimFacts {
            account_age_seconds: self.accounts.get(q.user).map(|c| now - c),
            utc_offset_minutes: q.utc_offset_minutes,
            user_claims_today: count(today.len()),
            user_claimed_today: fen_sum(today.iter()),
            user_claims_last_hour: count(
                mine.iter()
                    .filter(|c| in_last(c.at, now, HOUR_SECONDS))
                    .count(),
            ),
            user_campaign_claims: count(campaign.len()),
            user_campaign_claimed: fen_sum(campaign.iter()),
            ip_claims_last_hour: count(
                self.claims
                    .iter()
                    .filter(|c| q.ip.is_some() && c.ip.as_deref() == q.ip)
                    .filter(|c| in_last(c.at, now, HOUR_SECONDS))
                    .count(),
            ),
            ..ClaimFacts::default()
        };
        if q.device.is_some() {
            let mut users: Vec<&str> = self
                .claims
                .iter()
                .filter(|c| c.device.as_deref() == q.device && in_last(c.at, now, DAY_SECONDS))
                .map(|c| c.user.as_str())
                .chain([q.user])
                .collect();
            users.sort();
            users.dedup();
            facts.device_distinct_users_24h = count(users.len());
            let mut listed: Vec<&str> = users
                .iter()
                .copied()
                .filter(|u| *u != q.user)
                .take(DEVICE_USERS_LISTED_MAX - 1)
                .chain([q.user])
                .collect();
            listed.sort();
            facts.device_recent_users = listed.into_iter().map(str::to_string).collect();
        }
        facts
    }

    fn payout_facts(&self, now: i64, q: &PayoutQuery<'_>) -> PayoutFacts {
        let day = local_day(now, q.utc_offset_minutes);
        let mine: Vec<&RefPayout> = self.payouts.iter().filter(|p| p.user == q.user).collect();
        let today: Vec<i64> = mine
            .iter()
            .filter(|p| p.at <= now && local_day(p.at, q.utc_offset_minutes) == day)
            .map(|p| p.fen)
            .collect();
        let mut packets: Vec<&str> = mine
            .iter()
            .filter(|p| in_last(p.at, now, DAY_SECONDS))
            .map(|p| p.packet.as_str())
            .collect();
        packets.sort();
        packets.dedup();
        // A merchant's day is its own offset's, the same at every payout.
        let merchant: Vec<i64> = self
            .payouts
            .iter()
            .filter(|p| p.merchant == q.merchant)
            .filter(|p| p.at <= now && local_day(p.at, p.utc_offset_minutes) == day)
            .map(|p| p.fen)
            .collect();
        PayoutFacts {
            account_age_seconds: self.accounts.get(q.user).map(|c| now - c),
            utc_offset_minutes: q.utc_offset_minutes,
            seconds_since_claim: now - q.claimed_at,
            user_payouts_today: count(today.len()),
            user_paid_today: fen_sum(today.iter()),
            user_payouts_last_hour: count(
                mine.iter()
                    .filter(|p| in_last(p.at, now, HOUR_SECONDS))
                    .count(),
            ),
            user_distinct_packets_paid_24h: count(packets.len()),
            merchant_paid_today: fen_sum(merchant.iter()),
        }
    }
}

/// Every user, device and IP with records is queued for a trim exactly once.
fn assert_queue_consistent(v: &Velocity) {
    let scheduled = v.users.values().filter(|h| h.scheduled).count();
    assert_eq!(v.due.len(), scheduled + v.devices.len() + v.ips.len());
    for history in v.users.values() {
        assert_eq!(history.scheduled, history.next_due().is_some());
    }
}

#[test]
fn facts_equal_a_brute_force_reference() {
    use crate::rng::SplitMix64;

    // Merchants with the default offset, UTC, and a half-hour offset.
    const MERCHANTS: [(&str, i32); 4] = [
        ("m-cst", 480),
        ("m-utc", 0),
        ("m-cst2", 480),
        ("m-ist", 330),
    ];
    const STEPS: usize = 6_000;
    for seed in [1_u64, 7, 42] {
        let mut rng = SplitMix64::new(seed);
        let mut v = Velocity::new();
        let mut reference = Reference::default();
        // Unpadded names so that byte order differs from numeric order.
        let users: Vec<String> = (0..70).map(|i| format!("u{i}")).collect();
        let devices = ["d-farm", "d-b", "d-c"];
        let ips = ["ip-1", "ip-2", "ip-3"];
        let campaigns = ["spring", "autumn"];
        let mut now = MIDNIGHT_CST - 5_000;
        let mut past: Vec<i64> = Vec::new();
        let mut records_at = BTreeSet::new();
        // Queries with a record exactly an hour, or a day, old.
        let mut edges_hit = [0_usize; 2];
        let (mut claims_seen, mut farm_lists_full) = (0, 0);
        for _ in 0..STEPS {
            // Time never runs backwards, but it crawls, stands still, jumps
            // across hours and days, and lands exactly on window edges: an
            // hour or a day after one of the last `within` records.
            let recent = |rng: &mut SplitMix64, within: usize| {
                let n = past.len();
                (n > 0).then(|| past[n - 1 - rng.below(n.min(within) as u64) as usize])
            };
            let edge = match rng.below(1_000) {
                0..700 => now + rng.below(20) as i64,
                700..850 => now,
                850..930 => now + rng.below(900) as i64,
                930..965 => recent(&mut rng, 50).map_or(now, |t| t + HOUR_SECONDS),
                965..967 => recent(&mut rng, 300).map_or(now, |t| t + DAY_SECONDS),
                // A local midnight, or the second before it.
                967..969 => {
                    let offset = MERCHANTS[rng.below(4) as usize].1;
                    local_day_start(now, offset) + DAY_SECONDS - rng.below(2) as i64
                }
                969..985 => {
                    now + [HOUR_SECONDS - 1, HOUR_SECONDS, HOUR_SECONDS + 1][rng.below(3) as usize]
                }
                985..986 => now + DAY_SECONDS - 1 + rng.below(3) as i64,
                986..987 => now + rng.below(3 * DAY_SECONDS as u64) as i64,
                _ => now + rng.below(20) as i64,
            };
            now = now.max(edge);
            edges_hit[0] += usize::from(records_at.contains(&(now - HOUR_SECONDS)));
            edges_hit[1] += usize::from(records_at.contains(&(now - DAY_SECONDS)));
            let user = users[rng.below(users.len() as u64) as usize].as_str();
            let (merchant, offset) = MERCHANTS[rng.below(4) as usize];
            let fen = if rng.below(100) == 0 {
                AMOUNT_FEN_MAX
            } else {
                1 + rng.below(2_000) as i64
            };
            let amount = Amount::from_fen(fen).expect("test amount");
            let succeeds = rng.below(100) < 85;
            if rng.below(2) == 0 {
                let pick = |rng: &mut SplitMix64, of: &[&'static str]| {
                    let i = rng.below(of.len() as u64 + 1) as usize;
                    of.get(i).copied()
                };
                let device = if rng.below(3) == 0 {
                    Some("d-farm")
                } else {
                    pick(&mut rng, &devices)
                };
                let query = ClaimQuery {
                    user,
                    device,
                    ip: pick(&mut rng, &ips),
                    campaign: pick(&mut rng, &campaigns),
                    account_created_at: (rng.below(5) == 0)
                        .then(|| now - rng.below(10 * DAY_SECONDS as u64) as i64),
                    utc_offset_minutes: offset,
                };
                let facts = v.claim_facts(now, &query);
                assert_eq!(
                    facts,
                    reference.claim_facts(now, &query),
                    "seed {seed}, claim at {now}: {query:?}"
                );
                claims_seen += 1;
                if facts.device_recent_users.len() == DEVICE_USERS_LISTED_MAX {
                    farm_lists_full += 1;
                }
                if succeeds {
                    v.record_claim(now, &query, amount);
                    reference.claims.push(RefClaim {
                        at: now,
                        user: user.to_string(),
                        device: device.map(str::to_string),
                        ip: query.ip.map(str::to_string),
                        campaign: query.campaign.map(str::to_string),
                        fen,
                    });
                    past.push(now);
                    records_at.insert(now);
                }
            } else {
                let packet = format!("p{}", rng.below(15));
                let query = PayoutQuery {
                    user,
                    merchant,
                    packet: &packet,
                    claimed_at: now - rng.below(5_000) as i64,
                    utc_offset_minutes: offset,
                };
                let facts = v.payout_facts(now, &query);
                assert_eq!(
                    facts,
                    reference.payout_facts(now, &query),
                    "seed {seed}, payout at {now}: {query:?}"
                );
                if succeeds {
                    v.record_payout(now, &query, amount);
                    reference.payouts.push(RefPayout {
                        at: now,
                        user: user.to_string(),
                        merchant: merchant.to_string(),
                        packet,
                        fen,
                        utc_offset_minutes: offset,
                    });
                    past.push(now);
                    records_at.insert(now);
                }
            }
            assert_queue_consistent(&v);
        }
        // The sequence did reach the cases it is meant to check.
        assert!(claims_seen > STEPS / 3);
        assert!(farm_lists_full > 400, "seed {seed}: {farm_lists_full}");
        let [hour_edges, day_edges] = edges_hit;
        assert!(
            hour_edges > 100 && day_edges > 10,
            "seed {seed}: {edges_hit:?}"
        );
        // Long after the last record, nothing but what is kept forever.
        v.claim_facts(now + HISTORY_SECONDS, &q("nobody", None, None));
        let (_, devices_left, ips_left) = v.tracked();
        assert_eq!((devices_left, ips_left), (0, 0));
        assert!(
            v.users
                .values()
                .all(|h| h.claims.is_empty() && h.payouts.is_empty())
        );
        assert_queue_consistent(&v);
    }
}

/// How many of the records at `base + step * j`, for `j` in `0..i`, are at
/// or after `from`.
fn since(i: i64, base: i64, step: i64, from: i64) -> u32 {
    let first = (from - base + step - 1).div_euclid(step).max(0);
    count(usize::try_from((i - first).max(0)).expect("count"))
}

/// How many of those records are strictly after `after`.
fn after(i: i64, base: i64, step: i64, after: i64) -> u32 {
    since(i, base, step, after + 1)
}

#[test]
fn forty_thousand_users_on_one_device() {
    // Before the windows were sorted and counted as they slid, this cost a
    // sort of every user of the device per claim: quadratic in the farm.
    const N: i64 = 40_000;
    let mut v = Velocity::new();
    let name = |i: i64| format!("u{i:05}");
    let base = MIDNIGHT_CST + HOUR_SECONDS;
    for i in 0..N {
        let user = name(i);
        // Twenty claims a second: all within the hour.
        let now = base + i / 20;
        let query = q(&user, Some("farm"), Some("ip-farm"));
        let facts = v.claim_facts(now, &query);
        assert_eq!(
            facts.device_distinct_users_24h,
            count(usize::try_from(i + 1).expect("i"))
        );
        assert_eq!(
            facts.ip_claims_last_hour,
            count(usize::try_from(i).expect("i"))
        );
        assert_eq!(
            (facts.user_claims_today, facts.user_campaign_claims),
            (0, 0)
        );
        let listed: Vec<String> = (0..i.min(DEVICE_USERS_LISTED_MAX as i64 - 1))
            .map(name)
            .chain([user.clone()])
            .collect();
        assert_eq!(facts.device_recent_users, listed);
        v.record_claim(now, &query, amt("0.01"));
    }
    assert_eq!(v.devices["farm"].distinct(), 40_000);
    // One more, by a user who sorts first, among them all.
    let facts = v.claim_facts(base + N, &q("a", Some("farm"), None));
    assert_eq!(facts.device_distinct_users_24h, 40_001);
    assert_eq!(
        facts.device_recent_users.first().map(String::as_str),
        Some("a")
    );
    assert_eq!(facts.device_recent_users.last(), Some(&name(30)));
    // A day later the farm is forgotten.
    let facts = v.claim_facts(
        base + N / 20 + DAY_SECONDS,
        &q("b", Some("farm"), Some("ip-farm")),
    );
    assert_eq!(
        (facts.device_distinct_users_24h, facts.ip_claims_last_hour),
        (1, 0)
    );
    assert_eq!(v.tracked(), (40_000, 0, 0));
}

#[test]
fn one_user_claiming_and_paid_for_days() {
    // Before the running sums, each of these facts scanned the user's whole
    // history: a user claiming all day made every request linear.
    const N: i64 = 40_000;
    const STEP: i64 = 5;
    // Long enough to cross local midnights and fill every window.
    const { assert!(N * STEP > 2 * DAY_SECONDS) };
    let mut v = Velocity::new();
    let base = MIDNIGHT_CST - 7 * HOUR_SECONDS;
    let fen = 7;
    for i in 0..N {
        let now = base + STEP * i;
        let day_start = local_day_start(now, UTC_OFFSET_DEFAULT_MINUTES);
        let today = since(i, base, STEP, day_start);
        let last_hour = after(i, base, STEP, now - HOUR_SECONDS);
        let last_day = after(i, base, STEP, now - DAY_SECONDS);

        let query = q("u1", Some("d1"), Some("ip1"));
        let facts = v.claim_facts(now, &query);
        assert_eq!(facts.user_claims_today, today, "claim {i}");
        assert_eq!(
            facts.user_claimed_today,
            fen_to_amount(i64::from(today) * fen)
        );
        assert_eq!(facts.user_claims_last_hour, last_hour);
        assert_eq!(facts.ip_claims_last_hour, last_hour);
        assert_eq!(
            facts.user_campaign_claims,
            count(usize::try_from(i).expect("i"))
        );
        assert_eq!(facts.device_distinct_users_24h, 1);
        v.record_claim(now, &query, Amount::from_fen(fen).expect("fen"));

        let packet = format!("p{i}");
        let payout = PayoutQuery {
            user: "u1",
            merchant: "m1",
            packet: &packet,
            claimed_at: now,
            utc_offset_minutes: UTC_OFFSET_DEFAULT_MINUTES,
        };
        let facts = v.payout_facts(now, &payout);
        assert_eq!(facts.user_payouts_today, today, "payout {i}");
        assert_eq!(facts.user_paid_today, fen_to_amount(i64::from(today) * fen));
        assert_eq!(facts.user_payouts_last_hour, last_hour);
        assert_eq!(facts.user_distinct_packets_paid_24h, last_day);
        assert_eq!(facts.merchant_paid_today, facts.user_paid_today);
        v.record_payout(now, &payout, Amount::from_fen(fen).expect("fen"));

        // Memory holds the windows, not the whole history.
        let history = &v.users["u1"];
        assert!(history.claims.len() <= usize::try_from(HISTORY_SECONDS / STEP).expect("len"));
        assert!(history.payouts.len() <= usize::try_from(HISTORY_SECONDS / STEP).expect("len"));
        assert!(history.packets_paid.len() <= usize::try_from(DAY_SECONDS / STEP).expect("len"));
    }
}
