//! The JavaScript boundary of Ballast. Each export decodes its arguments, calls
//! `ballast-core`, and encodes the result; core errors become JS errors whose `name` is the
//! error kind (`ShapeError`, ...), which the TypeScript package maps onto its error classes.
//! No maths lives here.

mod data;
mod errors;
mod model;
#[cfg(feature = "threads")]
mod pool;
mod tensor;

use wasm_bindgen::prelude::*;

pub use model::Model;
pub use tensor::{matmul, Tensor};

/// What this build can do: `{ threads, simd, poolSize }`.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> js_sys::Object {
    let info = js_sys::Object::new();
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&info, &k.into(), &v).expect("plain object");
    set("threads", cfg!(feature = "threads").into());
    set("simd", ballast_core::kernels::simd_available().into());
    set("poolSize", (ballast_core::parallel::pool_size() as u32).into());
    info
}

/// Use the SIMD kernels (default) or the scalar ones, for benchmarks and cross-checks.
#[wasm_bindgen(js_name = setSimdEnabled)]
pub fn set_simd_enabled(enabled: bool) {
    ballast_core::kernels::set_simd_enabled(enabled);
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
