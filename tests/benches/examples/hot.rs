//! A tight loop of isolated calls of one sample rule, for a profiler:
//!
//! ```sh
//! cargo build --release -p hongbao-benches --example hot
//! perf record -g target/release/examples/hot daily-limits 200000
//! ```
//!
//! Prints the thread CPU time per call.

use std::sync::Arc;

use anyhow::{Context, Result};
use hongbao::risk::sandbox::Sandbox;
use hongbao_benches::{Isolated, demo_config, rule_cases, thread_cpu_ns};

fn main() -> Result<()> {
    let rule = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "daily-limits".into());
    let calls: u64 = match std::env::args().nth(2) {
        Some(n) => n.parse().context("the call count is not a number")?,
        None => 200_000,
    };
    let config = demo_config()?;
    let case = rule_cases(&config)?
        .into_iter()
        .find(|c| c.crate_name == rule)
        .with_context(|| format!("no sample rule {rule}"))?;
    let sandbox = Arc::new(Sandbox::new(&config.sandbox)?);
    let isolated = Isolated::new(sandbox, &case)?;
    let started = thread_cpu_ns();
    for _ in 0..calls {
        std::hint::black_box(isolated.call(&case.input)?);
    }
    let per_call = (thread_cpu_ns() - started) as f64 / calls as f64;
    println!(
        "{rule}: {:.3} µs of CPU per isolated call",
        per_call / 1000.0
    );
    Ok(())
}
