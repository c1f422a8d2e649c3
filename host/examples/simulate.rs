//! The long run of the money simulation (`MONEY.md`): many seeds, every
//! invariant checked after every step, a drain that leaves nothing stuck.
//!
//! ```sh
//! HONGBAO_SIM_SEED=1..101 HONGBAO_SIM_STEPS=10000 \
//!     cargo run --release -p hongbao --example simulate
//! ```
//!
//! Prints one line per seed and a total; on the first failure prints the
//! seed, step, event and the command that replays it, and exits with 1.

use std::process::ExitCode;
use std::time::Instant;

use hongbao::settlement::simulation::{SimConfig, seeds_from_env, simulate, steps_from_env};

fn main() -> ExitCode {
    let (seeds, steps) = match (seeds_from_env(&[1]), steps_from_env(10_000)) {
        (Ok(seeds), Ok(steps)) => (seeds, steps),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut total_steps = 0usize;
    let mut requests = 0usize;
    for &seed in &seeds {
        let t = Instant::now();
        match simulate(&SimConfig::new(seed, steps)) {
            Ok(report) => {
                let s = &report.stats;
                total_steps += report.steps;
                requests += s.requests;
                println!(
                    "seed {seed}: {} steps, {} requests ({} accepted, {} refused, {} replays, {} conflicts, {} waits, peak {} in flight), claim verdicts {:?}, payout verdicts {:?}, {} rule failures, {} paid, {} expiries, deposited {}, {:.2} s; refusals {:?}",
                    report.steps,
                    s.requests,
                    s.accepted,
                    s.refused,
                    s.replays,
                    s.conflicts,
                    s.waits,
                    s.in_flight_peak,
                    s.claim_verdicts,
                    s.payout_verdicts,
                    s.rule_failures,
                    s.paid,
                    s.expiries,
                    report.summary.deposited,
                    t.elapsed().as_secs_f64(),
                    s.refusals
                );
            }
            Err(failure) => {
                eprintln!("{failure}");
                return ExitCode::from(1);
            }
        }
    }
    println!(
        "ok: {} seeds, {total_steps} steps, {requests} requests, every invariant after every step, nothing stuck; {:.1} s",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
