//! The loader: every reason a module is refused, listed at once; the
//! compile budget; start functions under call limits; the worker pool.

use anyhow::{Context, Result};
use hongbao::config::Config;
use hongbao::risk::engine::check_module;
use hongbao::risk::limits::{EngineLimits, Limits};
use hongbao::risk::sandbox::Sandbox;
use hongbao::risk::{Evaluator, LoadError, RiskEngine};
use hongbao_tests::{NOW, claim, engine, wat_path};
use rules_sdk::Verdict;

/// Modules with several faults of different kinds: `check_module` lists
/// every one in a single run, static faults and those only a probe finds.
#[test]
fn check_reports_static_and_probe_faults_together() -> Result<()> {
    let sandbox = Sandbox::new(&EngineLimits::default())?;
    let cases: &[(&str, &[&str])] = &[
        (
            "check_many_faults",
            &[
                "imports env.secret (function), which the host does not provide",
                "imports hongbao.log with signature (i64) -> (), but the host provides (i32, i32, i32) -> ()",
                "missing required export hongbao_alloc, a function (i32) -> (i32)",
                "export hongbao_claim has signature (i32) -> (i32), expected (i32, i32) -> (i64)",
                "declares a table of 20000 elements, over table_elements_max = 10000",
                "hongbao_abi_version returns 7; this host speaks ABI versions 1 and 2",
                "declares an initial memory of 19660800 bytes, over memory_bytes_max = 16777216",
            ],
        ),
        (
            "check_refused_and_computed_abi",
            &[
                "imports env.clock (function), which the host does not provide",
                "hongbao_abi_version returns 3; this host speaks ABI versions 1 and 2",
            ],
        ),
        (
            "check_refused_and_start_loop",
            &[
                "imports env.clock (function), which the host does not provide",
                "fails to instantiate: fuel",
            ],
        ),
    ];
    for (name, expected) in cases {
        let bytes = std::fs::read(wat_path(name))?;
        let problems = check_module(&sandbox, &bytes, &Limits::default())
            .err()
            .with_context(|| format!("{name} must be refused"))?;
        assert_eq!(problems.len(), expected.len(), "{name}: {problems:#?}");
        for want in *expected {
            assert!(
                problems.iter().any(|p| p.starts_with(want)),
                "{name}: no problem says {want:?} in {problems:#?}"
            );
        }
    }
    Ok(())
}

/// A module over the rule's size limit is never compiled, yet its other
/// faults are still listed.
#[test]
fn check_inspects_but_never_compiles_an_oversized_module() -> Result<()> {
    let sandbox = Sandbox::new(&EngineLimits::default())?;
    let bytes = std::fs::read(wat_path("check_refused_and_computed_abi"))?;
    let limits = Limits {
        module_bytes_max: 64,
        ..Limits::default()
    };
    let problems = check_module(&sandbox, &bytes, &limits)
        .err()
        .context("an oversized module must be refused")?;
    let size = format!(
        "module of {} bytes exceeds module_bytes_max = 64",
        bytes.len()
    );
    assert!(problems.contains(&size), "{problems:#?}");
    assert!(
        problems.iter().any(|p| p.contains("env.clock")),
        "{problems:#?}"
    );
    // Not compiled, so the computed ABI version cannot be known.
    assert!(
        !problems.iter().any(|p| p.contains("returns 3")),
        "{problems:#?}"
    );
    Ok(())
}

/// The compile budget is real: with 1 ms, compiling a real sample rule (a
/// 100+ KB module) is refused with the limit named, and the other rules of
/// the config are refused nothing; with the default budget it loads.
#[test]
fn compilation_over_its_budget_is_refused() -> Result<()> {
    let text = |budget: &str| {
        format!(
            "[sandbox]\n{budget}\n\
             [[rules]]\nid = \"big\"\nmodule = \"bundled:daily-limits\"\nscope = \"platform\"\nhooks = [\"claim\"]\n\
             [[rules]]\nid = \"small\"\nmodule = \"bundled:allow\"\nscope = \"platform\"\nhooks = [\"claim\"]\n"
        )
    };
    let config = Config::parse(&text("compile_timeout_ms = 1"), std::path::Path::new("."))?;
    let Err(LoadError::Refused(refusals)) = RiskEngine::load(&config, &hongbao_tests::module_bytes)
    else {
        anyhow::bail!("a 1 ms compile budget must refuse a real rule");
    };
    let big = refusals
        .iter()
        .find(|r| r.rule == "big")
        .context("the big rule must be refused")?;
    assert_eq!(
        big.problems,
        ["compilation took longer than compile_timeout_ms = 1"]
    );
    assert!(
        refusals.iter().all(|r| r.rule == "big" || r.problems.iter().all(|p| p.contains("compile_timeout_ms"))),
        "{refusals:?}"
    );
    let config = Config::parse(&text(""), std::path::Path::new("."))?;
    let engine = RiskEngine::load(&config, &hongbao_tests::module_bytes)?;
    assert_eq!(engine.rules().len(), 2);
    Ok(())
}

/// A start function runs at load under the rule's own call limits: an
/// endless start is stopped by fuel and the rule refused with that reason;
/// under a tighter timeout and more fuel, by the deadline.
#[test]
fn an_endless_start_function_is_stopped_at_load() -> Result<()> {
    let rule = |extra: &str| {
        format!(
            "[[rules]]\nid = \"spin\"\nmodule = \"{}\"\nscope = \"platform\"\nhooks = [\"claim\"]\n{extra}\n",
            wat_path("start_forever").display()
        )
    };
    for (extra, reason) in [
        ("[rules.limits]\nfuel_per_call = 1000000", "fuel"),
        (
            "[rules.limits]\nfuel_per_call = 10000000000\ntimeout_ms = 20",
            "timeout",
        ),
    ] {
        let Err(e) = engine(&rule(extra)) else {
            anyhow::bail!("an endless start must be refused ({reason})");
        };
        let message = format!("{e:#}");
        assert!(
            message.contains(&format!(
                "rule spin refused: fails to instantiate: {reason}"
            )),
            "{message}"
        );
    }
    Ok(())
}

/// A rule that stalls until its deadline costs only its own budget: the
/// other rules of the same request still give their answers, each failure
/// is recorded with its reason, and the engine answers the next request.
#[test]
fn a_stalled_rule_costs_only_its_own_budget() -> Result<()> {
    let rules = format!(
        "[sandbox]\nworkers = 2\n\
         [[rules]]\nid = \"a.stall\"\nmodule = \"{loop_}\"\nscope = \"platform\"\nhooks = [\"claim\"]\n\
         [rules.limits]\nfuel_per_call = 10000000000\ntimeout_ms = 100\n\
         [[rules]]\nid = \"b.allow\"\nmodule = \"{allow}\"\nscope = \"platform\"\nhooks = [\"claim\"]\n\
         [[rules]]\nid = \"c.deny\"\nmodule = \"{deny}\"\nscope = \"platform\"\nhooks = [\"claim\"]\n",
        loop_ = wat_path("endless_loop").display(),
        allow = wat_path("allow").display(),
        deny = wat_path("deny").display(),
    );
    let engine = engine(&rules)?;
    assert_eq!(engine.sandbox().workers().count(), 2);
    for _ in 0..3 {
        let (req, facts) = claim("1.00", "u1");
        let e = engine.claim(NOW, &req, &facts);
        let ids: Vec<&str> = e.rules.iter().map(|r| r.rule_id.as_str()).collect();
        assert_eq!(ids, ["a.stall", "b.allow", "c.deny"]);
        assert_eq!(e.rules[0].reason, "timeout");
        assert_eq!(e.rules[0].verdict, Verdict::Review);
        assert_eq!(e.rules[1].verdict, Verdict::Allow);
        assert_eq!(e.rules[2].verdict, Verdict::Deny);
        assert_eq!(e.verdict, Verdict::Deny);
    }
    Ok(())
}

/// The engine may be called from any thread, including one with a small
/// stack: guest code runs on the workers, so deep recursion still ends in
/// `stack-overflow` rather than overflowing the caller.
#[test]
fn callers_with_small_stacks_are_safe() -> Result<()> {
    let engine = std::sync::Arc::new(engine(&format!(
        "[[rules]]\nid = \"deep\"\nmodule = \"{}\"\nscope = \"platform\"\nhooks = [\"claim\"]\n\
         [rules.limits]\nhost_calls_max = 1000000\nhost_call_bytes_max = 1048576\n\
         fuel_per_call = 1000000000\ntimeout_ms = 5000\n",
        wat_path("deep_recursion").display()
    ))?);
    let e2 = std::sync::Arc::clone(&engine);
    let reason = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let (req, facts) = claim("1.00", "u1");
            e2.claim(NOW, &req, &facts).rules[0].reason.clone()
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("the small-stack caller panicked"))?;
    assert_eq!(reason, "stack-overflow");
    Ok(())
}

/// Worker settings are checked at start-up with the setting named.
#[test]
fn impossible_worker_settings_are_refused_at_start() {
    for (text, name) in [
        ("[sandbox]\nworkers = 0\n", "workers"),
        ("[sandbox]\nworkers = 65\n", "workers"),
        ("[sandbox]\nworkers = 8\ninstances_max = 4\n", "workers"),
        ("[sandbox]\ncompile_timeout_ms = 0\n", "compile_timeout_ms"),
    ] {
        let err = Config::parse(text, std::path::Path::new("."))
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains(name), "{text}: {err:?}");
    }
    let defaults = EngineLimits::default();
    assert!(defaults.workers >= 1);
    assert_eq!(defaults.compile_timeout_ms, 60_000);
}

/// With `refused_rules = "fail-closed"` a refused module never runs, the
/// other rules keep running, and every request the refused rule would have
/// seen records its failure verdict with reason `refused` — never allow.
/// With the default (`stop`) the same config does not load at all.
#[test]
fn a_refused_rule_fails_closed_and_the_others_keep_running() -> Result<()> {
    let rules = format!(
        "[[rules]]\nid = \"bad\"\nmodule = \"{bad}\"\nscope = \"merchant\"\nmerchant = \"m1\"\nhooks = [\"claim\"]\non_failure = \"deny\"\n\
         [[rules]]\nid = \"missing\"\nmodule = \"bundled:no-such-rule\"\nscope = \"merchant\"\nmerchant = \"m1\"\nhooks = [\"claim\"]\n\
         [[rules]]\nid = \"good\"\nmodule = \"{allow}\"\nscope = \"platform\"\nhooks = [\"claim\"]\n",
        bad = wat_path("forbidden_import").display(),
        allow = wat_path("allow").display(),
    );
    let Err(e) = engine(&rules) else {
        anyhow::bail!("by default a refused rule stops the load");
    };
    assert!(format!("{e:#}").contains("rule bad refused"), "{e:#}");

    let engine = engine(&format!(
        "[sandbox]\nrefused_rules = \"fail-closed\"\n{rules}"
    ))?;
    let refused: Vec<&str> = engine.refusals().iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(refused, ["bad", "missing"]);
    // m1's claims: the good rule answers, the refused ones fail closed.
    let (mut req, facts) = claim("1.00", "u1");
    req.merchant_id = "m1".into();
    let e = engine.claim(NOW, &req, &facts);
    let got: Vec<(&str, &str, Verdict)> = e
        .rules
        .iter()
        .map(|r| (r.rule_id.as_str(), r.reason.as_str(), r.verdict))
        .collect();
    assert_eq!(
        got,
        [
            ("good", "ok", Verdict::Allow),
            ("bad", "refused", Verdict::Deny),
            ("missing", "refused", Verdict::Review),
        ]
    );
    assert_eq!(e.verdict, Verdict::Deny);
    assert!(
        e.rules[1]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("wasi_snapshot_preview1.fd_write")),
        "{:?}",
        e.rules[1]
    );
    // Another merchant's claims never see m1's rules.
    let (req, facts) = claim("1.00", "u1");
    assert_eq!(engine.claim(NOW, &req, &facts).verdict, Verdict::Allow);
    Ok(())
}

/// The on-disk module cache: the first start compiles and stores each
/// distinct module once; the next start takes them from the cache and gives
/// the same decisions with the same fuel; a damaged entry is ignored and the
/// module compiled again.
#[test]
fn the_module_cache_is_reused_and_survives_damage() -> Result<()> {
    let dir = hongbao_tests::TempDir::new("cache")?;
    let cache_dir = dir.path("modules");
    let text = hongbao::cli::demo_config_text(3).replace(
        "[sandbox]\n",
        &format!(
            "[sandbox]\nmodule_cache_dir = {:?}\n",
            cache_dir.display().to_string()
        ),
    );
    let config = Config::parse(&text, std::path::Path::new("."))?;
    let decide = |engine: &RiskEngine| {
        let (mut req, facts) = claim("12.34", "u-cache");
        req.merchant_id = "m2".into();
        let e = engine.claim(NOW, &req, &facts);
        let fuel: Vec<Option<u64>> = e.rules.iter().map(|r| r.fuel_used).collect();
        (e.verdict, e.reason, fuel)
    };
    let stats = |engine: &RiskEngine| {
        engine
            .sandbox()
            .cache()
            .map(hongbao::risk::cache::ModuleCache::stats)
            .unwrap_or_default()
    };

    let first = RiskEngine::load(&config, &hongbao::bundled::module)?;
    let distinct: std::collections::BTreeSet<&str> =
        first.rules().iter().map(|r| r.digest()).collect();
    let s = stats(&first);
    assert_eq!((s.hits, s.misses), (0, distinct.len() as u64), "{s:?}");
    let entries = std::fs::read_dir(&cache_dir)?.count();
    assert_eq!(entries, distinct.len());
    let fresh = decide(&first);

    let second = RiskEngine::load(&config, &hongbao::bundled::module)?;
    let s = stats(&second);
    assert_eq!((s.hits, s.misses), (distinct.len() as u64, 0), "{s:?}");
    assert_eq!(decide(&second), fresh);

    // Damage every entry: each is rejected, compiled again, and rewritten.
    for entry in std::fs::read_dir(&cache_dir)? {
        let path = entry?.path();
        let mut bytes = std::fs::read(&path)?;
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes)?;
    }
    let third = RiskEngine::load(&config, &hongbao::bundled::module)?;
    let s = stats(&third);
    assert_eq!(
        (s.hits, s.misses, s.rejected),
        (0, distinct.len() as u64, distinct.len() as u64),
        "{s:?}"
    );
    assert_eq!(decide(&third), fresh);
    let fourth = RiskEngine::load(&config, &hongbao::bundled::module)?;
    assert_eq!(stats(&fourth).hits, distinct.len() as u64);

    // Another module's entry under this one's name (found in review: a
    // swapped file ran the other rule's code under this rule's digest): every
    // entry is rejected and compiled again, and the decisions are right.
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(&cache_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.sort();
    let first_bytes = std::fs::read(&paths[0])?;
    for pair in paths.windows(2) {
        std::fs::copy(&pair[1], &pair[0])?;
    }
    let last = paths.len() - 1;
    std::fs::write(&paths[last], first_bytes)?;
    let swapped = RiskEngine::load(&config, &hongbao::bundled::module)?;
    let s = stats(&swapped);
    assert_eq!((s.hits, s.rejected), (0, distinct.len() as u64), "{s:?}");
    assert_eq!(decide(&swapped), fresh);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An entry that group or others may write is not trusted.
        std::fs::set_permissions(&paths[0], std::fs::Permissions::from_mode(0o666))?;
        let loose_entry = RiskEngine::load(&config, &hongbao::bundled::module)?;
        let s = stats(&loose_entry);
        assert_eq!(
            (s.hits, s.rejected),
            (distinct.len() as u64 - 1, 1),
            "{s:?}"
        );
        // A directory that group or others may write is refused at start-up.
        std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o777))?;
        let Err(e) = RiskEngine::load(&config, &hongbao::bundled::module) else {
            anyhow::bail!("a world-writable cache was used");
        };
        assert!(
            format!("{e:#}").contains("writable by group or others"),
            "{e:#}"
        );
        std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o755))?;
        // A directory owned by another user is refused (only checkable as
        // root, who may give it away).
        if std::os::unix::fs::chown(&cache_dir, Some(65534), None).is_ok() {
            let Err(e) = RiskEngine::load(&config, &hongbao::bundled::module) else {
                anyhow::bail!("another user's cache was used");
            };
            assert!(format!("{e:#}").contains("is owned by user 65534"), "{e:#}");
        }
    }
    Ok(())
}

/// A module file is read at most up to the 8 MiB ceiling: a 3 GiB sparse
/// file and a device that never ends are refused at once, naming the
/// ceiling, without being read whole. (Found in review: `check` read a
/// 3 GB file into memory, and `module = "/dev/zero"` grew without end.)
#[test]
fn module_files_are_read_no_further_than_the_ceiling() -> Result<()> {
    let dir = hongbao_tests::TempDir::new("huge")?;
    let huge = dir.path("huge.wasm");
    std::fs::File::create(&huge)?.set_len(3 << 30)?;
    for path in [huge.clone(), std::path::PathBuf::from("/dev/zero")] {
        let config = format!(
            "[[rules]]\nid = \"big\"\nmodule = \"{}\"\nscope = \"platform\"\nhooks = [\"claim\"]\n",
            path.display()
        );
        let Err(e) = engine(&config) else {
            anyhow::bail!("{} loaded", path.display());
        };
        let text = format!("{e:#}");
        assert!(text.contains("over the 8388608-byte ceiling"), "{text}");
        let direct = hongbao::risk::module::read_module_file(&path);
        assert!(direct.is_err_and(|e| e.contains("read no further")));
    }
    Ok(())
}
