//! The `hongbao` subcommands as library calls, exactly as the binary runs
//! them: `run` over a config and a traffic file written to a temp dir, the
//! report and decision files it writes, load errors, `check`, and
//! determinism.

use std::path::Path;

use anyhow::{Context, Result, bail};
use hongbao::cli::{CheckArgs, OutputArgs, RunArgs, Status, check, run};
use hongbao::risk::engine::check_module;
use hongbao::risk::limits::{EngineLimits, Limits};
use hongbao::risk::sandbox::Sandbox;
use hongbao_tests::{TempDir, WAT, wat_path};
use serde_json::{Value, json};

/// 2026-12-03 00:00:00 UTC.
const T: i64 = 1_796_256_000;

/// A config naming the hand-written `amount_floor.wat` (m1's claims) and
/// `allow.wat` (payouts) by path, and the bundled daily-limits rule. The
/// wall-clock backstop is widened so that only deterministic limits decide.
fn config_text() -> String {
    format!(
        r#"[limits]
timeout_ms = 10000

[[rules]]
id = "m1.amount-floor"
module = {floor:?}
scope = "merchant"
merchant = "m1"
hooks = ["claim"]

[[rules]]
id = "platform.payout-ok"
module = {allow:?}
scope = "platform"
hooks = ["payout"]

[[rules]]
id = "platform.daily-limits"
module = "bundled:daily-limits"
scope = "platform"
hooks = ["claim"]
[rules.settings]
max_claims = 10
max_amount = "1000.00"
"#,
        floor = wat_path("amount_floor").display().to_string(),
        allow = wat_path("allow").display().to_string(),
    )
}

fn claim(id: &str, at: i64, packet: &str, user: &str) -> String {
    json!({"type": "claim", "id": id, "at": at, "packet": packet, "user": user,
           "device": format!("dev-{user}"), "ip": "192.0.2.7",
           "account_created_at": at - 90 * 86_400, "label": "normal"})
    .to_string()
}

fn payout(id: &str, at: i64, claim: &str) -> String {
    json!({"type": "payout", "id": id, "at": at, "claim": claim}).to_string()
}

/// Sixteen lines: deposits, packets, claims, payouts, a retry, a refused
/// payout, an expiry, and four malformed lines (5: a float amount, 8: an
/// unknown type, 10: bad JSON, 14: empty).
fn traffic() -> Vec<String> {
    vec![
        json!({"type": "deposit", "id": "dep-1", "at": T, "merchant": "m1", "amount": "100.00"})
            .to_string(),
        json!({"type": "deposit", "id": "dep-2", "at": T, "merchant": "m2", "amount": "50.00"})
            .to_string(),
        json!({"type": "create_packet", "id": "m1-bill-1", "at": T + 10, "merchant": "m1",
               "total": "10.00", "shares": 2, "split": "fixed"})
        .to_string(),
        json!({"type": "create_packet", "id": "m2-bill-1", "at": T + 10, "merchant": "m2",
               "total": "6.00", "shares": 3, "split": "fixed"})
        .to_string(),
        r#"{"type":"deposit","id":"dep-3","at":1796256020,"merchant":"m1","amount":1.5}"#.into(),
        claim("c-1", T + 60, "m1-bill-1", "u-1"),
        claim("c-2", T + 60, "m2-bill-1", "u-2"),
        r#"{"type":"teleport","id":"x-1","at":1796256070}"#.into(),
        payout("po-2", T + 120, "c-2"),
        r#"{"type":"claim","id":"c-9","at":"#.into(),
        claim("c-3", T + 180, "m2-bill-1", "u-3"),
        payout("po-2", T + 240, "c-2"),
        payout("po-1", T + 240, "c-1"),
        String::new(),
        json!({"type": "tick", "at": T + 2 * 86_400}).to_string(),
        payout("po-3", T + 2 * 86_400 + 60, "c-3"),
    ]
}

/// What one `hongbao run` wrote.
struct Ran {
    status: Status,
    report: Value,
    decisions: Vec<Value>,
}

fn run_in(dir: &TempDir, tag: &str) -> Result<Ran> {
    let config = dir.path("config.toml");
    let traffic_path = dir.path("traffic.jsonl");
    std::fs::write(&config, config_text())?;
    std::fs::write(&traffic_path, traffic().join("\n") + "\n")?;
    let report = dir.path(&format!("report-{tag}.json"));
    let decisions = dir.path(&format!("decisions-{tag}.jsonl"));
    let status = run(&RunArgs {
        traffic: traffic_path,
        config: Some(config),
        engine: hongbao::cli::EngineArgs::default(),
        output: OutputArgs {
            decisions: Some(decisions.clone()),
            report: Some(report.clone()),
            quiet: true,
        },
    })?;
    let report: Value = serde_json::from_str(&std::fs::read_to_string(report)?)?;
    let decisions = std::fs::read_to_string(decisions)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()?;
    Ok(Ran {
        status,
        report,
        decisions,
    })
}

/// The line numbers of the report's malformed entries (`[line, error]`).
fn malformed_lines(report: &Value) -> Result<Vec<u64>> {
    report["malformed"]
        .as_array()
        .context("report.malformed is a list")?
        .iter()
        .map(|entry| entry[0].as_u64().context("a line number"))
        .collect()
}

/// `hongbao run` over a config with rules by path and bundled, and traffic
/// with malformed lines: the run succeeds, the report lists the malformed
/// lines exactly and counts what was processed, the decisions file has one
/// record per evaluated request with per-rule digest, fuel and duration,
/// and the money adds up.
#[test]
fn run_reports_malformed_lines_and_writes_one_record_per_decision() -> Result<()> {
    let dir = TempDir::new("cli-run")?;
    let ran = run_in(&dir, "one")?;
    let r = &ran.report;
    assert_eq!(ran.status, Status::Ok, "{r:#}");
    assert_eq!(malformed_lines(r)?, [5, 8, 10, 14]);
    assert_eq!(r["malformed_lines"], 4);
    assert_eq!(r["lines"], 16);
    assert_eq!(r["events_processed"], 12);
    assert_eq!(
        r["requests"],
        json!({
            "deposit": {"accepted": 2},
            "create_packet": {"accepted": 2},
            "claim": {"accepted": 3},
            "payout": {"accepted": 2, "replay": 1, "refused:claim-not-reserved": 1},
            "tick": {"accepted": 1},
        })
    );
    assert_eq!(r["verdicts"]["claim"]["allow"], 2);
    assert_eq!(r["verdicts"]["claim"]["deny"], 1);
    assert_eq!(r["verdicts"]["payout"]["allow"], 2);
    assert_eq!(r["invariants_ok"], true, "{r:#}");
    assert_eq!(r["invariant_error"], Value::Null);
    let money = |field: &str| r["money"][field].as_str().map(str::to_string);
    assert_eq!(money("deposited").as_deref(), Some("150.00"));
    assert_eq!(money("paid_out").as_deref(), Some("4.00"));
    assert_eq!(money("refunded").as_deref(), Some("12.00"));
    assert_eq!(money("merchant_available").as_deref(), Some("146.00"));
    assert_eq!(money("in_escrow").as_deref(), Some("0.00"));
    assert_eq!(money("reserved").as_deref(), Some("0.00"));

    let ids: Vec<&str> = ran
        .decisions
        .iter()
        .map(|d| d["request_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        ids,
        ["c-1", "c-2", "po-2", "c-3", "po-3"],
        "no record for a replay or refusal"
    );
    let floor_digest = hongbao::risk::module::digest(&std::fs::read(wat_path("amount_floor"))?);
    for d in &ran.decisions {
        let rules = d["rules"].as_array().context("rules")?;
        assert!(!rules.is_empty(), "{d}");
        for rule in rules {
            let digest = rule["digest"].as_str().context("digest")?;
            assert_eq!(digest.len(), 64, "{rule}");
            assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{rule}");
            assert!(rule["fuel_used"].as_u64().is_some_and(|f| f > 0), "{rule}");
            assert!(rule["duration_ns"].as_u64().is_some(), "{rule}");
            assert!(rule.get("failure").is_none(), "{rule}");
        }
        assert!(d["input"]["request"].is_object() && d["input"]["facts"].is_object());
    }
    let c1 = &ran.decisions[0];
    assert_eq!(c1["verdict"], "deny");
    assert_eq!(c1["reason"], "m1.amount-floor:at_least_4_81");
    assert_eq!(c1["rules"][0]["rule_id"], "platform.daily-limits");
    assert_eq!(c1["rules"][1]["rule_id"], "m1.amount-floor");
    assert_eq!(c1["rules"][1]["digest"], floor_digest.as_str());
    assert_eq!(
        c1["rules"][1]["note"], "5.00",
        "the rule saw the exact amount"
    );
    assert_eq!(ran.decisions[1]["rules"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        ran.decisions[2]["rules"][0]["rule_id"],
        "platform.payout-ok"
    );
    Ok(())
}

/// The same traffic and config run twice give identical decision records,
/// except for the wall-clock `duration_ns`, and the same report counts.
#[test]
fn run_twice_gives_identical_decisions() -> Result<()> {
    let dir = TempDir::new("cli-determinism")?;
    let strip = |mut decisions: Vec<Value>| {
        for d in &mut decisions {
            if let Some(rules) = d["rules"].as_array_mut() {
                for r in rules {
                    if let Some(r) = r.as_object_mut() {
                        r.remove("duration_ns");
                    }
                }
            }
        }
        decisions
    };
    let first = run_in(&dir, "first")?;
    let second = run_in(&dir, "second")?;
    assert_eq!(first.decisions.len(), 5);
    assert_eq!(strip(first.decisions), strip(second.decisions));
    for key in [
        "lines",
        "malformed",
        "requests",
        "verdicts",
        "money",
        "invariants_ok",
    ] {
        assert_eq!(first.report[key], second.report[key], "{key}");
    }
    Ok(())
}

/// A config naming a module that imports WASI fails to load, and the error
/// names the import.
#[test]
fn run_refuses_a_config_with_a_forbidden_import() -> Result<()> {
    let dir = TempDir::new("cli-forbidden")?;
    let config = dir.path("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[rules]]\nid = \"wasi\"\nmodule = {:?}\nscope = \"platform\"\nhooks = [\"claim\"]\n",
            wat_path("forbidden_import").display().to_string()
        ),
    )?;
    let traffic = dir.path("traffic.jsonl");
    std::fs::write(&traffic, "")?;
    let result = run(&RunArgs {
        traffic,
        config: Some(config),
        engine: hongbao::cli::EngineArgs::default(),
        output: OutputArgs {
            decisions: None,
            report: None,
            quiet: true,
        },
    });
    let Err(e) = result else {
        bail!("a forbidden import must stop the run: {result:?}");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains("wasi_snapshot_preview1.fd_write"),
        "{message}"
    );
    assert!(message.contains("rule wasi refused"), "{message}");
    Ok(())
}

/// The problems the loader must list for each hostile module it refuses;
/// every other hand-written module loads (its attack is at run time).
const REFUSED: &[(&str, &[&str])] = &[
    (
        "forbidden_import",
        &["imports wasi_snapshot_preview1.fd_write (function), which the host does not provide"],
    ),
    (
        "mistyped_import",
        &[
            "imports hongbao.log with signature (i64) -> (), but the host provides (i32, i32, i32) -> ()",
            "imports hongbao.secret (function), which the host does not provide",
        ],
    ),
    (
        "bad_exports",
        &[
            "missing required export memory",
            "missing required export hongbao_alloc",
            "export hongbao_claim has signature (i32) -> (i32), expected (i32, i32) -> (i64)",
        ],
    ),
    (
        "wrong_abi_version",
        &["hongbao_abi_version returns 3; this host speaks ABI versions 1 and 2"],
    ),
    ("start_trap", &["fails to instantiate: trap"]),
    (
        "forged_import_name",
        &["imports hongbao.\"log\\nrules/blocklist.wasm"],
    ),
    (
        "wrong_hook_signatures",
        &[
            "export hongbao_alloc must be a function (i32) -> (i32), found a global",
            "export hongbao_claim has signature (i32, i32) -> (i32), expected (i32, i32) -> (i64)",
            "export hongbao_payout has signature (i64) -> (i64), expected (i32, i32) -> (i64)",
        ],
    ),
    // Fuel, or on a machine too busy to run 20,000,000 units in 500 ms, the
    // deadline: both are the start function's call limits.
    ("start_endless", &["fails to instantiate: "]),
    ("start_recursion", &["fails to instantiate: stack-overflow"]),
    ("start_memory_bomb", &["fails to instantiate: memory-limit"]),
    (
        "huge_initial_memory",
        &["declares an initial memory of 67108864 bytes, over memory_bytes_max = 16777216"],
    ),
    (
        "huge_initial_table",
        &["declares a table of 20000 elements, over table_elements_max = 10000"],
    ),
    (
        "data_out_of_bounds",
        &["fails to instantiate: trap (memory-out-of-bounds)"],
    ),
];

/// `check_module` on every hand-written module: the refused ones list every
/// reason, one problem each (both imports for `mistyped_import`); the rest
/// pass.
#[test]
fn check_lists_every_reason_a_module_is_refused() -> Result<()> {
    let sandbox = Sandbox::new(&EngineLimits::default())?;
    let limits = Limits::default();
    for (name, text) in WAT {
        let expected = REFUSED.iter().find(|(n, _)| n == name).map(|(_, p)| *p);
        match (check_module(&sandbox, text.as_bytes(), &limits), expected) {
            (Ok(_), None) => {}
            (Ok(_), Some(p)) => bail!("{name} loaded, but should be refused for {p:?}"),
            (Err(problems), None) => bail!("{name} refused: {problems:?}"),
            (Err(problems), Some(expected)) => {
                assert_eq!(problems.len(), expected.len(), "{name}: {problems:#?}");
                for (got, want) in problems.iter().zip(expected) {
                    assert!(got.contains(want), "{name}: {got:?} should say {want:?}");
                }
            }
        }
    }
    Ok(())
}

/// `hongbao check` warns about a module that loads but fails an ordinary
/// request: an `alloc` that answers 0, a fuel budget too small for the
/// rule. A rule that answers (or that refuses to answer without its
/// settings) gets no warning.
#[test]
fn check_warns_when_an_ordinary_request_fails() -> Result<()> {
    use hongbao::risk::engine::trial_calls;
    let sandbox = Sandbox::new(&EngineLimits::default())?;
    let warnings = |bytes: &[u8], limits: &Limits| -> Result<Vec<String>> {
        let (m, version) =
            check_module(&sandbox, bytes, limits).map_err(|p| anyhow::anyhow!("refused: {p:?}"))?;
        Ok(trial_calls(&sandbox, &m, version, limits))
    };
    let module = |name: &str| hongbao_tests::module_bytes(name).context(name.to_string());
    let null_alloc = r#"(module
      (memory (export "memory") 1)
      (func (export "hongbao_abi_version") (result i32) i32.const 1)
      (func (export "hongbao_alloc") (param i32) (result i32) i32.const 0)
      (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))"#;
    let w = warnings(null_alloc.as_bytes(), &Limits::default())?;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "an ordinary claim request (the SDK's fixture, no settings) fails with abi-error: hongbao_alloc("
        ),
        "{w:?}"
    );
    assert!(w[0].contains("null pointer"), "{w:?}");

    assert_eq!(
        warnings(module("allow")?, &Limits::default())?,
        Vec::<String>::new()
    );
    let starved = Limits {
        fuel_per_call: 10_000,
        ..Limits::default()
    };
    let w = warnings(module("burn_loop")?, &starved)?;
    assert!(
        !w.is_empty() && w.iter().all(|w| w.contains("fails with fuel")),
        "{w:?}"
    );
    // A rule that answers without its settings, or refuses to (a rule
    // error), gets no warning either.
    assert_eq!(
        warnings(module("daily-limits")?, &Limits::default())?,
        Vec::<String>::new()
    );
    Ok(())
}

/// `hongbao check` on files: a refused module makes the status `Refused`;
/// good modules are `Ok`; a file that cannot be read is an error.
#[test]
fn check_command_status_follows_the_modules() -> Result<()> {
    let paths = |names: &[&str]| names.iter().map(|n| wat_path(n)).collect::<Vec<_>>();
    let ok = check(&CheckArgs {
        modules: paths(&["allow", "amount_floor"]),
        config: None,
    })?;
    assert_eq!(ok, Status::Ok);
    let refused = check(&CheckArgs {
        modules: paths(&["allow", "mistyped_import"]),
        config: None,
    })?;
    assert_eq!(refused, Status::Refused);
    // A file that cannot be read is an input error (exit 2), not a refused
    // module (exit 3), and the modules after it are still checked.
    let missing = check(&CheckArgs {
        modules: vec![
            Path::new(env!("CARGO_MANIFEST_DIR")).join("wat/no-such.wat"),
            wat_path("mistyped_import"),
        ],
        config: None,
    })
    .expect_err("an unreadable module file");
    assert_eq!(
        missing.to_string(),
        "1 of 2 module files could not be read (1 refused)"
    );
    Ok(())
}

/// A line that is not UTF-8 is rejected on its own, with its line number,
/// and the lines around it are processed.
#[test]
fn a_line_that_is_not_utf8_is_malformed_and_the_run_goes_on() -> Result<()> {
    let config = hongbao::config::Config::parse("", Path::new("."))?;
    let engine = hongbao::risk::RiskEngine::load(&config, &hongbao::bundled::module)?;
    let mut traffic = Vec::new();
    traffic.extend_from_slice(
        b"{\"type\":\"deposit\",\"id\":\"d1\",\"at\":1,\"merchant\":\"m1\",\"amount\":\"5.00\"}\n",
    );
    traffic.extend_from_slice(
        b"{\"type\":\"deposit\",\"id\":\"d2\",\"at\":2,\"merchant\":\"m1\",\"amount\":\"\xff\"}\n",
    );
    traffic.extend_from_slice(
        b"{\"type\":\"deposit\",\"id\":\"d3\",\"at\":3,\"merchant\":\"m1\",\"amount\":\"2.00\"}\n",
    );
    let (report, settlement) = hongbao::cli::replay(
        &config,
        &engine,
        std::io::Cursor::new(traffic),
        hongbao::cli::RunSinks {
            decisions: None,
            progress: false,
        },
    )?;
    assert_eq!(report.malformed_line_numbers, [2]);
    assert!(
        report.malformed[0].1.contains("UTF-8"),
        "{:?}",
        report.malformed
    );
    assert_eq!(report.events_processed, 2);
    assert_eq!(settlement.merchant_available("m1").to_string(), "7.00");
    Ok(())
}

/// A module cannot forge lines of `hongbao check` output through the names
/// it imports: control characters are escaped in every message.
#[test]
fn check_escapes_names_a_module_chose() -> Result<()> {
    let sandbox = Sandbox::new(&EngineLimits::default())?;
    let bytes = hongbao_tests::module_bytes("forged_import_name").context("wat")?;
    let problems = check_module(&sandbox, bytes, &Limits::default())
        .err()
        .context("a forged import must be refused")?;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(!problems[0].contains('\n'), "{problems:?}");
    assert!(!problems[0].contains('\u{1b}'), "{problems:?}");
    assert!(problems[0].contains("\\n"), "{problems:?}");
    Ok(())
}

/// A bad traffic path, an output that is the traffic or the config file
/// (by any path or hard link), or an output that cannot be created fails
/// before any output is truncated: the files of an earlier run and the
/// inputs survive.
#[test]
fn run_never_destroys_earlier_outputs_or_its_input() -> Result<()> {
    let dir = TempDir::new("outputs")?;
    let decisions = dir.path("decisions.jsonl");
    let report = dir.path("report.json");
    std::fs::write(&decisions, "earlier decisions\n")?;
    std::fs::write(&report, "earlier report\n")?;
    let args = |traffic: std::path::PathBuf, report: std::path::PathBuf| RunArgs {
        traffic,
        config: None,
        engine: hongbao::cli::EngineArgs::default(),
        output: OutputArgs {
            decisions: Some(decisions.clone()),
            report: Some(report),
            quiet: true,
        },
    };
    let missing = run(&args(dir.path("no-such.jsonl"), report.clone()));
    assert!(
        format!(
            "{:#}",
            missing.err().context("a missing traffic file must fail")?
        )
        .contains("cannot open traffic"),
    );
    assert_eq!(std::fs::read_to_string(&decisions)?, "earlier decisions\n");
    assert_eq!(std::fs::read_to_string(&report)?, "earlier report\n");

    let traffic = dir.path("traffic.jsonl");
    let line =
        "{\"type\":\"deposit\",\"id\":\"d1\",\"at\":1,\"merchant\":\"m1\",\"amount\":\"5.00\"}\n";
    std::fs::write(&traffic, line)?;
    let same = run(&args(traffic.clone(), traffic.clone()));
    let message = format!(
        "{:#}",
        same.err().context("--report = --traffic must fail")?
    );
    assert!(message.contains("--report"), "{message}");
    assert!(message.contains("is the traffic file"), "{message}");
    assert_eq!(std::fs::read_to_string(&traffic)?, line);
    assert_eq!(std::fs::read_to_string(&decisions)?, "earlier decisions\n");

    // A hard link to the traffic is the traffic (found in review: it was
    // truncated and the run processed 0 lines).
    let link = dir.path("link.jsonl");
    std::fs::hard_link(&traffic, &link)?;
    let linked = run(&args(traffic.clone(), link.clone()));
    let message = format!("{:#}", linked.err().context("a hard link must fail")?);
    assert!(message.contains("is the traffic file"), "{message}");
    assert_eq!(std::fs::read_to_string(&traffic)?, line);

    // A directory as traffic fails before the outputs are opened.
    let as_dir = run(&args(dir.path(""), report.clone()));
    let message = format!("{:#}", as_dir.err().context("a directory must fail")?);
    assert!(message.contains("is a directory"), "{message}");
    assert_eq!(std::fs::read_to_string(&decisions)?, "earlier decisions\n");

    // The config file is an input too.
    let config = dir.path("config.toml");
    let config_text = "[settlement]\nexpiry_seconds = 86400\n";
    std::fs::write(&config, config_text)?;
    let over_config = run(&RunArgs {
        config: Some(config.clone()),
        ..args(traffic.clone(), config.clone())
    });
    let message = format!(
        "{:#}",
        over_config.err().context("--report = --config must fail")?
    );
    assert!(message.contains("is the config file"), "{message}");
    assert_eq!(std::fs::read_to_string(&config)?, config_text);

    // An output that cannot be created costs no earlier output: outputs
    // are truncated only once all of them are open. (Found by a new user:
    // the decisions of an earlier run were emptied when the report path
    // was in a missing directory.)
    let e = run(&args(traffic.clone(), dir.path("missing/report.json")))
        .expect_err("no such directory");
    assert!(format!("{e:#}").contains("cannot create"), "{e:#}");
    assert_eq!(std::fs::read_to_string(&decisions)?, "earlier decisions\n");
    // Once every output opens, the earlier contents are replaced, not
    // appended to or overwritten in part (a deposit makes no decision).
    std::fs::write(&decisions, "x".repeat(10_000))?;
    assert_eq!(run(&args(traffic, report))?, Status::Ok);
    assert_eq!(std::fs::read_to_string(&decisions)?, "");
    Ok(())
}
