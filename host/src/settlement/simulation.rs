//! A seeded simulation of the money core, in the manner of TigerBeetle's
//! VOPR: random streams of deposits, packet creations, claims, payouts,
//! reviews, unfreezes, expiries, clock jumps, retries with the same body
//! (replays) and a different one (conflicts), and *concurrent* claims and
//! payouts, against rules that return every verdict and every kind of
//! failure. Every invariant is checked after every step; a seed reproduces
//! its run exactly.
//!
//! Concurrency is simulated, not threaded, so that it replays: a claim or
//! payout is begun (checked, its share set aside) and left in flight while
//! other requests run, then finished in a random order, exactly the two
//! phases [`super::SharedSettlement`] runs with its lock released between
//! them. A request that would wait for a busy id or user is parked and
//! begun again after the next finish, as the shared core's condition
//! variable does.
//!
//! After the last step the run is *drained*: every request in flight is
//! finished, every frozen user unfrozen, every held claim and payout
//! resolved, every reservation paid out and every packet expired, until
//! nothing is left anywhere but merchants' balances and wallets. Nothing
//! may stay stuck.
//!
//! A failure names its seed, step and event, and the command that replays
//! it: `HONGBAO_SIM_SEED=<seed> HONGBAO_SIM_STEPS=<steps> cargo test -p
//! hongbao --lib simulation`.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use rules_sdk::{Amount, ClaimFacts, ClaimRequest, PayoutFacts, PayoutRequest, Verdict};

use super::inflight::{Begun, Ticket};
use super::{ClaimState, MoneySummary, Outcome, PayoutState, Settlement, SettlementConfig, Status};
use crate::event::{Event, ReviewDecision, SplitKind};
use crate::ledger::fen_to_amount;
use crate::risk::{Evaluation, Evaluator, FailureReason, RuleOutcome, Scope};
use crate::rng::{SplitMix64, fnv1a64};

/// 2026-12-03 12:00:00 UTC, the simulation's first instant.
pub const SIM_T0: i64 = 1_796_299_200;

/// The environment variable that picks the seed of a replay.
pub const SEED_VAR: &str = "HONGBAO_SIM_SEED";
/// The environment variable that sets the steps per seed.
pub const STEPS_VAR: &str = "HONGBAO_SIM_STEPS";

/// What to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// The seed: the same seed gives the same run.
    pub seed: u64,
    /// Steps to run before the drain. A step begins one request or
    /// finishes one in flight.
    pub steps: usize,
    /// Most claims and payouts in flight at once.
    pub in_flight_max: usize,
    /// Users that claim (`u0`, `u1`, ..).
    pub users: usize,
    /// Merchants that fund packets (`m0`, `m1`, ..).
    pub merchants: usize,
}

impl SimConfig {
    /// `steps` steps of seed `seed`, with 12 users, 3 merchants and up to 6
    /// requests in flight.
    pub fn new(seed: u64, steps: usize) -> SimConfig {
        SimConfig {
            seed,
            steps,
            in_flight_max: 6,
            users: 12,
            merchants: 3,
        }
    }
}

/// What a run did, to check that it exercised what it should.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Requests begun (new ones and retries), drain included.
    pub requests: usize,
    /// Outcomes accepted (replays excluded).
    pub accepted: usize,
    /// Outcomes refused.
    pub refused: usize,
    /// Stored outcomes returned to a retry with the same body.
    pub replays: usize,
    /// Retries with a different body.
    pub conflicts: usize,
    /// Times a request had to wait for a busy id, user or share.
    pub waits: usize,
    /// The most claims and payouts in flight at once.
    pub in_flight_peak: usize,
    /// Claims finished after their packet expired while they were decided.
    pub finished_after_expiry: usize,
    /// Final verdicts at claim: allow, review, deny, freeze.
    pub claim_verdicts: [usize; 4],
    /// Final verdicts at payout: allow, review, deny, freeze.
    pub payout_verdicts: [usize; 4],
    /// Rule outcomes that were failures (fuel, trap, ..).
    pub rule_failures: usize,
    /// Rule outcomes that failed open.
    pub failed_open: usize,
    /// Packets expired.
    pub expiries: usize,
    /// Reviews resolved (approve or reject), accepted.
    pub reviews: usize,
    /// Unfreezes accepted.
    pub unfreezes: usize,
    /// Claims paid.
    pub paid: usize,
    /// Refusals by error code.
    pub refusals: std::collections::BTreeMap<&'static str, usize>,
}

/// The result of a run that kept every invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Steps run before the drain.
    pub steps: usize,
    /// What happened.
    pub stats: SimStats,
    /// The money after the drain: only merchants' balances, wallets and
    /// refunds are left.
    pub summary: MoneySummary,
    /// A hash of every outcome (request id, status, verdict, amount): equal
    /// for two runs of one seed.
    pub digest: u64,
}

/// A broken invariant or expectation: the seed, step and event that broke
/// it. Its `Display` says how to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFailure {
    /// The seed of the run.
    pub seed: u64,
    /// The steps the run was asked for.
    pub steps: usize,
    /// The step at which it broke (`steps` and above: the drain).
    pub step: usize,
    /// The event of that step, as a traffic line, if there was one.
    pub event: Option<String>,
    /// What broke.
    pub message: String,
    /// How to replay the run: the command for [`simulate`]'s in-process
    /// rules, or what to run again for [`simulate_with`]'s own rules.
    pub replay: String,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulation seed {} step {}: {}",
            self.seed, self.step, self.message
        )?;
        if let Some(event) = &self.event {
            writeln!(f, "  event: {event}")?;
        }
        write!(f, "  replay: {}", self.replay)
    }
}

/// The command that replays seed `seed` of [`simulate`].
pub fn replay_command(seed: u64, steps: usize) -> String {
    format!("{SEED_VAR}={seed} {STEPS_VAR}={steps} cargo test -p hongbao --lib simulation")
}

impl std::error::Error for SimFailure {}

/// The steps per seed from [`STEPS_VAR`], or `default`.
///
/// # Errors
///
/// A message naming the variable when it is set but not a number.
pub fn steps_from_env(default: usize) -> Result<usize, String> {
    match std::env::var(STEPS_VAR) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{STEPS_VAR}={v:?} is not a number of steps")),
        Err(_) => Ok(default),
    }
}

/// The seeds from [`SEED_VAR`] (one seed `7`, a list `1,5,9` or a range
/// `1..100`, end excluded), or `default`.
///
/// # Errors
///
/// A message naming the variable when it is set but malformed.
pub fn seeds_from_env(default: &[u64]) -> Result<Vec<u64>, String> {
    let Ok(text) = std::env::var(SEED_VAR) else {
        return Ok(default.to_vec());
    };
    parse_seeds(&text).ok_or_else(|| {
        format!("{SEED_VAR}={text:?} is not a seed, a list `1,5,9` or a range `1..100`")
    })
}

/// Parses `7`, `1,5,9` or `1..100`.
pub fn parse_seeds(text: &str) -> Option<Vec<u64>> {
    let text = text.trim();
    if let Some((a, b)) = text.split_once("..") {
        let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (a < b).then(|| (a..b).collect());
    }
    text.split(',').map(|s| s.trim().parse().ok()).collect()
}

/// Rule ids of [`ChaosRules`], each with its failure verdict.
const CHAOS_RULES: [(&str, Verdict, bool); 4] = [
    ("chaos.fd-review", Verdict::Review, false),
    ("chaos.fd-deny", Verdict::Deny, false),
    ("chaos.fd-freeze", Verdict::Freeze, false),
    ("chaos.fail-open", Verdict::Allow, true),
];

/// In-process rules that return every verdict and every kind of failure,
/// as pure functions of the seed, the hook and the request id (so the
/// order in which concurrent requests are decided does not change them).
///
/// One to four rules answer per call; each is a failure one time in ten
/// (every [`FailureReason`]), mapped to that rule's failure verdict:
/// review, deny, freeze, or allow with `failed_open` for the last.
pub struct ChaosRules {
    seed: u64,
}

impl ChaosRules {
    /// Rules whose answers are fixed by `seed`.
    pub fn new(seed: u64) -> ChaosRules {
        ChaosRules { seed }
    }

    fn evaluate(&self, hook: &str, id: &str) -> Evaluation {
        let mut rng = SplitMix64::new(
            self.seed ^ fnv1a64(hook.as_bytes()) ^ fnv1a64(id.as_bytes()).rotate_left(17),
        );
        let count = 1 + rng.below(CHAOS_RULES.len() as u64) as usize;
        let outcomes = CHAOS_RULES
            .iter()
            .take(count)
            .map(|&(rule_id, on_failure, fails_open)| {
                let failure = (rng.below(10) == 0).then(|| failure_kind(&mut rng));
                let verdict = match &failure {
                    Some(_) => on_failure,
                    None => match rng.below(100) {
                        0..86 => Verdict::Allow,
                        86..93 => Verdict::Review,
                        93..98 => Verdict::Deny,
                        _ => Verdict::Freeze,
                    },
                };
                RuleOutcome {
                    rule_id: rule_id.to_string(),
                    scope: Scope::Platform,
                    digest: "00".repeat(32),
                    verdict,
                    reason: failure
                        .as_ref()
                        .map_or_else(|| verdict.as_str().to_string(), |f| f.code().to_string()),
                    note: None,
                    detail: failure.as_ref().map(ToString::to_string),
                    failed_open: failure.is_some() && fails_open,
                    failure,
                    logs: Vec::new(),
                    fuel_used: Some(rng.below(1_000_000)),
                    duration_ns: 0,
                }
            })
            .collect();
        Evaluation::combine(outcomes)
    }
}

fn failure_kind(rng: &mut SplitMix64) -> FailureReason {
    match rng.below(12) {
        0 => FailureReason::Timeout,
        1 => FailureReason::Fuel,
        2 => FailureReason::MemoryLimit,
        3 => FailureReason::TableLimit,
        4 => FailureReason::StackOverflow,
        5 => FailureReason::Trap("unreachable".into()),
        6 => FailureReason::BadOutput,
        7 => FailureReason::AbiError,
        8 => FailureReason::HostError,
        9 => FailureReason::RuleError,
        10 => FailureReason::Unavailable,
        _ => FailureReason::Refused,
    }
}

impl Evaluator for ChaosRules {
    fn claim(&self, _now: i64, request: &ClaimRequest, _facts: &ClaimFacts) -> Evaluation {
        self.evaluate("claim", &request.claim_id)
    }

    fn payout(&self, _now: i64, request: &PayoutRequest, _facts: &PayoutFacts) -> Evaluation {
        self.evaluate("payout", &request.payout_id)
    }
}

/// Allows everything; the drain's last rounds use it so that it ends.
struct AllowAll;

impl Evaluator for AllowAll {
    fn claim(&self, _now: i64, _r: &ClaimRequest, _f: &ClaimFacts) -> Evaluation {
        Evaluation::combine(Vec::new())
    }

    fn payout(&self, _now: i64, _r: &PayoutRequest, _f: &PayoutFacts) -> Evaluation {
        Evaluation::combine(Vec::new())
    }
}

/// Counts the evaluations it passes on: a retry must not reach the rules.
struct Counting<'a> {
    inner: &'a dyn Evaluator,
    calls: Cell<usize>,
}

impl Evaluator for Counting<'_> {
    fn claim(&self, now: i64, request: &ClaimRequest, facts: &ClaimFacts) -> Evaluation {
        self.calls.set(self.calls.get() + 1);
        self.inner.claim(now, request, facts)
    }

    fn payout(&self, now: i64, request: &PayoutRequest, facts: &PayoutFacts) -> Evaluation {
        self.calls.set(self.calls.get() + 1);
        self.inner.payout(now, request, facts)
    }
}

/// Runs `config` with [`ChaosRules`] of the same seed.
///
/// # Errors
///
/// The first broken invariant or expectation, as a [`SimFailure`].
pub fn simulate(config: &SimConfig) -> Result<SimReport, SimFailure> {
    simulate_with(config, &ChaosRules::new(config.seed)).map_err(|mut failure| {
        failure.replay = replay_command(config.seed, config.steps);
        failure
    })
}

/// Runs `config` against `rules` (the Wasm engine, for instance).
///
/// # Errors
///
/// The first broken invariant or expectation, as a [`SimFailure`].
pub fn simulate_with(config: &SimConfig, rules: &dyn Evaluator) -> Result<SimReport, SimFailure> {
    let counting = Counting {
        inner: rules,
        calls: Cell::new(0),
    };
    let mut sim = Sim::new(config, &counting);
    for step in 0..config.steps {
        sim.step = step;
        sim.random_step()?;
    }
    sim.step = config.steps;
    sim.drain()?;
    Ok(SimReport {
        seed: config.seed,
        steps: config.steps,
        stats: sim.stats.clone(),
        summary: sim.s.summary(),
        digest: sim.digest,
    })
}

/// A request parked because its id, user or packet was busy.
struct Parked {
    event: Event,
    /// True when it retries an earlier request.
    retry: bool,
}

struct Sim<'a> {
    config: SimConfig,
    rng: SplitMix64,
    s: Settlement,
    rules: &'a Counting<'a>,
    users: Vec<String>,
    merchants: Vec<String>,
    packets: Vec<String>,
    claims: Vec<String>,
    payouts: Vec<String>,
    /// Every new request begun, for retries.
    sent: Vec<Event>,
    #[expect(
        clippy::vec_box,
        reason = "tickets come boxed from `begin` and go boxed to `finish`"
    )]
    in_flight: Vec<Box<Ticket>>,
    parked: Vec<Parked>,
    at: i64,
    /// Paid claims and the payout that paid each: a paid claim stays paid
    /// by the same payout for ever.
    paid: HashMap<String, String>,
    stats: SimStats,
    digest: u64,
    step: usize,
    next_id: usize,
}

fn verdict_index(v: Verdict) -> usize {
    match v {
        Verdict::Allow => 0,
        Verdict::Review => 1,
        Verdict::Deny => 2,
        Verdict::Freeze => 3,
    }
}

impl<'a> Sim<'a> {
    fn new(config: &SimConfig, rules: &'a Counting<'a>) -> Sim<'a> {
        Sim {
            config: config.clone(),
            rng: SplitMix64::new(config.seed),
            s: Settlement::new(SettlementConfig::default()),
            rules,
            users: (0..config.users.max(1)).map(|i| format!("u{i}")).collect(),
            merchants: (0..config.merchants.max(1))
                .map(|i| format!("m{i}"))
                .collect(),
            packets: Vec::new(),
            claims: Vec::new(),
            payouts: Vec::new(),
            sent: Vec::new(),
            in_flight: Vec::new(),
            parked: Vec::new(),
            at: SIM_T0,
            paid: HashMap::new(),
            stats: SimStats::default(),
            digest: 0xCBF2_9CE4_8422_2325,
            step: 0,
            next_id: 0,
        }
    }

    fn fail(&self, event: Option<&Event>, message: String) -> SimFailure {
        SimFailure {
            seed: self.config.seed,
            steps: self.config.steps,
            step: self.step,
            event: event.map(|e| serde_json::to_string(e).unwrap_or_else(|_| format!("{e:?}"))),
            message,
            replay: format!(
                "run the same rules with SimConfig {{ seed: {}, steps: {}, .. }} again",
                self.config.seed, self.config.steps
            ),
        }
    }

    fn pick<'b>(&mut self, items: &'b [String]) -> Option<&'b String> {
        if items.is_empty() {
            None
        } else {
            items.get(self.rng.below(items.len() as u64) as usize)
        }
    }

    fn pick_or(&mut self, items: &[String], fallback: &str) -> String {
        self.pick(items)
            .cloned()
            .unwrap_or_else(|| fallback.to_string())
    }

    fn fen(&mut self, lo: i64, hi: i64) -> Amount {
        let fen = lo + self.rng.below((hi - lo + 1).unsigned_abs()) as i64;
        fen_to_amount(fen)
    }

    fn id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        format!("{kind}-{}", self.next_id)
    }

    /// One random step: finish a request in flight, or begin a new one or
    /// a retry.
    fn random_step(&mut self) -> Result<(), SimFailure> {
        self.at += self.rng.below(40) as i64;
        if !self.in_flight.is_empty()
            && (self.in_flight.len() >= self.config.in_flight_max || self.rng.below(4) == 0)
        {
            return self.finish_one();
        }
        let stamp = if self.rng.below(20) == 0 {
            self.at - 100
        } else {
            self.at
        };
        let roll = self.rng.below(100);
        if roll >= 90 && !self.sent.is_empty() {
            let event = self.retry_of_earlier();
            return self.begin(event, true);
        }
        let event = match roll {
            0..6 => Event::Deposit {
                id: self.id("dep"),
                at: stamp,
                merchant: self.pick_or(&self.merchants.clone(), "m0"),
                amount: self.fen(0, 12_000),
            },
            6..15 => {
                let id = self.id("pkt");
                self.packets.push(id.clone());
                let shares = 1 + self.rng.below(8) as u32;
                Event::CreatePacket {
                    id,
                    at: stamp,
                    merchant: self.pick_or(&self.merchants.clone(), "m0"),
                    total: self.fen(0, 3_000),
                    shares,
                    split: if self.rng.below(2) == 0 {
                        SplitKind::Fixed
                    } else {
                        SplitKind::Random
                    },
                    campaign: (self.rng.below(2) == 0).then(|| "spring".to_string()),
                    expires_in: Some(50 + self.rng.below(4_000) as i64),
                }
            }
            15..52 => {
                let id = self.id("c");
                self.claims.push(id.clone());
                // Mostly the newest packets, so that claims race for them.
                let packet = match self.rng.below(20) {
                    0 => "ghost".to_string(),
                    1..16 => {
                        let recent = self.packets.len().saturating_sub(3);
                        let tail = self.packets[recent..].to_vec();
                        self.pick_or(&tail, "ghost")
                    }
                    _ => self.pick_or(&self.packets.clone(), "ghost"),
                };
                Event::Claim {
                    id,
                    at: stamp,
                    packet,
                    user: self.pick_or(&self.users.clone(), "u0"),
                    device: (self.rng.below(10) != 0).then(|| format!("d{}", self.rng.below(4))),
                    ip: Some(format!("ip{}", self.rng.below(3))),
                    account_created_at: Some(SIM_T0 - 86_400),
                    label: None,
                }
            }
            52..72 => {
                let id = self.id("po");
                self.payouts.push(id.clone());
                // Mostly a claim that is reserved now, else any claim id.
                let reserved = self.reserved_claims();
                let claim = if !reserved.is_empty() && self.rng.below(10) < 7 {
                    self.pick_or(&reserved, "ghost")
                } else {
                    self.pick_or(&self.claims.clone(), "ghost")
                };
                Event::Payout {
                    id,
                    at: stamp,
                    claim,
                    device: None,
                    ip: None,
                    label: None,
                }
            }
            72..82 => {
                // Mostly something really held, else any claim or payout.
                let held = self.held_targets();
                let target = if !held.is_empty() && self.rng.below(4) != 0 {
                    self.pick_or(&held, "ghost")
                } else if self.rng.below(2) == 0 {
                    self.pick_or(&self.claims.clone(), "ghost")
                } else {
                    self.pick_or(&self.payouts.clone(), "ghost")
                };
                Event::ResolveReview {
                    id: self.id("rv"),
                    at: stamp,
                    target,
                    decision: if self.rng.below(2) == 0 {
                        ReviewDecision::Approve
                    } else {
                        ReviewDecision::Reject
                    },
                }
            }
            82..87 => {
                let frozen: Vec<String> = self
                    .users
                    .iter()
                    .filter(|u| self.s.is_frozen(u))
                    .cloned()
                    .collect();
                let user = if !frozen.is_empty() && self.rng.below(3) != 0 {
                    self.pick_or(&frozen, "u0")
                } else {
                    self.pick_or(&self.users.clone(), "u0")
                };
                Event::Unfreeze {
                    id: self.id("uf"),
                    at: stamp,
                    user,
                }
            }
            _ => Event::Tick { at: stamp },
        };
        self.begin(event, false)
    }

    /// An earlier request again, at the first instant so that no expiry
    /// runs first: the same body (a replay) or, one time in four, another
    /// body (a conflict).
    fn retry_of_earlier(&mut self) -> Event {
        let index = self.rng.below(self.sent.len() as u64) as usize;
        let mut old = self.sent[index].clone();
        let conflict = self.rng.below(4) == 0;
        match &mut old {
            Event::Deposit { at, amount, .. } => {
                *at = SIM_T0;
                if conflict {
                    *amount = self.fen(1, 99);
                }
            }
            Event::Claim { at, user, .. } => {
                *at = SIM_T0;
                if conflict {
                    *user = format!("other-{user}");
                }
            }
            Event::Payout { at, claim, .. } => {
                *at = SIM_T0;
                if conflict {
                    *claim = format!("other-{claim}");
                }
            }
            Event::CreatePacket { at, total, .. } => {
                *at = SIM_T0;
                if conflict {
                    *total = self.fen(1, 99);
                }
            }
            Event::ResolveReview { at, decision, .. } => {
                *at = SIM_T0;
                if conflict {
                    *decision = match decision {
                        ReviewDecision::Approve => ReviewDecision::Reject,
                        ReviewDecision::Reject => ReviewDecision::Approve,
                    };
                }
            }
            Event::Unfreeze { at, .. } | Event::Tick { at } => *at = SIM_T0,
        }
        old
    }

    /// Claims reserved for a payout now.
    fn reserved_claims(&self) -> Vec<String> {
        let mut reserved: Vec<String> = self
            .s
            .claims
            .iter()
            .filter(|(_, c)| matches!(c.state, ClaimState::Reserved { .. }))
            .map(|(id, _)| id.clone())
            .collect();
        reserved.sort();
        reserved
    }

    /// Claims and payouts held for review now.
    fn held_targets(&self) -> Vec<String> {
        let mut held: Vec<String> = self
            .s
            .claims
            .iter()
            .filter_map(|(id, c)| match &c.state {
                ClaimState::HeldForReview => Some(id.clone()),
                ClaimState::PayoutHeld { payout } => Some(payout.clone()),
                _ => None,
            })
            .collect();
        held.sort();
        held
    }

    /// Begins `event`; decides at once, leaves in flight, or parks it.
    fn begin(&mut self, event: Event, retry: bool) -> Result<(), SimFailure> {
        self.stats.requests += 1;
        let calls = self.rules.calls.get();
        let unfreezing = match &event {
            Event::Unfreeze { user, .. } => self
                .s
                .user(user)
                .filter(|u| u.frozen)
                .map(|u| (u.frozen_wallet.fen(), u.frozen_fen())),
            _ => None,
        };
        // Only retries and unfreezes compare the money before and after.
        let before = (retry || unfreezing.is_some()).then(|| self.s.summary());
        let begun = self.s.begin(&event);
        let outcome = match begun {
            Begun::Wait(expired) => {
                self.stats.waits += 1;
                self.stats.expiries += expired.len();
                self.parked.push(Parked { event, retry });
                return self.check(None, "a parked request");
            }
            Begun::Decide(ticket) => {
                if retry {
                    return Err(self.fail(
                        Some(&event),
                        "a retry of a stored request was begun anew".into(),
                    ));
                }
                self.sent.push(event.clone());
                let keep =
                    self.in_flight.len() < self.config.in_flight_max && self.rng.below(3) != 0;
                if keep {
                    self.in_flight.push(ticket);
                    self.stats.in_flight_peak = self.stats.in_flight_peak.max(self.in_flight.len());
                    return self.check(Some(&event), "a request begun");
                }
                return self.finish(ticket);
            }
            Begun::Done(outcome) => outcome,
        };
        if self.rules.calls.get() != calls {
            return Err(self.fail(
                Some(&event),
                "the rules ran for a request without a decision".into(),
            ));
        }
        if retry {
            if !(outcome.replay || matches!(outcome.status, Status::Conflict(_))) {
                return Err(self.fail(
                    Some(&event),
                    format!("a retry was executed again: {outcome:?}"),
                ));
            }
            let after = self.s.summary();
            if Some(&after) != before.as_ref() {
                return Err(self.fail(
                    Some(&event),
                    format!("money moved on a retry: {before:?} -> {after:?}"),
                ));
            }
        } else if !matches!(event, Event::Tick { .. }) {
            self.sent.push(event.clone());
        }
        if let Some((wallet, total)) = unfreezing
            && let Some(before) = &before
            && outcome.is_accepted()
            && !outcome.replay
        {
            // An unfreeze approves nothing: only what came from the wallet
            // reaches a wallet; every share goes to the review hold.
            let after = self.s.summary();
            let paid = after.paid_out.fen() - before.paid_out.fen();
            let held = after.held_for_review.fen() - before.held_for_review.fen();
            if paid != wallet || i128::from(paid + held) != total {
                return Err(self.fail(
                    Some(&event),
                    format!("an unfreeze moved {paid} fen to the wallet and {held} to the hold; it froze {wallet} and {total} in all"),
                ));
            }
        }
        self.record(&event, &outcome)?;
        self.check(Some(&event), "a request")
    }

    /// Finishes a random request in flight, then begins the parked ones.
    fn finish_one(&mut self) -> Result<(), SimFailure> {
        let index = self.rng.below(self.in_flight.len() as u64) as usize;
        let ticket = self.in_flight.swap_remove(index);
        self.finish(ticket)
    }

    fn finish(&mut self, ticket: Box<Ticket>) -> Result<(), SimFailure> {
        let event = ticket.event().clone();
        if let Event::Claim { packet, .. } = &event
            && self.s.packet(packet).is_some_and(|p| p.expired)
        {
            self.stats.finished_after_expiry += 1;
        }
        let evaluation = ticket.evaluate(self.rules);
        let outcome = self.s.finish(ticket, evaluation);
        self.record(&event, &outcome)?;
        self.check(Some(&event), "a finished request")?;
        self.unpark()
    }

    /// Begins every parked request again, as the shared core's waiters do
    /// when a request finishes.
    fn unpark(&mut self) -> Result<(), SimFailure> {
        for parked in std::mem::take(&mut self.parked) {
            self.begin(parked.event, parked.retry)?;
        }
        Ok(())
    }

    /// Counts and hashes an outcome, and checks it against its event.
    fn record(&mut self, event: &Event, outcome: &Outcome) -> Result<(), SimFailure> {
        let line = format!(
            "{} {:?} {:?} {}",
            outcome.request_id, outcome.status, outcome.verdict, outcome.amount
        );
        for b in line.bytes() {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
        self.stats.expiries += outcome.expired.len();
        match &outcome.status {
            _ if outcome.replay => self.stats.replays += 1,
            Status::Accepted => self.stats.accepted += 1,
            Status::Refused(e) => {
                self.stats.refused += 1;
                *self.stats.refusals.entry(e.code()).or_default() += 1;
            }
            Status::Conflict(_) => self.stats.conflicts += 1,
        }
        if !outcome.is_accepted() && outcome.amount != Amount::ZERO {
            return Err(self.fail(
                Some(event),
                format!("a refused request moved money: {outcome:?}"),
            ));
        }
        if (outcome.replay || matches!(outcome.status, Status::Conflict(_)))
            && outcome.decision.is_some()
        {
            return Err(self.fail(
                Some(event),
                "a replay or conflict carries a decision".into(),
            ));
        }
        if outcome.replay {
            return Ok(());
        }
        if let Some(d) = &outcome.decision {
            let v = verdict_index(d.verdict);
            match event {
                Event::Claim { .. } => self.stats.claim_verdicts[v] += 1,
                _ => self.stats.payout_verdicts[v] += 1,
            }
            self.stats.rule_failures += d.rules.iter().filter(|r| r.failure.is_some()).count();
            self.stats.failed_open += d.rules.iter().filter(|r| r.failed_open).count();
            if d.verdict == Verdict::Allow
                && d.rules
                    .iter()
                    .any(|r| r.failure.is_some() && !r.failed_open)
            {
                return Err(self.fail(Some(event), format!("a failed rule became an allow: {d:?}")));
            }
        }
        if outcome.is_accepted() {
            match event {
                Event::ResolveReview { .. } => self.stats.reviews += 1,
                Event::Unfreeze { .. } => self.stats.unfreezes += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Every invariant, plus: a paid claim stays paid by the same payout,
    /// and at most one claim is paid per step, by the request of the step.
    fn check(&mut self, event: Option<&Event>, what: &str) -> Result<(), SimFailure> {
        if let Err(e) = self.s.check_invariants() {
            return Err(self.fail(event, format!("invariant broken after {what}: {e}")));
        }
        // `check_invariants` includes the ledger's zero sum; the summary's
        // own check (its parts make the deposits) runs every 64 steps.
        if self.step.is_multiple_of(64) {
            let summary = self.s.summary();
            if !summary.zero_sum_ok {
                return Err(self.fail(
                    event,
                    format!("the money does not add up after {what}: {summary:?}"),
                ));
            }
        }
        if self.s.in_flight.requests.len() != self.in_flight.len() {
            return Err(self.fail(
                event,
                format!(
                    "{} requests in flight, the core has {}",
                    self.in_flight.len(),
                    self.s.in_flight.requests.len()
                ),
            ));
        }
        let mut newly_paid = Vec::new();
        let mut still_paid = 0;
        for (claim_id, claim) in &self.s.claims {
            if let ClaimState::Paid { payout } = &claim.state {
                match self.paid.get(claim_id) {
                    Some(p) if p == payout => still_paid += 1,
                    Some(p) => {
                        return Err(self.fail(
                            event,
                            format!("claim {claim_id} was paid by {p}, now by {payout}"),
                        ));
                    }
                    None => newly_paid.push((claim_id.clone(), payout.clone())),
                }
            }
        }
        if still_paid != self.paid.len() {
            return Err(self.fail(
                event,
                format!(
                    "{} claims were paid, only {still_paid} still are",
                    self.paid.len()
                ),
            ));
        }
        if newly_paid.len() > 1 {
            return Err(self.fail(
                event,
                format!("one step paid several claims: {newly_paid:?}"),
            ));
        }
        if let Some((claim, payout)) = newly_paid.pop() {
            let by_this = match event {
                Some(Event::Payout { id, .. }) => *id == payout,
                Some(Event::ResolveReview { target, .. }) => *target == payout,
                _ => false,
            };
            if !by_this {
                return Err(self.fail(
                    event,
                    format!("claim {claim} was paid by {payout}, not by this step's request"),
                ));
            }
            if self.s.payouts.get(&payout).map(|p| p.state) != Some(PayoutState::Paid) {
                return Err(self.fail(
                    event,
                    format!("payout {payout} paid claim {claim} but is not paid"),
                ));
            }
            self.paid.insert(claim, payout);
            self.stats.paid += 1;
        }
        Ok(())
    }

    /// Finishes everything, then unfreezes, resolves and pays out until
    /// nothing is held, frozen or reserved, and expires every packet.
    /// Nothing may stay stuck.
    fn drain(&mut self) -> Result<(), SimFailure> {
        while !self.in_flight.is_empty() || !self.parked.is_empty() {
            if self.in_flight.is_empty() {
                // Parked requests wait only for requests in flight.
                return Err(self.fail(None, "requests parked with nothing in flight".into()));
            }
            self.finish_one()?;
        }
        for round in 0..8 {
            let frozen: Vec<String> = {
                let mut f: Vec<String> = self
                    .s
                    .users
                    .iter()
                    .filter(|(_, u)| u.frozen)
                    .map(|(id, _)| id.clone())
                    .collect();
                f.sort();
                f
            };
            for user in frozen {
                let event = Event::Unfreeze {
                    id: format!("drain-{round}-uf-{user}"),
                    at: self.at,
                    user,
                };
                self.drain_event(event, &AllowAll)?;
            }
            for target in self.held_targets() {
                let decision = if self.rng.below(2) == 0 {
                    ReviewDecision::Approve
                } else {
                    ReviewDecision::Reject
                };
                let event = Event::ResolveReview {
                    id: format!("drain-{round}-rv-{target}"),
                    at: self.at,
                    target,
                    decision,
                };
                self.drain_event(event, &AllowAll)?;
            }
            for claim in self.reserved_claims() {
                let event = Event::Payout {
                    id: format!("drain-{round}-po-{claim}"),
                    at: self.at,
                    claim,
                    device: None,
                    ip: None,
                    label: None,
                };
                // The first rounds keep the run's rules: a payout may be
                // held or frozen again, and the next round resolves it.
                if round < 2 {
                    self.drain_event(event, self.rules)?;
                } else {
                    self.drain_event(event, &AllowAll)?;
                }
            }
            let sum = self.s.summary();
            if sum.held_for_review == Amount::ZERO
                && sum.frozen == Amount::ZERO
                && sum.reserved == Amount::ZERO
                && !self.s.users.values().any(|u| u.frozen)
            {
                break;
            }
        }
        let last = self
            .s
            .packets
            .values()
            .map(|p| p.expires_at)
            .max()
            .unwrap_or(self.at);
        self.drain_event(
            Event::Tick {
                at: last.max(self.at) + 1,
            },
            &AllowAll,
        )?;
        self.check_nothing_stuck()
    }

    /// Applies one drain event in both phases at once.
    fn drain_event(&mut self, event: Event, rules: &dyn Evaluator) -> Result<(), SimFailure> {
        self.stats.requests += 1;
        let outcome = self.s.apply(&event, rules);
        if !outcome.is_accepted() {
            return Err(self.fail(Some(&event), format!("the drain was refused: {outcome:?}")));
        }
        self.record(&event, &outcome)?;
        self.check(Some(&event), "a drain step")
    }

    /// After the drain: no money anywhere but merchants' balances and
    /// wallets, every claim paid or released, every payout final, every
    /// packet expired, nothing in flight.
    fn check_nothing_stuck(&self) -> Result<(), SimFailure> {
        let sum = self.s.summary();
        let stuck = [
            ("held for review", sum.held_for_review),
            ("frozen", sum.frozen),
            ("reserved", sum.reserved),
            ("in escrow", sum.in_escrow),
        ];
        for (what, amount) in stuck {
            if amount != Amount::ZERO {
                return Err(self.fail(
                    None,
                    format!("{amount} still {what} after the drain: {sum:?}"),
                ));
            }
        }
        if sum.merchant_available.fen() + sum.paid_out.fen() != sum.deposited.fen() {
            return Err(self.fail(
                None,
                format!("merchants and wallets do not make the deposits: {sum:?}"),
            ));
        }
        for (id, claim) in &self.s.claims {
            if !matches!(claim.state, ClaimState::Paid { .. } | ClaimState::Released) {
                return Err(self.fail(None, format!("claim {id} is stuck: {:?}", claim.state)));
            }
        }
        for (id, payout) in &self.s.payouts {
            if !matches!(
                payout.state,
                PayoutState::Paid | PayoutState::Denied | PayoutState::Rejected
            ) {
                return Err(self.fail(None, format!("payout {id} is stuck: {:?}", payout.state)));
            }
        }
        if let Some((id, _)) = self.s.packets.iter().find(|(_, p)| !p.expired) {
            return Err(self.fail(None, format!("packet {id} never expired")));
        }
        if !self.s.is_idle()
            || self
                .s
                .users
                .values()
                .any(|u| u.frozen || !u.held.is_empty())
        {
            return Err(self.fail(None, "a user is still frozen, held or busy".into()));
        }
        Ok(())
    }
}
