//! Replaying a traffic stream through the settlement core and the rules:
//! the loop behind `hongbao run` and `hongbao demo`.

use std::io::{BufRead, IsTerminal, Write};

use std::time::Instant;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::event::Event;
use crate::report::{Report, RequestStatus, RequestView};
use crate::risk::Evaluator;
use crate::settlement::{Settlement, SettlementConfig, Status};

/// Progress is printed every this many lines, on a terminal only.
const PROGRESS_EVERY_LINES: u64 = 10_000;

/// The settlement settings of `config`.
pub fn settlement_config(config: &Config) -> SettlementConfig {
    SettlementConfig {
        expires_in_default_seconds: config.settlement.expiry_seconds,
        share_cap: config.settlement.share_cap,
        utc_offset_default_minutes: config.settlement.utc_offset_minutes,
        merchant_utc_offset_minutes: config
            .merchants
            .iter()
            .map(|(m, s)| (m.clone(), s.utc_offset_minutes))
            .collect(),
    }
}

/// A JSON error without serde's "at line 1 column N" suffix, which would
/// read as a file position; the column within the line is kept.
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => format!("{} (column {})", &text[..i], e.column()),
        None => text,
    }
}

/// Where a run writes what it decided.
pub struct RunSinks<'a> {
    /// One JSON decision record per line, for every evaluation.
    pub decisions: Option<&'a mut dyn Write>,
    /// Show progress on stderr when it is a terminal.
    pub progress: bool,
}

/// Replays every line of `traffic` through a fresh settlement core.
///
/// Malformed lines are counted with their line numbers and skipped; they
/// never stop the run or undo what came before.
///
/// # Errors
///
/// Returns an error only when reading the traffic or writing decisions fails.
pub fn replay(
    config: &Config,
    rules: &dyn Evaluator,
    traffic: impl BufRead,
    sinks: RunSinks<'_>,
) -> Result<(Report, Settlement)> {
    let mut settlement = Settlement::new(settlement_config(config));
    let mut report = Report::default();
    let show_progress = sinks.progress && std::io::stderr().is_terminal();
    let mut decisions = sinks.decisions;
    let started = Instant::now();
    let mut traffic = traffic;
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    loop {
        buf.clear();
        let read = traffic
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading traffic line {}", line_no + 1))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        report.line();
        if show_progress && line_no.is_multiple_of(PROGRESS_EVERY_LINES) {
            eprint!(
                "\r{line_no} lines, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        // A bad line, even one that is not UTF-8, is rejected on its own;
        // it never stops the run or undoes what came before.
        let line = match std::str::from_utf8(&buf) {
            Ok(l) => l.trim_end_matches(['\n', '\r']),
            Err(e) => {
                report.malformed(line_no, format!("not UTF-8: {e}"));
                continue;
            }
        };
        if line.trim().is_empty() {
            report.malformed(line_no, "empty line".into());
            continue;
        }
        let event: Event = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => {
                report.malformed(line_no, json_error(&e));
                continue;
            }
        };
        if let Err(e) = event.validate() {
            report.malformed(line_no, e);
            continue;
        }
        let t = Instant::now();
        let outcome = settlement.apply(&event, rules);
        let elapsed_ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let status = match (&outcome.status, outcome.replay) {
            (_, true) => RequestStatus::Replay,
            (Status::Accepted, false) => RequestStatus::Accepted,
            (Status::Refused(e), false) => RequestStatus::Refused(e.code()),
            (Status::Conflict(_), false) => RequestStatus::Conflict,
        };
        let decision = outcome.decision.as_ref();
        report.request(&RequestView {
            kind: outcome.kind,
            label: event.label(),
            status,
            hook: decision.map(|d| d.hook),
            verdict: decision.map(|d| d.verdict),
            rules: decision.map_or(&[], |d| d.rules.as_slice()),
            elapsed_ns,
        });
        if let (Some(out), Some(d)) = (decisions.as_mut(), decision) {
            serde_json::to_writer(&mut **out, d).context("writing a decision record")?;
            out.write_all(b"\n").context("writing a decision record")?;
        }
    }
    if show_progress {
        eprintln!();
    }
    let elapsed = started.elapsed();
    let s = settlement.summary();
    let invariants = match (s.zero_sum_ok, settlement.check_invariants()) {
        (true, Ok(())) => Ok(()),
        (false, _) => Err("the ledger does not sum to zero".to_string()),
        (true, Err(e)) => Err(e.to_string()),
    };
    report.finish(elapsed, s, invariants);
    Ok((report, settlement))
}
