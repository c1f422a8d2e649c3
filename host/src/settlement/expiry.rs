//! Expiry: a packet's unclaimed escrow goes back to its merchant, once.
//!
//! Before every event the core expires each packet whose `expires_at` is at
//! or before the event's time, in `(expires_at, packet id)` order, so a
//! claim at exactly `expires_at` finds the packet expired. The refund is the
//! packet's *open* shares: shares reserved for a payout stay in escrow and
//! stay payable, and a share set aside for a claim whose rules are still
//! deciding stays in escrow until the verdict (see
//! [`super::SharedSettlement`]). A share that returns to escrow later (a denied
//! payout, a rejected review) is refunded at that moment instead; see
//! [`super::Packet::give_back`].

use super::record::Expiry;
use super::{Settlement, SettlementError, transfer_id};
use crate::ledger::{Account, LedgerStore, fen_to_amount};

impl<S: LedgerStore> Settlement<S> {
    /// Expires every packet due at `now`.
    ///
    /// A packet whose refund the ledger refuses (only possible when a
    /// durable store fails to write) stays due and is tried again before
    /// the next event.
    pub(super) fn expire_due(&mut self, now: i64) -> Vec<Expiry> {
        let mut expired = Vec::new();
        let mut retry = Vec::new();
        while self.expiries.first().is_some_and(|(at, _)| *at <= now) {
            let Some((expires_at, packet)) = self.expiries.pop_first() else {
                break;
            };
            match self.expire(&packet) {
                Ok(Some(expiry)) => expired.push(expiry),
                Ok(None) => {}
                Err(_) => retry.push((expires_at, packet)),
            }
        }
        self.expiries.extend(retry);
        expired
    }

    /// Refunds the available escrow of `packet_id` and marks it expired;
    /// `None` if it already was.
    fn expire(&mut self, packet_id: &str) -> Result<Option<Expiry>, SettlementError> {
        let Some(packet) = self.packets.get(packet_id).filter(|p| !p.expired) else {
            return Ok(None);
        };
        let merchant = packet.merchant.clone();
        let expires_at = packet.expires_at;
        let escrow = Account::Escrow(packet_id.to_string());
        // Sequentially this equals the escrow's available balance; with a
        // claim being decided, its share is in neither.
        let available = packet.open_fen();
        if available > 0 {
            self.ledger.post(
                transfer_id("expire", packet_id, "refund"),
                escrow,
                Account::MerchantAvailable(merchant.clone()),
                fen_to_amount(available),
            )?;
        }
        if let Some(packet) = self.packets.get_mut(packet_id) {
            packet.expire();
        }
        self.refunded_fen = self.refunded_fen.saturating_add(available);
        Ok(Some(Expiry {
            packet: packet_id.to_string(),
            merchant,
            expires_at,
            refunded: fen_to_amount(available),
        }))
    }
}
