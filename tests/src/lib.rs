//! Shared helpers for the integration tests: the hand-written hostile WAT
//! modules, and engines built from config text.

use anyhow::{Result, bail};
use hongbao::config::Config;
use hongbao::event::{Event, ReviewDecision, SplitKind};
use hongbao::risk::{Evaluator, RiskEngine};
use hongbao::settlement::{Outcome, Settlement};
use rules_sdk::{Amount, ClaimFacts, ClaimRequest, PayoutFacts, PayoutRequest, testing};

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
    (
        "compact_claim_count",
        include_str!("../wat/compact_claim_count.wat"),
    ),
    (
        "forged_import_name",
        include_str!("../wat/forged_import_name.wat"),
    ),
    ("review", include_str!("../wat/review.wat")),
    ("deny", include_str!("../wat/deny.wat")),
    ("freeze", include_str!("../wat/freeze.wat")),
    (
        "device_blocklist",
        include_str!("../wat/device_blocklist.wat"),
    ),
    ("start_loop", include_str!("../wat/start_loop.wat")),
    ("burn_loop", include_str!("../wat/burn_loop.wat")),
    ("burn_then_trap", include_str!("../wat/burn_then_trap.wat")),
    ("bad_exports", include_str!("../wat/bad_exports.wat")),
    (
        "wrong_abi_version",
        include_str!("../wat/wrong_abi_version.wat"),
    ),
    ("start_trap", include_str!("../wat/start_trap.wat")),
    (
        "allow_and_error",
        include_str!("../wat/allow_and_error.wat"),
    ),
    ("oob_access", include_str!("../wat/oob_access.wat")),
    (
        "hostile_log_limits",
        include_str!("../wat/hostile_log_limits.wat"),
    ),
    (
        "output_over_cap",
        include_str!("../wat/output_over_cap.wat"),
    ),
    (
        "invalid_verdicts",
        include_str!("../wat/invalid_verdicts.wat"),
    ),
    (
        "wrong_hook_signatures",
        include_str!("../wat/wrong_hook_signatures.wat"),
    ),
    ("recursion_pure", include_str!("../wat/recursion_pure.wat")),
    ("start_endless", include_str!("../wat/start_endless.wat")),
    (
        "start_recursion",
        include_str!("../wat/start_recursion.wat"),
    ),
    (
        "start_memory_bomb",
        include_str!("../wat/start_memory_bomb.wat"),
    ),
    (
        "huge_initial_memory",
        include_str!("../wat/huge_initial_memory.wat"),
    ),
    (
        "data_out_of_bounds",
        include_str!("../wat/data_out_of_bounds.wat"),
    ),
    (
        "memory_bomb_touch",
        include_str!("../wat/memory_bomb_touch.wat"),
    ),
    ("alloc_hostile", include_str!("../wat/alloc_hostile.wat")),
    ("snoop", include_str!("../wat/snoop.wat")),
    ("nan_bits", include_str!("../wat/nan_bits.wat")),
    (
        "huge_initial_table",
        include_str!("../wat/huge_initial_table.wat"),
    ),
    ("bulk_fill_loop", include_str!("../wat/bulk_fill_loop.wat")),
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

/// A config entry for one platform rule on `hooks`, with extra TOML lines
/// appended to the rule table.
pub fn rule(id: &str, module: &str, hooks: &[&str], extra: &str) -> String {
    let hooks: Vec<String> = hooks.iter().map(|h| format!("{h:?}")).collect();
    format!(
        "[[rules]]\nid = \"{id}\"\nmodule = \"bundled:{module}\"\nscope = \"platform\"\nhooks = [{}]\n{extra}\n",
        hooks.join(", ")
    )
}

/// An engine with one platform rule running the constant-verdict module
/// `verdict` (`allow`, `review`, `deny` or `freeze`, see `tests/wat/`) at
/// `hooks`.
///
/// # Errors
///
/// Returns the config or load error.
pub fn verdict_engine(verdict: &str, hooks: &[&str]) -> Result<RiskEngine> {
    engine(&rule(&format!("scripted.{verdict}"), verdict, hooks, ""))
}

/// An exact amount from its decimal text.
///
/// # Panics
///
/// When `text` is not a valid amount: a typo in a test's literal.
pub fn amt(text: &str) -> Amount {
    Amount::parse(text).expect("a valid amount literal")
}

/// A `deposit` event.
pub fn deposit_event(id: &str, at: i64, merchant: &str, amount: &str) -> Event {
    Event::Deposit {
        id: id.into(),
        at,
        merchant: merchant.into(),
        amount: amt(amount),
    }
}

/// A `create_packet` event without campaign and with the default expiry.
pub fn packet_event(
    id: &str,
    at: i64,
    merchant: &str,
    total: &str,
    shares: u32,
    split: SplitKind,
) -> Event {
    Event::CreatePacket {
        id: id.into(),
        at,
        merchant: merchant.into(),
        total: amt(total),
        shares,
        split,
        campaign: None,
        expires_in: None,
    }
}

/// A `claim` event by an ordinary user: the user's own device
/// `dev-<user>`, an address, and an account 90 days old.
pub fn claim_event(id: &str, at: i64, packet: &str, user: &str) -> Event {
    Event::Claim {
        id: id.into(),
        at,
        packet: packet.into(),
        user: user.into(),
        device: Some(format!("dev-{user}")),
        ip: Some("192.0.2.7".into()),
        account_created_at: Some(at - 90 * 86_400),
        label: None,
    }
}

/// A `payout` event without device or address.
pub fn payout_event(id: &str, at: i64, claim: &str) -> Event {
    Event::Payout {
        id: id.into(),
        at,
        claim: claim.into(),
        device: None,
        ip: None,
        label: None,
    }
}

/// A `resolve_review` event.
pub fn resolve_event(id: &str, at: i64, target: &str, decision: ReviewDecision) -> Event {
    Event::ResolveReview {
        id: id.into(),
        at,
        target: target.into(),
        decision,
    }
}

/// An `unfreeze` event.
pub fn unfreeze_event(id: &str, at: i64, user: &str) -> Event {
    Event::Unfreeze {
        id: id.into(),
        at,
        user: user.into(),
    }
}

/// A `tick` event.
pub fn tick_event(at: i64) -> Event {
    Event::Tick { at }
}

/// Applies `event` and checks every money invariant and the zero sum
/// afterwards, as tests must after every event.
///
/// # Errors
///
/// Names the event and the invariant that broke.
pub fn apply_checked(
    settlement: &mut Settlement,
    event: &Event,
    rules: &dyn Evaluator,
) -> Result<Outcome> {
    let outcome = settlement.apply(event, rules);
    if let Err(e) = settlement.check_invariants() {
        bail!("invariant broken after {event:?}: {e}");
    }
    let summary = settlement.summary();
    if !summary.zero_sum_ok {
        bail!("the ledger does not sum to zero after {event:?}: {summary:?}");
    }
    Ok(outcome)
}

/// The path of a hand-written module in `tests/wat/`, as a config names it.
pub fn wat_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("wat")
        .join(format!("{name}.wat"))
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates `hongbao-tests-<tag>-<pid>-<n>` under [`std::env::temp_dir`].
    ///
    /// # Errors
    ///
    /// Returns the error of creating the directory.
    pub fn new(tag: &str) -> Result<TempDir> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("hongbao-tests-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    /// The path of `name` inside the directory.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The resident set size of this process, in bytes (Linux `/proc/self/statm`).
///
/// # Errors
///
/// When `/proc/self/statm` cannot be read or parsed.
pub fn resident_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("no resident field in {statm:?}"))?
        .parse()?;
    // The kernel's page size; 4 KiB on every platform these tests run on.
    Ok(pages * 4096)
}
