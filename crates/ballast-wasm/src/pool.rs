//! The rayon pool of the threaded build, on threads that JavaScript starts.
//!
//! WebAssembly cannot spawn threads itself. The host starts one worker per pool thread
//! (a Web Worker in browsers, a `worker_threads` Worker in Node), instantiates this same
//! module over the same shared memory in it, and calls [`run_pool_worker`], which blocks
//! that worker forever running rayon's scheduler. [`build_thread_pool`] hands rayon's thread
//! bodies to those workers through a channel. This is the scheme of wasm-bindgen-rayon,
//! whose JavaScript half only runs in browsers; here the JavaScript half lives in the npm
//! package and serves Node and browsers alike.

use std::sync::OnceLock;

use crossbeam_channel::{unbounded, Receiver, Sender};
use rayon::ThreadBuilder;
use wasm_bindgen::prelude::*;

/// Created once: the global pool can only be built once per module instance.
fn channel() -> &'static (Sender<ThreadBuilder>, Receiver<ThreadBuilder>) {
    static CHANNEL: OnceLock<(Sender<ThreadBuilder>, Receiver<ThreadBuilder>)> = OnceLock::new();
    CHANNEL.get_or_init(unbounded)
}

/// Builds the global pool with `num_threads` threads. Their bodies wait in the channel until
/// as many workers call [`run_pool_worker`]; work submitted before then simply waits.
#[wasm_bindgen(js_name = buildThreadPool)]
pub fn build_thread_pool(num_threads: u32) -> Result<(), JsValue> {
    if num_threads == 0 {
        return Err(crate::errors::to_js(ballast_core::Error::argument("the thread pool needs at least one thread")));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(num_threads as usize)
        .spawn_handler(|thread| channel().0.send(thread).map_err(|e| std::io::Error::other(e.to_string())))
        .build_global()
        .map_err(|e| crate::errors::to_js(ballast_core::Error::state(format!("thread pool: {e}"))))
}

/// Called from a worker: runs one pool thread's scheduler loop, forever.
#[wasm_bindgen(js_name = runPoolWorker)]
pub fn run_pool_worker() {
    match channel().1.recv() {
        Ok(thread) => thread.run(),
        Err(_) => wasm_bindgen::throw_str("thread pool channel closed"),
    }
}
