//! 2-D max pooling on NHWC tensors. The forward pass records, for every output, the flat
//! index of the input that won, so the backward pass is a scatter-add of the gradient.

use crate::error::{Error, Result};
use crate::kernels::conv::Padding;
use crate::parallel;
use crate::tensor::shape_str;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeometry {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub pool_h: usize,
    pub pool_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

/// Output size and leading padding along one axis, TensorFlow's rules.
fn axis(input: usize, window: usize, stride: usize, padding: Padding) -> Option<(usize, usize)> {
    match padding {
        Padding::Valid => (input >= window).then(|| ((input - window) / stride + 1, 0)),
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + window).saturating_sub(input);
            Some((out, total / 2))
        }
    }
}

impl Pool2dGeometry {
    pub fn new(input_shape: &[usize], pool: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<Self> {
        let &[batch, in_h, in_w, channels] = input_shape else {
            return Err(Error::shape(format!(
                "max_pool2d expects input [batch, height, width, channels], got {}",
                shape_str(input_shape)
            )));
        };
        if input_shape.contains(&0) {
            return Err(Error::shape(format!("max_pool2d: input {} has an empty dimension", shape_str(input_shape))));
        }
        if pool.0 == 0 || pool.1 == 0 || strides.0 == 0 || strides.1 == 0 {
            return Err(Error::argument(format!("max_pool2d: pool size {pool:?} and strides {strides:?} must be positive")));
        }
        let (Some((out_h, pad_top)), Some((out_w, pad_left))) =
            (axis(in_h, pool.0, strides.0, padding), axis(in_w, pool.1, strides.1, padding))
        else {
            return Err(Error::shape(format!(
                "max_pool2d: pool {}x{} is larger than the input {} with 'valid' padding",
                pool.0,
                pool.1,
                shape_str(input_shape)
            )));
        };
        Ok(Pool2dGeometry {
            batch,
            in_h,
            in_w,
            channels,
            pool_h: pool.0,
            pool_w: pool.1,
            stride_h: strides.0,
            stride_w: strides.1,
            pad_top,
            pad_left,
            out_h,
            out_w,
        })
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.channels]
    }

    /// Rows `[lo, hi)` (or columns) of the input inside the window at output position `o`;
    /// padded positions are outside and never win.
    fn window(o: usize, stride: usize, pad: usize, size: usize, input: usize) -> (usize, usize) {
        let start = (o * stride) as isize - pad as isize;
        let lo = start.max(0) as usize;
        let hi = ((start + size as isize).max(0) as usize).min(input);
        (lo, hi)
    }
}

/// Max over each window; `argmax[i]` is the flat input index of output `i`'s maximum (the
/// first one on ties).
pub fn max_pool2d_forward(g: &Pool2dGeometry, input: &[f32], out: &mut [f32], argmax: &mut [u32]) {
    debug_assert_eq!(input.len(), g.batch * g.in_h * g.in_w * g.channels);
    debug_assert_eq!(out.len(), g.batch * g.out_h * g.out_w * g.channels);
    let c = g.channels;
    let row = g.out_w * c;
    // One task per output row (image, oh): tasks write disjoint rows of `out` and `argmax`.
    let argmax_ptr = ArgmaxPtr(argmax.as_mut_ptr());
    parallel::for_each_chunk_mut(out, row, |r, out_row| {
        let (n, oh) = (r / g.out_h, r % g.out_h);
        // SAFETY: chunk r of `out` pairs with the same range of `argmax` (same length), and
        // each chunk index is visited by exactly one task.
        let arg_row = unsafe { std::slice::from_raw_parts_mut(argmax_ptr.get().add(r * row), out_row.len()) };
        let (h0, h1) = Pool2dGeometry::window(oh, g.stride_h, g.pad_top, g.pool_h, g.in_h);
        for ow in 0..g.out_w {
            let (w0, w1) = Pool2dGeometry::window(ow, g.stride_w, g.pad_left, g.pool_w, g.in_w);
            let best = &mut out_row[ow * c..(ow + 1) * c];
            let arg = &mut arg_row[ow * c..(ow + 1) * c];
            best.fill(f32::NEG_INFINITY);
            arg.fill(u32::MAX);
            for h in h0..h1 {
                for w in w0..w1 {
                    let base = ((n * g.in_h + h) * g.in_w + w) * c;
                    for ch in 0..c {
                        let v = input[base + ch];
                        // `>` keeps the first maximum; NaN propagates like TensorFlow's.
                        if v > best[ch] || (v.is_nan() && !best[ch].is_nan()) || arg[ch] == u32::MAX {
                            best[ch] = v;
                            arg[ch] = (base + ch) as u32;
                        }
                    }
                }
            }
        }
    });
}

#[derive(Clone, Copy)]
struct ArgmaxPtr(*mut u32);
impl ArgmaxPtr {
    fn get(self) -> *mut u32 {
        self.0
    }
}
// SAFETY: tasks write disjoint ranges through it (see `max_pool2d_forward`).
unsafe impl Send for ArgmaxPtr {}
unsafe impl Sync for ArgmaxPtr {}

/// `grad_input = Σ grad_out` scattered at the winners. Each task owns whole images, so
/// overlapping windows (stride < pool) accumulate without races.
pub fn max_pool2d_backward(g: &Pool2dGeometry, grad_out: &[f32], argmax: &[u32], grad_input: &mut [f32]) {
    debug_assert_eq!(grad_out.len(), argmax.len());
    let image_in = g.in_h * g.in_w * g.channels;
    let image_out = g.out_h * g.out_w * g.channels;
    parallel::for_each_chunk_mut(grad_input, image_in, |n, dst| {
        dst.fill(0.0);
        let base = n * image_in;
        for i in n * image_out..(n + 1) * image_out {
            dst[argmax[i] as usize - base] += grad_out[i];
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn naive(g: &Pool2dGeometry, x: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        for n in 0..g.batch {
            for oh in 0..g.out_h {
                for ow in 0..g.out_w {
                    for c in 0..g.channels {
                        let mut best = f32::NEG_INFINITY;
                        for ph in 0..g.pool_h {
                            for pw in 0..g.pool_w {
                                let h = (oh * g.stride_h + ph) as isize - g.pad_top as isize;
                                let w = (ow * g.stride_w + pw) as isize - g.pad_left as isize;
                                if h >= 0 && w >= 0 && (h as usize) < g.in_h && (w as usize) < g.in_w {
                                    best = best.max(x[((n * g.in_h + h as usize) * g.in_w + w as usize) * g.channels + c]);
                                }
                            }
                        }
                        out.push(best);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_for_valid_same_and_overlapping() {
        for (shape, pool, stride, pad) in [
            ([2, 6, 6, 3], (2, 2), (2, 2), Padding::Valid),
            ([2, 7, 7, 2], (3, 3), (2, 2), Padding::Same),
            ([1, 5, 4, 1], (2, 2), (1, 1), Padding::Valid),
            ([3, 5, 5, 4], (2, 3), (2, 1), Padding::Same),
        ] {
            let g = Pool2dGeometry::new(&shape, pool, stride, pad).unwrap();
            let mut r = Rng::new(3);
            let x: Vec<f32> = (0..shape.iter().product()).map(|_| r.uniform(-1.0, 1.0)).collect();
            let mut out = vec![0.0; g.output_shape().iter().product()];
            let mut arg = vec![0u32; out.len()];
            max_pool2d_forward(&g, &x, &mut out, &mut arg);
            assert_eq!(out, naive(&g, &x), "{shape:?} {pool:?} {stride:?} {pad:?}");
            assert!(arg.iter().zip(&out).all(|(&a, &o)| x[a as usize] == o));
            // Backward: each gradient lands on its winner, summed where windows overlap.
            let go: Vec<f32> = (0..out.len()).map(|i| i as f32).collect();
            let mut gi = vec![1.0; x.len()];
            max_pool2d_backward(&g, &go, &arg, &mut gi);
            let mut want = vec![0.0; x.len()];
            for (i, &a) in arg.iter().enumerate() {
                want[a as usize] += go[i];
            }
            assert_eq!(gi, want);
        }
    }

    #[test]
    fn padding_never_wins() {
        let g = Pool2dGeometry::new(&[1, 3, 3, 1], (3, 3), (2, 2), Padding::Same).unwrap();
        let x = vec![-5.0; 9];
        let mut out = vec![0.0; 4];
        let mut arg = vec![0; 4];
        max_pool2d_forward(&g, &x, &mut out, &mut arg);
        assert_eq!(out, vec![-5.0; 4]);
    }

    #[test]
    fn geometry_errors() {
        assert!(Pool2dGeometry::new(&[1, 4, 4], (2, 2), (2, 2), Padding::Valid).unwrap_err().message.contains("[1, 4, 4]"));
        let e = Pool2dGeometry::new(&[1, 2, 2, 1], (3, 3), (1, 1), Padding::Valid).unwrap_err();
        assert!(e.message.contains("larger than the input [1, 2, 2, 1]"), "{}", e.message);
        assert!(Pool2dGeometry::new(&[1, 4, 4, 1], (2, 2), (0, 1), Padding::Valid).is_err());
    }

    #[test]
    fn threads_agree_with_one_thread() {
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        let g = Pool2dGeometry::new(&[8, 26, 26, 32], (2, 2), (2, 2), Padding::Valid).unwrap();
        let mut r = Rng::new(5);
        let x: Vec<f32> = (0..8 * 26 * 26 * 32).map(|_| r.uniform(-1.0, 1.0)).collect();
        let run = || {
            let mut out = vec![0.0; g.output_shape().iter().product()];
            let mut arg = vec![0; out.len()];
            max_pool2d_forward(&g, &x, &mut out, &mut arg);
            let mut gi = vec![0.0; x.len()];
            max_pool2d_backward(&g, &out, &arg, &mut gi);
            (out, gi)
        };
        crate::parallel::set_thread_limit(Some(1));
        let one = run();
        crate::parallel::set_thread_limit(None);
        assert_eq!(one, run());
    }
}
