//! `hongbao check`: validate modules the way the loader would and say
//! exactly why each refused one is refused.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{Status, printable};
use crate::config::Config;
use crate::risk::engine::{check_module, trial_calls};
use crate::risk::limits::Limits;
use crate::risk::sandbox::Sandbox;

/// Arguments of `hongbao check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Module files (.wasm or .wat) to check.
    #[arg(required = true, value_name = "MODULE")]
    pub modules: Vec<PathBuf>,
    /// Check against the default limits and sandbox of this config instead
    /// of the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Checks every module; prints `ok` or one line per reason for each, and
/// for a module that loads, a warning for each hook that fails an ordinary
/// request.
///
/// # Errors
///
/// Returns an error when the config cannot be read, the sandbox cannot be
/// built, or a module file cannot be read (after checking the others); a
/// refused module is reported, not an error.
pub fn check(args: &CheckArgs) -> Result<Status> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let sandbox = Sandbox::new(&config.sandbox).context("building the sandbox")?;
    let limits = Limits::default().with(&config.limits);
    let mut refused = 0;
    let mut unreadable = 0;
    for path in &args.modules {
        let name = path.display().to_string();
        let name = printable(&name);
        let bytes = match crate::risk::module::read_module_file(path) {
            Ok(b) => b,
            Err(e) => {
                // Not a verdict on a module: there is no module to judge.
                super::out(&format!("{name}: error: {}\n", printable(&e)))?;
                unreadable += 1;
                continue;
            }
        };
        match check_module(&sandbox, &bytes, &limits) {
            Ok((m, version)) => {
                let hooks: Vec<_> = m.hooks().iter().map(|h| h.as_str()).collect();
                super::out(&format!(
                    "{name}: ok (ABI version {version}, {} bytes, hooks {}, sha256 {})\n",
                    m.size_bytes(),
                    hooks.join("+"),
                    m.digest()
                ))?;
                for w in trial_calls(&sandbox, &m, version, &limits) {
                    super::out(&format!("{name}: warning: {}\n", printable(&w)))?;
                }
            }
            Err(problems) => {
                refused += 1;
                for p in problems {
                    super::out(&format!("{name}: refused: {}\n", printable(&p)))?;
                }
            }
        }
    }
    if unreadable > 0 {
        anyhow::bail!(
            "{unreadable} of {} module files could not be read ({refused} refused)",
            args.modules.len()
        );
    }
    if refused > 0 {
        eprintln!("{refused} of {} modules refused", args.modules.len());
        Ok(Status::Refused)
    } else {
        Ok(Status::Ok)
    }
}
