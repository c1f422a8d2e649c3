//! Where generated lines go: a line budget, an output buffer and the stats.

use std::io::{self, Write};

use super::malformed::{MALFORMED_KINDS, write_malformed};
use super::rng::Rng;
use super::stats::TrafficStats;
use crate::event::Event;

/// Bytes buffered before a write to the caller's writer, so that an
/// unbuffered file costs one system call per 64 KiB, not one per line.
const FLUSH_BYTES: usize = 64 * 1024;

/// Serialises events one per line up to a fixed number of lines, mixing in
/// malformed lines at the configured rate.
pub(super) struct Sink<'w, W: Write> {
    out: &'w mut W,
    buf: Vec<u8>,
    lines_max: u64,
    malformed_per_mille: u64,
    stats: TrafficStats,
}

impl<'w, W: Write> Sink<'w, W> {
    pub(super) fn new(out: &'w mut W, lines_max: u64, malformed_per_mille: u32) -> Self {
        Sink {
            out,
            buf: Vec::with_capacity(FLUSH_BYTES + 1024),
            lines_max,
            malformed_per_mille: u64::from(malformed_per_mille),
            stats: TrafficStats::default(),
        }
    }

    /// True once the line budget is spent; every later write is dropped.
    pub(super) fn full(&self) -> bool {
        self.stats.lines >= self.lines_max
    }

    /// Lines written so far.
    pub(super) fn lines(&self) -> u64 {
        self.stats.lines
    }

    /// Writes `event` as one line, preceded now and then by a malformed
    /// line. Does nothing once the budget is spent.
    ///
    /// # Errors
    ///
    /// Any error of the underlying writer.
    pub(super) fn event(&mut self, rng: &mut Rng, event: &Event) -> io::Result<()> {
        if self.full() {
            return Ok(());
        }
        if rng.chance(self.malformed_per_mille, 1000) {
            let n = self.stats.malformed + 1;
            write_malformed(&mut self.buf, rng.below(MALFORMED_KINDS), n, event.at())?;
            self.stats.record_malformed();
            if self.full() {
                return self.spill();
            }
        }
        serde_json::to_writer(&mut self.buf, event).map_err(io::Error::other)?;
        self.buf.push(b'\n');
        self.stats.record(event);
        self.spill()
    }

    /// Hands the buffer to the writer once it is large enough.
    fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_BYTES {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes what is left, flushes the writer and returns the stats.
    ///
    /// # Errors
    ///
    /// Any error of the underlying writer.
    pub(super) fn finish(self) -> io::Result<TrafficStats> {
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(self.stats)
    }
}
