//! Native depthwise 3x3 convolution timing, one thread vs the pool, as memory bandwidth
//! (a depthwise convolution does about one multiply-add per float it reads):
//! `cargo run --release --example depthwise_bandwidth`.
//!
//! GB/s counts each pass's compulsory traffic once: forward reads the input and writes the
//! output; the input gradient reads the output gradient and writes the input gradient; the
//! filter gradient reads both the input and the output gradient. Shapes are MobileNet-v1's
//! depthwise layers at 224x224 (stride-1 ones), at batch sizes that keep each tensor ~13 MB.
use ballast_core::kernels::conv::{
    conv2d_backward_filter, conv2d_backward_input, conv2d_forward, Conv2dGeometry, ConvOptions, Padding,
};
use ballast_core::parallel::set_thread_limit;
use std::time::Instant;

/// Best of a few runs, in seconds.
fn best(mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    for (batch, size, c) in [(8usize, 112usize, 32usize), (16, 28, 256), (32, 14, 512)] {
        let shape = [batch, size, size, c];
        let options = ConvOptions::new((1, 1), Padding::Same).groups(c);
        let g = Conv2dGeometry::with_options("depthwise_conv2d", &shape, (3, 3), c, options).unwrap();
        let n = batch * size * size * c;
        let input: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
        let filter = vec![0.1f32; g.filter_len()];
        let bias = vec![0.0f32; c];
        let mut out = vec![0.0f32; n];
        let mut grad = vec![0.0f32; n];
        let mut grad_filter = vec![0.0f32; g.filter_len()];
        let mb = n as f64 * 4.0 / 1e6;
        for limit in [Some(1), None] {
            set_thread_limit(limit);
            let fwd = best(|| conv2d_forward(&g, &input, &filter, Some(&bias), false, &mut out));
            let bi = best(|| conv2d_backward_input(&g, &out, &filter, &mut grad));
            let bf = best(|| conv2d_backward_filter(&g, &input, &out, &mut grad_filter));
            let gbs = |s: f64| 2.0 * mb / 1e3 / s;
            println!(
                "{batch}x{size}x{size}x{c} ({mb:.0} MB) threads={}: forward {:.2} ms {:.1} GB/s, input grad {:.2} ms \
                 {:.1} GB/s, filter grad {:.2} ms {:.1} GB/s",
                ballast_core::parallel::threads(),
                fwd * 1e3,
                gbs(fwd),
                bi * 1e3,
                gbs(bi),
                bf * 1e3,
                gbs(bf)
            );
        }
    }
    set_thread_limit(None);
}
