//! The one integration-test binary of hongbao, a module per topic.

/// The subcommands as library calls: `run` with files, its report and
/// decisions, load errors, `check`, determinism.
mod cli;
/// Money under real threads through `SharedSettlement`: one share per user
/// (M04), no overdraft (M07), rules evaluated outside the lock.
mod concurrency;
/// The loader: every refusal reason at once, the compile budget, start
/// functions under call limits, the worker pool.
mod loader;
/// Money through the settlement core and real rules: splits, retries,
/// overdrafts, expiry, the verdict table (M01, M02, M05-M08, M10).
mod money;
/// Product bugs found while writing the suites, each reproduced by the case
/// it breaks; they fail until the product is fixed.
mod regressions;
/// Seeded sample traffic through the settlement core and the demo rules,
/// every invariant checked after every event.
mod replay;
/// How rule verdicts and failures combine into one decision (R01-R05), and
/// limits as rules see them (S01 with threads, S02, S11).
mod rule_semantics;
/// The eight bundled sample rules as Wasm with the demo settings: load,
/// allow the ordinary, catch the crafted, and use the same fuel every run.
mod sample_rules;
/// Hostile modules against the sandbox: limits, isolation, bad output, imports.
mod sandbox;
/// The seeded money simulation against real Wasm rules: every verdict and
/// failure, concurrent requests, every invariant after every step.
mod simulation;
