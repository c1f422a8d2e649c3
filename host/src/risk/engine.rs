//! The rule registry and the [`Evaluator`] the settlement core calls: every
//! configured rule loaded and checked at start-up, then run in a fresh
//! instance per evaluation in a stable order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rules_sdk::{ABI_VERSION, ClaimFacts, ClaimRequest, Hook, PayoutFacts, PayoutRequest, Verdict};
use serde::Serialize;
use thiserror::Error;
use wasmtime::{Extern, Store};

use super::call::{CallFailure, call, classify, instantiate};
use super::evaluation::{Evaluation, Evaluator, RuleOutcome, Scope};
use super::limits::Limits;
use super::module::CompiledModule;
use super::sandbox::{Sandbox, SandboxError};
use super::store::CallState;
use crate::config::{Config, ModuleSource, ScopeKind};

/// Why the rules could not be loaded. Every refused rule is listed.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The sandbox could not be built.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// One or more rules were refused.
    #[error("{}", format_refusals(.0))]
    Refused(Vec<Refusal>),
}

/// One refused rule and every reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The rule id (or file name for `hongbao check`).
    pub rule: String,
    /// Every problem found, one sentence each.
    pub problems: Vec<String>,
}

fn format_refusals(r: &[Refusal]) -> String {
    let mut lines = Vec::new();
    for refusal in r {
        for p in &refusal.problems {
            lines.push(format!("rule {} refused: {p}", refusal.rule));
        }
    }
    lines.join("\n")
}

/// One loaded rule: its module, limits, settings and failure verdicts.
#[derive(Debug)]
pub struct LoadedRule {
    /// The rule id.
    pub id: String,
    /// Platform or merchant.
    pub scope: Scope,
    /// Evaluation priority (lower first).
    pub priority: i32,
    /// Hooks the rule runs at.
    pub hooks: Vec<Hook>,
    /// Limits in force for its calls.
    pub limits: Limits,
    /// Failure verdict per hook (claim, payout).
    pub on_failure: [Verdict; 2],
    module: Arc<CompiledModule>,
    /// `"rule_id":"..","settings":{..},` pre-encoded once at load.
    input_prefix: Vec<u8>,
}

impl LoadedRule {
    /// SHA-256 of the module, hex.
    pub fn digest(&self) -> &str {
        self.module.digest()
    }

    fn failure_verdict(&self, hook: Hook) -> Verdict {
        match hook {
            Hook::Claim => self.on_failure[0],
            Hook::Payout => self.on_failure[1],
        }
    }

    fn sort_key(&self) -> (i32, &Scope, &str) {
        (self.priority, &self.scope, &self.id)
    }
}

/// The loaded rule set and the sandbox it runs in.
///
/// Guest code runs on the calling thread's native stack: call the engine
/// (and [`RiskEngine::load`], which runs each module once) from threads with
/// at least [`super::limits::WORKER_STACK_BYTES`] of stack, as the `hongbao`
/// binary does, so that a deep-recursing rule traps with `stack-overflow`
/// rather than overflowing the thread.
pub struct RiskEngine {
    sandbox: Arc<Sandbox>,
    rules: Vec<LoadedRule>,
    /// Per hook: the platform rules, in evaluation order.
    platform_order: [Vec<usize>; 2],
    /// Per merchant with rules of its own, per hook: platform and merchant
    /// rules merged in evaluation order.
    merchant_order: HashMap<String, [Vec<usize>; 2]>,
}

impl std::fmt::Debug for RiskEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RiskEngine")
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

/// Bytes of a sample rule bundled into the binary, by name.
pub type BundledLookup<'a> = &'a dyn Fn(&str) -> Option<&'static [u8]>;

fn hook_slot(hook: Hook) -> usize {
    match hook {
        Hook::Claim => 0,
        Hook::Payout => 1,
    }
}

impl RiskEngine {
    /// Builds the sandbox and loads every rule of `config`: reads, compiles
    /// (once per distinct module), checks against the rule's limits and
    /// hooks, and probes `hongbao_abi_version` in a fresh instance.
    ///
    /// # Errors
    ///
    /// Returns [`LoadError::Refused`] listing every refused rule with every
    /// reason, so that one run shows all that is wrong.
    pub fn load(config: &Config, bundled: BundledLookup<'_>) -> Result<RiskEngine, LoadError> {
        let sandbox = Arc::new(Sandbox::new(&config.sandbox)?);
        let defaults = Limits::default().with(&config.limits);
        let mut compiled: HashMap<String, Result<Arc<CompiledModule>, Vec<String>>> =
            HashMap::new();
        let mut rules = Vec::new();
        let mut refusals = Vec::new();
        for rc in &config.rules {
            let limits = defaults.with(&rc.limits);
            let bytes = match config.module_source(rc) {
                ModuleSource::Bundled(name) => match bundled(&name) {
                    Some(b) => std::borrow::Cow::Borrowed(b),
                    None => {
                        refusals.push(Refusal {
                            rule: rc.id.clone(),
                            problems: vec![format!("no bundled module named {name:?}")],
                        });
                        continue;
                    }
                },
                ModuleSource::File(path) => match std::fs::read(&path) {
                    Ok(b) => std::borrow::Cow::Owned(b),
                    Err(e) => {
                        refusals.push(Refusal {
                            rule: rc.id.clone(),
                            problems: vec![format!("cannot read module {}: {e}", path.display())],
                        });
                        continue;
                    }
                },
            };
            // Size first: a module over its limit is never compiled, so a
            // compile-time bomb costs nothing beyond reading it.
            if bytes.len() as u64 > limits.module_bytes_max {
                refusals.push(Refusal {
                    rule: rc.id.clone(),
                    problems: vec![format!(
                        "module of {} bytes exceeds module_bytes_max = {}",
                        bytes.len(),
                        limits.module_bytes_max
                    )],
                });
                continue;
            }
            let digest = super::module::digest(&bytes);
            let module = compiled
                .entry(digest)
                .or_insert_with(|| CompiledModule::compile(&sandbox, &bytes).map(Arc::new));
            let module = match module {
                Ok(m) => Arc::clone(m),
                Err(problems) => {
                    refusals.push(Refusal {
                        rule: rc.id.clone(),
                        problems: problems.clone(),
                    });
                    continue;
                }
            };
            let mut problems = module.check_fits(&limits, &rc.hooks);
            if problems.is_empty()
                && let Err(p) = probe(&sandbox, &module, &limits)
            {
                problems.push(p);
            }
            if problems.is_empty() {
                problems.extend(check_settings(&sandbox, &module, &limits, rc));
            }
            if !problems.is_empty() {
                refusals.push(Refusal {
                    rule: rc.id.clone(),
                    problems,
                });
                continue;
            }
            let settings = serde_json::to_string(&rc.settings).unwrap_or_else(|_| "{}".into());
            let id_json = serde_json::to_string(&rc.id).unwrap_or_else(|_| "\"\"".into());
            let input_prefix = format!(
                "{{\"abi_version\":{ABI_VERSION},\"rule_id\":{id_json},\"settings\":{settings},"
            )
            .into_bytes();
            let scope = match (rc.scope, &rc.merchant) {
                (ScopeKind::Merchant, Some(m)) => Scope::Merchant(m.clone()),
                _ => Scope::Platform,
            };
            rules.push(LoadedRule {
                id: rc.id.clone(),
                scope,
                priority: rc.priority,
                hooks: rc.hooks.clone(),
                limits,
                on_failure: [
                    rc.on_failure.at(Hook::Claim),
                    rc.on_failure.at(Hook::Payout),
                ],
                module,
                input_prefix,
            });
        }
        if !refusals.is_empty() {
            return Err(LoadError::Refused(refusals));
        }
        Ok(RiskEngine::from_rules(sandbox, rules))
    }

    fn from_rules(sandbox: Arc<Sandbox>, mut rules: Vec<LoadedRule>) -> RiskEngine {
        // The one documented order: (priority, scope with platform first, id).
        rules.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let mut platform_order: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        let mut by_merchant: BTreeMap<String, ()> = BTreeMap::new();
        for (i, r) in rules.iter().enumerate() {
            match &r.scope {
                Scope::Platform => {
                    for &h in &r.hooks {
                        platform_order[hook_slot(h)].push(i);
                    }
                }
                Scope::Merchant(m) => {
                    by_merchant.insert(m.clone(), ());
                }
            }
        }
        let mut merchant_order = HashMap::new();
        for m in by_merchant.keys() {
            let mut slots: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
            for (i, r) in rules.iter().enumerate() {
                let applies = match &r.scope {
                    Scope::Platform => true,
                    Scope::Merchant(rm) => rm == m,
                };
                if applies {
                    for &h in &r.hooks {
                        slots[hook_slot(h)].push(i);
                    }
                }
            }
            merchant_order.insert(m.clone(), slots);
        }
        RiskEngine {
            sandbox,
            rules,
            platform_order,
            merchant_order,
        }
    }

    /// Every loaded rule, in evaluation order.
    pub fn rules(&self) -> &[LoadedRule] {
        &self.rules
    }

    /// The sandbox the rules run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The rules that run at `hook` for packets of `merchant`, in order.
    pub fn order(&self, hook: Hook, merchant: &str) -> impl Iterator<Item = &LoadedRule> {
        let slots = self
            .merchant_order
            .get(merchant)
            .unwrap_or(&self.platform_order);
        slots[hook_slot(hook)].iter().map(|&i| &self.rules[i])
    }

    /// Evaluates `hook` with a request and facts already encoded as JSON.
    pub fn evaluate_encoded(
        &self,
        hook: Hook,
        merchant: &str,
        now: i64,
        request: &[u8],
        facts: &[u8],
    ) -> Evaluation {
        let mut shared = Vec::with_capacity(request.len() + facts.len() + 64);
        shared.extend_from_slice(
            format!("\"hook\":\"{hook}\",\"now\":{now},\"request\":").as_bytes(),
        );
        shared.extend_from_slice(request);
        shared.extend_from_slice(b",\"facts\":");
        shared.extend_from_slice(facts);
        shared.push(b'}');
        let mut input = Vec::with_capacity(shared.len() + 256);
        let outcomes = self
            .order(hook, merchant)
            .map(|rule| {
                input.clear();
                input.extend_from_slice(&rule.input_prefix);
                input.extend_from_slice(&shared);
                self.run_rule(rule, hook, &input)
            })
            .collect();
        Evaluation::combine(outcomes)
    }

    fn run_rule(&self, rule: &LoadedRule, hook: Hook, input: &[u8]) -> RuleOutcome {
        let result = call(&self.sandbox, &rule.module, hook, &rule.limits, input);
        let (verdict, reason, note, failure, detail, failed_open) = match result.outcome {
            Ok(d) => (d.verdict, d.reason, d.note, None, None, false),
            Err(CallFailure { reason, detail }) => {
                let v = rule.failure_verdict(hook);
                (
                    v,
                    reason.code().to_string(),
                    None,
                    Some(reason),
                    Some(detail),
                    v == Verdict::Allow,
                )
            }
        };
        let logs = result
            .logs
            .into_iter()
            .map(|(level, line)| format!("{}: {line}", log_level_name(level)))
            .collect();
        RuleOutcome {
            rule_id: rule.id.clone(),
            scope: rule.scope.clone(),
            digest: rule.digest().to_string(),
            verdict,
            reason,
            note,
            failure,
            detail,
            logs,
            failed_open,
            fuel_used: result.fuel_used,
            duration_ns: result.duration_ns,
        }
    }

    fn evaluate<R: Serialize, F: Serialize>(
        &self,
        hook: Hook,
        merchant: &str,
        now: i64,
        request: &R,
        facts: &F,
    ) -> Evaluation {
        match (serde_json::to_vec(request), serde_json::to_vec(facts)) {
            (Ok(r), Ok(f)) => self.evaluate_encoded(hook, merchant, now, &r, &f),
            // Plain structs always encode; if one ever did not, every rule
            // fails with its failure verdict rather than being skipped.
            _ => Evaluation::combine(
                self.order(hook, merchant)
                    .map(|rule| RuleOutcome {
                        rule_id: rule.id.clone(),
                        scope: rule.scope.clone(),
                        digest: rule.digest().to_string(),
                        verdict: rule.failure_verdict(hook),
                        reason: "host-error".into(),
                        note: None,
                        failure: Some(super::FailureReason::HostError),
                        detail: Some("cannot encode input".into()),
                        logs: Vec::new(),
                        failed_open: rule.failure_verdict(hook) == Verdict::Allow,
                        fuel_used: 0,
                        duration_ns: 0,
                    })
                    .collect(),
            ),
        }
    }
}

impl Evaluator for RiskEngine {
    fn claim(&self, now: i64, request: &ClaimRequest, facts: &ClaimFacts) -> Evaluation {
        self.evaluate(Hook::Claim, &request.merchant_id, now, request, facts)
    }

    fn payout(&self, now: i64, request: &PayoutRequest, facts: &PayoutFacts) -> Evaluation {
        self.evaluate(Hook::Payout, &request.merchant_id, now, request, facts)
    }
}

fn log_level_name(level: i32) -> &'static str {
    match level {
        rules_sdk::abi::log_level::DEBUG => "debug",
        rules_sdk::abi::log_level::INFO => "info",
        rules_sdk::abi::log_level::WARN => "warn",
        _ => "error",
    }
}

/// Instantiates the module once under `limits` (running any start function)
/// and checks that it speaks this host's ABI version.
fn probe(sandbox: &Sandbox, module: &CompiledModule, limits: &Limits) -> Result<(), String> {
    let mut store = Store::new(sandbox.engine(), CallState::new(limits));
    let instance = instantiate(&mut store, module, limits)
        .map_err(|f| format!("fails to instantiate: {} ({})", f.reason, f.detail))?;
    let Some(Extern::Func(f)) = instance.get_module_export(&mut store, &module.abi_version) else {
        return Err("hongbao_abi_version is missing".into());
    };
    let f = f
        .typed::<(), i32>(&store)
        .map_err(|e| format!("hongbao_abi_version has the wrong type: {e:#}"))?;
    let v = f.call(&mut store, ()).map_err(|e| {
        let c = classify(&e, "hongbao_abi_version");
        format!("hongbao_abi_version failed: {} ({})", c.reason, c.detail)
    })?;
    if v != ABI_VERSION as i32 {
        return Err(format!(
            "hongbao_abi_version returned {v}; this host speaks ABI version {ABI_VERSION}"
        ));
    }
    Ok(())
}

/// Runs each configured hook once on an ordinary request (the SDK's test
/// fixtures) with the rule's settings. A rule that answers with an explicit
/// error there is telling us its settings are wrong (a misspelt key, a bad
/// value): refuse it at load rather than let it fail every request. Traps
/// and limits are left to the traffic, where they get the failure verdict.
fn check_settings(
    sandbox: &Sandbox,
    module: &CompiledModule,
    limits: &Limits,
    rc: &crate::config::RuleConfig,
) -> Vec<String> {
    let settings = serde_json::to_value(&rc.settings).unwrap_or_default();
    let mut problems = Vec::new();
    for &hook in &rc.hooks {
        let input = match hook {
            Hook::Claim => {
                let mut i = rules_sdk::testing::claim_fixture();
                i.rule_id = rc.id.clone();
                i.settings = settings.clone();
                serde_json::to_vec(&i)
            }
            Hook::Payout => {
                let mut i = rules_sdk::testing::payout_fixture();
                i.rule_id = rc.id.clone();
                i.settings = settings.clone();
                serde_json::to_vec(&i)
            }
        };
        let Ok(input) = input else { continue };
        if let Err(CallFailure {
            reason: super::FailureReason::RuleError,
            detail,
        }) = call(sandbox, module, hook, limits, &input).outcome
        {
            problems.push(format!(
                "answers an ordinary {hook} with an error, so its settings are likely wrong: {detail}"
            ));
        }
    }
    problems
}

/// Checks one module file the way the loader would, against the default
/// limits and whatever hooks it exports. Used by `hongbao check`.
///
/// # Errors
///
/// Returns every reason the module is refused.
pub fn check_module(
    sandbox: &Sandbox,
    bytes: &[u8],
    limits: &Limits,
) -> Result<CompiledModule, Vec<String>> {
    if bytes.len() as u64 > limits.module_bytes_max {
        return Err(vec![format!(
            "module of {} bytes exceeds module_bytes_max = {}",
            bytes.len(),
            limits.module_bytes_max
        )]);
    }
    let module = CompiledModule::compile(sandbox, bytes)?;
    let mut problems = module.check_fits(limits, &[]);
    if problems.is_empty()
        && let Err(p) = probe(sandbox, &module, limits)
    {
        problems.push(p);
    }
    if problems.is_empty() {
        Ok(module)
    } else {
        Err(problems)
    }
}
