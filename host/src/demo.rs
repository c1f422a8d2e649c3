//! The config `hongbao demo` runs: every bundled sample rule, platform-wide
//! and per merchant, with settings that match the sample traffic's names.

use std::fmt::Write as _;

/// Daily payout budget of each demo merchant's packets.
pub const DEMO_MERCHANT_DAILY_BUDGET: &str = "50000.00";

/// The demo config for `merchants` merchants (`m1`..`mN`), as TOML text.
///
/// `blocked` lists the users, devices and IPs of the platform blocklist, and
/// `staff(i)` the staff accounts of merchant `mi`.
pub fn demo_config(
    merchants: usize,
    blocked: (&[&str], &[&str], &[&str]),
    staff: impl Fn(usize) -> Vec<String>,
) -> String {
    let list = |items: &[&str]| {
        let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
        format!("[{}]", quoted.join(", "))
    };
    let mut t = String::from(
        "# hongbao demo config: the bundled sample rules.\n\
         # Evaluation order is (priority, scope, id); the file order does not matter.\n\n\
         [settlement]\nexpiry_seconds = 86400\nshare_cap = \"200.00\"\nutc_offset_minutes = 480\n\n\
         [sandbox]\nstack_bytes_max = 524288\ninstances_max = 64\n\n\
         [limits]\nfuel_per_call = 20000000\ntimeout_ms = 500\nmemory_bytes_max = 16777216\n\n",
    );
    let _ = write!(
        t,
        "[[rules]]\nid = \"platform.blocklist\"\nmodule = \"bundled:blocklist\"\nscope = \"platform\"\n\
         hooks = [\"claim\", \"payout\"]\npriority = 10\non_failure = \"review\"\n\
         [rules.settings]\nusers = {}\ndevices = {}\nips = {}\nreview_missing = false\n\n",
        list(blocked.0),
        list(blocked.1),
        list(blocked.2)
    );
    t.push_str(
        "[[rules]]\nid = \"platform.daily-limits\"\nmodule = \"bundled:daily-limits\"\nscope = \"platform\"\n\
         hooks = [\"claim\"]\npriority = 20\n\
         [rules.settings]\nmax_claims = 10\nmax_amount = \"1000.00\"\n\n\
         [[rules]]\nid = \"platform.device-farm\"\nmodule = \"bundled:device-farm\"\nscope = \"platform\"\n\
         hooks = [\"claim\"]\npriority = 30\n\
         [rules.settings]\ndevice_users_review = 3\ndevice_users_deny = 5\nip_claims_review = 20\n\
         ip_claims_deny = 60\nuser_hourly_claims_max = 6\n\n\
         [[rules]]\nid = \"platform.new-account\"\nmodule = \"bundled:new-account\"\nscope = \"platform\"\n\
         hooks = [\"claim\"]\npriority = 40\n\
         [rules.settings]\nmin_age_seconds = 604800\nlarge_amount = \"50.00\"\n\n\
         [[rules]]\nid = \"platform.mule-cashout\"\nmodule = \"bundled:mule-cashout\"\nscope = \"platform\"\n\
         hooks = [\"payout\"]\npriority = 50\n\
         [rules.settings]\nfast_seconds = 120\nreview_packets = 5\nfreeze_packets = 12\n\
         hourly_payouts_freeze = 20\n\n",
    );
    for i in 1..=merchants {
        let staff: Vec<String> = staff(i);
        let staff: Vec<&str> = staff.iter().map(String::as_str).collect();
        let _ = write!(
            t,
            "[[rules]]\nid = \"m{i}.campaign-cap\"\nmodule = \"bundled:campaign-cap\"\nscope = \"merchant\"\n\
             merchant = \"m{i}\"\nhooks = [\"claim\"]\npriority = 100\n\
             [rules.settings]\nmax_claims = 3\nmax_amount = \"300.00\"\n\n\
             [[rules]]\nid = \"m{i}.self-dealing\"\nmodule = \"bundled:self-dealing\"\nscope = \"merchant\"\n\
             merchant = \"m{i}\"\nhooks = [\"claim\"]\npriority = 100\non_failure = \"deny\"\n\
             [rules.settings]\nstaff = {}\n\n\
             [[rules]]\nid = \"m{i}.payout-budget\"\nmodule = \"bundled:payout-budget\"\nscope = \"merchant\"\n\
             merchant = \"m{i}\"\nhooks = [\"payout\"]\npriority = 100\n\
             [rules.settings]\ndaily_budget = \"{DEMO_MERCHANT_DAILY_BUDGET}\"\n\n",
            list(&staff)
        );
    }
    t
}
