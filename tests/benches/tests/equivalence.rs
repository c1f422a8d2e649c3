//! The comparison benches time like for like: the Rego daily-limits policy
//! decides as the Rust rule does, and every runner of a sample rule (native,
//! reused instance, fresh instance, naive embedding) gives the same answer.

use std::sync::Arc;

use hongbao::risk::sandbox::Sandbox;
use hongbao_benches::{
    Isolated, Naive, Rego, Reused, RuleCase, demo_config, rule_cases, run_native,
};
use rules_sdk::{ClaimInput, Verdict, testing};

fn daily_limits_case() -> (Arc<Sandbox>, RuleCase) {
    let config = demo_config().expect("the demo config parses");
    let sandbox = Arc::new(Sandbox::new(&config.sandbox).expect("the sandbox builds"));
    let case = rule_cases(&config)
        .expect("cases")
        .into_iter()
        .find(|c| c.crate_name == "daily-limits")
        .expect("daily-limits is a sample rule");
    (sandbox, case)
}

/// The same claim compact (for the Wasm rule) and as JSON (for Rego).
fn claim(
    claims_today: u32,
    claimed_today: &str,
    amount: &str,
    settings: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut i: ClaimInput = testing::claim_fixture();
    i.facts.user_claims_today = claims_today;
    i.facts.user_claimed_today = testing::amount(claimed_today);
    i.request.amount = testing::amount(amount);
    i.settings = serde_json::from_str(settings).expect("settings are JSON");
    (
        rules_sdk::compact::encode(&i).expect("input encodes"),
        serde_json::to_vec(&i).expect("input encodes"),
    )
}

#[test]
fn rego_daily_limits_decides_as_the_rust_rule() {
    let (sandbox, case) = daily_limits_case();
    let wasm = Isolated::new(sandbox, &case).expect("compiles");
    let mut rego = Rego::daily_limits().expect("the policy parses");
    let demo = r#"{"max_claims":10,"max_amount":"1000.00"}"#;
    let cases = [
        (claim(1, "2.00", "1.23", demo), Some((Verdict::Allow, "ok"))),
        (
            claim(9, "10.00", "1.00", demo),
            Some((Verdict::Allow, "ok")),
        ),
        (
            claim(10, "10.00", "1.00", demo),
            Some((Verdict::Deny, "daily_claim_count")),
        ),
        (
            claim(3, "999.00", "1.00", demo),
            Some((Verdict::Allow, "ok")),
        ),
        (
            claim(3, "999.00", "1.01", demo),
            Some((Verdict::Deny, "daily_claim_amount")),
        ),
        (
            claim(10, "999.00", "5.00", demo),
            Some((Verdict::Deny, "daily_claim_count")),
        ),
        (
            claim(
                2,
                "40.00",
                "10.01",
                r#"{"max_claims":3,"max_amount":"50.00"}"#,
            ),
            Some((Verdict::Deny, "daily_claim_amount")),
        ),
        (
            claim(
                2,
                "40.00",
                "10.00",
                r#"{"max_claims":3,"max_amount":"50.00"}"#,
            ),
            Some((Verdict::Allow, "ok")),
        ),
        (
            claim(0, "0.00", "1000.00", "{}"),
            Some((Verdict::Allow, "ok")),
        ),
        (
            claim(0, "0.00", "1000.01", "{}"),
            Some((Verdict::Deny, "daily_claim_amount")),
        ),
        (claim(1, "2.00", "1.23", r#"{"max_claims":0}"#), None),
        (claim(1, "2.00", "1.23", r#"{"max_amount":"0.00"}"#), None),
        (claim(1, "2.00", "1.23", r#"{"max_claim":5}"#), None),
    ];
    for ((input, json), want) in cases {
        let text = String::from_utf8_lossy(&json).into_owned();
        let w = wasm.call(&input);
        let r = rego.call(&json);
        match want {
            Some((verdict, reason)) => {
                let w = w.unwrap_or_else(|e| panic!("wasm failed on {text}: {e}"));
                let r = r.unwrap_or_else(|e| panic!("rego failed on {text}: {e}"));
                assert_eq!((w.verdict, w.reason.as_str()), (verdict, reason), "{text}");
                assert_eq!((r.verdict, r.reason.as_str()), (verdict, reason), "{text}");
            }
            None => {
                assert!(w.is_err(), "wasm should refuse the settings of {text}");
                assert!(r.is_err(), "rego should refuse the settings of {text}");
            }
        }
    }
}

#[test]
fn every_runner_of_every_sample_rule_gives_the_same_answer() {
    let config = demo_config().expect("the demo config parses");
    let sandbox = Arc::new(Sandbox::new(&config.sandbox).expect("the sandbox builds"));
    let cases = rule_cases(&config).expect("cases");
    assert_eq!(cases.len(), 8);
    for case in &cases {
        let want = run_native(case.native, &case.input).expect("native answers");
        let isolated = Isolated::new(Arc::clone(&sandbox), case).expect("compiles");
        let mut reused = Reused::new(&sandbox, case).expect("instantiates");
        let naive = Naive::new(case).expect("compiles");
        // Past one replacement of the reused instance, too.
        for _ in 0..hongbao_benches::REUSED_CALLS_PER_INSTANCE + 2 {
            assert_eq!(reused.call(&case.input).expect("reused"), want);
        }
        assert_eq!(isolated.call(&case.input).expect("isolated"), want);
        assert_eq!(naive.call(&case.input).expect("naive"), want);
    }
}
