//! Seeded sample traffic through the settlement core and the demo config's
//! bundled rules, every invariant checked after every event (TigerBeetle
//! VOPR style: the seed reproduces the run exactly).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use hongbao::config::Config;
use hongbao::event::Event;
use hongbao::risk::RiskEngine;
use hongbao::settlement::{Outcome, Settlement, Status};
use hongbao::traffic::{TrafficConfig, generate};
use hongbao_tests::apply_checked;
use rules_sdk::Verdict;

const SEED: u64 = 7;
const EVENTS: usize = 3_000;

/// An outcome without its wall-clock durations, which are the only part of
/// a run that may differ between two replays.
fn timeless(mut outcome: Outcome) -> Outcome {
    if let Some(d) = outcome.decision.as_mut() {
        for r in &mut d.rules {
            r.duration_ns = 0;
        }
    }
    outcome
}

/// 3,000 events of seed 7 through the demo rules for 50 merchants: every
/// invariant and the zero sum hold after every event, a second settlement
/// fed the same events gives the same outcomes, and the run exercises what
/// it should (claims, payouts, stops by the rules, expiries).
#[test]
fn seeded_traffic_keeps_every_invariant_after_every_event() -> Result<()> {
    let mut traffic = Vec::new();
    let stats = generate(
        &TrafficConfig {
            seed: SEED,
            events: EVENTS,
            merchants: 50,
            ..TrafficConfig::default()
        },
        &mut traffic,
    )?;
    assert_eq!(stats.lines, EVENTS as u64);
    let mut config = Config::parse(&hongbao::cli::demo_config_text(50), Path::new("."))?;
    // The wall-clock backstop is the one limit that depends on the machine;
    // widen it so that fuel alone decides and the twin comparison below
    // cannot be upset by a busy CPU.
    config.limits.timeout_ms = Some(10_000);
    let engine = RiskEngine::load(&config, &hongbao::bundled::module)?;
    let settlement_config = hongbao::cli::settlement_config(&config);
    let mut s = Settlement::new(settlement_config.clone());
    let mut twin = Settlement::new(settlement_config);

    let mut malformed = 0;
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut stopped = 0;
    let mut expired = 0;
    for (i, line) in std::str::from_utf8(&traffic)?.lines().enumerate() {
        let Ok(event) = serde_json::from_str::<Event>(line) else {
            malformed += 1;
            continue;
        };
        let outcome = apply_checked(&mut s, &event, &engine)
            .map_err(|e| e.context(format!("line {} of seed {SEED}", i + 1)))?;
        let status = match (&outcome.status, outcome.replay) {
            (_, true) => "replay".to_string(),
            (Status::Accepted, false) => "accepted".to_string(),
            (Status::Refused(e), false) => format!("refused:{}", e.code()),
            (Status::Conflict(_), false) => "conflict".to_string(),
        };
        *seen
            .entry(format!("{} {status}", outcome.kind))
            .or_default() += 1;
        stopped += usize::from(outcome.verdict.is_some_and(|v| v != Verdict::Allow));
        expired += outcome.expired.len();
        let again = twin.apply(&event, &engine);
        assert_eq!(
            timeless(again),
            timeless(outcome),
            "line {} replays exactly",
            i + 1
        );
    }
    assert_eq!(malformed, stats.malformed, "{seen:?}");
    let count = |key: &str| seen.get(key).copied().unwrap_or(0);
    assert!(count("claim accepted") > 500, "{seen:?}");
    assert!(count("payout accepted") > 200, "{seen:?}");
    assert!(count("create_packet accepted") > 50, "{seen:?}");
    assert!(stopped > 0, "the rules stopped something: {seen:?}");
    assert!(expired > 0, "some packets expired: {seen:?}");
    let summary = s.summary();
    assert!(summary.zero_sum_ok);
    assert_eq!(summary, twin.summary());
    assert!(
        summary.paid_out.fen() > 0 && summary.refunded.fen() > 0,
        "{summary:?}"
    );
    Ok(())
}

/// A reader that yields `data`, then fails (a disk that went away), or
/// never answers again (a live feed that goes quiet).
struct Then {
    data: std::io::Cursor<Vec<u8>>,
    hang: bool,
}

impl std::io::Read for Then {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if self.hang {
            // Nothing more ever comes; only the end of the process ends it.
            loop {
                std::thread::park();
            }
        }
        Err(std::io::Error::other("disk went away"))
    }
}

/// 200 lines: a deposit, a packet of 200 shares, 198 claims.
fn two_hundred_lines() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(
        b"{\"type\":\"deposit\",\"id\":\"dep\",\"at\":1,\"merchant\":\"m1\",\"amount\":\"5000.00\"}\n",
    );
    t.extend_from_slice(b"{\"type\":\"create_packet\",\"id\":\"p1\",\"at\":2,\"merchant\":\"m1\",\"total\":\"200.00\",\"shares\":200,\"split\":\"fixed\"}\n");
    for i in 0..198 {
        t.extend_from_slice(
            format!(
                "{{\"type\":\"claim\",\"id\":\"c{i}\",\"at\":{},\"packet\":\"p1\",\"user\":\"u{i}\"}}\n",
                3 + i
            )
            .as_bytes(),
        );
    }
    t
}

fn allow_engine() -> Result<(Config, RiskEngine)> {
    let config = Config::parse(&hongbao_tests::one_rule("ok", "allow", ""), Path::new("."))?;
    let engine = RiskEngine::load(&config, &hongbao_tests::module_bytes)?;
    Ok((config, engine))
}

/// Replays `traffic` through the allow-everything rules, writing decision
/// records to `decisions` if given.
fn replay_with(
    traffic: impl std::io::BufRead + Send + 'static,
    decisions: Option<&mut dyn std::io::Write>,
) -> Result<hongbao::report::Report> {
    let (config, engine) = allow_engine()?;
    let (report, _) = hongbao::cli::replay(
        &config,
        &engine,
        traffic,
        hongbao::cli::RunSinks {
            decisions,
            progress: false,
        },
    )?;
    Ok(report)
}

/// A read error mid-file: every line read before it is settled and
/// recorded (198 claims, 198 decision records), then the run stops with the
/// error naming the line. (Found in review: the lines of the batch being
/// filled were dropped.)
#[test]
fn a_read_error_settles_and_records_every_line_before_it() -> Result<()> {
    let mut decisions: Vec<u8> = Vec::new();
    let traffic = std::io::BufReader::new(Then {
        data: std::io::Cursor::new(two_hundred_lines()),
        hang: false,
    });
    let r = replay_with(traffic, Some(&mut decisions));
    let err = r.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(err.contains("reading traffic line 201"), "{err}");
    assert!(err.contains("disk went away"), "{err}");
    let records = decisions.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        records, 198,
        "every claim read before the error is recorded"
    );
    Ok(())
}

/// A decisions sink that fails while the traffic is a live feed that goes
/// quiet: the run stops with the write error at once instead of waiting
/// for input that never comes. (Found in review: the reader was joined.)
#[test]
fn a_write_error_stops_the_run_without_waiting_for_more_input() -> Result<()> {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("no space left"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let traffic = std::io::BufReader::new(Then {
        data: std::io::Cursor::new(two_hundred_lines()),
        hang: true,
    });
    let mut sink = Full;
    // If the run waited for the quiet feed this would never return; the
    // test harness's own timeout would be the only end.
    let r = replay_with(traffic, Some(&mut sink));
    let err = r.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(err.contains("writing a decision record"), "{err}");
    Ok(())
}

/// A line over the length limit is one malformed line, read but never held
/// whole, and the lines around it are processed; a parser's message that
/// quotes a long value is cut, and control characters in it are escaped.
#[test]
fn overlong_lines_and_messages_are_bounded() -> Result<()> {
    let mut t = Vec::new();
    t.extend_from_slice(b"{\"type\":\"tick\",\"at\":1}\n");
    t.extend_from_slice(b"{\"type\":\"");
    t.extend(std::iter::repeat_n(
        b'A',
        3 * hongbao::cli::TRAFFIC_LINE_BYTES_MAX,
    ));
    t.extend_from_slice(b"\"}\n");
    t.extend_from_slice(b"{\"type\":\"tick\",\"at\":2}\n");
    // An unknown type quoting 10,000 bytes, and one forging a report line.
    t.extend_from_slice(b"{\"type\":\"");
    t.extend(std::iter::repeat_n(b'B', 10_000));
    t.extend_from_slice(b"\"}\n");
    t.extend_from_slice(b"{\"type\":\"x\\n-- money --\\nforged\"}\n");
    let report = replay_with(std::io::Cursor::new(t), None)?;
    assert_eq!(report.events_processed, 2);
    assert_eq!(report.malformed_line_numbers, [2, 4, 5]);
    let (_, long) = &report.malformed[0];
    assert!(long.contains("over the 65536-byte limit"), "{long}");
    let (_, quoted) = &report.malformed[1];
    assert!(quoted.len() < 400, "{} bytes: {quoted}", quoted.len());
    assert!(quoted.contains("bytes cut"), "{quoted}");
    let (_, forged) = &report.malformed[2];
    assert!(forged.contains("x\\n-- money --\\nforged"), "{forged}");
    assert!(!report.to_text().contains("\nforged"), "no forged line");
    Ok(())
}

/// A malformed line's message names its event type and the field at
/// fault, which serde alone does not inside the tagged event enum. (Found
/// by a new user: `"amount":5` said only "invalid type: integer `5`,
/// expected a string".)
#[test]
fn malformed_lines_name_the_event_and_the_field() -> Result<()> {
    let t = concat!(
        "{\"type\":\"deposit\",\"id\":\"d1\",\"at\":1,\"merchant\":\"m1\",\"amount\":5}\n",
        "{\"type\":\"payout\",\"id\":\"p1\",\"at\":2}\n",
        "{\"type\":\"tick\",\"at\":\"3\"}\n",
        "{\"type\":\"refund\",\"at\":4}\n",
    );
    let report = replay_with(std::io::Cursor::new(t.as_bytes().to_vec()), None)?;
    assert_eq!(report.malformed_line_numbers, [1, 2, 3, 4]);
    let message = |i: usize| report.malformed[i].1.as_str();
    assert!(
        message(0).starts_with("deposit event: invalid type: integer `5`"),
        "{}",
        message(0)
    );
    assert!(
        message(0).ends_with("; field `amount` must be a string of yuan such as \"12.30\""),
        "{}",
        message(0)
    );
    assert!(
        message(1).starts_with("payout event: missing field `claim`"),
        "{}",
        message(1)
    );
    assert!(
        message(2).ends_with("; field `at` must be an integer"),
        "{}",
        message(2)
    );
    assert!(
        message(3).starts_with("unknown variant `refund`"),
        "{}",
        message(3)
    );
    Ok(())
}

/// Labels are report keys: one that could forge report lines is a
/// malformed line, and past 64 distinct labels the rest are counted
/// together. (Found in review: a label with newlines forged the text
/// report, and 20,000 distinct labels made 20,000 report rows.)
#[test]
fn labels_can_neither_forge_nor_bloat_the_report() -> Result<()> {
    let mut t = two_hundred_lines();
    t.extend_from_slice(b"{\"type\":\"claim\",\"id\":\"cx\",\"at\":300,\"packet\":\"p1\",\"user\":\"ux\",\"label\":\"normal\\n-- money --\"}\n");
    let report = replay_with(std::io::Cursor::new(t), None)?;
    assert_eq!(report.malformed_line_numbers, [201]);
    assert!(
        report.malformed[0].1.contains("field `label`"),
        "{:?}",
        report.malformed
    );

    let mut t = two_hundred_lines();
    let lines = String::from_utf8(t.clone())?;
    t.clear();
    for (i, line) in lines.lines().enumerate() {
        // Label each claim with a label of its own.
        let line = if line.contains("\"type\":\"claim\"") {
            line.replace("\"}", &format!("\",\"label\":\"l{i}\"}}"))
        } else {
            line.to_string()
        };
        t.extend_from_slice(line.as_bytes());
        t.push(b'\n');
    }
    let report = replay_with(std::io::Cursor::new(t), None)?;
    assert_eq!(report.malformed_lines, 0);
    assert_eq!(report.patterns.len(), hongbao::report::LABELS_MAX + 1);
    let other = &report.patterns[hongbao::report::OTHER_LABELS];
    assert_eq!(other.requests, 198 - hongbao::report::LABELS_MAX as u64);
    Ok(())
}
