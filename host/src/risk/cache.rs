//! An on-disk cache of compiled modules, so that a restart with thousands of
//! rules does not compile again what it compiled last time.
//!
//! Entries are keyed by the module's SHA-256 and by a hash of everything
//! that makes compiled code valid for this engine (wasmtime's version, the
//! compiler and its settings, the sandbox's configuration). Each file holds
//! a magic tag, the SHA-256 of the module it was compiled from, the SHA-256
//! of that digest and the artifact together, and the artifact; a file whose
//! tag, module digest or hash does not match (a damaged entry, or another
//! module's entry under this one's name), that wasmtime refuses, or that
//! cannot be read is ignored and the module compiled afresh. Writes go to a
//! temporary file renamed into place, so a crash never leaves a
//! half-written entry.
//!
//! Loading an artifact runs native code compiled from it, so the cache
//! trusts only what this process's user could have written: on Unix the
//! directory must be owned by that user and not writable by group or
//! others (refused at start-up otherwise, as `ssh` refuses a loose
//! `~/.ssh`), and an entry file that is not is ignored. The checksums guard
//! against corruption and mix-ups, not against that user.

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

/// The first bytes of every entry (and its format's version).
const ENTRY_MAGIC: &[u8; 8] = b"hbmc\x00\x00\x00\x02";
/// Magic, module digest, checksum.
const ENTRY_HEADER_BYTES: usize = 8 + 32 + 32;

/// A directory of compiled modules for one engine configuration.
#[derive(Debug)]
pub struct ModuleCache {
    dir: PathBuf,
    engine_key: String,
    /// The user id this process writes files as (Unix).
    owner: Option<u32>,
    stats: std::sync::Mutex<CacheStats>,
}

/// Who owns a file and whether group or others may write it (Unix).
#[cfg(unix)]
fn ownership(meta: &std::fs::Metadata) -> Option<(u32, bool)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.uid(), meta.mode() & 0o022 != 0))
}

#[cfg(not(unix))]
fn ownership(_: &std::fs::Metadata) -> Option<(u32, bool)> {
    None
}

/// The bytes a checksum covers: the module digest, then the artifact.
fn entry_sum(module_digest: &[u8], artifact: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(module_digest);
    h.update(artifact);
    h.finalize().into()
}

/// `digest` (hex SHA-256) as its 32 bytes.
fn digest_bytes(digest: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if digest.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(digest.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl ModuleCache {
    /// Opens (creating) the cache directory for `engine`, and checks that
    /// it can be written and that only this process's user can write it.
    ///
    /// # Errors
    ///
    /// Returns a message naming the directory when it cannot be created or
    /// written, is owned by another user, or is writable by group or others.
    pub fn open(dir: &Path, engine: &Engine) -> Result<ModuleCache, String> {
        let at = dir.display();
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the module cache {at}: {e}"))?;
        // A file of our own tells which user this process writes as, and
        // that the directory is writable at all.
        let probe = dir.join(format!(".probe.{}", std::process::id()));
        let probed = std::fs::File::create(&probe).and_then(|f| f.metadata());
        let _ = std::fs::remove_file(&probe);
        let own = probed.map_err(|e| format!("the module cache {at} is not writable: {e}"))?;
        let owner = ownership(&own).map(|(uid, _)| uid);
        let dir_meta = std::fs::metadata(dir)
            .map_err(|e| format!("cannot read the module cache {at}: {e}"))?;
        if let (Some(me), Some((uid, loose))) = (owner, ownership(&dir_meta)) {
            if uid != me {
                return Err(format!(
                    "the module cache {at} is owned by user {uid}, not by this process's user {me}: \
                     compiled code there runs inside hongbao, so only its own user may write it"
                ));
            }
            if loose {
                return Err(format!(
                    "the module cache {at} is writable by group or others: compiled code there \
                     runs inside hongbao; make it writable only by its owner (chmod go-w)"
                ));
            }
        }
        let mut h = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        h.write(env!("CARGO_PKG_VERSION").as_bytes());
        let key = h.0.finalize();
        Ok(ModuleCache {
            dir: dir.to_path_buf(),
            engine_key: hex(&key[..8]),
            owner,
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

    /// The compiled module for `digest`, if a sound entry exists: this
    /// process's user's file, compiled from exactly that module, undamaged.
    pub fn get(&self, engine: &Engine, digest: &str) -> Option<Module> {
        let path = self.path(digest);
        let meta = std::fs::metadata(&path).ok()?;
        let module = (|| {
            if let (Some(me), Some((uid, loose))) = (self.owner, ownership(&meta))
                && (uid != me || loose)
            {
                return None;
            }
            let bytes = std::fs::read(&path).ok()?;
            if bytes.len() < ENTRY_HEADER_BYTES || !bytes.starts_with(ENTRY_MAGIC) {
                return None;
            }
            let (module_digest, rest) = bytes[8..].split_at(32);
            let (sum, artifact) = rest.split_at(32);
            if digest_bytes(digest)?.as_slice() != module_digest
                || entry_sum(module_digest, artifact).as_slice() != sum
            {
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
        let (Ok(artifact), Some(module_digest)) = (module.serialize(), digest_bytes(digest)) else {
            return;
        };
        let final_path = self.path(digest);
        let tmp = self.dir.join(format!(
            ".{digest}-{}.{}.tmp",
            self.engine_key,
            std::process::id()
        ));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(ENTRY_MAGIC)?;
            f.write_all(&module_digest)?;
            f.write_all(&entry_sum(&module_digest, &artifact))?;
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
    // They come from a cache directory and file that only this process's
    // user can write (checked at open and before the read), compiled from
    // the module asked for and undamaged (both checked just before), and
    // wasmtime itself checks the engine version and settings recorded in
    // the artifact and refuses a mismatch.
    unsafe { Module::deserialize(engine, artifact) }.ok()
}
