//! What fuel metering and epoch checks cost the guest's own code: one
//! sample rule on a reused instance under four engine configurations, from
//! none of them to the sandbox's set (fuel, epoch, NaN canonicalisation).
//! Prints the best of five rounds of thread CPU time per call.
//!
//! `cargo run --release -p hongbao-benches --example fuel_cost [-- RULE]`

use anyhow::{Context, Result};
use hongbao_benches::{RuleCase, demo_config, rule_cases, thread_cpu_ns};
use rules_sdk::abi::unpack_output;
use wasmtime::{Config, Engine, Linker, Module, Store};

const CALLS: u64 = 2000;

fn per_call(config: &Config, case: &RuleCase, fuel: bool, epoch: bool) -> Result<f64> {
    let engine = Engine::new(config)?;
    let module = Module::new(&engine, case.wasm)?;
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("hongbao", "log", |_: i32, _: i32, _: i32| {})?;
    let pre = linker.instantiate_pre(&module)?;
    let hook = rules_sdk::abi::hook_export(case.hook);
    let input = case.input.as_slice();
    let len = i32::try_from(input.len())?;
    let mut best = u64::MAX;
    for _ in 0..5 {
        // A fresh instance per round: the guest never frees its buffers.
        let mut store = Store::new(&engine, ());
        if epoch {
            store.set_epoch_deadline(u64::MAX / 2);
        }
        let instance = pre.instantiate(&mut store)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .context("no memory")?;
        let alloc = instance.get_typed_func::<i32, i32>(&mut store, "hongbao_alloc")?;
        let run = instance.get_typed_func::<(i32, i32), i64>(&mut store, hook)?;
        let started = thread_cpu_ns();
        for _ in 0..CALLS {
            if fuel {
                store.set_fuel(u64::MAX / 2)?;
            }
            let ptr = alloc.call(&mut store, len)?;
            memory.write(&mut store, usize::try_from(ptr)?, input)?;
            let (out_ptr, out_len) = unpack_output(run.call(&mut store, (ptr, len))?);
            let mut out = vec![0; out_len as usize];
            memory.read(&store, out_ptr as usize, &mut out)?;
            std::hint::black_box(out);
        }
        best = best.min((thread_cpu_ns() - started) / CALLS);
    }
    Ok(best as f64 / 1000.0)
}

fn main() -> Result<()> {
    let rule = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "daily-limits".into());
    let config = demo_config()?;
    let case = rule_cases(&config)?
        .into_iter()
        .find(|c| c.crate_name == rule)
        .with_context(|| format!("no sample rule {rule}"))?;
    let mut best = u64::MAX;
    for _ in 0..5 {
        let started = thread_cpu_ns();
        for _ in 0..CALLS {
            std::hint::black_box((case.native)(&case.input));
        }
        best = best.min((thread_cpu_ns() - started) / CALLS);
    }
    println!("{rule}, reused instance, µs of CPU per call:");
    println!("{:<36} {:>7.2}", "native (no Wasm)", best as f64 / 1000.0);
    let mut c = Config::new();
    println!(
        "{:<36} {:>7.2}",
        "no fuel, no epoch",
        per_call(&c, &case, false, false)?
    );
    c.consume_fuel(true);
    println!("{:<36} {:>7.2}", "fuel", per_call(&c, &case, true, false)?);
    c.epoch_interruption(true);
    println!(
        "{:<36} {:>7.2}",
        "fuel + epoch",
        per_call(&c, &case, true, true)?
    );
    c.cranelift_nan_canonicalization(true);
    println!(
        "{:<36} {:>7.2}",
        "fuel + epoch + NaN canonicalisation",
        per_call(&c, &case, true, true)?
    );
    Ok(())
}
