//! Measurements of the whole process's memory, run by the integration tests
//! in a process of their own so that no other test's memory is counted:
//!
//! - `s03`: the memory bombs, one touching every page it grows, each stop at
//!   the 16 MiB cap with memory-limit (growth to page 257 is what is
//!   refused), and after 20 of them resident memory has risen by less than
//!   32 MiB.
//! - `s06`: 20,000 claims through one merchant rule (the bundled
//!   daily-limits rule) are all evaluated with the same answer and no
//!   failure, and resident memory after 20,000 is within 10% of resident
//!   memory after 2,000.
//!
//! Exits 0 and prints what it measured when the property holds; exits 1
//! naming what broke otherwise.

use anyhow::{Context, Result, bail, ensure};
use hongbao::risk::{Evaluator, FailureReason};
use hongbao_tests::{NOW, claim, engine, one_rule, resident_bytes};
use rules_sdk::Verdict;

fn s03() -> Result<()> {
    let e = engine(&format!(
        "{}{}",
        one_rule("bomb", "memory_bomb", "priority = 1"),
        one_rule("touch", "memory_bomb_touch", "priority = 2")
    ))?;
    let (req, facts) = claim("1.00", "u-1");
    let before = resident_bytes()?;
    for _ in 0..10 {
        let ev = e.claim(NOW, &req, &facts);
        ensure!(ev.rules.len() == 2, "two rules ran: {ev:?}");
        ensure!(
            ev.verdict == Verdict::Review,
            "the bombs fail closed: {ev:?}"
        );
        for r in &ev.rules {
            ensure!(r.failure == Some(FailureReason::MemoryLimit), "{r:?}");
            let detail = r.detail.as_deref().unwrap_or("");
            ensure!(
                detail.contains("linear memory of 16842752 bytes exceeds the limit of 16777216"),
                "growth to page 257 is refused: {detail}"
            );
        }
    }
    let after = resident_bytes()?;
    let rise = after.saturating_sub(before);
    println!("s03 resident rise: {before} -> {after} bytes (+{rise})");
    ensure!(
        rise < 32 * 1024 * 1024,
        "resident memory rose by {rise} bytes"
    );
    let ok = engine(&one_rule("ok", "allow", ""))?;
    ensure!(
        ok.claim(NOW, &req, &facts).verdict == Verdict::Allow,
        "a trivial rule still answers allow afterwards"
    );
    Ok(())
}

fn s06() -> Result<()> {
    // The wall-clock backstop is widened (as in the other long runs) so that a
    // loaded machine's scheduler cannot turn a call into a timeout: this case
    // is about growth, and fuel still bounds every call.
    let e = engine(
        "[limits]\ntimeout_ms = 10000\n[[rules]]\nid = \"m1.daily\"\nmodule = \"bundled:daily-limits\"\nscope = \"merchant\"\nmerchant = \"m1\"\nhooks = [\"claim\"]\n[rules.settings]\nmax_claims = 10\nmax_amount = \"200.00\"\n",
    )
    .context("the merchant rule loads")?;
    let (mut req, facts) = claim("1.00", "u-1");
    req.merchant_id = "m1".into();
    let mut at_2000 = 0;
    let mut first: Option<(Verdict, String)> = None;
    for i in 0..20_000 {
        req.claim_id = format!("c-{i}");
        let ev = e.claim(NOW, &req, &facts);
        ensure!(ev.rules.len() == 1, "exactly one rule ran: {ev:?}");
        let r = &ev.rules[0];
        ensure!(r.failure.is_none(), "claim {i}: {r:?}");
        let answer = (r.verdict, r.reason.clone());
        match &first {
            None => first = Some(answer),
            Some(f) => ensure!(&answer == f, "claim {i}: {answer:?} after {f:?}"),
        }
        if i + 1 == 2_000 {
            at_2000 = resident_bytes()?;
        }
    }
    let at_20000 = resident_bytes()?;
    println!("s06 resident after 2,000: {at_2000} bytes, after 20,000: {at_20000} bytes");
    ensure!(
        first.map(|f| f.0) == Some(Verdict::Allow),
        "the claims are allowed"
    );
    ensure!(
        at_20000.abs_diff(at_2000) * 10 <= at_2000,
        "resident memory moved by more than 10%: {at_2000} -> {at_20000}"
    );
    Ok(())
}

fn main() -> Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("s03") => s03(),
        Some("s06") => s06(),
        other => bail!("usage: measure-alone s03|s06 (got {other:?})"),
    }
}
