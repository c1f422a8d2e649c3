//! Scale: 10,000 merchants with rules of their own, loaded cold, loaded
//! from the on-disk module cache, and then a long run of claim decisions
//! with resident memory sampled as it goes (issue 5, item 3).
//!
//! ```sh
//! cargo run --release -p hongbao-benches --example scale -- 10000 1 1000000
//! cargo run --release -p hongbao-benches --example scale -- 10000 100 0
//! ```
//!
//! Arguments: merchants (each with the demo's three merchant rules: 30,005
//! rules for 10,000), distinct modules among the merchants' `campaign-cap`
//! rules (1: all share the bundled module's digest; N: N variants that
//! differ only by a custom section, so N digests to compile), and claim
//! decisions to run after the load.
//!
//! Each load runs in a child process of its own, so that resident memory
//! and time are that load's alone: without a cache, with an empty cache
//! (which it fills), and with that cache filled.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hongbao::config::Config;
use hongbao::memory::resident_bytes;
use hongbao::risk::{Evaluator, RiskEngine};
use hongbao_benches::{claim_request, process_cpu_ns};
use rules_sdk::testing::FIXTURE_NOW;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `wasm` with a custom section named `name` appended: the same code under
/// a different digest.
fn with_custom_section(wasm: &[u8], name: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0);
    leb(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}

/// The demo config for `merchants` merchants, with the merchants'
/// `campaign-cap` rules spread over `distinct` module files in `dir`.
fn config_text(merchants: usize, distinct: usize, dir: &Path) -> Result<String> {
    let text = hongbao::cli::demo_config_text(merchants);
    if distinct <= 1 {
        return Ok(text);
    }
    let base = hongbao::bundled::module("campaign-cap").context("campaign-cap is bundled")?;
    let mut paths = Vec::new();
    for k in 0..distinct {
        let path = dir.join(format!("campaign-cap-{k}.wasm"));
        std::fs::write(
            &path,
            with_custom_section(base, &format!("hongbao-variant-{k}")),
        )?;
        paths.push(path);
    }
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split("module = \"bundled:campaign-cap\"").enumerate() {
        if i > 0 {
            out.push_str(&format!(
                "module = {:?}",
                paths[(i - 1) % distinct].display().to_string()
            ));
        }
        out.push_str(part);
    }
    Ok(out)
}

/// One load in this process: prints its figures as one line, then runs
/// `evaluations` claim decisions with resident memory sampled ten times.
fn child(merchants: usize, distinct: usize, cache: Option<&str>, evaluations: u64) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("hongbao-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let text = config_text(merchants, distinct, &dir)?;
    let mut config = Config::parse(&text, &dir)?;
    config.sandbox.module_cache_dir = cache.map(PathBuf::from);
    let before = resident_bytes().unwrap_or(0);
    let cpu = process_cpu_ns();
    let wall = Instant::now();
    let engine = RiskEngine::load(&config, &hongbao::bundled::module)?;
    let load_wall = wall.elapsed().as_secs_f64();
    let load_cpu = (process_cpu_ns() - cpu) as f64 / 1e9;
    let after = resident_bytes().unwrap_or(0);
    let hits = engine.sandbox().cache().map_or(0, |c| c.stats().hits);
    println!(
        "load: {} rules, {distinct} distinct campaign-cap modules, cache {}: {load_wall:.2} s wall, \
         {load_cpu:.2} s CPU, {hits} modules from the cache; resident {:.0} MiB before, {:.0} MiB \
         after ({:.0} MiB for the rules)",
        engine.rules().len(),
        cache.map_or("off", |_| "on"),
        mib(before),
        mib(after),
        mib(after.saturating_sub(before)),
    );
    std::fs::remove_dir_all(&dir)?;
    if evaluations == 0 {
        return Ok(());
    }
    let (mut claim, facts) = claim_request();
    let step = (evaluations / 10).max(1);
    let engine = &engine;
    let mut samples = Vec::new();
    let wall = Instant::now();
    let mut failures = 0u64;
    engine.run_on_worker(Box::new(|| {
        for n in 0..evaluations {
            // Every merchant's own rules in turn, and a different user and
            // claim each time, so no two inputs are the same.
            claim.merchant_id = format!("m{}", n as usize % merchants + 1);
            claim.user_id = format!("u-{n}");
            claim.claim_id = format!("c-{n}");
            let e = engine.claim(FIXTURE_NOW, &claim, &facts);
            failures += e.failures().count() as u64;
            if (n + 1) % step == 0 {
                samples.push((n + 1, resident_bytes().unwrap_or(0)));
            }
        }
    }));
    let secs = wall.elapsed().as_secs_f64();
    let first = samples.first().map_or(0, |s| s.1);
    for (n, rss) in &samples {
        println!(
            "  after {n:>9} decisions: resident {:.1} MiB ({:+.1}% of the first sample)",
            mib(*rss),
            (*rss as f64 / first as f64 - 1.0) * 100.0
        );
    }
    println!(
        "evaluations: {evaluations} claim decisions ({} rule calls) in {secs:.1} s, {failures} rule failures",
        evaluations * 6
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let number = |i: usize, default: u64| -> Result<u64> {
        args.get(i)
            .map(|a| {
                a.parse()
                    .with_context(|| format!("argument {i} is not a number: {a}"))
            })
            .unwrap_or(Ok(default))
    };
    if args.get(1).map(String::as_str) == Some("--child") {
        let cache = args.get(4).filter(|c| *c != "-").map(String::as_str);
        return child(
            number(2, 0)? as usize,
            number(3, 1)? as usize,
            cache,
            number(5, 0)?,
        );
    }
    let merchants = number(1, 10_000)?;
    let distinct = number(2, 1)?;
    let evaluations = number(3, 1_000_000)?;
    let cache = std::env::temp_dir().join(format!("hongbao-scale-cache-{}", std::process::id()));
    let exe = std::env::current_exe()?;
    let runs = [
        ("-".to_string(), evaluations),
        (cache.display().to_string(), 0),
        (cache.display().to_string(), 0),
    ];
    for (cache_arg, evals) in runs {
        let status = Command::new(&exe)
            .args([
                "--child",
                &merchants.to_string(),
                &distinct.to_string(),
                &cache_arg,
                &evals.to_string(),
            ])
            .status()?;
        if !status.success() {
            bail!("a scale run failed: {status}");
        }
    }
    std::fs::remove_dir_all(&cache).ok();
    Ok(())
}
