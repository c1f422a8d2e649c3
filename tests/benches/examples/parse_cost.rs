//! Where a native call's time goes: parsing the JSON input alone, against
//! the whole call (parse, rule, encode the answer), and the whole call on
//! the compact input of ABI version 2.
//!
//! `cargo run --release -p hongbao-benches --example parse_cost`
use std::time::Instant;

use anyhow::{Context, Result};
use hongbao_benches::{demo_config, rule_cases};
use rules_sdk::{ClaimInput, PayoutInput};

fn main() -> Result<()> {
    let config = demo_config()?;
    let n = 200_000;
    for case in rule_cases(&config)? {
        let t = Instant::now();
        for _ in 0..n {
            if case.hook == rules_sdk::Hook::Claim {
                let p: ClaimInput = serde_json::from_slice(&case.json_input).context("parse")?;
                std::hint::black_box(p);
            } else {
                let p: PayoutInput = serde_json::from_slice(&case.json_input).context("parse")?;
                std::hint::black_box(p);
            }
        }
        let parse = t.elapsed().as_nanos() as f64 / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box((case.native_json)(&case.json_input));
        }
        let whole_json = t.elapsed().as_nanos() as f64 / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box((case.native)(&case.input));
        }
        let whole = t.elapsed().as_nanos() as f64 / n as f64;
        println!(
            "{:14} JSON input {:5} B: parse alone {:6.0} ns, whole call {:6.0} ns; \
             compact input {:4} B: whole call {:6.0} ns",
            case.crate_name,
            case.json_input.len(),
            parse,
            whole_json,
            case.input.len(),
            whole
        );
    }
    Ok(())
}
