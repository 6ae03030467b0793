//! The training toolkit's memory-bound ops against the nearest existing ones, as GB/s of a
//! forward and backward pass through the tape (what a training step runs):
//! `cargo run --release -p ballast-core --example toolkit_bandwidth`.
//!
//! The new activations are compared with ReLU, sigmoid and tanh (the existing elementwise ops:
//! piecewise-linear ones with ReLU, transcendental ones with sigmoid and tanh), upsampling with
//! 2×2 max pooling (the existing windowed op). GB/s counts each pass's compulsory traffic once:
//! forward reads the input and writes the output; backward reads the output gradient (and the
//! input or output the derivative needs) and writes the input gradient.
use ballast_core::autograd::{Tape, Var};
use ballast_core::kernels::conv::Padding;
use ballast_core::kernels::upsample::Interpolation;
use ballast_core::ops;
use ballast_core::parallel::set_thread_limit;
use ballast_core::{Result, Tensor};
use std::time::Instant;

/// Best of a few runs of forward + backward, in seconds (the upstream gradient is made outside
/// the timed part), and the output's element count.
fn time(input: &Tensor, op: &dyn Fn(&mut Tape, Var) -> Result<Var>) -> (f64, usize) {
    let mut upstream: Option<Tensor> = None;
    let mut run = || {
        let mut tape = Tape::new();
        let x = tape.leaf(input.clone(), true);
        let started = Instant::now();
        let y = op(&mut tape, x).unwrap();
        let forward = started.elapsed().as_secs_f64();
        let grad = upstream.get_or_insert_with(|| Tensor::full(tape.value(y).shape(), 1.0)).clone();
        let started = Instant::now();
        tape.backward_with(y, grad).unwrap();
        forward + started.elapsed().as_secs_f64()
    };
    run();
    let best = (0..5).map(|_| run()).fold(f64::INFINITY, f64::min);
    (best, upstream.map_or(0, |t| t.len()))
}

fn main() {
    let shape = [32, 28, 28, 64]; // 6.4 MB of f32, a MobileNet-sized activation
    let len: usize = shape.iter().product();
    let input = Tensor::new((0..len).map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0).collect(), &shape).unwrap();
    type Op = Box<dyn Fn(&mut Tape, Var) -> Result<Var>>;
    let ops: Vec<(&str, Op)> = vec![
        ("relu (existing)", Box::new(|t, x| Ok(ops::relu(t, x)))),
        ("sigmoid (existing)", Box::new(|t, x| Ok(ops::sigmoid(t, x)))),
        ("tanh (existing)", Box::new(|t, x| Ok(ops::tanh(t, x)))),
        ("leaky_relu", Box::new(|t, x| Ok(ops::activation::leaky_relu(t, x, 0.2)))),
        ("relu6", Box::new(|t, x| Ok(ops::activation::relu6(t, x)))),
        ("elu", Box::new(|t, x| Ok(ops::activation::elu(t, x, 1.0)))),
        ("selu", Box::new(|t, x| Ok(ops::activation::selu(t, x)))),
        ("gelu", Box::new(|t, x| Ok(ops::activation::gelu(t, x, false)))),
        ("gelu (tanh)", Box::new(|t, x| Ok(ops::activation::gelu(t, x, true)))),
        ("silu", Box::new(|t, x| Ok(ops::activation::silu(t, x)))),
        ("softplus", Box::new(|t, x| Ok(ops::activation::softplus(t, x)))),
        ("hard_sigmoid", Box::new(|t, x| Ok(ops::activation::hard_sigmoid(t, x)))),
        ("mish", Box::new(|t, x| Ok(ops::activation::mish(t, x)))),
        ("max_pool 2x2 (existing)", Box::new(|t, x| ops::conv::max_pool2d(t, x, (2, 2), (2, 2), Padding::Valid))),
        ("upsample nearest 2x", Box::new(|t, x| ops::upsample::upsample2d(t, x, (2, 2), Interpolation::Nearest))),
        ("upsample bilinear 2x", Box::new(|t, x| ops::upsample::upsample2d(t, x, (2, 2), Interpolation::Bilinear))),
    ];
    // One untimed pass of everything first, so the allocator has grown before any timing.
    for (_, op) in &ops {
        time(&input, op.as_ref());
    }
    println!("input {shape:?}; forward + backward, best of 5");
    println!("{:<26} {:>12} {:>12}", "op", "1 thread", "pool");
    for (name, op) in &ops {
        let mut cells = Vec::new();
        for limit in [Some(1), None] {
            set_thread_limit(limit);
            let (seconds, out) = time(&input, op.as_ref());
            // Forward: input + output; backward: output gradient, input (or output), input gradient.
            let bytes = 4.0 * (len + out + out + len + len) as f64;
            cells.push(format!("{:.1} GB/s", bytes / seconds / 1e9));
        }
        println!("{:<26} {:>12} {:>12}", name, cells[0], cells[1]);
    }
}
