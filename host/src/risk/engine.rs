//! The rule registry and the [`Evaluator`] the settlement core calls: every
//! configured rule loaded and checked at start-up, then run in a fresh
//! instance per evaluation in a stable order.

use std::collections::HashMap;
use std::sync::Arc;

use rules_sdk::abi::{ABI_VERSION_COMPACT, ABI_VERSION_JSON};
use rules_sdk::compact::{self, Section};
use rules_sdk::{ClaimFacts, ClaimRequest, Hook, PayoutFacts, PayoutRequest, Verdict};
use serde::Serialize;
use thiserror::Error;

use super::call::{CallFailure, call};
use super::evaluation::{Evaluation, Evaluator, RuleOutcome, Scope};
use super::limits::{Limits, RefusedRules};
use super::module::{CompiledModule, Prepared, prepare, prepare_uncompiled};
use super::probe::{diagnose, probe};
use super::sandbox::{Sandbox, SandboxError};
use crate::config::{Config, ModuleSource, RuleConfig, ScopeKind};

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

/// A configured rule whose module has been read and prepared, with the
/// limits in force for it.
type Staged<'a> = (&'a RuleConfig, Limits, Arc<Prepared>);

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
    /// Why the rule was refused at load, when it was and the config said
    /// to fail closed: it never runs, and every call records `refused`.
    pub refused: Option<String>,
    digest: String,
    module: Option<Arc<CompiledModule>>,
    /// The ABI version the module declared: the encoding of its inputs
    /// (0 for a refused rule, which never runs).
    abi_version: u32,
    /// The rule's part of every input (version, id, settings), encoded
    /// once at load in the module's ABI version: for JSON,
    /// `{"abi_version":1,"rule_id":"..","settings":{..},`.
    input_prefix: Vec<u8>,
}

impl LoadedRule {
    /// SHA-256 of the module, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The ABI version the module speaks (1: JSON input, 2: compact
    /// input); 0 for a rule refused at load.
    pub fn abi_version(&self) -> u32 {
        self.abi_version
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
/// Guest code runs only on the sandbox's worker threads (see
/// [`super::workers`]), never on the caller's: the engine may be called from
/// any thread, and the rules of one request run in parallel.
pub struct RiskEngine {
    sandbox: Arc<Sandbox>,
    rules: Vec<LoadedRule>,
    /// Per hook: the platform rules, in evaluation order.
    platform_order: [Vec<usize>; 2],
    /// Per merchant with rules of its own, per hook: platform and merchant
    /// rules merged in evaluation order.
    merchant_order: HashMap<String, [Vec<usize>; 2]>,
    /// Rules refused at load that fail closed.
    refusals: Vec<Refusal>,
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

/// Two ascending lists of indexes merged into one.
fn merge_sorted(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

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
        // Read and hash each distinct source once, and compile once per
        // distinct module (by digest): ten thousand merchants on one sample
        // rule read, hash and compile it once.
        type Source<'b> = Result<(std::borrow::Cow<'b, [u8]>, String), String>;
        let mut sources: HashMap<String, Source<'_>> = HashMap::new();
        let mut prepared: HashMap<String, Arc<Prepared>> = HashMap::new();
        let mut staged: Vec<Result<Staged<'_>, Refusal>> = Vec::new();
        for rc in &config.rules {
            let limits = defaults.with(&rc.limits);
            let source = config.module_source(rc);
            let read = sources.entry(format!("{source:?}")).or_insert_with(|| {
                let bytes = match &source {
                    ModuleSource::Bundled(name) => match bundled(name) {
                        Some(b) => std::borrow::Cow::Borrowed(b),
                        None => return Err(format!("no bundled module named {name:?}")),
                    },
                    ModuleSource::File(path) => {
                        std::borrow::Cow::Owned(super::module::read_module_file(path)?)
                    }
                };
                let digest = super::module::digest(&bytes);
                Ok((bytes, digest))
            });
            let (bytes, digest) = match read {
                Ok(r) => r,
                Err(problem) => {
                    staged.push(Err(Refusal {
                        rule: rc.id.clone(),
                        problems: vec![problem.clone()],
                    }));
                    continue;
                }
            };
            // Size first: a module over this rule's limit is inspected for
            // the report but never compiled, so a compile-time bomb costs
            // nothing beyond reading it.
            let p = if bytes.len() as u64 > limits.module_bytes_max {
                Arc::new(prepare_uncompiled(&sandbox, bytes))
            } else {
                Arc::clone(
                    prepared
                        .entry(digest.clone())
                        .or_insert_with(|| Arc::new(prepare(&sandbox, bytes))),
                )
            };
            staged.push(Ok((rc, limits, p)));
        }
        // Check every rule against its own limits: instantiate it once (its
        // start function included), probe the ABI version, try its settings.
        // Rules are independent, so this is spread over the workers.
        // The probe depends only on the module and the limits, so rules
        // sharing both (thousands of merchants on one sample rule) share it.
        let probes = ProbeCache::default();
        let checked = sandbox.workers().map(&staged, |s| match s {
            Err(r) => Err(r.clone()),
            Ok((rc, limits, p)) => assess(&sandbox, p, limits, &rc.hooks, &probes)
                .and_then(|(module, version)| {
                    let problems = check_settings(&sandbox, &module, version, limits, rc);
                    if problems.is_empty() {
                        Ok((module, version))
                    } else {
                        Err(problems)
                    }
                })
                .map(|(module, version)| loaded_rule(rc, limits.clone(), module, version))
                .map_err(|problems| Refusal {
                    rule: rc.id.clone(),
                    problems,
                }),
        });
        let mut rules = Vec::new();
        let mut refusals = Vec::new();
        for (c, s) in checked.into_iter().zip(&staged) {
            match c {
                Ok(rule) => rules.push(rule),
                Err(r) => {
                    // A rule refused before its module was prepared has no
                    // digest; the config entry is the same either way.
                    let (rc, digest) = match s {
                        Ok((rc, _, p)) => (*rc, p.digest.clone()),
                        Err(_) => match config.rules.iter().find(|rc| rc.id == r.rule) {
                            Some(rc) => (rc, String::new()),
                            None => continue,
                        },
                    };
                    rules.push(refused_rule(rc, defaults.with(&rc.limits), digest, &r));
                    refusals.push(r);
                }
            }
        }
        if !refusals.is_empty() && config.sandbox.refused_rules == RefusedRules::Stop {
            return Err(LoadError::Refused(refusals));
        }
        let mut engine = RiskEngine::from_rules(sandbox, rules);
        engine.refusals = refusals;
        Ok(engine)
    }

    fn from_rules(sandbox: Arc<Sandbox>, mut rules: Vec<LoadedRule>) -> RiskEngine {
        // The one documented order: (priority, scope with platform first, id).
        rules.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        // Indexes follow the evaluation order, so each merchant's list is
        // the merge of two sorted lists: linear in the rules, whatever the
        // number of merchants.
        let mut platform_order: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        let mut own: HashMap<&str, [Vec<usize>; 2]> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            let slots = match &r.scope {
                Scope::Platform => &mut platform_order,
                Scope::Merchant(m) => own.entry(m.as_str()).or_default(),
            };
            for &h in &r.hooks {
                slots[hook_slot(h)].push(i);
            }
        }
        let merchant_order = own
            .into_iter()
            .map(|(m, slots)| {
                let merged = [0, 1].map(|h| merge_sorted(&platform_order[h], &slots[h]));
                (m.to_string(), merged)
            })
            .collect();
        RiskEngine {
            sandbox,
            rules,
            platform_order,
            merchant_order,
            refusals: Vec::new(),
        }
    }

    /// The rules refused at load that fail closed (empty unless the config
    /// says `refused_rules = "fail-closed"`).
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
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

    /// Evaluates `hook` for a packet of `merchant`: every rule in order,
    /// each on its own copy of the input in its module's encoding, spread
    /// over the workers; the outcomes come back in evaluation order.
    fn evaluate<R: Serialize + Section, F: Serialize + Section>(
        &self,
        hook: Hook,
        merchant: &str,
        now: i64,
        request: &R,
        facts: &F,
    ) -> Evaluation {
        let rules: Vec<&LoadedRule> = self.order(hook, merchant).collect();
        // The request's part of the input, once per encoding in use.
        let json = rules
            .iter()
            .any(|r| r.abi_version == ABI_VERSION_JSON)
            .then(|| json_request_part(hook, now, request, facts));
        let compact = rules
            .iter()
            .any(|r| r.abi_version == ABI_VERSION_COMPACT)
            .then(|| {
                let mut out = Vec::with_capacity(512);
                compact::encode_request_part(hook, now, request, facts, &mut out);
                out
            });
        let outcomes = self.sandbox.workers().map(&rules, |rule| {
            let shared = match rule.abi_version {
                ABI_VERSION_COMPACT => compact.as_deref(),
                ABI_VERSION_JSON => json.as_ref().and_then(|j| j.as_deref()),
                // A rule refused at load never runs; it records `refused`.
                _ => Some(&[][..]),
            };
            // Plain structs always encode as JSON; if one ever did not, the
            // rule fails with its failure verdict rather than being skipped.
            let input = shared.map(|shared| {
                let mut input = Vec::with_capacity(rule.input_prefix.len() + shared.len());
                input.extend_from_slice(&rule.input_prefix);
                input.extend_from_slice(shared);
                input
            });
            self.run_rule(rule, hook, input.as_deref())
        });
        Evaluation::combine(outcomes)
    }

    /// One rule's outcome: its call on `input`, or, for a rule refused at
    /// load or an input that could not be encoded (`None`), the failure
    /// that stands for the call it never made.
    fn run_rule(&self, rule: &LoadedRule, hook: Hook, input: Option<&[u8]>) -> RuleOutcome {
        let not_run = |reason, detail: String| super::call::CallResult {
            outcome: Err(CallFailure { reason, detail }),
            fuel_used: Some(0),
            duration_ns: 0,
            logs: Vec::new(),
        };
        let result = match (&rule.module, &rule.refused, input) {
            (Some(module), None, Some(input)) => {
                call(&self.sandbox, module, hook, &rule.limits, input)
            }
            (Some(_), None, None) => not_run(
                super::FailureReason::HostError,
                "cannot encode input".into(),
            ),
            (_, why, _) => not_run(
                super::FailureReason::Refused,
                why.clone().unwrap_or_default(),
            ),
        };
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
}

impl Evaluator for RiskEngine {
    fn claim(&self, now: i64, request: &ClaimRequest, facts: &ClaimFacts) -> Evaluation {
        self.evaluate(Hook::Claim, &request.merchant_id, now, request, facts)
    }

    fn payout(&self, now: i64, request: &PayoutRequest, facts: &PayoutFacts) -> Evaluation {
        self.evaluate(Hook::Payout, &request.merchant_id, now, request, facts)
    }

    fn run_on_worker(&self, work: Box<dyn FnOnce() + Send + '_>) {
        self.sandbox.workers().run(work);
    }
}

/// `"hook":..,"now":..,"request":{..},"facts":{..}}`: the request's part of
/// a JSON input, after a rule's prefix. `None` if it does not encode.
fn json_request_part<R: Serialize, F: Serialize>(
    hook: Hook,
    now: i64,
    request: &R,
    facts: &F,
) -> Option<Vec<u8>> {
    let (request, facts) = (
        serde_json::to_vec(request).ok()?,
        serde_json::to_vec(facts).ok()?,
    );
    let mut shared = Vec::with_capacity(request.len() + facts.len() + 64);
    shared.extend_from_slice(format!("\"hook\":\"{hook}\",\"now\":{now},\"request\":").as_bytes());
    shared.extend_from_slice(&request);
    shared.extend_from_slice(b",\"facts\":");
    shared.extend_from_slice(&facts);
    shared.push(b'}');
    Some(shared)
}

fn log_level_name(level: i32) -> &'static str {
    match level {
        rules_sdk::abi::log_level::DEBUG => "debug",
        rules_sdk::abi::log_level::INFO => "info",
        rules_sdk::abi::log_level::WARN => "warn",
        _ => "error",
    }
}

/// Runs each configured hook once on an ordinary request (the SDK's test
/// fixtures) with the rule's settings. A rule that answers with an explicit
/// error there is telling us its settings are wrong (a misspelt key, a bad
/// value): refuse it at load rather than let it fail every request. Traps
/// and limits are left to the traffic, where they get the failure verdict.
fn check_settings(
    sandbox: &Sandbox,
    module: &CompiledModule,
    abi_version: u32,
    limits: &Limits,
    rc: &crate::config::RuleConfig,
) -> Vec<String> {
    let settings = serde_json::to_value(&rc.settings).unwrap_or_default();
    let mut problems = Vec::new();
    for &hook in &rc.hooks {
        let Some(input) = ordinary_input(hook, abi_version, Some((&rc.id, &settings))) else {
            continue;
        };
        // An input bigger than the rule may take would fail every call
        // with host-error: refuse the rule now, not during traffic.
        if input.len() as u64 > limits.input_bytes_max {
            problems.push(format!(
                "its settings make an ordinary {hook} input {} bytes long, over input_bytes_max = {}, so every call would fail",
                input.len(),
                limits.input_bytes_max
            ));
            continue;
        }
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

/// Warnings for `hongbao check` about a module that loads but fails an
/// ordinary request: each hook it exports is called once on the SDK's
/// fixture (no settings) under `limits`. A failure there (an `alloc` that
/// answers 0, a fuel budget too small for the rule, a trap) would give
/// every such request the rule's failure verdict. A rule error is not
/// reported: without its settings a rule may rightly refuse to answer.
#[must_use]
pub fn trial_calls(
    sandbox: &Sandbox,
    module: &CompiledModule,
    abi_version: u32,
    limits: &Limits,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for hook in module.hooks() {
        let Some(input) = ordinary_input(hook, abi_version, None) else {
            continue;
        };
        let result = call(sandbox, module, hook, limits, &input);
        match result.outcome {
            Ok(_)
            | Err(CallFailure {
                reason: super::FailureReason::RuleError,
                ..
            }) => {}
            Err(CallFailure { reason, detail }) => warnings.push(format!(
                "an ordinary {hook} request (the SDK's fixture, no settings) fails with {}: {detail}; every request like it would get the rule's failure verdict",
                reason.code()
            )),
        }
    }
    warnings
}

/// An ordinary request at `hook` (the SDK's test fixture), with the rule's
/// id and settings when given, in the encoding of `abi_version`.
fn ordinary_input(
    hook: Hook,
    abi_version: u32,
    rule: Option<(&str, &serde_json::Value)>,
) -> Option<Vec<u8>> {
    fn with_rule<R, F>(
        mut input: rules_sdk::RuleInput<R, F>,
        rule: Option<(&str, &serde_json::Value)>,
    ) -> rules_sdk::RuleInput<R, F> {
        if let Some((id, settings)) = rule {
            input.rule_id = id.to_string();
            input.settings = settings.clone();
        }
        input
    }
    match hook {
        Hook::Claim => encode_input(
            &with_rule(rules_sdk::testing::claim_fixture(), rule),
            abi_version,
        ),
        Hook::Payout => encode_input(
            &with_rule(rules_sdk::testing::payout_fixture(), rule),
            abi_version,
        ),
    }
}

/// A whole input in the encoding of ABI version `abi_version`.
fn encode_input<R: Serialize + Section, F: Serialize + Section>(
    input: &rules_sdk::RuleInput<R, F>,
    abi_version: u32,
) -> Option<Vec<u8>> {
    if abi_version == ABI_VERSION_COMPACT {
        compact::encode(input).ok()
    } else {
        // The fixtures carry version 1 already.
        serde_json::to_vec(input).ok()
    }
}

/// Every problem of a prepared module under `limits` for `hooks`, or the
/// module ready to run: the limit-independent problems, the fit to the
/// limits, then (when nothing else is wrong) a probe in a fresh instance, or
/// (when something is) a diagnostic probe with refused imports stubbed out.
/// Probe results by (module digest, limits).
#[derive(Default)]
struct ProbeCache(std::sync::Mutex<HashMap<(String, String), Result<u32, String>>>);

impl ProbeCache {
    fn probe(
        &self,
        sandbox: &Sandbox,
        module: &CompiledModule,
        limits: &Limits,
    ) -> Result<u32, String> {
        let key = (module.digest().to_string(), format!("{limits:?}"));
        if let Some(r) = self.0.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return r;
        }
        let r = probe(sandbox, module, limits);
        if let Ok(mut m) = self.0.lock() {
            m.insert(key, r.clone());
        }
        r
    }
}

fn assess(
    sandbox: &Sandbox,
    prepared: &Prepared,
    limits: &Limits,
    hooks: &[Hook],
    probes: &ProbeCache,
) -> Result<(Arc<CompiledModule>, u32), Vec<String>> {
    let mut problems = prepared.problems.clone();
    problems.extend(prepared.facts.check_fits(limits, hooks));
    match &prepared.compiled {
        Some(module) if problems.is_empty() => {
            let version = probes.probe(sandbox, module, limits).map_err(|p| vec![p])?;
            Ok((Arc::clone(module), version))
        }
        _ => {
            problems.extend(diagnose(sandbox, prepared, limits));
            Err(problems)
        }
    }
}

fn loaded_rule(
    rc: &RuleConfig,
    limits: Limits,
    module: Arc<CompiledModule>,
    abi_version: u32,
) -> LoadedRule {
    let settings = serde_json::to_string(&rc.settings).unwrap_or_else(|_| "{}".into());
    let input_prefix = if abi_version == ABI_VERSION_COMPACT {
        let mut out = Vec::new();
        compact::encode_rule_part(&rc.id, &settings, &mut out);
        out
    } else {
        let id_json = serde_json::to_string(&rc.id).unwrap_or_else(|_| "\"\"".into());
        format!(
            "{{\"abi_version\":{ABI_VERSION_JSON},\"rule_id\":{id_json},\"settings\":{settings},"
        )
        .into_bytes()
    };
    LoadedRule {
        digest: module.digest().to_string(),
        module: Some(module),
        abi_version,
        input_prefix,
        ..rule_entry(rc, limits)
    }
}

/// A refused rule, kept in the evaluation order so that it fails closed.
fn refused_rule(rc: &RuleConfig, limits: Limits, digest: String, refusal: &Refusal) -> LoadedRule {
    LoadedRule {
        refused: Some(format!("refused at load: {}", refusal.problems.join("; "))),
        digest,
        ..rule_entry(rc, limits)
    }
}

/// What a loaded rule takes from its config entry.
fn rule_entry(rc: &RuleConfig, limits: Limits) -> LoadedRule {
    LoadedRule {
        id: rc.id.clone(),
        scope: match (rc.scope, &rc.merchant) {
            (ScopeKind::Merchant, Some(m)) => Scope::Merchant(m.clone()),
            _ => Scope::Platform,
        },
        priority: rc.priority,
        hooks: rc.hooks.clone(),
        limits,
        on_failure: [
            rc.on_failure.at(Hook::Claim),
            rc.on_failure.at(Hook::Payout),
        ],
        refused: None,
        digest: String::new(),
        module: None,
        abi_version: 0,
        input_prefix: Vec::new(),
    }
}

/// Checks one module file the way the loader would, against `limits` and
/// whatever hooks it exports, and lists every reason it is refused. Used
/// by `hongbao check`. An accepted module comes back with the ABI version
/// its probe read.
///
/// # Errors
///
/// Returns every reason the module is refused.
pub fn check_module(
    sandbox: &Sandbox,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(CompiledModule, u32), Vec<String>> {
    let prepared = if bytes.len() as u64 > limits.module_bytes_max {
        // Inspected for the report, never compiled.
        prepare_uncompiled(sandbox, bytes)
    } else {
        prepare(sandbox, bytes)
    };
    assess(sandbox, &prepared, limits, &[], &ProbeCache::default()).map(|(m, v)| ((*m).clone(), v))
}
