//! The risk engine: rules as sandboxed Wasm modules, run at every claim and
//! payout, their verdicts combined into one decision.

mod evaluation;

pub use evaluation::{Evaluation, Evaluator, FailureReason, RuleOutcome, Scope};
