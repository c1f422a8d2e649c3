//! The hongbao rule SDK: the ABI contract between the host and risk rules,
//! and the glue that turns one plain Rust function into a Wasm rule.
//!
//! A rule is a pure function of its input:
//!
//! ```
//! use rules_sdk::{ClaimInput, Decision, RuleError, Amount};
//!
//! #[derive(serde::Deserialize, Default)]
//! #[serde(default)]
//! pub struct Settings { max_amount: Option<Amount> }
//!
//! pub fn claim(input: &ClaimInput<Settings>) -> Result<Decision, RuleError> {
//!     match input.settings.max_amount {
//!         Some(max) if input.request.amount > max => Ok(Decision::review("amount_over_max")),
//!         _ => Ok(Decision::allow()),
//!     }
//! }
//!
//! rules_sdk::export_rule!(claim => claim);
//! ```
//!
//! Built for `wasm32-unknown-unknown`, [`export_rule!`] emits the exports that
//! the ABI requires (see `ABI.md`), declaring version 2: the host hands the
//! rule its input in the compact encoding of [`compact`], which costs a
//! fraction of parsing JSON. Built natively it emits nothing, so the same
//! crate unit-tests with plain `cargo test` using [`testing`], which runs
//! the rule through both encodings.
//!
//! This crate has no wasmtime dependency: the host uses the same types to
//! build inputs and to parse outputs.
#![deny(missing_docs)]

pub mod abi;
mod amount;
#[cfg(all(target_arch = "wasm32", feature = "bump-alloc"))]
#[allow(
    unsafe_code,
    reason = "a global allocator hands out raw memory; see the module's SAFETY notes"
)]
pub mod bump;
pub mod compact;
pub mod guest;
pub mod host_api;
pub mod testing;
mod types;

/// Every evaluation runs in a fresh instance, so the guest's heap lives for
/// one call: see [`bump`].
#[cfg(all(target_arch = "wasm32", feature = "bump-alloc"))]
#[global_allocator]
static ALLOCATOR: bump::Bump = bump::Bump::new();

pub use abi::ABI_VERSION;
pub use amount::{AMOUNT_FEN_MAX, Amount, AmountError};
pub use types::{
    ClaimFacts, ClaimInput, ClaimRequest, Decision, Hook, NOTE_BYTES_MAX, PayoutFacts, PayoutInput,
    PayoutRequest, REASON_BYTES_MAX, RuleError, RuleInput, RuleOutput, Verdict, is_valid_reason,
};

/// Exports one or more hook functions as a Wasm rule.
///
/// `export_rule!(claim => my_claim, payout => my_payout)`: each function takes
/// `&ClaimInput<S>` or `&PayoutInput<S>` for any settings type `S` that
/// implements `serde::Deserialize`, and returns `Result<Decision, RuleError>`.
/// On wasm32 the macro emits `hongbao_abi_version`, `hongbao_alloc` and one
/// `hongbao_<hook>` export per hook; on other targets it emits nothing.
#[macro_export]
macro_rules! export_rule {
    ($($hook:ident => $func:path),+ $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code, reason = "Wasm exports must be unmangled")]
        #[unsafe(no_mangle)]
        pub extern "C" fn hongbao_abi_version() -> i32 {
            $crate::ABI_VERSION as i32
        }

        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code, reason = "Wasm exports must be unmangled")]
        #[unsafe(no_mangle)]
        pub extern "C" fn hongbao_alloc(len: i32) -> i32 {
            $crate::guest::wasm::alloc(len)
        }

        $( $crate::__export_hook!($hook, $func); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_hook {
    (claim, $func:path) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code, reason = "Wasm exports must be unmangled")]
        #[unsafe(no_mangle)]
        pub extern "C" fn hongbao_claim(ptr: i32, len: i32) -> i64 {
            // SAFETY: the host calls this with the buffer it filled after `hongbao_alloc`.
            unsafe { $crate::guest::wasm::run(ptr, len, $func) }
        }
    };
    (payout, $func:path) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code, reason = "Wasm exports must be unmangled")]
        #[unsafe(no_mangle)]
        pub extern "C" fn hongbao_payout(ptr: i32, len: i32) -> i64 {
            // SAFETY: the host calls this with the buffer it filled after `hongbao_alloc`.
            unsafe { $crate::guest::wasm::run(ptr, len, $func) }
        }
    };
}
