//! The time-ordered windows behind the velocity facts.
//!
//! Every window relies on records arriving in nondecreasing time, which the
//! settlement guarantees by never letting its clock run backwards. Each
//! record is pushed once and popped once, and every question a fact asks is a
//! binary search or a walk over a bounded number of entries, so no fact costs
//! more than `O(log n)` in the size of the history.

use std::collections::{BTreeMap, VecDeque};

/// A record's time and the sum of every amount pushed before it.
#[derive(Clone, Copy, Debug)]
struct Mark {
    at: i64,
    before: i128,
}

/// Time-ordered amounts with running sums, so the count and sum of the
/// records in any window that ends at the newest one take a binary search.
///
/// The sums are `i128`: amounts are at most [`rules_sdk::AMOUNT_FEN_MAX`]
/// fen, so no number of records can overflow them, and a difference of two
/// of them is the exact sum of the records between.
#[derive(Clone, Debug, Default)]
pub(super) struct Series {
    marks: VecDeque<Mark>,
    total: i128,
}

impl Series {
    /// Appends a record of `fen` at `at`, which is not before the newest.
    pub(super) fn push(&mut self, at: i64, fen: i64) {
        self.marks.push_back(Mark {
            at,
            before: self.total,
        });
        self.total += i128::from(fen);
    }

    /// Drops the records at or before `oldest`.
    pub(super) fn trim(&mut self, oldest: i64) {
        while self.marks.front().is_some_and(|m| m.at <= oldest) {
            self.marks.pop_front();
        }
        if self.marks.is_empty() {
            self.total = 0;
        }
    }

    /// How many records are at or after `from`, and their sum in fen.
    pub(super) fn since(&self, from: i64) -> (usize, i128) {
        let first = self.marks.partition_point(|m| m.at < from);
        match self.marks.get(first) {
            Some(mark) => (self.marks.len() - first, self.total - mark.before),
            None => (0, 0),
        }
    }

    /// How many records are strictly after `after`.
    pub(super) fn count_after(&self, after: i64) -> usize {
        self.marks.len() - self.marks.partition_point(|m| m.at <= after)
    }

    /// The time of the oldest record.
    pub(super) fn oldest(&self) -> Option<i64> {
        self.marks.front().map(|m| m.at)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    pub(super) fn shrink(&mut self) {
        shrink(&mut self.marks);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.marks.len()
    }
}

/// Time-ordered keys (the users of a device, the packets a user was paid
/// from) with a count per distinct key, kept in key order: the number of
/// distinct keys is known without a scan and the smallest ones are the first
/// entries of the map.
#[derive(Clone, Debug, Default)]
pub(super) struct DistinctWindow {
    records: VecDeque<(i64, String)>,
    keys: BTreeMap<String, u32>,
}

impl DistinctWindow {
    /// Appends `key` at `at`, which is not before the newest record.
    pub(super) fn push(&mut self, at: i64, key: &str) {
        self.records.push_back((at, key.to_string()));
        match self.keys.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                self.keys.insert(key.to_string(), 1);
            }
        }
    }

    /// Drops the records at or before `oldest`, and the keys left with none.
    pub(super) fn trim(&mut self, oldest: i64) {
        while self.records.front().is_some_and(|(at, _)| *at <= oldest) {
            if let Some((_, key)) = self.records.pop_front()
                && let Some(n) = self.keys.get_mut(&key)
            {
                *n -= 1;
                if *n == 0 {
                    self.keys.remove(&key);
                }
            }
        }
    }

    /// How many distinct keys the window holds.
    pub(super) fn distinct(&self) -> usize {
        self.keys.len()
    }

    /// Whether `key` has a record in the window.
    pub(super) fn contains(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// The distinct keys in ascending order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// The time of the oldest record.
    pub(super) fn oldest(&self) -> Option<i64> {
        self.records.front().map(|(at, _)| *at)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub(super) fn shrink(&mut self) {
        shrink(&mut self.records);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }
}

/// Times only: the window's size is its count.
#[derive(Clone, Debug, Default)]
pub(super) struct CountWindow {
    times: VecDeque<i64>,
}

impl CountWindow {
    /// Appends a record at `at`, which is not before the newest.
    pub(super) fn push(&mut self, at: i64) {
        self.times.push_back(at);
    }

    /// Drops the records at or before `oldest`.
    pub(super) fn trim(&mut self, oldest: i64) {
        while self.times.front().is_some_and(|at| *at <= oldest) {
            self.times.pop_front();
        }
    }

    /// How many records the window holds.
    pub(super) fn len(&self) -> usize {
        self.times.len()
    }

    /// The time of the oldest record.
    pub(super) fn oldest(&self) -> Option<i64> {
        self.times.front().copied()
    }

    pub(super) fn shrink(&mut self) {
        shrink(&mut self.times);
    }
}

/// Releases spare capacity of a window that shrank to a quarter of it.
fn shrink<T>(window: &mut VecDeque<T>) {
    if window.capacity() > 64 && window.len() < window.capacity() / 4 {
        window.shrink_to_fit();
    }
}
