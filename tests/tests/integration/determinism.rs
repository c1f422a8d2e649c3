//! Determinism: the same module and input give the same verdict, reason and
//! fuel, run after run, on other threads and in another engine; the fuel of
//! each sample rule is pinned; NaNs come out canonical.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use hongbao::config::{Config, ScopeKind};
use hongbao::risk::{Evaluation, Evaluator, FailureReason, RiskEngine};
use hongbao_tests::{NOW, claim, engine};
use rules_sdk::testing::{claim_fixture, payout_fixture};
use rules_sdk::{Hook, Verdict};

/// What must not change between runs of one rule on one input (not its
/// duration).
type Answer = (
    String,
    Verdict,
    String,
    Option<FailureReason>,
    Option<String>,
    Vec<String>,
    Option<u64>,
);

fn answers(ev: &Evaluation) -> Vec<Answer> {
    ev.rules
        .iter()
        .map(|r| {
            (
                r.rule_id.clone(),
                r.verdict,
                r.reason.clone(),
                r.failure.clone(),
                r.note.clone(),
                r.logs.clone(),
                r.fuel_used,
            )
        })
        .collect()
}

/// Hand-written modules of every kind, from plain answers to every failure
/// (loops, bombs, traps, bad output, deep recursion, NaNs), as one rule
/// each. The deadline is widened so that fuel, which is deterministic,
/// ends the loops, never a busy machine's clock.
const WAT_RULES: &[&str] = &[
    "allow",
    "deny",
    "review",
    "freeze",
    "amount_floor",
    "trap_on_amount",
    "carry_state",
    "divide_by_zero",
    "output_at_offset",
    "burn_loop",
    "burn_then_trap",
    "endless_loop",
    "memory_bomb",
    "memory_bomb_touch",
    "table_bomb",
    "oob_access",
    "invalid_verdicts",
    "alloc_hostile",
    "nan_bits",
    "snoop",
    "hostile_log",
    "hostile_log_limits",
    "recursion_pure",
    "start_loop",
    "device_blocklist",
    "bad_output_a",
    "output_over_cap",
];

fn wat_config() -> String {
    let mut cfg = String::from("[limits]\ntimeout_ms = 10000\n");
    for (i, m) in WAT_RULES.iter().enumerate() {
        cfg.push_str(&hongbao_tests::one_rule(
            &format!("w{i:02}.{m}"),
            m,
            &format!("priority = {i}"),
        ));
    }
    cfg
}

/// The same modules on the same claim give the same answers and fuel: run
/// twice, on two threads at once, and in a second engine loaded from the
/// same config.
#[test]
fn same_module_and_input_same_verdict_reason_and_fuel() -> Result<()> {
    let cfg = wat_config();
    let first = engine(&cfg)?;
    let (req, facts) = claim("1.00", "u-1");
    let reference = answers(&first.claim(NOW, &req, &facts));
    assert_eq!(reference.len(), WAT_RULES.len());
    assert!(
        reference.iter().any(|a| a.3.is_some()) && reference.iter().any(|a| a.3.is_none()),
        "the set covers answers and failures: {reference:?}"
    );
    assert_eq!(answers(&first.claim(NOW, &req, &facts)), reference, "run 2");
    let threaded: Vec<Vec<Answer>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| answers(&first.claim(NOW, &req, &facts))))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker panicked"))
            .collect()
    });
    for (t, got) in threaded.iter().enumerate() {
        assert_eq!(got, &reference, "thread {t}");
    }
    let second = engine(&cfg)?;
    assert_eq!(
        answers(&second.claim(NOW, &req, &facts)),
        reference,
        "another engine"
    );
    Ok(())
}

/// The sample rules with their demo settings, each moved to a merchant of
/// its own (`only-<name>`) so that a request sees exactly that rule.
fn sample_engine() -> Result<RiskEngine> {
    let demo = Config::parse(
        &hongbao::cli::demo_config_text(3),
        std::path::Path::new("."),
    )?;
    let mut rules = Vec::new();
    for (name, _) in hongbao::bundled::MODULES {
        let module = format!("bundled:{name}");
        // A rule author's own crate under sample-rules/ is bundled too; the
        // demo config does not run it, and it has no golden fuel here.
        let Some(rule) = demo
            .rules
            .iter()
            .find(|r| r.module == module && r.merchant.as_deref().is_none_or(|m| m == "m1"))
        else {
            continue;
        };
        let mut rule = rule.clone();
        rule.scope = ScopeKind::Merchant;
        rule.merchant = Some(format!("only-{name}"));
        rules.push(rule);
    }
    let config = Config {
        rules,
        ..Config::default()
    };
    Ok(RiskEngine::load(&config, &hongbao::bundled::module)?)
}

/// The exact fuel of each sample rule, with its demo settings, on the
/// `rules_sdk::testing` fixtures (merchant `only-<name>`). A change in the
/// guest build, the SDK or the host's input encoding moves these numbers:
/// that is allowed, but deliberately. The failure message prints the
/// table to paste here.
const GOLDEN_FUEL: &[(&str, &str, u64)] = &[
    ("blocklist", "claim", 34754),
    ("blocklist", "payout", 33718),
    ("campaign-cap", "claim", 12010),
    ("daily-limits", "claim", 12126),
    ("device-farm", "claim", 14048),
    ("mule-cashout", "payout", 12130),
    ("new-account", "claim", 11855),
    ("payout-budget", "payout", 10350),
    ("self-dealing", "claim", 14008),
];

/// The golden fuel table, and the same fuel on every run.
#[test]
fn sample_rules_fuel_is_pinned() -> Result<()> {
    let e = sample_engine()?;
    let mut measured = BTreeMap::new();
    for rule in e.rules() {
        let name = rule.id.rsplit('.').next().context("a rule id")?.to_string();
        let merchant = match &rule.scope {
            hongbao::risk::Scope::Merchant(m) => m.clone(),
            hongbao::risk::Scope::Platform => anyhow::bail!("moved to a merchant"),
        };
        for &hook in &rule.hooks {
            let run = || {
                let ev = match hook {
                    Hook::Claim => {
                        let mut c = claim_fixture();
                        c.request.merchant_id.clone_from(&merchant);
                        e.claim(NOW, &c.request, &c.facts)
                    }
                    Hook::Payout => {
                        let mut p = payout_fixture();
                        p.request.merchant_id.clone_from(&merchant);
                        e.payout(NOW, &p.request, &p.facts)
                    }
                };
                answers(&ev)
            };
            let first = run();
            assert_eq!(first.len(), 1, "{name} at {hook}: {first:?}");
            assert_eq!(first[0].3, None, "{name} at {hook} answers: {first:?}");
            assert_eq!(run(), first, "{name} at {hook}: the same every run");
            let fuel = first[0].6.context("an answer has its fuel")?;
            measured.insert((name.clone(), hook.to_string()), fuel);
        }
    }
    let golden: BTreeMap<(String, String), u64> = GOLDEN_FUEL
        .iter()
        .map(|(n, h, f)| (((*n).to_string(), (*h).to_string()), *f))
        .collect();
    if measured != golden {
        let mut table = String::from("const GOLDEN_FUEL: &[(&str, &str, u64)] = &[\n");
        for ((name, hook), fuel) in &measured {
            table.push_str(&format!("    ({name:?}, {hook:?}, {fuel}),\n"));
        }
        table.push_str("];\n");
        let mut changes = String::new();
        for key in measured.keys().chain(golden.keys()) {
            let (m, g) = (measured.get(key), golden.get(key));
            if m != g && !changes.contains(&format!("{key:?}")) {
                changes.push_str(&format!("  {key:?}: pinned {g:?}, now {m:?}\n"));
            }
        }
        panic!(
            "the sample rules' fuel changed:\n{changes}\nIf the change is intended, replace \
             GOLDEN_FUEL in tests/tests/integration/determinism.rs with:\n\n{table}"
        );
    }
    Ok(())
}

/// NaN canonicalisation: NaNs made by nine different operations (0/0,
/// sqrt(-1), inf-inf, min and arithmetic on a signalling NaN with a
/// payload, conversions) all come out as the canonical quiet NaN, which
/// makes the rule allow; the bits are the same on every run and thread.
#[test]
fn nan_bits_are_canonical_and_the_same_every_time() -> Result<()> {
    let e = engine(&hongbao_tests::one_rule("nan", "nan_bits", ""))?;
    let (req, facts) = claim("1.00", "u-1");
    let canonical = format!(
        "{} {}",
        ["7ff8000000000000"; 6].join(" "),
        ["7fc00000"; 3].join(" ")
    );
    let run = || answers(&e.claim(NOW, &req, &facts));
    let first = run();
    assert_eq!(first[0].3, None, "{first:?}");
    assert_eq!(first[0].4.as_deref(), Some(canonical.as_str()), "{first:?}");
    assert_eq!(
        (first[0].1, first[0].2.as_str()),
        (Verdict::Allow, "canonical")
    );
    let again: Vec<Vec<Answer>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| (0..3).map(|_| run()).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker panicked"))
            .collect()
    });
    assert_eq!(again.len(), 6);
    assert!(again.iter().all(|a| *a == first), "{again:?}");
    Ok(())
}
