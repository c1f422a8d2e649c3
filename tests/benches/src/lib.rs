//! Shared setup of the hongbao benches: the sample rules with their demo
//! settings, and five ways to run one rule call side by side.
//!
//! - [`Isolated`]: the real engine path, [`hongbao::risk::call::call`]: a
//!   fresh pooled instance per call with every limit armed.
//! - [`Reused`]: the same compiled module on one instance kept across calls
//!   (the Wasm floor; no isolation between calls).
//! - [`Naive`]: what a user writes first: a default wasmtime `Engine`, a new
//!   `Store` and `Linker::instantiate` per call, no pooling, no `InstancePre`,
//!   no fuel or deadline.
//! - [`native`]: the same rule crate compiled natively and called in-process
//!   through the same compact input encoding (the floor), and
//!   [`native_json`] through the JSON encoding of ABI version 1.
//! - [`Rego`]: `rego/daily_limits.rego`, the daily-limits rule written in
//!   Rego and evaluated with the `regorus` crate.
//!
//! Every runner returns the parsed [`Decision`], so the benches check what
//! they time, and `tests/equivalence.rs` checks that they agree.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use hongbao::config::{Config, RuleConfig};
use hongbao::risk::call::{call, parse_output};
use hongbao::risk::limits::Limits;
use hongbao::risk::module::CompiledModule;
use hongbao::risk::sandbox::Sandbox;
use hongbao::risk::store::CallState;
use hongbao::risk::{Evaluation, Evaluator, RuleOutcome, Scope};
use rules_sdk::abi::ABI_VERSION_JSON;
use rules_sdk::abi::unpack_output;
use rules_sdk::compact::{self, Section};
use rules_sdk::guest::{evaluate_bytes, evaluate_json};
use rules_sdk::{
    Amount, ClaimFacts, ClaimRequest, Decision, Hook, PayoutFacts, PayoutRequest, RuleInput,
    Verdict, testing,
};
use serde::Serialize;
use wasmtime::{Instance, Memory, Store, TypedFunc};

/// Merchants in the demo config the benches use (the `hongbao demo` default).
pub const DEMO_MERCHANTS: usize = 50;
/// The merchant whose packets the benches claim.
pub const MERCHANT: &str = "m1";

/// A rule compiled natively: input bytes in, JSON output bytes out.
pub type NativeFn = fn(&[u8]) -> Vec<u8>;

/// The sample rules' native entries through `$eval` (one of the SDK's
/// guest-side evaluators), by crate and hook.
macro_rules! native_entry {
    ($eval:path, $crate_name:expr, $hook:expr) => {{
        let f: NativeFn = match ($crate_name, $hook) {
            ("blocklist", Hook::Claim) => |b| $eval(b, blocklist::claim),
            ("blocklist", Hook::Payout) => |b| $eval(b, blocklist::payout),
            ("campaign-cap", Hook::Claim) => |b| $eval(b, campaign_cap::claim),
            ("daily-limits", Hook::Claim) => |b| $eval(b, daily_limits::claim),
            ("device-farm", Hook::Claim) => |b| $eval(b, device_farm::claim),
            ("mule-cashout", Hook::Payout) => |b| $eval(b, mule_cashout::payout),
            ("new-account", Hook::Claim) => |b| $eval(b, new_account::claim),
            ("payout-budget", Hook::Payout) => |b| $eval(b, payout_budget::payout),
            ("self-dealing", Hook::Claim) => |b| $eval(b, self_dealing::claim),
            _ => return None,
        };
        Some(f)
    }};
}

/// The native entry of sample rule `crate_name` at `hook`, taking the
/// compact input (ABI version 2) that its Wasm build takes.
pub fn native(crate_name: &str, hook: Hook) -> Option<NativeFn> {
    native_entry!(evaluate_bytes, crate_name, hook)
}

/// The native entry of sample rule `crate_name` at `hook`, taking the JSON
/// input of ABI version 1.
pub fn native_json(crate_name: &str, hook: Hook) -> Option<NativeFn> {
    native_entry!(evaluate_json, crate_name, hook)
}

/// How a native evaluator hands rules their input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The compact binary input of ABI version 2, as the Wasm build gets it.
    Compact,
    /// The JSON input of ABI version 1.
    Json,
}

/// The demo config (`hongbao demo-config --merchants 50`), parsed.
///
/// # Errors
///
/// Returns the parse error, which would be a bug in the demo config.
pub fn demo_config() -> Result<Config> {
    let text = hongbao::cli::demo_config_text(DEMO_MERCHANTS);
    Ok(Config::parse(&text, Path::new("."))?)
}

/// The sample-rule crate a config rule runs (`bundled:<crate>`).
pub fn crate_of(rule: &RuleConfig) -> Option<&str> {
    rule.module.strip_prefix("bundled:")
}

/// An ordinary claim on a packet of [`MERCHANT`], as the traffic has them.
pub fn claim_request() -> (ClaimRequest, ClaimFacts) {
    let mut i = testing::claim_fixture();
    i.request.claim_id = "c-0004242".into();
    i.request.packet_id = "m1-bill-000123".into();
    i.request.merchant_id = MERCHANT.into();
    i.request.campaign_id = Some("m1-cmp-2".into());
    i.request.user_id = "u-000042".into();
    i.request.amount = amount("4.81");
    i.request.device_id = Some("dev-000042".into());
    i.request.ip = Some("10.0.0.42".into());
    i.facts.device_recent_users = vec!["u-000042".into()];
    (i.request, i.facts)
}

/// An ordinary payout of that claim, an hour later.
pub fn payout_request() -> (PayoutRequest, PayoutFacts) {
    let mut i = testing::payout_fixture();
    i.request.payout_id = "po-0004242".into();
    i.request.claim_id = "c-0004242".into();
    i.request.packet_id = "m1-bill-000123".into();
    i.request.merchant_id = MERCHANT.into();
    i.request.user_id = "u-000042".into();
    i.request.amount = amount("4.81");
    i.request.device_id = Some("dev-000042".into());
    i.request.ip = Some("10.0.0.42".into());
    (i.request, i.facts)
}

fn amount(text: &str) -> Amount {
    Amount::parse(text).unwrap_or_default()
}

/// The input bytes of one call of `rule` at `hook`, in `encoding`.
///
/// # Errors
///
/// Returns an error if the settings do not encode as JSON.
pub fn input_for(rule: &RuleConfig, hook: Hook, now: i64, encoding: Encoding) -> Result<Vec<u8>> {
    let settings = serde_json::to_value(&rule.settings)?;
    fn encode<R: Serialize + Section, F: Serialize + Section>(
        rule: &RuleConfig,
        hook: Hook,
        now: i64,
        settings: serde_json::Value,
        request: R,
        facts: F,
        encoding: Encoding,
    ) -> Result<Vec<u8>> {
        let input = RuleInput {
            abi_version: ABI_VERSION_JSON,
            hook,
            rule_id: rule.id.clone(),
            now,
            settings,
            request,
            facts,
        };
        Ok(match encoding {
            Encoding::Compact => compact::encode(&input)?,
            Encoding::Json => serde_json::to_vec(&input)?,
        })
    }
    match hook {
        Hook::Claim => {
            let (r, f) = claim_request();
            encode(rule, hook, now, settings, r, f, encoding)
        }
        Hook::Payout => {
            let (r, f) = payout_request();
            encode(rule, hook, now, settings, r, f, encoding)
        }
    }
}

/// One sample rule ready to call: bytes, limits, input, native entry.
pub struct RuleCase {
    /// The sample-rule crate.
    pub crate_name: String,
    /// The rule's id in the demo config.
    pub rule_id: String,
    /// The hook benched: claim, unless the rule only has payout.
    pub hook: Hook,
    /// The limits the engine would use for this rule.
    pub limits: Limits,
    /// The input of one call, compact (ABI version 2), as the Wasm build
    /// of the sample rules takes it.
    pub input: Vec<u8>,
    /// The same input as JSON (ABI version 1), for Rego and [`native_json`].
    pub json_input: Vec<u8>,
    /// The Wasm module.
    pub wasm: &'static [u8],
    /// The rule compiled natively, on the compact input.
    pub native: NativeFn,
    /// The rule compiled natively, on the JSON input.
    pub native_json: NativeFn,
}

/// Every sample rule once, with the settings of its first rule in the demo
/// config (merchant rules: those of [`MERCHANT`]), sorted by crate name.
/// Bundled crates that the demo config does not run are left out.
///
/// # Errors
///
/// Returns an error when a sample rule has no native entry.
pub fn rule_cases(config: &Config) -> Result<Vec<RuleCase>> {
    let defaults = Limits::default().with(&config.limits);
    let mut cases = Vec::new();
    for (name, wasm) in hongbao::bundled::MODULES {
        // A bundled crate the demo config does not run is a rule author's
        // own, with no native entry here: not one of the sample rules.
        let Some(rule) = config
            .rules
            .iter()
            .filter(|r| crate_of(r) == Some(name))
            .find(|r| r.merchant.as_deref().is_none_or(|m| m == MERCHANT))
        else {
            continue;
        };
        let hook = if rule.hooks.contains(&Hook::Claim) {
            Hook::Claim
        } else {
            Hook::Payout
        };
        let native = native(name, hook).with_context(|| format!("no native entry for {name}"))?;
        let native_json =
            native_json(name, hook).with_context(|| format!("no native entry for {name}"))?;
        cases.push(RuleCase {
            crate_name: (*name).to_string(),
            rule_id: rule.id.clone(),
            hook,
            limits: defaults.with(&rule.limits),
            input: input_for(rule, hook, testing::FIXTURE_NOW, Encoding::Compact)?,
            json_input: input_for(rule, hook, testing::FIXTURE_NOW, Encoding::Json)?,
            wasm,
            native,
            native_json,
        });
    }
    Ok(cases)
}

/// Parses a native rule's output as the host would.
///
/// # Errors
///
/// Returns the failure, as text.
pub fn run_native(f: NativeFn, input: &[u8]) -> Result<Decision> {
    let out = f(input);
    parse_output(&out).map_err(|e| anyhow::anyhow!("{}: {}", e.reason, e.detail))
}

/// The real engine path: [`call`] with a fresh pooled instance per call.
pub struct Isolated {
    sandbox: Arc<Sandbox>,
    module: CompiledModule,
    hook: Hook,
    limits: Limits,
}

impl Isolated {
    /// Compiles `case` in `sandbox`.
    ///
    /// # Errors
    ///
    /// Returns the compile problems.
    pub fn new(sandbox: Arc<Sandbox>, case: &RuleCase) -> Result<Isolated> {
        let module = CompiledModule::compile(&sandbox, case.wasm)
            .map_err(|p| anyhow::anyhow!("{}", p.join("; ")))?;
        Ok(Isolated {
            sandbox,
            module,
            hook: case.hook,
            limits: case.limits.clone(),
        })
    }

    /// The ABI version the module declares (1: JSON input, 2: compact), as
    /// the engine's load-time probe reads it.
    ///
    /// # Errors
    ///
    /// Returns the probe's problem.
    pub fn abi_version(&self) -> Result<u32> {
        hongbao::risk::probe::probe(&self.sandbox, &self.module, &self.limits)
            .map_err(|p| anyhow::anyhow!("{p}"))
    }

    /// One call in a fresh instance.
    ///
    /// # Errors
    ///
    /// Returns the failure, as text.
    pub fn call(&self, input: &[u8]) -> Result<Decision> {
        let r = call(&self.sandbox, &self.module, self.hook, &self.limits, input);
        r.outcome.map_err(|e| {
            anyhow::anyhow!(
                "{}: {} (after {} µs of wall time)",
                e.reason,
                e.detail,
                r.duration_ns / 1000
            )
        })
    }
}

/// Calls on one reused instance before it is replaced: the Rust guests
/// never free their input and output buffers (the ABI does not need them
/// to), so a reused instance grows by about a kilobyte per call. Replacing it
/// every this many calls adds 1/4096 of an instantiation to each call.
pub const REUSED_CALLS_PER_INSTANCE: u32 = 4096;

/// The Wasm floor: the same engine and module, one instance reused across
/// calls. Fuel and the deadline are re-armed per call, as in [`Isolated`].
pub struct Reused {
    pre: wasmtime::InstancePre<CallState>,
    limits: Limits,
    hook_name: &'static str,
    store: Store<CallState>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    hook: TypedFunc<(i32, i32), i64>,
    calls: u32,
}

impl Reused {
    /// Compiles `case` in `sandbox` and instantiates it once.
    ///
    /// # Errors
    ///
    /// Returns an error when the module does not compile or instantiate.
    pub fn new(sandbox: &Sandbox, case: &RuleCase) -> Result<Reused> {
        let module = wasmtime::Module::from_binary(sandbox.engine(), case.wasm)?;
        let pre = sandbox.linker().instantiate_pre(&module)?;
        let hook_name = rules_sdk::abi::hook_export(case.hook);
        let (store, memory, alloc, hook) = Self::instantiate(&pre, &case.limits, hook_name)?;
        Ok(Reused {
            pre,
            limits: case.limits.clone(),
            hook_name,
            store,
            memory,
            alloc,
            hook,
            calls: 0,
        })
    }

    #[expect(
        clippy::type_complexity,
        reason = "a private constructor's tuple of the instance's parts"
    )]
    fn instantiate(
        pre: &wasmtime::InstancePre<CallState>,
        limits: &Limits,
        hook_name: &str,
    ) -> Result<(
        Store<CallState>,
        Memory,
        TypedFunc<i32, i32>,
        TypedFunc<(i32, i32), i64>,
    )> {
        let mut store = Store::new(pre.module().engine(), CallState::new(limits));
        store.limiter(|s| s);
        store.set_fuel(limits.fuel_per_call)?;
        store.set_epoch_deadline(limits.timeout_ticks());
        let instance: Instance = pre.instantiate(&mut store)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .context("no memory export")?;
        let alloc = instance.get_typed_func(&mut store, "hongbao_alloc")?;
        let hook = instance.get_typed_func(&mut store, hook_name)?;
        Ok((store, memory, alloc, hook))
    }

    /// One call on the reused instance.
    ///
    /// # Errors
    ///
    /// Returns a trap or bad output.
    pub fn call(&mut self, input: &[u8]) -> Result<Decision> {
        if self.calls == REUSED_CALLS_PER_INSTANCE {
            let (store, memory, alloc, hook) =
                Self::instantiate(&self.pre, &self.limits, self.hook_name)?;
            (self.store, self.memory, self.alloc, self.hook) = (store, memory, alloc, hook);
            self.calls = 0;
        }
        self.calls += 1;
        let store = &mut self.store;
        store.set_fuel(self.limits.fuel_per_call)?;
        store.set_epoch_deadline(self.limits.timeout_ticks());
        let len = i32::try_from(input.len())?;
        let ptr = self.alloc.call(&mut *store, len)? as u32 as usize;
        self.memory
            .data_mut(&mut *store)
            .get_mut(ptr..ptr + input.len())
            .context("alloc returned a range outside memory")?
            .copy_from_slice(input);
        let packed = self.hook.call(&mut *store, (ptr as i32, len))?;
        let (out_ptr, out_len) = unpack_output(packed);
        let (start, end) = (out_ptr as usize, out_ptr as usize + out_len as usize);
        let out = self
            .memory
            .data(&*store)
            .get(start..end)
            .context("output outside memory")?;
        parse_output(out).map_err(|e| anyhow::anyhow!("{}: {}", e.reason, e.detail))
    }
}

/// What a user writes first: `Engine::default()`, and per call a new
/// `Store` and `Linker::instantiate` (no pooling, no `InstancePre`, no fuel,
/// no deadline, no resource limiter).
pub struct Naive {
    engine: wasmtime::Engine,
    module: wasmtime::Module,
    linker: wasmtime::Linker<()>,
    hook_name: &'static str,
}

impl Naive {
    /// Compiles `case` with a default engine.
    ///
    /// # Errors
    ///
    /// Returns the compile error.
    pub fn new(case: &RuleCase) -> Result<Naive> {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, case.wasm)?;
        let mut linker = wasmtime::Linker::new(&engine);
        linker.func_wrap("hongbao", "log", |_: i32, _: i32, _: i32| {})?;
        Ok(Naive {
            engine,
            module,
            linker,
            hook_name: rules_sdk::abi::hook_export(case.hook),
        })
    }

    /// One call in a new store and instance.
    ///
    /// # Errors
    ///
    /// Returns a trap or bad output.
    pub fn call(&self, input: &[u8]) -> Result<Decision> {
        let mut store = Store::new(&self.engine, ());
        let instance = self.linker.instantiate(&mut store, &self.module)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .context("no memory export")?;
        let alloc = instance.get_typed_func::<i32, i32>(&mut store, "hongbao_alloc")?;
        let hook = instance.get_typed_func::<(i32, i32), i64>(&mut store, self.hook_name)?;
        let len = i32::try_from(input.len())?;
        let ptr = alloc.call(&mut store, len)? as u32 as usize;
        memory.write(&mut store, ptr, input)?;
        let (out_ptr, out_len) = unpack_output(hook.call(&mut store, (ptr as i32, len))?);
        let mut out = vec![0; out_len as usize];
        memory.read(&store, out_ptr as usize, &mut out)?;
        parse_output(&out).map_err(|e| anyhow::anyhow!("{}: {}", e.reason, e.detail))
    }
}

/// The daily-limits rule in Rego.
pub const DAILY_LIMITS_REGO: &str = include_str!("../rego/daily_limits.rego");

/// The daily-limits rule written in Rego, evaluated by `regorus`: the policy
/// is parsed once and the engine kept; each call sets the input (parsing the
/// same JSON the Wasm rule gets) and evaluates the decision rule.
pub struct Rego {
    engine: regorus::Engine,
}

impl Rego {
    /// Loads `rego/daily_limits.rego`.
    ///
    /// # Errors
    ///
    /// Returns the parse error.
    pub fn daily_limits() -> Result<Rego> {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("daily_limits.rego".into(), DAILY_LIMITS_REGO.into())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Rego { engine })
    }

    /// One evaluation: `{"verdict", "reason"}`, or `{"error"}`.
    ///
    /// # Errors
    ///
    /// Returns an evaluation error, or the rule's own error.
    pub fn call(&mut self, input: &[u8]) -> Result<Decision> {
        let text = std::str::from_utf8(input)?;
        self.engine
            .set_input_json(text)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let v = self
            .engine
            .eval_rule("data.hongbao.daily_limits.decision".into())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let field = |name: &str| -> Result<String> {
            Ok(v[&regorus::Value::from(name)]
                .as_string()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .to_string())
        };
        if let Ok(error) = field("error") {
            bail!("rule error: {error}");
        }
        let verdict = match field("verdict")?.as_str() {
            "allow" => Verdict::Allow,
            "review" => Verdict::Review,
            "deny" => Verdict::Deny,
            "freeze" => Verdict::Freeze,
            other => bail!("unknown verdict {other}"),
        };
        Ok(Decision::new(verdict, &field("reason")?))
    }
}

/// The demo rule set compiled natively, behind the same [`Evaluator`]
/// interface as the [`hongbao::risk::RiskEngine`]: the same input encoding
/// (or, with [`Encoding::Json`], that of ABI version 1), output check and
/// decision record, without the sandbox.
pub struct NativeRules {
    /// Per merchant (`None`: platform only), per hook: the rules in order.
    order: std::collections::HashMap<Option<String>, [Vec<NativeRule>; 2]>,
    encoding: Encoding,
}

struct NativeRule {
    id: String,
    scope: Scope,
    prefix: Vec<u8>,
    f: NativeFn,
}

impl NativeRules {
    /// The rules of `engine`, in its order, compiled natively with the
    /// settings of `config`.
    ///
    /// # Errors
    ///
    /// Returns an error when a rule has no native build.
    pub fn new(
        config: &Config,
        engine: &hongbao::risk::RiskEngine,
        encoding: Encoding,
    ) -> Result<NativeRules> {
        let mut merchants: Vec<Option<String>> = vec![None];
        merchants.extend(
            config
                .rules
                .iter()
                .filter_map(|r| r.merchant.clone())
                .map(Some),
        );
        merchants.dedup();
        let mut order = std::collections::HashMap::new();
        for m in merchants {
            let mut slots: [Vec<NativeRule>; 2] = [Vec::new(), Vec::new()];
            for (slot, hook) in [(0, Hook::Claim), (1, Hook::Payout)] {
                for loaded in engine.order(hook, m.as_deref().unwrap_or("")) {
                    let rc = config
                        .rules
                        .iter()
                        .find(|r| r.id == loaded.id)
                        .context("engine rule not in config")?;
                    let name = crate_of(rc).context("not a bundled rule")?;
                    let settings = serde_json::to_string(&rc.settings)?;
                    let id_json = serde_json::to_string(&rc.id)?;
                    let (prefix, f) = match encoding {
                        Encoding::Compact => {
                            let mut p = Vec::new();
                            compact::encode_rule_part(&rc.id, &settings, &mut p);
                            (p, native(name, hook))
                        }
                        Encoding::Json => (
                            format!(
                                "{{\"abi_version\":{ABI_VERSION_JSON},\"rule_id\":{id_json},\"settings\":{settings},"
                            )
                            .into_bytes(),
                            native_json(name, hook),
                        ),
                    };
                    slots[slot].push(NativeRule {
                        id: rc.id.clone(),
                        scope: loaded.scope.clone(),
                        prefix,
                        f: f.context("no native entry")?,
                    });
                }
            }
            order.insert(m, slots);
        }
        Ok(NativeRules { order, encoding })
    }

    fn evaluate(
        &self,
        hook: Hook,
        merchant: &str,
        now: i64,
        request: &(impl Serialize + Section),
        facts: &(impl Serialize + Section),
    ) -> Evaluation {
        let rules = self
            .order
            .get(&Some(merchant.to_string()))
            .or_else(|| self.order.get(&None))
            .map_or(&[][..], |s| &s[usize::from(hook == Hook::Payout)][..]);
        let shared = match self.encoding {
            Encoding::Compact => {
                let mut shared = Vec::with_capacity(512);
                compact::encode_request_part(hook, now, request, facts, &mut shared);
                shared
            }
            Encoding::Json => {
                let mut shared =
                    format!("\"hook\":\"{hook}\",\"now\":{now},\"request\":").into_bytes();
                shared.extend(serde_json::to_vec(request).unwrap_or_default());
                shared.extend_from_slice(b",\"facts\":");
                shared.extend(serde_json::to_vec(facts).unwrap_or_default());
                shared.push(b'}');
                shared
            }
        };
        let mut input = Vec::with_capacity(shared.len() + 256);
        let outcomes = rules
            .iter()
            .map(|rule| {
                input.clear();
                input.extend_from_slice(&rule.prefix);
                input.extend_from_slice(&shared);
                let started = std::time::Instant::now();
                let out = (rule.f)(&input);
                let (verdict, reason, note) = match parse_output(&out) {
                    Ok(d) => (d.verdict, d.reason, d.note),
                    Err(e) => (Verdict::Review, e.reason.code().to_string(), None),
                };
                RuleOutcome {
                    rule_id: rule.id.clone(),
                    scope: rule.scope.clone(),
                    digest: String::new(),
                    verdict,
                    reason,
                    note,
                    failure: None,
                    detail: None,
                    logs: Vec::new(),
                    failed_open: false,
                    fuel_used: Some(0),
                    duration_ns: u64::try_from(started.elapsed().as_nanos()).unwrap_or(0),
                }
            })
            .collect();
        Evaluation::combine(outcomes)
    }
}

impl Evaluator for NativeRules {
    fn claim(&self, now: i64, request: &ClaimRequest, facts: &ClaimFacts) -> Evaluation {
        self.evaluate(Hook::Claim, &request.merchant_id, now, request, facts)
    }

    fn payout(&self, now: i64, request: &PayoutRequest, facts: &PayoutFacts) -> Evaluation {
        self.evaluate(Hook::Payout, &request.merchant_id, now, request, facts)
    }
}

/// `events` lines of seeded sample traffic (`hongbao gen-traffic`).
///
/// # Errors
///
/// Returns the generator's error.
pub fn traffic(events: usize) -> Result<Vec<u8>> {
    let cfg = hongbao::traffic::TrafficConfig {
        events,
        merchants: DEMO_MERCHANTS,
        ..hongbao::traffic::TrafficConfig::default()
    };
    let mut out = Vec::new();
    hongbao::traffic::generate(&cfg, &mut out)?;
    Ok(out)
}

/// Minor page faults of this thread per run of `f`, over `runs` runs: read
/// from `/proc/thread-self/stat` (Linux; `NaN` elsewhere).
pub fn minor_faults(runs: u32, mut f: impl FnMut()) -> f64 {
    fn read() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        // Fields after the command name, which is in parentheses.
        let rest = stat.rsplit_once(')')?.1;
        rest.split_whitespace().nth(7)?.parse().ok()
    }
    f();
    let Some(before) = read() else {
        return f64::NAN;
    };
    for _ in 0..runs {
        f();
    }
    read().map_or(f64::NAN, |after| (after - before) as f64 / f64::from(runs))
}

/// Counts the calls that failed inside a timed loop, where a panic would
/// throw the whole run away: on a loaded machine a call can, rarely, hit
/// its wall-clock backstop. Every runner's answer is checked before timing;
/// a bench reports its failures when it ends.
#[derive(Debug, Default)]
pub struct Failures {
    count: std::cell::Cell<u64>,
    first: std::cell::RefCell<Option<String>>,
}

impl Failures {
    /// Passes a result through, counting it if it is an error.
    pub fn check<T>(&self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.count.set(self.count.get() + 1);
                self.first
                    .borrow_mut()
                    .get_or_insert_with(|| format!("{e:#}"));
                None
            }
        }
    }

    /// Prints how many calls failed under `name`, if any, and resets.
    pub fn report(&self, name: &str) {
        let n = self.count.replace(0);
        if n > 0 {
            let first = self.first.borrow_mut().take().unwrap_or_default();
            eprintln!("warning: {name}: {n} calls failed while timed; first: {first}");
        }
    }
}

/// A criterion measurement of CPU time (user and system, so page faults
/// and `madvise` count), from `clock_gettime`: of the calling thread
/// (`CLOCK_THREAD_CPUTIME_ID`), or of the whole process
/// (`CLOCK_PROCESS_CPUTIME_ID`: the rule workers, and the epoch ticker's
/// few microseconds per millisecond). On a shared machine where other
/// builds compete for the cores, wall time counts the time a thread waited
/// for a core; CPU time does not. See [`Clock`].
#[derive(Clone, Copy, Debug)]
pub struct Cpu(rustix::time::ClockId);

/// Which clock a bench reads, from `HONGBAO_BENCH_CLOCK` (`thread`,
/// `process` or `wall`), else the bench's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// This thread's CPU time: for calls made on the bench's own thread.
    Thread,
    /// The process's CPU time: for evaluations the engine spreads over its
    /// workers (the cost, not the latency).
    Process,
    /// Criterion's wall time (the latency, as loaded as the machine is).
    Wall,
}

impl Clock {
    /// The clock to use: `HONGBAO_BENCH_CLOCK`, else `default`.
    pub fn from_env(default: Clock) -> Clock {
        match std::env::var("HONGBAO_BENCH_CLOCK").as_deref() {
            Ok("thread") => Clock::Thread,
            Ok("process") => Clock::Process,
            Ok("wall") => Clock::Wall,
            _ => default,
        }
    }
}

fn cpu_ns(clock: rustix::time::ClockId) -> u64 {
    let t = rustix::time::clock_gettime(clock);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

/// This thread's CPU time, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    cpu_ns(rustix::time::ClockId::ThreadCPUTime)
}

/// CPU time of the whole process (every thread), in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    cpu_ns(rustix::time::ClockId::ProcessCPUTime)
}

impl Cpu {
    /// CPU time of the clock chosen, or `None` for wall time.
    pub fn of(clock: Clock) -> Option<Cpu> {
        match clock {
            Clock::Thread => Some(Cpu(rustix::time::ClockId::ThreadCPUTime)),
            Clock::Process => Some(Cpu(rustix::time::ClockId::ProcessCPUTime)),
            Clock::Wall => None,
        }
    }
}

/// The time of `clock` now, in nanoseconds from an arbitrary start.
pub fn clock_ns(clock: Clock) -> u64 {
    match clock {
        Clock::Thread => thread_cpu_ns(),
        Clock::Process => process_cpu_ns(),
        Clock::Wall => cpu_ns(rustix::time::ClockId::Monotonic),
    }
}

/// A measurement whose value can be made from nanoseconds, for benches that
/// time a batch themselves (`iter_custom`).
pub trait FromNanos: criterion::measurement::Measurement {
    /// The value of `ns` nanoseconds.
    fn from_nanos(ns: u64) -> Self::Value;
}

impl FromNanos for Cpu {
    fn from_nanos(ns: u64) -> u64 {
        ns
    }
}

impl FromNanos for criterion::measurement::WallTime {
    fn from_nanos(ns: u64) -> std::time::Duration {
        std::time::Duration::from_nanos(ns)
    }
}

impl criterion::measurement::Measurement for Cpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        cpu_ns(self.0)
    }
    fn end(&self, start: u64) -> u64 {
        cpu_ns(self.0).saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        &NanosFormatter
    }
}

struct NanosFormatter;

impl criterion::measurement::ValueFormatter for NanosFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else if ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        typical_ns: f64,
        throughput: &criterion::Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_sample = match *throughput {
            criterion::Throughput::Elements(n)
            | criterion::Throughput::ElementsAndBytes { elements: n, .. } => n as f64,
            criterion::Throughput::Bytes(n) | criterion::Throughput::BytesDecimal(n) => n as f64,
            criterion::Throughput::Bits(n) => n as f64,
        };
        let (denominator, unit) = if per_sample * 1e9 / typical_ns < 1e6 {
            (1e3, "Kelem/s")
        } else {
            (1e6, "Melem/s")
        };
        values
            .iter_mut()
            .for_each(|v| *v = per_sample * 1e9 / *v / denominator);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// The `main` of a bench: runs `bench` under the [`Clock`] that
/// `HONGBAO_BENCH_CLOCK` names, else `$default`.
#[macro_export]
macro_rules! bench_main {
    ($bench:path, $default:expr) => {
        fn main() {
            let clock = $crate::Clock::from_env($default);
            eprintln!("clock: {clock:?} (HONGBAO_BENCH_CLOCK=thread|process|wall)");
            match $crate::Cpu::of(clock) {
                None => {
                    let mut c = criterion::Criterion::default().configure_from_args();
                    $bench(&mut c);
                    c.final_summary();
                }
                Some(cpu) => {
                    let mut c = criterion::Criterion::default()
                        .with_measurement(cpu)
                        .configure_from_args();
                    $bench(&mut c);
                    c.final_summary();
                }
            }
        }
    };
}
