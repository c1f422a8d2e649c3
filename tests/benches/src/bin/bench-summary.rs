//! Prints the medians of the last bench run as the Markdown tables of
//! `BENCHMARKS.md`, with the ratios the targets of issue 5 are stated in.
//!
//! Run after the benches: `cargo run --release -p hongbao-benches --bin bench-summary`
//! (reads `target/criterion/*/*/new/estimates.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Median of one bench, in nanoseconds.
fn median(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("new/estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn criterion_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
            PathBuf::from,
        )
        .join("criterion")
}

fn us(ns: Option<f64>) -> String {
    ns.map_or_else(|| "—".into(), |v| format!("{:.2}", v / 1000.0))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
        _ => "—".into(),
    }
}

fn main() -> Result<()> {
    let root = criterion_dir();
    let mut groups: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for group in std::fs::read_dir(&root).with_context(|| format!("reading {}", root.display()))? {
        let group = group?.path();
        let Some(gname) = group.file_name().and_then(|n| n.to_str()).map(String::from) else {
            continue;
        };
        if !group.is_dir() || gname == "report" {
            continue;
        }
        for bench in std::fs::read_dir(&group)? {
            let bench = bench?.path();
            let Some(bname) = bench.file_name().and_then(|n| n.to_str()).map(String::from) else {
                continue;
            };
            if let Some(m) = median(&bench) {
                groups.entry(gname.clone()).or_default().insert(bname, m);
            }
        }
    }
    let get = |g: &str, b: &str| groups.get(g).and_then(|m| m.get(b)).copied();

    println!("### One rule call (median, µs)\n");
    println!(
        "| rule | native | reused | isolated | naive | regorus | isolated ÷ reused | isolated ÷ native | naive ÷ isolated |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, benches) in &groups {
        if !benches.contains_key("isolated") || !benches.contains_key("reused") {
            continue;
        }
        let g = |b: &str| get(name, b);
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} |",
            us(g("native")),
            us(g("reused")),
            us(g("isolated")),
            us(g("naive")),
            us(g("regorus")),
            ratio(g("isolated"), g("reused")),
            ratio(g("isolated"), g("native")),
            ratio(g("naive"), g("isolated")),
        );
    }
    if let Some(r) = get("daily-limits", "regorus") {
        println!(
            "\nregorus ÷ isolated (daily-limits): {}",
            ratio(Some(r), get("daily-limits", "isolated"))
        );
    }

    println!("\n### Whole decisions (median, µs)\n");
    println!(
        "| decision | native | isolated (workers: one per core) | isolated, one worker | isolated ÷ native | one worker ÷ native |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for name in ["claim-decision", "payout-decision"] {
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            us(get(name, "native")),
            us(get(name, "isolated")),
            us(get(name, "isolated-1-worker")),
            ratio(get(name, "isolated"), get(name, "native")),
            ratio(get(name, "isolated-1-worker"), get(name, "native"))
        );
    }

    println!("\n### Replay of 10,000 sample events\n");
    println!("| rules | median per run (ms) | events/s |");
    println!("|---|---:|---:|");
    for b in ["isolated", "native"] {
        if let Some(ns) = get("replay-10k", b) {
            println!("| {b} | {:.1} | {:.0} |", ns / 1e6, 10_000.0 / (ns / 1e9));
        }
    }

    let variants: Vec<&String> = groups.keys().filter(|g| g.contains('_')).collect();
    if !variants.is_empty() {
        let cols = [
            "reused",
            "stock",
            "keep128k",
            "keep1m",
            "pagemap-keep128k",
            "pagemap-keep1m",
            "pagemap-keep1m-nocow",
        ];
        println!("\n### Knobs: isolated call by pool tuning and guest build (median, µs)\n");
        println!("| guest build | {} |", cols.join(" | "));
        println!("|---|{}", "---:|".repeat(cols.len()));
        for g in variants {
            let row: Vec<String> = cols.iter().map(|c| us(get(g, c))).collect();
            println!("| {g} | {} |", row.join(" | "));
        }
    }
    Ok(())
}
