//! What one evaluation of a hook produces, and the interface the settlement
//! core calls. The core depends only on [`Evaluator`], so it can be tested
//! with scripted verdicts and run with the Wasm engine.

use std::fmt;

use rules_sdk::{ClaimFacts, ClaimRequest, Hook, PayoutFacts, PayoutRequest, Verdict};
use serde::{Deserialize, Serialize};

/// Whose rule it is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "merchant")]
pub enum Scope {
    /// The platform's rules see all traffic.
    Platform,
    /// A merchant's rules see only that merchant's packets.
    Merchant(String),
}

/// Why a rule could not answer. Every failure maps to the rule's failure
/// verdict; none of them is ever read as an answer.
///
/// On the wire (decision records) it is always one string: its
/// [`FailureReason::code`], or `trap:<kind>` for a trap (`trap:unreachable`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The wall-clock backstop fired.
    Timeout,
    /// The call ran out of fuel.
    Fuel,
    /// The guest asked for more linear memory than its limit.
    MemoryLimit,
    /// The guest asked for more table elements than its limit.
    TableLimit,
    /// The guest exhausted its wasm stack.
    StackOverflow,
    /// Any other trap; the string names its kind (e.g. `unreachable`).
    Trap(String),
    /// The output was out of bounds, too large, or not a valid answer.
    BadOutput,
    /// The module broke the ABI (bad allocation, missing export).
    AbiError,
    /// A host import was called with arguments the host refused.
    HostError,
    /// The rule answered with an explicit error of its own.
    RuleError,
    /// The sandbox could not be set up for this call (pool exhausted).
    Unavailable,
    /// The rule's module was refused at load and never runs (only with
    /// `refused_rules = "fail-closed"`).
    Refused,
}

impl FailureReason {
    /// The reason code written in decision records.
    pub fn code(&self) -> &str {
        match self {
            FailureReason::Timeout => "timeout",
            FailureReason::Fuel => "fuel",
            FailureReason::MemoryLimit => "memory-limit",
            FailureReason::TableLimit => "table-limit",
            FailureReason::StackOverflow => "stack-overflow",
            FailureReason::Trap(_) => "trap",
            FailureReason::BadOutput => "bad-output",
            FailureReason::AbiError => "abi-error",
            FailureReason::HostError => "host-error",
            FailureReason::RuleError => "rule-error",
            FailureReason::Unavailable => "unavailable",
            FailureReason::Refused => "refused",
        }
    }
}

impl FailureReason {
    /// The string a decision record carries: the code, or `trap:<kind>`.
    pub fn wire(&self) -> std::borrow::Cow<'_, str> {
        match self {
            FailureReason::Trap(kind) => format!("trap:{kind}").into(),
            other => other.code().into(),
        }
    }

    /// Parses [`FailureReason::wire`].
    pub fn from_wire(text: &str) -> Option<FailureReason> {
        if let Some(kind) = text.strip_prefix("trap:") {
            return Some(FailureReason::Trap(kind.to_string()));
        }
        Some(match text {
            "timeout" => FailureReason::Timeout,
            "fuel" => FailureReason::Fuel,
            "memory-limit" => FailureReason::MemoryLimit,
            "table-limit" => FailureReason::TableLimit,
            "stack-overflow" => FailureReason::StackOverflow,
            "bad-output" => FailureReason::BadOutput,
            "abi-error" => FailureReason::AbiError,
            "host-error" => FailureReason::HostError,
            "rule-error" => FailureReason::RuleError,
            "unavailable" => FailureReason::Unavailable,
            "refused" => FailureReason::Refused,
            _ => return None,
        })
    }
}

impl Serialize for FailureReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.wire())
    }
}

impl<'de> Deserialize<'de> for FailureReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FailureReason, D::Error> {
        let text = String::deserialize(d)?;
        FailureReason::from_wire(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown failure reason {text:?}")))
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Trap(kind) => write!(f, "trap ({kind})"),
            other => f.write_str(other.code()),
        }
    }
}

/// One rule's part in an evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleOutcome {
    /// The rule's id in the config.
    pub rule_id: String,
    /// Platform or merchant.
    pub scope: Scope,
    /// SHA-256 of the module bytes, hex.
    pub digest: String,
    /// The verdict this rule contributed: its answer, or its failure verdict.
    pub verdict: Verdict,
    /// The rule's reason code, or the failure's code.
    pub reason: String,
    /// Set when the rule could not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureReason>,
    /// The note the rule attached to its decision, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What failed, when the rule could not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Lines the rule logged through the `log` import (`level: text`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    /// True when the rule failed and its config said to fail open (allow).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed_open: bool,
    /// Fuel consumed by the call (instantiation included); `null` for a
    /// call ended by `timeout`, whose exact count wasmtime does not keep.
    pub fuel_used: Option<u64>,
    /// Wall time of the call, in nanoseconds.
    pub duration_ns: u64,
}

/// The combined result of all rules on one hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The most severe verdict of all rules (allow when no rule applies).
    pub verdict: Verdict,
    /// `<rule id>:<reason>` of the first rule with the final verdict;
    /// `ok` when every rule allowed, or `<rule id>:failed-open:<failure>`
    /// when the verdict is allow only because a rule failed open.
    pub reason: String,
    /// Every rule that ran, in evaluation order.
    pub rules: Vec<RuleOutcome>,
}

impl Evaluation {
    /// Combines outcomes: the most severe verdict wins, and among equals the
    /// first in evaluation order gives the reason.
    pub fn combine(rules: Vec<RuleOutcome>) -> Evaluation {
        let mut verdict = Verdict::Allow;
        let mut reason = "ok".to_string();
        for r in &rules {
            if r.verdict > verdict {
                verdict = r.verdict;
                reason = format!("{}:{}", r.rule_id, r.reason);
            }
        }
        if verdict == Verdict::Allow
            && let Some(open) = rules.iter().find(|r| r.failed_open)
        {
            reason = format!("{}:failed-open:{}", open.rule_id, open.reason);
        }
        Evaluation {
            verdict,
            reason,
            rules,
        }
    }

    /// The rules that could not answer.
    pub fn failures(&self) -> impl Iterator<Item = &RuleOutcome> {
        self.rules.iter().filter(|r| r.failure.is_some())
    }
}

/// Runs the rules of one hook. The settlement core calls this at every claim
/// and every payout; implementations must never panic on rule behaviour.
pub trait Evaluator {
    /// Evaluates the claim hook for a packet of `request.merchant_id`.
    fn claim(&self, now: i64, request: &ClaimRequest, facts: &ClaimFacts) -> Evaluation;
    /// Evaluates the payout hook for a packet of `request.merchant_id`.
    fn payout(&self, now: i64, request: &PayoutRequest, facts: &PayoutFacts) -> Evaluation;
    /// The hooks this evaluator has rules for (used in reports).
    fn hooks(&self) -> Vec<Hook> {
        Hook::ALL.to_vec()
    }
    /// Runs `work` on the thread where this evaluator's calls cost least,
    /// and returns when it is done. A caller that makes many evaluations
    /// one after another (a replay) runs its loop here.
    ///
    /// The Wasm engine runs `work` on one of its rule workers: the rules of
    /// each request are then split between that worker and the others
    /// directly, instead of being handed over from a thread outside the
    /// pool and waited for, a wake-up and a sleep per request. The default
    /// runs `work` on the calling thread.
    ///
    /// `work` holds that worker until it returns: with `workers = 1`, other
    /// threads evaluating with the same engine meanwhile wait for it.
    fn run_on_worker(&self, work: Box<dyn FnOnce() + Send + '_>) {
        work();
    }
}

#[cfg(test)]
mod tests {
    use super::FailureReason as F;

    /// A record's `failure` is always a string, traps included.
    #[test]
    fn failure_reasons_are_one_string_on_the_wire() {
        for (f, text) in [
            (F::Fuel, "\"fuel\""),
            (F::MemoryLimit, "\"memory-limit\""),
            (
                F::Trap("integer-divide-by-zero".into()),
                "\"trap:integer-divide-by-zero\"",
            ),
            (F::Refused, "\"refused\""),
        ] {
            assert_eq!(serde_json::to_string(&f).expect("encodes"), text);
            assert_eq!(serde_json::from_str::<F>(text).expect("decodes"), f);
        }
        assert!(serde_json::from_str::<F>("\"tarp\"").is_err());
    }
}
