//! Ledger accounts and their balances.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An account of the double-entry ledger.
///
/// Every account except [`Account::External`] must never go below zero: the
/// ledger refuses any transfer that would take it there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Account {
    /// The outside world; goes negative as money is deposited.
    External,
    /// A merchant's money that is not yet in any packet.
    MerchantAvailable(String),
    /// A packet's escrow, keyed by packet id.
    Escrow(String),
    /// A user's wallet, keyed by user id.
    Wallet(String),
    /// Shares held while a person reviews a claim or payout.
    ReviewHold,
    /// A frozen user's funds, keyed by user id.
    Frozen(String),
}

impl Account {
    /// True for every account whose balance may never go below zero.
    pub fn must_stay_non_negative(&self) -> bool {
        !matches!(self, Account::External)
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::External => f.write_str("external"),
            Account::MerchantAvailable(m) => write!(f, "merchant {m}"),
            Account::Escrow(p) => write!(f, "escrow of packet {p}"),
            Account::Wallet(u) => write!(f, "wallet of user {u}"),
            Account::ReviewHold => f.write_str("review hold"),
            Account::Frozen(u) => write!(f, "frozen funds of user {u}"),
        }
    }
}

/// An account's balance in signed fen, derived from its transfers.
///
/// `posted` is credits minus debits of posted transfers; the pending sums are
/// the amounts of two-phase transfers not yet posted or voided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Posted credits minus posted debits, in fen.
    pub posted_fen: i64,
    /// Pending transfers out of this account, in fen.
    pub debits_pending_fen: i64,
    /// Pending transfers into this account, in fen.
    pub credits_pending_fen: i64,
}

impl Balance {
    /// What the account can still spend: posted minus pending debits, in fen.
    pub fn available_fen(&self) -> i64 {
        self.posted_fen - self.debits_pending_fen
    }
}
