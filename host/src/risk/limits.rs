//! Every bound the sandbox enforces, with its unit in its name.
//!
//! [`Limits`] holds the values in force for one rule: the platform defaults
//! ([`Limits::default`]) with the rule's overrides ([`LimitOverrides`])
//! applied. Hard ceilings (`*_CEILING`) bound what any config may ask for;
//! they size the pooling allocator, so a rule can never be granted more than
//! the pool reserved.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// WebAssembly page size, in bytes.
pub const WASM_PAGE_BYTES: u64 = 64 * 1024;

/// The most linear memory any rule may be given, in bytes (64 MiB).
pub const MEMORY_BYTES_CEILING: u64 = 64 * 1024 * 1024;
/// The most table elements any rule may be given.
pub const TABLE_ELEMENTS_CEILING: u64 = 100_000;
/// The most fuel any call may be given (about a few seconds of guest code).
pub const FUEL_PER_CALL_CEILING: u64 = 10_000_000_000;
/// The longest wall-clock backstop any call may be given, in milliseconds.
pub const TIMEOUT_MS_CEILING: u64 = 10_000;
/// The largest module the loader accepts, in bytes (8 MiB).
pub const MODULE_BYTES_CEILING: u64 = 8 * 1024 * 1024;
/// The largest input or output any config may allow, in bytes (1 MiB).
pub const IO_BYTES_CEILING: u64 = 1024 * 1024;
/// The native stack of every thread that runs guest code, in bytes.
///
/// Guest frames live on the calling thread's native stack, so the wasm stack
/// limit must leave room below this for the host's own frames.
pub const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;
/// Native stack kept free for host frames below the wasm stack limit, in bytes.
pub const HOST_STACK_HEADROOM_BYTES: usize = 1024 * 1024;
/// The smallest wasm stack a config may set, in bytes.
pub const STACK_BYTES_MIN: usize = 16 * 1024;
/// The largest wasm stack a config may set, in bytes: below wasmtime's own
/// ceiling (its async stack size, 2 MiB) and far below the worker stack.
pub const STACK_BYTES_MAX: usize = 1024 * 1024;
/// The epoch ticker's period, in milliseconds: the granularity of timeouts.
pub const EPOCH_TICK_MS: u64 = 1;

const _: () = assert!(MEMORY_BYTES_CEILING.is_multiple_of(WASM_PAGE_BYTES));
const _: () = assert!(STACK_BYTES_MIN < STACK_BYTES_MAX);
const _: () = assert!(STACK_BYTES_MAX + HOST_STACK_HEADROOM_BYTES < WORKER_STACK_BYTES);
const _: () = assert!(IO_BYTES_CEILING < MEMORY_BYTES_CEILING);
const _: () = assert!(EPOCH_TICK_MS > 0 && EPOCH_TICK_MS <= TIMEOUT_MS_CEILING);

/// The limits in force for one rule's calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Fuel per call, instantiation included (deterministic; about one unit per wasm instruction).
    pub fuel_per_call: u64,
    /// Wall-clock backstop per call, in milliseconds, for time fuel does not see.
    pub timeout_ms: u64,
    /// Linear memory a call may use, in bytes.
    pub memory_bytes_max: u64,
    /// Table elements a call may use.
    pub table_elements_max: u64,
    /// Input bytes the host may hand the rule.
    pub input_bytes_max: u64,
    /// Output bytes the host will read back.
    pub output_bytes_max: u64,
    /// Module size accepted at load, in bytes.
    pub module_bytes_max: u64,
    /// Host-import calls per evaluation.
    pub host_calls_max: u64,
    /// Bytes passed to host imports per evaluation.
    pub host_call_bytes_max: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            fuel_per_call: 20_000_000,
            timeout_ms: 500,
            memory_bytes_max: 16 * 1024 * 1024,
            table_elements_max: 10_000,
            input_bytes_max: 64 * 1024,
            output_bytes_max: 4 * 1024,
            module_bytes_max: 1024 * 1024,
            host_calls_max: 64,
            host_call_bytes_max: 16 * 1024,
        }
    }
}

/// A rule's overrides of the platform defaults; absent fields keep the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// See [`Limits::fuel_per_call`].
    pub fuel_per_call: Option<u64>,
    /// See [`Limits::timeout_ms`].
    pub timeout_ms: Option<u64>,
    /// See [`Limits::memory_bytes_max`].
    pub memory_bytes_max: Option<u64>,
    /// See [`Limits::table_elements_max`].
    pub table_elements_max: Option<u64>,
    /// See [`Limits::input_bytes_max`].
    pub input_bytes_max: Option<u64>,
    /// See [`Limits::output_bytes_max`].
    pub output_bytes_max: Option<u64>,
    /// See [`Limits::module_bytes_max`].
    pub module_bytes_max: Option<u64>,
    /// See [`Limits::host_calls_max`].
    pub host_calls_max: Option<u64>,
    /// See [`Limits::host_call_bytes_max`].
    pub host_call_bytes_max: Option<u64>,
}

/// A limit outside what the sandbox can enforce.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("limit {name} = {value} is out of range: {why}")]
pub struct LimitError {
    /// The limit's name, as in the config.
    pub name: &'static str,
    /// The value given.
    pub value: u64,
    /// The allowed range.
    pub why: String,
}

fn check(name: &'static str, value: u64, min: u64, max: u64) -> Result<(), LimitError> {
    if value < min || value > max {
        return Err(LimitError {
            name,
            value,
            why: format!("must be between {min} and {max}"),
        });
    }
    Ok(())
}

impl Limits {
    /// These limits with `overrides` applied.
    pub fn with(&self, overrides: &LimitOverrides) -> Limits {
        let o = overrides;
        Limits {
            fuel_per_call: o.fuel_per_call.unwrap_or(self.fuel_per_call),
            timeout_ms: o.timeout_ms.unwrap_or(self.timeout_ms),
            memory_bytes_max: o.memory_bytes_max.unwrap_or(self.memory_bytes_max),
            table_elements_max: o.table_elements_max.unwrap_or(self.table_elements_max),
            input_bytes_max: o.input_bytes_max.unwrap_or(self.input_bytes_max),
            output_bytes_max: o.output_bytes_max.unwrap_or(self.output_bytes_max),
            module_bytes_max: o.module_bytes_max.unwrap_or(self.module_bytes_max),
            host_calls_max: o.host_calls_max.unwrap_or(self.host_calls_max),
            host_call_bytes_max: o.host_call_bytes_max.unwrap_or(self.host_call_bytes_max),
        }
    }

    /// Checks every limit against what the sandbox can enforce.
    ///
    /// # Errors
    ///
    /// Returns the first limit that is zero, above its ceiling, or (for
    /// memory) not a whole number of wasm pages.
    pub fn validate(&self) -> Result<(), LimitError> {
        check(
            "fuel_per_call",
            self.fuel_per_call,
            10_000,
            FUEL_PER_CALL_CEILING,
        )?;
        check("timeout_ms", self.timeout_ms, 1, TIMEOUT_MS_CEILING)?;
        check(
            "memory_bytes_max",
            self.memory_bytes_max,
            WASM_PAGE_BYTES,
            MEMORY_BYTES_CEILING,
        )?;
        if !self.memory_bytes_max.is_multiple_of(WASM_PAGE_BYTES) {
            return Err(LimitError {
                name: "memory_bytes_max",
                value: self.memory_bytes_max,
                why: format!("must be a multiple of the {WASM_PAGE_BYTES}-byte wasm page"),
            });
        }
        check(
            "table_elements_max",
            self.table_elements_max,
            0,
            TABLE_ELEMENTS_CEILING,
        )?;
        check(
            "input_bytes_max",
            self.input_bytes_max,
            1024,
            IO_BYTES_CEILING,
        )?;
        check(
            "output_bytes_max",
            self.output_bytes_max,
            64,
            IO_BYTES_CEILING,
        )?;
        check(
            "module_bytes_max",
            self.module_bytes_max,
            8,
            MODULE_BYTES_CEILING,
        )?;
        check("host_calls_max", self.host_calls_max, 0, 1_000_000)?;
        check(
            "host_call_bytes_max",
            self.host_call_bytes_max,
            0,
            IO_BYTES_CEILING,
        )?;
        Ok(())
    }

    /// Epoch ticks that make up [`Limits::timeout_ms`], rounded up, plus one
    /// so that a call started just before a tick still gets its full time.
    pub fn timeout_ticks(&self) -> u64 {
        self.timeout_ms.div_ceil(EPOCH_TICK_MS) + 1
    }
}

/// Engine-wide sandbox settings: what cannot differ between rules because
/// wasmtime fixes it per engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineLimits {
    /// The wasm stack every call may use, in bytes.
    pub stack_bytes_max: usize,
    /// Instances that may be alive at once (the pooling allocator's slots).
    pub instances_max: u32,
    /// Threads that run rule calls; the rules of one request are spread over
    /// them. Defaults to one per core.
    pub workers: u32,
    /// Wall-clock budget for compiling one module at load, in milliseconds.
    pub compile_timeout_ms: u64,
    /// What a refused rule does to the start-up.
    pub refused_rules: RefusedRules,
    /// A directory for compiled modules, reused across restarts (keyed by
    /// module digest and engine settings). None: compile every start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_cache_dir: Option<std::path::PathBuf>,
}

/// What happens when a configured rule is refused at load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusedRules {
    /// Nothing starts: every refusal is reported and the load fails.
    #[default]
    Stop,
    /// The other rules start; a refused rule never runs, and every request
    /// it would have seen records its failure verdict with reason `refused`.
    FailClosed,
}

/// The most worker threads the engine runs.
pub const WORKERS_CEILING: u64 = 64;
/// The longest compile budget that may be configured, in milliseconds.
pub const COMPILE_TIMEOUT_MS_CEILING: u64 = 600_000;

/// One worker per core the process may use (at least one).
pub fn default_workers() -> u32 {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, WORKERS_CEILING as usize) as u32
}

impl Default for EngineLimits {
    fn default() -> EngineLimits {
        EngineLimits {
            stack_bytes_max: 512 * 1024,
            instances_max: 64,
            workers: default_workers(),
            compile_timeout_ms: 60_000,
            refused_rules: RefusedRules::Stop,
            module_cache_dir: None,
        }
    }
}

impl EngineLimits {
    /// Checks that the engine can be built with these settings.
    ///
    /// # Errors
    ///
    /// Returns an error when the wasm stack would not fit on a worker's native
    /// stack with headroom for the host, or a count is zero or unreasonable.
    pub fn validate(&self) -> Result<(), LimitError> {
        let stack_max = STACK_BYTES_MAX;
        if self.stack_bytes_max < STACK_BYTES_MIN || self.stack_bytes_max > stack_max {
            return Err(LimitError {
                name: "stack_bytes_max",
                value: self.stack_bytes_max as u64,
                why: format!(
                    "must be between {STACK_BYTES_MIN} and {stack_max}: guest frames run on a \
                     {WORKER_STACK_BYTES}-byte worker stack that keeps {HOST_STACK_HEADROOM_BYTES} \
                     bytes for the host"
                ),
            });
        }
        check("instances_max", u64::from(self.instances_max), 1, 10_000)?;
        check("workers", u64::from(self.workers), 1, WORKERS_CEILING)?;
        if self.workers > self.instances_max {
            return Err(LimitError {
                name: "workers",
                value: u64::from(self.workers),
                why: format!(
                    "must not exceed instances_max = {}: every worker needs an instance slot",
                    self.instances_max
                ),
            });
        }
        check(
            "compile_timeout_ms",
            self.compile_timeout_ms,
            1,
            COMPILE_TIMEOUT_MS_CEILING,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Limits::default().validate(), Ok(()));
        assert_eq!(EngineLimits::default().validate(), Ok(()));
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let base = Limits::default();
        let l = base.with(&LimitOverrides {
            fuel_per_call: Some(123_456),
            ..LimitOverrides::default()
        });
        assert_eq!(l.fuel_per_call, 123_456);
        assert_eq!(l.timeout_ms, base.timeout_ms);
    }

    #[test]
    fn out_of_range_limits_are_named() {
        let l = Limits {
            memory_bytes_max: 1000,
            ..Limits::default()
        };
        let e = l.validate().expect_err("1000 bytes is less than a page");
        assert_eq!(e.name, "memory_bytes_max");
        let l = Limits {
            fuel_per_call: 0,
            ..Limits::default()
        };
        assert_eq!(l.validate().map_err(|e| e.name), Err("fuel_per_call"));
    }

    #[test]
    fn stack_that_cannot_fit_is_refused() {
        let e = EngineLimits {
            stack_bytes_max: WORKER_STACK_BYTES,
            ..EngineLimits::default()
        };
        assert_eq!(e.validate().map_err(|e| e.name), Err("stack_bytes_max"));
    }
}
