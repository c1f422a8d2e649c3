//! The risk engine: rules as sandboxed Wasm modules, run at every claim and
//! payout, their verdicts combined into one decision.
//!
//! - [`limits`]: every bound, with its unit.
//! - [`sandbox`]: the wasmtime engine, configured knob by knob.
//! - [`shape`]: load-time bounds on what compiling a module costs.
//! - [`module`]: load-time validation and compilation.
//! - [`compiler`]: compilation within a budget, in a child process that
//!   can be killed.
//! - [`call`]: one evaluation in a fresh instance.
//! - [`engine`]: the rule registry and the [`Evaluator`] implementation.

pub mod cache;
pub mod call;
pub mod compiler;
pub mod engine;
mod evaluation;
pub mod host_imports;
pub mod inspect;
pub mod limits;
pub mod module;
pub mod probe;
pub mod sandbox;
pub mod shape;
pub mod store;
pub mod workers;

pub use engine::{LoadError, LoadedRule, Refusal, RiskEngine};
pub use evaluation::{Evaluation, Evaluator, FailureReason, RuleOutcome, Scope};
