//! Builds every crate under `sample-rules/` to wasm32 in release mode and
//! generates `bundled.rs`, one `include_bytes!` per rule, so that `hongbao
//! demo` and the integration tests run the real Wasm builds.
//!
//! The nested cargo gets its own target directory under `OUT_DIR`: sharing
//! the outer one would deadlock on its lock. It re-runs only when the rules
//! or the SDK change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "rules";
/// The guest's shadow stack in linear memory, in bytes. Rust's default is
/// 1 MiB, every page of which a fresh instance would have to map. The stack
/// comes first in memory, so a smaller one also brings the data and the heap
/// down: with 32 KiB the sample rules fit in two 64 KiB pages. The deepest
/// sample rule call uses well under 16 KiB; an overflow traps (the stack
/// would grow below address 0), it never corrupts data.
const GUEST_STACK_BYTES: u32 = 32 * 1024;

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .context("host/ has no parent directory")?
        .to_path_buf();
    let rules_dir = root.join("sample-rules");
    println!("cargo:rerun-if-changed={}", rules_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("rules-sdk").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );

    let mut crates = Vec::new();
    for entry in std::fs::read_dir(&rules_dir).context("reading sample-rules/")? {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .context("sample rule directory name is not UTF-8")?
                .to_string();
            crates.push(name);
        }
    }
    crates.sort();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let target_dir = out_dir.join("rules-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&target_dir);
    for c in &crates {
        cmd.args(["-p", c]);
    }
    // The outer build's flags are for the host, not for wasm32.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env(
        "CARGO_ENCODED_RUSTFLAGS",
        format!("-Clink-arg=-zstack-size={GUEST_STACK_BYTES}"),
    );
    let status = cmd
        .status()
        .context("running the nested cargo build of sample-rules")?;
    if !status.success() {
        bail!(
            "building sample-rules to {TARGET} failed ({status}); is the target installed? \
             run: rustup target add {TARGET}"
        );
    }

    let wasm_dir = target_dir.join(TARGET).join(PROFILE);
    let mut code = String::from(
        "/// Every bundled sample rule: (crate name, wasm bytes), sorted by name.\n\
         pub const MODULES: &[(&str, &[u8])] = &[\n",
    );
    for c in &crates {
        let file = wasm_dir.join(format!("{}.wasm", c.replace('-', "_")));
        if !file.is_file() {
            bail!("expected {} after building {c}", file.display());
        }
        writeln!(code, "    ({c:?}, include_bytes!({:?})),", path_str(&file)?)?;
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), code)?;
    Ok(())
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str().context("OUT_DIR path is not UTF-8")
}
