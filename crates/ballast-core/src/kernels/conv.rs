//! Conv2D kernels (NHWC input, HWIO filter `[kh, kw, in_c, out_c]`, bias `[out_c]`).
//!
//! All three passes are lowered to [`gemm`] through im2col (Chellapilla, Puri & Simard,
//! "High Performance Convolutional Neural Networks for Document Processing", 2006): each
//! output pixel becomes a row of `kh*kw*in_c` input values, so with `M = batch*out_h*out_w`
//!
//! - forward:         `out [M, out_c]      = cols [M, K] · filter [K, out_c]`
//! - backward input:  `cols [M, K]         = grad_out [M, out_c] · filterᵀ`, then col2im
//! - backward filter: `grad_filter [K, out_c] = colsᵀ · grad_out [M, out_c]`
//!
//! The work is split into tasks of whole images, so the column buffer of a task stays
//! bounded and tasks write disjoint parts of the output (col2im scatters only inside the
//! task's images). The split depends on the shapes only, never on the thread count, so the
//! results are bitwise the same for any pool size.

use std::cell::Cell;

use crate::error::{Error, Result};
use crate::kernels::gemm::{gemm, Gemm};
use crate::parallel;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
}

impl Padding {
    /// Parses Keras' spelling ("valid" / "same"; case is ignored, as Keras does).
    pub fn parse(s: &str) -> Result<Padding> {
        if s.eq_ignore_ascii_case("valid") {
            Ok(Padding::Valid)
        } else if s.eq_ignore_ascii_case("same") {
            Ok(Padding::Same)
        } else {
            Err(Error::argument(format!("padding must be \"valid\" or \"same\", got {s:?}")))
        }
    }

    /// Output size and padding before the input along one axis (TensorFlow's rules), or
    /// `None` when a valid window does not fit. Expects `input, k, stride > 0`.
    pub(crate) fn resolve(self, input: usize, k: usize, stride: usize) -> Option<(usize, usize)> {
        match self {
            Padding::Valid if k > input => None,
            Padding::Valid => Some(((input - k) / stride + 1, 0)),
            Padding::Same => {
                let out = input.div_ceil(stride);
                let total = ((out - 1) * stride).saturating_add(k).saturating_sub(input);
                Some((out, total / 2))
            }
        }
    }
}

/// Product of `dims`, or `None` when it does not fit in `usize` (32 bits on wasm32).
pub(crate) fn checked_len(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub out_c: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl Conv2dGeometry {
    /// Validates the shapes: a rank-4 NHWC input without zero dimensions, a non-empty
    /// kernel that fits the (padded) input, positive strides and filter count.
    pub fn new(
        input_shape: &[usize],
        kernel: (usize, usize),
        out_c: usize,
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        let &[batch, in_h, in_w, in_c] = input_shape else {
            return Err(Error::shape(format!(
                "conv2d: input must have rank 4 [batch, height, width, channels], got shape {input_shape:?}"
            )));
        };
        if input_shape.contains(&0) {
            return Err(Error::shape(format!("conv2d: input shape {input_shape:?} has a zero dimension")));
        }
        let ((kh, kw), (sh, sw)) = (kernel, strides);
        if kh == 0 || kw == 0 || out_c == 0 {
            return Err(Error::argument(format!(
                "conv2d: kernel {kh}x{kw} and filters {out_c} must be positive (input shape {input_shape:?})"
            )));
        }
        if sh == 0 || sw == 0 {
            return Err(Error::argument(format!(
                "conv2d: strides ({sh}, {sw}) must be positive (input shape {input_shape:?})"
            )));
        }
        let too_big = || {
            Error::shape(format!(
                "conv2d: kernel {kh}x{kw} is larger than the input {in_h}x{in_w} with {padding:?} padding (input shape {input_shape:?})"
            ))
        };
        let (out_h, pad_top) = padding.resolve(in_h, kh, sh).ok_or_else(too_big)?;
        let (out_w, pad_left) = padding.resolve(in_w, kw, sw).ok_or_else(too_big)?;
        let g = Conv2dGeometry {
            batch, in_h, in_w, in_c, out_c, kh, kw, stride_h: sh, stride_w: sw, pad_top, pad_left, out_h, out_w,
        };
        let sizes = [&input_shape[..], &g.output_shape()[..], &[kh, kw, in_c, out_c][..], &[kh, kw, in_c, 4][..]];
        if sizes.iter().any(|dims| checked_len(dims).is_none()) {
            return Err(Error::shape(format!(
                "conv2d: input shape {input_shape:?} with kernel {kh}x{kw} and {out_c} filters is too large"
            )));
        }
        Ok(g)
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.out_c]
    }

    /// `kh*kw*in_c*out_c`.
    pub fn filter_len(&self) -> usize {
        self.patch_len() * self.out_c
    }

    /// Length of one im2col row: the GEMM depth `K`.
    fn patch_len(&self) -> usize {
        self.kh * self.kw * self.in_c
    }

    fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.in_c
    }

    fn out_pixels(&self) -> usize {
        self.out_h * self.out_w
    }

    /// A 1x1, stride-1 convolution: the input already is the column matrix.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride_h == 1 && self.stride_w == 1 && self.pad_top == 0 && self.pad_left == 0
    }
}

/// Column-buffer floats per task (1 MiB): small enough to stay in L2/L3 between im2col
/// and packing, large enough that repacking the filter per GEMM call is amortized.
const COL_BUDGET: usize = 1 << 18;
/// Tasks to aim for when the batch allows it, so a pool of several threads stays balanced.
const MIN_TASKS: usize = 16;

/// How the work is split: tasks of `images` whole images, each processed in GEMM calls of
/// at most `rows` output pixels (fewer than one image only for large images).
#[derive(Clone, Copy, Debug)]
struct Plan {
    images: usize,
    rows: usize,
}

fn plan(g: &Conv2dGeometry) -> Plan {
    let budget = match (EXPERIMENT.load(std::sync::atomic::Ordering::Relaxed) >> 4) & 15 { 0 => COL_BUDGET, x => 1 << (12 + x) };
    let rows_budget = (budget / g.patch_len()).max(1);
    let pixels = g.out_pixels();
    if pixels > rows_budget {
        return Plan { images: 1, rows: rows_budget };
    }
    let mt = match EXPERIMENT.load(std::sync::atomic::Ordering::Relaxed) >> 8 { 0 => MIN_TASKS, x => 1 << x };
    let images = (rows_budget / pixels).min(g.batch.div_ceil(mt)).max(1);
    Plan { images, rows: images * pixels }
}

thread_local! {
    /// Column buffer reused between calls on the same thread; taken out while in use, so a
    /// task started on this thread while another waits in a nested join gets its own.
    static COLS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

fn with_cols<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = COLS.with(Cell::take);
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = f(&mut buf[..len]);
    COLS.with(|c| c.set(buf));
    r
}

/// The taps `k` of a window starting at padded position `x0` that fall inside the input.
#[inline]
fn valid_taps(x0: usize, pad: usize, k: usize, size: usize) -> std::ops::Range<usize> {
    let lo = pad.saturating_sub(x0).min(k);
    let hi = (size + pad).saturating_sub(x0).min(k);
    lo..hi.max(lo)
}

/// Where the im2col row of output pixel `p` (flat over `batch*out_h*out_w`) comes from.
enum Window {
    /// Entirely inside the input: patch element `q` is `input[base + offsets[q]]`.
    Inside { base: usize },
    /// Touches the padding: runs `(offset in the patch, offset in the input, length)` of
    /// in-image taps, one per kernel row that exists; the rest of the patch is padding.
    Border,
}

/// Lays out the patch: `offsets[q]` is the input offset of patch element `q` from the
/// window's first element, and runs of `kw*in_c` floats are contiguous in the input.
struct Patch {
    offsets: Vec<usize>,
    run: usize,
    row_stride: usize,
}

impl Patch {
    fn new(g: &Conv2dGeometry) -> Patch {
        let (run, row_stride) = (g.kw * g.in_c, g.in_w * g.in_c);
        let offsets = (0..g.patch_len()).map(|q| q / run * row_stride + q % run).collect();
        Patch { offsets, run, row_stride }
    }

    fn window(g: &Conv2dGeometry, p: usize) -> (Window, usize, usize, usize) {
        let pixels = g.out_pixels();
        let (n, rem) = (p / pixels, p % pixels);
        let (y0, x0) = (rem / g.out_w * g.stride_h, rem % g.out_w * g.stride_w);
        let inside = |x0: usize, pad: usize, k: usize, size: usize| x0 >= pad && x0 + k <= size + pad;
        if inside(y0, g.pad_top, g.kh, g.in_h) && inside(x0, g.pad_left, g.kw, g.in_w) {
            let base = ((n * g.in_h + y0 - g.pad_top) * g.in_w + x0 - g.pad_left) * g.in_c;
            (Window::Inside { base }, n, y0, x0)
        } else {
            (Window::Border, n, y0, x0)
        }
    }

    /// Calls `f(offset in the patch, offset in the input, length)` for each run of in-image
    /// taps of a border window.
    fn border_runs(g: &Conv2dGeometry, n: usize, y0: usize, x0: usize, mut f: impl FnMut(usize, usize, usize)) {
        let taps = valid_taps(x0, g.pad_left, g.kw, g.in_w);
        if taps.is_empty() {
            return;
        }
        for ky in valid_taps(y0, g.pad_top, g.kh, g.in_h) {
            let (iy, ix) = (y0 + ky - g.pad_top, x0 + taps.start - g.pad_left);
            let src = ((n * g.in_h + iy) * g.in_w + ix) * g.in_c;
            f((ky * g.kw + taps.start) * g.in_c, src, taps.len() * g.in_c);
        }
    }
}

/// Runs shorter than this are moved element by element: a call to memcpy (memory.copy in
/// wasm) per run of a few floats costs more than the copy (the first layer has runs of 3).
const SHORT_RUN: usize = 16;

/// Writes the im2col rows of output pixels `rows` into `cols` (`rows.len() * K` floats).
fn im2col(g: &Conv2dGeometry, input: &[f32], rows: std::ops::Range<usize>, cols: &mut [f32]) {
    let patch = Patch::new(g);
    for (dst, p) in cols.chunks_exact_mut(g.patch_len()).zip(rows) {
        match Patch::window(g, p) {
            (Window::Inside { base }, ..) if patch.run < SHORT_RUN => {
                for (d, &o) in dst.iter_mut().zip(&patch.offsets) {
                    *d = input[base + o];
                }
            }
            (Window::Inside { base }, ..) => {
                for (ky, d) in dst.chunks_exact_mut(patch.run).enumerate() {
                    d.copy_from_slice(&input[base + ky * patch.row_stride..][..patch.run]);
                }
            }
            (Window::Border, n, y0, x0) => {
                dst.fill(0.0);
                Patch::border_runs(g, n, y0, x0, |off, src, len| {
                    dst[off..off + len].copy_from_slice(&input[src..src + len]);
                });
            }
        }
    }
}

/// Adds the im2col rows `cols` of output pixels `rows` back onto their input positions;
/// `grad_input` holds the images from `first_image` on.
fn col2im(g: &Conv2dGeometry, cols: &[f32], rows: std::ops::Range<usize>, first_image: usize, grad_input: &mut [f32]) {
    let patch = Patch::new(g);
    let shift = first_image * g.image_len();
    let add = |dst: &mut [f32], src: &[f32]| dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
    for (src, p) in cols.chunks_exact(g.patch_len()).zip(rows) {
        match Patch::window(g, p) {
            (Window::Inside { base }, ..) if patch.run < SHORT_RUN => {
                for (&s, &o) in src.iter().zip(&patch.offsets) {
                    grad_input[base - shift + o] += s;
                }
            }
            (Window::Inside { base }, ..) => {
                for (ky, s) in src.chunks_exact(patch.run).enumerate() {
                    add(&mut grad_input[base - shift + ky * patch.row_stride..][..patch.run], s);
                }
            }
            (Window::Border, n, y0, x0) => {
                Patch::border_runs(g, n, y0, x0, |off, at, len| {
                    add(&mut grad_input[at - shift..at - shift + len], &src[off..off + len]);
                });
            }
        }
    }
}

fn run_gemm(shape: Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    gemm(shape, a, b, c).expect("conv2d: operand lengths follow from the geometry");
}

/// Depths up to which the small-K kernel replaces `gemm`: there, packing costs about as
/// much as the arithmetic (the first layer of a CNN has K = 3*3*1 = 9).
const SMALL_K: usize = 32;
pub static EXPERIMENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
fn exp(bit: usize) -> bool { EXPERIMENT.load(std::sync::atomic::Ordering::Relaxed) & bit != 0 }
/// Register tile of the small-K kernel, the same as the GEMM micro-kernel's.
const TR: usize = 4;
const TC: usize = 8;

/// `C [m, n] += Σ_p A(i, p)·B(p, j)` with `A(i, p) = a[i*a_lane + p*a_step]` and
/// `B(p, j) = b[p*b_step + j]`: a GEMM that reads its operands in place instead of packing
/// them. `a_lane = k, a_step = 1` is `A·B`; `a_lane = 1, a_step = m` is `Aᵀ·B`.
#[allow(clippy::too_many_arguments)]
fn gemm_strided(m: usize, n: usize, k: usize, a: &[f32], a_lane: usize, a_step: usize, b: &[f32], b_step: usize, c: &mut [f32]) {
    for i0 in (0..m).step_by(TR) {
        for j0 in (0..n).step_by(TC) {
            let (mr, nr) = (TR.min(m - i0), TC.min(n - j0));
            let a = &a[i0 * a_lane..];
            let b = &b[j0..];
            if mr < TR || nr < TC {
                for i in 0..mr {
                    for j in 0..nr {
                        let s: f32 = (0..k).map(|p| a[i * a_lane + p * a_step] * b[p * b_step + j]).sum();
                        c[(i0 + i) * n + j0 + j] += s;
                    }
                }
                continue;
            }
            // Fixed-size tiles that LLVM keeps in registers and vectorizes (two f32x4 per row).
            let mut acc = [[0.0f32; TC]; TR];
            if exp(16) {
                if a_step == 1 {
                    let rows: [&[f32]; TR] = std::array::from_fn(|i| &a[i * a_lane..][..k]);
                    for (p, bp) in b.chunks(b_step).take(k).enumerate() {
                        let bp: &[f32; TC] = bp[..TC].try_into().unwrap();
                        let av: [f32; TR] = std::array::from_fn(|i| rows[i][p]);
                        for (row, &x) in acc.iter_mut().zip(&av) {
                            for (y, &bv) in row.iter_mut().zip(bp) {
                                *y += x * bv;
                            }
                        }
                    }
                } else {
                    for (ap, bp) in a.chunks(a_step).zip(b.chunks(b_step)).take(k) {
                        let bp: &[f32; TC] = bp[..TC].try_into().unwrap();
                        let av: &[f32; TR] = ap[..TR].try_into().unwrap();
                        for (row, &x) in acc.iter_mut().zip(av) {
                            for (y, &bv) in row.iter_mut().zip(bp) {
                                *y += x * bv;
                            }
                        }
                    }
                }
            } else {
            for p in 0..k {
                let bp: &[f32; TC] = b[p * b_step..][..TC].try_into().unwrap();
                for (i, row) in acc.iter_mut().enumerate() {
                    let av = a[i * a_lane + p * a_step];
                    for (x, &bv) in row.iter_mut().zip(bp) {
                        *x += av * bv;
                    }
                }
            }
            }
            for (i, row) in acc.iter().enumerate() {
                for (x, v) in c[(i0 + i) * n + j0..][..TC].iter_mut().zip(row) {
                    *x += v;
                }
            }
        }
    }
}

/// out = conv(input, filter) + bias   (overwrites out; lengths checked with debug_assert,
/// callers validate).
pub fn conv2d_forward(g: &Conv2dGeometry, input: &[f32], filter: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    debug_check(g, input.len(), filter.len(), out.len());
    debug_assert!(bias.is_none_or(|b| b.len() == g.out_c));
    let (k, oc, pixels) = (g.patch_len(), g.out_c, g.out_pixels());
    let plan = plan(g);
    parallel::for_each_chunk_mut(out, plan.images * pixels * oc, |t, out| {
        let first_row = t * plan.images * pixels;
        let rows = out.len() / oc;
        with_cols(plan.rows.min(rows) * k, |cols| {
            for r0 in (0..rows).step_by(plan.rows) {
                let r1 = (r0 + plan.rows).min(rows);
                let dst = &mut out[r0 * oc..r1 * oc];
                // The bias goes in first and the GEMM accumulates onto it: one pass over out.
                match bias {
                    Some(b) => dst.chunks_exact_mut(oc).for_each(|row| row.copy_from_slice(b)),
                    None => dst.fill(0.0),
                }
                let shape = Gemm::new(r1 - r0, oc, k).accumulate(true);
                let (p0, p1) = (first_row + r0, first_row + r1);
                let cols = if g.is_pointwise() {
                    &input[p0 * k..p1 * k]
                } else {
                    let cols = &mut cols[..(r1 - r0) * k];
                    if !exp(4) { im2col(g, input, p0..p1, cols); }
                    &*cols
                };
                if exp(8) {} else if k <= SMALL_K && !exp(1) {
                    gemm_strided(r1 - r0, oc, k, cols, k, 1, filter, oc, dst);
                } else {
                    run_gemm(shape, cols, filter, dst);
                }
            }
        })
    });
}

/// grad_input = dL/dinput (overwrites).
pub fn conv2d_backward_input(g: &Conv2dGeometry, grad_out: &[f32], filter: &[f32], grad_input: &mut [f32]) {
    debug_check(g, grad_input.len(), filter.len(), grad_out.len());
    let (k, oc, pixels) = (g.patch_len(), g.out_c, g.out_pixels());
    let plan = plan(g);
    parallel::for_each_chunk_mut(grad_input, plan.images * g.image_len(), |t, gi| {
        let first_image = t * plan.images;
        let first_row = first_image * pixels;
        let rows = gi.len() / g.image_len() * pixels;
        // filter is [K, out_c], i.e. filterᵀ stored transposed.
        if g.is_pointwise() {
            let shape = Gemm::new(rows, k, oc).trans_b(true);
            return run_gemm(shape, &grad_out[first_row * oc..(first_row + rows) * oc], filter, gi);
        }
        gi.fill(0.0);
        with_cols(plan.rows.min(rows) * k, |cols| {
            for r0 in (0..rows).step_by(plan.rows) {
                let r1 = (r0 + plan.rows).min(rows);
                let (p0, p1) = (first_row + r0, first_row + r1);
                let cols = &mut cols[..(r1 - r0) * k];
                run_gemm(Gemm::new(r1 - r0, k, oc).trans_b(true), &grad_out[p0 * oc..p1 * oc], filter, cols);
                col2im(g, cols, p0..p1, first_image, gi);
            }
        })
    });
}

thread_local! {
    /// Partial sums of the filter gradient, reused on the calling thread.
    static PARTIALS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// grad_filter = dL/dfilter (overwrites).
pub fn conv2d_backward_filter(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    debug_check(g, input.len(), grad_filter.len(), grad_out.len());
    let (k, oc, pixels) = (g.patch_len(), g.out_c, g.out_pixels());
    let plan = plan(g);
    let tasks = g.batch.div_ceil(plan.images);
    let flen = g.filter_len();
    // Each task sums its images into its own slot; the slots are then added in task order,
    // so the result does not depend on which thread ran what.
    let mut partials = PARTIALS.with(Cell::take);
    partials.clear();
    partials.resize(tasks * flen, 0.0);
    // With gemm, each slot holds grad_filterᵀ [out_c, K] = grad_outᵀ · cols: packing then
    // copies whole rows of cols instead of gathering four floats at a time from each.
    let small = k <= SMALL_K && !exp(1);
    let tr = !exp(2);
    parallel::for_each_chunk_mut(&mut partials, flen, |t, part| {
        let first_row = t * plan.images * pixels;
        let rows = (g.batch - t * plan.images).min(plan.images) * pixels;
        with_cols(plan.rows.min(rows) * k, |cols| {
            for r0 in (0..rows).step_by(plan.rows) {
                let r1 = (r0 + plan.rows).min(rows);
                let (p0, p1) = (first_row + r0, first_row + r1);
                let go = &grad_out[p0 * oc..p1 * oc];
                let cols = if g.is_pointwise() {
                    &input[p0 * k..p1 * k]
                } else {
                    let cols = &mut cols[..(r1 - r0) * k];
                    im2col(g, input, p0..p1, cols);
                    &*cols
                };
                if small {
                    // Blocks of rows, so the slices of cols and grad_out that each register
                    // tile reads stay in L1 for the next tile.
                    for b0 in (0..r1 - r0).step_by(256) {
                        let b1 = (b0 + 256).min(r1 - r0);
                        let (a, go) = (&cols[b0 * k..b1 * k], &go[b0 * oc..b1 * oc]);
                        gemm_strided(k, oc, b1 - b0, a, 1, k, go, oc, part);
                    }
                } else {
                    if tr { run_gemm(Gemm::new(oc, k, r1 - r0).trans_a(true).accumulate(r0 > 0), go, cols, part); }
                    else { run_gemm(Gemm::new(k, oc, r1 - r0).trans_a(true).accumulate(r0 > 0), cols, go, part); }
                }
            }
        })
    });
    let (sum, rest) = partials.split_at_mut(flen);
    let rest = &*rest;
    parallel::for_each_chunk_mut(sum, 4096, |c, dst| {
        let off = c * 4096;
        for part in rest.chunks_exact(flen) {
            for (d, s) in dst.iter_mut().zip(&part[off..]) {
                *d += s;
            }
        }
    });
    if small || !tr {
        grad_filter.copy_from_slice(&partials[..flen]);
    } else {
        for (j, row) in partials[..flen].chunks_exact(k).enumerate() {
            for (t, &v) in row.iter().enumerate() {
                grad_filter[t * oc + j] = v;
            }
        }
    }
    PARTIALS.with(|c| c.set(partials));
}

/// grad_bias[c] = sum over n,h,w of grad_out (overwrites).
pub fn conv2d_backward_bias(g: &Conv2dGeometry, grad_out: &[f32], grad_bias: &mut [f32]) {
    debug_assert_eq!(grad_out.len(), g.batch * g.out_pixels() * g.out_c);
    debug_assert_eq!(grad_bias.len(), g.out_c);
    let oc = g.out_c;
    // Fixed blocks of rows, each summed on its own, then added in order (deterministic).
    const ROWS: usize = 2048;
    let blocks = (grad_out.len() / oc).div_ceil(ROWS).max(1);
    let mut partials = vec![0.0f32; blocks * oc];
    parallel::for_each_chunk_mut(&mut partials, oc, |b, acc| {
        let end = ((b + 1) * ROWS * oc).min(grad_out.len());
        for row in grad_out[b * ROWS * oc..end].chunks_exact(oc) {
            for (a, v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    });
    grad_bias.fill(0.0);
    for part in partials.chunks_exact(oc) {
        for (d, s) in grad_bias.iter_mut().zip(part) {
            *d += s;
        }
    }
}

fn debug_check(g: &Conv2dGeometry, input: usize, filter: usize, out: usize) {
    debug_assert_eq!(input, g.batch * g.image_len(), "conv2d: input length");
    debug_assert_eq!(filter, g.filter_len(), "conv2d: filter length");
    debug_assert_eq!(out, g.batch * g.out_pixels() * g.out_c, "conv2d: output length");
}

/// Calls `f(output index, input index, filter index)` for every in-image tap: the seven
/// loops of a direct convolution, shared by the reference implementations.
fn naive_taps(g: &Conv2dGeometry, mut f: impl FnMut(usize, usize, usize)) {
    for n in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let out_row = ((n * g.out_h + oy) * g.out_w + ox) * g.out_c;
                for oc in 0..g.out_c {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let (y, x) = (oy * g.stride_h + ky, ox * g.stride_w + kx);
                            if y < g.pad_top || x < g.pad_left || y - g.pad_top >= g.in_h || x - g.pad_left >= g.in_w {
                                continue;
                            }
                            let (iy, ix) = (y - g.pad_top, x - g.pad_left);
                            for ic in 0..g.in_c {
                                let i = ((n * g.in_h + iy) * g.in_w + ix) * g.in_c + ic;
                                let w = ((ky * g.kw + kx) * g.in_c + ic) * g.out_c + oc;
                                f(out_row + oc, i, w);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Reference forward pass (direct seven-loop convolution).
pub fn conv2d_forward_naive(g: &Conv2dGeometry, input: &[f32], filter: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = bias.map_or(0.0, |b| b[i % g.out_c]);
    }
    naive_taps(g, |o, i, w| out[o] += input[i] * filter[w]);
}

/// Reference input gradient.
pub fn conv2d_backward_input_naive(g: &Conv2dGeometry, grad_out: &[f32], filter: &[f32], grad_input: &mut [f32]) {
    grad_input.fill(0.0);
    naive_taps(g, |o, i, w| grad_input[i] += grad_out[o] * filter[w]);
}

/// Reference filter gradient.
pub fn conv2d_backward_filter_naive(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    grad_filter.fill(0.0);
    naive_taps(g, |o, i, w| grad_filter[w] += input[i] * grad_out[o]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::ErrorKind;

    fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
    }

    fn geometry(shape: &[usize], k: (usize, usize), oc: usize, s: (usize, usize), p: Padding) -> Conv2dGeometry {
        Conv2dGeometry::new(shape, k, oc, s, p).unwrap()
    }

    /// Sums of `terms` products of values in [-1, 1], added in different orders.
    fn assert_close(got: &[f32], want: &[f32], terms: usize, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let tol = 1e-5 * (terms as f32).sqrt().max(1.0) * 4.0;
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}: [{i}] = {g}, expected {w}");
        }
    }

    struct Case {
        g: Conv2dGeometry,
        input: Vec<f32>,
        filter: Vec<f32>,
        bias: Vec<f32>,
        grad_out: Vec<f32>,
    }

    impl Case {
        fn new(g: Conv2dGeometry, seed: u64) -> Case {
            let mut rng = Rng::new(seed);
            let input = random(&mut rng, g.batch * g.image_len());
            let filter = random(&mut rng, g.filter_len());
            let bias = random(&mut rng, g.out_c);
            let grad_out = random(&mut rng, g.output_shape().iter().product());
            Case { g, input, filter, bias, grad_out }
        }

        /// (forward, backward input, backward filter, backward bias) of the blocked kernels.
        fn blocked(&self) -> [Vec<f32>; 4] {
            let g = &self.g;
            let mut out = vec![f32::NAN; self.grad_out.len()];
            let mut gi = vec![f32::NAN; self.input.len()];
            let mut gf = vec![f32::NAN; self.filter.len()];
            let mut gb = vec![f32::NAN; g.out_c];
            conv2d_forward(g, &self.input, &self.filter, Some(&self.bias), &mut out);
            conv2d_backward_input(g, &self.grad_out, &self.filter, &mut gi);
            conv2d_backward_filter(g, &self.input, &self.grad_out, &mut gf);
            conv2d_backward_bias(g, &self.grad_out, &mut gb);
            [out, gi, gf, gb]
        }
    }

    fn cases() -> Vec<Conv2dGeometry> {
        use Padding::*;
        vec![
            geometry(&[1, 5, 5, 1], (3, 3), 2, (1, 1), Valid),
            geometry(&[3, 7, 6, 2], (3, 3), 4, (1, 1), Same),
            geometry(&[3, 9, 8, 3], (3, 3), 5, (2, 2), Same),
            geometry(&[3, 9, 8, 3], (3, 3), 5, (2, 2), Valid),
            geometry(&[1, 9, 7, 3], (5, 5), 3, (2, 1), Valid),
            geometry(&[2, 11, 13, 1], (5, 5), 4, (1, 1), Same),
            geometry(&[3, 6, 7, 2], (2, 3), 3, (1, 2), Same),
            geometry(&[1, 7, 5, 2], (2, 3), 3, (2, 1), Valid),
            geometry(&[1, 8, 8, 4], (1, 1), 6, (1, 1), Valid),
            geometry(&[3, 7, 7, 3], (1, 1), 2, (2, 2), Same),
            geometry(&[3, 10, 10, 8], (3, 3), 16, (1, 1), Valid),
            geometry(&[3, 28, 28, 1], (3, 3), 32, (1, 1), Valid),
            // Tasks of several images, the last one short.
            geometry(&[40, 5, 5, 2], (3, 3), 3, (1, 1), Same),
            // One image larger than a column buffer: several GEMM calls per image.
            geometry(&[2, 24, 24, 64], (3, 3), 4, (1, 1), Same),
        ]
    }

    #[test]
    fn blocked_matches_naive() {
        for (i, g) in cases().into_iter().enumerate() {
            let c = Case::new(g, i as u64);
            let [out, gi, gf, gb] = c.blocked();
            let mut want = vec![0.0; out.len()];
            conv2d_forward_naive(&g, &c.input, &c.filter, Some(&c.bias), &mut want);
            assert_close(&out, &want, g.patch_len(), &format!("forward {g:?}"));
            let mut want = vec![f32::NAN; gi.len()];
            conv2d_backward_input_naive(&g, &c.grad_out, &c.filter, &mut want);
            assert_close(&gi, &want, g.kh * g.kw * g.out_c, &format!("backward input {g:?}"));
            let mut want = vec![f32::NAN; gf.len()];
            conv2d_backward_filter_naive(&g, &c.input, &c.grad_out, &mut want);
            assert_close(&gf, &want, g.batch * g.out_pixels(), &format!("backward filter {g:?}"));
            let mut want = vec![0.0; g.out_c];
            for (j, v) in c.grad_out.iter().enumerate() {
                want[j % g.out_c] += v;
            }
            assert_close(&gb, &want, g.batch * g.out_pixels(), &format!("backward bias {g:?}"));
        }
    }

    #[test]
    fn forward_without_bias() {
        let g = geometry(&[2, 6, 5, 3], (3, 2), 4, (1, 1), Padding::Same);
        let c = Case::new(g, 11);
        let mut got = vec![f32::NAN; c.grad_out.len()];
        let mut want = vec![f32::NAN; c.grad_out.len()];
        conv2d_forward(&g, &c.input, &c.filter, None, &mut got);
        conv2d_forward_naive(&g, &c.input, &c.filter, None, &mut want);
        assert_close(&got, &want, g.patch_len(), "forward without bias");
    }

    /// L = Σ out·grad_out, so dL/dθ is what the backward kernels compute for that grad_out.
    fn loss(c: &Case, input: &[f32], filter: &[f32], bias: &[f32]) -> f64 {
        let mut out = vec![0.0; c.grad_out.len()];
        conv2d_forward_naive(&c.g, input, filter, Some(bias), &mut out);
        out.iter().zip(&c.grad_out).map(|(&o, &r)| o as f64 * r as f64).sum()
    }

    #[test]
    fn gradients_match_finite_differences() {
        // The loss is linear in each argument, so central differences have no truncation
        // error; what remains is f32 rounding of the forward pass, about 1e-6 * |L| / eps.
        const EPS: f32 = 1e-2;
        const TOL: f64 = 2e-3;
        for (seed, g) in [
            geometry(&[2, 5, 6, 2], (3, 3), 3, (2, 1), Padding::Same),
            geometry(&[1, 6, 5, 1], (2, 3), 2, (1, 2), Padding::Valid),
        ]
        .into_iter()
        .enumerate()
        {
            let c = Case::new(g, 100 + seed as u64);
            let [_, gi, gf, gb] = c.blocked();
            let check = |analytic: &[f32], which: usize, what: &str| {
                for (i, &a) in analytic.iter().enumerate() {
                    let mut args = [c.input.clone(), c.filter.clone(), c.bias.clone()];
                    args[which][i] += EPS;
                    let plus = loss(&c, &args[0], &args[1], &args[2]);
                    args[which][i] -= 2.0 * EPS;
                    let minus = loss(&c, &args[0], &args[1], &args[2]);
                    let numeric = (plus - minus) / (2.0 * EPS as f64);
                    assert!((numeric - a as f64).abs() <= TOL * (1.0 + numeric.abs()), "{what}[{i}]: {a} vs {numeric}");
                }
            };
            check(&gi, 0, "input");
            check(&gf, 1, "filter");
            check(&gb, 2, "bias");
        }
    }

    #[test]
    fn single_thread_and_pool_agree_bitwise() {
        let g = geometry(&[37, 12, 11, 8], (3, 3), 16, (1, 1), Padding::Same);
        let c = Case::new(g, 5);
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        parallel::set_thread_limit(Some(1));
        let one = c.blocked();
        parallel::set_thread_limit(None);
        let all = c.blocked();
        assert_eq!(one, all);
    }

    #[test]
    fn geometry_follows_tensorflow() {
        let g = geometry(&[128, 28, 28, 1], (3, 3), 32, (1, 1), Padding::Valid);
        assert_eq!(g.output_shape(), [128, 26, 26, 32]);
        assert_eq!(g.filter_len(), 288);
        let g = geometry(&[1, 7, 6, 1], (3, 3), 1, (2, 2), Padding::Same);
        // rows: out 4, pad total 2*3+3-7 = 2; cols: out 3, pad total 2*2+3-6 = 1 (after).
        assert_eq!((g.out_h, g.pad_top, g.out_w, g.pad_left), (4, 1, 3, 0));
        // "same" allows a kernel larger than the input.
        let g = geometry(&[1, 2, 2, 1], (5, 5), 1, (1, 1), Padding::Same);
        assert_eq!((g.out_h, g.pad_top, g.out_w, g.pad_left), (2, 2, 2, 2));
        assert_eq!(Padding::parse("same").unwrap(), Padding::Same);
        assert_eq!(Padding::parse("VALID").unwrap(), Padding::Valid);
        let err = Padding::parse("full").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Argument);
        assert!(err.message.contains("\"full\""), "{}", err.message);
    }

    #[test]
    fn bad_geometry_is_an_error() {
        let err = |shape: &[usize], k, s, p| Conv2dGeometry::new(shape, k, 4, s, p).unwrap_err();
        let e = err(&[5, 5, 1], (3, 3), (1, 1), Padding::Valid);
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("rank 4") && e.message.contains("[5, 5, 1]"), "{}", e.message);
        let e = err(&[1, 4, 6, 1], (5, 3), (1, 1), Padding::Valid);
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("5x3") && e.message.contains("[1, 4, 6, 1]"), "{}", e.message);
        let e = err(&[1, 4, 4, 1], (3, 3), (0, 1), Padding::Same);
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(e.message.contains("(0, 1)") && e.message.contains("[1, 4, 4, 1]"), "{}", e.message);
        let e = err(&[1, 0, 4, 1], (1, 1), (1, 1), Padding::Same);
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("[1, 0, 4, 1]"), "{}", e.message);
        let e = err(&[1, 4, 4, 1], (0, 1), (1, 1), Padding::Same);
        assert_eq!(e.kind, ErrorKind::Argument);
        let e = Conv2dGeometry::new(&[1, 4, 4, 1], (1, 1), 0, (1, 1), Padding::Same).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Argument);
        let e = err(&[usize::MAX / 2, 4, 4, 3], (1, 1), (1, 1), Padding::Same);
        assert_eq!(e.kind, ErrorKind::Shape);
    }

    #[test]
    #[ignore]
    fn gemm_timing() {
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        let mut rng = Rng::new(1);
        for (m, n, k, ta, tb) in [(15488, 64, 288, false, false), (15488, 288, 64, false, true), (288, 64, 15488, true, false), (86528, 32, 9, false, false), (9, 32, 86528, true, false)] {
            let a = random(&mut rng, m * k);
            let b = random(&mut rng, k * n);
            let mut c = vec![0.0; m * n];
            let sh = Gemm::new(m, n, k).trans_a(ta).trans_b(tb);
            for threads in [Some(1), None] {
                parallel::set_thread_limit(threads);
                gemm(sh, &a, &b, &mut c).unwrap();
                let t = std::time::Instant::now();
                for _ in 0..5 { gemm(sh, &a, &b, &mut c).unwrap(); }
                let ms = t.elapsed().as_secs_f64() * 1e3 / 5.0;
                println!("gemm {m}x{n}x{k} ta={ta} tb={tb} threads={}: {ms:.2} ms, {:.1} GFLOPS", parallel::threads(), 2.0 * (m * n * k) as f64 / ms / 1e6);
            }
        }
        parallel::set_thread_limit(None);
    }

    /// Prints the time of each pass for the convolutions of the seed CNN at batch 128.
    /// `cargo test -p ballast-core --release conv_timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn conv_timing() {
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        let shapes = [("conv1 28x28x1->32", [128, 28, 28, 1], 32), ("conv2 13x13x32->64", [128, 13, 13, 32], 64)];
        for threads in [Some(1), None] {
            parallel::set_thread_limit(threads);
            let mut total = 0.0;
            for (name, shape, oc) in shapes {
                let g = geometry(&shape, (3, 3), oc, (1, 1), Padding::Valid);
                let c = Case::new(g, 1);
                let mut out = vec![0.0; c.grad_out.len()];
                let mut gi = vec![0.0; c.input.len()];
                let mut gf = vec![0.0; c.filter.len()];
                let mut gb = vec![0.0; oc];
                let time = |f: &mut dyn FnMut()| {
                    f();
                    (0..5)
                        .map(|_| {
                            let t = std::time::Instant::now();
                            f();
                            t.elapsed().as_secs_f64() * 1e3
                        })
                        .fold(f64::INFINITY, f64::min)
                };
                let fwd = time(&mut || conv2d_forward(&g, &c.input, &c.filter, Some(&c.bias), &mut out));
                let bi = time(&mut || conv2d_backward_input(&g, &c.grad_out, &c.filter, &mut gi));
                let bf = time(&mut || conv2d_backward_filter(&g, &c.input, &c.grad_out, &mut gf));
                let bb = time(&mut || conv2d_backward_bias(&g, &c.grad_out, &mut gb));
                total += fwd + bi + bf + bb;
                println!(
                    "{name} threads={}: forward {fwd:.2} ms, backward input {bi:.2} ms, backward filter {bf:.2} ms, bias {bb:.2} ms",
                    parallel::threads()
                );
            }
            println!("total {total:.2} ms");
        }
        parallel::set_thread_limit(None);
    }
}
