//! hongbao: a red-packet settlement core that runs risk rules as sandboxed
//! WebAssembly modules.
//!
//! - [`event`]: the JSONL traffic format.
//! - [`ledger`]: the double-entry ledger (accounts, transfers, pending).
//! - [`split`]: dividing a packet's total into shares in integer fen.
//! - [`settlement`]: packets, claims, payouts, reviews, freezes, expiry and
//!   idempotent request ids, on top of the ledger.
//! - [`velocity`]: the facts and velocity features computed for rules.
//! - [`risk`]: the rule config, the Wasm sandbox and the combined verdict.
#![deny(missing_docs)]

pub mod event;
pub mod ledger;
pub mod risk;
pub mod rng;
pub mod settlement;
pub mod split;
pub mod velocity;
