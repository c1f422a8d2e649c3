//! The eight bundled sample rules as the host runs them: compiled Wasm in the
//! real sandbox, with the settings of the demo config (`demo_config_text`),
//! on the `rules_sdk::testing` fixtures. Crafted inputs are built from the
//! configured thresholds, so retuning the demo keeps them on the boundary.

use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use hongbao::config::{Config, RuleConfig, ScopeKind};
use hongbao::risk::limits::Limits;
use hongbao::risk::{Evaluation, Evaluator, RiskEngine};
use hongbao_tests::{NOW, amt};
use rules_sdk::testing::{claim_fixture, payout_fixture};
use rules_sdk::{ClaimInput, Hook, PayoutInput, Verdict};
use serde_json::Value;

/// Every sample rule and the hooks it exports.
const RULES: &[(&str, &[Hook])] = &[
    ("blocklist", &[Hook::Claim, Hook::Payout]),
    ("campaign-cap", &[Hook::Claim]),
    ("daily-limits", &[Hook::Claim]),
    ("device-farm", &[Hook::Claim]),
    ("mule-cashout", &[Hook::Payout]),
    ("new-account", &[Hook::Claim]),
    ("payout-budget", &[Hook::Payout]),
    ("self-dealing", &[Hook::Claim]),
];

/// The eight demo rules (merchant m1's, for merchant rules) loaded once
/// into one engine, each moved to a merchant of its own (`only-<name>`) so
/// that a request sees exactly one rule. Compiling a module takes about a
/// second in a debug build, so the tests share this engine.
struct Shared {
    engine: RiskEngine,
    rules: Vec<(&'static str, RuleConfig, Value)>,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

fn load_shared() -> Result<Shared> {
    let demo = Config::parse(
        &hongbao::cli::demo_config_text(3),
        std::path::Path::new("."),
    )?;
    let mut rules = Vec::new();
    for (name, _) in RULES {
        let module = format!("bundled:{name}");
        let mut config = demo
            .rules
            .iter()
            .find(|r| r.module == module && r.merchant.as_deref().is_none_or(|m| m == "m1"))
            .with_context(|| format!("the demo config runs {name}"))?
            .clone();
        config.scope = ScopeKind::Merchant;
        config.merchant = Some(format!("only-{name}"));
        let settings = serde_json::to_value(&config.settings)?;
        rules.push((*name, config, settings));
    }
    let config = Config {
        rules: rules.iter().map(|(_, c, _)| c.clone()).collect(),
        ..Config::default()
    };
    let engine = RiskEngine::load(&config, &hongbao::bundled::module)?;
    Ok(Shared { engine, rules })
}

fn shared() -> Result<&'static Shared> {
    match SHARED.get_or_init(|| load_shared().map_err(|e| format!("{e:#}"))) {
        Ok(s) => Ok(s),
        Err(e) => bail!("loading the sample rules: {e}"),
    }
}

/// One sample rule with its demo settings.
struct Loaded {
    name: &'static str,
    config: &'static RuleConfig,
    settings: &'static Value,
    engine: &'static RiskEngine,
}

impl Loaded {
    fn new(name: &'static str) -> Result<Loaded> {
        let shared = shared()?;
        let (_, config, settings) = shared
            .rules
            .iter()
            .find(|(n, _, _)| *n == name)
            .with_context(|| format!("no sample rule {name}"))?;
        Ok(Loaded {
            name,
            config,
            settings,
            engine: &shared.engine,
        })
    }

    /// The merchant whose packets the rule sees, and only it.
    fn merchant(&self) -> String {
        format!("only-{}", self.name)
    }

    fn claim_input(&self) -> ClaimInput {
        let mut input = claim_fixture();
        input.request.merchant_id = self.merchant();
        input
    }

    fn payout_input(&self) -> PayoutInput {
        let mut input = payout_fixture();
        input.request.merchant_id = self.merchant();
        input
    }

    fn claim(&self, input: &ClaimInput) -> Evaluation {
        self.engine.claim(NOW, &input.request, &input.facts)
    }

    fn payout(&self, input: &PayoutInput) -> Evaluation {
        self.engine.payout(NOW, &input.request, &input.facts)
    }

    /// A setting as a count.
    fn count(&self, key: &str) -> Result<u32> {
        let n = self.settings[key]
            .as_u64()
            .with_context(|| format!("{}: setting {key} is a count", self.name))?;
        Ok(u32::try_from(n)?)
    }

    /// A setting as an amount.
    fn amount(&self, key: &str) -> Result<rules_sdk::Amount> {
        let text = self.settings[key]
            .as_str()
            .with_context(|| format!("{}: setting {key} is an amount", self.name))?;
        Ok(amt(text))
    }

    /// The first entry of a list setting.
    fn first(&self, key: &str, index: usize) -> Result<String> {
        Ok(self.settings[key][index]
            .as_str()
            .with_context(|| format!("{}: setting {key} has entry {index}", self.name))?
            .to_string())
    }
}

/// Asserts that `ev` is one rule's answer (not a failure) of `verdict` and
/// `reason`.
fn expect(ev: &Evaluation, verdict: Verdict, reason: &str, what: &str) {
    assert_eq!(ev.rules.len(), 1, "{what}: {ev:?}");
    let r = &ev.rules[0];
    assert_eq!(r.failure, None, "{what}: {r:?}");
    assert_eq!(
        (r.verdict, r.reason.as_str()),
        (verdict, reason),
        "{what}: {r:?}"
    );
    assert_eq!(ev.verdict, verdict, "{what}");
}

/// Every bundled module is one of the eight, and each loads (compiled,
/// checked against its hooks and probed) under the default limits with the
/// hooks it is documented for.
#[test]
fn sample_rules_load_under_default_limits() -> Result<()> {
    // Every sample rule is bundled (a rule author's own crate under
    // sample-rules/ may be bundled next to them).
    let names: Vec<&str> = hongbao::bundled::MODULES.iter().map(|(n, _)| *n).collect();
    for (name, _) in RULES {
        assert!(names.contains(name), "{name} is bundled: {names:?}");
    }
    let shared = shared()?;
    assert_eq!(shared.engine.rules().len(), RULES.len());
    for (name, hooks) in RULES {
        let rule = Loaded::new(name)?;
        let loaded = shared
            .engine
            .rules()
            .iter()
            .find(|r| r.id == rule.config.id)
            .with_context(|| format!("{name} is loaded"))?;
        assert_eq!(loaded.limits, Limits::default(), "{name}");
        assert_eq!(loaded.hooks, hooks.to_vec(), "{name}");
        let bytes = hongbao::bundled::module(name).context("bundled")?;
        assert_eq!(loaded.digest(), hongbao::risk::module::digest(bytes));
        assert!(bytes.len() as u64 <= Limits::default().module_bytes_max);
        for hook in Hook::ALL {
            let runs = shared.engine.order(hook, &rule.merchant()).count();
            assert_eq!(runs, usize::from(hooks.contains(&hook)), "{name} at {hook}");
        }
    }
    Ok(())
}

/// Each rule allows the ordinary fixtures at each of its hooks, and its
/// record carries the module's digest.
#[test]
fn sample_rules_allow_the_ordinary_fixtures() -> Result<()> {
    for (name, hooks) in RULES {
        let rule = Loaded::new(name)?;
        let bytes = hongbao::bundled::module(name).context("bundled")?;
        for hook in *hooks {
            let ev = match hook {
                Hook::Claim => rule.claim(&rule.claim_input()),
                Hook::Payout => rule.payout(&rule.payout_input()),
            };
            expect(&ev, Verdict::Allow, "ok", &format!("{name} at {hook}"));
            assert_eq!(ev.rules[0].rule_id, rule.config.id);
            assert_eq!(ev.rules[0].digest, hongbao::risk::module::digest(bytes));
            assert!(ev.rules[0].fuel_used.is_some_and(|f| f > 0));
        }
    }
    Ok(())
}

/// blocklist: a blocked user is frozen, a blocked device or IP denied, at
/// both hooks.
#[test]
fn blocklist_freezes_users_and_denies_devices_and_ips() -> Result<()> {
    let rule = Loaded::new("blocklist")?;
    let (user, device, ip) = (
        rule.first("users", 0)?,
        rule.first("devices", 0)?,
        rule.first("ips", 0)?,
    );
    let mut c = rule.claim_input();
    c.request.user_id.clone_from(&user);
    expect(&rule.claim(&c), Verdict::Freeze, "blocked_user", "user");
    let mut c = rule.claim_input();
    c.request.device_id = Some(device.clone());
    expect(&rule.claim(&c), Verdict::Deny, "blocked_device", "device");
    let mut c = rule.claim_input();
    c.request.ip = Some(ip.clone());
    expect(&rule.claim(&c), Verdict::Deny, "blocked_ip", "ip");
    let mut p = rule.payout_input();
    p.request.user_id = user;
    expect(
        &rule.payout(&p),
        Verdict::Freeze,
        "blocked_user",
        "payout user",
    );
    let mut p = rule.payout_input();
    p.request.ip = Some(ip);
    expect(&rule.payout(&p), Verdict::Deny, "blocked_ip", "payout ip");
    Ok(())
}

/// daily-limits: the claim count and the claimed sum are capped per day.
#[test]
fn daily_limits_deny_at_the_configured_limits() -> Result<()> {
    let rule = Loaded::new("daily-limits")?;
    let mut c = rule.claim_input();
    c.facts.user_claims_today = rule.count("max_claims")?;
    expect(&rule.claim(&c), Verdict::Deny, "daily_claim_count", "count");
    let mut c = rule.claim_input();
    c.facts.user_claims_today = 0;
    c.facts.user_claimed_today = rule.amount("max_amount")?;
    c.request.amount = amt("0.01");
    expect(
        &rule.claim(&c),
        Verdict::Deny,
        "daily_claim_amount",
        "amount",
    );
    Ok(())
}

/// device-farm: many users on a device, IP bursts, user bursts and a
/// missing device.
#[test]
fn device_farm_reviews_and_denies_farms_and_bursts() -> Result<()> {
    let rule = Loaded::new("device-farm")?;
    let mut c = rule.claim_input();
    c.facts.device_distinct_users_24h = rule.count("device_users_review")?;
    expect(
        &rule.claim(&c),
        Verdict::Review,
        "device_many_users",
        "review",
    );
    c.facts.device_distinct_users_24h = rule.count("device_users_deny")?;
    expect(&rule.claim(&c), Verdict::Deny, "device_many_users", "deny");
    let mut c = rule.claim_input();
    c.facts.ip_claims_last_hour = rule.count("ip_claims_deny")?;
    expect(&rule.claim(&c), Verdict::Deny, "ip_claim_burst", "ip");
    let mut c = rule.claim_input();
    c.facts.user_claims_last_hour = rule.count("user_hourly_claims_max")? + 1;
    expect(&rule.claim(&c), Verdict::Review, "user_claim_burst", "user");
    let mut c = rule.claim_input();
    c.request.device_id = None;
    expect(
        &rule.claim(&c),
        Verdict::Review,
        "missing_device",
        "no device",
    );
    Ok(())
}

/// new-account: a large claim by a young account or one of unknown age is
/// reviewed (R02).
#[test]
fn new_account_reviews_large_claims_by_young_or_unknown_accounts() -> Result<()> {
    let rule = Loaded::new("new-account")?;
    let large = rule.amount("large_amount")?;
    let above = amt("0.01")
        .checked_add(large)
        .context("large_amount + 0.01")?;
    let mut c = rule.claim_input();
    c.request.amount = above;
    c.facts.account_age_seconds = None;
    expect(
        &rule.claim(&c),
        Verdict::Review,
        "unknown_account_age",
        "unknown",
    );
    c.facts.account_age_seconds = Some(i64::from(rule.count("min_age_seconds")?) - 1);
    expect(
        &rule.claim(&c),
        Verdict::Review,
        "new_account_large_claim",
        "young",
    );
    c.request.amount = large;
    expect(&rule.claim(&c), Verdict::Allow, "ok", "exactly large");
    Ok(())
}

/// mule-cashout: fast payouts by users paid from many packets, and bursts.
#[test]
fn mule_cashout_reviews_and_freezes_fast_cashouts() -> Result<()> {
    let rule = Loaded::new("mule-cashout")?;
    let mut p = rule.payout_input();
    p.facts.seconds_since_claim = i64::from(rule.count("fast_seconds")?) - 1;
    p.facts.user_distinct_packets_paid_24h = rule.count("review_packets")?;
    expect(&rule.payout(&p), Verdict::Review, "fast_cashout", "review");
    p.facts.user_distinct_packets_paid_24h = rule.count("freeze_packets")?;
    expect(&rule.payout(&p), Verdict::Freeze, "fast_cashout", "freeze");
    let mut p = rule.payout_input();
    p.facts.user_payouts_last_hour = rule.count("hourly_payouts_freeze")?;
    expect(&rule.payout(&p), Verdict::Freeze, "payout_burst", "burst");
    Ok(())
}

/// campaign-cap: per-user count and sum per campaign; no campaign, no cap.
#[test]
fn campaign_cap_denies_at_the_campaign_caps() -> Result<()> {
    let rule = Loaded::new("campaign-cap")?;
    let mut c = rule.claim_input();
    c.facts.user_campaign_claims = rule.count("max_claims")?;
    expect(
        &rule.claim(&c),
        Verdict::Deny,
        "campaign_claim_count",
        "count",
    );
    let mut c = rule.claim_input();
    c.facts.user_campaign_claimed = rule.amount("max_amount")?;
    expect(
        &rule.claim(&c),
        Verdict::Deny,
        "campaign_claim_amount",
        "sum",
    );
    c.request.campaign_id = None;
    expect(
        &rule.claim(&c),
        Verdict::Allow,
        "no_campaign",
        "no campaign",
    );
    Ok(())
}

/// self-dealing: staff claims, staff devices and claims without a device.
#[test]
fn self_dealing_denies_staff_and_their_devices() -> Result<()> {
    let rule = Loaded::new("self-dealing")?;
    let staff = rule.first("staff", 0)?;
    let mut c = rule.claim_input();
    c.request.user_id.clone_from(&staff);
    c.facts.device_recent_users = vec![staff.clone()];
    expect(&rule.claim(&c), Verdict::Deny, "staff_claim", "staff");
    let mut c = rule.claim_input();
    c.facts.device_recent_users = vec![staff, "u-1".into()];
    c.facts.device_distinct_users_24h = 2;
    expect(
        &rule.claim(&c),
        Verdict::Deny,
        "shared_device_with_staff",
        "device",
    );
    let mut c = rule.claim_input();
    c.request.device_id = None;
    expect(
        &rule.claim(&c),
        Verdict::Review,
        "missing_device",
        "no device",
    );
    Ok(())
}

/// payout-budget: a payout that takes the day past the budget is reviewed;
/// one landing exactly on it is allowed.
#[test]
fn payout_budget_reviews_past_the_daily_budget() -> Result<()> {
    let rule = Loaded::new("payout-budget")?;
    let budget = rule.amount("daily_budget")?;
    let mut p = rule.payout_input();
    p.request.amount = amt("0.01");
    p.facts.merchant_paid_today = budget;
    expect(&rule.payout(&p), Verdict::Review, "budget_exceeded", "over");
    p.facts.merchant_paid_today =
        rules_sdk::Amount::from_fen(budget.fen() - 1).context("budget - 0.01")?;
    expect(&rule.payout(&p), Verdict::Allow, "ok", "exactly the budget");
    Ok(())
}

/// Determinism: each rule's fuel and answer on the fixed fixture are the
/// same in three runs (three fresh instances), and fuel follows the input (a
/// longer input costs more).
#[test]
fn sample_rules_use_the_same_fuel_every_run() -> Result<()> {
    for (name, hooks) in RULES {
        let rule = Loaded::new(name)?;
        for hook in *hooks {
            let runs: Vec<_> = (0..3)
                .map(|_| {
                    let ev = match hook {
                        Hook::Claim => rule.claim(&rule.claim_input()),
                        Hook::Payout => rule.payout(&rule.payout_input()),
                    };
                    let r = &ev.rules[0];
                    (r.fuel_used, r.verdict, r.reason.clone(), r.failure.clone())
                })
                .collect();
            assert!(runs[0].0.is_some_and(|f| f > 0), "{name} at {hook}");
            assert!(
                runs.windows(2).all(|w| w[0] == w[1]),
                "{name} at {hook}: {runs:?}"
            );
            let longer = match hook {
                Hook::Claim => {
                    let mut c = rule.claim_input();
                    c.request.claim_id = format!("c-{}", "1".repeat(500));
                    rule.claim(&c)
                }
                Hook::Payout => {
                    let mut p = rule.payout_input();
                    p.request.payout_id = format!("po-{}", "1".repeat(500));
                    rule.payout(&p)
                }
            };
            assert!(
                longer.rules[0].fuel_used > runs[0].0,
                "{name} at {hook}: {:?} then {:?}",
                runs[0].0,
                longer.rules[0].fuel_used
            );
        }
    }
    Ok(())
}
