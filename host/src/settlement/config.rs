//! The settlement core's configuration.

use std::collections::HashMap;

use rules_sdk::Amount;
use serde::{Deserialize, Serialize};

use crate::split::SHARE_CAP_DEFAULT_FEN;
use crate::velocity::{DAY_SECONDS, UTC_OFFSET_DEFAULT_MINUTES};

/// How long a packet lives when its creation does not say, in seconds: 24 h.
pub const EXPIRES_IN_DEFAULT_SECONDS: i64 = DAY_SECONDS;

/// Settings of the settlement core.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettlementConfig {
    /// Seconds from creation until unclaimed escrow is refunded, for packets
    /// whose creation gives no `expires_in`.
    pub expires_in_default_seconds: i64,
    /// The largest share of any packet.
    pub share_cap: Amount,
    /// The UTC offset, in minutes, that defines "today" for a merchant not
    /// listed in `merchant_utc_offset_minutes`.
    pub utc_offset_default_minutes: i32,
    /// Per-merchant UTC offsets, in minutes east of UTC.
    pub merchant_utc_offset_minutes: HashMap<String, i32>,
}

impl Default for SettlementConfig {
    fn default() -> SettlementConfig {
        SettlementConfig {
            expires_in_default_seconds: EXPIRES_IN_DEFAULT_SECONDS,
            share_cap: Amount::from_fen(SHARE_CAP_DEFAULT_FEN).unwrap_or(Amount::ZERO),
            utc_offset_default_minutes: UTC_OFFSET_DEFAULT_MINUTES,
            merchant_utc_offset_minutes: HashMap::new(),
        }
    }
}

impl SettlementConfig {
    /// The UTC offset, in minutes, of `merchant`'s local day.
    pub fn utc_offset_minutes(&self, merchant: &str) -> i32 {
        self.merchant_utc_offset_minutes
            .get(merchant)
            .copied()
            .unwrap_or(self.utc_offset_default_minutes)
    }
}
