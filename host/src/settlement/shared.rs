//! A settlement core that many threads use at once.
//!
//! [`SharedSettlement::apply`] takes `&self`. It holds the core's lock only
//! to check and set aside ([`Settlement::begin`](super::inflight)) and to
//! move money ([`Settlement::finish`](super::inflight)); the rules run
//! between the two *without* the lock. A slow rule therefore never blocks
//! another request, and the rules of two requests run on two cores at once.
//!
//! What is serialised, and why it is enough:
//!
//! - **Everything that touches the core's state** runs under one mutex, in
//!   short critical sections without rule calls: a deposit, a packet
//!   creation (so two packets against one balance can never both pass the
//!   funds check: M07), a review, an unfreeze, an expiry, and the two
//!   phases of every claim and payout.
//! - **A claim's share** is set aside in its first phase, so concurrent
//!   claims on one packet get different shares, and an expiry that runs
//!   meanwhile does not refund it. A claim that finds no open share while
//!   some are set aside waits for their verdicts: a denied claim gives its
//!   share back.
//! - **One user, one request at a time**: a claim, payout, review or
//!   unfreeze of a user with a claim or payout being decided waits until it
//!   is finished, then is checked afresh. So the same user's 50 concurrent
//!   claims on one packet are one claim and 49 "already claimed" (M04), and
//!   a user's velocity facts count every earlier claim of theirs.
//! - **One request id, one execution**: a request whose id is being
//!   decided waits, then gets the stored outcome (a replay) or a conflict.
//!
//! The result is the same as running the requests one after the other in
//! some order (each request takes effect when its second phase runs), so
//! every invariant of [`Settlement::check_invariants`] holds between any two
//! critical sections. What the rules of *different* users see is a snapshot
//! taken in the first phase: two users' claims decided at the same time on
//! the same device or address do not see each other in the device and IP
//! counts. `MONEY.md` says more.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use rules_sdk::Verdict;

use super::inflight::Begun;
use super::{Outcome, Settlement};
use crate::event::Event;
use crate::ledger::{LedgerStore, MemoryStore};
use crate::risk::{Evaluation, Evaluator};

/// The decision-record reason when the evaluator panicked: the host holds
/// the request for review, as for any rule that cannot answer.
pub const HOST_REASON_EVALUATOR_PANIC: &str = "host:evaluator-panicked";

/// A [`Settlement`] behind a mutex, applying requests from many threads
/// with the rules evaluated outside the lock (see the module doc).
pub struct SharedSettlement<S = MemoryStore> {
    core: Mutex<Settlement<S>>,
    /// Signalled whenever a request finishes, for requests that wait on
    /// its id or user.
    finished: Condvar,
}

impl<S: LedgerStore> SharedSettlement<S> {
    /// Shares `core` between threads.
    pub fn new(core: Settlement<S>) -> SharedSettlement<S> {
        SharedSettlement {
            core: Mutex::new(core),
            finished: Condvar::new(),
        }
    }

    /// Processes `event`, as [`Settlement::apply`] does, from any thread.
    ///
    /// Blocks while a claim or payout with the same id, or of the same
    /// user, is being decided, and while the claim's packet has no open
    /// share but some set aside; never while only other users' rules run.
    /// If `rules` panics, the request is held for review with the reason
    /// [`HOST_REASON_EVALUATOR_PANIC`], like a rule that cannot answer,
    /// and the core stays usable.
    pub fn apply(&self, event: &Event, rules: &dyn Evaluator) -> Outcome {
        let mut expired = Vec::new();
        let mut core = self.lock();
        let ticket = loop {
            match core.begin(event) {
                Begun::Done(mut outcome) => {
                    expired.append(&mut outcome.expired);
                    outcome.expired = expired;
                    return outcome;
                }
                Begun::Decide(mut ticket) => {
                    expired.append(ticket.expired_mut());
                    *ticket.expired_mut() = expired;
                    break ticket;
                }
                Begun::Wait(mut more) => {
                    expired.append(&mut more);
                    core = self
                        .finished
                        .wait(core)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        };
        drop(core);

        let evaluation =
            catch_unwind(AssertUnwindSafe(|| ticket.evaluate(rules))).unwrap_or_else(|_| {
                Evaluation {
                    verdict: Verdict::Review,
                    reason: HOST_REASON_EVALUATOR_PANIC.to_string(),
                    rules: Vec::new(),
                }
            });

        let outcome = self.lock().finish(ticket, evaluation);
        self.finished.notify_all();
        outcome
    }

    /// Runs `f` on the core under the lock: for reading balances, checking
    /// invariants, or a summary between requests.
    pub fn with<R>(&self, f: impl FnOnce(&Settlement<S>) -> R) -> R {
        f(&self.lock())
    }

    /// The core, once no thread uses it any more.
    pub fn into_inner(self) -> Settlement<S> {
        self.core
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock. Nothing panics while holding it (rules run outside it), so
    /// a poisoned lock still guards a consistent core.
    fn lock(&self) -> MutexGuard<'_, Settlement<S>> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
