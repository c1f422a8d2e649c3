//! The run report: what was processed, what the rules decided and caught,
//! how fast, and where the money is. Printed as text on the terminal and
//! written as the same data in JSON with `--report FILE`.

use std::collections::BTreeMap;

use crate::histogram::Histogram;
use std::fmt::Write as _;
use std::time::Duration;

use rules_sdk::{Hook, Verdict};
use serde::Serialize;

use crate::risk::RuleOutcome;
use crate::settlement::MoneySummary;

/// Malformed lines kept with their text in the report; the rest are counted.
pub const MALFORMED_LISTED_MAX: usize = 50;
/// Line numbers of malformed lines kept in the report; past this many only
/// the count goes on, so a stream of bad lines cannot grow the report
/// without bound.
pub const MALFORMED_NUMBERS_MAX: usize = 10_000;
/// Bytes of a malformed line's error message kept (the parser may quote
/// the line's content).
pub const MALFORMED_MESSAGE_BYTES_MAX: usize = 256;
/// Distinct traffic labels reported one by one; the requests of any further
/// labels are counted together under [`OTHER_LABELS`].
pub const LABELS_MAX: usize = 64;
/// The report key of the labels past [`LABELS_MAX`].
pub const OTHER_LABELS: &str = "(other labels)";
/// The most distinct reason codes counted per rule (or rule group); a
/// rule chooses its reasons, so past this they are counted together under
/// [`OTHER_REASONS`] and the report stays bounded.
pub const REASONS_MAX: usize = 32;
/// The report key of the reasons past [`REASONS_MAX`].
pub const OTHER_REASONS: &str = "(other reasons)";

/// Counts `n` under `reason`, or under [`OTHER_REASONS`] once `hits` holds
/// [`REASONS_MAX`] distinct reasons.
fn count_reason(hits: &mut BTreeMap<String, u64>, reason: &str, n: u64) {
    let distinct = hits.len() - usize::from(hits.contains_key(OTHER_REASONS));
    let key = if distinct < REASONS_MAX || hits.contains_key(reason) {
        reason
    } else {
        OTHER_REASONS
    };
    *hits.entry(key.to_string()).or_default() += n;
}

/// How a request ended, as the report counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStatus<'a> {
    /// Processed; money moved as its verdict says.
    Accepted,
    /// Refused by the settlement core before or without money moving; the
    /// code names why (e.g. `already_claimed`, `insufficient_funds`).
    Refused(&'a str),
    /// A retry of an earlier request: the stored outcome was returned.
    Replay,
    /// The same id with a different body.
    Conflict,
}

/// One processed request, as the report sees it.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    /// The event type (`claim`, `payout`, ...).
    pub kind: &'a str,
    /// The traffic generator's label, if any.
    pub label: Option<&'a str>,
    /// How it ended.
    pub status: RequestStatus<'a>,
    /// The hook evaluated, when rules ran.
    pub hook: Option<Hook>,
    /// The final verdict, when rules ran.
    pub verdict: Option<Verdict>,
    /// Per-rule outcomes, when rules ran.
    pub rules: &'a [RuleOutcome],
    /// Wall time to process the request, in nanoseconds.
    pub elapsed_ns: u64,
}

/// Counts per verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    /// Allowed.
    pub allow: u64,
    /// Sent to review.
    pub review: u64,
    /// Denied.
    pub deny: u64,
    /// Frozen.
    pub freeze: u64,
}

impl VerdictCounts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Allow => self.allow += 1,
            Verdict::Review => self.review += 1,
            Verdict::Deny => self.deny += 1,
            Verdict::Freeze => self.freeze += 1,
        }
    }

    /// Everything but allow.
    pub fn stopped(&self) -> u64 {
        self.review + self.deny + self.freeze
    }
}

/// One rule's activity over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleStats {
    /// Calls made.
    pub evaluations: u64,
    /// Verdicts it contributed (failure verdicts included).
    pub verdicts: VerdictCounts,
    /// Calls that failed, by failure reason code.
    pub failures: BTreeMap<String, u64>,
    /// Non-allow answers, by reason code.
    pub hits: BTreeMap<String, u64>,
    /// Median call time, in microseconds.
    pub p50_us: f64,
    /// 99th-percentile call time, in microseconds.
    pub p99_us: f64,
    /// Slowest call, in microseconds.
    pub max_us: f64,
    /// Mean fuel per call, over the calls whose fuel is known (all but
    /// timeouts, see `RuleOutcome::fuel_used`); `None` when no call's is.
    pub fuel_mean: Option<u64>,
    /// The group this rule is shown in (see [`Report::rule_groups`]).
    pub group: String,
    /// Rules in this entry (1 for a single rule).
    pub rule_count: u64,
    #[serde(skip)]
    durations_ns: Histogram,
    #[serde(skip)]
    fuel_total: u64,
    #[serde(skip)]
    fuel_calls: u64,
}

impl RuleStats {
    fn merge(&mut self, other: &RuleStats) {
        self.evaluations += other.evaluations;
        self.verdicts.allow += other.verdicts.allow;
        self.verdicts.review += other.verdicts.review;
        self.verdicts.deny += other.verdicts.deny;
        self.verdicts.freeze += other.verdicts.freeze;
        for (k, v) in &other.failures {
            *self.failures.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.hits {
            count_reason(&mut self.hits, k, *v);
        }
        self.durations_ns.merge(&other.durations_ns);
        self.fuel_total += other.fuel_total;
        self.fuel_calls += other.fuel_calls;
        self.rule_count += 1;
    }

    fn finish(&mut self) {
        self.p50_us = percentile_us(&self.durations_ns, 50.0);
        self.p99_us = percentile_us(&self.durations_ns, 99.0);
        self.max_us = percentile_us(&self.durations_ns, 100.0);
        self.fuel_mean = (self.fuel_calls > 0).then(|| self.fuel_total / self.fuel_calls);
    }
}

/// The group of a rule outcome: a platform rule alone; a merchant rule whose
/// id starts with `<merchant>.` together with its peers of other merchants.
fn group_name(o: &RuleOutcome) -> String {
    match &o.scope {
        crate::risk::Scope::Merchant(m) => match o
            .rule_id
            .strip_prefix(m.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
        {
            Some(rest) => format!("*.{rest}"),
            None => o.rule_id.clone(),
        },
        crate::risk::Scope::Platform => o.rule_id.clone(),
    }
}

/// How one labelled traffic pattern fared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PatternStats {
    /// Claims and payouts carrying the label.
    pub requests: u64,
    /// Final verdicts of those the rules evaluated.
    pub verdicts: VerdictCounts,
    /// Refused by the settlement core (already claimed, empty packet, ...).
    pub refused_by_core: u64,
    /// Retries answered from the stored outcome, and id conflicts.
    pub replays_and_conflicts: u64,
    /// Caught by the rules: a non-allow verdict, or (for duplicates) a
    /// replay or conflict that kept the retry from moving money again.
    pub caught: u64,
    /// Caught, or refused by the settlement core: no money moved for it.
    pub stopped: u64,
}

/// How the rules were loaded.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadSummary {
    /// Rules configured.
    pub rules: u64,
    /// Of them, refused and failing closed.
    pub refused: u64,
    /// Distinct modules (by digest) among the rules.
    pub modules: u64,
    /// Worker threads running rule calls.
    pub workers: u64,
    /// Wall time to parse, compile and check everything, in seconds.
    pub load_seconds: f64,
    /// Modules taken from the on-disk cache.
    pub cache_hits: u64,
    /// Modules compiled (and stored, when a cache is configured).
    pub cache_misses: u64,
    /// Resident memory once loaded, in bytes.
    pub resident_after_load_bytes: u64,
}

/// The whole report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// How the rules were loaded.
    pub load: LoadSummary,
    /// Resident memory at the end of the run, in bytes.
    pub resident_end_bytes: u64,
    /// The most resident memory of the process, in bytes.
    pub resident_peak_bytes: u64,
    /// Lines read from the traffic.
    pub lines: u64,
    /// Events parsed and processed.
    pub events_processed: u64,
    /// Lines rejected as malformed.
    pub malformed_lines: u64,
    /// The line numbers of the first [`MALFORMED_NUMBERS_MAX`] malformed
    /// lines (`malformed_lines` counts them all).
    pub malformed_line_numbers: Vec<u64>,
    /// The first [`MALFORMED_LISTED_MAX`] of them with the parser's error.
    pub malformed: Vec<(u64, String)>,
    /// Requests by event type, then by outcome.
    pub requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// Final verdicts per hook.
    pub verdicts: BTreeMap<String, VerdictCounts>,
    /// Per rule id.
    pub rules: BTreeMap<String, RuleStats>,
    /// Per rule group: each platform rule alone, and merchant rules with
    /// the same id after their `<merchant>.` prefix together (`*.campaign-cap`).
    pub rule_groups: BTreeMap<String, RuleStats>,
    /// Per traffic label (`normal` is the ordinary traffic).
    pub patterns: BTreeMap<String, PatternStats>,
    /// Ordinary (`normal`) claims and payouts the rules stopped.
    pub normal_stopped: u64,
    /// Wall time of the run, in seconds.
    pub elapsed_seconds: f64,
    /// Events per second.
    pub events_per_second: f64,
    /// Rule-evaluated requests (claims and payouts) per second.
    pub decisions_per_second: f64,
    /// Median time to process a claim or payout, in microseconds.
    pub decision_p50_us: f64,
    /// 99th percentile of the same, in microseconds.
    pub decision_p99_us: f64,
    /// Where the money is at the end of the run.
    pub money: Option<MoneySummary>,
    /// Whether every money invariant held at the end.
    pub invariants_ok: bool,
    /// The invariant that failed, if any.
    pub invariant_error: Option<String>,
    #[serde(skip)]
    decision_ns: Histogram,
}

/// A percentile of a histogram of nanoseconds, in microseconds (within
/// about 3% below the exact value; see [`Histogram`]).
fn percentile_us(ns: &Histogram, p: f64) -> f64 {
    ns.percentile(p) as f64 / 1000.0
}

impl Report {
    /// Counts a line read.
    pub fn line(&mut self) {
        self.lines += 1;
    }

    /// Counts a malformed line (1-based line number) and keeps the first ones.
    pub fn malformed(&mut self, line: u64, error: String) {
        self.malformed_lines += 1;
        if self.malformed_line_numbers.len() < MALFORMED_NUMBERS_MAX {
            self.malformed_line_numbers.push(line);
        }
        if self.malformed.len() < MALFORMED_LISTED_MAX {
            self.malformed.push((line, cut_message(error)));
        }
    }

    /// Counts a processed event.
    pub fn request(&mut self, r: &RequestView<'_>) {
        self.events_processed += 1;
        let status = match r.status {
            RequestStatus::Accepted => "accepted".to_string(),
            RequestStatus::Refused(code) => format!("refused:{code}"),
            RequestStatus::Replay => "replay".to_string(),
            RequestStatus::Conflict => "conflict".to_string(),
        };
        *self
            .requests
            .entry(r.kind.to_string())
            .or_default()
            .entry(status)
            .or_default() += 1;
        if let (Some(hook), Some(v)) = (r.hook, r.verdict) {
            self.verdicts.entry(hook.to_string()).or_default().add(v);
            self.decision_ns.record(r.elapsed_ns);
        }
        for o in r.rules {
            let s = self.rules.entry(o.rule_id.clone()).or_default();
            if s.evaluations == 0 {
                s.group = group_name(o);
            }
            s.evaluations += 1;
            s.verdicts.add(o.verdict);
            s.durations_ns.record(o.duration_ns);
            if let Some(fuel) = o.fuel_used {
                s.fuel_total += fuel;
                s.fuel_calls += 1;
            }
            if let Some(f) = &o.failure {
                *s.failures.entry(f.code().to_string()).or_default() += 1;
            } else if o.verdict != Verdict::Allow {
                count_reason(&mut s.hits, &o.reason, 1);
            }
        }
        if let Some(label) = r.label {
            // Past LABELS_MAX distinct labels, the rest are counted together.
            let key = if self.patterns.len() < LABELS_MAX || self.patterns.contains_key(label) {
                label
            } else {
                OTHER_LABELS
            };
            let p = self.patterns.entry(key.to_string()).or_default();
            p.requests += 1;
            let mut caught = false;
            let mut refused = false;
            match r.status {
                RequestStatus::Refused(_) => {
                    p.refused_by_core += 1;
                    refused = true;
                }
                RequestStatus::Replay | RequestStatus::Conflict => {
                    p.replays_and_conflicts += 1;
                    caught = label == "duplicate";
                }
                RequestStatus::Accepted => {}
            }
            if let Some(v) = r.verdict {
                p.verdicts.add(v);
                caught |= v != Verdict::Allow;
            }
            if caught {
                p.caught += 1;
                if label == "normal" {
                    self.normal_stopped += 1;
                }
            }
            if caught || refused {
                p.stopped += 1;
            }
        }
    }

    /// Computes percentiles and rates once the run is over.
    pub fn finish(
        &mut self,
        elapsed: Duration,
        money: MoneySummary,
        invariants: Result<(), String>,
    ) {
        self.elapsed_seconds = elapsed.as_secs_f64();
        self.resident_end_bytes = crate::memory::resident_bytes().unwrap_or(0);
        self.resident_peak_bytes = crate::memory::peak_resident_bytes().unwrap_or(0);
        let secs = self.elapsed_seconds.max(1e-9);
        self.events_per_second = self.events_processed as f64 / secs;
        self.decisions_per_second = self.decision_ns.len() as f64 / secs;
        self.decision_p50_us = percentile_us(&self.decision_ns, 50.0);
        self.decision_p99_us = percentile_us(&self.decision_ns, 99.0);
        let mut groups: BTreeMap<String, RuleStats> = BTreeMap::new();
        for s in self.rules.values_mut() {
            s.rule_count = 1;
            let g = groups.entry(s.group.clone()).or_default();
            g.group = s.group.clone();
            g.merge(s);
            s.finish();
        }
        for g in groups.values_mut() {
            g.finish();
        }
        self.rule_groups = groups;
        self.money = Some(money);
        self.invariants_ok = invariants.is_ok();
        self.invariant_error = invariants.err();
    }

    /// The report as plain text for the terminal.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let _ = self.write_text(&mut o);
        o
    }

    fn write_text(&self, o: &mut String) -> std::fmt::Result {
        writeln!(o, "== hongbao report ==")?;
        writeln!(
            o,
            "events: {} processed of {} lines; {} malformed lines rejected",
            self.events_processed, self.lines, self.malformed_lines
        )?;
        for (line, err) in self.malformed.iter().take(10) {
            writeln!(o, "  line {line}: {err}")?;
        }
        if self.malformed_line_numbers.len() > 10 {
            let shown = self.malformed_line_numbers.len().min(MALFORMED_LISTED_MAX);
            let listed: Vec<String> = self.malformed_line_numbers[..shown]
                .iter()
                .map(u64::to_string)
                .collect();
            writeln!(o, "  malformed line numbers: {}", listed.join(", "))?;
            let more = usize::try_from(self.malformed_lines)
                .unwrap_or(usize::MAX)
                .saturating_sub(shown);
            if more > 0 {
                writeln!(
                    o,
                    "  ... and {more} more (the first {} line numbers in the --report JSON)",
                    self.malformed_line_numbers.len()
                )?;
            }
        }
        writeln!(o, "\n-- requests --")?;
        writeln!(
            o,
            "accepted: processed, whatever the rules decided (see verdicts); refused: by the settlement core, nothing moved;\n\
             replay: a retry answered with the stored outcome; conflict: a reused id with a different body"
        )?;
        for (kind, statuses) in &self.requests {
            let parts: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} {n}")).collect();
            writeln!(o, "{kind:<15} {}", parts.join(", "))?;
        }
        writeln!(o, "\n-- verdicts per hook --")?;
        writeln!(
            o,
            "{:<8} {:>9} {:>9} {:>9} {:>9}",
            "hook", "allow", "review", "deny", "freeze"
        )?;
        for (hook, v) in &self.verdicts {
            writeln!(
                o,
                "{hook:<8} {:>9} {:>9} {:>9} {:>9}",
                v.allow, v.review, v.deny, v.freeze
            )?;
        }
        writeln!(
            o,
            "\n-- rules (merchant rules of the same kind grouped as *.<rule>) --"
        )?;
        writeln!(
            o,
            "{:<28} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>8} {:>8} {:>9}",
            "rule",
            "calls",
            "allow",
            "review",
            "deny",
            "freeze",
            "fail",
            "p50 us",
            "p99 us",
            "mean fuel"
        )?;
        for (id, s) in &self.rule_groups {
            let id = if s.rule_count > 1 {
                format!("{id} ({} rules)", s.rule_count)
            } else {
                id.clone()
            };
            let fails: u64 = s.failures.values().sum();
            writeln!(
                o,
                "{id:<28} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>8.1} {:>8.1} {:>9}",
                s.evaluations,
                s.verdicts.allow,
                s.verdicts.review,
                s.verdicts.deny,
                s.verdicts.freeze,
                fails,
                s.p50_us,
                s.p99_us,
                s.fuel_mean
                    .map_or_else(|| "-".to_string(), |f| f.to_string())
            )?;
        }
        let mut hits: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (id, s) in &self.rule_groups {
            // A rule may answer with any reason, `timeout` included: its
            // failures are marked so that they cannot be mistaken.
            for (reason, n) in &s.hits {
                hits.entry(id).or_default().push(format!("{reason} {n}"));
            }
            for (code, n) in &s.failures {
                hits.entry(id)
                    .or_default()
                    .push(format!("failed:{code} {n}"));
            }
        }
        if !hits.is_empty() {
            writeln!(
                o,
                "non-allow answers by reason (failed:<code> for a rule that failed):"
            )?;
            for (id, list) in hits {
                writeln!(o, "  {id}: {}", list.join(", "))?;
            }
        }
        writeln!(o, "\n-- abuse patterns (ground-truth labels) --")?;
        writeln!(
            o,
            "caught: a rule said review/deny/freeze (for duplicates: the retry was replayed or refused as a conflict);\n\
             stopped: caught, or refused by the settlement core (e.g. a payout of a denied claim);\n\
             retried: replayed from the stored outcome, or refused as a conflict"
        )?;
        writeln!(
            o,
            "{:<16} {:>9} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8} {:>9}",
            "label",
            "requests",
            "caught",
            "caught%",
            "stopped%",
            "review",
            "deny",
            "freeze",
            "refused",
            "retried"
        )?;
        for (label, p) in &self.patterns {
            let pct = |n: u64| 100.0 * n as f64 / p.requests.max(1) as f64;
            writeln!(
                o,
                "{label:<16} {:>9} {:>9} {:>7.1}% {:>7.1}% {:>7} {:>7} {:>7} {:>8} {:>9}",
                p.requests,
                p.caught,
                pct(p.caught),
                pct(p.stopped),
                p.verdicts.review,
                p.verdicts.deny,
                p.verdicts.freeze,
                p.refused_by_core,
                p.replays_and_conflicts
            )?;
        }
        if let Some(n) = self.patterns.get("normal") {
            writeln!(
                o,
                "ordinary requests stopped by rules: {} of {} ({:.2}%)",
                self.normal_stopped,
                n.requests,
                100.0 * self.normal_stopped as f64 / n.requests.max(1) as f64
            )?;
        }
        writeln!(o, "\n-- speed --")?;
        writeln!(
            o,
            "{:.2} s; {:.0} events/s; {:.0} rule-evaluated requests/s; per request p50 {:.1} us, p99 {:.1} us",
            self.elapsed_seconds,
            self.events_per_second,
            self.decisions_per_second,
            self.decision_p50_us,
            self.decision_p99_us
        )?;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let refused = if self.load.refused > 0 {
            format!(" ({} refused at load, failing closed)", self.load.refused)
        } else {
            String::new()
        };
        writeln!(
            o,
            "load: {} rules{refused}, {} distinct modules, {} workers, {:.2} s \
             ({} modules from the cache, {} compiled); resident {:.0} MiB after load, {:.0} MiB at the end, peak {:.0} MiB",
            self.load.rules,
            self.load.modules,
            self.load.workers,
            self.load.load_seconds,
            self.load.cache_hits,
            self.load.cache_misses,
            mib(self.load.resident_after_load_bytes),
            mib(self.resident_end_bytes),
            mib(self.resident_peak_bytes)
        )?;
        writeln!(o, "\n-- money (CNY) --")?;
        writeln!(
            o,
            "deposited = merchant available + in escrow + reserved + paid out + held for review + frozen;\n\
             refunded is the part of merchant available that came back from expired packets"
        )?;
        if let Some(m) = &self.money {
            for (name, amount) in [
                ("deposited", m.deposited),
                ("merchant available", m.merchant_available),
                ("in escrow", m.in_escrow),
                ("reserved", m.reserved),
                ("paid out (in wallets)", m.paid_out),
                ("held for review", m.held_for_review),
                ("frozen", m.frozen),
                ("refunded (of available)", m.refunded),
            ] {
                writeln!(o, "{name:<24} {:>16}", amount.to_string())?;
            }
        }
        match &self.invariant_error {
            None => writeln!(o, "zero-sum and money invariants: OK")?,
            Some(e) => writeln!(o, "zero-sum and money invariants: FAILED: {e}")?,
        }
        Ok(())
    }
}

/// `message` cut to about [`MALFORMED_MESSAGE_BYTES_MAX`] bytes at a
/// character boundary, with control characters escaped, so a line's content
/// quoted in a parser's message can neither bloat nor forge the report.
pub fn cut_message(message: String) -> String {
    let mut out = String::with_capacity(message.len().min(MALFORMED_MESSAGE_BYTES_MAX + 32));
    for (i, c) in message.char_indices() {
        if out.len() >= MALFORMED_MESSAGE_BYTES_MAX {
            out.push_str(&format!("… ({} bytes cut)", message.len() - i));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::{FailureReason, Scope};
    use rules_sdk::Amount;

    fn outcome(reason: &str, failure: Option<FailureReason>) -> RuleOutcome {
        RuleOutcome {
            rule_id: "r".into(),
            scope: Scope::Platform,
            digest: String::new(),
            verdict: Verdict::Review,
            reason: reason.into(),
            note: None,
            failure,
            detail: None,
            logs: Vec::new(),
            failed_open: false,
            fuel_used: None,
            duration_ns: 1_000,
        }
    }

    fn claim(report: &mut Report, rules: &[RuleOutcome]) {
        report.request(&RequestView {
            kind: "claim",
            label: None,
            status: RequestStatus::Accepted,
            hook: Some(Hook::Claim),
            verdict: Some(Verdict::Review),
            rules,
            elapsed_ns: 1_000,
        });
    }

    /// A rule chooses its reasons: past [`REASONS_MAX`] distinct ones they
    /// are counted together, and a reason that names a failure (`timeout`)
    /// is never shown as one. (Found in review: 3,000 distinct reasons made
    /// a 37 KB report line, and a rule answering review with reason
    /// `timeout` showed as timeouts that never happened.)
    #[test]
    fn rule_reasons_neither_bloat_nor_pass_for_failures() {
        let mut report = Report::default();
        for i in 0..1_000 {
            claim(&mut report, &[outcome(&format!("r{i}"), None)]);
        }
        claim(&mut report, &[outcome("timeout", None)]);
        claim(
            &mut report,
            &[outcome("timeout", Some(FailureReason::Timeout))],
        );
        let stats = &report.rules["r"];
        assert_eq!(stats.hits.len(), REASONS_MAX + 1);
        assert_eq!(stats.hits[OTHER_REASONS], 1_000 - REASONS_MAX as u64 + 1);
        assert_eq!(stats.failures["timeout"], 1);
        assert_eq!(stats.fuel_mean, None);
        let zero = Amount::ZERO;
        report.finish(
            Duration::from_secs(1),
            MoneySummary {
                deposited: zero,
                in_escrow: zero,
                reserved: zero,
                paid_out: zero,
                held_for_review: zero,
                frozen: zero,
                refunded: zero,
                merchant_available: zero,
                zero_sum_ok: true,
            },
            Ok(()),
        );
        let text = report.to_text();
        let line = text
            .lines()
            .find(|l| l.starts_with("  r: "))
            .unwrap_or_default();
        assert!(line.contains("failed:timeout 1"), "{line}");
        assert!(!line.contains(", timeout"), "{line}");
        assert!(line.contains(&format!("{OTHER_REASONS} 969")), "{line}");
        assert!(line.len() < 1_000, "{} bytes", line.len());
        assert!(
            text.lines()
                .any(|l| l.starts_with('r') && l.trim_end().ends_with(" -")),
            "unknown mean fuel shows as -: {text}"
        );
    }
}
