//! Packets and their shares, and funding a packet from a merchant.

use std::collections::{BTreeSet, HashMap};

use rules_sdk::Amount;
use serde::Serialize;

use super::record::Outcome;
use super::{Settlement, SettlementError, transfer_id};
use crate::event::SplitKind;
use crate::ledger::{Account, LedgerStore, fen_to_amount};
use crate::rng::fnv1a64;
use crate::split::split;

/// Where one share of a packet stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareState {
    /// In escrow, claimable.
    Open,
    /// Set aside for a claim whose rules are still deciding (see
    /// [`super::SharedSettlement`]): no other claim gets it and an expiry
    /// does not refund it. The claim's verdict makes it taken, or open
    /// (refunded if the packet expired meanwhile) again.
    Claiming,
    /// Held by a claim (reserved, under review, paid or frozen).
    Taken,
    /// Returned to the funding merchant after the packet expired.
    Refunded,
}

/// One share of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Share {
    /// The share's amount, fixed at creation.
    pub amount: Amount,
    /// Where it stands.
    pub state: ShareState,
}

/// A funded packet.
///
/// Its shares are computed once, at creation. Claims take the lowest open
/// share; a share that returns (a denied payout, a rejected review) becomes
/// the next one taken, or is refunded at once if the packet has expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The funding merchant.
    pub merchant: String,
    /// The merchant's campaign, if any.
    pub campaign: Option<String>,
    /// The total funded.
    pub total: Amount,
    /// How the total was split.
    pub split: SplitKind,
    /// When it was created (logical seconds).
    pub created_at: i64,
    /// When unclaimed escrow is refunded (logical seconds).
    pub expires_at: i64,
    /// True once expired: no more claims; returned shares are refunded.
    pub expired: bool,
    /// The shares, in claim order.
    pub shares: Vec<Share>,
    /// Users holding a share, with the claim that holds it.
    holders: HashMap<String, String>,
    /// Every share from this index on is open and never taken.
    next_fresh: u32,
    /// Open shares below `next_fresh`: they were taken and came back.
    returned: BTreeSet<u32>,
    /// Refunded to the merchant so far, in fen.
    refunded_fen: i64,
    /// Shares set aside for claims being decided.
    claiming: u32,
}

impl Packet {
    /// The claim through which `user` holds a share, if any.
    pub fn holder(&self, user: &str) -> Option<&str> {
        self.holders.get(user).map(String::as_str)
    }

    /// How many users hold a share.
    pub fn holder_count(&self) -> usize {
        self.holders.len()
    }

    /// How many shares are open.
    pub fn open_shares(&self) -> usize {
        self.shares.len().saturating_sub(self.next_fresh as usize) + self.returned.len()
    }

    /// The amount refunded to the merchant so far.
    pub fn refunded(&self) -> Amount {
        fen_to_amount(self.refunded_fen)
    }

    /// The index of the share the next claim gets: the lowest open one.
    pub(super) fn next_open(&self) -> Option<u32> {
        self.returned.first().copied().or_else(|| {
            (usize::try_from(self.next_fresh).is_ok_and(|i| i < self.shares.len()))
                .then_some(self.next_fresh)
        })
    }

    /// Sets the open share `index` aside for a claim being decided.
    pub(super) fn set_aside(&mut self, index: u32) {
        if !self.returned.remove(&index) && index == self.next_fresh {
            self.next_fresh += 1;
        }
        if let Some(share) = self.shares.get_mut(index as usize) {
            share.state = ShareState::Claiming;
            self.claiming += 1;
        }
    }

    /// Marks share `index`, set aside before, taken by `claim` of `user`.
    pub(super) fn take(&mut self, index: u32, user: &str, claim: &str) {
        if let Some(share) = self.shares.get_mut(index as usize) {
            if share.state == ShareState::Claiming {
                self.claiming -= 1;
            }
            share.state = ShareState::Taken;
        }
        self.holders.insert(user.to_string(), claim.to_string());
    }

    /// Takes share `index` back from `user`: open again, or refunded when
    /// the packet has expired. Returns the fen refunded.
    pub(super) fn give_back(&mut self, index: u32, user: &str) -> i64 {
        self.holders.remove(user);
        self.put_back(index)
    }

    /// Returns share `index` (taken or set aside) to the packet: open
    /// again, or refunded when the packet has expired. Returns the fen
    /// refunded.
    pub(super) fn put_back(&mut self, index: u32) -> i64 {
        let Some(share) = self.shares.get_mut(index as usize) else {
            return 0;
        };
        if share.state == ShareState::Claiming {
            self.claiming -= 1;
        }
        if self.expired {
            share.state = ShareState::Refunded;
            self.refunded_fen += share.amount.fen();
            share.amount.fen()
        } else {
            share.state = ShareState::Open;
            self.returned.insert(index);
            0
        }
    }

    /// Marks the packet expired and every open share refunded; returns the
    /// fen of those shares.
    pub(super) fn expire(&mut self) -> i64 {
        let mut fen = 0;
        let open: Vec<usize> = self.open_indices().collect();
        for i in open {
            if let Some(share) = self.shares.get_mut(i) {
                share.state = ShareState::Refunded;
                fen += share.amount.fen();
            }
        }
        self.returned.clear();
        self.next_fresh = u32::try_from(self.shares.len()).unwrap_or(u32::MAX);
        self.expired = true;
        self.refunded_fen += fen;
        fen
    }

    /// The fen of the open shares: what an expiry refunds.
    pub(super) fn open_fen(&self) -> i64 {
        self.open_indices()
            .filter_map(|i| self.shares.get(i))
            .map(|s| s.amount.fen())
            .sum()
    }

    /// The indices of the open shares: the returned ones, then the fresh.
    fn open_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.returned
            .iter()
            .map(|&i| i as usize)
            .chain(self.next_fresh as usize..self.shares.len())
    }

    /// True while any share is set aside for a claim being decided.
    pub(super) fn has_claiming(&self) -> bool {
        self.claiming > 0
    }

    /// The open share indices, for invariant checks.
    pub(super) fn is_open(&self, index: u32) -> bool {
        index >= self.next_fresh || self.returned.contains(&index)
    }

    /// The refunded fen, for invariant checks.
    pub(super) fn refunded_fen(&self) -> i64 {
        self.refunded_fen
    }
}

/// The fields of a `create_packet` event.
pub(super) struct CreatePacket<'a> {
    pub id: &'a str,
    pub merchant: &'a str,
    pub total: Amount,
    pub shares: u32,
    pub split: SplitKind,
    pub campaign: Option<&'a str>,
    pub expires_in: Option<i64>,
}

impl<S: LedgerStore> Settlement<S> {
    /// Funds a packet: merchant available → escrow, shares split at once.
    pub(super) fn create_packet(
        &mut self,
        now: i64,
        req: CreatePacket<'_>,
        out: &mut Outcome,
    ) -> Result<(), SettlementError> {
        let expires_in = req
            .expires_in
            .unwrap_or(self.config.expires_in_default_seconds);
        let expires_at = now
            .checked_add(expires_in)
            .filter(|_| expires_in > 0)
            .ok_or_else(|| SettlementError::BadExpiry {
                packet: req.id.to_string(),
                expires_in,
            })?;
        let amounts = split(
            req.total,
            req.shares,
            req.split,
            self.config.share_cap,
            fnv1a64(req.id.as_bytes()),
        )
        .map_err(|source| SettlementError::Split {
            packet: req.id.to_string(),
            source,
        })?;
        let from = Account::MerchantAvailable(req.merchant.to_string());
        let available = self.ledger.balance(&from).available_fen();
        if available < req.total.fen() {
            return Err(SettlementError::InsufficientFunds {
                merchant: req.merchant.to_string(),
                available: fen_to_amount(available),
                needed: req.total,
            });
        }
        self.ledger.post(
            transfer_id("create_packet", req.id, "fund"),
            from,
            Account::Escrow(req.id.to_string()),
            req.total,
        )?;
        let shares = amounts
            .into_iter()
            .map(|amount| Share {
                amount,
                state: ShareState::Open,
            })
            .collect();
        self.packets.insert(
            req.id.to_string(),
            Packet {
                merchant: req.merchant.to_string(),
                campaign: req.campaign.map(str::to_string),
                total: req.total,
                split: req.split,
                created_at: now,
                expires_at,
                expired: false,
                shares,
                holders: HashMap::new(),
                next_fresh: 0,
                returned: BTreeSet::new(),
                refunded_fen: 0,
                claiming: 0,
            },
        );
        self.expiries.insert((expires_at, req.id.to_string()));
        out.amount = req.total;
        Ok(())
    }
}
