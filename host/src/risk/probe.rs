//! Running a module once at load, before it can see traffic: a fresh
//! instance under the rule's own call limits (so a start function that
//! loops, traps or grows memory fails here, with the reason it would have in
//! a call), then `hongbao_abi_version`.

use rules_sdk::abi::{EXPORT_ABI_VERSION, is_spoken};
use wasmtime::{ExternType, InstancePre, Store};

use super::call::{classify, instantiate_pre};
use super::host_imports::ALLOWED_IMPORTS;
use super::inspect::{host_sig, spoken_versions};
use super::limits::Limits;
use super::module::{CompiledModule, Prepared};
use super::sandbox::Sandbox;
use super::store::CallState;

/// Instantiates `module` under `limits` (running any start function) and
/// checks that it speaks an ABI version this host speaks. Returns that
/// version: the encoding its inputs take.
///
/// # Errors
///
/// Returns one sentence saying what failed, with the typed reason.
pub fn probe(sandbox: &Sandbox, module: &CompiledModule, limits: &Limits) -> Result<u32, String> {
    probe_pre(sandbox, module.pre(), limits)
}

fn probe_pre(
    sandbox: &Sandbox,
    pre: &InstancePre<CallState>,
    limits: &Limits,
) -> Result<u32, String> {
    sandbox.workers().run(|| {
        let mut store = Store::new(sandbox.engine(), CallState::new(limits));
        // Armed exactly as a call is: fuel, limiter, and the deadline that
        // the clock (not a catching-up epoch) decides.
        let instance = instantiate_pre(&mut store, pre, limits)
            .map_err(|f| format!("fails to instantiate: {} ({})", f.reason, f.detail))?;
        let f = instance
            .get_func(&mut store, EXPORT_ABI_VERSION)
            .ok_or_else(|| format!("{EXPORT_ABI_VERSION} is missing"))?
            .typed::<(), i32>(&store)
            .map_err(|e| format!("{EXPORT_ABI_VERSION} has the wrong type: {e:#}"))?;
        let v = f.call(&mut store, ()).map_err(|e| {
            let c = classify(&e, EXPORT_ABI_VERSION);
            format!("{EXPORT_ABI_VERSION} failed: {} ({})", c.reason, c.detail)
        })?;
        if !is_spoken(i64::from(v)) {
            return Err(format!(
                "{EXPORT_ABI_VERSION} returns {v}; this host speaks ABI versions {}",
                spoken_versions()
            ));
        }
        Ok(v.unsigned_abs())
    })
}

/// For a module already refused for other reasons: runs the same probe with
/// every refused import replaced by a function that traps, so that `hongbao
/// check` can also say whether the start function and the ABI version would
/// have passed. `None` when there is nothing more to say (the module did not
/// compile, has a non-function import, or its ABI version was read
/// statically).
pub fn diagnose(sandbox: &Sandbox, prepared: &Prepared, limits: &Limits) -> Option<String> {
    let module = prepared.module()?;
    if prepared.facts.abi_version_const.is_some() && !prepared.facts.has_start {
        return None;
    }
    let abi_ok = matches!(
        module.get_export(EXPORT_ABI_VERSION),
        Some(ExternType::Func(ft)) if ft.params().len() == 0
            && ft.results().len() == 1
            && matches!(ft.results().next(), Some(wasmtime::ValType::I32))
    );
    if !abi_ok {
        return None;
    }
    let mut linker = sandbox.linker().clone();
    linker.allow_shadowing(true);
    for import in module.imports() {
        let ExternType::Func(ft) = import.ty() else {
            return None;
        };
        let allowed = ALLOWED_IMPORTS.iter().any(|(m, n, p, r)| {
            *m == import.module() && *n == import.name() && {
                let got: Vec<_> = ft.params().collect();
                let res: Vec<_> = ft.results().collect();
                host_sig(&got, &res) == host_sig(p, r)
            }
        });
        if !allowed {
            linker
                .func_new(import.module(), import.name(), ft.clone(), |_, _, _| {
                    Err(wasmtime::Error::msg("this import was refused at load"))
                })
                .ok()?;
        }
    }
    let pre = linker.instantiate_pre(module).ok()?;
    match probe_pre(sandbox, &pre, limits) {
        Ok(_) => None,
        // The constant was already reported; only a failing start remains.
        Err(p) if prepared.facts.abi_version_const.is_some() && !p.starts_with("fails") => None,
        Err(p) => Some(p),
    }
}
