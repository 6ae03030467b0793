//! Compute kernels. Each has a scalar path that is always compiled (native builds, and the
//! reference the SIMD path is tested against) and, on wasm32 with `simd128`, a SIMD128 path.
//! Which one runs is decided here, once, so benchmarks and tests can compare them side by side.

pub mod augment;
pub mod conv;
pub mod gemm;
pub mod math;
pub mod pool;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
pub mod upsample;

use std::sync::atomic::{AtomicBool, Ordering};

static SIMD_ENABLED: AtomicBool = AtomicBool::new(true);
static WINOGRAD_ENABLED: AtomicBool = AtomicBool::new(true);

/// True when this build carries the SIMD128 kernels.
pub const fn simd_available() -> bool {
    cfg!(all(target_arch = "wasm32", target_feature = "simd128"))
}

/// Whether kernels take their SIMD path right now.
pub fn simd_enabled() -> bool {
    simd_available() && SIMD_ENABLED.load(Ordering::Relaxed)
}

/// Switches between the SIMD and the scalar kernels (for benchmarks and cross-checks).
/// Has no effect in builds without SIMD128: they only have the scalar path.
pub fn set_simd_enabled(enabled: bool) {
    SIMD_ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether 3×3 stride-1 convolutions may take the Winograd path (`conv::winograd`).
pub fn winograd_enabled() -> bool {
    WINOGRAD_ENABLED.load(Ordering::Relaxed)
}

/// Switches the Winograd convolutions off (the direct implicit GEMM everywhere) or back on,
/// for benchmarks and cross-checks.
pub fn set_winograd_enabled(enabled: bool) {
    WINOGRAD_ENABLED.store(enabled, Ordering::Relaxed);
}
