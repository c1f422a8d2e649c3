//! The double-entry ledger: accounts, transfers, and two-phase transfers.
//!
//! Every movement of money is a [`Transfer`] with a unique id from a debit
//! account to a credit account. Balances are derived from transfers and
//! never set directly. Like TigerBeetle, a transfer is either posted at once
//! or pending: a pending transfer reserves the amount (the debit account's
//! available balance drops) until it is posted or voided, exactly once.
//!
//! Amounts are integer fen. Every account except [`Account::External`] must
//! stay at or above zero; a transfer that would break that is refused and
//! changes nothing. Several operations can be applied as one all-or-nothing
//! [`Ledger::apply`], so a settlement step never leaves half its transfers
//! behind.

mod account;
mod store;

use std::fmt;

use rules_sdk::{AMOUNT_FEN_MAX, Amount};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use account::{Account, Balance};
pub use store::{Batch, LedgerStore, MemoryStore};

/// The largest magnitude of any balance, posted or pending, in fen.
///
/// The same bound as [`AMOUNT_FEN_MAX`], so every balance converts to an
/// [`Amount`] and the sum of all balances cannot overflow.
pub const BALANCE_FEN_MAX: i64 = AMOUNT_FEN_MAX;

/// An [`Amount`] for a fen count (`i64` or `i128`), saturating below at
/// zero and above at [`AMOUNT_FEN_MAX`]; for reporting balances and sums
/// that are known to be in range.
pub fn fen_to_amount(fen: impl Into<i128>) -> Amount {
    let clamped = fen.into().clamp(0, i128::from(AMOUNT_FEN_MAX));
    i64::try_from(clamped)
        .ok()
        .and_then(Amount::from_fen)
        .unwrap_or(Amount::ZERO)
}

/// Where a transfer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// Posted at once (single phase).
    Posted,
    /// Pending: reserved, neither posted nor voided yet.
    Pending,
    /// Was pending, then posted.
    PendingPosted,
    /// Was pending, then voided; the reservation was released.
    PendingVoided,
}

impl fmt::Display for TransferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransferKind::Posted => "posted",
            TransferKind::Pending => "pending",
            TransferKind::PendingPosted => "posted after pending",
            TransferKind::PendingVoided => "voided",
        })
    }
}

/// One movement of money between two accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Unique id; a second transfer with the same id is refused.
    pub id: String,
    /// The account the money leaves.
    pub debit: Account,
    /// The account the money enters.
    pub credit: Account,
    /// How much; always above zero.
    pub amount: Amount,
    /// Posted, pending, or how a pending transfer ended.
    pub kind: TransferKind,
}

/// One ledger operation, for [`Ledger::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerOp {
    /// A transfer posted at once.
    Post {
        /// New transfer id.
        id: String,
        /// The account the money leaves.
        debit: Account,
        /// The account the money enters.
        credit: Account,
        /// How much; above zero.
        amount: Amount,
    },
    /// A pending transfer: the amount is reserved on the debit account.
    Pending {
        /// New transfer id.
        id: String,
        /// The account the money will leave.
        debit: Account,
        /// The account the money will enter.
        credit: Account,
        /// How much; above zero.
        amount: Amount,
    },
    /// Posts the pending transfer with this id.
    PostPending {
        /// The pending transfer's id.
        id: String,
    },
    /// Voids the pending transfer with this id, releasing its reservation.
    VoidPending {
        /// The pending transfer's id.
        id: String,
    },
}

/// Why the ledger refused an operation. Nothing changed when it did.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LedgerError {
    /// A transfer with this id already exists.
    #[error("duplicate transfer id {id}")]
    DuplicateId {
        /// The id used twice.
        id: String,
    },
    /// The amount was zero.
    #[error("transfer {id}: amount must be above 0.00")]
    ZeroAmount {
        /// The transfer's id.
        id: String,
    },
    /// Debit and credit were the same account.
    #[error("transfer {id}: debit and credit are both {account}")]
    SameAccount {
        /// The transfer's id.
        id: String,
        /// The account given twice.
        account: Account,
    },
    /// The debit account cannot go below zero.
    #[error(
        "insufficient funds: {account} has {available} available, transfer {id} needs {amount}"
    )]
    InsufficientFunds {
        /// The transfer's id.
        id: String,
        /// The account short of money.
        account: Account,
        /// Its available balance.
        available: Amount,
        /// The amount asked for.
        amount: Amount,
    },
    /// No transfer has this id.
    #[error("unknown transfer {id}")]
    UnknownTransfer {
        /// The id looked for.
        id: String,
    },
    /// The transfer is not pending, so it cannot be posted or voided.
    #[error("transfer {id} is not pending (it is {kind})")]
    NotPending {
        /// The transfer's id.
        id: String,
        /// Where it stands.
        kind: TransferKind,
    },
    /// A balance would leave the range of [`BALANCE_FEN_MAX`].
    #[error("transfer {id} would take {account} beyond the balance limit")]
    BalanceLimit {
        /// The transfer's id.
        id: String,
        /// The account that would overflow.
        account: Account,
    },
    /// The store could not write.
    #[error("ledger store failed: {0}")]
    Store(String),
}

/// A broken ledger invariant: a bug, never a user error.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LedgerInvariantError {
    /// The posted balances of all accounts do not sum to zero.
    #[error("posted balances sum to {sum_fen} fen, not zero")]
    NotZeroSum {
        /// The sum, in fen.
        sum_fen: i128,
    },
    /// Pending debits and pending credits differ.
    #[error("pending debits {debits_fen} fen differ from pending credits {credits_fen} fen")]
    PendingMismatch {
        /// Sum of pending debits, in fen.
        debits_fen: i128,
        /// Sum of pending credits, in fen.
        credits_fen: i128,
    },
    /// The pending transfers do not add up to the pending balances.
    #[error("pending transfers sum to {transfers_fen} fen but balances hold {balances_fen} fen")]
    PendingTransfers {
        /// Sum of the amounts of pending transfers, in fen.
        transfers_fen: i128,
        /// Sum of pending debits over all accounts, in fen.
        balances_fen: i128,
    },
    /// An account that must stay non-negative is below zero.
    #[error("{account} is negative: {balance:?}")]
    Negative {
        /// The account.
        account: Account,
        /// Its balance.
        balance: Balance,
    },
}

/// The double-entry ledger over a [`LedgerStore`].
#[derive(Clone, Debug, Default)]
pub struct Ledger<S = MemoryStore> {
    store: S,
}

impl Ledger<MemoryStore> {
    /// An empty in-memory ledger.
    pub fn new() -> Ledger<MemoryStore> {
        Ledger::with_store(MemoryStore::new())
    }
}

impl<S: LedgerStore> Ledger<S> {
    /// A ledger over `store`.
    pub fn with_store(store: S) -> Ledger<S> {
        Ledger { store }
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The balance of `account`.
    pub fn balance(&self, account: &Account) -> Balance {
        self.store.balance(account)
    }

    /// The transfer with id `id`.
    pub fn transfer(&self, id: &str) -> Option<Transfer> {
        self.store.transfer(id)
    }

    /// Posts a transfer of `amount` from `from` to `to`.
    ///
    /// # Errors
    ///
    /// [`LedgerError`] for a duplicate id, a zero amount, the same account
    /// twice, insufficient funds, or a balance past its limit.
    pub fn post(
        &mut self,
        id: impl Into<String>,
        from: Account,
        to: Account,
        amount: Amount,
    ) -> Result<(), LedgerError> {
        self.apply(vec![LedgerOp::Post {
            id: id.into(),
            debit: from,
            credit: to,
            amount,
        }])
    }

    /// Reserves `amount` on `from` for a later post to `to`.
    ///
    /// # Errors
    ///
    /// As for [`Ledger::post`].
    pub fn pending(
        &mut self,
        id: impl Into<String>,
        from: Account,
        to: Account,
        amount: Amount,
    ) -> Result<(), LedgerError> {
        self.apply(vec![LedgerOp::Pending {
            id: id.into(),
            debit: from,
            credit: to,
            amount,
        }])
    }

    /// Posts the pending transfer `id` in full.
    ///
    /// # Errors
    ///
    /// [`LedgerError::UnknownTransfer`], or [`LedgerError::NotPending`] when
    /// it was already posted or voided.
    pub fn post_pending(&mut self, id: &str) -> Result<(), LedgerError> {
        self.apply(vec![LedgerOp::PostPending { id: id.to_string() }])
    }

    /// Voids the pending transfer `id`, releasing its reservation.
    ///
    /// # Errors
    ///
    /// As for [`Ledger::post_pending`].
    pub fn void_pending(&mut self, id: &str) -> Result<(), LedgerError> {
        self.apply(vec![LedgerOp::VoidPending { id: id.to_string() }])
    }

    /// Applies `ops` in order, all or nothing: each operation sees the
    /// effect of the ones before it, and if any is refused none is applied.
    ///
    /// # Errors
    ///
    /// The first operation's [`LedgerError`]; the ledger is then unchanged.
    pub fn apply(&mut self, ops: Vec<LedgerOp>) -> Result<(), LedgerError> {
        let mut plan = Plan {
            store: &self.store,
            batch: Batch::default(),
        };
        for op in ops {
            plan.add(op)?;
        }
        let batch = plan.batch;
        self.store.commit(batch)
    }

    /// Checks the ledger's invariants: posted balances sum to zero, pending
    /// debits equal pending credits and the pending transfers, and no
    /// account that must stay non-negative is below zero.
    ///
    /// # Errors
    ///
    /// The first [`LedgerInvariantError`] found.
    pub fn check_invariants(&self) -> Result<(), LedgerInvariantError> {
        let mut posted: i128 = 0;
        let mut debits: i128 = 0;
        let mut credits: i128 = 0;
        let mut negative = None;
        self.store.for_each_balance(&mut |account, balance| {
            posted += i128::from(balance.posted_fen);
            debits += i128::from(balance.debits_pending_fen);
            credits += i128::from(balance.credits_pending_fen);
            let below_zero = balance.debits_pending_fen < 0
                || balance.credits_pending_fen < 0
                || (account.must_stay_non_negative()
                    && (balance.posted_fen < 0 || balance.available_fen() < 0));
            if below_zero && negative.is_none() {
                negative = Some(LedgerInvariantError::Negative {
                    account: account.clone(),
                    balance: *balance,
                });
            }
        });
        if let Some(e) = negative {
            return Err(e);
        }
        if posted != 0 {
            return Err(LedgerInvariantError::NotZeroSum { sum_fen: posted });
        }
        if debits != credits {
            return Err(LedgerInvariantError::PendingMismatch {
                debits_fen: debits,
                credits_fen: credits,
            });
        }
        let mut pending: i128 = 0;
        self.store.for_each_transfer(&mut |t| {
            if t.kind == TransferKind::Pending {
                pending += i128::from(t.amount.fen());
            }
        });
        if pending != debits {
            return Err(LedgerInvariantError::PendingTransfers {
                transfers_fen: pending,
                balances_fen: debits,
            });
        }
        Ok(())
    }
}

/// The changes of one [`Ledger::apply`], checked against the store plus the
/// earlier operations of the same batch.
struct Plan<'a, S> {
    store: &'a S,
    batch: Batch,
}

impl<S: LedgerStore> Plan<'_, S> {
    fn balance(&self, account: &Account) -> Balance {
        self.batch
            .balances
            .iter()
            .find(|(a, _)| a == account)
            .map(|(_, b)| *b)
            .unwrap_or_else(|| self.store.balance(account))
    }

    fn set_balance(&mut self, account: &Account, balance: Balance) {
        match self.batch.balances.iter_mut().find(|(a, _)| a == account) {
            Some(slot) => slot.1 = balance,
            None => self.batch.balances.push((account.clone(), balance)),
        }
    }

    fn transfer(&self, id: &str) -> Option<Transfer> {
        self.batch
            .transfers
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .or_else(|| self.store.transfer(id))
    }

    fn put_transfer(&mut self, transfer: Transfer) {
        match self
            .batch
            .transfers
            .iter_mut()
            .find(|t| t.id == transfer.id)
        {
            Some(slot) => *slot = transfer,
            None => self.batch.transfers.push(transfer),
        }
    }

    fn add(&mut self, op: LedgerOp) -> Result<(), LedgerError> {
        match op {
            LedgerOp::Post {
                id,
                debit,
                credit,
                amount,
            } => self.create(id, debit, credit, amount, TransferKind::Posted),
            LedgerOp::Pending {
                id,
                debit,
                credit,
                amount,
            } => self.create(id, debit, credit, amount, TransferKind::Pending),
            LedgerOp::PostPending { id } => self.resolve(id, TransferKind::PendingPosted),
            LedgerOp::VoidPending { id } => self.resolve(id, TransferKind::PendingVoided),
        }
    }

    fn create(
        &mut self,
        id: String,
        debit: Account,
        credit: Account,
        amount: Amount,
        kind: TransferKind,
    ) -> Result<(), LedgerError> {
        let fen = amount.fen();
        if fen <= 0 {
            return Err(LedgerError::ZeroAmount { id });
        }
        if debit == credit {
            return Err(LedgerError::SameAccount { id, account: debit });
        }
        if self.transfer(&id).is_some() {
            return Err(LedgerError::DuplicateId { id });
        }
        let mut d = self.balance(&debit);
        let mut c = self.balance(&credit);
        if debit.must_stay_non_negative() && d.available_fen() < fen {
            return Err(LedgerError::InsufficientFunds {
                id,
                available: fen_to_amount(d.available_fen()),
                account: debit,
                amount,
            });
        }
        if kind == TransferKind::Pending {
            d.debits_pending_fen = bounded(&id, &debit, d.debits_pending_fen.checked_add(fen))?;
            c.credits_pending_fen = bounded(&id, &credit, c.credits_pending_fen.checked_add(fen))?;
        } else {
            d.posted_fen = bounded(&id, &debit, d.posted_fen.checked_sub(fen))?;
            c.posted_fen = bounded(&id, &credit, c.posted_fen.checked_add(fen))?;
        }
        self.set_balance(&debit, d);
        self.set_balance(&credit, c);
        self.put_transfer(Transfer {
            id,
            debit,
            credit,
            amount,
            kind,
        });
        Ok(())
    }

    fn resolve(&mut self, id: String, to: TransferKind) -> Result<(), LedgerError> {
        let Some(mut transfer) = self.transfer(&id) else {
            return Err(LedgerError::UnknownTransfer { id });
        };
        if transfer.kind != TransferKind::Pending {
            return Err(LedgerError::NotPending {
                id,
                kind: transfer.kind,
            });
        }
        let fen = transfer.amount.fen();
        let mut d = self.balance(&transfer.debit);
        let mut c = self.balance(&transfer.credit);
        d.debits_pending_fen -= fen;
        c.credits_pending_fen -= fen;
        if to == TransferKind::PendingPosted {
            d.posted_fen = bounded(&id, &transfer.debit, d.posted_fen.checked_sub(fen))?;
            c.posted_fen = bounded(&id, &transfer.credit, c.posted_fen.checked_add(fen))?;
        }
        self.set_balance(&transfer.debit, d);
        self.set_balance(&transfer.credit, c);
        transfer.kind = to;
        self.put_transfer(transfer);
        Ok(())
    }
}

/// `value` if it exists and lies within ±[`BALANCE_FEN_MAX`].
fn bounded(id: &str, account: &Account, value: Option<i64>) -> Result<i64, LedgerError> {
    match value {
        Some(v) if (-BALANCE_FEN_MAX..=BALANCE_FEN_MAX).contains(&v) => Ok(v),
        _ => Err(LedgerError::BalanceLimit {
            id: id.to_string(),
            account: account.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(text: &str) -> Amount {
        Amount::parse(text).expect("test amount")
    }

    fn m(id: &str) -> Account {
        Account::MerchantAvailable(id.into())
    }

    fn escrow(id: &str) -> Account {
        Account::Escrow(id.into())
    }

    fn wallet(id: &str) -> Account {
        Account::Wallet(id.into())
    }

    fn funded() -> Ledger {
        let mut l = Ledger::new();
        l.post("dep", Account::External, m("m1"), amt("10.00"))
            .expect("deposit");
        l.check_invariants().expect("invariants");
        l
    }

    #[test]
    fn deposits_make_external_negative_and_sum_to_zero() {
        let l = funded();
        assert_eq!(l.balance(&Account::External).posted_fen, -1_000);
        assert_eq!(l.balance(&m("m1")).posted_fen, 1_000);
        assert_eq!(l.balance(&m("m2")), Balance::default());
    }

    #[test]
    fn an_overdraft_is_refused_and_changes_nothing() {
        let mut l = funded();
        let err = l
            .post("fund", m("m1"), escrow("p1"), amt("10.01"))
            .expect_err("overdraft");
        assert_eq!(
            err.to_string(),
            "insufficient funds: merchant m1 has 10.00 available, transfer fund needs 10.01"
        );
        assert_eq!(l.balance(&m("m1")).posted_fen, 1_000);
        assert!(l.transfer("fund").is_none());
        l.check_invariants().expect("invariants");
    }

    #[test]
    fn duplicate_ids_zero_amounts_and_self_transfers_are_refused() {
        let mut l = funded();
        assert_eq!(
            l.post("dep", Account::External, m("m1"), amt("1.00")),
            Err(LedgerError::DuplicateId { id: "dep".into() })
        );
        assert_eq!(
            l.post("z", Account::External, m("m1"), Amount::ZERO),
            Err(LedgerError::ZeroAmount { id: "z".into() })
        );
        assert!(matches!(
            l.post("s", m("m1"), m("m1"), amt("1.00")),
            Err(LedgerError::SameAccount { .. })
        ));
        assert_eq!(l.balance(&m("m1")).posted_fen, 1_000);
        l.check_invariants().expect("invariants");
    }

    #[test]
    fn pending_reserves_then_posts_exactly_once() {
        let mut l = funded();
        l.post("fund", m("m1"), escrow("p1"), amt("10.00"))
            .expect("fund");
        l.pending("r1", escrow("p1"), wallet("u1"), amt("6.00"))
            .expect("reserve");
        l.check_invariants().expect("invariants");
        let e = l.balance(&escrow("p1"));
        assert_eq!((e.posted_fen, e.available_fen()), (1_000, 400));
        assert_eq!(l.balance(&wallet("u1")).credits_pending_fen, 600);
        // The reservation counts against available: 6.00 more cannot be reserved.
        assert!(matches!(
            l.pending("r2", escrow("p1"), wallet("u2"), amt("6.00")),
            Err(LedgerError::InsufficientFunds { .. })
        ));
        l.post_pending("r1").expect("post");
        l.check_invariants().expect("invariants");
        assert_eq!(l.balance(&escrow("p1")).posted_fen, 400);
        assert_eq!(l.balance(&wallet("u1")).posted_fen, 600);
        assert_eq!(
            l.post_pending("r1"),
            Err(LedgerError::NotPending {
                id: "r1".into(),
                kind: TransferKind::PendingPosted
            })
        );
        assert!(matches!(
            l.void_pending("r1"),
            Err(LedgerError::NotPending { .. })
        ));
        assert_eq!(
            l.void_pending("nope"),
            Err(LedgerError::UnknownTransfer { id: "nope".into() })
        );
        assert_eq!(l.balance(&wallet("u1")).posted_fen, 600);
    }

    #[test]
    fn void_releases_the_reservation() {
        let mut l = funded();
        l.post("fund", m("m1"), escrow("p1"), amt("10.00"))
            .expect("fund");
        l.pending("r1", escrow("p1"), wallet("u1"), amt("6.00"))
            .expect("reserve");
        l.void_pending("r1").expect("void");
        l.check_invariants().expect("invariants");
        assert_eq!(l.balance(&escrow("p1")).available_fen(), 1_000);
        assert_eq!(l.balance(&wallet("u1")), Balance::default());
        assert_eq!(
            l.transfer("r1").map(|t| t.kind),
            Some(TransferKind::PendingVoided)
        );
        assert!(l.post_pending("r1").is_err());
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let mut l = funded();
        let err = l.apply(vec![
            LedgerOp::Post {
                id: "a".into(),
                debit: m("m1"),
                credit: escrow("p1"),
                amount: amt("6.00"),
            },
            LedgerOp::Post {
                id: "b".into(),
                debit: m("m1"),
                credit: escrow("p2"),
                amount: amt("6.00"),
            },
        ]);
        assert!(matches!(err, Err(LedgerError::InsufficientFunds { .. })));
        assert_eq!(l.balance(&m("m1")).posted_fen, 1_000);
        assert!(l.transfer("a").is_none());
        // Later operations see earlier ones of the same batch.
        l.apply(vec![
            LedgerOp::Post {
                id: "a".into(),
                debit: m("m1"),
                credit: escrow("p1"),
                amount: amt("6.00"),
            },
            LedgerOp::Pending {
                id: "r".into(),
                debit: escrow("p1"),
                credit: wallet("u1"),
                amount: amt("6.00"),
            },
            LedgerOp::PostPending { id: "r".into() },
        ])
        .expect("chained batch");
        assert_eq!(l.balance(&wallet("u1")).posted_fen, 600);
        assert_eq!(l.balance(&escrow("p1")), Balance::default());
        l.check_invariants().expect("invariants");
        // The same id twice inside one batch is a duplicate too.
        assert!(matches!(
            l.apply(vec![
                LedgerOp::Post {
                    id: "x".into(),
                    debit: Account::External,
                    credit: m("m1"),
                    amount: amt("1.00"),
                },
                LedgerOp::Post {
                    id: "x".into(),
                    debit: Account::External,
                    credit: m("m1"),
                    amount: amt("1.00"),
                },
            ]),
            Err(LedgerError::DuplicateId { .. })
        ));
        assert_eq!(l.balance(&m("m1")).posted_fen, 400);
    }

    #[test]
    fn balances_stay_within_their_limit() {
        let mut l = Ledger::new();
        let max = Amount::from_fen(BALANCE_FEN_MAX).expect("max");
        l.post("a", Account::External, m("m1"), max).expect("max");
        assert!(matches!(
            l.post("b", Account::External, m("m2"), amt("0.01")),
            Err(LedgerError::BalanceLimit { .. })
        ));
        l.check_invariants().expect("invariants");
    }

    #[test]
    fn invariants_catch_a_corrupt_store() {
        let mut store = MemoryStore::new();
        store
            .commit(Batch {
                balances: vec![(
                    wallet("u1"),
                    Balance {
                        posted_fen: 5,
                        ..Balance::default()
                    },
                )],
                transfers: vec![],
            })
            .expect("commit");
        let l = Ledger::with_store(store.clone());
        assert_eq!(
            l.check_invariants(),
            Err(LedgerInvariantError::NotZeroSum { sum_fen: 5 })
        );
        store
            .commit(Batch {
                balances: vec![
                    (
                        Account::External,
                        Balance {
                            posted_fen: 10,
                            ..Balance::default()
                        },
                    ),
                    (
                        wallet("u1"),
                        Balance {
                            posted_fen: -10,
                            ..Balance::default()
                        },
                    ),
                ],
                transfers: vec![],
            })
            .expect("commit");
        let l = Ledger::with_store(store);
        assert!(matches!(
            l.check_invariants(),
            Err(LedgerInvariantError::Negative { .. })
        ));
    }
}
