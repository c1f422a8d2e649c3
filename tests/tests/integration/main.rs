//! The one integration-test binary of hongbao, a module per topic.

/// How rule verdicts and failures combine into one decision.
mod rule_semantics;
/// Hostile modules against the sandbox: limits, isolation, bad output, imports.
mod sandbox;
