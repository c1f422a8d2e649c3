//! A seeded random simulation of the money core, VOPR style: random
//! merchants, packets, claims, payouts, reviews, freezes, retries, conflicts,
//! clock jumps (backwards too) and random verdicts. A seed reproduces a run
//! exactly; every invariant is checked after every step.

use super::*;
use crate::rng::SplitMix64;

/// Random verdicts from a seeded generator, counting calls.
struct RandomRules {
    rng: RefCell<SplitMix64>,
    calls: Cell<usize>,
}

impl RandomRules {
    fn verdict(&self) -> Verdict {
        self.calls.set(self.calls.get() + 1);
        match self.rng.borrow_mut().below(100) {
            0..70 => Verdict::Allow,
            70..82 => Verdict::Review,
            82..94 => Verdict::Deny,
            _ => Verdict::Freeze,
        }
    }
}

impl Evaluator for RandomRules {
    fn claim(&self, _now: i64, _r: &ClaimRequest, _f: &ClaimFacts) -> Evaluation {
        evaluation(self.verdict())
    }

    fn payout(&self, _now: i64, _r: &PayoutRequest, _f: &PayoutFacts) -> Evaluation {
        evaluation(self.verdict())
    }
}

/// What one run produced, for comparing two runs of the same seed.
#[derive(Debug, PartialEq)]
struct Trace {
    outcomes: Vec<String>,
    summary: MoneySummary,
    /// Unfreezes that put shares back in the review hold.
    unfrozen_to_hold: usize,
}

fn pick<'a>(rng: &mut SplitMix64, items: &'a [String]) -> Option<&'a String> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.below(items.len() as u64) as usize)
    }
}

fn fen(rng: &mut SplitMix64, lo: i64, hi: i64) -> Amount {
    Amount::from_fen(lo + rng.below((hi - lo + 1) as u64) as i64).expect("amount")
}

fn simulate(seed: u64, steps: usize) -> Trace {
    let mut rng = SplitMix64::new(seed);
    let rules = RandomRules {
        rng: RefCell::new(SplitMix64::new(seed ^ 0x5EED)),
        calls: Cell::new(0),
    };
    let mut s = Settlement::new(SettlementConfig::default());
    let users: Vec<String> = (0..12).map(|i| format!("u{i}")).collect();
    let merchants: Vec<String> = (0..3).map(|i| format!("m{i}")).collect();
    let (mut packets, mut claims, mut payouts) = (Vec::new(), Vec::new(), Vec::new());
    let mut sent: Vec<Event> = Vec::new();
    let mut outcomes = Vec::new();
    let mut unfrozen_to_hold = 0;
    let mut at = T0;
    for step in 0..steps {
        at += rng.below(40) as i64;
        let stamp = if rng.below(20) == 0 { at - 100 } else { at };
        let id = format!("{step}");
        let roll = rng.below(100);
        let mut retry = false;
        let event = match roll {
            0..6 => Event::Deposit {
                id,
                at: stamp,
                merchant: pick(&mut rng, &merchants).cloned().unwrap_or_default(),
                amount: fen(&mut rng, 0, 5_000),
            },
            6..16 => {
                packets.push(id.clone());
                let shares = 1 + rng.below(8) as u32;
                Event::CreatePacket {
                    id,
                    at: stamp,
                    merchant: pick(&mut rng, &merchants).cloned().unwrap_or_default(),
                    total: fen(&mut rng, 0, 3_000),
                    shares,
                    split: if rng.below(2) == 0 {
                        SplitKind::Fixed
                    } else {
                        SplitKind::Random
                    },
                    campaign: None,
                    expires_in: Some(50 + rng.below(2_000) as i64),
                }
            }
            16..50 => {
                claims.push(id.clone());
                let packet = if rng.below(20) == 0 {
                    "ghost".to_string()
                } else {
                    pick(&mut rng, &packets).cloned().unwrap_or_default()
                };
                Event::Claim {
                    id,
                    at: stamp,
                    packet,
                    user: pick(&mut rng, &users).cloned().unwrap_or_default(),
                    device: Some(format!("d{}", rng.below(4))),
                    ip: Some(format!("ip{}", rng.below(3))),
                    account_created_at: Some(T0 - 86_400),
                    label: None,
                }
            }
            50..70 => {
                payouts.push(id.clone());
                Event::Payout {
                    id,
                    at: stamp,
                    claim: pick(&mut rng, &claims).cloned().unwrap_or_default(),
                    device: None,
                    ip: None,
                    label: None,
                }
            }
            70..80 => {
                let pool = if rng.below(2) == 0 { &claims } else { &payouts };
                Event::ResolveReview {
                    id,
                    at: stamp,
                    target: pick(&mut rng, pool).cloned().unwrap_or_default(),
                    decision: if rng.below(2) == 0 {
                        ReviewDecision::Approve
                    } else {
                        ReviewDecision::Reject
                    },
                }
            }
            80..85 => Event::Unfreeze {
                id,
                at: stamp,
                user: pick(&mut rng, &users).cloned().unwrap_or_default(),
            },
            85..88 => Event::Tick { at: stamp },
            _ => {
                // Retry an earlier request, at or before the clock so that no
                // expiry runs first: nothing may move and no rule may run.
                // One retry in four changes the body: a conflict.
                let Some(mut old) = sent
                    .get(rng.below(sent.len().max(1) as u64) as usize)
                    .cloned()
                else {
                    continue;
                };
                let conflict = rng.below(4) == 0;
                match &mut old {
                    Event::Deposit { at: a, amount, .. } => {
                        *a = T0;
                        if conflict {
                            *amount = fen(&mut rng, 1, 99);
                        }
                    }
                    Event::Claim { at: a, user, .. } => {
                        *a = T0;
                        if conflict {
                            *user = format!("other-{user}");
                        }
                    }
                    Event::Payout { at: a, claim, .. } => {
                        *a = T0;
                        if conflict {
                            *claim = format!("other-{claim}");
                        }
                    }
                    Event::CreatePacket { at: a, .. }
                    | Event::ResolveReview { at: a, .. }
                    | Event::Unfreeze { at: a, .. }
                    | Event::Tick { at: a } => *a = T0,
                }
                retry = !matches!(old, Event::Tick { .. });
                old
            }
        };
        let before = s.summary();
        let calls = rules.calls.get();
        // What a frozen user's record says came in, before an unfreeze.
        let unfreezing = match &event {
            Event::Unfreeze { user, .. } => s
                .user(user)
                .filter(|u| u.frozen)
                .map(|u| (u.frozen_wallet.fen(), u.frozen_fen())),
            _ => None,
        };
        let outcome = s.apply(&event, &rules);
        if let Err(e) = s.check_invariants() {
            panic!("seed {seed} step {step}: invariant broken after {event:?}: {e}");
        }
        let after = s.summary();
        assert!(after.zero_sum_ok, "seed {seed} step {step}: {after:?}");
        if retry {
            assert!(
                outcome.replay || matches!(outcome.status, Status::Conflict(_)),
                "seed {seed} step {step}: a retry was executed again: {outcome:?}"
            );
            assert_eq!(
                rules.calls.get(),
                calls,
                "seed {seed} step {step}: rules ran on a retry"
            );
            assert_eq!(
                after, before,
                "seed {seed} step {step}: money moved on a retry"
            );
        }
        if outcome.replay || matches!(outcome.status, Status::Conflict(_)) {
            assert!(outcome.decision.is_none());
        }
        if let Some((wallet, total)) = unfreezing
            && outcome.is_accepted()
            && !outcome.replay
        {
            // An unfreeze approves nothing: only what came from the wallet
            // reaches a wallet; every share goes to the review hold.
            let paid = after.paid_out.fen() - before.paid_out.fen();
            let held = after.held_for_review.fen() - before.held_for_review.fen();
            assert_eq!(paid, wallet, "seed {seed} step {step}: {event:?}");
            assert_eq!(
                i128::from(paid + held),
                total,
                "seed {seed} step {step}: {event:?}"
            );
            assert_eq!(
                after.frozen.fen() + outcome.amount.fen(),
                before.frozen.fen(),
                "seed {seed} step {step}: {event:?}"
            );
            unfrozen_to_hold += usize::from(held > 0);
        }
        outcomes.push(format!(
            "{} {:?} {:?} {}",
            outcome.request_id, outcome.status, outcome.verdict, outcome.amount
        ));
        if !retry {
            sent.push(event);
        }
    }
    Trace {
        outcomes,
        summary: s.summary(),
        unfrozen_to_hold,
    }
}

#[test]
fn seeded_random_traffic_keeps_every_invariant() {
    let mut unfrozen_to_hold = 0;
    for seed in [1, 2, 3] {
        let trace = simulate(seed, 2_500);
        let s = &trace.summary;
        assert!(s.zero_sum_ok);
        // The run did exercise the interesting paths.
        let count = |needle: &str| trace.outcomes.iter().filter(|o| o.contains(needle)).count();
        assert!(count("Some(Freeze)") > 0, "seed {seed}: no freeze");
        assert!(count("Some(Review)") > 0, "seed {seed}: no review");
        assert!(count("Conflict") > 0, "seed {seed}: no conflict");
        assert!(count("PacketExpired") > 0, "seed {seed}: no expiry");
        assert!(
            s.paid_out.fen() > 0 && s.refunded.fen() > 0,
            "seed {seed}: {s:?}"
        );
        unfrozen_to_hold += trace.unfrozen_to_hold;
    }
    assert!(
        unfrozen_to_hold > 0,
        "no unfreeze returned a share to the review hold"
    );
}

#[test]
fn a_seed_replays_exactly() {
    assert_eq!(simulate(42, 800), simulate(42, 800));
    assert_ne!(simulate(42, 800).outcomes, simulate(43, 800).outcomes);
}
