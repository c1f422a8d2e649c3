//! hongbao: a red-packet settlement core that runs risk rules as sandboxed
//! WebAssembly modules.
//!
//! - [`event`]: the JSONL traffic format.
//! - [`ledger`]: the double-entry ledger (accounts, transfers, pending).
//! - [`split`]: dividing a packet's total into shares in integer fen.
//! - [`settlement`]: packets, claims, payouts, reviews, freezes, expiry and
//!   idempotent request ids, on top of the ledger.
//! - [`velocity`]: the facts and velocity features computed for rules.
//! - [`risk`]: the Wasm sandbox, rule loading and the combined verdict.
//! - [`config`]: the operator's TOML config.
//! - [`traffic`]: the seeded sample-traffic generator.
//! - [`report`]: the run report.
//! - [`cli`]: the `hongbao` subcommands.
#![deny(missing_docs)]

pub mod bundled;
pub mod cli;
pub mod config;
pub mod demo;
pub mod event;
pub mod histogram;
pub mod ledger;
pub mod memory;
pub mod report;
pub mod risk;
pub mod rng;
pub mod settlement;
pub mod split;
pub mod text;
pub mod traffic;
pub mod velocity;
