//! The global allocator: the standard one (dlmalloc on wasm32), with every allocation
//! counted in `ballast_core::memory`, so that a request too big for what the module can still
//! have is an `OutOfMemoryError` before any kernel runs, and an allocation that fails anyway
//! is reported by its size when the abort it leads to reaches JavaScript as a trap.

use std::alloc::{GlobalAlloc, Layout, System};

use ballast_core::memory;

/// The module's maximum memory: `--max-memory` in scripts/build-wasm.sh, which sets this too.
pub const MAX_MEMORY: usize = {
    let digits = env!("BALLAST_MAX_MEMORY").as_bytes();
    let mut n = 0usize;
    let mut i = 0;
    while i < digits.len() {
        n = n * 10 + (digits[i] - b'0') as usize;
        i += 1;
    }
    n
};

struct Counting;

/// Counts a new block, or records the size that could not be had.
fn note(block: *mut u8, size: usize) -> *mut u8 {
    if block.is_null() {
        memory::failed(size);
    } else {
        memory::allocated(size);
    }
    block
}

// SAFETY: every call forwards to `System` with the caller's arguments; the counting has no
// effect on the blocks.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(System.alloc(layout), layout.size())
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(System.alloc_zeroed(layout), layout.size())
    }
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        System.dealloc(block, layout);
        memory::freed(layout.size());
    }
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = System.realloc(block, layout, new_size);
        if !moved.is_null() {
            memory::freed(layout.size());
        }
        note(moved, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;
