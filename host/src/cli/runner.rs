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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::event::Event;
use crate::report::{Report, RequestStatus, RequestView, cut_message};
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
/// The longest traffic line read, in bytes: an event is a few hundred
/// bytes, and ids are at most 128. A longer line is malformed, and only
/// this much of it is ever held in memory.
pub const TRAFFIC_LINE_BYTES_MAX: usize = 64 * 1024;
/// How often an idle settlement stage looks whether the run was stopped.
const STOP_POLL: Duration = Duration::from_millis(20);

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

/// Why a line that is JSON is not an event. serde loses the field path
/// inside the tagged event enum, so its message ("invalid type: integer
/// `5`, expected a string") is completed from the line itself: the event
/// type, and the fields whose JSON type is wrong for every event.
fn describe_bad_event(line: &str, e: &serde_json::Error) -> String {
    let message = json_error(e);
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(line)
    else {
        return message;
    };
    let kind = fields
        .get("type")
        .and_then(serde_json::Value::as_str)
        .filter(|k| Event::KINDS.contains(k));
    let mut out = match kind {
        Some(kind) => format!("{kind} event: {message}"),
        None => message,
    };
    for (name, value) in &fields {
        let expected = match name.as_str() {
            "amount" | "total" if !value.is_string() => "a string of yuan such as \"12.30\"",
            "at" | "shares" if !value.is_i64() && !value.is_u64() => "an integer",
            "expires_in" if !value.is_i64() && !value.is_null() => "an integer",
            _ => continue,
        };
        out.push_str(&format!("; field `{name}` must be {expected}"));
    }
    out
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
        Err(e) => return Parsed::Malformed(cut_message(describe_bad_event(line, &e))),
    };
    match event.validate() {
        Ok(()) => Parsed::Event(Box::new(event)),
        Err(e) => Parsed::Malformed(cut_message(e)),
    }
}

/// Reads one line, through its newline, into `buf`, keeping at most `max`
/// bytes of it; the rest of a longer line is read and dropped. Returns the
/// line's length in bytes (0 at the end of the input).
fn read_line_bounded(
    traffic: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = match traffic.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(total);
        }
        let (n, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&available[..n.min(room)]);
        traffic.consume(n);
        total += n;
        if done {
            return Ok(total);
        }
    }
}

/// Stage 1: reads and parses every line of `traffic`, in batches. A read
/// error ends it after the lines read before it are passed on; a closed
/// channel (the later stages stopped) ends it quietly.
fn read_stage(mut traffic: impl BufRead, out: &SyncSender<Batch<Parsed>>) -> Result<()> {
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    let mut batch = Vec::with_capacity(BATCH_LINES);
    let ended = loop {
        buf.clear();
        let len = match read_line_bounded(&mut traffic, &mut buf, TRAFFIC_LINE_BYTES_MAX) {
            Ok(0) => break Ok(()),
            Ok(len) => len,
            Err(e) => {
                break Err(e).with_context(|| format!("reading traffic line {}", line_no + 1));
            }
        };
        line_no += 1;
        let parsed = if len > TRAFFIC_LINE_BYTES_MAX {
            Parsed::Malformed(format!(
                "line of {len} bytes, over the {TRAFFIC_LINE_BYTES_MAX}-byte limit"
            ))
        } else {
            parse_line(&buf)
        };
        batch.push((line_no, parsed));
        if batch.len() == BATCH_LINES {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_LINES));
            if out.send(full).is_err() {
                return Ok(());
            }
        }
    };
    if !batch.is_empty() {
        let _ = out.send(batch);
    }
    ended
}

/// Stage 2: applies every event in order to `settlement`, until the input
/// ends or `stop` is set.
fn settle_stage(
    settlement: &mut Settlement,
    rules: &dyn Evaluator,
    input: &Receiver<Batch<Parsed>>,
    out: &SyncSender<Batch<Settled>>,
    stop: &AtomicBool,
) {
    loop {
        let batch = match input.recv_timeout(STOP_POLL) {
            Ok(batch) => batch,
            Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::Relaxed) => continue,
            Err(_) => return,
        };
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
/// Malformed lines (and lines over [`TRAFFIC_LINE_BYTES_MAX`]) are counted
/// with their line numbers and skipped; they never stop the run or undo
/// what came before.
///
/// # Errors
///
/// Returns an error only when reading the traffic or writing decisions
/// fails. After a read error every line read before it is settled and
/// recorded, then the run stops; after a write error the run stops at once,
/// without waiting for more input (a reader blocked on a live feed is left
/// to end with the process).
pub fn replay(
    config: &Config,
    rules: &(dyn Evaluator + Sync),
    traffic: impl BufRead + Send + 'static,
    sinks: RunSinks<'_>,
) -> Result<(Report, Settlement)> {
    let mut report = Report::default();
    let show_progress = sinks.progress && std::io::stderr().is_terminal();
    let mut decisions = sinks.decisions;
    let started = Instant::now();
    let mut settlement = Settlement::new(settlement_config(config));
    let (parsed_tx, parsed_rx) = sync_channel::<Batch<Parsed>>(BATCHES_IN_FLIGHT);
    let (settled_tx, settled_rx) = sync_channel::<Batch<Settled>>(BATCHES_IN_FLIGHT);
    let stop = Arc::new(AtomicBool::new(false));
    // The reader is not scoped: it may be blocked on input that never
    // comes (a live feed), and a run that stops must not wait for it.
    let reader = std::thread::Builder::new()
        .name("hongbao-reader".into())
        .spawn(move || read_stage(traffic, &parsed_tx))
        .context("cannot start the traffic reader thread")?;
    let recorded = std::thread::scope(|s| -> Result<()> {
        let settlement = &mut settlement;
        let stop_settling = Arc::clone(&stop);
        let settler = std::thread::Builder::new()
            .name("hongbao-settle".into())
            .spawn_scoped(s, move || {
                rules.run_on_worker(Box::new(move || {
                    settle_stage(settlement, rules, &parsed_rx, &settled_tx, &stop_settling);
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
        // Stop the settlement stage if this one failed: it ends at its next
        // batch or within STOP_POLL when idle.
        stop.store(true, Ordering::Relaxed);
        drop(settled_rx);
        // A panic in a stage is a bug in hongbao: it goes on to the
        // caller as the panic it was, not as an error of the input.
        if let Err(panic) = settler.join() {
            std::panic::resume_unwind(panic);
        }
        failed.map_or(Ok(()), Err)
    });
    if show_progress {
        eprintln!();
    }
    recorded?;
    // The settlement stage only ends without a failure here when the
    // reader closed its channel, so the reader is done: join it for its
    // read error, if any.
    reader
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
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
