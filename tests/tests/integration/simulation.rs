//! The seeded money simulation (`hongbao::settlement::simulation`) against
//! real sandboxed rules instead of the in-process chaos rules: bundled
//! sample rules with tight settings, and hand-written WAT rules that trap
//! (on a missing device, on an amount of 0.13) under different failure
//! verdicts, one of them failing open. Every invariant is checked after
//! every step, concurrent claims and payouts included, and the drain leaves
//! nothing stuck.

use std::path::Path;

use anyhow::Result;
use hongbao::config::Config;
use hongbao::risk::RiskEngine;
use hongbao::settlement::simulation::{SimConfig, simulate_with};
use hongbao_tests::module_bytes;

/// Platform rules for claims and payouts, and per simulated merchant
/// (`m0`..`m2`) rules that fail with review, deny and allow (open).
const RULES: &str = r#"
[limits]
# Fuel alone decides: the wall-clock backstop is widened so that a busy
# machine cannot turn a run into another run.
timeout_ms = 10000

[[rules]]
id = "platform.daily-limits"
module = "bundled:daily-limits"
scope = "platform"
hooks = ["claim"]
priority = 20
[rules.settings]
max_claims = 30
max_amount = "300.00"

[[rules]]
id = "platform.device-farm"
module = "bundled:device-farm"
scope = "platform"
hooks = ["claim"]
priority = 30
[rules.settings]
device_users_review = 4
device_users_deny = 6
ip_claims_review = 40
ip_claims_deny = 80
user_hourly_claims_max = 20

[[rules]]
id = "platform.mule-cashout"
module = "bundled:mule-cashout"
scope = "platform"
hooks = ["payout"]
priority = 50
[rules.settings]
fast_seconds = 300
review_packets = 2
freeze_packets = 4
hourly_payouts_freeze = 6

[[rules]]
id = "m0.trap-on-0.13"
module = "bundled:trap_on_amount"
scope = "merchant"
merchant = "m0"
hooks = ["claim"]
on_failure = "freeze"

[[rules]]
id = "m0.payout-budget"
module = "bundled:payout-budget"
scope = "merchant"
merchant = "m0"
hooks = ["payout"]
[rules.settings]
daily_budget = "30.00"

[[rules]]
id = "m1.device-blocklist"
module = "bundled:device_blocklist"
scope = "merchant"
merchant = "m1"
hooks = ["claim"]
on_failure = "deny"

[[rules]]
id = "m2.device-blocklist"
module = "bundled:device_blocklist"
scope = "merchant"
merchant = "m2"
hooks = ["claim"]
on_failure = "allow"
"#;

fn engine() -> Result<RiskEngine> {
    let config = Config::parse(RULES, Path::new("."))?;
    Ok(RiskEngine::load(&config, &module_bytes)?)
}

/// 400 steps of seed 11 through the Wasm rules (debug-build Wasm calls are
/// slow; the long runs use the in-process rules): every invariant after
/// every step, nothing stuck after the drain, and the rules gave allow,
/// review and deny at claim, allow and review at payout, failures under
/// their failure verdicts, and a failure that failed open.
#[test]
fn seeded_simulation_with_wasm_rules_keeps_every_invariant() -> Result<()> {
    let engine = engine()?;
    let seed = 11;
    let report = match simulate_with(&SimConfig::new(seed, 400), &engine) {
        Ok(report) => report,
        Err(failure) => anyhow::bail!("{failure}"),
    };
    let s = &report.stats;
    assert!(report.summary.zero_sum_ok, "seed {seed}: {report:?}");
    let [allow, review, deny, _] = s.claim_verdicts;
    assert!(
        allow > 0 && review > 0 && deny > 0,
        "seed {seed} claim verdicts: {s:?}"
    );
    let [paid, held, _, _] = s.payout_verdicts;
    assert!(paid > 0 && held > 0, "seed {seed} payout verdicts: {s:?}");
    assert!(
        s.rule_failures > 0 && s.failed_open > 0,
        "seed {seed} failures: {s:?}"
    );
    assert!(s.waits > 0 && s.in_flight_peak >= 2, "seed {seed}: {s:?}");
    assert!(s.paid > 0, "seed {seed}: {s:?}");
    Ok(())
}
