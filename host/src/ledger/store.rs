//! Where the ledger keeps its balances and transfers.
//!
//! The ledger's logic (validation, two-phase states, invariants) sits in
//! [`super::Ledger`]; a store only reads and writes. A durable embedded
//! store, and later a distributed SQL store, can take the place of
//! [`MemoryStore`] by implementing [`LedgerStore`]: every change arrives as
//! one [`Batch`], which maps to one write transaction.

use std::collections::HashMap;

use super::{Account, Balance, LedgerError, Transfer};

/// Every change of one ledger operation, applied all together or not at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// The new balance of every account the operation touched.
    pub balances: Vec<(Account, Balance)>,
    /// New transfers, and existing ones whose kind changed.
    pub transfers: Vec<Transfer>,
}

/// Storage behind the ledger.
pub trait LedgerStore {
    /// The balance of `account`; zero for an account never touched.
    fn balance(&self, account: &Account) -> Balance;
    /// The transfer with id `id`, if there is one.
    fn transfer(&self, id: &str) -> Option<Transfer>;
    /// Applies `batch` atomically: every balance and transfer in it, or none.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Store`] when the store could not write; then nothing
    /// of the batch may be visible.
    fn commit(&mut self, batch: Batch) -> Result<(), LedgerError>;
    /// Calls `f` with every account that has a balance, in no fixed order.
    fn for_each_balance(&self, f: &mut dyn FnMut(&Account, &Balance));
    /// Calls `f` with every transfer, in no fixed order.
    fn for_each_transfer(&self, f: &mut dyn FnMut(&Transfer));
}

/// A ledger store in memory: hash maps keyed by account and transfer id.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    balances: HashMap<Account, Balance>,
    transfers: HashMap<String, Transfer>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl LedgerStore for MemoryStore {
    fn balance(&self, account: &Account) -> Balance {
        self.balances.get(account).copied().unwrap_or_default()
    }

    fn transfer(&self, id: &str) -> Option<Transfer> {
        self.transfers.get(id).cloned()
    }

    fn commit(&mut self, batch: Batch) -> Result<(), LedgerError> {
        for (account, balance) in batch.balances {
            self.balances.insert(account, balance);
        }
        for transfer in batch.transfers {
            self.transfers.insert(transfer.id.clone(), transfer);
        }
        Ok(())
    }

    fn for_each_balance(&self, f: &mut dyn FnMut(&Account, &Balance)) {
        for (account, balance) in &self.balances {
            f(account, balance);
        }
    }

    fn for_each_transfer(&self, f: &mut dyn FnMut(&Transfer)) {
        for transfer in self.transfers.values() {
            f(transfer);
        }
    }
}
