//! Names and numbers of the rule ABI (versions 1 and 2), shared by host and
//! guest.
//!
//! `ABI.md` at the root of this crate is the full contract; every constant
//! here is referred to there by name.

use crate::types::Hook;

/// ABI version 1: the input is a JSON object.
pub const ABI_VERSION_JSON: u32 = 1;
/// ABI version 2: the same input in a compact binary encoding
/// ([`crate::compact`]); everything else as in version 1.
pub const ABI_VERSION_COMPACT: u32 = 2;
/// The ABI version that modules built with this SDK implement;
/// their `hongbao_abi_version` returns it.
pub const ABI_VERSION: u32 = ABI_VERSION_COMPACT;
/// Every ABI version the host speaks. A module declares one of them and
/// gets its input in that version's encoding.
pub const ABI_VERSIONS: [u32; 2] = [ABI_VERSION_JSON, ABI_VERSION_COMPACT];

/// True when the host speaks ABI version `v`.
pub const fn is_spoken(v: i64) -> bool {
    v == ABI_VERSION_JSON as i64 || v == ABI_VERSION_COMPACT as i64
}

/// Export: `() -> i32`, returning the module's ABI version (one of [`ABI_VERSIONS`]).
pub const EXPORT_ABI_VERSION: &str = "hongbao_abi_version";
/// Export: `(len: i32) -> i32`, returning a pointer to `len` writable bytes.
pub const EXPORT_ALLOC: &str = "hongbao_alloc";
/// Export: the guest's linear memory.
pub const EXPORT_MEMORY: &str = "memory";
/// Export: `(ptr: i32, len: i32) -> i64` evaluating the claim hook.
pub const EXPORT_CLAIM: &str = "hongbao_claim";
/// Export: `(ptr: i32, len: i32) -> i64` evaluating the payout hook.
pub const EXPORT_PAYOUT: &str = "hongbao_payout";

/// The module name of every host import.
pub const IMPORT_MODULE: &str = "hongbao";
/// Import: `(level: i32, ptr: i32, len: i32) -> ()`, a UTF-8 log line.
pub const IMPORT_LOG: &str = "log";

/// Log levels accepted by the `log` import.
pub mod log_level {
    /// Detail for rule authors.
    pub const DEBUG: i32 = 0;
    /// Ordinary information.
    pub const INFO: i32 = 1;
    /// Something the operator should see.
    pub const WARN: i32 = 2;
    /// The highest level; a rule about to fail.
    pub const ERROR: i32 = 3;
}

/// The export that evaluates `hook`.
pub const fn hook_export(hook: Hook) -> &'static str {
    match hook {
        Hook::Claim => EXPORT_CLAIM,
        Hook::Payout => EXPORT_PAYOUT,
    }
}

/// Packs an output location into a hook's `i64` result: pointer high, length low.
pub const fn pack_output(ptr: u32, len: u32) -> i64 {
    (((ptr as u64) << 32) | len as u64) as i64
}

/// Splits a hook's `i64` result into `(ptr, len)`.
pub const fn unpack_output(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    ((bits >> 32) as u32, bits as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_every_corner() {
        for (p, l) in [
            (0, 0),
            (16, u32::MAX),
            (u32::MAX, 0x20),
            (65_500, 0x7FFF_FFFF),
        ] {
            assert_eq!(unpack_output(pack_output(p, l)), (p, l));
        }
    }
}
