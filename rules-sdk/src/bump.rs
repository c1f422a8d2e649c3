//! The guest's global allocator: a bump allocator for one-shot instances.
//!
//! The host runs every evaluation in a fresh instance and throws it away
//! afterwards, so a rule's heap only has to last one call. A bump pointer
//! serves that with a few instructions per allocation and touches only the
//! pages the call actually uses, where Rust's default `dlmalloc` first grows
//! memory by a 64 KiB page and spreads its bookkeeping over it: every page a
//! call touches is a page fault and a page to reset for the next call.
//!
//! Freeing the most recent allocation gives its bytes back, and growing it
//! extends it in place, so the common "push onto the newest `Vec` or
//! `String`" pattern does not leak. Anything else freed stays allocated until
//! the instance is dropped; a rule that churns through more than its memory
//! limit in one call fails with `memory-limit`, as it would with any
//! allocator once the limit is reached.
//!
//! On by default (feature `bump-alloc`); a rule crate that needs another
//! allocator turns off the default features of `rules-sdk` and sets its own
//! `#[global_allocator]`.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

const PAGE_BYTES: usize = 64 * 1024;

/// The bump allocator. Wasm guests are single-threaded, which is what makes
/// the unsynchronised state below sound.
pub struct Bump {
    state: UnsafeCell<State>,
}

struct State {
    /// Next free byte; 0 until the first allocation.
    next: usize,
    /// End of linear memory as last seen.
    end: usize,
    /// Start of the most recent allocation, which can be freed or grown.
    last: usize,
}

// SAFETY: wasm32 without the threads proposal (which the host refuses) runs
// one thread per instance, so the state is never shared between threads.
unsafe impl Sync for Bump {}

impl Bump {
    /// An allocator whose heap starts at `__heap_base` on first use.
    pub const fn new() -> Bump {
        Bump {
            state: UnsafeCell::new(State {
                next: 0,
                end: 0,
                last: 0,
            }),
        }
    }
}

impl Default for Bump {
    fn default() -> Bump {
        Bump::new()
    }
}

unsafe extern "C" {
    /// The first byte after the stack and static data, set by the linker.
    static __heap_base: u8;
}

impl State {
    /// Makes `[start, end)` part of the heap, growing memory if needed.
    fn reserve(&mut self, end: usize) -> bool {
        if self.next == 0 {
            self.next = &raw const __heap_base as usize;
            self.end = core::arch::wasm32::memory_size(0) * PAGE_BYTES;
            self.last = self.next;
        }
        if end <= self.end {
            return true;
        }
        let pages = (end - self.end).div_ceil(PAGE_BYTES);
        if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
            return false;
        }
        self.end += pages * PAGE_BYTES;
        true
    }
}

// SAFETY: every pointer returned is aligned as asked, lies in linear memory
// below `end`, and no two live allocations overlap: `next` only moves back
// over the most recent allocation when that one is freed.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync` above), and no reference to the
        // state outlives this call.
        let s = unsafe { &mut *self.state.get() };
        if s.next == 0 && !s.reserve(0) {
            return core::ptr::null_mut();
        }
        let Some(start) = s.next.checked_next_multiple_of(layout.align()) else {
            return core::ptr::null_mut();
        };
        let Some(end) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if !s.reserve(end) {
            return core::ptr::null_mut();
        }
        s.last = start;
        s.next = end;
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let s = unsafe { &mut *self.state.get() };
        if ptr as usize == s.last && s.last + layout.size() == s.next {
            s.next = s.last;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let s = unsafe { &mut *self.state.get() };
        let start = ptr as usize;
        if start == s.last && start + layout.size() == s.next {
            // The newest allocation grows or shrinks in place.
            let Some(end) = start.checked_add(new_size) else {
                return core::ptr::null_mut();
            };
            if !s.reserve(end) {
                return core::ptr::null_mut();
            }
            s.next = end;
            return ptr;
        }
        // SAFETY: `new_size` with the old alignment is a valid layout, as
        // `GlobalAlloc::realloc` requires of its caller.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid layout, as above.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live and at least this long, and the
            // new one was just carved after the old one, so they do not overlap.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}
