//! Everything the loader can tell about a module without compiling it: that
//! it is valid for the sandbox's feature set, that compiling it is bounded,
//! its imports and exports with their exact signatures, its memory and table
//! declarations and, when its `hongbao_abi_version` is a constant, the ABI
//! version it speaks. Every problem is collected, so one run of `hongbao
//! check` lists all that is wrong with a module.

use rules_sdk::Hook;
use rules_sdk::abi::{self, EXPORT_ABI_VERSION, EXPORT_ALLOC, EXPORT_MEMORY};
use wasmparser::{
    CompositeInnerType, ExternalKind, FuncType, Operator, Parser, Payload, TypeRef, ValType,
};

use super::host_imports::ALLOWED_IMPORTS;
use super::limits::{Limits, WASM_PAGE_BYTES};
use super::shape::{self, Shape};

/// A memory or table declaration: initial and optional maximum size, in
/// bytes for memories and elements for tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    /// The size at instantiation.
    pub initial: u64,
    /// The declared maximum, if any.
    pub maximum: Option<u64>,
}

/// What the module declares, read from its sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleFacts {
    /// Size of the module as given (binary or WAT), in bytes.
    pub size_bytes: u64,
    /// Compile-cost measures.
    pub shape: Shape,
    /// Memories, imported or defined.
    pub memories: u32,
    /// Tables, imported or defined.
    pub tables: u32,
    /// The first memory, in bytes.
    pub memory: Option<Extent>,
    /// The largest table, in elements.
    pub table: Option<Extent>,
    /// Which hooks are exported (claim, payout).
    pub hooks: [bool; 2],
    /// The ABI version when `hongbao_abi_version` just returns a constant.
    pub abi_version_const: Option<i64>,
    /// Whether the module has a start function (it runs at every
    /// instantiation, under the call's limits).
    pub has_start: bool,
}

/// The result of inspecting a module.
#[derive(Clone, Debug, Default)]
pub struct Inspection {
    /// What was read.
    pub facts: ModuleFacts,
    /// Every limit-independent problem, one sentence each.
    pub problems: Vec<String>,
    /// False when the module must not be handed to the compiler at all
    /// (invalid, or its compile cost is over the bounds).
    pub compilable: bool,
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

fn host_val_name(v: &wasmtime::ValType) -> &'static str {
    match v {
        wasmtime::ValType::I32 => "i32",
        wasmtime::ValType::I64 => "i64",
        wasmtime::ValType::F32 => "f32",
        wasmtime::ValType::F64 => "f64",
        wasmtime::ValType::V128 => "v128",
        wasmtime::ValType::Ref(_) => "ref",
    }
}

fn sig(params: &[&str], results: &[&str]) -> String {
    format!("({}) -> ({})", params.join(", "), results.join(", "))
}

fn func_sig(ft: &FuncType) -> String {
    let p: Vec<_> = ft.params().iter().map(val_name).collect();
    let r: Vec<_> = ft.results().iter().map(val_name).collect();
    sig(&p, &r)
}

/// The signature the host provides for an allowed import, as text.
pub fn host_sig(params: &[wasmtime::ValType], results: &[wasmtime::ValType]) -> String {
    let p: Vec<_> = params.iter().map(host_val_name).collect();
    let r: Vec<_> = results.iter().map(host_val_name).collect();
    sig(&p, &r)
}

/// A name from the module, safe to print: escaped when it holds anything
/// but printable characters, so a module cannot forge lines of output.
pub fn shown(name: &str) -> std::borrow::Cow<'_, str> {
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

fn kind_name(kind: ExternalKind) -> &'static str {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => "function",
        ExternalKind::Table => "table",
        ExternalKind::Memory => "memory",
        ExternalKind::Global => "global",
        ExternalKind::Tag => "tag",
    }
}

fn type_ref_kind(ty: &TypeRef) -> &'static str {
    match ty {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => "function",
        TypeRef::Table(_) => "table",
        TypeRef::Memory(_) => "memory",
        TypeRef::Global(_) => "global",
        TypeRef::Tag(_) => "tag",
    }
}

/// The sections as read, before any judgement.
#[derive(Default)]
struct Sections {
    /// Function types by type index (`None` for non-function types).
    types: Vec<Option<FuncType>>,
    /// Type index of every function, imports first.
    func_types: Vec<u32>,
    imported_funcs: u32,
    memories: Vec<wasmparser::MemoryType>,
    tables: Vec<wasmparser::TableType>,
    /// (name, kind, index) of every export.
    exports: Vec<(String, ExternalKind, u32)>,
    /// (module, name, type) of every import.
    imports: Vec<(String, String, TypeRef)>,
    start: bool,
    /// Body operators of each defined function, when it is `i32.const N; end`.
    const_bodies: Vec<Option<i64>>,
}

fn read_sections(wasm: &[u8]) -> Sections {
    let mut s = Sections::default();
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader.into_iter().flatten() {
                    for sub in group.into_types() {
                        s.types.push(match sub.composite_type.inner {
                            CompositeInnerType::Func(ft) => Some(ft),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports().flatten() {
                    match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            s.func_types.push(t);
                            s.imported_funcs += 1;
                        }
                        TypeRef::Memory(m) => s.memories.push(m),
                        TypeRef::Table(t) => s.tables.push(t),
                        _ => {}
                    }
                    s.imports.push((
                        import.module.to_string(),
                        import.name.to_string(),
                        import.ty,
                    ));
                }
            }
            Payload::FunctionSection(reader) => s.func_types.extend(reader.into_iter().flatten()),
            Payload::MemorySection(reader) => s.memories.extend(reader.into_iter().flatten()),
            Payload::TableSection(reader) => {
                s.tables.extend(reader.into_iter().flatten().map(|t| t.ty));
            }
            Payload::ExportSection(reader) => {
                for e in reader.into_iter().flatten() {
                    s.exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            Payload::StartSection { .. } => s.start = true,
            Payload::CodeSectionEntry(body) => s.const_bodies.push(const_body(&body)),
            _ => {}
        }
    }
    s
}

/// `N` when a function body is exactly `i32.const N` followed by `end`.
fn const_body(body: &wasmparser::FunctionBody<'_>) -> Option<i64> {
    let mut ops = body.get_operators_reader().ok()?;
    let first = ops.read().ok()?;
    let second = ops.read().ok()?;
    match (first, second, ops.eof()) {
        (Operator::I32Const { value }, Operator::End, true) => Some(i64::from(value)),
        _ => None,
    }
}

impl Sections {
    fn func_type(&self, func_index: u32) -> Option<&FuncType> {
        let t = *self.func_types.get(func_index as usize)?;
        self.types.get(t as usize)?.as_ref()
    }

    fn export(&self, name: &str) -> Option<(ExternalKind, u32)> {
        self.exports
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|&(_, k, i)| (k, i))
    }

    /// Checks that `name` is exported as a function of signature `want`;
    /// returns whether it is exported at all.
    fn check_func(
        &self,
        name: &str,
        want: &str,
        required: bool,
        problems: &mut Vec<String>,
    ) -> bool {
        match self.export(name) {
            None => {
                if required {
                    problems.push(format!("missing required export {name}, a function {want}"));
                }
                false
            }
            Some((ExternalKind::Func | ExternalKind::FuncExact, index)) => {
                match self.func_type(index) {
                    Some(ft) if func_sig(ft) == want => {}
                    Some(ft) => problems.push(format!(
                        "export {name} has signature {}, expected {want}",
                        func_sig(ft)
                    )),
                    None => problems.push(format!("export {name} has no function type")),
                }
                true
            }
            Some((kind, _)) => {
                problems.push(format!(
                    "export {name} must be a function {want}, found a {}",
                    kind_name(kind)
                ));
                true
            }
        }
    }
}

/// Inspects `wasm` (binary) against the sandbox `engine`'s feature set.
pub fn inspect(engine: &wasmtime::Engine, wasm: &[u8], size_bytes: u64) -> Inspection {
    let mut problems = Vec::new();
    let mut compilable = true;
    if let Err(e) = wasmtime::Module::validate(engine, wasm) {
        problems.push(format!("is not a valid module for this sandbox: {e:#}"));
        compilable = false;
    }
    let (shape, shape_problems) = shape::check(wasm);
    if !shape_problems.is_empty() {
        compilable = false;
        problems.extend(shape_problems);
    }
    let s = read_sections(wasm);

    // Imports: only the allowlist, each with its exact signature.
    for (module, name, ty) in &s.imports {
        let (m, n) = (shown(module), shown(name));
        let allowed = ALLOWED_IMPORTS
            .iter()
            .find(|(am, an, _, _)| am == module && an == name);
        let Some((_, _, params, results)) = allowed else {
            let list: Vec<String> = ALLOWED_IMPORTS
                .iter()
                .map(|(am, an, p, r)| format!("{am}.{an} {}", host_sig(p, r)))
                .collect();
            problems.push(format!(
                "imports {m}.{n} ({}), which the host does not provide; allowed imports: {}",
                type_ref_kind(ty),
                list.join(", ")
            ));
            continue;
        };
        let want = host_sig(params, results);
        match ty {
            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                let got = s
                    .types
                    .get(*t as usize)
                    .and_then(Option::as_ref)
                    .map_or_else(|| "(unknown type)".to_string(), func_sig);
                if got != want {
                    problems.push(format!(
                        "imports {m}.{n} with signature {got}, but the host provides {want}"
                    ));
                }
            }
            other => problems.push(format!(
                "imports {m}.{n} as a {}, but the host provides a function {want}",
                type_ref_kind(other)
            )),
        }
    }

    // Exports: the ABI's, with exact signatures.
    match s.export(EXPORT_MEMORY) {
        None => problems.push(format!("missing required export {EXPORT_MEMORY}, a memory")),
        Some((ExternalKind::Memory, index)) => {
            if let Some(m) = s.memories.get(index as usize) {
                if m.memory64 {
                    problems.push(format!("export {EXPORT_MEMORY} must be a 32-bit memory"));
                }
                if m.shared {
                    problems.push(format!("export {EXPORT_MEMORY} must not be shared"));
                }
            }
        }
        Some((kind, _)) => problems.push(format!(
            "export {EXPORT_MEMORY} must be a memory, found a {}",
            kind_name(kind)
        )),
    }
    s.check_func(EXPORT_ABI_VERSION, &sig(&[], &["i32"]), true, &mut problems);
    s.check_func(EXPORT_ALLOC, &sig(&["i32"], &["i32"]), true, &mut problems);
    let mut hooks = [false; 2];
    for hook in Hook::ALL {
        let name = abi::hook_export(hook);
        hooks[hook_index(hook)] =
            s.check_func(name, &sig(&["i32", "i32"], &["i64"]), false, &mut problems);
    }
    if hooks.iter().all(|h| !h) {
        problems.push(format!(
            "exports no hook: expected {} and/or {}",
            abi::EXPORT_CLAIM,
            abi::EXPORT_PAYOUT
        ));
    }

    // Memories and tables: at most one of each.
    if s.memories.len() > 1 {
        problems.push(format!(
            "declares {} memories; at most one",
            s.memories.len()
        ));
    }
    if s.tables.len() > 1 {
        problems.push(format!("declares {} tables; at most one", s.tables.len()));
    }

    // The ABI version, when it can be read without running anything.
    let abi_version_const = match s.export(EXPORT_ABI_VERSION) {
        Some((ExternalKind::Func, index)) if index >= s.imported_funcs => s
            .const_bodies
            .get((index - s.imported_funcs) as usize)
            .copied()
            .flatten(),
        _ => None,
    };
    if let Some(v) = abi_version_const
        && !abi::is_spoken(v)
    {
        problems.push(format!(
            "{EXPORT_ABI_VERSION} returns {v}; this host speaks ABI versions {}",
            spoken_versions()
        ));
    }

    let facts = ModuleFacts {
        size_bytes,
        shape,
        memories: s.memories.len() as u32,
        tables: s.tables.len() as u32,
        memory: s.memories.first().map(|m| Extent {
            initial: m.initial.saturating_mul(WASM_PAGE_BYTES),
            maximum: m.maximum.map(|p| p.saturating_mul(WASM_PAGE_BYTES)),
        }),
        table: s
            .tables
            .iter()
            .map(|t| Extent {
                initial: t.initial,
                maximum: t.maximum,
            })
            .max_by_key(|e| e.initial),
        hooks,
        abi_version_const,
        has_start: s.start,
    };
    Inspection {
        facts,
        problems,
        compilable,
    }
}

impl ModuleFacts {
    /// Whether the module exports `hook`.
    pub fn exports_hook(&self, hook: Hook) -> bool {
        self.hooks[hook_index(hook)]
    }

    /// Problems that stop this module from running under `limits` for
    /// `hooks`: its size, its declared memory and table, missing hooks.
    pub fn check_fits(&self, limits: &Limits, hooks: &[Hook]) -> Vec<String> {
        let mut problems = Vec::new();
        if self.size_bytes > limits.module_bytes_max {
            problems.push(format!(
                "module of {} bytes exceeds module_bytes_max = {}",
                self.size_bytes, limits.module_bytes_max
            ));
        }
        if let Some(m) = self.memory {
            if m.initial > limits.memory_bytes_max {
                problems.push(format!(
                    "declares an initial memory of {} bytes, over memory_bytes_max = {}",
                    m.initial, limits.memory_bytes_max
                ));
            }
            if let Some(max) = m.maximum
                && max > limits.memory_bytes_max
            {
                problems.push(format!(
                    "declares a maximum memory of {max} bytes, over memory_bytes_max = {} \
                     (declare no maximum, or one within the limit)",
                    limits.memory_bytes_max
                ));
            }
        }
        if let Some(t) = self.table {
            if t.initial > limits.table_elements_max {
                problems.push(format!(
                    "declares a table of {} elements, over table_elements_max = {}",
                    t.initial, limits.table_elements_max
                ));
            }
            if let Some(max) = t.maximum
                && max > limits.table_elements_max
            {
                problems.push(format!(
                    "declares a maximum table of {max} elements, over table_elements_max = {} \
                     (declare no maximum, or one within the limit)",
                    limits.table_elements_max
                ));
            }
        }
        for &hook in hooks {
            if !self.exports_hook(hook) {
                problems.push(format!(
                    "configured for hook {hook} but does not export {}",
                    abi::hook_export(hook)
                ));
            }
        }
        problems
    }
}

/// The ABI versions this host speaks, for messages: `1 and 2`.
pub(crate) fn spoken_versions() -> String {
    let v: Vec<String> = abi::ABI_VERSIONS.iter().map(u32::to_string).collect();
    v.join(" and ")
}
