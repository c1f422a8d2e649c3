//! Why the settlement core refuses a request, and what a broken invariant
//! looks like.

use rules_sdk::Amount;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::ledger::{LedgerError, LedgerInvariantError};
use crate::split::SplitError;

/// Why a request was refused. Nothing moved when it was.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SettlementError {
    /// A deposit of zero.
    #[error("deposit {deposit}: amount must be above 0.00")]
    ZeroDeposit {
        /// The deposit's request id.
        deposit: String,
    },
    /// The merchant cannot fund the packet.
    #[error(
        "insufficient funds: merchant {merchant} has {available} available, packet needs {needed}"
    )]
    InsufficientFunds {
        /// The funding merchant.
        merchant: String,
        /// Its available balance.
        available: Amount,
        /// The packet's total.
        needed: Amount,
    },
    /// The packet's total cannot be split into its shares.
    #[error("packet {packet} cannot be split: {source}")]
    Split {
        /// The packet id.
        packet: String,
        /// What is wrong with the split.
        source: SplitError,
    },
    /// `expires_in` is not a positive number of seconds, or overflows.
    #[error("packet {packet}: expires_in must be a positive number of seconds, got {expires_in}")]
    BadExpiry {
        /// The packet id.
        packet: String,
        /// The value given.
        expires_in: i64,
    },
    /// No packet has this id.
    #[error("unknown packet {packet}")]
    UnknownPacket {
        /// The packet id.
        packet: String,
    },
    /// The packet expired; its escrow went back to the merchant.
    #[error("packet {packet} expired at {expires_at}")]
    PacketExpired {
        /// The packet id.
        packet: String,
        /// When it expired, in logical seconds.
        expires_at: i64,
    },
    /// Every share of the packet is taken.
    #[error("packet {packet} has no unclaimed share left")]
    PacketEmpty {
        /// The packet id.
        packet: String,
    },
    /// The user already holds a share of this packet.
    #[error("already claimed: user {user} holds a share of packet {packet} (claim {claim})")]
    AlreadyClaimed {
        /// The user.
        user: String,
        /// The packet.
        packet: String,
        /// The claim that holds the share.
        claim: String,
    },
    /// The user is frozen and may not claim.
    #[error("user {user} is frozen")]
    UserFrozen {
        /// The user.
        user: String,
    },
    /// No claim request has this id.
    #[error("unknown claim {claim}")]
    UnknownClaim {
        /// The claim id.
        claim: String,
    },
    /// The claim holds no reservation that a payout could post.
    #[error("claim {claim} is not reserved for payout (it is {state})")]
    ClaimNotReserved {
        /// The claim id.
        claim: String,
        /// Where the claim stands instead.
        state: &'static str,
    },
    /// The claim was already paid by another payout.
    #[error("claim {claim} is already paid by payout {payout}")]
    AlreadyPaid {
        /// The claim id.
        claim: String,
        /// The payout that paid it.
        payout: String,
    },
    /// Another payout of this claim is held for review.
    #[error("claim {claim} has payout {payout} in progress")]
    PayoutInProgress {
        /// The claim id.
        claim: String,
        /// The payout held for review.
        payout: String,
    },
    /// Nothing is held for review under this id.
    #[error("nothing is held for review under id {target}")]
    NotHeld {
        /// The id given as the review target.
        target: String,
    },
    /// Both a claim and a payout with this id are held for review.
    #[error("review target {target} is ambiguous: a claim and a payout with this id are both held")]
    AmbiguousTarget {
        /// The id given as the review target.
        target: String,
    },
    /// A claim id reused as a payout id or the other way round. Review
    /// targets name either, so the two must never share an id.
    #[error("id {id} is already used by a {other}; claim and payout ids must differ")]
    IdInUse {
        /// The id.
        id: String,
        /// What already uses it: `claim` or `payout`.
        other: &'static str,
    },
    /// The user to unfreeze is not frozen.
    #[error("user {user} is not frozen")]
    NotFrozen {
        /// The user.
        user: String,
    },
    /// The request id was used before with a different body.
    #[error("conflict: {kind} id {id} was already used with a different body")]
    Conflict {
        /// The request kind.
        kind: &'static str,
        /// The request id.
        id: String,
    },
    /// A request with this id is being decided right now, and the caller
    /// asked not to wait for it. Not stored: a later attempt is begun anew.
    #[error("{kind} {id} is being decided; retry with the same id")]
    InProgress {
        /// The request kind.
        kind: &'static str,
        /// The request id.
        id: String,
    },
    /// The ledger refused a transfer; a bug or a store failure, since the
    /// core checks every request before it moves money.
    #[error("ledger refused: {0}")]
    Ledger(#[from] LedgerError),
}

impl SettlementError {
    /// A short stable code for reports and logs.
    pub fn code(&self) -> &'static str {
        match self {
            SettlementError::ZeroDeposit { .. } => "zero-deposit",
            SettlementError::InsufficientFunds { .. } => "insufficient-funds",
            SettlementError::Split { .. } => "infeasible-split",
            SettlementError::BadExpiry { .. } => "bad-expiry",
            SettlementError::UnknownPacket { .. } => "unknown-packet",
            SettlementError::PacketExpired { .. } => "packet-expired",
            SettlementError::PacketEmpty { .. } => "packet-empty",
            SettlementError::AlreadyClaimed { .. } => "already-claimed",
            SettlementError::UserFrozen { .. } => "user-frozen",
            SettlementError::UnknownClaim { .. } => "unknown-claim",
            SettlementError::ClaimNotReserved { .. } => "claim-not-reserved",
            SettlementError::AlreadyPaid { .. } => "already-paid",
            SettlementError::PayoutInProgress { .. } => "payout-in-progress",
            SettlementError::NotHeld { .. } => "not-held",
            SettlementError::AmbiguousTarget { .. } => "ambiguous-target",
            SettlementError::IdInUse { .. } => "id-in-use",
            SettlementError::NotFrozen { .. } => "not-frozen",
            SettlementError::Conflict { .. } => "conflict",
            SettlementError::InProgress { .. } => "in-progress",
            SettlementError::Ledger(_) => "ledger",
        }
    }
}

/// Serialised as `{"code": .., "message": ..}`.
impl Serialize for SettlementError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("SettlementError", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

/// A broken invariant of the settlement core: always a bug.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvariantError {
    /// The ledger's own invariants failed.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerInvariantError),
    /// A packet's shares, escrow or refunds disagree.
    #[error("packet {packet}: {detail}")]
    Packet {
        /// The packet id.
        packet: String,
        /// What disagrees.
        detail: String,
    },
    /// A claim's state disagrees with its packet or the ledger.
    #[error("claim {claim}: {detail}")]
    Claim {
        /// The claim id.
        claim: String,
        /// What disagrees.
        detail: String,
    },
    /// A user's state disagrees with claims or the ledger.
    #[error("user {user}: {detail}")]
    User {
        /// The user id.
        user: String,
        /// What disagrees.
        detail: String,
    },
    /// Totals over all packets disagree with the ledger.
    #[error("totals: {0}")]
    Totals(String),
}
