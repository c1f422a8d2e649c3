//! Settlement tests. Every test drives a [`World`] that checks all
//! invariants after every event: every row of the verdict table at claim and
//! payout, reviews, freezes, expiry (M08), retries (M05, M06), one share per
//! user (M04), overdrafts (M07), and a seeded random simulation.

mod inflight;
mod scenarios;
mod simulation;
mod unfreeze;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use rules_sdk::{Amount, ClaimFacts, ClaimRequest, PayoutFacts, PayoutRequest, Verdict};

use super::*;
use crate::event::{Event, ReviewDecision, SplitKind};
use crate::risk::{Evaluation, Evaluator, RuleOutcome, Scope};

/// 2026-12-03 12:00:00 UTC.
const T0: i64 = 1_796_299_200;

fn amt(text: &str) -> Amount {
    Amount::parse(text).expect("test amount")
}

/// One rule's outcome with verdict `v`, as the sandbox would report it.
fn evaluation(v: Verdict) -> Evaluation {
    Evaluation::combine(vec![RuleOutcome {
        rule_id: "scripted".into(),
        scope: Scope::Platform,
        digest: "00".repeat(32),
        verdict: v,
        reason: v.as_str().into(),
        note: None,
        failure: None,
        detail: None,
        logs: Vec::new(),
        failed_open: false,
        fuel_used: Some(7),
        duration_ns: 0,
    }])
}

/// Verdicts from a queue per hook (then `fallback`), counting calls and
/// keeping what each hook saw last.
struct Script {
    claim: RefCell<VecDeque<Verdict>>,
    payout: RefCell<VecDeque<Verdict>>,
    fallback: Verdict,
    claim_calls: Cell<usize>,
    payout_calls: Cell<usize>,
    last_claim: RefCell<Option<(ClaimRequest, ClaimFacts)>>,
    last_payout: RefCell<Option<(PayoutRequest, PayoutFacts)>>,
}

impl Script {
    fn allowing() -> Script {
        Script {
            claim: RefCell::new(VecDeque::new()),
            payout: RefCell::new(VecDeque::new()),
            fallback: Verdict::Allow,
            claim_calls: Cell::new(0),
            payout_calls: Cell::new(0),
            last_claim: RefCell::new(None),
            last_payout: RefCell::new(None),
        }
    }

    fn calls(&self) -> (usize, usize) {
        (self.claim_calls.get(), self.payout_calls.get())
    }
}

impl Evaluator for Script {
    fn claim(&self, _now: i64, request: &ClaimRequest, facts: &ClaimFacts) -> Evaluation {
        self.claim_calls.set(self.claim_calls.get() + 1);
        *self.last_claim.borrow_mut() = Some((request.clone(), facts.clone()));
        let v = self.claim.borrow_mut().pop_front().unwrap_or(self.fallback);
        evaluation(v)
    }

    fn payout(&self, _now: i64, request: &PayoutRequest, facts: &PayoutFacts) -> Evaluation {
        self.payout_calls.set(self.payout_calls.get() + 1);
        *self.last_payout.borrow_mut() = Some((request.clone(), facts.clone()));
        let v = self
            .payout
            .borrow_mut()
            .pop_front()
            .unwrap_or(self.fallback);
        evaluation(v)
    }
}

/// A settlement core and scripted rules; checks every invariant after every
/// event.
struct World {
    s: Settlement,
    rules: Script,
}

impl World {
    fn new() -> World {
        World {
            s: Settlement::new(SettlementConfig::default()),
            rules: Script::allowing(),
        }
    }

    fn run(&mut self, event: Event) -> Outcome {
        let outcome = self.s.apply(&event, &self.rules);
        if let Err(e) = self.s.check_invariants() {
            panic!("invariant broken after {event:?}: {e}");
        }
        assert!(self.s.summary().zero_sum_ok, "zero sum after {event:?}");
        outcome
    }

    /// Runs `event` and insists it was accepted.
    fn ok(&mut self, event: Event) -> Outcome {
        let outcome = self.run(event);
        assert_eq!(outcome.status, Status::Accepted, "{outcome:?}");
        outcome
    }

    /// Runs `event` and returns its refusal.
    fn refused(&mut self, event: Event) -> SettlementError {
        match self.run(event).status {
            Status::Refused(e) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn next_claim(&self, v: Verdict) {
        self.rules.claim.borrow_mut().push_back(v);
    }

    fn next_payout(&self, v: Verdict) {
        self.rules.payout.borrow_mut().push_back(v);
    }

    fn claim_state(&self, claim: &str) -> Option<ClaimState> {
        self.s.claim_record(claim).map(|c| c.state.clone())
    }

    /// A merchant `m` with `total` deposited and one packet `p` of it.
    fn funded_packet(&mut self, m: &str, p: &str, total: &str, shares: u32) {
        self.ok(deposit(&format!("dep-{p}"), T0, m, total));
        self.ok(packet(p, T0, m, total, shares, SplitKind::Fixed));
    }
}

fn deposit(id: &str, at: i64, merchant: &str, amount: &str) -> Event {
    Event::Deposit {
        id: id.into(),
        at,
        merchant: merchant.into(),
        amount: amt(amount),
    }
}

fn packet(id: &str, at: i64, merchant: &str, total: &str, shares: u32, split: SplitKind) -> Event {
    Event::CreatePacket {
        id: id.into(),
        at,
        merchant: merchant.into(),
        total: amt(total),
        shares,
        split,
        campaign: None,
        expires_in: None,
    }
}

fn expiring_packet(
    id: &str,
    at: i64,
    merchant: &str,
    total: &str,
    shares: u32,
    expires_in: i64,
) -> Event {
    Event::CreatePacket {
        id: id.into(),
        at,
        merchant: merchant.into(),
        total: amt(total),
        shares,
        split: SplitKind::Fixed,
        campaign: Some("spring".into()),
        expires_in: Some(expires_in),
    }
}

fn claim(id: &str, at: i64, packet: &str, user: &str) -> Event {
    Event::Claim {
        id: id.into(),
        at,
        packet: packet.into(),
        user: user.into(),
        device: Some(format!("dev-{user}")),
        ip: Some("10.0.0.1".into()),
        account_created_at: None,
        label: None,
    }
}

fn payout(id: &str, at: i64, claim: &str) -> Event {
    Event::Payout {
        id: id.into(),
        at,
        claim: claim.into(),
        device: None,
        ip: None,
        label: None,
    }
}

fn resolve(id: &str, at: i64, target: &str, decision: ReviewDecision) -> Event {
    Event::ResolveReview {
        id: id.into(),
        at,
        target: target.into(),
        decision,
    }
}

fn unfreeze(id: &str, at: i64, user: &str) -> Event {
    Event::Unfreeze {
        id: id.into(),
        at,
        user: user.into(),
    }
}

fn tick(at: i64) -> Event {
    Event::Tick { at }
}
