//! 2-D max pooling (NHWC), with TensorFlow's padding rules: padded positions never win.
//! Average pooling ([`avg_pool2d_forward`], [`avg_pool2d_backward`]) shares the geometry.
//!
//! The forward pass records, for every output, the flat input index of its maximum; the
//! backward pass scatters the output gradient back through those indices. Work is split
//! into tasks of whole images (an index never leaves its image), so overlapping windows
//! accumulate inside one task, in output order, whatever the number of threads.

use std::sync::Mutex;

mod avg;

pub use avg::{avg_pool2d_backward, avg_pool2d_forward};

use crate::error::{Error, Result};
use crate::kernels::conv::{checked_len, valid_taps, Padding};
use crate::parallel;

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

impl Pool2dGeometry {
    /// The geometry of a max pooling: [`Pool2dGeometry::for_op`]'s checks, and few enough
    /// elements for `u32` argmax indices.
    pub fn new(input_shape: &[usize], pool: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<Self> {
        let g = Self::for_op("max_pool2d", input_shape, pool, strides, padding)?;
        if checked_len(input_shape).is_none_or(|len| len > u32::MAX as usize) {
            return Err(Error::shape(format!(
                "max_pool2d: input shape {input_shape:?} has more elements than u32 argmax indices can address"
            )));
        }
        Ok(g)
    }

    /// Validates the shapes: a rank-4 NHWC input without zero dimensions, a non-empty window
    /// that fits the (padded) input, positive strides. `op` names the pooling in errors.
    pub fn for_op(
        op: &str,
        input_shape: &[usize],
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        let &[batch, in_h, in_w, channels] = input_shape else {
            return Err(Error::shape(format!(
                "{op}: input must have rank 4 [batch, height, width, channels], got shape {input_shape:?}"
            )));
        };
        if input_shape.contains(&0) {
            return Err(Error::shape(format!("{op}: input shape {input_shape:?} has a zero dimension")));
        }
        let ((ph, pw), (sh, sw)) = (pool, strides);
        if ph == 0 || pw == 0 || sh == 0 || sw == 0 {
            return Err(Error::argument(format!(
                "{op}: pool size {ph}x{pw} and strides ({sh}, {sw}) must be positive (input shape {input_shape:?})"
            )));
        }
        if checked_len(input_shape).is_none() {
            return Err(Error::shape(format!(
                "{op}: input shape {input_shape:?} has more elements than memory can hold"
            )));
        }
        let too_big = || {
            Error::shape(format!(
                "{op}: pool size {ph}x{pw} is larger than the input {in_h}x{in_w} with {padding:?} padding (input shape {input_shape:?})"
            ))
        };
        let (out_h, pad_top) = padding.resolve(in_h, ph, sh).ok_or_else(too_big)?;
        let (out_w, pad_left) = padding.resolve(in_w, pw, sw).ok_or_else(too_big)?;
        Ok(Pool2dGeometry {
            batch,
            in_h,
            in_w,
            channels,
            pool_h: ph,
            pool_w: pw,
            stride_h: sh,
            stride_w: sw,
            pad_top,
            pad_left,
            out_h,
            out_w,
        })
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.channels]
    }

    fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }

    fn out_image_len(&self) -> usize {
        self.out_h * self.out_w * self.channels
    }

    /// Images per task: about 16 tasks when the batch allows, so a pool stays balanced.
    fn images_per_task(&self) -> usize {
        self.batch.div_ceil(16)
    }
}

/// Max pooling; padded positions never win (TF "same" semantics). argmax[i] = flat index
/// into input of the max for output i (first max wins on ties; a NaN wins over numbers).
pub fn max_pool2d_forward(g: &Pool2dGeometry, input: &[f32], out: &mut [f32], argmax: &mut [u32]) {
    debug_assert_eq!(argmax.len(), out.len(), "max_pool2d: argmax length");
    forward(g, input, out, Some(argmax));
}

/// Max pooling without the argmax a backward pass would need (inference): the same maxima,
/// without writing an index per output.
pub fn max_pool2d_inference(g: &Pool2dGeometry, input: &[f32], out: &mut [f32]) {
    forward(g, input, out, None);
}

fn forward(g: &Pool2dGeometry, input: &[f32], out: &mut [f32], argmax: Option<&mut [u32]>) {
    debug_assert_eq!(input.len(), g.batch * g.image_len(), "max_pool2d: input length");
    debug_assert_eq!(out.len(), g.batch * g.out_image_len(), "max_pool2d: output length");
    let c = g.channels;
    let chunk = g.images_per_task() * g.out_image_len();
    // Without an argmax the indices go to one row per task, overwritten pixel after pixel.
    let rows = out.len().div_ceil(chunk.max(1));
    let mut scratch = if argmax.is_none() { vec![0u32; rows * c] } else { Vec::new() };
    let (argmax, arg_chunk) = match argmax {
        Some(a) => (a, chunk),
        None => (&mut scratch[..], c),
    };
    // Each task locks only its own pair of chunks, so the locks are never contended; they
    // hand two disjoint mutable slices to a task without unsafe code.
    let tasks: Vec<Mutex<(&mut [f32], &mut [u32])>> =
        out.chunks_mut(chunk).zip(argmax.chunks_mut(arg_chunk)).map(Mutex::new).collect();
    parallel::for_each_task(tasks.len(), |t| {
        let mut guard = tasks[t].lock().unwrap_or_else(|e| e.into_inner());
        let (out, argmax) = &mut *guard;
        let per_pixel = argmax.len() == out.len();
        for (j, out) in out.chunks_mut(g.out_image_len()).enumerate() {
            let n = t * g.images_per_task() + j;
            for (i, best) in out.chunks_exact_mut(c).enumerate() {
                let at = if per_pixel { j * g.out_image_len() + i * c } else { 0 };
                let arg = &mut argmax[at..at + c];
                let (y0, x0) = (i / g.out_w * g.stride_h, i % g.out_w * g.stride_w);
                let ys = valid_taps(y0, g.pad_top, g.pool_h, g.in_h);
                let xs = valid_taps(x0, g.pad_left, g.pool_w, g.in_w);
                let mut first = true;
                for iy in y0 + ys.start - g.pad_top..y0 + ys.end - g.pad_top {
                    for ix in x0 + xs.start - g.pad_left..x0 + xs.end - g.pad_left {
                        let base = ((n * g.in_h + iy) * g.in_w + ix) * c;
                        fold(best, arg, &input[base..base + c], base as u32, first);
                        first = false;
                    }
                }
                if first {
                    // No in-image element (only in hand-made geometries): no source.
                    best.fill(0.0);
                    arg.fill(u32::MAX);
                }
            }
        }
    });
}

/// Folds one window position (`src`, whose first element has flat index `base`) into the
/// running maxima: a later element wins only if strictly larger, a NaN over a number.
///
/// Bit masks rather than `if`: LLVM vectorizes this form, in wasm too. With `if` it emits
/// a conditional store per channel instead, which random data mispredicts half the time.
#[inline]
fn fold(best: &mut [f32], arg: &mut [u32], src: &[f32], base: u32, first: bool) {
    let first = (first as u32).wrapping_neg();
    for (l, ((b, a), &v)) in best.iter_mut().zip(arg.iter_mut()).zip(src).enumerate() {
        let m = first | (((v > *b) | (v.is_nan() & !b.is_nan())) as u32).wrapping_neg();
        *b = f32::from_bits((v.to_bits() & m) | (b.to_bits() & !m));
        *a = ((base + l as u32) & m) | (*a & !m);
    }
}

/// grad_input = scatter-add of grad_out at argmax (overwrites grad_input, zero elsewhere).
/// Indices outside the input (or outside the output's own image) are ignored.
pub fn max_pool2d_backward(g: &Pool2dGeometry, grad_out: &[f32], argmax: &[u32], grad_input: &mut [f32]) {
    debug_assert_eq!(grad_out.len(), g.batch * g.out_image_len(), "max_pool2d: grad_out length");
    debug_assert_eq!(argmax.len(), grad_out.len(), "max_pool2d: argmax length");
    debug_assert_eq!(grad_input.len(), g.batch * g.image_len(), "max_pool2d: grad_input length");
    let images = g.images_per_task();
    let (in_chunk, out_chunk) = (images * g.image_len(), images * g.out_image_len());
    parallel::for_each_chunk_mut(grad_input, in_chunk, |t, gi| {
        gi.fill(0.0);
        let first = t * in_chunk;
        let outs = t * out_chunk..((t + 1) * out_chunk).min(grad_out.len());
        for (&d, &a) in grad_out[outs.clone()].iter().zip(&argmax[outs]) {
            if let Some(slot) = (a as usize).checked_sub(first).and_then(|i| gi.get_mut(i)) {
                *slot += d;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::ErrorKind;

    fn geometry(shape: &[usize], pool: (usize, usize), s: (usize, usize), p: Padding) -> Pool2dGeometry {
        Pool2dGeometry::new(shape, pool, s, p).unwrap()
    }

    /// Distinct values in random order, so no window has a tie.
    fn distinct(len: usize, seed: u64) -> Vec<f32> {
        let mut v: Vec<f32> = (0..len).map(|i| i as f32 * 0.25 - len as f32 * 0.125).collect();
        Rng::new(seed).shuffle(&mut v);
        v
    }

    /// Direct reference: every window position in order, padding skipped, first max kept.
    fn naive_forward(g: &Pool2dGeometry, input: &[f32]) -> (Vec<f32>, Vec<u32>) {
        let (mut out, mut arg) = (Vec::new(), Vec::new());
        for n in 0..g.batch {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for ch in 0..g.channels {
                        let mut best: Option<(f32, usize)> = None;
                        for ky in 0..g.pool_h {
                            for kx in 0..g.pool_w {
                                let (y, x) = (oy * g.stride_h + ky, ox * g.stride_w + kx);
                                if y < g.pad_top
                                    || x < g.pad_left
                                    || y - g.pad_top >= g.in_h
                                    || x - g.pad_left >= g.in_w
                                {
                                    continue;
                                }
                                let i = ((n * g.in_h + y - g.pad_top) * g.in_w + x - g.pad_left) * g.channels + ch;
                                if best.is_none_or(|(b, _)| input[i] > b) {
                                    best = Some((input[i], i));
                                }
                            }
                        }
                        let (b, i) = best.unwrap();
                        out.push(b);
                        arg.push(i as u32);
                    }
                }
            }
        }
        (out, arg)
    }

    fn cases() -> Vec<Pool2dGeometry> {
        use Padding::*;
        vec![
            geometry(&[1, 4, 4, 1], (2, 2), (2, 2), Valid),
            geometry(&[3, 7, 9, 5], (2, 2), (2, 2), Valid),
            geometry(&[3, 7, 9, 12], (2, 2), (2, 2), Same),
            geometry(&[2, 9, 8, 3], (3, 3), (2, 2), Valid),
            geometry(&[2, 9, 8, 3], (3, 3), (2, 2), Same),
            geometry(&[3, 6, 5, 2], (2, 2), (1, 1), Valid),
            geometry(&[3, 6, 5, 2], (2, 2), (1, 1), Same),
            geometry(&[1, 7, 8, 4], (2, 3), (1, 2), Same),
            geometry(&[1, 3, 3, 2], (5, 5), (1, 1), Same),
            geometry(&[40, 5, 6, 3], (3, 3), (2, 2), Same),
            geometry(&[2, 5, 5, 16], (3, 3), (1, 1), Same),
        ]
    }

    #[test]
    fn forward_and_backward_match_naive() {
        for (seed, g) in cases().into_iter().enumerate() {
            let mut rng = Rng::new(seed as u64);
            // Distinct values, then values from {0, 1, 2}: ties everywhere, first one wins.
            let ties: Vec<f32> = (0..g.batch * g.image_len()).map(|_| rng.below(3) as f32).collect();
            for input in [distinct(g.batch * g.image_len(), seed as u64), ties] {
                check_against_naive(&g, &input, &mut rng);
            }
        }
    }

    /// Forward values and argmax, and the backward scatter, against the direct reference.
    fn check_against_naive(g: &Pool2dGeometry, input: &[f32], rng: &mut Rng) {
        let (want, want_arg) = naive_forward(g, input);
        let (mut out, mut arg) = (vec![f32::NAN; want.len()], vec![0; want.len()]);
        max_pool2d_forward(g, input, &mut out, &mut arg);
        assert_eq!(out, want, "{g:?}");
        assert_eq!(arg, want_arg, "{g:?}");
        let mut inferred = vec![f32::NAN; want.len()];
        max_pool2d_inference(g, input, &mut inferred);
        assert_eq!(inferred, want, "inference {g:?}");

        let grad_out: Vec<f32> = (0..out.len()).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let mut want_gi = vec![0.0; input.len()];
        for (&d, &a) in grad_out.iter().zip(&want_arg) {
            want_gi[a as usize] += d;
        }
        let mut gi = vec![f32::NAN; input.len()];
        max_pool2d_backward(g, &grad_out, &arg, &mut gi);
        assert_eq!(gi, want_gi, "{g:?}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Inputs are 0.25 apart and eps is 0.01, so no perturbation changes a window's
        // maximum: the loss is locally linear and central differences are exact up to f32
        // rounding of the inputs (|x| <= 30 moves by at most 2e-6, relative error 1e-4).
        const EPS: f32 = 0.01;
        for g in [
            geometry(&[2, 7, 6, 3], (3, 3), (2, 2), Padding::Same),
            geometry(&[1, 6, 5, 2], (2, 2), (1, 1), Padding::Valid),
        ] {
            let input = distinct(g.batch * g.image_len(), 3);
            let mut rng = Rng::new(4);
            let r: Vec<f32> = (0..g.batch * g.out_image_len()).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let loss = |x: &[f32]| {
                let (mut out, mut arg) = (vec![0.0; r.len()], vec![0; r.len()]);
                max_pool2d_forward(&g, x, &mut out, &mut arg);
                out.iter().zip(&r).map(|(&o, &w)| o as f64 * w as f64).sum::<f64>()
            };
            let (mut out, mut arg) = (vec![0.0; r.len()], vec![0; r.len()]);
            max_pool2d_forward(&g, &input, &mut out, &mut arg);
            let mut gi = vec![0.0; input.len()];
            max_pool2d_backward(&g, &r, &arg, &mut gi);
            for (i, &analytic) in gi.iter().enumerate() {
                let mut x = input.clone();
                x[i] += EPS;
                let plus = loss(&x);
                x[i] = input[i] - EPS;
                let numeric = (plus - loss(&x)) / (2.0 * EPS as f64);
                assert!(
                    (numeric - analytic as f64).abs() <= 1e-3 * (1.0 + numeric.abs()),
                    "[{i}]: {analytic} vs {numeric}"
                );
            }
        }
    }

    #[test]
    fn same_padding_never_picks_padding() {
        // All inputs negative: a zero from the padding would win if it took part.
        for (pool, s) in [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 3), (1, 1)), ((2, 3), (3, 2))] {
            let g = geometry(&[2, 5, 7, 3], pool, s, Padding::Same);
            let input: Vec<f32> = distinct(g.batch * g.image_len(), 8).iter().map(|v| -1.0 - v.abs()).collect();
            let (want, want_arg) = naive_forward(&g, &input);
            let (mut out, mut arg) = (vec![0.0; want.len()], vec![0; want.len()]);
            max_pool2d_forward(&g, &input, &mut out, &mut arg);
            assert!(out.iter().all(|&v| v < 0.0), "{g:?}");
            assert_eq!((out, arg), (want, want_arg), "{g:?}");
        }
    }

    #[test]
    fn ties_and_nan() {
        // Equal values: the first window position (row-major) wins.
        let g = geometry(&[1, 4, 4, 1], (2, 2), (2, 2), Padding::Valid);
        let (mut out, mut arg) = (vec![0.0; 4], vec![0; 4]);
        max_pool2d_forward(&g, &[1.0; 16], &mut out, &mut arg);
        assert_eq!(arg, vec![0, 2, 8, 10]);
        // A NaN in a window propagates, so training notices it.
        let mut input: Vec<f32> = (0..16).map(|i| i as f32).collect();
        input[5] = f32::NAN;
        max_pool2d_forward(&g, &input, &mut out, &mut arg);
        assert!(out[0].is_nan() && arg[0] == 5);
        assert_eq!(&out[1..], &[7.0, 13.0, 15.0]);
    }

    #[test]
    fn geometry_follows_tensorflow() {
        let g = geometry(&[128, 26, 26, 32], (2, 2), (2, 2), Padding::Valid);
        assert_eq!(g.output_shape(), [128, 13, 13, 32]);
        let g = geometry(&[128, 11, 11, 64], (2, 2), (2, 2), Padding::Valid);
        assert_eq!(g.output_shape(), [128, 5, 5, 64]);
        let g = geometry(&[1, 11, 11, 1], (2, 2), (2, 2), Padding::Same);
        assert_eq!((g.out_h, g.pad_top, g.out_w, g.pad_left), (6, 0, 6, 0));
        let g = geometry(&[1, 6, 7, 1], (3, 3), (2, 2), Padding::Same);
        assert_eq!((g.out_h, g.pad_top, g.out_w, g.pad_left), (3, 0, 4, 1));
    }

    #[test]
    fn bad_geometry_is_an_error() {
        let err = |shape: &[usize], pool, s, p| Pool2dGeometry::new(shape, pool, s, p).unwrap_err();
        let e = err(&[4, 4, 1], (2, 2), (2, 2), Padding::Valid);
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("rank 4") && e.message.contains("[4, 4, 1]"), "{}", e.message);
        let e = err(&[1, 4, 2, 1], (3, 3), (1, 1), Padding::Valid);
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("3x3") && e.message.contains("[1, 4, 2, 1]"), "{}", e.message);
        let e = err(&[1, 4, 4, 1], (2, 2), (2, 0), Padding::Same);
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(e.message.contains("(2, 0)") && e.message.contains("[1, 4, 4, 1]"), "{}", e.message);
        assert_eq!(err(&[1, 4, 4, 1], (0, 2), (1, 1), Padding::Same).kind, ErrorKind::Argument);
        assert_eq!(err(&[2, 0, 4, 1], (2, 2), (1, 1), Padding::Same).kind, ErrorKind::Shape);
        assert_eq!(err(&[1 << 16, 1 << 8, 1 << 8, 2], (2, 2), (2, 2), Padding::Valid).kind, ErrorKind::Shape);
    }

    #[test]
    fn single_thread_and_pool_agree_bitwise() {
        let g = geometry(&[37, 12, 11, 8], (3, 3), (1, 1), Padding::Same);
        let mut rng = Rng::new(6);
        // Few distinct values: many ties, and overlapping windows share maxima.
        let input: Vec<f32> = (0..g.batch * g.image_len()).map(|_| rng.below(5) as f32).collect();
        let grad_out: Vec<f32> = (0..g.batch * g.out_image_len()).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let run = || {
            let (mut out, mut arg) = (vec![0.0; grad_out.len()], vec![0; grad_out.len()]);
            max_pool2d_forward(&g, &input, &mut out, &mut arg);
            let mut gi = vec![0.0; input.len()];
            max_pool2d_backward(&g, &grad_out, &arg, &mut gi);
            (out, arg, gi)
        };
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        parallel::set_thread_limit(Some(1));
        let one = run();
        parallel::set_thread_limit(None);
        assert_eq!(one, run());
    }

    /// `cargo test -p ballast-core --release pool_timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn pool_timing() {
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        for threads in [Some(1), None] {
            parallel::set_thread_limit(threads);
            for shape in [[128, 26, 26, 32], [128, 11, 11, 64]] {
                let g = geometry(&shape, (2, 2), (2, 2), Padding::Valid);
                let input = distinct(g.batch * g.image_len(), 1);
                let len = g.batch * g.out_image_len();
                let (mut out, mut arg, mut gi) = (vec![0.0; len], vec![0; len], vec![0.0; input.len()]);
                let best = |f: &mut dyn FnMut()| {
                    (0..6)
                        .map(|_| {
                            let t = std::time::Instant::now();
                            f();
                            t.elapsed().as_secs_f64() * 1e3
                        })
                        .fold(f64::INFINITY, f64::min)
                };
                let fwd = best(&mut || max_pool2d_forward(&g, &input, &mut out, &mut arg));
                let bwd = best(&mut || max_pool2d_backward(&g, &out, &arg, &mut gi));
                println!(
                    "max_pool 2x2 {shape:?} threads={}: forward {fwd:.2} ms, backward {bwd:.2} ms",
                    parallel::threads()
                );
            }
        }
        parallel::set_thread_limit(None);
    }
}
