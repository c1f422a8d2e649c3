//! Per-call state: what one evaluation's store holds and how it enforces
//! memory, table and host-call limits.

use thiserror::Error;
use wasmtime::ResourceLimiter;

use super::limits::Limits;

/// A limit the guest ran into, raised as the error that ends its call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum LimitHit {
    /// Linear memory growth past `memory_bytes_max`.
    #[error("linear memory of {desired_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    Memory {
        /// What the guest asked for.
        desired_bytes: u64,
        /// The limit.
        limit_bytes: u64,
    },
    /// Table growth past `table_elements_max`.
    #[error("table of {desired} elements exceeds the limit of {limit} elements")]
    Table {
        /// What the guest asked for.
        desired: u64,
        /// The limit.
        limit: u64,
    },
}

/// A host import refused its arguments; the call ends with `host-error`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("host import {import}: {why}")]
pub struct HostCallError {
    /// The import's name.
    pub import: &'static str,
    /// What was wrong with the call.
    pub why: String,
}

/// Everything one evaluation's store owns. Created fresh for every call and
/// dropped with it, so nothing here outlives the call.
#[derive(Debug)]
pub struct CallState {
    memory_bytes_max: u64,
    table_elements_max: u64,
    host_calls_max: u64,
    host_call_bytes_max: u64,
    host_calls: u64,
    host_call_bytes: u64,
    /// Lines the guest logged through the `log` import, in order.
    pub logs: Vec<(i32, String)>,
}

impl CallState {
    /// Fresh state for one call under `limits`.
    pub fn new(limits: &Limits) -> CallState {
        CallState {
            memory_bytes_max: limits.memory_bytes_max,
            table_elements_max: limits.table_elements_max,
            host_calls_max: limits.host_calls_max,
            host_call_bytes_max: limits.host_call_bytes_max,
            host_calls: 0,
            host_call_bytes: 0,
            logs: Vec::new(),
        }
    }

    /// Counts one host-import call passing `bytes` bytes against the limits.
    ///
    /// # Errors
    ///
    /// Returns a [`HostCallError`] once the call count or byte total is over its limit.
    pub fn charge_host_call(
        &mut self,
        import: &'static str,
        bytes: u64,
    ) -> Result<(), HostCallError> {
        self.host_calls += 1;
        self.host_call_bytes = self.host_call_bytes.saturating_add(bytes);
        if self.host_calls > self.host_calls_max {
            return Err(HostCallError {
                import,
                why: format!("more than host_calls_max = {} calls", self.host_calls_max),
            });
        }
        if self.host_call_bytes > self.host_call_bytes_max {
            return Err(HostCallError {
                import,
                why: format!(
                    "more than host_call_bytes_max = {} bytes",
                    self.host_call_bytes_max
                ),
            });
        }
        Ok(())
    }
}

impl ResourceLimiter for CallState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired_bytes = desired as u64;
        if desired_bytes > self.memory_bytes_max {
            // An error, not `Ok(false)`: growth past the limit ends the call
            // with a typed memory-limit failure rather than handing the
            // guest a -1 it might ignore.
            return Err(wasmtime::Error::new(LimitHit::Memory {
                desired_bytes,
                limit_bytes: self.memory_bytes_max,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.table_elements_max {
            return Err(wasmtime::Error::new(LimitHit::Table {
                desired: desired as u64,
                limit: self.table_elements_max,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}
