//! The operator's TOML config: settlement settings, sandbox limits and the
//! rules to load. `README.md` documents every key; unknown keys are errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rules_sdk::{Amount, Hook, Verdict};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::risk::limits::{EngineLimits, LimitOverrides};

/// The largest per-share cap a config may set (1,000,000.00 CNY).
pub const SHARE_CAP_CEILING: Amount = Amount::from_yuan(1_000_000);

/// Why a config could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error (not a `source`, so it is printed once).
        error: std::io::Error,
    },
    /// The TOML is malformed or has an unknown or mistyped key.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The config parses but says something impossible.
    #[error("invalid config {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key or rule.
        message: String,
    },
}

/// The whole config file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Settlement settings.
    #[serde(default)]
    pub settlement: SettlementSection,
    /// Engine-wide sandbox settings.
    #[serde(default)]
    pub sandbox: EngineLimits,
    /// Platform default limits for every rule call; rules may override them.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// Per-merchant settings, keyed by merchant id.
    #[serde(default)]
    pub merchants: BTreeMap<String, MerchantSection>,
    /// The rules, in any order: evaluation order is fixed by
    /// `(priority, scope, id)`, never by position in the file.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// The directory relative module paths are resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Settlement settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SettlementSection {
    /// Seconds from creation until unclaimed escrow is refunded.
    pub expiry_seconds: i64,
    /// The largest share any packet may have.
    pub share_cap: Amount,
    /// The UTC offset, in minutes, of merchants without their own.
    pub utc_offset_minutes: i32,
}

impl Default for SettlementSection {
    fn default() -> SettlementSection {
        SettlementSection {
            expiry_seconds: 86_400,
            share_cap: Amount::from_fen(20_000).unwrap_or_default(),
            utc_offset_minutes: 480,
        }
    }
}

/// One merchant's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantSection {
    /// The merchant's UTC offset in minutes; defines its "today".
    pub utc_offset_minutes: i32,
}

/// Platform or merchant scope, as written in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeKind {
    /// Sees all traffic.
    Platform,
    /// Sees only the packets of `merchant`.
    Merchant,
}

/// The verdict a rule gets when it cannot answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum OnFailure {
    /// The same verdict at every hook.
    Every(Verdict),
    /// A verdict per hook; a hook not named gets `review`.
    PerHook(PerHookFailure),
}

/// `on_failure = { claim = .., payout = .. }`; unknown keys are errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PerHookFailure {
    /// At claim.
    pub claim: Option<Verdict>,
    /// At payout.
    pub payout: Option<Verdict>,
}

/// A verdict named in `on_failure`, or an error naming the value.
fn failure_verdict(at: &str, value: &toml::Value) -> Result<Verdict, String> {
    value
        .clone()
        .try_into::<Verdict>()
        .map_err(|_| format!("{at} = {value} is not a verdict: allow, review, deny or freeze"))
}

impl<'de> Deserialize<'de> for OnFailure {
    // By hand rather than untagged, so that the error names the bad value
    // or the unknown hook instead of only the expected shape.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OnFailure, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            toml::Value::Table(table) => {
                let mut per_hook = PerHookFailure::default();
                for (key, value) in &table {
                    let at = format!("on_failure.{key}");
                    let slot = match key.as_str() {
                        "claim" => &mut per_hook.claim,
                        "payout" => &mut per_hook.payout,
                        _ => {
                            return Err(D::Error::custom(format!(
                                "on_failure has no hook {key:?}: the hooks are claim and payout"
                            )));
                        }
                    };
                    *slot = Some(failure_verdict(&at, value).map_err(D::Error::custom)?);
                }
                Ok(OnFailure::PerHook(per_hook))
            }
            value => failure_verdict("on_failure", &value)
                .map(OnFailure::Every)
                .map_err(|e| {
                    D::Error::custom(format!(
                        "{e} (or a table {{ claim = <verdict>, payout = <verdict> }})"
                    ))
                }),
        }
    }
}

impl Default for OnFailure {
    fn default() -> OnFailure {
        OnFailure::Every(Verdict::Review)
    }
}

impl OnFailure {
    /// The failure verdict at `hook`.
    pub fn at(&self, hook: Hook) -> Verdict {
        match (self, hook) {
            (OnFailure::Every(v), _) => *v,
            (OnFailure::PerHook(p), Hook::Claim) => p.claim.unwrap_or(Verdict::Review),
            (OnFailure::PerHook(p), Hook::Payout) => p.payout.unwrap_or(Verdict::Review),
        }
    }
}

fn default_priority() -> i32 {
    100
}

/// One `[[rules]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique id: 1 to 64 of `a-z 0-9 _ - .`.
    pub id: String,
    /// A path to a `.wasm` or `.wat` file (relative to the config file), or
    /// `bundled:<name>` for a sample rule built into the binary.
    pub module: String,
    /// Platform or merchant.
    pub scope: ScopeKind,
    /// The merchant, required for (and only for) merchant scope.
    #[serde(default)]
    pub merchant: Option<String>,
    /// The hooks the rule runs at.
    pub hooks: Vec<Hook>,
    /// Lower runs first; ties are broken by scope (platform first), then id.
    #[serde(default = "default_priority")]
    pub priority: i32,
    /// The verdict when the rule cannot answer (default `review`). `allow`
    /// makes the rule fail open, and every record it touches says so.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Overrides of the platform default limits.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// Handed to the rule as `settings`.
    #[serde(default)]
    pub settings: toml::Table,
}

/// Where a rule's module bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleSource {
    /// A sample rule compiled into the binary.
    Bundled(String),
    /// A file on disk.
    File(PathBuf),
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    ///
    /// Returns a [`ConfigError`] naming the file and what is wrong with it.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&text, &base).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            ConfigError::Invalid { message, .. } => ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates config text; relative module paths resolve
    /// against `base_dir`.
    ///
    /// # Errors
    ///
    /// Returns a [`ConfigError`] for malformed TOML, unknown keys or values
    /// that cannot work together.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: describe_toml_error(text, &e),
        })?;
        config.base_dir = base_dir.to_path_buf();
        config.validate().map_err(|message| ConfigError::Invalid {
            path: PathBuf::from("<text>"),
            message,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        // Time zones in use run from UTC-12:00 to UTC+14:00.
        const UTC_OFFSET_RANGE: std::ops::RangeInclusive<i32> = -14 * 60..=14 * 60;
        self.sandbox
            .validate()
            .map_err(|e| format!("[sandbox] {e}"))?;
        let defaults = crate::risk::limits::Limits::default().with(&self.limits);
        defaults.validate().map_err(|e| format!("[limits] {e}"))?;
        if self.settlement.expiry_seconds <= 0 {
            return Err("[settlement] expiry_seconds must be positive".into());
        }
        if self.settlement.share_cap.fen() < 1 {
            return Err("[settlement] share_cap must be at least 0.01".into());
        }
        if self.settlement.share_cap > SHARE_CAP_CEILING {
            return Err(format!(
                "[settlement] share_cap must be at most {SHARE_CAP_CEILING}"
            ));
        }
        if !UTC_OFFSET_RANGE.contains(&self.settlement.utc_offset_minutes) {
            return Err(format!(
                "[settlement] utc_offset_minutes = {} is outside -840..=840",
                self.settlement.utc_offset_minutes
            ));
        }
        for (m, s) in &self.merchants {
            if !UTC_OFFSET_RANGE.contains(&s.utc_offset_minutes) {
                return Err(format!(
                    "[merchants.{m}] utc_offset_minutes = {} is outside -840..=840",
                    s.utc_offset_minutes
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.rules {
            let at = format!("rule {:?}", r.id);
            if !rules_sdk::is_valid_reason(&r.id) {
                return Err(format!("{at}: id must be 1 to 64 of a-z 0-9 _ - ."));
            }
            if !seen.insert(r.id.as_str()) {
                return Err(format!("{at}: duplicate rule id"));
            }
            match (r.scope, &r.merchant) {
                (ScopeKind::Merchant, None) => {
                    return Err(format!(
                        "{at}: scope = \"merchant\" needs merchant = \"<id>\""
                    ));
                }
                (ScopeKind::Platform, Some(m)) => {
                    return Err(format!(
                        "{at}: a platform rule sees all merchants; remove merchant = {m:?} or use scope = \"merchant\""
                    ));
                }
                (ScopeKind::Merchant, Some(m)) if m.is_empty() => {
                    return Err(format!("{at}: merchant must not be empty"));
                }
                _ => {}
            }
            if r.hooks.is_empty() {
                return Err(format!("{at}: hooks must name claim and/or payout"));
            }
            for (key, value) in &r.settings {
                json_representable(value).map_err(|why| format!("{at}: settings.{key}: {why}"))?;
            }
            let mut hooks = r.hooks.clone();
            hooks.sort();
            hooks.dedup();
            if hooks.len() != r.hooks.len() {
                return Err(format!("{at}: a hook is listed twice"));
            }
            defaults
                .with(&r.limits)
                .validate()
                .map_err(|e| format!("{at}: [rules.limits] {e}"))?;
            if r.module.is_empty() {
                return Err(format!("{at}: module must not be empty"));
            }
        }
        Ok(())
    }

    /// Where the module of `rule` comes from.
    pub fn module_source(&self, rule: &RuleConfig) -> ModuleSource {
        match rule.module.strip_prefix("bundled:") {
            Some(name) => ModuleSource::Bundled(name.to_string()),
            None => ModuleSource::File(self.base_dir.join(&rule.module)),
        }
    }

    /// The UTC offset of `merchant`, in minutes.
    pub fn utc_offset_minutes(&self, merchant: &str) -> i32 {
        self.merchants
            .get(merchant)
            .map_or(self.settlement.utc_offset_minutes, |m| m.utc_offset_minutes)
    }
}

/// `line L, column C: message` for a TOML error, on one line.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// Settings reach rules as JSON: a value JSON cannot carry (a float that is
/// not finite, a TOML date or time) would arrive changed (`null`, or a
/// private wrapper object), so it is refused instead.
fn json_representable(value: &toml::Value) -> Result<(), String> {
    match value {
        toml::Value::Float(f) if !f.is_finite() => Err(format!(
            "{f} is not a finite number, which a rule's JSON settings cannot carry"
        )),
        toml::Value::Datetime(d) => Err(format!(
            "{d} is a TOML date or time; give it as a string or a number"
        )),
        toml::Value::Array(items) => items.iter().try_for_each(json_representable),
        toml::Value::Table(t) => t.values().try_for_each(json_representable),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"
[[rules]]
id = "r1"
module = "bundled:daily-limits"
scope = "platform"
hooks = ["claim"]
"#;

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(RULE, Path::new(".")).expect("valid config");
        assert_eq!(c.rules[0].priority, 100);
        assert_eq!(c.rules[0].on_failure.at(Hook::Claim), Verdict::Review);
        assert_eq!(c.settlement.expiry_seconds, 86_400);
        assert_eq!(c.utc_offset_minutes("nobody"), 480);
    }

    #[test]
    fn per_hook_failure_verdicts() {
        let text = format!("{RULE}on_failure = {{ claim = \"deny\" }}\n");
        let c = Config::parse(&text, Path::new(".")).expect("valid config");
        assert_eq!(c.rules[0].on_failure.at(Hook::Claim), Verdict::Deny);
        assert_eq!(c.rules[0].on_failure.at(Hook::Payout), Verdict::Review);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let cases = [
            (format!("{RULE}colour = 1\n"), "colour"),
            (format!("{RULE}{RULE}"), "duplicate rule id"),
            (RULE.replace("platform", "merchant"), "needs merchant"),
            (
                format!("{RULE}[rules.limits]\nfuel_per_call = 0\n"),
                "fuel_per_call",
            ),
            (
                format!("[sandbox]\nstack_bytes_max = 99999999\n{RULE}"),
                "stack_bytes_max",
            ),
            (RULE.replace("[\"claim\"]", "[\"clam\"]"), "clam"),
            (
                format!("{RULE}on_failure = {{ claim = \"deny\", paymet = \"freeze\" }}\n"),
                "on_failure has no hook \"paymet\": the hooks are claim and payout",
            ),
            (
                format!("{RULE}on_failure = {{ claim = \"dney\" }}\n"),
                "on_failure.claim = \"dney\" is not a verdict",
            ),
            (
                format!("{RULE}on_failure = \"pass\"\n"),
                "on_failure = \"pass\" is not a verdict",
            ),
            (
                format!("{RULE}on_failure = 3\n"),
                "on_failure = 3 is not a verdict",
            ),
            (
                format!("[settlement]\nshare_cap = \"10000000000000.00\"\n{RULE}"),
                "share_cap",
            ),
            (
                format!("[settlement]\nutc_offset_minutes = 99999\n{RULE}"),
                "[settlement] utc_offset_minutes = 99999 is outside -840..=840",
            ),
            // Settings a rule's JSON cannot carry unchanged.
            (
                format!("{RULE}[rules.settings]\nratio = nan\n"),
                "settings.ratio: NaN is not a finite number",
            ),
            (
                format!("{RULE}[rules.settings]\nlimits = [1.0, -inf]\n"),
                "settings.limits: -inf is not a finite number",
            ),
            (
                format!("{RULE}[rules.settings]\nstart = 2026-12-04T00:00:00Z\n"),
                "settings.start: 2026-12-04T00:00:00Z is a TOML date or time",
            ),
        ];
        for (text, needle) in cases {
            let e = Config::parse(&text, Path::new("."))
                .expect_err(needle)
                .to_string();
            assert!(e.contains(needle), "{e:?} should mention {needle:?}");
        }
    }
}
