//! Replaying a traffic stream through the settlement core and the rules:
//! the loop behind `hongbao run` and `hongbao demo`.
//!
//! The replay is a pipeline of three stages joined by bounded channels, so
//! that the one stage that must be sequential (settling events in traffic
//! order) does nothing else:
//!
//! 1. a reader thread reads lines and parses and validates each into an
//!    [`Event`] (or says why it is malformed);
//! 2. the settlement stage applies the events in order, on the thread the
//!    evaluator prefers ([`Evaluator::run_on_worker`]: for the Wasm engine,
//!    a rule worker, from which each request's rules are split between the
//!    workers);
//! 3. the calling thread counts every line and outcome into the report and
//!    writes the decision records.
//!
//! Each stage sees the lines in traffic order, so a run gives the same
//! outcomes, records and report as applying the lines one by one.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::event::Event;
use crate::report::{Report, RequestStatus, RequestView};
use crate::risk::Evaluator;
use crate::settlement::{Outcome, Settlement, SettlementConfig, Status};

/// Progress is printed every this many lines, on a terminal only.
const PROGRESS_EVERY_LINES: u64 = 10_000;
/// Lines handed from one stage to the next at a time: large enough that a
/// hand-off costs nothing per line, small enough to keep the stages busy.
const BATCH_LINES: usize = 128;
/// Batches a stage may run ahead of the next before it waits: bounds the
/// memory of a replay whatever the length of its traffic.
const BATCHES_IN_FLIGHT: usize = 8;

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

/// One traffic line after the reader: an event to settle, or why the line
/// is not one.
enum Parsed {
    Event(Box<Event>),
    Malformed(String),
}

/// One traffic line after the settlement stage.
enum Settled {
    /// Settled: the event (for its label) and its outcome, with the time
    /// `apply` took.
    Request {
        event: Box<Event>,
        outcome: Box<Outcome>,
        elapsed_ns: u64,
    },
    /// Rejected by the reader.
    Malformed(String),
}

/// A batch of lines, each with its 1-based line number.
type Batch<T> = Vec<(u64, T)>;

/// Parses one line of traffic.
fn parse_line(bytes: &[u8]) -> Parsed {
    // A bad line, even one that is not UTF-8, is rejected on its own; it
    // never stops the run or undoes what came before.
    let line = match std::str::from_utf8(bytes) {
        Ok(l) => l.trim_end_matches(['\n', '\r']),
        Err(e) => return Parsed::Malformed(format!("not UTF-8: {e}")),
    };
    if line.trim().is_empty() {
        return Parsed::Malformed("empty line".into());
    }
    let event: Event = match serde_json::from_str(line) {
        Ok(e) => e,
        Err(e) => return Parsed::Malformed(json_error(&e)),
    };
    match event.validate() {
        Ok(()) => Parsed::Event(Box::new(event)),
        Err(e) => Parsed::Malformed(e),
    }
}

/// Stage 1: reads and parses every line of `traffic`, in batches. Returns
/// the read error that ended it early, if any; a closed channel (the later
/// stages stopped) ends it quietly.
fn read_stage(mut traffic: impl BufRead, out: &SyncSender<Batch<Parsed>>) -> Result<()> {
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    let mut batch = Vec::with_capacity(BATCH_LINES);
    loop {
        buf.clear();
        let read = traffic
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading traffic line {}", line_no + 1))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        batch.push((line_no, parse_line(&buf)));
        if batch.len() == BATCH_LINES {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_LINES));
            if out.send(full).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = out.send(batch);
    }
    Ok(())
}

/// Stage 2: applies every event in order to `settlement`.
fn settle_stage(
    settlement: &mut Settlement,
    rules: &dyn Evaluator,
    input: &Receiver<Batch<Parsed>>,
    out: &SyncSender<Batch<Settled>>,
) {
    for batch in input {
        let settled = batch
            .into_iter()
            .map(|(line_no, parsed)| {
                let item = match parsed {
                    Parsed::Malformed(why) => Settled::Malformed(why),
                    Parsed::Event(event) => {
                        let t = Instant::now();
                        let outcome = settlement.apply(&event, rules);
                        Settled::Request {
                            event,
                            outcome: Box::new(outcome),
                            elapsed_ns: u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX),
                        }
                    }
                };
                (line_no, item)
            })
            .collect();
        if out.send(settled).is_err() {
            return;
        }
    }
}

/// Stage 3: counts one settled line into the report and writes its
/// decision record.
fn record(
    report: &mut Report,
    decisions: &mut Option<&mut dyn Write>,
    line_no: u64,
    item: Settled,
) -> Result<()> {
    report.line();
    let (event, outcome, elapsed_ns) = match item {
        Settled::Malformed(why) => {
            report.malformed(line_no, why);
            return Ok(());
        }
        Settled::Request {
            event,
            outcome,
            elapsed_ns,
        } => (event, outcome, elapsed_ns),
    };
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
    Ok(())
}

/// Replays every line of `traffic` through a fresh settlement core.
///
/// Malformed lines are counted with their line numbers and skipped; they
/// never stop the run or undo what came before.
///
/// # Errors
///
/// Returns an error only when reading the traffic or writing decisions
/// fails; what was settled before it stays settled and the run stops.
pub fn replay(
    config: &Config,
    rules: &(dyn Evaluator + Sync),
    traffic: impl BufRead + Send,
    sinks: RunSinks<'_>,
) -> Result<(Report, Settlement)> {
    let mut report = Report::default();
    let show_progress = sinks.progress && std::io::stderr().is_terminal();
    let mut decisions = sinks.decisions;
    let started = Instant::now();
    let mut settlement = Settlement::new(settlement_config(config));
    let (parsed_tx, parsed_rx) = sync_channel::<Batch<Parsed>>(BATCHES_IN_FLIGHT);
    let (settled_tx, settled_rx) = sync_channel::<Batch<Settled>>(BATCHES_IN_FLIGHT);
    let recorded = std::thread::scope(|s| -> Result<()> {
        let reader = std::thread::Builder::new()
            .name("hongbao-reader".into())
            .spawn_scoped(s, move || read_stage(traffic, &parsed_tx))
            .context("cannot start the traffic reader thread")?;
        let settlement = &mut settlement;
        let settler = std::thread::Builder::new()
            .name("hongbao-settle".into())
            .spawn_scoped(s, move || {
                rules.run_on_worker(Box::new(move || {
                    settle_stage(settlement, rules, &parsed_rx, &settled_tx);
                }));
            })
            .context("cannot start the settlement thread")?;
        let mut failed = None;
        'batches: for batch in &settled_rx {
            for (line_no, item) in batch {
                if let Err(e) = record(&mut report, &mut decisions, line_no, item) {
                    failed = Some(e);
                    break 'batches;
                }
                if show_progress && line_no.is_multiple_of(PROGRESS_EVERY_LINES) {
                    eprint!(
                        "\r{line_no} lines, {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }
        // Closing the channel stops the earlier stages if this one failed.
        drop(settled_rx);
        let settled = settler.join();
        let read = reader.join();
        // A panic in a stage is a bug in hongbao: it goes on to the
        // caller as the panic it was, not as an error of the input.
        if let Err(panic) = settled {
            std::panic::resume_unwind(panic);
        }
        let read = read.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match failed {
            Some(e) => Err(e),
            None => read,
        }
    });
    if show_progress {
        eprintln!();
    }
    recorded?;
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
