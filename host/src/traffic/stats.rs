//! What a generation run wrote.

use std::collections::BTreeMap;

use serde::Serialize;

use super::label::{ABUSE_LABELS, LABELS};
use crate::event::Event;

/// Counts of what [`generate`](super::generate) wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TrafficStats {
    /// Lines written, malformed ones included.
    pub lines: u64,
    /// Lines that are valid [`Event`]s.
    pub events: u64,
    /// Lines that are deliberately not valid events.
    pub malformed: u64,
    /// Valid events per `type` (`"claim"`, `"tick"`, ...).
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Claim lines per label (see [`LABELS`]).
    pub claims_by_label: BTreeMap<&'static str, u64>,
    /// Payout lines per label.
    pub payouts_by_label: BTreeMap<&'static str, u64>,
    /// The `at` of the first valid event, if any.
    pub first_at: Option<i64>,
    /// The `at` of the last valid event, if any.
    pub last_at: Option<i64>,
}

impl TrafficStats {
    /// Valid events of type `kind`.
    pub fn kind(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }

    /// Claim lines labelled `label`.
    pub fn claims(&self, label: &str) -> u64 {
        self.claims_by_label.get(label).copied().unwrap_or(0)
    }

    /// Payout lines labelled `label`.
    pub fn payouts(&self, label: &str) -> u64 {
        self.payouts_by_label.get(label).copied().unwrap_or(0)
    }

    /// Claim lines with an abuse label (see [`ABUSE_LABELS`]).
    pub fn abuse_claims(&self) -> u64 {
        ABUSE_LABELS.iter().map(|l| self.claims(l)).sum()
    }

    /// Counts one valid event.
    pub(super) fn record(&mut self, event: &Event) {
        self.lines += 1;
        self.events += 1;
        *self.by_kind.entry(event.kind()).or_insert(0) += 1;
        let at = event.at();
        self.first_at.get_or_insert(at);
        self.last_at = Some(at);
        let label = event
            .label()
            .and_then(|l| LABELS.iter().copied().find(|known| *known == l));
        if let Some(label) = label {
            let map = match event {
                Event::Claim { .. } => &mut self.claims_by_label,
                _ => &mut self.payouts_by_label,
            };
            *map.entry(label).or_insert(0) += 1;
        }
    }

    /// Counts one malformed line.
    pub(super) fn record_malformed(&mut self) {
        self.lines += 1;
        self.malformed += 1;
    }
}
