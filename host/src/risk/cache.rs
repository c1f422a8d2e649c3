//! An on-disk cache of compiled modules, so that a restart with thousands of
//! rules does not compile again what it compiled last time.
//!
//! Entries are keyed by the module's SHA-256 and by a hash of everything
//! that makes compiled code valid for this engine (wasmtime's version, the
//! compiler and its settings, the sandbox's configuration). Each file holds
//! the SHA-256 of the artifact followed by the artifact; a file whose hash
//! does not match, that wasmtime refuses, or that cannot be read is ignored
//! and the module compiled afresh. Writes go to a temporary file renamed
//! into place, so a crash never leaves a half-written entry.
//!
//! Loading an artifact runs native code compiled from it: the cache
//! directory must be writable only by the operator (see SECURITY.md). The
//! checksum guards against corruption, not against someone who can write
//! there.

use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// Feeds `Hash` output into SHA-256, for a key that is stable across runs
/// (std's hashers are not guaranteed to be).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What a lookup found, for the load report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules taken from the cache.
    pub hits: u64,
    /// Modules compiled (and then stored).
    pub misses: u64,
    /// Entries ignored because they were damaged or refused.
    pub rejected: u64,
}

/// A directory of compiled modules for one engine configuration.
#[derive(Debug)]
pub struct ModuleCache {
    dir: PathBuf,
    engine_key: String,
    stats: std::sync::Mutex<CacheStats>,
}

impl ModuleCache {
    /// Opens (creating) the cache directory for `engine`.
    ///
    /// # Errors
    ///
    /// Returns a message naming the directory when it cannot be created.
    pub fn open(dir: &Path, engine: &Engine) -> Result<ModuleCache, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the module cache {}: {e}", dir.display()))?;
        let mut h = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        h.write(env!("CARGO_PKG_VERSION").as_bytes());
        let key = h.0.finalize();
        Ok(ModuleCache {
            dir: dir.to_path_buf(),
            engine_key: hex(&key[..8]),
            stats: std::sync::Mutex::new(CacheStats::default()),
        })
    }

    /// Counts so far.
    pub fn stats(&self) -> CacheStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut CacheStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The compiled module for `digest`, if a sound entry exists.
    pub fn get(&self, engine: &Engine, digest: &str) -> Option<Module> {
        let bytes = std::fs::read(self.path(digest)).ok()?;
        let module = (|| {
            if bytes.len() < 32 {
                return None;
            }
            let (sum, artifact) = bytes.split_at(32);
            if Sha256::digest(artifact).as_slice() != sum {
                return None;
            }
            deserialize(engine, artifact)
        })();
        match &module {
            Some(_) => self.count(|s| s.hits += 1),
            None => self.count(|s| s.rejected += 1),
        }
        module
    }

    /// Stores `module` under `digest`. Failures are ignored: the cache is
    /// an optimisation, and the module is already compiled.
    pub fn put(&self, digest: &str, module: &Module) {
        self.count(|s| s.misses += 1);
        let Ok(artifact) = module.serialize() else {
            return;
        };
        let final_path = self.path(digest);
        let tmp = self.dir.join(format!(
            ".{digest}-{}.{}.tmp",
            self.engine_key,
            std::process::id()
        ));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&Sha256::digest(&artifact))?;
            f.write_all(&artifact)?;
            f.sync_all()
        });
        if written.is_ok() {
            let _ = std::fs::rename(&tmp, &final_path);
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Loads a compiled artifact this process's engine wrote.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> Option<Module> {
    // SAFETY: `Module::deserialize` runs machine code from `artifact`, so
    // the bytes must come from `Module::serialize` of a compatible engine.
    // They come from the operator's cache directory (documented as
    // operator-only in SECURITY.md), their SHA-256 was checked just before,
    // and wasmtime itself checks the engine version and settings recorded in
    // the artifact and refuses a mismatch.
    unsafe { Module::deserialize(engine, artifact) }.ok()
}
