//! The host's imports: the only functions a rule can call. Every argument is
//! hostile: pointers and lengths are checked against the guest's memory and
//! the call's limits before any byte is read.

use rules_sdk::abi::{IMPORT_LOG, IMPORT_MODULE, log_level};
use wasmtime::{Caller, Extern, Linker};

use super::store::{CallState, HostCallError};

/// The longest line the `log` import accepts, in bytes.
pub const LOG_LINE_BYTES_MAX: u32 = 1024;

/// Every import a module may declare: (module, name, params, results).
/// Anything else is refused at load, naming the import.
pub const ALLOWED_IMPORTS: &[(&str, &str, &[wasmtime::ValType], &[wasmtime::ValType])] = &[(
    IMPORT_MODULE,
    IMPORT_LOG,
    &[
        wasmtime::ValType::I32,
        wasmtime::ValType::I32,
        wasmtime::ValType::I32,
    ],
    &[],
)];

/// Defines every allowed import on `linker`.
pub(crate) fn define(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.func_wrap(IMPORT_MODULE, IMPORT_LOG, log)?;
    Ok(())
}

fn refuse(why: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(HostCallError {
        import: IMPORT_LOG,
        why: why.into(),
    })
}

/// `hongbao.log(level, ptr, len)`: one UTF-8 line into the decision's log.
fn log(mut caller: Caller<'_, CallState>, level: i32, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let (ptr, len) = (ptr as u32, len as u32);
    caller
        .data_mut()
        .charge_host_call(IMPORT_LOG, u64::from(len))
        .map_err(wasmtime::Error::new)?;
    if !(log_level::DEBUG..=log_level::ERROR).contains(&level) {
        return Err(refuse(format!("level {level} is not one of 0..=3")));
    }
    if len == 0 {
        return Err(refuse("zero-length line"));
    }
    if len > LOG_LINE_BYTES_MAX {
        return Err(refuse(format!(
            "line of {len} bytes exceeds {LOG_LINE_BYTES_MAX}"
        )));
    }
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(refuse("module exports no memory"));
    };
    let data = memory.data(&caller);
    let start = ptr as usize;
    let Some(bytes) = start
        .checked_add(len as usize)
        .and_then(|end| data.get(start..end))
    else {
        return Err(refuse(format!(
            "range {ptr}+{len} is outside the {}-byte memory",
            data.len()
        )));
    };
    let line = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(e) => return Err(refuse(format!("line is not UTF-8: {e}"))),
    };
    caller.data_mut().logs.push((level, line));
    Ok(())
}
