//! A tiny deterministic random number generator for the money core.
//!
//! Random packet splits are seeded from the packet id, so the same traffic
//! file always produces the same shares. That makes the exact output of
//! [`SplitMix64`] and [`fnv1a64`] part of the replay contract: changing a
//! constant or the order of operations here changes the shares of every
//! random packet ever replayed. The golden-value tests below pin both.

/// The SplitMix64 generator (Steele, Lea and Flood, 2014; the reference
/// constants of Vigna's `splitmix64.c`).
///
/// Seedable, fast, and deterministic across platforms and releases. Not
/// cryptographic: shares only need to be unpredictable enough to be fun and
/// exactly reproducible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose sequence is fixed by `seed`.
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `0..n`, without modulo bias; `below(0)` is 0.
    ///
    /// Draws whose value falls in the short top range that `n` does not
    /// divide evenly are rejected and redrawn, so every result is equally
    /// likely. The expected number of draws is below 2 for every `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // 2^64 mod n: the count of values at the bottom that would make the
        // low residues more likely than the high ones.
        let reject_below = n.wrapping_neg() % n;
        loop {
            let x = self.next_u64();
            if x >= reject_below {
                return x % n;
            }
        }
    }
}

/// The 64-bit FNV-1a hash of `bytes`, used to derive seeds from ids.
pub const fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xCBF2_9CE4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let mut hash = OFFSET_BASIS;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(PRIME);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of Vigna's splitmix64.c seeded with 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SplitMix64::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a[0], SplitMix64::new(43).next_u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SplitMix64::new(7);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            let x = rng.below(7);
            assert!(x < 7);
            seen[x as usize] += 1;
        }
        // Each bucket expects 1,000; a fair generator stays well inside this.
        assert!(seen.iter().all(|&c| (850..1_150).contains(&c)), "{seen:?}");
        assert_eq!(rng.below(1), 0);
        assert_eq!(rng.below(0), 0);
        assert!(rng.below(u64::MAX) < u64::MAX);
    }

    #[test]
    fn below_rejects_the_biased_top_range() {
        // With n = 2^63 + 1, 2^64 mod n = 2^63 - 1: half the raw values are
        // rejected. The result must still be below n.
        let n = (1u64 << 63) + 1;
        let mut rng = SplitMix64::new(3);
        for _ in 0..1_000 {
            assert!(rng.below(n) < n);
        }
    }

    #[test]
    fn fnv1a64_matches_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xAF63_DC4C_8601_EC8C);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_F739_67E8);
    }
}
