//! Where all the money is, at a glance.

use rules_sdk::Amount;
use serde::Serialize;

use super::Settlement;
use crate::ledger::{Account, LedgerStore, fen_to_amount};

/// Totals over the whole ledger.
///
/// Every fen deposited is in exactly one of `merchant_available`,
/// `in_escrow`, `reserved`, `paid_out`, `held_for_review` and `frozen`;
/// `zero_sum_ok` says that this holds and the ledger's invariants pass.
/// `refunded` is a running total of money that went back from escrow to
/// merchants, so it is part of `merchant_available`, not beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MoneySummary {
    /// Everything that came in from outside.
    pub deposited: Amount,
    /// Unclaimed money in packet escrows (escrow available balance).
    pub in_escrow: Amount,
    /// Shares reserved for a payout (pending escrow → wallet).
    pub reserved: Amount,
    /// Money in user wallets.
    pub paid_out: Amount,
    /// Shares in the review hold.
    pub held_for_review: Amount,
    /// Money in frozen accounts.
    pub frozen: Amount,
    /// Refunded from escrow to merchants so far.
    pub refunded: Amount,
    /// Money in merchants' available balances.
    pub merchant_available: Amount,
    /// True when the parts add up to `deposited` and the ledger's
    /// invariants hold.
    pub zero_sum_ok: bool,
}

impl<S: LedgerStore> Settlement<S> {
    /// Totals over the whole ledger; one pass over its accounts.
    pub fn summary(&self) -> MoneySummary {
        let mut external: i128 = 0;
        let mut escrow_available: i128 = 0;
        let mut reserved: i128 = 0;
        let mut wallets: i128 = 0;
        let mut held: i128 = 0;
        let mut frozen: i128 = 0;
        let mut merchants: i128 = 0;
        self.ledger
            .store()
            .for_each_balance(&mut |account, balance| {
                let posted = i128::from(balance.posted_fen);
                match account {
                    Account::External => external += posted,
                    // Merchants never have pending debits: posted is available.
                    Account::MerchantAvailable(_) => merchants += posted,
                    Account::Escrow(_) => {
                        escrow_available += i128::from(balance.available_fen());
                        reserved += i128::from(balance.debits_pending_fen);
                    }
                    Account::Wallet(_) => wallets += posted,
                    Account::ReviewHold => held += posted,
                    Account::Frozen(_) => frozen += posted,
                }
            });
        let deposited = -external;
        let parts = merchants + escrow_available + reserved + wallets + held + frozen;
        MoneySummary {
            deposited: fen_to_amount(deposited),
            in_escrow: fen_to_amount(escrow_available),
            reserved: fen_to_amount(reserved),
            paid_out: fen_to_amount(wallets),
            held_for_review: fen_to_amount(held),
            frozen: fen_to_amount(frozen),
            refunded: fen_to_amount(self.refunded_fen),
            merchant_available: fen_to_amount(merchants),
            zero_sum_ok: parts == deposited && self.ledger.check_invariants().is_ok(),
        }
    }
}
