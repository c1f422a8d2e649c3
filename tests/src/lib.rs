//! Shared helpers for the integration tests: the hand-written hostile WAT
//! modules, and engines built from config text.

use anyhow::Result;
use hongbao::config::Config;
use hongbao::risk::RiskEngine;
use rules_sdk::{ClaimFacts, ClaimRequest, PayoutFacts, PayoutRequest, testing};

/// Every hand-written module under `tests/wat/`, by file stem.
pub const WAT: &[(&str, &str)] = &[
    ("allow", include_str!("../wat/allow.wat")),
    ("endless_loop", include_str!("../wat/endless_loop.wat")),
    ("memory_bomb", include_str!("../wat/memory_bomb.wat")),
    ("table_bomb", include_str!("../wat/table_bomb.wat")),
    ("trap_on_amount", include_str!("../wat/trap_on_amount.wat")),
    ("carry_state", include_str!("../wat/carry_state.wat")),
    (
        "forbidden_import",
        include_str!("../wat/forbidden_import.wat"),
    ),
    (
        "mistyped_import",
        include_str!("../wat/mistyped_import.wat"),
    ),
    ("bad_output_a", include_str!("../wat/bad_output_a.wat")),
    ("bad_output_b", include_str!("../wat/bad_output_b.wat")),
    ("bad_output_c", include_str!("../wat/bad_output_c.wat")),
    (
        "output_at_offset",
        include_str!("../wat/output_at_offset.wat"),
    ),
    ("divide_by_zero", include_str!("../wat/divide_by_zero.wat")),
    ("deep_recursion", include_str!("../wat/deep_recursion.wat")),
    ("hostile_log", include_str!("../wat/hostile_log.wat")),
    ("amount_floor", include_str!("../wat/amount_floor.wat")),
];

/// The bytes of a hand-written module or of a bundled sample rule.
pub fn module_bytes(name: &str) -> Option<&'static [u8]> {
    WAT.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| text.as_bytes())
        .or_else(|| hongbao::bundled::module(name))
}

/// Builds an engine from config text whose `bundled:<name>` modules are
/// looked up among the WAT modules first, then the sample rules.
///
/// # Errors
///
/// Returns the config or load error.
pub fn engine(config: &str) -> Result<RiskEngine> {
    let config = Config::parse(config, std::path::Path::new("."))?;
    Ok(RiskEngine::load(&config, &module_bytes)?)
}

/// A config with one platform rule on both hooks, with extra TOML lines
/// appended to the rule table.
pub fn one_rule(id: &str, module: &str, extra: &str) -> String {
    format!(
        "[[rules]]\nid = \"{id}\"\nmodule = \"bundled:{module}\"\nscope = \"platform\"\nhooks = [\"claim\"]\n{extra}\n"
    )
}

/// An ordinary claim (request and facts) with the given amount and user.
pub fn claim(amount: &str, user: &str) -> (ClaimRequest, ClaimFacts) {
    let mut input = testing::claim_fixture();
    input.request.amount = amount.parse().unwrap_or_default();
    input.request.user_id = user.to_string();
    (input.request, input.facts)
}

/// An ordinary payout (request and facts).
pub fn payout() -> (PayoutRequest, PayoutFacts) {
    let input = testing::payout_fixture();
    (input.request, input.facts)
}

/// The fixtures' logical time.
pub const NOW: i64 = testing::FIXTURE_NOW;
