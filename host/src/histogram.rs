//! A latency histogram of bounded size, for the report's percentiles: a
//! run of any length keeps at most a couple of thousand counters per rule
//! instead of every call's duration.
//!
//! Values below 64 are counted exactly; above, each power of two is split
//! into 32 buckets, so a percentile read back is within 1/32 (about 3%) of
//! the true value, below it. The maximum is kept exactly.

use std::collections::BTreeMap;

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 5;
/// Values below this are their own bucket.
const EXACT_BELOW: u64 = 1 << (SUB_BITS + 1);

/// Counts of values (nanoseconds, typically) by bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: BTreeMap<u16, u64>,
    total: u64,
    max: u64,
}

/// The bucket of `v`: its index, in value order.
fn bucket(v: u64) -> u16 {
    if v < EXACT_BELOW {
        return v as u16;
    }
    let exp = 63 - v.leading_zeros();
    let sub = (v >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    let index = EXACT_BELOW + u64::from(exp - SUB_BITS - 1) * (1 << SUB_BITS) + sub;
    index as u16
}

/// The smallest value in bucket `index`.
fn lower_bound(index: u16) -> u64 {
    let index = u64::from(index);
    if index < EXACT_BELOW {
        return index;
    }
    let above = index - EXACT_BELOW;
    let exp = above / (1 << SUB_BITS) + u64::from(SUB_BITS) + 1;
    let sub = above % (1 << SUB_BITS);
    (1 << exp) | (sub << (exp - u64::from(SUB_BITS)))
}

impl Histogram {
    /// Counts one value.
    pub fn record(&mut self, v: u64) {
        *self.counts.entry(bucket(v)).or_default() += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (&b, &n) in &other.counts {
            *self.counts.entry(b).or_default() += n;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// How many values were counted.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `p`th percentile (0 ..= 100), nearest rank, as the lower bound
    /// of its bucket (the exact maximum for 100); 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        if p >= 100.0 {
            return self.max;
        }
        let rank = ((p / 100.0) * (self.total - 1) as f64).round() as u64;
        let mut seen = 0;
        for (&b, &n) in &self.counts {
            seen += n;
            if seen > rank {
                return lower_bound(b);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_in_value_order_and_within_a_thirty_second() {
        let mut last = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let b = bucket(v);
            assert!(b >= last, "{v}");
            last = b;
            let low = lower_bound(b);
            assert!(low <= v, "{v}: {low}");
            assert!(v - low <= v / 32, "{v}: {low}");
        }
        assert_eq!(bucket(63), 63);
        assert_eq!(lower_bound(bucket(64)), 64);
        assert_eq!(
            lower_bound(bucket(1_000_000)),
            1_000_000 - 1_000_000 % (1 << 14)
        );
    }

    #[test]
    fn percentiles_match_the_sorted_values_within_the_bucket_width() {
        let values: Vec<u64> = (1..=10_000u64).map(|i| i * 37 % 9_973 + 5_000).collect();
        let mut h = Histogram::default();
        for &v in &values {
            h.record(v);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for p in [0.0, 50.0, 90.0, 99.0] {
            let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
            let exact = sorted[rank];
            let got = h.percentile(p);
            assert!(
                got <= exact && exact - got <= exact / 32,
                "p{p}: {got} vs {exact}"
            );
        }
        assert_eq!(h.percentile(100.0), *sorted.last().unwrap_or(&0));
        assert_eq!(h.len(), 10_000);
        let mut twice = h.clone();
        twice.merge(&h);
        assert_eq!(twice.len(), 20_000);
        assert_eq!(twice.percentile(50.0), h.percentile(50.0));
        assert_eq!(Histogram::default().percentile(50.0), 0);
    }
}
