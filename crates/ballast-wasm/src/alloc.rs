//! The global allocator: the standard one (dlmalloc on wasm32), with every allocation
//! counted in `ballast_core::memory`, so that a request too big for what the module can still
//! have is an `OutOfMemoryError` before any kernel runs; and the allocation-error hook, so
//! that an allocation that fails anyway is reported by its size when the abort it leads to
//! reaches JavaScript as a trap. (A failure that the core handles, `try_reserve`, is not an
//! abort and is not reported.)

use std::alloc::{GlobalAlloc, Layout, System};

use ballast_core::memory;

/// The module's maximum memory: `--max-memory` in scripts/build-wasm.sh, which sets this too.
/// A build without it (`cargo check`, an editor) knows no maximum but the address space.
pub const MAX_MEMORY: usize = parse_bytes(option_env!("BALLAST_MAX_MEMORY"));

const fn parse_bytes(digits: Option<&str>) -> usize {
    let Some(digits) = digits else { return usize::MAX };
    let digits = digits.as_bytes();
    assert!(!digits.is_empty(), "BALLAST_MAX_MEMORY must be a number of bytes");
    let mut n = 0usize;
    let mut i = 0;
    while i < digits.len() {
        assert!(digits[i].is_ascii_digit(), "BALLAST_MAX_MEMORY must be a number of bytes");
        n = n * 10 + (digits[i] - b'0') as usize;
        i += 1;
    }
    n
}

#[cfg(target_arch = "wasm32")]
extern "C" {
    /// Where the heap starts, after the static data and the main thread's stack (wasm-ld).
    static __heap_base: u8;
}

/// The most the allocator can hand out: the module's maximum memory less what lies below
/// the heap.
pub fn heap_limit() -> usize {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: only the symbol's address is taken, never its value.
    return MAX_MEMORY.saturating_sub(unsafe { core::ptr::addr_of!(__heap_base) } as usize);
    #[cfg(not(target_arch = "wasm32"))]
    MAX_MEMORY
}

/// Records the size of an allocation that failed and is about to abort (a trap).
#[cfg(target_arch = "wasm32")]
fn on_alloc_error(layout: Layout) {
    memory::failed(layout.size());
}

/// Installs the allocation-error hook; the limit for `ballast_core::memory`'s checks.
pub fn install() {
    #[cfg(target_arch = "wasm32")]
    std::alloc::set_alloc_error_hook(on_alloc_error);
    memory::set_limit(heap_limit());
}

struct Counting;

/// Counts a new block (a null one is the caller's to handle, or to abort on).
fn note(block: *mut u8, size: usize) -> *mut u8 {
    if !block.is_null() {
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
