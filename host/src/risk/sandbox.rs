//! The wasmtime engine every rule runs in, configured knob by knob.
//!
//! One [`Sandbox`] per process: it owns the engine (compiled code, the
//! pooling allocator's slots), the linker with the host imports, and the
//! epoch ticker that drives the wall-clock backstop. Every setting the
//! isolation guarantees depend on is written out here rather than left to a
//! wasmtime default that could change between versions.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, Linker, OptLevel, PoolingAllocationConfig,
    WasmFeatures,
};

use super::cache::ModuleCache;
use super::host_imports;
use super::limits::{
    EPOCH_TICK_MS, EngineLimits, LimitError, MEMORY_BYTES_CEILING, TABLE_ELEMENTS_CEILING,
};
use super::store::CallState;
use super::workers::Workers;

/// Why the sandbox could not be built.
#[derive(Debug, Error)]
pub enum SandboxError {
    /// An engine-wide limit is out of range.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// wasmtime refused the configuration.
    #[error("cannot build the wasm engine: {0}")]
    Engine(String),
}

/// How the pooling allocator resets a linear memory between two calls.
///
/// These knobs change how fast a fresh instance is, never what it sees: with
/// any of them, a slot's memory is back to the module's initial image before
/// the next instance gets it, either by copying (`memset` of zeroes, `memcpy`
/// of the data segments) or by handing the pages back to the kernel
/// (`madvise`), after which they fault in again as zeroes or as the image.
/// `BENCHMARKS.md` records what each costs per call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolTuning {
    /// Bytes of each memory slot reset by copying and kept mapped between
    /// calls, in bytes; pages past this are returned to the kernel and fault
    /// in again on the next call that touches them.
    pub linear_memory_keep_resident_bytes: usize,
    /// Find the pages a call actually wrote with Linux's `PAGEMAP_SCAN`
    /// ioctl (kernel 6.7 or later; ignored elsewhere) and reset only those,
    /// up to `linear_memory_keep_resident_bytes` of them, instead of copying
    /// the whole kept-resident range.
    pub pagemap_scan: bool,
    /// Map each module's initial memory copy-on-write from a per-module
    /// image instead of copying its data segments in at instantiation.
    pub memory_init_cow: bool,
}

impl Default for PoolTuning {
    /// The settings the engine runs with; see `BENCHMARKS.md` for why.
    fn default() -> PoolTuning {
        PoolTuning {
            linear_memory_keep_resident_bytes: 1024 * 1024,
            pagemap_scan: true,
            memory_init_cow: true,
        }
    }
}

impl PoolTuning {
    /// wasmtime's own defaults for these knobs: every page handed back to
    /// the kernel after each call. For comparison in the benches.
    pub fn stock() -> PoolTuning {
        PoolTuning {
            linear_memory_keep_resident_bytes: 0,
            pagemap_scan: false,
            memory_init_cow: true,
        }
    }
}

/// The process-wide Wasm engine, host imports and epoch ticker.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<CallState>,
    limits: EngineLimits,
    tuning: PoolTuning,
    workers: Workers,
    cache: Option<ModuleCache>,
    _ticker: Ticker,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("limits", &self.limits)
            .finish()
    }
}

impl Sandbox {
    /// Builds the engine for `limits` and starts its epoch ticker.
    ///
    /// # Errors
    ///
    /// Returns [`SandboxError::Limit`] when the stack or pool settings cannot
    /// work, and [`SandboxError::Engine`] when wasmtime refuses the config.
    pub fn new(limits: &EngineLimits) -> Result<Sandbox, SandboxError> {
        Sandbox::with_tuning(limits, &PoolTuning::default())
    }

    /// [`Sandbox::new`] with explicit memory-reset knobs (for the benches).
    ///
    /// # Errors
    ///
    /// As [`Sandbox::new`].
    pub fn with_tuning(
        limits: &EngineLimits,
        tuning: &PoolTuning,
    ) -> Result<Sandbox, SandboxError> {
        limits.validate()?;
        let config = engine_config(limits, tuning);
        let engine = Engine::new(&config).map_err(|e| SandboxError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        host_imports::define(&mut linker).map_err(|e| SandboxError::Engine(format!("{e:#}")))?;
        let ticker = Ticker::start(engine.clone())
            .map_err(|e| SandboxError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        let workers = Workers::start(limits.workers as usize).map_err(SandboxError::Engine)?;
        let cache = limits
            .module_cache_dir
            .as_deref()
            .map(|dir| ModuleCache::open(dir, &engine))
            .transpose()
            .map_err(SandboxError::Engine)?;
        Ok(Sandbox {
            engine,
            linker,
            limits: limits.clone(),
            tuning: tuning.clone(),
            workers,
            cache,
            _ticker: ticker,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker holding the host imports (and nothing else).
    pub fn linker(&self) -> &Linker<CallState> {
        &self.linker
    }

    /// The on-disk cache of compiled modules, if configured.
    pub fn cache(&self) -> Option<&ModuleCache> {
        self.cache.as_ref()
    }

    /// The threads guest code runs on.
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// The engine-wide limits in force.
    pub fn limits(&self) -> &EngineLimits {
        &self.limits
    }

    /// The memory-reset knobs in force.
    pub fn tuning(&self) -> &PoolTuning {
        &self.tuning
    }
}

/// The engine configuration. Each line is a promise the sandbox makes.
pub(crate) fn engine_config(limits: &EngineLimits, tuning: &PoolTuning) -> Config {
    let mut c = Config::new();
    // Deterministic budgets: fuel counts instructions, so the same module and
    // input always use the same fuel and fail at the same point.
    c.consume_fuel(true);
    // The wall-clock backstop for what fuel does not see (host calls, a
    // descheduled thread): a deadline in epoch ticks, checked by guest code.
    c.epoch_interruption(true);
    // Guest frames run on the worker's native stack; bounded so that deep
    // recursion traps with StackOverflow instead of aborting the process.
    c.max_wasm_stack(limits.stack_bytes_max);
    // Determinism: NaN bit patterns canonicalised, no threads, no relaxed
    // SIMD whose results differ by CPU.
    c.cranelift_nan_canonicalization(true);
    c.wasm_features(WasmFeatures::THREADS, false);
    c.wasm_shared_everything_threads(false);
    c.wasm_relaxed_simd(false);
    c.relaxed_simd_deterministic(true);
    c.wasm_simd(true);
    // The features a Rust or C guest needs, and no more.
    c.wasm_bulk_memory(true);
    c.wasm_multi_value(true);
    c.wasm_features(WasmFeatures::REFERENCE_TYPES, true);
    c.wasm_multi_memory(false);
    c.wasm_memory64(false);
    c.wasm_tail_call(false);
    c.wasm_gc(false);
    c.wasm_features(WasmFeatures::FUNCTION_REFERENCES, false);
    c.wasm_features(WasmFeatures::EXCEPTIONS, false);
    c.wasm_stack_switching(false);
    c.wasm_custom_page_sizes(false);
    c.wasm_wide_arithmetic(false);
    c.wasm_features(WasmFeatures::COMPONENT_MODEL, false);
    // Compilation happens at load only.
    c.cranelift_opt_level(OptLevel::Speed);
    c.parallel_compilation(true);
    // Traps are caught by signal handlers: bounds checks are the guard pages.
    c.signals_based_traps(true);
    c.memory_guard_size(2 * 1024 * 1024 * 1024);
    c.memory_reservation(4 * 1024 * 1024 * 1024);
    c.guard_before_linear_memory(true);
    c.memory_init_cow(tuning.memory_init_cow);
    c.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(20));
    c.debug_info(false);

    // A fresh instance per evaluation, from pre-reserved slots.
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(limits.instances_max);
    pool.total_memories(limits.instances_max);
    pool.total_tables(limits.instances_max);
    pool.total_component_instances(0);
    pool.max_memories_per_module(1);
    pool.max_tables_per_module(1);
    pool.max_memory_size(MEMORY_BYTES_CEILING as usize);
    pool.table_elements(TABLE_ELEMENTS_CEILING as usize);
    pool.max_core_instance_size(1024 * 1024);
    // Reset the pages a call wrote by copying rather than by madvise, so
    // that the next call on the slot does not fault them in again.
    pool.linear_memory_keep_resident(tuning.linear_memory_keep_resident_bytes);
    pool.pagemap_scan(if tuning.pagemap_scan {
        Enabled::Auto
    } else {
        Enabled::No
    });
    pool.table_keep_resident(16 * 1024);
    pool.max_unused_warm_slots(limits.instances_max);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

/// A dedicated thread that advances the engine's epoch every
/// [`EPOCH_TICK_MS`]. It counts ticks from elapsed time, so a late wake-up
/// catches up instead of stretching every deadline, and it runs on its own
/// thread, so neither a guest nor the thread running it can starve it.
struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("hongbao-epoch".into())
            .spawn(move || {
                let start = Instant::now();
                let mut ticks: u128 = 0;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(EPOCH_TICK_MS));
                    let due = start.elapsed().as_millis() / u128::from(EPOCH_TICK_MS);
                    while ticks < due {
                        engine.increment_epoch();
                        ticks += 1;
                    }
                }
            })?;
        Ok(Ticker {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
