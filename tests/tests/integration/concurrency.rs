//! Money under real threads through `SharedSettlement` (M04, M07): no lost
//! update, no overdraft, one share per user, and rules that run outside the
//! core's lock. Each race starts its threads at a barrier; every result is
//! an exact count or amount, and every invariant is checked afterwards.

use std::sync::mpsc;
use std::sync::{Barrier, Mutex};
use std::thread;

use anyhow::{Context, Result, bail};
use hongbao::event::{Event, SplitKind};
use hongbao::risk::{Evaluation, Evaluator, RiskEngine};
use hongbao::settlement::{
    DecisionInput, Outcome, Settlement, SettlementConfig, SettlementError, SharedSettlement, Status,
};
use hongbao_tests::{NOW, amt, claim_event, deposit_event, packet_event, verdict_engine};
use rules_sdk::{Amount, ClaimFacts, ClaimRequest, PayoutFacts, PayoutRequest, Verdict};

const T0: i64 = NOW;

fn allow() -> Result<RiskEngine> {
    verdict_engine("allow", &["claim", "payout"])
}

fn shared() -> SharedSettlement {
    SharedSettlement::new(Settlement::new(SettlementConfig::default()))
}

/// Applies `event`, which must be accepted.
fn ok(s: &SharedSettlement, event: &Event, rules: &dyn Evaluator) -> Result<Outcome> {
    let o = s.apply(event, rules);
    if o.status != Status::Accepted {
        bail!("{event:?} was not accepted: {o:?}");
    }
    Ok(o)
}

fn check(s: &SharedSettlement) -> Result<()> {
    s.with(|core| {
        core.check_invariants()?;
        if !core.summary().zero_sum_ok {
            bail!("the ledger does not sum to zero: {:?}", core.summary());
        }
        if !core.is_idle() {
            bail!("a request is still being decided after every thread finished");
        }
        Ok(())
    })
}

/// Runs every event on its own thread, all released at once by a barrier;
/// returns the outcomes in the order of `events`.
fn race(s: &SharedSettlement, events: &[Event], rules: &(dyn Evaluator + Sync)) -> Vec<Outcome> {
    let start = Barrier::new(events.len());
    thread::scope(|scope| {
        let handles: Vec<_> = events
            .iter()
            .map(|e| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    s.apply(e, rules)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn claim_facts(outcome: &Outcome) -> Result<&ClaimFacts> {
    match outcome.decision.as_ref().map(|d| &d.input) {
        Some(DecisionInput::Claim { facts, .. }) => Ok(facts),
        other => bail!("no claim decision record: {other:?}"),
    }
}

/// M04: packet 10.00 in 5 shares; the same user sends 50 concurrent claims.
/// Exactly one succeeds, the other 49 are told it was already claimed, and
/// the user's velocity counter moves by one.
#[test]
fn m04_fifty_concurrent_claims_of_one_user_take_one_share() -> Result<()> {
    let rules = allow()?;
    let s = shared();
    ok(&s, &deposit_event("dep-1", T0, "m1", "20.00"), &rules)?;
    for p in ["p-1", "p-2"] {
        ok(
            &s,
            &packet_event(p, T0, "m1", "10.00", 5, SplitKind::Fixed),
            &rules,
        )?;
    }
    let claims: Vec<Event> = (0..50)
        .map(|i| claim_event(&format!("c-{i}"), T0 + 60, "p-1", "u-1"))
        .collect();
    let outcomes = race(&s, &claims, &rules);

    let won: Vec<&Outcome> = outcomes.iter().filter(|o| o.is_accepted()).collect();
    assert_eq!(won.len(), 1, "exactly one claim succeeds: {outcomes:?}");
    assert_eq!(won[0].amount, amt("2.00"));
    assert_eq!(won[0].verdict, Some(Verdict::Allow));
    let winner = won[0].request_id.clone();
    let already = outcomes
        .iter()
        .filter(|o| {
            matches!(
                &o.status,
                Status::Refused(SettlementError::AlreadyClaimed { claim, .. }) if *claim == winner
            )
        })
        .count();
    assert_eq!(already, 49, "49 told already claimed: {outcomes:?}");
    check(&s)?;
    s.with(|core| -> Result<()> {
        let p = core.packet("p-1").context("p-1")?;
        assert_eq!(p.open_shares(), 4);
        assert_eq!(p.holder("u-1"), Some(winner.as_str()));
        assert_eq!(core.summary().reserved, amt("2.00"));
        Ok(())
    })?;

    // The velocity counter moved by one: the user's next claim sees one
    // claim today, of 2.00.
    let next = ok(&s, &claim_event("c-next", T0 + 120, "p-2", "u-1"), &rules)?;
    let facts = claim_facts(&next)?;
    assert_eq!(facts.user_claims_today, 1, "{facts:?}");
    assert_eq!(facts.user_claimed_today, amt("2.00"));
    check(&s)
}

/// M04: ten different users race for five shares of 10.00: exactly five
/// succeed, they sum to 10.00, and the remaining count ends at 0; the other
/// five find the packet empty. Repeated over many packets.
#[test]
fn m04_ten_users_race_for_five_shares() -> Result<()> {
    let rules = allow()?;
    let s = shared();
    let rounds = 40;
    ok(
        &s,
        &deposit_event("dep-1", T0, "m1", &format!("{}.00", 10 * rounds)),
        &rules,
    )?;
    for round in 0..rounds {
        let p = format!("p-{round}");
        let split = if round % 2 == 0 {
            SplitKind::Fixed
        } else {
            SplitKind::Random
        };
        ok(&s, &packet_event(&p, T0, "m1", "10.00", 5, split), &rules)?;
        let claims: Vec<Event> = (0..10)
            .map(|u| claim_event(&format!("{p}-c-{u}"), T0 + 60, &p, &format!("u-{u}")))
            .collect();
        let outcomes = race(&s, &claims, &rules);
        let won: Vec<Amount> = outcomes
            .iter()
            .filter(|o| o.is_accepted())
            .map(|o| o.amount)
            .collect();
        assert_eq!(won.len(), 5, "round {round}: {outcomes:?}");
        assert_eq!(
            won.iter().map(|a| a.fen()).sum::<i64>(),
            1_000,
            "round {round}: the five shares sum to 10.00"
        );
        let empty = outcomes
            .iter()
            .filter(|o| o.error().map(SettlementError::code) == Some("packet-empty"))
            .count();
        assert_eq!(empty, 5, "round {round}: {outcomes:?}");
        s.with(|core| -> Result<()> {
            let packet = core.packet(&p).context("packet")?;
            assert_eq!(packet.open_shares(), 0, "round {round}");
            assert_eq!(packet.holder_count(), 5, "round {round}");
            Ok(())
        })?;
        check(&s)?;
    }
    s.with(|core| assert_eq!(core.summary().reserved, amt("400.00")));
    Ok(())
}

/// M07: a merchant with 10.00 available creates two packets of 8.00 at the
/// same moment, a thousand times over: exactly one succeeds each time, the
/// other is refused for insufficient funds, and the balance ends at 2.00.
/// A packet of 8.00 against 5.00 is refused and the balance stays 5.00.
#[test]
fn m07_two_concurrent_packets_never_overdraw_a_thousand_times() -> Result<()> {
    let rules = allow()?;
    let s = shared();
    ok(
        &s,
        &deposit_event("dep-small", T0, "m-small", "5.00"),
        &rules,
    )?;
    let o = s.apply(
        &packet_event("big", T0, "m-small", "8.00", 1, SplitKind::Fixed),
        &rules,
    );
    assert_eq!(
        o.error().map(SettlementError::code),
        Some("insufficient-funds")
    );
    s.with(|core| assert_eq!(core.merchant_available("m-small"), amt("5.00")));

    for round in 0..1_000 {
        let m = format!("m-{round}");
        ok(
            &s,
            &deposit_event(&format!("dep-{m}"), T0, &m, "10.00"),
            &rules,
        )?;
        let packets: Vec<Event> = ["a", "b"]
            .iter()
            .map(|k| packet_event(&format!("{m}-{k}"), T0, &m, "8.00", 4, SplitKind::Random))
            .collect();
        let outcomes = race(&s, &packets, &rules);
        let created = outcomes.iter().filter(|o| o.is_accepted()).count();
        let refused = outcomes
            .iter()
            .filter(|o| {
                matches!(
                    &o.status,
                    Status::Refused(SettlementError::InsufficientFunds { available, .. })
                        if *available == amt("2.00")
                )
            })
            .count();
        assert_eq!((created, refused), (1, 1), "round {round}: {outcomes:?}");
        s.with(|core| assert_eq!(core.merchant_available(&m), amt("2.00"), "round {round}"));
    }
    check(&s)?;
    s.with(|core| {
        let sum = core.summary();
        assert_eq!(sum.in_escrow, amt("8000.00"));
        assert_eq!(sum.merchant_available, amt("2005.00"));
    });
    Ok(())
}

/// Holds the claim of user `slow` inside the rules until told to go on,
/// and reports when it got there; allows everything.
struct Gate {
    entered: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Evaluator for Gate {
    fn claim(&self, _now: i64, request: &ClaimRequest, _facts: &ClaimFacts) -> Evaluation {
        if request.user_id == "slow" {
            let entered = self.entered.lock().map(|tx| tx.send(()));
            let released = self.release.lock().map(|rx| rx.recv());
            if !matches!((entered, released), (Ok(Ok(())), Ok(Ok(())))) {
                return Evaluation {
                    verdict: Verdict::Deny,
                    reason: "gate broken".into(),
                    rules: Vec::new(),
                };
            }
        }
        Evaluation::combine(Vec::new())
    }

    fn payout(&self, _now: i64, _r: &PayoutRequest, _f: &PayoutFacts) -> Evaluation {
        Evaluation::combine(Vec::new())
    }
}

/// A rule that is still deciding one user's claim blocks neither other
/// users on the same packet, nor an expiry, nor a packet creation: the
/// core's lock is not held while rules run. The slow claim's share is set
/// aside meanwhile, so the others get the other shares, and the expiry
/// refunds only what is open.
#[test]
fn a_slow_rule_blocks_no_other_request() -> Result<()> {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let gate = Gate {
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    };
    let s = shared();
    ok(&s, &deposit_event("dep-1", T0, "m1", "10.00"), &gate)?;
    ok(
        &s,
        &Event::CreatePacket {
            id: "p-1".into(),
            at: T0,
            merchant: "m1".into(),
            total: amt("3.00"),
            shares: 3,
            split: SplitKind::Fixed,
            campaign: None,
            expires_in: Some(600),
        },
        &gate,
    )?;
    thread::scope(|scope| -> Result<()> {
        let slow = scope.spawn(|| s.apply(&claim_event("c-slow", T0 + 10, "p-1", "slow"), &gate));
        entered_rx.recv().context("the slow rule started")?;
        // While it decides: another user claims the next share...
        let fast = ok(&s, &claim_event("c-fast", T0 + 20, "p-1", "fast"), &gate)?;
        assert_eq!(fast.amount, amt("1.00"));
        s.with(|core| -> Result<()> {
            core.check_invariants()?;
            assert!(!core.is_idle());
            Ok(())
        })?;
        // ...a packet is created, and the packet expires: the open share is
        // refunded, the one set aside is not.
        ok(
            &s,
            &packet_event("p-2", T0 + 30, "m1", "5.00", 5, SplitKind::Fixed),
            &gate,
        )?;
        let tick = ok(&s, &Event::Tick { at: T0 + 600 }, &gate)?;
        assert_eq!(tick.expired.len(), 1, "{tick:?}");
        assert_eq!(tick.expired[0].refunded, amt("1.00"));
        s.with(|core| core.check_invariants())?;

        release_tx.send(()).context("release the slow rule")?;
        let slow = slow.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        assert_eq!(slow.status, Status::Accepted, "{slow:?}");
        assert_eq!(slow.amount, amt("1.00"));
        Ok(())
    })?;
    check(&s)?;
    s.with(|core| {
        let sum = core.summary();
        assert_eq!(sum.reserved, amt("2.00"), "both claims hold their share");
        assert_eq!(sum.refunded, amt("1.00"));
        assert_eq!(core.merchant_available("m1"), amt("3.00"));
    });
    Ok(())
}

/// Panics in the rules of one user's claim.
struct Panicking;

impl Evaluator for Panicking {
    fn claim(&self, _now: i64, request: &ClaimRequest, _facts: &ClaimFacts) -> Evaluation {
        assert_ne!(request.user_id, "boom", "this evaluator panics for boom");
        Evaluation::combine(Vec::new())
    }

    fn payout(&self, _now: i64, _r: &PayoutRequest, _f: &PayoutFacts) -> Evaluation {
        Evaluation::combine(Vec::new())
    }
}

/// An evaluator that panics never leaves a share set aside or a user busy:
/// the claim is held for review with a host reason, and the core goes on.
#[test]
fn a_panicking_evaluator_holds_the_claim_for_review() -> Result<()> {
    let s = shared();
    ok(&s, &deposit_event("dep-1", T0, "m1", "2.00"), &Panicking)?;
    ok(
        &s,
        &packet_event("p-1", T0, "m1", "2.00", 2, SplitKind::Fixed),
        &Panicking,
    )?;
    let o = s.apply(&claim_event("c-1", T0 + 1, "p-1", "boom"), &Panicking);
    assert_eq!(o.verdict, Some(Verdict::Review), "{o:?}");
    let reason = o.decision.as_ref().map(|d| d.reason.as_str());
    assert_eq!(reason, Some("host:evaluator-panicked"));
    let next = ok(&s, &claim_event("c-2", T0 + 2, "p-1", "calm"), &Panicking)?;
    assert_eq!(next.verdict, Some(Verdict::Allow));
    check(&s)?;
    s.with(|core| assert_eq!(core.summary().held_for_review, amt("1.00")));
    Ok(())
}

/// Counts evaluations from many threads, and allows.
#[derive(Default)]
struct CountingAllow {
    claims: std::sync::atomic::AtomicUsize,
    payouts: std::sync::atomic::AtomicUsize,
}

impl Evaluator for CountingAllow {
    fn claim(&self, _now: i64, _r: &ClaimRequest, _f: &ClaimFacts) -> Evaluation {
        self.claims
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Evaluation::combine(Vec::new())
    }

    fn payout(&self, _now: i64, _r: &PayoutRequest, _f: &PayoutFacts) -> Evaluation {
        self.payouts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Evaluation::combine(Vec::new())
    }
}

/// M06 with threads: the same payout id sent by 20 threads at once pays
/// 5.00 once; the rules run once, one outcome carries the decision and the
/// other 19 are replays of it. The same for one claim id sent 20 times.
#[test]
fn m06_one_payout_id_from_twenty_threads_pays_once() -> Result<()> {
    let rules = CountingAllow::default();
    let s = shared();
    ok(&s, &deposit_event("dep-1", T0, "m1", "5.00"), &rules)?;
    ok(
        &s,
        &packet_event("p-1", T0, "m1", "5.00", 1, SplitKind::Fixed),
        &rules,
    )?;
    let claims = vec![claim_event("c-1", T0 + 60, "p-1", "u-1"); 20];
    let outcomes = race(&s, &claims, &rules);
    assert!(outcomes.iter().all(Outcome::is_accepted), "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| !o.replay).count(), 1);
    assert_eq!(rules.claims.load(std::sync::atomic::Ordering::SeqCst), 1);

    let payouts = vec![hongbao_tests::payout_event("K", T0 + 120, "c-1"); 20];
    let outcomes = race(&s, &payouts, &rules);
    assert!(outcomes.iter().all(Outcome::is_accepted), "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| o.amount == amt("5.00")),
        "{outcomes:?}"
    );
    let decided: Vec<&Outcome> = outcomes.iter().filter(|o| !o.replay).collect();
    assert_eq!(decided.len(), 1, "one execution: {outcomes:?}");
    assert!(decided[0].decision.is_some());
    assert!(
        outcomes
            .iter()
            .filter(|o| o.replay)
            .all(|o| o.decision.is_none())
    );
    assert_eq!(rules.payouts.load(std::sync::atomic::Ordering::SeqCst), 1);
    check(&s)?;
    s.with(|core| {
        assert_eq!(core.wallet("u-1"), amt("5.00"));
        assert_eq!(core.summary().paid_out, amt("5.00"));
    });
    Ok(())
}

/// Four threads send the same 300 claims and 300 payouts (same ids, same
/// bodies, each thread in its own order) on ten packets, with rules that
/// return every verdict and every kind of failure. Every id executes exactly
/// once (one outcome that is not a replay, one rule call), the others are
/// replays of it, and every invariant holds afterwards.
#[test]
fn four_threads_sending_the_same_requests_execute_each_once() -> Result<()> {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counted {
        inner: hongbao::settlement::simulation::ChaosRules,
        calls: AtomicUsize,
    }
    impl Evaluator for Counted {
        fn claim(&self, now: i64, r: &ClaimRequest, f: &ClaimFacts) -> Evaluation {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.claim(now, r, f)
        }
        fn payout(&self, now: i64, r: &PayoutRequest, f: &PayoutFacts) -> Evaluation {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.payout(now, r, f)
        }
    }
    let rules = Counted {
        inner: hongbao::settlement::simulation::ChaosRules::new(5),
        calls: AtomicUsize::new(0),
    };
    let s = shared();
    ok(&s, &deposit_event("dep-1", T0, "m1", "100.00"), &rules)?;
    for p in 0..10 {
        ok(
            &s,
            &packet_event(&format!("p-{p}"), T0, "m1", "10.00", 5, SplitKind::Random),
            &rules,
        )?;
    }
    let requests: Vec<Event> = (0..300)
        .flat_map(|i| {
            let claim = format!("c-{i}");
            [
                claim_event(
                    &claim,
                    T0 + 60,
                    &format!("p-{}", i % 10),
                    &format!("u-{}", i % 37),
                ),
                hongbao_tests::payout_event(&format!("po-{i}"), T0 + 120, &claim),
            ]
        })
        .collect();
    let start = Barrier::new(4);
    let outcomes: Vec<Outcome> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (s, rules, requests, start) = (&s, &rules, &requests, &start);
                scope.spawn(move || {
                    start.wait();
                    // Each thread walks the requests from its own offset, so
                    // the same id arrives from several threads at once.
                    let n = requests.len();
                    (0..n)
                        .map(|k| s.apply(&requests[(k + t * n / 4) % n], rules))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    assert_eq!(outcomes.len(), 4 * 600);
    let mut executed: HashMap<(&str, &str), usize> = HashMap::new();
    let mut decided = 0;
    for o in &outcomes {
        assert!(
            !matches!(o.status, Status::Conflict(_)),
            "same bodies never conflict: {o:?}"
        );
        if !o.replay {
            *executed.entry((o.kind, o.request_id.as_str())).or_default() += 1;
            // The host decides a frozen user's payout without the rules.
            decided += usize::from(
                o.decision
                    .as_ref()
                    .is_some_and(|d| d.reason != hongbao::settlement::HOST_REASON_USER_FROZEN),
            );
        }
    }
    assert_eq!(executed.len(), 600, "every id executed");
    assert!(executed.values().all(|&n| n == 1), "{executed:?}");
    assert_eq!(
        rules.calls.load(Ordering::SeqCst),
        decided,
        "one rule call per decision"
    );
    check(&s)?;
    s.with(|core| {
        let sum = core.summary();
        assert_eq!(sum.deposited, amt("100.00"));
        assert!(sum.paid_out > Amount::ZERO, "{sum:?}");
    });
    Ok(())
}
