//! The `hongbao` subcommands, as library functions so that tests can call
//! them exactly as the binary does.

mod check;
mod runner;

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

pub use check::{CheckArgs, check};
pub use runner::{RunSinks, TRAFFIC_LINE_BYTES_MAX, replay, settlement_config};

use crate::config::Config;
use crate::report::{LoadSummary, Report};
use crate::risk::RiskEngine;
use crate::traffic::{self, TrafficConfig};

/// How a subcommand ended, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Everything worked.
    Ok,
    /// The run finished but a money invariant failed.
    InvariantBroken,
    /// `check` refused at least one module.
    Refused,
}

/// The shape of generated traffic, shared by `demo` and `gen-traffic`.
#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// Seed; the same seed gives byte-identical traffic.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of traffic lines to generate (malformed ones included).
    #[arg(long, default_value_t = 100_000)]
    pub events: usize,
    /// Number of merchants, m1..mN (at least 1); `demo` gives each of them
    /// its own rules in the demo config.
    #[arg(long, default_value_t = 50, value_parser = merchant_count)]
    pub merchants: usize,
}

/// `--merchants`: a count of at least 1 (traffic needs a merchant to fund
/// its packets, and a config of none is not the demo's).
fn merchant_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Where a run writes its results, shared by `demo` and `run`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write one decision record per line to this file.
    #[arg(long, value_name = "FILE")]
    pub decisions: Option<PathBuf>,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress line (and, for `run`, no text report on standard output).
    #[arg(long)]
    pub quiet: bool,
}

/// Engine settings that override the config's `[sandbox]` for one run.
#[derive(Clone, Debug, Default, Args)]
pub struct EngineArgs {
    /// Threads that run rule calls (default: the config's, else one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Keep compiled modules in this directory and reuse them on the next
    /// start (it must be writable only by the operator).
    #[arg(long, value_name = "DIR")]
    pub module_cache: Option<PathBuf>,
}

impl EngineArgs {
    /// Applies the overrides to `config` and checks the result.
    ///
    /// # Errors
    ///
    /// Names the setting that is out of range.
    pub fn apply(&self, config: &mut Config) -> Result<()> {
        if let Some(w) = self.workers {
            config.sandbox.workers = w;
        }
        if let Some(dir) = &self.module_cache {
            config.sandbox.module_cache_dir = Some(dir.clone());
        }
        config
            .sandbox
            .validate()
            .map_err(|e| anyhow::anyhow!("--workers: {e}"))
    }
}

/// Arguments of `hongbao demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The generated traffic.
    #[command(flatten)]
    pub traffic: TrafficArgs,
    /// Write config.toml, traffic.jsonl, decisions.jsonl and report.json here.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Engine overrides.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Outputs.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `hongbao gen-traffic`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// The generated traffic.
    #[command(flatten)]
    pub traffic: TrafficArgs,
    /// Number of ordinary users at the start.
    #[arg(long, default_value_t = 20_000)]
    pub users: usize,
    /// Malformed lines per thousand well-formed ones (at most 1000: one in two).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub malformed_per_mille: u32,
    /// Output file; `-` for standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
}

/// Arguments of `hongbao run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The traffic file (JSONL); `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub traffic: PathBuf,
    /// The config (TOML). Without it, the demo config with the bundled
    /// sample rules for merchants m1..m50.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Engine overrides.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Outputs.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `hongbao demo-config`.
#[derive(Debug, Args)]
pub struct DemoConfigArgs {
    /// Number of merchants, m1..mN (at least 1), each with its own rules.
    #[arg(long, default_value_t = 50, value_parser = merchant_count)]
    pub merchants: usize,
}

/// The demo config text for `merchants` merchants, matching the names the
/// traffic generator uses.
pub fn demo_config_text(merchants: usize) -> String {
    crate::demo::demo_config(
        merchants,
        (
            traffic::BLOCKLISTED_USERS,
            traffic::BLOCKLISTED_DEVICES,
            traffic::BLOCKLISTED_IPS,
        ),
        traffic::staff_users,
    )
}

/// Writes the report as JSON to a file opened before the run, so that an
/// unwritable path fails at once rather than after a long run.
fn write_report_json(out: Option<(PathBuf, BufWriter<File>)>, report: &Report) -> Result<()> {
    let Some((path, mut w)) = out else {
        return Ok(());
    };
    let written: std::io::Result<()> = serde_json::to_writer_pretty(&mut w, report)
        .map_err(std::io::Error::other)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush());
    written.with_context(|| format!("writing {}", path.display()))
}

/// The run's two outputs, opened before the run.
type Outputs = (Option<BufWriter<File>>, Option<(PathBuf, BufWriter<File>)>);

/// Opens the decisions and report outputs without truncating either, and
/// truncates them only once both are open: a report path that cannot be
/// created must not cost the decisions file of an earlier run.
fn open_outputs(decisions: Option<&Path>, report: Option<&Path>) -> Result<Outputs> {
    let open = |path: &Path| -> Result<File> {
        if path.as_os_str() == "-" {
            anyhow::bail!(
                "an output named `-` would be a file called `-`: name a file (or /dev/stdout, with --quiet)"
            );
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))
    };
    let decisions = decisions.map(|p| open(p).map(|f| (p, f))).transpose()?;
    let report = report.map(|p| open(p).map(|f| (p, f))).transpose()?;
    for (path, file) in decisions.iter().chain(report.iter()) {
        // Only a regular file is emptied (a terminal or /dev/stdout is not).
        if file.metadata().is_ok_and(|m| m.is_file()) {
            file.set_len(0)
                .with_context(|| format!("cannot truncate {}", path.display()))?;
        }
    }
    Ok((
        decisions.map(|(_, f)| BufWriter::new(f)),
        report.map(|(p, f)| (p.to_path_buf(), BufWriter::new(f))),
    ))
}

/// Whether two paths name the same file: the same device and inode when
/// both exist (so a hard link or another spelling of the path is caught),
/// else the same canonical path.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Refuses outputs that are one of the run's inputs (the traffic or the
/// config file), or each other: opening an output truncates it, and the
/// input would be lost.
fn refuse_overwriting_inputs(inputs: &[(&str, &Path)], output: &OutputArgs) -> Result<()> {
    let outs: Vec<(&str, &Path)> = [
        ("--decisions", output.decisions.as_deref()),
        ("--report", output.report.as_deref()),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.map(|p| (n, p)))
    .collect();
    for (name, path) in &outs {
        for (what, input) in inputs {
            if same_file(input, path) {
                anyhow::bail!(
                    "{name} {} is {what}: writing it would destroy the input",
                    path.display()
                );
            }
        }
    }
    if let [(a, pa), (b, pb)] = outs.as_slice()
        && same_file(pa, pb)
    {
        anyhow::bail!("{a} and {b} name the same file {}", pa.display());
    }
    Ok(())
}

fn load_engine(config: &Config) -> Result<(RiskEngine, LoadSummary)> {
    let started = std::time::Instant::now();
    if config.rules.is_empty() {
        eprintln!("hongbao: warning: the config has no rules: every claim and payout is allowed");
    }
    let engine = RiskEngine::load(config, &crate::bundled::module).context("loading rules")?;
    for r in engine.refusals() {
        for p in &r.problems {
            eprintln!(
                "hongbao: warning: rule {} refused, fails closed (every call gets its failure verdict, reason refused): {}",
                r.rule,
                printable(p)
            );
        }
    }
    let digests: std::collections::BTreeSet<&str> =
        engine.rules().iter().map(|r| r.digest()).collect();
    let cache = engine
        .sandbox()
        .cache()
        .map(crate::risk::cache::ModuleCache::stats)
        .unwrap_or_default();
    let summary = LoadSummary {
        rules: engine.rules().len() as u64,
        refused: engine.refusals().len() as u64,
        modules: digests.len() as u64,
        workers: engine.sandbox().workers().count() as u64,
        load_seconds: started.elapsed().as_secs_f64(),
        cache_hits: cache.hits,
        cache_misses: if engine.sandbox().cache().is_some() {
            cache.misses
        } else {
            digests.len() as u64
        },
        resident_after_load_bytes: crate::memory::resident_bytes().unwrap_or(0),
    };
    Ok((engine, summary))
}

/// Lets the process's exit free a finished run's settlement core instead
/// of freeing its millions of small allocations one by one, which took
/// about as long as settling 100,000 events without rules. Nothing reads it
/// afterwards: the report has its totals and its invariant check.
fn discard(settlement: crate::settlement::Settlement) {
    std::mem::forget(settlement);
}

/// Writes `text` to stdout. A reader that went away (`hongbao run | head`)
/// is not an error: the output is simply not wanted any more.
///
/// # Errors
///
/// Any other write error.
pub use crate::text::printable;

pub(crate) fn out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}

fn finish(report: &Report, print: bool) -> Result<Status> {
    if print {
        out(&report.to_text())?;
    }
    Ok(if report.invariants_ok {
        Status::Ok
    } else {
        Status::InvariantBroken
    })
}

/// `hongbao demo`: sample traffic through the bundled rules, report printed.
///
/// # Errors
///
/// Returns an error when an output file cannot be written.
pub fn demo(args: &DemoArgs) -> Result<Status> {
    let tcfg = TrafficConfig {
        seed: args.traffic.seed,
        events: args.traffic.events,
        merchants: args.traffic.merchants,
        ..TrafficConfig::default()
    };
    let mut traffic_bytes = Vec::new();
    traffic::generate(&tcfg, &mut traffic_bytes).context("generating traffic")?;
    let config_text = demo_config_text(args.traffic.merchants);
    let mut config = Config::parse(&config_text, Path::new(".")).context("the demo config")?;
    args.engine.apply(&mut config)?;
    let (engine, load) = load_engine(&config)?;

    let (decisions_path, report_path) = match &args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::write(dir.join("config.toml"), &config_text)?;
            std::fs::write(dir.join("traffic.jsonl"), &traffic_bytes)?;
            (
                args.output
                    .decisions
                    .clone()
                    .or(Some(dir.join("decisions.jsonl"))),
                args.output.report.clone().or(Some(dir.join("report.json"))),
            )
        }
        None => (args.output.decisions.clone(), args.output.report.clone()),
    };
    let (mut decisions, report_out) =
        open_outputs(decisions_path.as_deref(), report_path.as_deref())?;
    let (mut report, settlement) = replay(
        &config,
        &engine,
        std::io::Cursor::new(traffic_bytes),
        RunSinks {
            decisions: decisions.as_mut().map(|w| w as &mut dyn Write),
            progress: !args.output.quiet,
        },
    )?;
    discard(settlement);
    if let Some(mut w) = decisions {
        w.flush().context("writing decisions")?;
    }
    report.load = load;
    write_report_json(report_out, &report)?;
    finish(&report, true)
}

/// `hongbao gen-traffic`.
///
/// # Errors
///
/// Returns an error for an impossible traffic config or an unwritable file.
pub fn gen_traffic(args: &GenArgs) -> Result<Status> {
    let tcfg = TrafficConfig {
        seed: args.traffic.seed,
        events: args.traffic.events,
        merchants: args.traffic.merchants,
        users: args.users,
        malformed_per_mille: args.malformed_per_mille,
        ..TrafficConfig::default()
    };
    let stats = if args.out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        traffic::generate(&tcfg, &mut lock).context("generating traffic")?
    } else {
        let f = File::create(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        let mut w = BufWriter::new(f);
        let stats = traffic::generate(&tcfg, &mut w).context("generating traffic")?;
        w.flush()?;
        stats
    };
    eprintln!(
        "wrote {} lines ({} malformed) with seed {}",
        stats.lines, stats.malformed, args.traffic.seed
    );
    Ok(Status::Ok)
}

/// `hongbao run`.
///
/// # Errors
///
/// Returns an error for an unreadable or invalid config or traffic file,
/// a refused rule, or an unwritable output.
pub fn run(args: &RunArgs) -> Result<Status> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::parse(&demo_config_text(50), Path::new("."))?,
    };
    args.engine.apply(&mut config)?;
    // The input first: a missing traffic file must not cost the outputs
    // of an earlier run (creating them truncates them).
    let traffic: Box<dyn std::io::BufRead + Send> = if args.traffic.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = File::open(&args.traffic)
            .with_context(|| format!("cannot open traffic {}", args.traffic.display()))?;
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            anyhow::bail!(
                "traffic {} is a directory, not a file",
                args.traffic.display()
            );
        }
        Box::new(BufReader::new(f))
    };
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    if args.traffic.as_os_str() != "-" {
        inputs.push(("the traffic file", &args.traffic));
    }
    if let Some(config) = &args.config {
        inputs.push(("the config file", config));
    }
    refuse_overwriting_inputs(&inputs, &args.output)?;
    let (engine, load) = load_engine(&config)?;
    let (mut decisions, report_out) = open_outputs(
        args.output.decisions.as_deref(),
        args.output.report.as_deref(),
    )?;
    let sinks = RunSinks {
        decisions: decisions.as_mut().map(|w| w as &mut dyn Write),
        progress: !args.output.quiet,
    };
    let (mut report, settlement) = replay(&config, &engine, traffic, sinks)?;
    discard(settlement);
    if let Some(mut w) = decisions {
        w.flush().context("writing decisions")?;
    }
    report.load = load;
    write_report_json(report_out, &report)?;
    finish(&report, !args.output.quiet)
}

/// `hongbao demo-config`: prints the demo config.
///
/// # Errors
///
/// Never fails; the signature matches the other subcommands.
pub fn demo_config(args: &DemoConfigArgs) -> Result<Status> {
    out(&demo_config_text(args.merchants))?;
    Ok(Status::Ok)
}
