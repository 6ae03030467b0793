//! Ballast's core: tensors, kernels, reverse-mode autodiff and the layers of a CNN with
//! Batch Normalization. Pure Rust with no WebAssembly bindings, so `cargo test` runs natively;
//! `ballast-wasm` is the thin boundary that exposes it to JavaScript.

pub mod autograd;
pub mod data;
pub mod error;
pub mod graph;
pub mod health;
pub mod kernels;
pub mod memory;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod parallel;
pub mod profile;
pub mod rng;
pub mod tensor;

pub use error::{Error, ErrorKind, Result};
pub use tensor::Tensor;
