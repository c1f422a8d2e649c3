//! The process's resident memory, as the kernel counts it, for reports and
//! the tests that check memory stays flat.

/// A `/proc/self/status` field in bytes (`VmRSS`, `VmHWM`), where available.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line
        .trim_start_matches(field)
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Resident memory now, in bytes (None where `/proc` is not available).
pub fn resident_bytes() -> Option<u64> {
    status_bytes("VmRSS")
}

/// The most resident memory so far, in bytes.
pub fn peak_resident_bytes() -> Option<u64> {
    status_bytes("VmHWM")
}

#[cfg(test)]
mod tests {
    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let now = super::resident_bytes().expect("VmRSS");
            let peak = super::peak_resident_bytes().expect("VmHWM");
            assert!(now > 0 && peak >= now, "{now} {peak}");
        }
    }
}
