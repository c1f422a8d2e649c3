//! Properties of generated traffic, checked on whole runs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::*;
use crate::event::{Event, SplitKind};

fn run(cfg: &TrafficConfig) -> (Vec<u8>, TrafficStats) {
    let mut out = Vec::new();
    let stats = generate(cfg, &mut out).expect("generation into a vec succeeds");
    (out, stats)
}

fn config(seed: u64, events: usize) -> TrafficConfig {
    TrafficConfig {
        seed,
        events,
        ..TrafficConfig::default()
    }
}

/// Every line, parsed or not.
fn parse(bytes: &[u8]) -> Vec<(String, Option<Event>)> {
    let text = std::str::from_utf8(bytes).expect("traffic is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "last line ends with a newline"
    );
    text.lines()
        .map(|line| (line.to_string(), serde_json::from_str::<Event>(line).ok()))
        .collect()
}

fn events(bytes: &[u8]) -> Vec<Event> {
    parse(bytes).into_iter().filter_map(|(_, e)| e).collect()
}

/// One shared 20,000-line run with the default config and seed.
fn sample() -> &'static (Vec<u8>, TrafficStats, Vec<Event>) {
    static SAMPLE: std::sync::OnceLock<(Vec<u8>, TrafficStats, Vec<Event>)> =
        std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let (bytes, stats) = run(&config(42, 20_000));
        let parsed = events(&bytes);
        (bytes, stats, parsed)
    })
}

const HOUR: i64 = 3600;

fn local_day(at: i64) -> i64 {
    (at + 8 * HOUR).div_euclid(24 * HOUR)
}

#[test]
fn traffic_same_seed_same_bytes_other_seed_other_bytes() {
    let (a, stats_a) = run(&config(7, 5_000));
    let (b, stats_b) = run(&config(7, 5_000));
    let (c, _) = run(&config(8, 5_000));
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_eq!(stats_a, stats_b);
    assert_ne!(a, c);
}

#[test]
fn traffic_writes_exactly_the_requested_lines_in_time_order() {
    let (bytes, stats, parsed) = sample();
    let lines = parse(bytes);
    assert_eq!(lines.len(), 20_000);
    assert_eq!(stats.lines, 20_000);
    assert_eq!(stats.events as usize, parsed.len());
    assert_eq!(stats.events + stats.malformed, stats.lines);
    assert_eq!(stats.by_kind.values().sum::<u64>(), stats.events);
    let mut last = i64::MIN;
    for e in parsed {
        assert!(e.at() >= last, "time goes back at {e:?}");
        last = e.at();
    }
    assert_eq!(parsed.first().map(Event::at), Some(START_AT));
    assert_eq!(stats.first_at, Some(START_AT));
    assert_eq!(stats.last_at, Some(last));
    // The span covers the 24 h expiry with room to spare, and lands near
    // the configured 36 h.
    let span = last - START_AT;
    assert!((30 * HOUR..=42 * HOUR).contains(&span), "span {span} s");
}

#[test]
fn traffic_every_event_kind_appears_and_counts_match() {
    let (_, stats, parsed) = sample();
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for e in parsed {
        *kinds.entry(e.kind()).or_insert(0) += 1;
    }
    assert_eq!(kinds, stats.by_kind);
    for kind in crate::event::Event::KINDS {
        assert!(stats.kind(kind) > 0, "no {kind} events");
    }
    // Claims and payouts are the bulk of the traffic.
    assert!(stats.kind("claim") * 100 > stats.events * 35);
    assert!(stats.kind("payout") * 100 > stats.events * 30);
}

#[test]
fn traffic_every_label_appears_and_abuse_is_a_tenth_to_a_sixth_of_claims() {
    let (_, stats, parsed) = sample();
    let mut claims: BTreeMap<&str, u64> = BTreeMap::new();
    let mut payouts: BTreeMap<&str, u64> = BTreeMap::new();
    for e in parsed {
        match e {
            Event::Claim { label, .. } | Event::Payout { label, .. } => {
                let label = label.as_deref().expect("claims and payouts are labelled");
                let known = LABELS
                    .iter()
                    .copied()
                    .find(|l| *l == label)
                    .expect("label is one of LABELS");
                let map = if matches!(e, Event::Claim { .. }) {
                    &mut claims
                } else {
                    &mut payouts
                };
                *map.entry(known).or_insert(0) += 1;
            }
            _ => assert_eq!(e.label(), None),
        }
    }
    assert_eq!(claims, stats.claims_by_label);
    assert_eq!(payouts, stats.payouts_by_label);
    for label in LABELS {
        assert!(stats.claims(label) > 0, "no claim labelled {label}");
        assert!(stats.payouts(label) > 0, "no payout labelled {label}");
    }
    let all = stats.kind("claim");
    let abuse = stats.abuse_claims();
    assert!(
        abuse * 100 >= all * 10 && abuse * 100 <= all * 16,
        "abuse {abuse} of {all} claims"
    );
}

#[test]
fn traffic_malformed_lines_are_counted_and_refused() {
    let cfg = TrafficConfig {
        malformed_per_mille: 20,
        ..config(3, 10_000)
    };
    let (bytes, stats) = run(&cfg);
    let lines = parse(&bytes);
    let refused: Vec<&String> = lines
        .iter()
        .filter(|(_, e)| e.is_none())
        .map(|(l, _)| l)
        .collect();
    assert_eq!(refused.len() as u64, stats.malformed);
    // About 20 per thousand: 200 expected.
    assert!(
        (120..=300).contains(&refused.len()),
        "{} malformed",
        refused.len()
    );
    // Every kind of fault shows up.
    assert!(
        refused
            .iter()
            .any(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
    );
    assert!(refused.iter().any(|l| l.contains(r#""amount":12.5"#)));
    assert!(refused.iter().any(|l| l.contains(r#""type":"refund""#)));
    assert!(refused.iter().any(|l| l.contains(r#""type":"payout""#)));
    assert!(refused.iter().any(|l| l.contains(r#""12.345""#)));

    // The default rate is about one per thousand.
    let (_, stats, _) = sample();
    assert!(
        (5..=45).contains(&stats.malformed),
        "{} malformed",
        stats.malformed
    );

    let (clean, stats) = run(&TrafficConfig {
        malformed_per_mille: 0,
        ..config(3, 2_000)
    });
    assert_eq!(stats.malformed, 0);
    assert!(parse(&clean).iter().all(|(_, e)| e.is_some()));
}

#[test]
fn traffic_references_point_backwards() {
    let (_, _, parsed) = sample();
    let mut merchants = HashSet::new();
    let mut packets = HashMap::new();
    let mut claims = HashMap::new();
    let mut payouts = HashSet::new();
    let mut ids = HashSet::new();
    for e in parsed {
        match e {
            Event::Deposit { id, merchant, .. } => {
                assert!(id.starts_with("dep-") && ids.insert(id.clone()));
                merchants.insert(merchant.clone());
            }
            Event::CreatePacket {
                id,
                merchant,
                campaign,
                shares,
                ..
            } => {
                assert!(
                    merchants.contains(merchant),
                    "{merchant} created before any deposit"
                );
                assert!(id.starts_with(&format!("{merchant}-bill-")));
                assert!((1..=50).contains(shares));
                if let Some(c) = campaign {
                    assert!(c.starts_with(&format!("{merchant}-cmp-")));
                }
                assert!(ids.insert(id.clone()), "bill {id} reused");
                packets.insert(id.clone(), *shares);
            }
            Event::Claim {
                id, packet, label, ..
            } => {
                assert!(packets.contains_key(packet), "claim {id} of unknown packet");
                if label.as_deref() == Some("duplicate") {
                    assert!(claims.contains_key(id), "retry {id} without an original");
                } else {
                    assert!(
                        id.starts_with("c-") && ids.insert(id.clone()),
                        "claim {id} reused"
                    );
                    claims.insert(id.clone(), e.at());
                }
            }
            Event::Payout {
                id, claim, label, ..
            } => {
                let at = claims.get(claim).copied();
                assert!(
                    at.is_some_and(|at| at <= e.at()),
                    "payout {id} of unknown claim {claim}"
                );
                if label.as_deref() == Some("duplicate") {
                    assert!(payouts.contains(id), "retry {id} without an original");
                } else {
                    assert!(
                        id.starts_with("po-") && ids.insert(id.clone()),
                        "payout {id} reused"
                    );
                    payouts.insert(id.clone());
                }
            }
            Event::ResolveReview { id, target, .. } => {
                assert!(claims.contains_key(target) || payouts.contains(target));
                assert!(id.starts_with("rv-") && ids.insert(id.clone()));
            }
            Event::Unfreeze { id, .. } => {
                assert!(id.starts_with("uf-") && ids.insert(id.clone()));
            }
            Event::Tick { .. } => {}
        }
    }
}

/// The claims of one label, with the packet's creation for each.
struct ClaimRow<'a> {
    at: i64,
    id: &'a str,
    packet: &'a str,
    user: &'a str,
    device: Option<&'a str>,
    ip: Option<&'a str>,
    created: Option<i64>,
}

fn claims_labelled<'a>(parsed: &'a [Event], wanted: &str) -> Vec<ClaimRow<'a>> {
    parsed
        .iter()
        .filter_map(|e| match e {
            Event::Claim {
                id,
                at,
                packet,
                user,
                device,
                ip,
                account_created_at,
                label,
            } if label.as_deref() == Some(wanted) => Some(ClaimRow {
                at: *at,
                id,
                packet,
                user,
                device: device.as_deref(),
                ip: ip.as_deref(),
                created: *account_created_at,
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn traffic_abuse_patterns_have_their_shape() {
    let (_, _, parsed) = sample();
    let packets: HashMap<&str, (&str, i64, u32, SplitKind)> = parsed
        .iter()
        .filter_map(|e| match e {
            Event::CreatePacket {
                id,
                merchant,
                total,
                shares,
                split,
                ..
            } => Some((
                id.as_str(),
                (merchant.as_str(), total.fen(), *shares, *split),
            )),
            _ => None,
        })
        .collect();

    // device_farm: 6..=30 users per farm device, claiming the same packets.
    let farm = claims_labelled(parsed, "device_farm");
    let mut per_device: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut per_packet: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for c in &farm {
        let device = c.device.expect("farm claims carry a device");
        assert!(device.starts_with("dev-farm-"));
        per_device.entry(device).or_default().insert(c.user);
        per_packet.entry(c.packet).or_default().insert(c.user);
    }
    assert!(
        per_device
            .values()
            .all(|users| (1..=30).contains(&users.len()))
    );
    assert!(per_device.values().any(|users| users.len() >= 6));
    assert!(per_packet.values().any(|users| users.len() >= 5));

    // scripted_burst: one address with 60+ claims inside an hour, and users
    // with more than 6 claims inside an hour.
    let burst = claims_labelled(parsed, "scripted_burst");
    let mut per_ip: HashMap<&str, Vec<i64>> = HashMap::new();
    let mut per_user: HashMap<&str, Vec<i64>> = HashMap::new();
    for c in &burst {
        let ip = c.ip.expect("burst claims carry an address");
        assert!(ip.starts_with("198.51.100."));
        per_ip.entry(ip).or_default().push(c.at);
        per_user.entry(c.user).or_default().push(c.at);
    }
    let max_in_hour = |times: &Vec<i64>| {
        times
            .iter()
            .map(|t| times.iter().filter(|u| (*t..*t + HOUR).contains(u)).count())
            .max()
            .unwrap_or(0)
    };
    assert!(per_ip.values().any(|t| max_in_hour(t) >= 60));
    assert!(per_user.values().any(|t| max_in_hour(t) > 6));
    assert!(per_user.len() >= 8);

    // new_account: accounts under a day old taking shares above 50.00.
    let new = claims_labelled(parsed, "new_account");
    assert!(!new.is_empty());
    for c in &new {
        let age = c.at - c.created.expect("new accounts say when they were made");
        assert!((0..24 * HOUR).contains(&age), "account age {age}");
        let (_, total, shares, split) = packets[c.packet];
        assert_eq!(split, SplitKind::Fixed);
        assert!(total / i64::from(shares) > 5000);
    }

    // self_dealing: staff on their own merchant's packets, or others on a
    // staff device.
    let staff = claims_labelled(parsed, "self_dealing");
    assert!(!staff.is_empty());
    let mut by_staff = 0;
    for c in &staff {
        let (merchant, ..) = packets[c.packet];
        let index: usize = merchant[1..].parse().expect("merchant ids are m{i}");
        let device = c.device.expect("staff claims carry a device");
        assert!(staff_devices(index).iter().any(|d| d == device));
        if staff_users(index).iter().any(|u| u == c.user) {
            by_staff += 1;
        }
    }
    assert!(by_staff > 0 && by_staff <= staff.len());

    // mule: 10..=30 distinct packets per user, each paid within a minute.
    let mule = claims_labelled(parsed, "mule");
    let claim_at: HashMap<&str, i64> = mule.iter().map(|c| (c.id, c.at)).collect();
    let mut mule_packets: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for c in &mule {
        mule_packets.entry(c.user).or_default().insert(c.packet);
    }
    assert!(mule_packets.values().all(|p| p.len() <= 30));
    assert!(mule_packets.values().any(|p| p.len() >= 10));
    let mut fast = 0;
    for e in parsed {
        if let Event::Payout {
            claim, label, at, ..
        } = e
            && label.as_deref() == Some("mule")
        {
            let lag = at - claim_at[claim.as_str()];
            assert!((0..=61).contains(&lag), "mule payout {lag} s after claim");
            fast += 1;
        }
    }
    assert!(fast >= 5);

    // blocklisted: every one carries a blocklisted user, device or address.
    let bl = claims_labelled(parsed, "blocklisted");
    assert!(!bl.is_empty());
    for c in &bl {
        assert!(
            BLOCKLISTED_USERS.contains(&c.user)
                || c.device.is_some_and(|d| BLOCKLISTED_DEVICES.contains(&d))
                || c.ip.is_some_and(|ip| BLOCKLISTED_IPS.contains(&ip)),
            "claim {} is not blocklisted",
            c.id
        );
    }

    // heavy_user: more than 10 claims or more than 1,000.00 (fixed shares)
    // in one local day.
    let heavy = claims_labelled(parsed, "heavy_user");
    let mut per_day: HashMap<(&str, i64), (u32, i64)> = HashMap::new();
    for c in &heavy {
        let (_, total, shares, split) = packets[c.packet];
        let fixed_share = if split == SplitKind::Fixed {
            total / i64::from(shares)
        } else {
            0
        };
        let entry = per_day.entry((c.user, local_day(c.at))).or_default();
        entry.0 += 1;
        entry.1 += fixed_share;
    }
    assert!(per_day.values().any(|(n, _)| *n > 10));
    assert!(per_day.values().any(|(_, fen)| *fen > 100_000));
}

#[test]
fn traffic_ordinary_users_stay_ordinary() {
    let (_, _, parsed) = sample();
    let normal = claims_labelled(parsed, "normal");
    let mut per_day: HashMap<(&str, i64), u32> = HashMap::new();
    let mut device_users: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for c in &normal {
        *per_day.entry((c.user, local_day(c.at))).or_default() += 1;
        if let Some(d) = c.device {
            device_users.entry(d).or_default().insert(c.user);
        }
        let age = c.at
            - c.created
                .expect("ordinary claims say when the account was made");
        assert!(age >= 59 * 24 * HOUR, "ordinary account only {age} s old");
        let ip = c.ip.expect("ordinary claims carry an address");
        assert!(!BLOCKLISTED_IPS.contains(&ip) && !ip.starts_with("198.51.100."));
    }
    assert!(per_day.values().all(|n| *n <= 5));
    assert!(device_users.values().all(|users| users.len() == 1));
    // Most ordinary claims are paid out, minutes to hours later.
    let (_, stats, _) = sample();
    assert!(stats.payouts("normal") * 100 > stats.claims("normal") * 70);
}

#[test]
fn traffic_addresses_are_canonical_documentation_addresses() {
    use std::net::IpAddr;
    let (_, _, parsed) = sample();
    let mut seen = 0;
    for e in parsed {
        if let Event::Claim { ip: Some(ip), .. } | Event::Payout { ip: Some(ip), .. } = e {
            let addr: IpAddr = ip.parse().expect("a valid address");
            assert_eq!(addr.to_string(), *ip, "not canonical");
            let documentation = match addr {
                IpAddr::V4(v4) => {
                    let [a, b, c, _] = v4.octets();
                    matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113))
                }
                IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0xdb8],
            };
            assert!(documentation, "{ip} is not a documentation address");
            seen += 1;
        }
    }
    assert!(seen > 10_000);
    assert_eq!(super::names::home_ip(0x1_0001), "2001:db8:1::1:1");
    assert_eq!(super::names::home_ip(42), "2001:db8:1::2a");
}

#[test]
fn traffic_exports_the_names_the_config_needs() {
    assert_eq!(staff_users(7), ["m7-staff-1", "m7-staff-2", "m7-staff-3"]);
    assert_eq!(
        staff_devices(7),
        ["m7-staff-dev-1", "m7-staff-dev-2", "m7-staff-dev-3"]
    );
    assert_eq!(merchant_id(12), "m12");
    assert_eq!(BLOCKLISTED_USERS.len(), 5);
    assert_eq!(BLOCKLISTED_DEVICES[4], "dev-bl-5");
    assert_eq!(BLOCKLISTED_IPS[0], "203.0.113.1");
    assert_eq!(LABELS.len(), 9);
}

#[test]
fn traffic_refuses_unusable_configs() {
    let base = config(1, 10);
    for cfg in [
        TrafficConfig {
            merchants: 0,
            ..base.clone()
        },
        TrafficConfig {
            users: 0,
            ..base.clone()
        },
        TrafficConfig {
            malformed_per_mille: 1001,
            ..base.clone()
        },
        TrafficConfig {
            span_seconds: 59,
            ..base.clone()
        },
        TrafficConfig {
            tick_seconds: 0,
            ..base.clone()
        },
        TrafficConfig {
            start_at: i64::MAX,
            ..base.clone()
        },
    ] {
        let mut out = Vec::new();
        let err = generate(&cfg, &mut out).expect_err("config is refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(out.is_empty());
    }
    let (empty, stats) = run(&config(1, 0));
    assert!(empty.is_empty());
    assert_eq!(stats, TrafficStats::default());
}

#[test]
fn traffic_small_populations_still_work() {
    let cfg = TrafficConfig {
        merchants: 1,
        users: 1,
        ..config(5, 3_000)
    };
    let (bytes, stats) = run(&cfg);
    assert_eq!(stats.lines, 3_000);
    let parsed = events(&bytes);
    // The one merchant is m1; ordinary claims spread over joining users.
    assert!(parsed.iter().all(|e| match e {
        Event::CreatePacket { merchant, .. } | Event::Deposit { merchant, .. } => merchant == "m1",
        _ => true,
    }));
    let normal_users: HashSet<&str> = claims_labelled(&parsed, "normal")
        .iter()
        .map(|c| c.user)
        .collect();
    assert!(normal_users.len() > 1);
}
