//! The settlement core's invariants, checked by tests after every event and
//! by every run at its end.

use std::collections::{BTreeSet, HashMap, HashSet};

use rules_sdk::Amount;

use super::claim::ClaimState;
use super::packet::ShareState;
use super::payout::PayoutState;
use super::{InvariantError, Settlement, User};
use crate::ledger::{Account, Balance, LedgerStore, TransferKind};
use crate::split::SHARE_FEN_MIN;

/// What the claims say about one user's wallet, in fen.
#[derive(Default)]
struct UserClaims {
    /// Paid claims: what the user was paid.
    paid_fen: i128,
    /// Reserved claims: pending escrow → wallet.
    reserved_fen: i128,
}

/// What the claims say, for the checks of packets, the review hold and
/// users.
struct ClaimTotals<'a> {
    /// Per packet.
    holdings: HashMap<&'a str, Holdings>,
    /// Fen held for review.
    review_hold_fen: i128,
    /// Per user.
    users: HashMap<&'a str, UserClaims>,
}

/// What the claims say about one packet.
#[derive(Default)]
struct Holdings {
    /// Claims holding a share.
    holding: usize,
    /// Fen reserved for payout by those claims.
    reserved_fen: i64,
}

impl<S: LedgerStore> Settlement<S> {
    /// Checks every invariant of the money core:
    ///
    /// - the ledger's own: posted balances sum to zero, pending debits equal
    ///   pending credits, no account that must be non-negative is negative;
    /// - per packet: its shares sum to its total, every share is at least
    ///   0.01, claimed + being claimed + refunded + open equals what was
    ///   funded, the escrow's ledger balance equals its open shares plus the
    ///   shares set aside for claims being decided plus its reservations,
    ///   nothing is open after expiry;
    /// - every share set aside is held by exactly one claim being decided
    ///   ([`super::SharedSettlement`]), and no two such claims hold one share;
    /// - each share is held by at most one claim, and exactly the taken
    ///   shares are held; each user holds at most one share per packet;
    /// - the review hold equals the shares held for review, and refunds add
    ///   up;
    /// - every paid, held or frozen claim agrees with its payout both ways;
    /// - per user: the held and frozen lists agree with the claims; a
    ///   frozen user has nothing in the review hold and nothing in the
    ///   wallet; the frozen account holds exactly the recorded wallet
    ///   amount plus the recorded frozen shares (so zero when not frozen);
    ///   the wallet plus the recorded wallet amount is exactly the user's
    ///   paid claims, and the wallet's pending credits exactly their
    ///   reservations: no money reaches a wallet without a payout.
    ///
    /// # Errors
    ///
    /// The first [`InvariantError`] found.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        self.ledger.check_invariants()?;
        let ClaimTotals {
            holdings,
            review_hold_fen,
            users,
        } = self.check_claims()?;
        self.check_payouts()?;
        let set_aside: HashSet<(&str, u32)> = self
            .in_flight
            .claims
            .values()
            .map(|(packet, share)| (packet.as_str(), *share))
            .collect();
        if set_aside.len() != self.in_flight.claims.len() {
            return Err(InvariantError::Totals(
                "two claims being decided hold the same share".into(),
            ));
        }
        let mut set_aside_found = 0usize;
        let mut refunded_fen: i64 = 0;
        for (id, packet) in &self.packets {
            let err = |detail: String| InvariantError::Packet {
                packet: id.clone(),
                detail,
            };
            let (mut open, mut taken, mut refunded, mut taken_count) = (0i64, 0i64, 0i64, 0usize);
            let mut claiming = 0i64;
            for (i, share) in packet.shares.iter().enumerate() {
                let fen = share.amount.fen();
                if fen < SHARE_FEN_MIN {
                    return Err(err(format!("share {i} is {}", share.amount)));
                }
                let index_open = u32::try_from(i).is_ok_and(|i| packet.is_open(i));
                if index_open != (share.state == ShareState::Open) {
                    return Err(err(format!(
                        "share {i} is {:?} but listed open: {index_open}",
                        share.state
                    )));
                }
                match share.state {
                    ShareState::Open => open += fen,
                    ShareState::Taken => {
                        taken += fen;
                        taken_count += 1;
                    }
                    ShareState::Refunded => refunded += fen,
                    ShareState::Claiming => {
                        claiming += fen;
                        let index = u32::try_from(i).unwrap_or(u32::MAX);
                        if !set_aside.contains(&(id.as_str(), index)) {
                            return Err(err(format!(
                                "share {i} is set aside, but no claim being decided holds it"
                            )));
                        }
                        set_aside_found += 1;
                    }
                }
            }
            let total = packet.total.fen();
            if open + taken + claiming + refunded != total {
                return Err(err(format!(
                    "claimed {taken} + being claimed {claiming} + refunded {refunded} + open {open} fen != funded {total} fen"
                )));
            }
            if refunded != packet.refunded_fen() {
                return Err(err(format!(
                    "refunded shares make {refunded} fen, refunds {} fen",
                    packet.refunded_fen()
                )));
            }
            if packet.expired && open != 0 {
                return Err(err(format!("{open} fen still open after expiry")));
            }
            let held = holdings.get(id.as_str());
            let holding = held.map_or(0, |h| h.holding);
            let reserved = held.map_or(0, |h| h.reserved_fen);
            if taken_count != holding || packet.holder_count() != holding {
                return Err(err(format!(
                    "{taken_count} shares taken, {holding} claims hold one, {} holders listed",
                    packet.holder_count()
                )));
            }
            let escrow = self.ledger.balance(&Account::Escrow(id.clone()));
            if escrow.posted_fen != open + claiming + reserved
                || escrow.debits_pending_fen != reserved
                || escrow.credits_pending_fen != 0
            {
                return Err(err(format!(
                    "escrow {escrow:?} but open shares make {open} fen, shares being claimed {claiming} fen and reservations {reserved} fen"
                )));
            }
            refunded_fen += refunded;
        }
        if set_aside_found != set_aside.len() {
            return Err(InvariantError::Totals(format!(
                "{} claims being decided, {set_aside_found} shares set aside",
                set_aside.len()
            )));
        }
        if refunded_fen != self.refunded_fen {
            return Err(InvariantError::Totals(format!(
                "packets refunded {refunded_fen} fen, the running total says {}",
                self.refunded_fen
            )));
        }
        let hold = self.ledger.balance(&Account::ReviewHold).posted_fen;
        if i128::from(hold) != review_hold_fen {
            return Err(InvariantError::Totals(format!(
                "review hold has {hold} fen, held claims make {review_hold_fen} fen"
            )));
        }
        self.check_users(&users)
    }

    /// Checks every claim against its packet, payout, user and the ledger;
    /// returns what the claims hold per packet, the fen they hold for
    /// review, and what they say about each user's wallet.
    fn check_claims(&self) -> Result<ClaimTotals<'_>, InvariantError> {
        let mut holdings: HashMap<&str, Holdings> = HashMap::new();
        let mut users: HashMap<&str, UserClaims> = HashMap::new();
        let mut taken: HashSet<(&str, u32)> = HashSet::new();
        let mut review_hold_fen: i128 = 0;
        for (id, claim) in &self.claims {
            let err = |detail: String| InvariantError::Claim {
                claim: id.clone(),
                detail,
            };
            let packet = self
                .packets
                .get(&claim.packet)
                .ok_or_else(|| err(format!("packet {} does not exist", claim.packet)))?;
            let share = packet
                .shares
                .get(claim.share as usize)
                .ok_or_else(|| err(format!("share {} does not exist", claim.share)))?;
            if share.amount != claim.amount {
                return Err(err(format!(
                    "amount {} but share is {}",
                    claim.amount, share.amount
                )));
            }
            let listed = packet.holder(&claim.user) == Some(id.as_str());
            if claim.state.holds_share() {
                if !taken.insert((&claim.packet, claim.share)) {
                    return Err(err(format!("share {} is held by two claims", claim.share)));
                }
                if share.state != ShareState::Taken || !listed {
                    return Err(err(format!(
                        "holds share {} ({:?}) but listed as holder: {listed}",
                        claim.share, share.state
                    )));
                }
                holdings.entry(&claim.packet).or_default().holding += 1;
            } else if listed {
                return Err(err("released but still listed as holder".into()));
            }
            let user = self.users.get(&claim.user);
            match &claim.state {
                ClaimState::Reserved { reservation } => {
                    let t = self
                        .ledger
                        .transfer(reservation)
                        .ok_or_else(|| err(format!("reservation {reservation} does not exist")))?;
                    let expected = (
                        TransferKind::Pending,
                        Account::Escrow(claim.packet.clone()),
                        Account::Wallet(claim.user.clone()),
                        claim.amount,
                    );
                    if (t.kind, t.debit, t.credit, t.amount) != expected {
                        return Err(err(format!(
                            "reservation {reservation} is not {expected:?}"
                        )));
                    }
                    holdings.entry(&claim.packet).or_default().reserved_fen += claim.amount.fen();
                    users.entry(&claim.user).or_default().reserved_fen +=
                        i128::from(claim.amount.fen());
                }
                ClaimState::HeldForReview | ClaimState::PayoutHeld { .. } => {
                    review_hold_fen += i128::from(claim.amount.fen());
                    if !user.is_some_and(|u| u.held.contains(id)) {
                        return Err(err("held for review but not in the user's held list".into()));
                    }
                    if let ClaimState::PayoutHeld { payout } = &claim.state {
                        self.check_payout_of(id, payout, PayoutState::HeldForReview)?;
                    }
                }
                ClaimState::Frozen { payout } => {
                    let share = user
                        .filter(|u| u.frozen)
                        .and_then(|u| u.frozen_claims.get(id))
                        .ok_or_else(|| err("frozen but the user is not frozen with it".into()))?;
                    if share.amount != claim.amount || share.from.payout() != payout.as_deref() {
                        return Err(err(format!(
                            "frozen with payout {payout:?} and {}, the user records {share:?}",
                            claim.amount
                        )));
                    }
                    if let Some(payout) = payout {
                        self.check_payout_of(id, payout, PayoutState::Frozen)?;
                    }
                }
                ClaimState::Paid { payout } => {
                    self.check_payout_of(id, payout, PayoutState::Paid)?;
                    users.entry(&claim.user).or_default().paid_fen +=
                        i128::from(claim.amount.fen());
                }
                ClaimState::Released => {}
            }
        }
        Ok(ClaimTotals {
            holdings,
            review_hold_fen,
            users,
        })
    }

    /// Checks that payout `payout` exists, is of claim `claim`, and is in
    /// `state`.
    fn check_payout_of(
        &self,
        claim: &str,
        payout: &str,
        state: PayoutState,
    ) -> Result<(), InvariantError> {
        match self.payouts.get(payout) {
            Some(p) if p.claim == claim && p.state == state => Ok(()),
            other => Err(InvariantError::Claim {
                claim: claim.to_string(),
                detail: format!("expects payout {payout} {state:?}, found {other:?}"),
            }),
        }
    }

    /// Checks every payout against its claim.
    fn check_payouts(&self) -> Result<(), InvariantError> {
        for (id, payout) in &self.payouts {
            let state = self.claims.get(&payout.claim).map(|c| &c.state);
            let this = Some(id.clone());
            let agrees = match (payout.state, state) {
                (PayoutState::Paid, Some(ClaimState::Paid { payout })) => payout == id,
                (PayoutState::HeldForReview, Some(ClaimState::PayoutHeld { payout })) => {
                    payout == id
                }
                (PayoutState::Frozen, Some(ClaimState::Frozen { payout })) => *payout == this,
                (PayoutState::Denied | PayoutState::Rejected, Some(ClaimState::Released)) => true,
                _ => false,
            };
            if !agrees {
                return Err(InvariantError::Claim {
                    claim: payout.claim.clone(),
                    detail: format!(
                        "payout {id} is {:?} but the claim is {state:?}",
                        payout.state
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks each user's lists, wallet and frozen account: every user with
    /// a record, a claim, a wallet or a frozen account.
    fn check_users(&self, claims: &HashMap<&str, UserClaims>) -> Result<(), InvariantError> {
        let mut accounts: HashMap<String, (Balance, Balance)> = HashMap::new();
        self.ledger
            .store()
            .for_each_balance(&mut |account, balance| match account {
                Account::Wallet(u) => accounts.entry(u.clone()).or_default().0 = *balance,
                Account::Frozen(u) => accounts.entry(u.clone()).or_default().1 = *balance,
                _ => {}
            });
        let mut ids: BTreeSet<&str> = self.users.keys().map(String::as_str).collect();
        ids.extend(claims.keys().copied());
        ids.extend(accounts.keys().map(String::as_str));
        let none = User::default();
        let nothing = UserClaims::default();
        for id in ids {
            let err = |detail: String| InvariantError::User {
                user: id.to_string(),
                detail,
            };
            let user = self.users.get(id).unwrap_or(&none);
            let from_claims = claims.get(id).unwrap_or(&nothing);
            for claim_id in &user.held {
                if !self
                    .claims
                    .get(claim_id)
                    .is_some_and(|c| c.user == id && c.state.in_review_hold())
                {
                    return Err(err(format!("lists {claim_id} as held, but it is not")));
                }
            }
            for claim_id in user.frozen_claims.keys() {
                if !self
                    .claims
                    .get(claim_id)
                    .is_some_and(|c| c.user == id && matches!(c.state, ClaimState::Frozen { .. }))
                {
                    return Err(err(format!("lists {claim_id} as frozen, but it is not")));
                }
            }
            let (wallet, frozen) = accounts.get(id).copied().unwrap_or_default();
            if user.frozen && (wallet.posted_fen != 0 || !user.held.is_empty()) {
                return Err(err(format!(
                    "frozen, yet {} fen in the wallet and {} claims in the review hold",
                    wallet.posted_fen,
                    user.held.len()
                )));
            }
            if !user.frozen
                && (user.frozen_wallet != Amount::ZERO || !user.frozen_claims.is_empty())
            {
                return Err(err(format!(
                    "not frozen, yet records {} from the wallet and {} frozen claims",
                    user.frozen_wallet,
                    user.frozen_claims.len()
                )));
            }
            if i128::from(frozen.posted_fen) != user.frozen_fen()
                || frozen.debits_pending_fen != 0
                || frozen.credits_pending_fen != 0
            {
                return Err(err(format!(
                    "frozen account {frozen:?}, but the record says {} fen came in",
                    user.frozen_fen()
                )));
            }
            let paid_in = i128::from(wallet.posted_fen) + i128::from(user.frozen_wallet.fen());
            if paid_in != from_claims.paid_fen
                || i128::from(wallet.credits_pending_fen) != from_claims.reserved_fen
                || wallet.debits_pending_fen != 0
            {
                return Err(err(format!(
                    "wallet {wallet:?} with {} frozen from it, but paid claims make {} fen and reservations {} fen",
                    user.frozen_wallet, from_claims.paid_fen, from_claims.reserved_fen
                )));
            }
        }
        Ok(())
    }
}
