//! The sample rules, built to wasm32 by `build.rs` and compiled into the
//! binary, so that `hongbao demo` runs with no files beside it.
//!
//! A config names one as `module = "bundled:<crate name>"`.

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The wasm bytes of the bundled sample rule `name`.
pub fn module(name: &str) -> Option<&'static [u8]> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}
