//! The memory the core holds and may still take, so that a request too large for it is an
//! `OutOfMemoryError` before any kernel runs instead of an aborted allocation (in WebAssembly
//! a trap, after which the instance cannot be trusted).
//!
//! The WASM crate's global allocator reports every allocation here and sets the limit (the
//! module's maximum memory). Natively nothing is reported: nothing is held and there is no
//! limit, so the checks pass unless a size overflows.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Error, Result};

static HELD: AtomicUsize = AtomicUsize::new(0);
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The size of the last allocation the allocator could not make (0: none).
static FAILED: AtomicUsize = AtomicUsize::new(0);

/// The most bytes the allocator can ever hold (a WASM module's maximum memory).
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// The allocator took `bytes`.
#[inline]
pub fn allocated(bytes: usize) {
    HELD.fetch_add(bytes, Ordering::Relaxed);
}

/// The allocator gave `bytes` back.
#[inline]
pub fn freed(bytes: usize) {
    HELD.fetch_sub(bytes, Ordering::Relaxed);
}

/// The allocator could not find `bytes`: the allocation aborts next (a trap in WebAssembly);
/// [`take_failure`] tells the caller what it was.
pub fn failed(bytes: usize) {
    FAILED.store(bytes, Ordering::Relaxed);
}

/// The size of the allocation that failed since the last call, if one did.
pub fn take_failure() -> Option<usize> {
    Some(FAILED.swap(0, Ordering::Relaxed)).filter(|&b| b > 0)
}

/// Bytes held by live allocations.
pub fn held() -> usize {
    HELD.load(Ordering::Relaxed)
}

/// Bytes the allocator could still hand out, at most (fragmentation may leave less).
pub fn available() -> usize {
    LIMIT.load(Ordering::Relaxed).saturating_sub(held())
}

/// The number of values of `shape`, saturating (a size that overflows cannot fit anyway).
pub fn values_in(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// An `OutOfMemoryError` for a request of `bytes` that did not fit, saying what is free.
pub fn out_of_memory(what: &str, bytes: usize) -> Error {
    let limit = LIMIT.load(Ordering::Relaxed);
    let of = if limit == usize::MAX { String::new() } else { format!(" of the {} the module can have", mib(limit)) };
    Error::out_of_memory(format!(
        "{what} needs {}, but only {} are free{of} ({} in use)",
        mib(bytes),
        mib(available()),
        mib(held())
    ))
}

/// Refuses `values` float32 more than fit: `what` names the request ("matmul output [m, n]").
pub fn check_f32(values: usize, what: impl FnOnce() -> String) -> Result<()> {
    match values.checked_mul(4) {
        Some(bytes) if bytes <= available() => Ok(()),
        bytes => Err(out_of_memory(&what(), bytes.unwrap_or(usize::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_past_the_limit_is_an_out_of_memory_error_saying_what_is_free() {
        // Natively there is no limit: only an overflowing size is refused.
        assert!(check_f32(1 << 40, || "x".into()).is_ok());
        let err = check_f32(usize::MAX / 2, || "matmul output [a, b]".into()).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::OutOfMemory);
        assert!(err.message.starts_with("matmul output [a, b] needs "), "{}", err.message);
        assert!(err.message.contains("are free"), "{}", err.message);
    }
}
