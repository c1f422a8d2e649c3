//! Dividing a packet's total into shares, in integer fen.
//!
//! Every share is a whole number of fen between [`SHARE_FEN_MIN`] and the
//! cap, and the shares add up to the total exactly: nothing is divided and
//! multiplied back, so no fen is lost or invented. A total that cannot be
//! split that way is refused with a [`SplitError`] before any money moves.

use rules_sdk::Amount;
use thiserror::Error;

pub use crate::event::SplitKind;
use crate::ledger::fen_to_amount;
use crate::rng::SplitMix64;

/// The most shares one packet may have.
pub const SHARES_MAX: u32 = 10_000;
/// The smallest share, in fen: 0.01.
pub const SHARE_FEN_MIN: i64 = 1;
/// The default largest share, in fen: 200.00 (WeChat's per-share limit).
pub const SHARE_CAP_DEFAULT_FEN: i64 = 20_000;

const _: () = assert!(SHARE_FEN_MIN >= 1, "a share of zero fen is never allowed");
const _: () = assert!(SHARE_CAP_DEFAULT_FEN >= SHARE_FEN_MIN);
// The largest legal packet must fit in an Amount, so sums never overflow.
const _: () = assert!((SHARES_MAX as i64) * SHARE_CAP_DEFAULT_FEN <= rules_sdk::AMOUNT_FEN_MAX);

/// Why a total cannot be split into the requested shares.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SplitError {
    /// Zero shares were asked for.
    #[error("a packet needs at least 1 share, got 0")]
    NoShares,
    /// More than [`SHARES_MAX`] shares were asked for.
    #[error("{shares} shares is more than the limit of {SHARES_MAX}")]
    TooManyShares {
        /// The requested share count.
        shares: u32,
    },
    /// The cap is below the smallest share.
    #[error("share cap {cap} is below the smallest share of 0.01")]
    CapTooSmall {
        /// The cap that was given.
        cap: Amount,
    },
    /// The total cannot give every share at least 0.01.
    #[error("total {total} cannot give {shares} shares at least 0.01 each (needs {needed})")]
    TotalTooSmall {
        /// The packet's total.
        total: Amount,
        /// The requested share count.
        shares: u32,
        /// The smallest total that works: `shares` × 0.01.
        needed: Amount,
    },
    /// The total would put some share above the cap.
    #[error(
        "total {total} in {shares} shares puts a share above the cap of {cap} (at most {most})"
    )]
    TotalTooLarge {
        /// The packet's total.
        total: Amount,
        /// The requested share count.
        shares: u32,
        /// The cap per share.
        cap: Amount,
        /// The largest total that works: `shares` × cap.
        most: Amount,
    },
}

/// Splits `total` into `shares` shares of at least [`SHARE_FEN_MIN`] fen and
/// at most `cap` each, summing exactly to `total`.
///
/// - [`SplitKind::Fixed`]: equal shares; the remainder fen go one each to the
///   first shares (1.00 in 3 is 0.34, 0.33, 0.33).
/// - [`SplitKind::Random`]: WeChat's "double average". With `r` fen left for
///   `k` shares, the next share is drawn uniformly from
///   `1..=min(cap, 2r/k)`, then clamped so the rest stays feasible (every
///   remaining share can still get at least 0.01 and at most `cap`). The last
///   share takes what is left. The draws come from [`SplitMix64`] seeded with
///   `seed`, so the same seed always gives the same shares.
///
/// # Errors
///
/// [`SplitError`] when `shares` is 0 or above [`SHARES_MAX`], the cap is
/// below 0.01, `total` is below `shares` × 0.01, or above `shares` × `cap`.
pub fn split(
    total: Amount,
    shares: u32,
    kind: SplitKind,
    cap: Amount,
    seed: u64,
) -> Result<Vec<Amount>, SplitError> {
    check(total, shares, cap)?;
    let fen = match kind {
        SplitKind::Fixed => fixed(total.fen(), shares),
        SplitKind::Random => random(total.fen(), shares, cap.fen(), seed),
    };
    // Every share is in 1..=total, and total is an Amount, so the conversion
    // cannot fail; the debug assertion keeps that promise checked in tests.
    debug_assert_eq!(fen.iter().sum::<i64>(), total.fen());
    Ok(fen
        .into_iter()
        .filter_map(Amount::from_fen)
        .collect::<Vec<_>>())
}

fn check(total: Amount, shares: u32, cap: Amount) -> Result<(), SplitError> {
    if shares == 0 {
        return Err(SplitError::NoShares);
    }
    if shares > SHARES_MAX {
        return Err(SplitError::TooManyShares { shares });
    }
    if cap.fen() < SHARE_FEN_MIN {
        return Err(SplitError::CapTooSmall { cap });
    }
    let n = i128::from(shares);
    let needed = n * i128::from(SHARE_FEN_MIN);
    if i128::from(total.fen()) < needed {
        return Err(SplitError::TotalTooSmall {
            total,
            shares,
            needed: fen_to_amount(needed),
        });
    }
    let most = n * i128::from(cap.fen());
    if i128::from(total.fen()) > most {
        return Err(SplitError::TotalTooLarge {
            total,
            shares,
            cap,
            most: fen_to_amount(most),
        });
    }
    Ok(())
}

/// Equal shares. Rounding mode: each share is `total / n` rounded *down*
/// (floor; integer division of non-negative fen), and the `total mod n`
/// fen left over go one each to the first shares, so the sum is exact and
/// no two shares differ by more than 0.01.
fn fixed(total: i64, shares: u32) -> Vec<i64> {
    let n = i64::from(shares);
    let base = total / n;
    let extra = total % n;
    (0..n).map(|i| base + i64::from(i < extra)).collect()
}

/// Random shares. Rounding mode: the bound of each draw, twice the average
/// of what is left (`2r / k`), is rounded *down* (floor); the draw itself is
/// a uniform whole number of fen, clamped so the rest stays feasible, and
/// the last share is exactly what is left. Nothing is divided and
/// multiplied back.
fn random(total: i64, shares: u32, cap: i64, seed: u64) -> Vec<i64> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(shares as usize);
    let mut left = total;
    for k in (2..=i64::from(shares)).rev() {
        // k shares still to give, this one included; `left` is feasible for
        // them: k * MIN <= left <= k * cap.
        let draw_max = cap.min(2 * left / k).max(SHARE_FEN_MIN);
        let draw = SHARE_FEN_MIN + rng.below((draw_max - SHARE_FEN_MIN + 1).unsigned_abs()) as i64;
        // The k - 1 shares after this one need between (k-1)*MIN and
        // (k-1)*cap of what is left.
        // Saturating: with a cap near the largest amount, (k - 1) * cap can
        // exceed i64; the bound is then simply the minimum share.
        let lowest = SHARE_FEN_MIN.max(left.saturating_sub((k - 1).saturating_mul(cap)));
        let highest = cap.min(left - (k - 1) * SHARE_FEN_MIN);
        let share = draw.clamp(lowest, highest);
        out.push(share);
        left -= share;
    }
    out.push(left);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(text: &str) -> Amount {
        Amount::parse(text).expect("test amount")
    }

    fn cap() -> Amount {
        Amount::from_fen(SHARE_CAP_DEFAULT_FEN).expect("cap")
    }

    fn texts(shares: &[Amount]) -> Vec<String> {
        shares.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_huge_cap_does_not_overflow() {
        let big = Amount::from_fen(rules_sdk::AMOUNT_FEN_MAX).expect("largest amount");
        let shares = split(amt("100.00"), SHARES_MAX, SplitKind::Random, big, 7).expect("feasible");
        assert_eq!(shares.len(), SHARES_MAX as usize);
        assert_eq!(shares.iter().map(|s| s.fen()).sum::<i64>(), 10_000);
    }

    #[test]
    fn m01_fixed_one_yuan_in_18_never_goes_negative() {
        let shares = split(amt("1.00"), 18, SplitKind::Fixed, cap(), 0).expect("feasible");
        let mut expected = vec!["0.06"; 10];
        expected.extend(vec!["0.05"; 8]);
        assert_eq!(texts(&shares), expected);
        assert_eq!(shares.iter().map(|a| a.fen()).sum::<i64>(), 100);
    }

    #[test]
    fn m10_fixed_one_yuan_in_3_is_exact() {
        let shares = split(amt("1.00"), 3, SplitKind::Fixed, cap(), 0).expect("feasible");
        assert_eq!(texts(&shares), ["0.34", "0.33", "0.33"]);
    }

    #[test]
    fn m02_edge_totals() {
        let all_one_fen = |total: &str, n: u32| {
            let shares = split(amt(total), n, SplitKind::Random, cap(), 99).expect("feasible");
            assert_eq!(shares.len(), n as usize);
            assert!(shares.iter().all(|a| a.fen() == 1), "{total} in {n}");
        };
        all_one_fen("1.00", 100);
        all_one_fen("0.05", 5);
        for kind in [SplitKind::Fixed, SplitKind::Random] {
            for (total, n) in [("0.04", 5), ("0.10", 15), ("0.02", 3)] {
                let err = split(amt(total), n, kind, cap(), 1).expect_err("infeasible");
                assert!(
                    matches!(err, SplitError::TotalTooSmall { shares, .. } if shares == n),
                    "{err}"
                );
            }
        }
        assert_eq!(
            split(amt("0.04"), 5, SplitKind::Random, cap(), 1)
                .expect_err("infeasible")
                .to_string(),
            "total 0.04 cannot give 5 shares at least 0.01 each (needs 0.05)"
        );
    }

    #[test]
    fn refuses_bad_share_counts_and_caps() {
        let e = split(amt("1.00"), 0, SplitKind::Fixed, cap(), 0);
        assert_eq!(e, Err(SplitError::NoShares));
        let e = split(amt("1000.00"), SHARES_MAX + 1, SplitKind::Random, cap(), 0);
        assert_eq!(
            e,
            Err(SplitError::TooManyShares {
                shares: SHARES_MAX + 1
            })
        );
        let e = split(amt("1.00"), 1, SplitKind::Fixed, Amount::ZERO, 0);
        assert_eq!(e, Err(SplitError::CapTooSmall { cap: Amount::ZERO }));
        let e = split(amt("400.01"), 2, SplitKind::Fixed, cap(), 0);
        assert_eq!(
            e,
            Err(SplitError::TotalTooLarge {
                total: amt("400.01"),
                shares: 2,
                cap: cap(),
                most: amt("400.00"),
            })
        );
        // Exactly at the cap is fine, and every share is the cap.
        let shares = split(amt("400.00"), 2, SplitKind::Random, cap(), 5).expect("feasible");
        assert_eq!(texts(&shares), ["200.00", "200.00"]);
        let shares = split(amt("0.01"), SHARES_MAX, SplitKind::Random, cap(), 5);
        assert!(matches!(shares, Err(SplitError::TotalTooSmall { .. })));
        let shares = split(amt("100.00"), SHARES_MAX, SplitKind::Random, cap(), 5).expect("ok");
        assert!(shares.iter().all(|a| a.fen() == 1));
    }

    /// Checks one split against every promise: the count, the exact sum, the
    /// bounds of each share, and that after each share the rest can still
    /// give every remaining share at least 0.01 (and at most the cap).
    fn assert_sound(shares: &[Amount], total: i64, n: usize, cap: i64) {
        assert_eq!(shares.len(), n);
        assert_eq!(shares.iter().map(|a| a.fen()).sum::<i64>(), total);
        let mut left = total;
        for (i, share) in shares.iter().enumerate() {
            assert!((SHARE_FEN_MIN..=cap).contains(&share.fen()), "{share}");
            left -= share.fen();
            let remaining = (n - i - 1) as i64;
            assert!(
                left >= remaining * SHARE_FEN_MIN,
                "left {left} for {remaining}"
            );
            assert!(left <= remaining * cap, "left {left} for {remaining}");
        }
        assert_eq!(left, 0);
    }

    /// The rounding mode of fixed splits: floor, remainder fen to the first
    /// shares, for every total from 0.01 to 5.00 in 1 to 12 shares.
    #[test]
    fn fixed_split_rounds_down_and_gives_the_remainder_to_the_first_shares() {
        for n in 1..=12u32 {
            let count = i64::from(n);
            for total in count..=500 {
                let shares = split(
                    Amount::from_fen(total).expect("total"),
                    n,
                    SplitKind::Fixed,
                    cap(),
                    0,
                )
                .expect("feasible");
                let (floor, extra) = (total / count, total % count);
                for (i, share) in shares.iter().enumerate() {
                    let bump = i64::from((i as i64) < extra);
                    assert_eq!(share.fen(), floor + bump, "{total} fen in {n}: share {i}");
                }
            }
        }
        let texts = |total: &str, n| {
            texts(&split(amt(total), n, SplitKind::Fixed, cap(), 0).expect("feasible"))
        };
        assert_eq!(texts("0.05", 3), ["0.02", "0.02", "0.01"]);
        assert_eq!(texts("10.00", 3), ["3.34", "3.33", "3.33"]);
        assert_eq!(texts("0.99", 2), ["0.50", "0.49"]);
    }

    /// The rounding mode of random splits: every share is at most its
    /// draw bound `floor(2r / k)` (or the least the rest allows), so an odd
    /// remainder never rounds the bound up.
    #[test]
    fn random_split_draw_bound_rounds_down() {
        let mut rng = SplitMix64::new(99);
        for round in 0..5_000u64 {
            let n = 2 + rng.below(6) as i64;
            let total = n + rng.below(400) as i64;
            let cap_fen = 20_000;
            let shares = split(
                Amount::from_fen(total).expect("total"),
                u32::try_from(n).expect("n"),
                SplitKind::Random,
                Amount::from_fen(cap_fen).expect("cap"),
                round,
            )
            .expect("feasible");
            let mut left = total;
            for (i, share) in shares.iter().enumerate() {
                let k = n - i as i64;
                if k == 1 {
                    assert_eq!(share.fen(), left, "the last share is what is left");
                    break;
                }
                let bound = cap_fen.min(2 * left / k).max(SHARE_FEN_MIN);
                let lowest = SHARE_FEN_MIN.max(left - (k - 1) * cap_fen);
                assert!(
                    share.fen() <= bound.max(lowest),
                    "round {round}: {total} fen in {n}, share {i} is {share} with {left} fen left for {k}"
                );
                left -= share.fen();
            }
        }
    }

    #[test]
    fn m03_bounds_hold_over_many_random_splits() {
        let small_cap = amt("0.20");
        for seed in 0..10_000u64 {
            let s = split(amt("10.00"), 7, SplitKind::Random, cap(), seed).expect("feasible");
            assert_sound(&s, 1_000, 7, SHARE_CAP_DEFAULT_FEN);
            let s = split(amt("1.00"), 7, SplitKind::Random, small_cap, seed).expect("feasible");
            assert_sound(&s, 100, 7, 20);
        }
    }

    #[test]
    fn random_splits_are_sound_near_every_edge() {
        let mut rng = SplitMix64::new(11);
        for _ in 0..5_000 {
            let n = 1 + rng.below(40) as u32;
            let cap_fen = 1 + rng.below(500) as i64;
            let lo = i64::from(n);
            let hi = i64::from(n) * cap_fen;
            let total = lo + rng.below((hi - lo + 1) as u64) as i64;
            let total_amt = Amount::from_fen(total).expect("amount");
            let cap_amt = Amount::from_fen(cap_fen).expect("cap");
            let seed = rng.next_u64();
            for kind in [SplitKind::Fixed, SplitKind::Random] {
                let s = split(total_amt, n, kind, cap_amt, seed).expect("feasible");
                assert_sound(&s, total, n as usize, cap_fen);
            }
        }
    }

    #[test]
    fn random_splits_replay_exactly_and_vary_by_seed() {
        let a = split(amt("88.88"), 10, SplitKind::Random, cap(), 1).expect("ok");
        let b = split(amt("88.88"), 10, SplitKind::Random, cap(), 1).expect("ok");
        let c = split(amt("88.88"), 10, SplitKind::Random, cap(), 2).expect("ok");
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn random_split_golden_values() {
        // Part of the replay contract: these shares must never change. They
        // were cross-checked with an independent reimplementation in Python.
        let s = split(amt("10.00"), 5, SplitKind::Random, cap(), 0).expect("ok");
        assert_eq!(texts(&s), GOLDEN);
    }

    const GOLDEN: [&str; 5] = ["3.36", "0.73", "1.08", "1.52", "3.31"];
}
