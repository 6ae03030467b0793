//! Differentiable ops. Each takes a tape and its input vars, computes its output and records
//! the closure for its gradient right beside it.

pub mod activation;
pub mod augment;
pub mod conv;
pub mod dropout;
pub mod elementwise;
pub mod embedding;
pub mod group_norm;
pub mod linalg;
pub mod loss;
pub mod merge;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod shape;
pub mod upsample;

pub use activation::{
    elu, gelu, hard_sigmoid, leaky_relu, log_softmax, mish, prelu, relu, relu6, relu_with, selu, sigmoid, silu,
    softmax, softmax_axis, softplus, softsign, tanh,
};
pub use elementwise::{add, div, mul, scale, sub};
pub use linalg::{dense, matmul};
pub use reduce::{mean, sum};
pub use shape::{flatten, reshape, transpose};
