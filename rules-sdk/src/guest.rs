//! Guest-side glue: turning input bytes into a typed call and the answer back
//! into bytes. The same code runs inside Wasm and in native tests.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::ABI_VERSION_JSON;
use crate::compact::{self, Section};
use crate::types::{Decision, RuleError, RuleInput, RuleOutput};

/// Decodes `input` as a compact [`RuleInput`] (ABI version 2, the
/// encoding of modules built with this SDK), runs `rule`, and encodes its
/// answer.
///
/// Any decoding problem (truncated input, wrong ABI version, settings of
/// the wrong shape) becomes a [`RuleError`], which the host treats as a
/// failure of the rule: never as allow.
pub fn evaluate_bytes<R, F, S>(
    input: &[u8],
    rule: impl FnOnce(&RuleInput<R, F, S>) -> Result<Decision, RuleError>,
) -> Vec<u8>
where
    R: Section,
    F: Section,
    S: DeserializeOwned,
{
    let output: RuleOutput = match compact::decode::<R, F, S>(input) {
        Ok(parsed) => rule(&parsed).into(),
        Err(e) => RuleOutput::Error(RuleError::new(format!("cannot decode input: {e}"))),
    };
    encode(&output)
}

/// Decodes `input` as the JSON [`RuleInput`] of ABI version 1, runs
/// `rule`, and encodes its answer. For native tests on JSON fixtures, and
/// for comparing the two encodings.
pub fn evaluate_json<R, F, S>(
    input: &[u8],
    rule: impl FnOnce(&RuleInput<R, F, S>) -> Result<Decision, RuleError>,
) -> Vec<u8>
where
    R: DeserializeOwned,
    F: DeserializeOwned,
    S: DeserializeOwned,
{
    let output: RuleOutput = match serde_json::from_slice::<RuleInput<R, F, S>>(input) {
        Ok(parsed) if parsed.abi_version != ABI_VERSION_JSON => {
            RuleOutput::Error(RuleError::new(format!(
                "abi version {} not supported, expected {ABI_VERSION_JSON}",
                parsed.abi_version
            )))
        }
        Ok(parsed) => rule(&parsed).into(),
        Err(e) => RuleOutput::Error(RuleError::new(format!("cannot decode input: {e}"))),
    };
    encode(&output)
}

fn encode(output: &impl Serialize) -> Vec<u8> {
    // Serialising these plain structs cannot fail; fall back to a fixed error
    // rather than panic if it ever did.
    serde_json::to_vec(output).unwrap_or_else(|_| br#"{"error":"cannot encode output"}"#.to_vec())
}

/// Wasm-only entry points used by [`crate::export_rule!`].
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(
    unsafe_code,
    reason = "the ABI hands raw guest pointers across the boundary"
)]
pub mod wasm {
    use super::*;
    use crate::abi::pack_output;

    /// Reserves `len` bytes that the host fills with input.
    ///
    /// Every evaluation runs in a fresh instance, so the buffer is never
    /// freed: the whole instance is thrown away after the call.
    pub fn alloc(len: i32) -> i32 {
        let Ok(len) = usize::try_from(len) else {
            return 0;
        };
        let mut buf = Vec::<u8>::with_capacity(len.max(1));
        let ptr = buf.as_mut_ptr();
        core::mem::forget(buf);
        ptr as i32
    }

    /// Runs one hook over the input at `ptr..ptr+len` and returns the packed
    /// location of the output.
    ///
    /// # Safety
    ///
    /// `ptr..ptr+len` must be the buffer the host filled after `alloc(len)`.
    pub unsafe fn run<R, F, S>(
        ptr: i32,
        len: i32,
        rule: impl FnOnce(&RuleInput<R, F, S>) -> Result<Decision, RuleError>,
    ) -> i64
    where
        R: Section,
        F: Section,
        S: DeserializeOwned,
    {
        let input: &[u8] = if len <= 0 {
            &[]
        } else {
            // SAFETY: the host wrote `len` bytes at `ptr`, as the ABI requires.
            unsafe { core::slice::from_raw_parts(ptr as *const u8, len as usize) }
        };
        let out = evaluate_bytes(input, rule);
        let packed = pack_output(out.as_ptr() as u32, out.len() as u32);
        core::mem::forget(out);
        packed
    }
}
