//! Ground-truth labels carried by every generated claim and payout.

/// Every label the generator puts on claims and payouts, in a fixed order:
/// ordinary traffic first, then the daily-limit pattern, then the abuse
/// patterns ([`ABUSE_LABELS`]).
pub const LABELS: &[&str] = &[
    "normal",
    "heavy_user",
    "device_farm",
    "scripted_burst",
    "duplicate",
    "new_account",
    "self_dealing",
    "mule",
    "blocklisted",
];

/// The labels of abuse patterns: [`LABELS`] without `normal` and
/// `heavy_user` (a legitimate but limit-breaking user).
pub const ABUSE_LABELS: &[&str] = &[
    "device_farm",
    "scripted_burst",
    "duplicate",
    "new_account",
    "self_dealing",
    "mule",
    "blocklisted",
];

/// A label, in the order of [`LABELS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Label {
    Normal,
    HeavyUser,
    DeviceFarm,
    ScriptedBurst,
    Duplicate,
    NewAccount,
    SelfDealing,
    Mule,
    Blocklisted,
}

impl Label {
    /// Every label, in the order of [`LABELS`].
    pub(super) const ALL: [Label; 9] = [
        Label::Normal,
        Label::HeavyUser,
        Label::DeviceFarm,
        Label::ScriptedBurst,
        Label::Duplicate,
        Label::NewAccount,
        Label::SelfDealing,
        Label::Mule,
        Label::Blocklisted,
    ];

    /// The label as written in the traffic.
    pub(super) const fn as_str(self) -> &'static str {
        LABELS[self as usize]
    }

    /// True for the abuse patterns.
    pub(super) const fn is_abuse(self) -> bool {
        !matches!(self, Label::Normal | Label::HeavyUser)
    }

    /// The index of this label in [`LABELS`].
    pub(super) const fn index(self) -> usize {
        self as usize
    }
}

const _: () = assert!(LABELS.len() == Label::ALL.len());
const _: () = assert!(ABUSE_LABELS.len() + 2 == LABELS.len());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_labels_match_the_enum() {
        let names: Vec<&str> = Label::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(names, LABELS);
        let abuse: Vec<&str> = Label::ALL
            .iter()
            .filter(|l| l.is_abuse())
            .map(|l| l.as_str())
            .collect();
        assert_eq!(abuse, ABUSE_LABELS);
    }
}
