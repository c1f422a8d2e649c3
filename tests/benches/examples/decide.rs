//! A loop of whole claim decisions through the engine, for a profiler and
//! for comparing worker settings: prints wall and process CPU time per
//! decision.
//!
//! ```sh
//! cargo build --release -p hongbao-benches --example decide
//! target/release/examples/decide 2 100000
//! ```

use std::time::Instant;

use anyhow::{Context, Result};
use hongbao::risk::{Evaluator, RiskEngine};
use hongbao_benches::{claim_request, demo_config, process_cpu_ns};
use rules_sdk::testing::FIXTURE_NOW;

fn main() -> Result<()> {
    let workers: u32 = match std::env::args().nth(1) {
        Some(n) => n.parse().context("the worker count is not a number")?,
        None => 2,
    };
    let decisions: u64 = match std::env::args().nth(2) {
        Some(n) => n.parse().context("the decision count is not a number")?,
        None => 100_000,
    };
    let mut config = demo_config()?;
    config.sandbox.workers = workers;
    let engine = RiskEngine::load(&config, &hongbao::bundled::module)?;
    let (claim, facts) = claim_request();
    for _ in 0..1000 {
        std::hint::black_box(engine.claim(FIXTURE_NOW, &claim, &facts));
    }
    let inside = std::env::var_os("HB_INSIDE").is_some();
    let cpu = process_cpu_ns();
    let wall = Instant::now();
    let run = || {
        for _ in 0..decisions {
            std::hint::black_box(engine.claim(FIXTURE_NOW, &claim, &facts));
        }
    };
    if inside {
        engine.sandbox().workers().run(run);
    } else {
        run();
    }
    let wall_ns = wall.elapsed().as_nanos() as f64 / decisions as f64;
    let cpu_ns = (process_cpu_ns() - cpu) as f64 / decisions as f64;
    println!(
        "{workers} workers: {:.2} µs wall, {:.2} µs of process CPU per claim decision",
        wall_ns / 1000.0,
        cpu_ns / 1000.0
    );
    Ok(())
}
