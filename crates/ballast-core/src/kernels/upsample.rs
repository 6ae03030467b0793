//! 2-D upsampling of NHWC images by whole factors, as Keras' `UpSampling2D` does it:
//!
//! - `nearest` repeats each row `factor_h` times and each column `factor_w` times (Keras'
//!   `ops.repeat` along both axes);
//! - `bilinear` is `tf.image.resize(..., "bilinear")` (Keras 3 calls `ops.image.resize`
//!   without antialiasing): half-pixel centers, output index `o` sampling the input at
//!   `(o + ½) / factor − ½`, clamped to the border. PyTorch's
//!   `F.interpolate(mode="bilinear", align_corners=False)` is the same map (its source index
//!   is clamped at 0, TensorFlow's neighbours are; both give the border value), which is what
//!   the golden tests compare with.
//!
//! Work is split into tasks of whole images, as for pooling: the backward passes scatter each
//! output gradient into its image's input cells in output order inside one task, so results
//! are the same bit for bit whatever the number of threads.

use crate::error::{Error, Result};
use crate::parallel;
use crate::tensor::shape_str;

/// Keras' `interpolation` of `UpSampling2D` (the two its TensorFlow backend uses most;
/// bicubic and Lanczos are not offered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    Nearest,
    Bilinear,
}

impl Interpolation {
    pub fn parse(name: &str) -> Result<Interpolation> {
        match name {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            _ => Err(Error::argument(format!("unknown interpolation '{name}' ('nearest' or 'bilinear')"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear",
        }
    }
}

/// The shapes of one upsampling: `[batch, in_h, in_w, channels]` to
/// `[batch, in_h·factor_h, in_w·factor_w, channels]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upsample2dGeometry {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub factor_h: usize,
    pub factor_w: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl Upsample2dGeometry {
    /// Checks the input (rank 4 NHWC, no zero dimension), the factors (positive) and that the
    /// output fits in memory.
    pub fn new(input_shape: &[usize], factors: (usize, usize)) -> Result<Self> {
        let &[batch, in_h, in_w, channels] = input_shape else {
            return Err(Error::shape(format!(
                "upsample2d: input must have rank 4 [batch, height, width, channels], got shape {}",
                shape_str(input_shape)
            )));
        };
        if input_shape.contains(&0) {
            return Err(Error::shape(format!(
                "upsample2d: input shape {} has a zero dimension",
                shape_str(input_shape)
            )));
        }
        let (factor_h, factor_w) = factors;
        if factor_h == 0 || factor_w == 0 {
            return Err(Error::argument(format!("upsample2d: size ({factor_h}, {factor_w}) must be positive")));
        }
        let too_big = || {
            Error::shape(format!(
                "upsample2d: upsampling {} by ({factor_h}, {factor_w}) gives more elements than memory can hold",
                shape_str(input_shape)
            ))
        };
        let out_h = in_h.checked_mul(factor_h).ok_or_else(too_big)?;
        let out_w = in_w.checked_mul(factor_w).ok_or_else(too_big)?;
        [batch, out_h, out_w, channels].iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(too_big)?;
        Ok(Upsample2dGeometry { batch, in_h, in_w, channels, factor_h, factor_w, out_h, out_w })
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.channels]
    }
    pub fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }
    pub fn out_image_len(&self) -> usize {
        self.out_h * self.out_w * self.channels
    }
    /// Images per task: about 16 tasks when the batch allows, so a pool stays balanced.
    fn images_per_task(&self) -> usize {
        self.batch.div_ceil(16)
    }

    fn check(&self, input: &[f32], out: &[f32], what: &str) {
        debug_assert_eq!(input.len(), self.batch * self.image_len(), "upsample2d {what}: input length");
        debug_assert_eq!(out.len(), self.batch * self.out_image_len(), "upsample2d {what}: output length");
    }
}

/// `out[n, y, x, c] = input[n, y / factor_h, x / factor_w, c]`.
pub fn nearest_forward(g: &Upsample2dGeometry, input: &[f32], out: &mut [f32]) {
    g.check(input, out, "nearest forward");
    let (c, images) = (g.channels, g.images_per_task());
    let (in_row, out_row) = (g.in_w * c, g.out_w * c);
    parallel::for_each_chunk_mut(out, images * g.out_image_len(), |t, out| {
        for (j, out) in out.chunks_mut(g.out_image_len()).enumerate() {
            let image = &input[(t * images + j) * g.image_len()..][..g.image_len()];
            for (src, rows) in image.chunks_exact(in_row).zip(out.chunks_exact_mut(g.factor_h * out_row)) {
                // The first copy of the row is built pixel by pixel, the others copied whole.
                let (first, rest) = rows.split_at_mut(out_row);
                for (pixel, run) in src.chunks_exact(c).zip(first.chunks_exact_mut(g.factor_w * c)) {
                    run.chunks_exact_mut(c).for_each(|dst| dst.copy_from_slice(pixel));
                }
                rest.chunks_exact_mut(out_row).for_each(|row| row.copy_from_slice(first));
            }
        }
    });
}

/// Each input cell's gradient is the sum of the `factor_h × factor_w` outputs it was copied
/// to (overwrites `grad_input`).
pub fn nearest_backward(g: &Upsample2dGeometry, grad_out: &[f32], grad_input: &mut [f32]) {
    g.check(grad_input, grad_out, "nearest backward");
    let (c, images) = (g.channels, g.images_per_task());
    let (in_row, out_row) = (g.in_w * c, g.out_w * c);
    parallel::for_each_chunk_mut(grad_input, images * g.image_len(), |t, gi| {
        gi.fill(0.0);
        for (j, gi) in gi.chunks_mut(g.image_len()).enumerate() {
            let go = &grad_out[(t * images + j) * g.out_image_len()..][..g.out_image_len()];
            for (dst, rows) in gi.chunks_exact_mut(in_row).zip(go.chunks_exact(g.factor_h * out_row)) {
                for row in rows.chunks_exact(out_row) {
                    for (acc, run) in dst.chunks_exact_mut(c).zip(row.chunks_exact(g.factor_w * c)) {
                        for d in run.chunks_exact(c) {
                            acc.iter_mut().zip(d).for_each(|(a, &v)| *a += v);
                        }
                    }
                }
            }
        }
    });
}

/// The two input cells an output index interpolates along one axis, and the weight of the
/// second (the first has `1 − w1`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tap {
    i0: usize,
    i1: usize,
    w1: f32,
}

/// Half-pixel source positions `(o + ½) / factor − ½` of every output index along an axis of
/// `size` cells, clamped to the border (computed in f64 from exact integers).
fn taps(size: usize, factor: usize) -> Vec<Tap> {
    (0..size * factor)
        .map(|o| {
            let src = ((o as f64 + 0.5) / factor as f64 - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(size - 1);
            let i1 = (i0 + 1).min(size - 1);
            Tap { i0, i1, w1: (src - i0 as f64) as f32 }
        })
        .collect()
}

/// Bilinear interpolation with half-pixel centers (TensorFlow's `resize`, PyTorch's
/// `align_corners=False`).
pub fn bilinear_forward(g: &Upsample2dGeometry, input: &[f32], out: &mut [f32]) {
    g.check(input, out, "bilinear forward");
    let (c, images) = (g.channels, g.images_per_task());
    let (rows, cols) = (taps(g.in_h, g.factor_h), taps(g.in_w, g.factor_w));
    let in_row = g.in_w * c;
    parallel::for_each_chunk_mut(out, images * g.out_image_len(), |t, out| {
        for (j, out) in out.chunks_mut(g.out_image_len()).enumerate() {
            let image = &input[(t * images + j) * g.image_len()..][..g.image_len()];
            for (ty, out_row) in rows.iter().zip(out.chunks_exact_mut(g.out_w * c)) {
                let (r0, r1) = (&image[ty.i0 * in_row..][..in_row], &image[ty.i1 * in_row..][..in_row]);
                let (h0, h1) = (1.0 - ty.w1, ty.w1);
                for (tx, dst) in cols.iter().zip(out_row.chunks_exact_mut(c)) {
                    let (w0, w1) = (1.0 - tx.w1, tx.w1);
                    let (a, b) = (&r0[tx.i0 * c..][..c], &r0[tx.i1 * c..][..c]);
                    let (p, q) = (&r1[tx.i0 * c..][..c], &r1[tx.i1 * c..][..c]);
                    for k in 0..c {
                        dst[k] = h0 * (w0 * a[k] + w1 * b[k]) + h1 * (w0 * p[k] + w1 * q[k]);
                    }
                }
            }
        }
    });
}

/// Each output gradient shared among the four input cells it interpolated, by their weights
/// (overwrites `grad_input`).
pub fn bilinear_backward(g: &Upsample2dGeometry, grad_out: &[f32], grad_input: &mut [f32]) {
    g.check(grad_input, grad_out, "bilinear backward");
    let (c, images) = (g.channels, g.images_per_task());
    let (rows, cols) = (taps(g.in_h, g.factor_h), taps(g.in_w, g.factor_w));
    let in_row = g.in_w * c;
    parallel::for_each_chunk_mut(grad_input, images * g.image_len(), |t, gi| {
        gi.fill(0.0);
        for (j, gi) in gi.chunks_mut(g.image_len()).enumerate() {
            let go = &grad_out[(t * images + j) * g.out_image_len()..][..g.out_image_len()];
            for (ty, row) in rows.iter().zip(go.chunks_exact(g.out_w * c)) {
                let (h0, h1) = (1.0 - ty.w1, ty.w1);
                for (tx, d) in cols.iter().zip(row.chunks_exact(c)) {
                    let (w0, w1) = (1.0 - tx.w1, tx.w1);
                    for (y, hy) in [(ty.i0, h0), (ty.i1, h1)] {
                        for (x, wx) in [(tx.i0, w0), (tx.i1, w1)] {
                            let weight = hy * wx;
                            let acc = &mut gi[y * in_row + x * c..][..c];
                            acc.iter_mut().zip(d).for_each(|(a, &v)| *a += weight * v);
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut r = Rng::new(seed);
        (0..len).map(|_| r.uniform(-1.0, 1.0)).collect()
    }

    /// TensorFlow's `resize_bilinear` with half-pixel centers, written as TensorFlow writes
    /// it (floor and ceil of the unclamped position, each clamped to the input, in f64), and
    /// its gradient scattered tap by tap.
    fn naive_bilinear(g: &Upsample2dGeometry, input: &[f32], grad_out: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let axis = |o: usize, factor: usize, size: usize| {
            let src = (o as f64 + 0.5) / factor as f64 - 0.5;
            let lower = (src.floor().max(0.0) as usize).min(size - 1);
            let upper = (src.ceil().max(0.0) as usize).min(size - 1);
            (lower, upper, src - src.floor())
        };
        let c = g.channels;
        let at = |n: usize, y: usize, x: usize, k: usize| ((n * g.in_h + y) * g.in_w + x) * c + k;
        let (mut out, mut gi) = (Vec::new(), vec![0.0f64; input.len()]);
        for n in 0..g.batch {
            for oy in 0..g.out_h {
                let (y0, y1, ly) = axis(oy, g.factor_h, g.in_h);
                for ox in 0..g.out_w {
                    let (x0, x1, lx) = axis(ox, g.factor_w, g.in_w);
                    for k in 0..c {
                        let v = |y, x| input[at(n, y, x, k)] as f64;
                        let top = v(y0, x0) + (v(y0, x1) - v(y0, x0)) * lx;
                        let bottom = v(y1, x0) + (v(y1, x1) - v(y1, x0)) * lx;
                        out.push(top + (bottom - top) * ly);
                        let d = grad_out[out.len() - 1] as f64;
                        gi[at(n, y0, x0, k)] += d * (1.0 - ly) * (1.0 - lx);
                        gi[at(n, y0, x1, k)] += d * (1.0 - ly) * lx;
                        gi[at(n, y1, x0, k)] += d * ly * (1.0 - lx);
                        gi[at(n, y1, x1, k)] += d * ly * lx;
                    }
                }
            }
        }
        (out, gi)
    }

    fn naive_nearest(g: &Upsample2dGeometry, input: &[f32], grad_out: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let c = g.channels;
        let at = |n: usize, y: usize, x: usize, k: usize| ((n * g.in_h + y) * g.in_w + x) * c + k;
        let (mut out, mut gi) = (Vec::new(), vec![0.0f32; input.len()]);
        for n in 0..g.batch {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for k in 0..c {
                        let i = at(n, oy / g.factor_h, ox / g.factor_w, k);
                        out.push(input[i]);
                        gi[i] += grad_out[out.len() - 1];
                    }
                }
            }
        }
        (out, gi)
    }

    fn close(what: &str, got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
            assert!((a as f64 - b).abs() <= 1e-5 * (1.0 + b.abs()), "{what}[{i}]: {a} vs {b}");
        }
    }

    #[test]
    fn forward_and_backward_match_direct_loops() {
        let shapes = [[1, 1, 1, 1], [2, 3, 4, 2], [3, 5, 2, 3], [20, 4, 3, 5], [1, 2, 7, 1]];
        let factors = [(1, 1), (2, 2), (2, 3), (3, 1), (4, 5)];
        for (s, shape) in shapes.iter().enumerate() {
            for &f in &factors {
                let g = Upsample2dGeometry::new(shape, f).unwrap();
                let input = random(g.batch * g.image_len(), s as u64);
                let grad_out = random(g.batch * g.out_image_len(), 100 + s as u64);
                let what = format!("{shape:?} x {f:?}");
                let (mut out, mut gi) = (vec![f32::NAN; grad_out.len()], vec![f32::NAN; input.len()]);
                nearest_forward(&g, &input, &mut out);
                nearest_backward(&g, &grad_out, &mut gi);
                let (want, want_gi) = naive_nearest(&g, &input, &grad_out);
                assert_eq!(out, want, "nearest {what}");
                close(&format!("nearest grad {what}"), &gi, &want_gi.iter().map(|&v| v as f64).collect::<Vec<_>>());
                bilinear_forward(&g, &input, &mut out);
                bilinear_backward(&g, &grad_out, &mut gi);
                let (want, want_gi) = naive_bilinear(&g, &input, &grad_out);
                close(&format!("bilinear {what}"), &out, &want);
                close(&format!("bilinear grad {what}"), &gi, &want_gi);
            }
        }
    }

    #[test]
    fn bilinear_by_two_is_the_quarter_three_quarter_rule() {
        // 1-D: [0, 4] by 2 → [0, 1, 3, 4] (the border value, then ¼ / ¾ mixes, then the border).
        let g = Upsample2dGeometry::new(&[1, 1, 2, 1], (1, 2)).unwrap();
        let mut out = vec![0.0; 4];
        bilinear_forward(&g, &[0.0, 4.0], &mut out);
        assert_eq!(out, [0.0, 1.0, 3.0, 4.0]);
        // Every output gradient is shared out in full.
        let mut gi = vec![0.0; 2];
        bilinear_backward(&g, &[1.0; 4], &mut gi);
        assert_eq!(gi, [2.0, 2.0]);
        assert_eq!(taps(3, 1), (0..3).map(|i| Tap { i0: i, i1: (i + 1).min(2), w1: 0.0 }).collect::<Vec<_>>());
    }

    #[test]
    fn single_thread_and_pool_agree_bitwise() {
        let g = Upsample2dGeometry::new(&[37, 6, 5, 4], (2, 3)).unwrap();
        let input = random(g.batch * g.image_len(), 7);
        let grad_out = random(g.batch * g.out_image_len(), 8);
        let run = || {
            let mut bits = Vec::new();
            for (fwd, bwd) in [
                (
                    nearest_forward as fn(&Upsample2dGeometry, &[f32], &mut [f32]),
                    nearest_backward as fn(_, &[f32], &mut [f32]),
                ),
                (bilinear_forward, bilinear_backward),
            ] {
                let (mut out, mut gi) = (vec![0.0; grad_out.len()], vec![0.0; input.len()]);
                fwd(&g, &input, &mut out);
                bwd(&g, &grad_out, &mut gi);
                bits.extend(out.iter().chain(&gi).map(|v| v.to_bits()));
            }
            bits
        };
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        parallel::set_thread_limit(Some(1));
        let one = run();
        parallel::set_thread_limit(None);
        assert_eq!(one, run());
    }

    #[test]
    fn bad_geometries_are_typed_errors() {
        use crate::ErrorKind;
        let e = Upsample2dGeometry::new(&[2, 3, 4], (2, 2)).unwrap_err();
        assert!(e.kind == ErrorKind::Shape && e.message.contains("[2, 3, 4]"), "{}", e.message);
        let e = Upsample2dGeometry::new(&[2, 0, 4, 1], (2, 2)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        let e = Upsample2dGeometry::new(&[2, 3, 4, 1], (0, 2)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Argument);
        let e = Upsample2dGeometry::new(&[2, 3, 4, 1], (usize::MAX / 2, 2)).unwrap_err();
        assert!(e.kind == ErrorKind::Shape && e.message.contains("memory"), "{}", e.message);
        assert!(Interpolation::parse("bicubic").unwrap_err().message.contains("'nearest' or 'bilinear'"));
    }
}
