//! The JavaScript boundary of Ballast. Each export decodes its arguments, calls
//! `ballast-core`, and encodes the result; core errors become JS errors whose `name` is the
//! error kind (`ShapeError`, ...), which the TypeScript package maps onto its error classes.
//! No maths lives here.

// The wasm build sets RUSTC_BOOTSTRAP (scripts/build-wasm.sh); a native `cargo check` needs no feature.
#![cfg_attr(target_arch = "wasm32", feature(alloc_error_hook))]

mod alloc;
mod data;
mod errors;
mod json;
mod model;
#[cfg(feature = "threads")]
mod pool;
mod tape;
mod tensor;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub use model::Model;
pub use tape::Tape;
pub use tensor::{matmul, Tensor};

/// `performance.now()` of this thread's global, the core's clock for step profiles.
fn performance_now() -> f64 {
    thread_local! {
        static NOW: Option<(JsValue, js_sys::Function)> = {
            let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
            perf.and_then(|p| {
                let now = js_sys::Reflect::get(&p, &"now".into()).ok()?;
                Some((p, now.dyn_into::<js_sys::Function>().ok()?))
            })
        };
    }
    NOW.with(|n| n.as_ref().and_then(|(p, f)| f.call0(p).ok()).and_then(|v| v.as_f64()).unwrap_or(0.0))
}

/// Runs once when the module is instantiated on a thread.
#[wasm_bindgen(start)]
pub fn start() {
    ballast_core::profile::set_clock(performance_now);
    alloc::install();
}

/// After a trap: the size in bytes of the allocation that failed since the last call (its
/// abort was the trap), or 0. Returns a number, not an array: the allocator must not be
/// called after a trap, which may have struck inside it.
#[wasm_bindgen(js_name = takeAllocationFailure)]
pub fn take_allocation_failure() -> f64 {
    ballast_core::memory::take_failure().unwrap_or(0) as f64
}

/// Bytes held by live allocations, and the most the module can have: `[held, limit]` are
/// two calls so that neither allocates.
#[wasm_bindgen(js_name = memoryHeld)]
pub fn memory_held() -> f64 {
    ballast_core::memory::held() as f64
}

#[wasm_bindgen(js_name = memoryLimit)]
pub fn memory_limit() -> f64 {
    alloc::heap_limit() as f64
}

/// What this build can do: `{ threads, simd, poolSize }`.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> js_sys::Object {
    let info = js_sys::Object::new();
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&info, &k.into(), &v).expect("plain object");
    set("threads", cfg!(feature = "threads").into());
    set("simd", ballast_core::kernels::simd_available().into());
    set("relaxedSimd", cfg!(target_feature = "relaxed-simd").into());
    set("poolSize", (ballast_core::parallel::pool_size() as u32).into());
    info
}

/// Use the SIMD kernels (default) or the scalar ones, for benchmarks and cross-checks.
#[wasm_bindgen(js_name = setSimdEnabled)]
pub fn set_simd_enabled(enabled: bool) {
    ballast_core::kernels::set_simd_enabled(enabled);
}

/// Use Winograd for 3×3 stride-1 convolutions where it applies (default) or the direct
/// kernels everywhere, for benchmarks and cross-checks.
#[wasm_bindgen(js_name = setWinogradEnabled)]
pub fn set_winograd_enabled(enabled: bool) {
    ballast_core::kernels::set_winograd_enabled(enabled);
}

/// Limit kernels to one thread (1) or let them use the whole pool (0).
#[wasm_bindgen(js_name = setThreadLimit)]
pub fn set_thread_limit(limit: u32) {
    ballast_core::parallel::set_thread_limit((limit > 0).then_some(limit as usize));
}

/// Tasks each thread ran since the last call: index 0 is the calling thread, i+1 pool thread i.
#[wasm_bindgen(js_name = takeTaskCounts)]
pub fn take_task_counts() -> Vec<u32> {
    ballast_core::parallel::take_task_counts().into_iter().map(|c| c as u32).collect()
}
