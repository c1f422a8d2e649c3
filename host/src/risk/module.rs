//! Loading a rule module: inspection (see [`super::inspect`]), compilation
//! within a wall-clock budget, and linking, all before the module can reach
//! traffic.
//!
//! [`CompiledModule`] is compile-once state shared by every rule that uses
//! the same bytes (keyed by digest). It holds an `InstancePre`: the module
//! already linked against the host imports, so that each evaluation only
//! instantiates a fresh copy — a bogus rule therefore cannot leak memory or
//! share data between calls, because no instance outlives its call.

use std::fmt::Write as _;

use rules_sdk::Hook;
use rules_sdk::abi::{self, EXPORT_ALLOC, EXPORT_MEMORY};
use sha2::{Digest, Sha256};
use wasmtime::{InstancePre, Module, ModuleExport};

use super::inspect::{Inspection, ModuleFacts, inspect};
use super::limits::{Limits, MODULE_BYTES_CEILING};
use super::sandbox::Sandbox;
use super::store::CallState;

/// A module compiled, linked and checked against the ABI, ready to
/// instantiate once per evaluation.
#[derive(Clone)]
pub struct CompiledModule {
    digest: String,
    facts: ModuleFacts,
    pre: InstancePre<CallState>,
    pub(crate) memory: ModuleExport,
    pub(crate) alloc: ModuleExport,
    hooks: [Option<ModuleExport>; 2],
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModule")
            .field("digest", &self.digest)
            .field("size_bytes", &self.facts.size_bytes)
            .finish_non_exhaustive()
    }
}

/// Reads a module file, at most [`MODULE_BYTES_CEILING`] bytes of it: a
/// larger file (or a device that never ends) is refused after that much,
/// never read whole.
///
/// # Errors
///
/// Says why the file cannot be read, or that it is over the ceiling.
pub fn read_module_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read module {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MODULE_BYTES_CEILING + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read module {}: {e}", path.display()))?;
    if bytes.len() as u64 > MODULE_BYTES_CEILING {
        return Err(format!(
            "module {} is over the {MODULE_BYTES_CEILING}-byte ceiling (read no further)",
            path.display()
        ));
    }
    Ok(bytes)
}

/// A WAT parse error on one line: its message and where (`at line 1
/// column 37`), without the multi-line source excerpt and the `<anon>` file
/// name the parser prints.
fn wat_error(e: &wat::Error) -> String {
    let text = e.to_string();
    let mut lines = text.lines();
    let message = lines.next().unwrap_or("").trim().to_string();
    let position = lines
        .find_map(|l| l.trim().strip_prefix("--> "))
        .and_then(|at| {
            let mut parts = at.rsplitn(3, ':');
            let column = parts.next()?;
            let line = parts.next()?;
            Some(format!(" at line {line} column {column}"))
        })
        .unwrap_or_default();
    format!("{message}{position}")
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

/// A module as the loader sees it: what inspection found, every
/// limit-independent problem, and the compiled module when there are none.
/// Computed once per distinct module (by digest) and shared by every rule
/// that uses it.
pub struct Prepared {
    /// SHA-256 of the bytes as given, hex.
    pub digest: String,
    /// What the module declares.
    pub facts: ModuleFacts,
    /// Every limit-independent problem (validation, compile bounds,
    /// imports, exports, ABI version, compilation, linking).
    pub problems: Vec<String>,
    /// The compiled module, kept for diagnostics when it is refused.
    module: Option<Module>,
    /// Ready to instantiate, when there are no problems.
    pub compiled: Option<std::sync::Arc<CompiledModule>>,
}

impl Prepared {
    /// The compiled wasmtime module, if compilation was reached and worked.
    pub fn module(&self) -> Option<&Module> {
        self.module.as_ref()
    }
}

/// Reads, inspects, compiles (within `compile_timeout_ms`) and links
/// `bytes`, a binary module or its WAT text. Never compiles a module whose
/// compile cost is over the bounds of [`super::shape`].
pub fn prepare(sandbox: &Sandbox, bytes: &[u8]) -> Prepared {
    prepare_with(sandbox, bytes, true)
}

/// Reads and inspects `bytes` without compiling them: for a module already
/// refused for its size, so that its other problems can still be listed.
pub fn prepare_uncompiled(sandbox: &Sandbox, bytes: &[u8]) -> Prepared {
    prepare_with(sandbox, bytes, false)
}

fn prepare_with(sandbox: &Sandbox, bytes: &[u8], compile: bool) -> Prepared {
    let size_bytes = bytes.len() as u64;
    let digest = digest(bytes);
    let refused = |problems: Vec<String>| Prepared {
        digest: digest.clone(),
        facts: ModuleFacts {
            size_bytes,
            ..ModuleFacts::default()
        },
        problems,
        module: None,
        compiled: None,
    };
    if size_bytes > MODULE_BYTES_CEILING {
        return refused(vec![format!(
            "module of {size_bytes} bytes exceeds the {MODULE_BYTES_CEILING}-byte ceiling"
        )]);
    }
    let wasm = if bytes.starts_with(b"\0asm") {
        std::borrow::Cow::Borrowed(bytes)
    } else {
        match wat::parse_bytes(bytes) {
            Ok(w) => w,
            Err(e) => {
                return refused(vec![format!(
                    "not a wasm binary, and not valid WAT: {}",
                    wat_error(&e)
                )]);
            }
        }
    };
    let Inspection {
        facts,
        mut problems,
        compilable,
    } = inspect(sandbox.engine(), &wasm, size_bytes);
    let mut prepared = Prepared {
        digest,
        facts,
        problems: Vec::new(),
        module: None,
        compiled: None,
    };
    if compilable && compile {
        let cached = sandbox
            .cache()
            .and_then(|c| c.get(sandbox.engine(), &prepared.digest));
        match cached {
            Some(module) => prepared.module = Some(module),
            None => match super::compiler::compile_within(
                sandbox,
                wasm.into_owned(),
                sandbox.limits().compile_timeout_ms,
            ) {
                Ok(module) => {
                    if let Some(c) = sandbox.cache() {
                        c.put(&prepared.digest, &module);
                    }
                    prepared.module = Some(module);
                }
                Err(e) => problems.push(e),
            },
        }
    }
    if let (Some(module), true) = (&prepared.module, problems.is_empty()) {
        match CompiledModule::link(sandbox, module, &prepared) {
            Ok(c) => prepared.compiled = Some(std::sync::Arc::new(c)),
            Err(e) => problems.push(e),
        }
    }
    prepared.problems = problems;
    prepared
}

impl CompiledModule {
    /// Inspects, compiles and links `bytes` (binary Wasm, or the WAT text
    /// format): see [`prepare`].
    ///
    /// # Errors
    ///
    /// Returns every limit-independent problem found, one sentence each,
    /// naming the import, export or bound at fault.
    pub fn compile(sandbox: &Sandbox, bytes: &[u8]) -> Result<CompiledModule, Vec<String>> {
        let prepared = prepare(sandbox, bytes);
        match prepared.compiled {
            Some(c) if prepared.problems.is_empty() => Ok((*c).clone()),
            _ => Err(prepared.problems),
        }
    }

    fn link(
        sandbox: &Sandbox,
        module: &Module,
        prepared: &Prepared,
    ) -> Result<CompiledModule, String> {
        let pre = sandbox
            .linker()
            .instantiate_pre(module)
            .map_err(|e| format!("cannot be linked: {e:#}"))?;
        let export = |name: &str| {
            module
                .get_export_index(name)
                .ok_or_else(|| format!("missing required export {name}"))
        };
        let mut hooks = [None, None];
        for hook in Hook::ALL {
            if prepared.facts.exports_hook(hook) {
                hooks[hook_index(hook)] = Some(export(abi::hook_export(hook))?);
            }
        }
        Ok(CompiledModule {
            digest: prepared.digest.clone(),
            facts: prepared.facts.clone(),
            pre,
            memory: export(EXPORT_MEMORY)?,
            alloc: export(EXPORT_ALLOC)?,
            hooks,
        })
    }

    /// Problems that stop this module from running under `limits` for
    /// `hooks`: size, declared memory and table, and missing hook exports.
    pub fn check_fits(&self, limits: &Limits, hooks: &[Hook]) -> Vec<String> {
        self.facts.check_fits(limits, hooks)
    }

    /// SHA-256 of the module's bytes as loaded, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The module's size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.facts.size_bytes
    }

    /// What the module declares.
    pub fn facts(&self) -> &ModuleFacts {
        &self.facts
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
