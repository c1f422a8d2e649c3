//! Loading a rule module: size, compilation, imports, exports and resource
//! checks, all before the module can reach traffic.
//!
//! [`CompiledModule`] is compile-once state shared by every rule that uses
//! the same bytes (keyed by digest). It holds an `InstancePre`: the module
//! already linked against the host imports, so that each evaluation only
//! instantiates a fresh copy — a bogus rule therefore cannot leak memory or
//! share data between calls, because no instance outlives its call.

use std::fmt::Write as _;

use rules_sdk::Hook;
use rules_sdk::abi::{self, EXPORT_ABI_VERSION, EXPORT_ALLOC, EXPORT_MEMORY};
use sha2::{Digest, Sha256};
use wasmtime::{ExternType, FuncType, InstancePre, Module, ModuleExport, ValType};

use super::host_imports::ALLOWED_IMPORTS;
use super::limits::{Limits, MODULE_BYTES_CEILING, WASM_PAGE_BYTES};
use super::sandbox::Sandbox;
use super::store::CallState;

/// A module compiled, linked and checked against the ABI, ready to
/// instantiate once per evaluation.
pub struct CompiledModule {
    digest: String,
    size_bytes: u64,
    min_memory_bytes: u64,
    min_table_elements: u64,
    pre: InstancePre<CallState>,
    pub(crate) memory: ModuleExport,
    pub(crate) abi_version: ModuleExport,
    pub(crate) alloc: ModuleExport,
    hooks: [Option<ModuleExport>; 2],
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModule")
            .field("digest", &self.digest)
            .field("size_bytes", &self.size_bytes)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in hash {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hook_index(hook: Hook) -> usize {
    match hook {
        Hook::Claim => 0,
        Hook::Payout => 1,
    }
}

fn val_name(v: &ValType) -> &'static str {
    match v {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::Ref(_) => "ref",
    }
}

fn signature(
    params: impl Iterator<Item = ValType>,
    results: impl Iterator<Item = ValType>,
) -> String {
    let p: Vec<_> = params.map(|v| val_name(&v)).collect();
    let r: Vec<_> = results.map(|v| val_name(&v)).collect();
    format!("({}) -> ({})", p.join(", "), r.join(", "))
}

fn func_signature(ft: &FuncType) -> String {
    signature(ft.params(), ft.results())
}

fn expected_signature(params: &[ValType], results: &[ValType]) -> String {
    signature(params.iter().cloned(), results.iter().cloned())
}

fn kind_name(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        ExternType::Tag(_) => "tag",
    }
}

impl CompiledModule {
    /// Validates and compiles `bytes` (binary Wasm, or the WAT text format).
    ///
    /// Checks everything that does not depend on a rule's limits: the module
    /// size against [`MODULE_BYTES_CEILING`], that it compiles under the
    /// sandbox's feature set, that every import is an allowed host import
    /// with its exact signature, and that the ABI exports exist with their
    /// exact signatures.
    ///
    /// # Errors
    ///
    /// Returns every problem found, one sentence each, naming the import,
    /// export or limit at fault.
    pub fn compile(sandbox: &Sandbox, bytes: &[u8]) -> Result<CompiledModule, Vec<String>> {
        let size_bytes = bytes.len() as u64;
        if size_bytes > MODULE_BYTES_CEILING {
            return Err(vec![format!(
                "module of {size_bytes} bytes exceeds the {MODULE_BYTES_CEILING}-byte ceiling"
            )]);
        }
        let digest = digest(bytes);
        let wasm = if bytes.starts_with(b"\0asm") {
            std::borrow::Cow::Borrowed(bytes)
        } else {
            match wat::parse_bytes(bytes) {
                Ok(w) => w,
                Err(e) => return Err(vec![format!("not a wasm binary, and not valid WAT: {e}")]),
            }
        };
        // Bound the compiler's work before it starts.
        let (_, shape_problems) = super::shape::check(&wasm);
        if !shape_problems.is_empty() {
            return Err(shape_problems);
        }
        let module = match Module::from_binary(sandbox.engine(), &wasm) {
            Ok(m) => m,
            Err(e) => return Err(vec![format!("does not compile: {e:#}")]),
        };

        let mut problems = Vec::new();
        check_imports(&module, &mut problems);
        let memory = check_export(&module, EXPORT_MEMORY, &mut problems, |ty| match ty {
            ExternType::Memory(m) if m.is_64() => Some("must be a 32-bit memory".into()),
            ExternType::Memory(m) if m.is_shared() => Some("must not be shared".into()),
            ExternType::Memory(m) if m.page_size() != WASM_PAGE_BYTES => {
                Some("must use 64 KiB pages".into())
            }
            ExternType::Memory(_) => None,
            other => Some(format!("must be a memory, found a {}", kind_name(other))),
        });
        let abi_version = check_func(
            &module,
            EXPORT_ABI_VERSION,
            &[],
            &[ValType::I32],
            &mut problems,
        );
        let alloc = check_func(
            &module,
            EXPORT_ALLOC,
            &[ValType::I32],
            &[ValType::I32],
            &mut problems,
        );
        let mut hooks = [None, None];
        for hook in Hook::ALL {
            let name = abi::hook_export(hook);
            if module.get_export(name).is_some() {
                hooks[hook_index(hook)] = check_func(
                    &module,
                    name,
                    &[ValType::I32, ValType::I32],
                    &[ValType::I64],
                    &mut problems,
                );
            }
        }
        if hooks.iter().all(Option::is_none) && problems.is_empty() {
            problems.push(format!(
                "exports no hook: expected {} and/or {}",
                abi::EXPORT_CLAIM,
                abi::EXPORT_PAYOUT
            ));
        }
        let resources = module.resources_required();
        if resources.num_memories > 1 {
            problems.push(format!(
                "defines {} memories; at most one",
                resources.num_memories
            ));
        }
        if resources.num_tables > 1 {
            problems.push(format!(
                "defines {} tables; at most one",
                resources.num_tables
            ));
        }
        let pre = match sandbox.linker().instantiate_pre(&module) {
            Ok(pre) => Some(pre),
            Err(e) => {
                if problems.is_empty() {
                    problems.push(format!("cannot be linked: {e:#}"));
                }
                None
            }
        };
        match (memory, abi_version, alloc, pre) {
            (Some(memory), Some(abi_version), Some(alloc), Some(pre)) if problems.is_empty() => {
                Ok(CompiledModule {
                    digest,
                    size_bytes,
                    min_memory_bytes: resources
                        .max_initial_memory_size
                        .unwrap_or(0)
                        .saturating_mul(WASM_PAGE_BYTES),
                    min_table_elements: resources.max_initial_table_size.unwrap_or(0),
                    pre,
                    memory,
                    abi_version,
                    alloc,
                    hooks,
                })
            }
            _ => Err(problems),
        }
    }

    /// Problems that stop this module from running under `limits` for
    /// `hooks`: size, initial memory and table, and missing hook exports.
    pub fn check_fits(&self, limits: &Limits, hooks: &[Hook]) -> Vec<String> {
        let mut problems = Vec::new();
        if self.size_bytes > limits.module_bytes_max {
            problems.push(format!(
                "module of {} bytes exceeds module_bytes_max = {}",
                self.size_bytes, limits.module_bytes_max
            ));
        }
        if self.min_memory_bytes > limits.memory_bytes_max {
            problems.push(format!(
                "initial memory of {} bytes exceeds memory_bytes_max = {}",
                self.min_memory_bytes, limits.memory_bytes_max
            ));
        }
        if self.min_table_elements > limits.table_elements_max {
            problems.push(format!(
                "initial table of {} elements exceeds table_elements_max = {}",
                self.min_table_elements, limits.table_elements_max
            ));
        }
        for &hook in hooks {
            if self.hook(hook).is_none() {
                problems.push(format!(
                    "configured for hook {hook} but does not export {}",
                    abi::hook_export(hook)
                ));
            }
        }
        problems
    }

    /// SHA-256 of the module's bytes as loaded, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The module's size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The hooks the module exports.
    pub fn hooks(&self) -> Vec<Hook> {
        Hook::ALL
            .into_iter()
            .filter(|&h| self.hook(h).is_some())
            .collect()
    }

    pub(crate) fn hook(&self, hook: Hook) -> Option<&ModuleExport> {
        self.hooks[hook_index(hook)].as_ref()
    }

    pub(crate) fn pre(&self) -> &InstancePre<CallState> {
        &self.pre
    }
}

/// A name from the module, safe to print: escaped when it holds anything
/// but printable characters, so a module cannot forge lines of output.
fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().all(|c| !c.is_control()) && name.len() <= 200 {
        std::borrow::Cow::Borrowed(name)
    } else {
        let escaped: String = name
            .chars()
            .take(200)
            .flat_map(char::escape_debug)
            .collect();
        std::borrow::Cow::Owned(format!("\"{escaped}\""))
    }
}

fn check_imports(module: &Module, problems: &mut Vec<String>) {
    for import in module.imports() {
        let (m, n) = (shown(import.module()), shown(import.name()));
        let (raw_m, raw_n) = (import.module(), import.name());
        let allowed = ALLOWED_IMPORTS
            .iter()
            .find(|(am, an, _, _)| *am == raw_m && *an == raw_n);
        let Some((_, _, params, results)) = allowed else {
            let list: Vec<String> = ALLOWED_IMPORTS
                .iter()
                .map(|(am, an, p, r)| format!("{am}.{an} {}", expected_signature(p, r)))
                .collect();
            problems.push(format!(
                "imports {m}.{n} ({}), which the host does not provide; allowed imports: {}",
                kind_name(&import.ty()),
                list.join(", ")
            ));
            continue;
        };
        match import.ty() {
            ExternType::Func(ft) => {
                let want = expected_signature(params, results);
                let got = func_signature(&ft);
                if got != want {
                    problems.push(format!(
                        "imports {m}.{n} with signature {got}, but the host provides {want}"
                    ));
                }
            }
            other => problems.push(format!(
                "imports {m}.{n} as a {}, but the host provides a function",
                kind_name(&other)
            )),
        }
    }
}

fn check_export(
    module: &Module,
    name: &str,
    problems: &mut Vec<String>,
    check: impl FnOnce(&ExternType) -> Option<String>,
) -> Option<ModuleExport> {
    let Some(ty) = module.get_export(name) else {
        problems.push(format!("missing required export {name}"));
        return None;
    };
    if let Some(why) = check(&ty) {
        problems.push(format!("export {name} {why}"));
        return None;
    }
    module.get_export_index(name)
}

fn check_func(
    module: &Module,
    name: &str,
    params: &[ValType],
    results: &[ValType],
    problems: &mut Vec<String>,
) -> Option<ModuleExport> {
    let want = expected_signature(params, results);
    check_export(module, name, problems, |ty| match ty {
        ExternType::Func(ft) => {
            let got = func_signature(ft);
            (got != want).then(|| format!("has signature {got}, expected {want}"))
        }
        other => Some(format!(
            "must be a function {want}, found a {}",
            kind_name(other)
        )),
    })
}
