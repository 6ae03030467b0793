//! Conv2D kernels (NHWC input, HWIO filter `[kh, kw, in_c, out_c]`, bias `[out_c]`).
//!
//! The passes are GEMMs over im2col rows (Chellapilla, Puri & Simard, "High Performance
//! Convolutional Neural Networks for Document Processing", 2006): each output pixel becomes
//! a row of its `K = kh*kw*in_c` input values, so with `M = batch*out_h*out_w`
//!
//! - forward:         `out [M, out_c] = cols [M, K] · filter [K, out_c]` (an implicit GEMM
//!   that reads the windows in place, see [`forward`])
//! - backward input:  `cols [M, K] = grad_out [M, out_c] · filterᵀ`, then col2im (scatter-add)
//! - backward filter: `grad_filter [K, out_c] = colsᵀ · grad_out`
//!
//! In the backward passes large K goes to the blocked [`gemm`]; small K (the first layer:
//! K = 9) to `gemm_strided`, which skips packing. Work is split into tasks of whole images, so a
//! task's column buffer stays bounded and tasks write disjoint outputs (col2im scatters
//! only inside the task's images). The split depends on the shapes only, never on the
//! thread count, so results are bitwise the same for any pool size.

use std::cell::Cell;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::kernels::gemm::{gemm, Gemm};
use crate::parallel;

mod forward;
pub use forward::{conv2d_forward, conv_micro_scalar};

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

/// The taps `k` of a window starting at padded position `x0` that fall inside the input.
pub(crate) fn valid_taps(x0: usize, pad: usize, k: usize, size: usize) -> Range<usize> {
    let lo = pad.saturating_sub(x0).min(k);
    lo..(size + pad).saturating_sub(x0).clamp(lo, k)
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
        let ((kh, kw), (stride_h, stride_w)) = (kernel, strides);
        if kh == 0 || kw == 0 || out_c == 0 || stride_h == 0 || stride_w == 0 {
            return Err(Error::argument(format!(
                "conv2d: kernel {kh}x{kw}, filters {out_c} and strides ({stride_h}, {stride_w}) must be positive \
                 (input shape {input_shape:?})"
            )));
        }
        let too_big = || {
            Error::shape(format!(
                "conv2d: kernel {kh}x{kw} is larger than the input {in_h}x{in_w} with {padding:?} padding \
                 (input shape {input_shape:?})"
            ))
        };
        let (out_h, pad_top) = padding.resolve(in_h, kh, stride_h).ok_or_else(too_big)?;
        let (out_w, pad_left) = padding.resolve(in_w, kw, stride_w).ok_or_else(too_big)?;
        #[rustfmt::skip]
        let g = Conv2dGeometry {
            batch, in_h, in_w, in_c, out_c, kh, kw, stride_h, stride_w, pad_top, pad_left, out_h, out_w,
        };
        if [input_shape, &g.output_shape(), &[kh, kw, in_c, out_c]].iter().any(|d| checked_len(d).is_none()) {
            return Err(Error::shape(format!(
                "conv2d: input shape {input_shape:?} with a {kh}x{kw} kernel and {out_c} filters is too large"
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
        let (k, s, pad) = ((self.kh, self.kw), (self.stride_h, self.stride_w), (self.pad_top, self.pad_left));
        k == (1, 1) && s == (1, 1) && pad == (0, 0)
    }
}

/// Column-buffer floats per task (1 MiB): with the GEMM's m in the hundreds its packed A
/// stays in cache (one GEMM over the whole batch packs megabytes and runs slower), and the
/// filter, repacked per call, is amortized. Larger buffers measured no faster.
const COL_BUDGET: usize = 1 << 18;
/// Tasks to aim for when the batch allows it, so a pool of several threads stays balanced.
const MIN_TASKS: usize = 16;

// Depths K up to which `gemm_strided` replaces `gemm`; there, packing costs about as much
// as the arithmetic. Measured single-threaded in wasm with SIMD128 at batch 128 for K = 9,
// 27, 32, 36, 50, 288: the filter gradient (whose GEMM has only K rows) gains up to 50 and
// loses at 288; the input gradient (whose GEMM has only K columns, padded to a multiple of
// 8) gains at 9 and ties at 27.
const SMALL_K_FILTER: usize = 64;
const SMALL_K_INPUT: usize = 16;

/// How the work is split: tasks of `images` whole images, each processed in steps of at
/// most `rows` output pixels (fewer than one image only for large images).
#[derive(Clone, Copy, Debug)]
struct Plan {
    images: usize,
    rows: usize,
}

fn plan(g: &Conv2dGeometry) -> Plan {
    let (rows, pixels) = ((COL_BUDGET / g.patch_len()).max(1), g.out_pixels());
    if pixels > rows {
        return Plan { images: 1, rows };
    }
    let images = (rows / pixels).min(g.batch.div_ceil(MIN_TASKS)).max(1);
    Plan { images, rows: images * pixels }
}

thread_local! {
    /// Column buffer reused between calls on the same thread; taken out while in use, so a
    /// task started on this thread while another waits in a nested join gets its own.
    static COLS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Per-task partial sums of the filter gradient, reused on the calling thread.
    static PARTIALS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Calls `f(output pixels, column buffer)` for each step of task `t`, in order; the buffer
/// holds `K` floats per pixel (none for a pointwise convolution, which needs no im2col).
fn for_each_step(g: &Conv2dGeometry, plan: Plan, t: usize, mut f: impl FnMut(Range<usize>, &mut [f32])) {
    let first = t * plan.images * g.out_pixels();
    let end = ((t + 1) * plan.images).min(g.batch) * g.out_pixels();
    let k = if g.is_pointwise() { 0 } else { g.patch_len() };
    let mut buf = COLS.with(Cell::take);
    let len = plan.rows.min(end - first) * k;
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    for p0 in (first..end).step_by(plan.rows) {
        let p1 = (p0 + plan.rows).min(end);
        f(p0..p1, &mut buf[..(p1 - p0) * k]);
    }
    COLS.with(|c| c.set(buf));
}

/// The im2col rows of output pixels `rows`: the input itself for a pointwise convolution,
/// else written into `buf`.
fn columns<'a>(g: &Conv2dGeometry, input: &'a [f32], rows: Range<usize>, buf: &'a mut [f32]) -> &'a [f32] {
    if g.is_pointwise() {
        return &input[rows.start * g.in_c..rows.end * g.in_c];
    }
    im2col(g, input, rows, buf);
    buf
}

/// Runs shorter than this are moved element by element: a memcpy (memory.copy in wasm) per
/// run of a few floats costs more than the copy, and the first layer has runs of 3.
const SHORT_RUN: usize = 16;

/// Input offsets of the patch elements from the window's first element, when its runs
/// (`kw*in_c` contiguous floats per kernel row) are short; empty otherwise.
fn short_offsets(g: &Conv2dGeometry) -> Vec<usize> {
    let (run, row) = (g.kw * g.in_c, g.in_w * g.in_c);
    if run >= SHORT_RUN {
        return Vec::new();
    }
    (0..g.patch_len()).map(|q| q / run * row + q % run).collect()
}

/// Visits the window of output pixel `p` (flat over `batch*out_h*out_w`) as runs
/// `f(buf, offset in the patch, offset in the input, length)` of in-image taps, after
/// calling `on_border(buf)` if part of the window is padding (what no run covers).
#[inline(always)]
fn visit_window(
    g: &Conv2dGeometry,
    short: &[usize],
    p: usize,
    buf: &mut [f32],
    on_border: impl FnOnce(&mut [f32]),
    mut f: impl FnMut(&mut [f32], usize, usize, usize),
) {
    let pixels = g.out_pixels();
    let (n, rem) = (p / pixels, p % pixels);
    let (y0, x0) = (rem / g.out_w * g.stride_h, rem % g.out_w * g.stride_w);
    let (ys, xs) = (valid_taps(y0, g.pad_top, g.kh, g.in_h), valid_taps(x0, g.pad_left, g.kw, g.in_w));
    let inside = ys.len() == g.kh && xs.len() == g.kw;
    if inside && !short.is_empty() {
        let base = ((n * g.in_h + y0 - g.pad_top) * g.in_w + x0 - g.pad_left) * g.in_c;
        short.iter().enumerate().for_each(|(q, &o)| f(buf, q, base + o, 1));
        return;
    }
    if !inside {
        on_border(buf);
    }
    if xs.is_empty() {
        return;
    }
    for ky in ys {
        let src = ((n * g.in_h + y0 + ky - g.pad_top) * g.in_w + x0 + xs.start - g.pad_left) * g.in_c;
        f(buf, (ky * g.kw + xs.start) * g.in_c, src, xs.len() * g.in_c);
    }
}

/// Writes the im2col rows of output pixels `rows` into `cols` (`rows.len() * K` floats).
fn im2col(g: &Conv2dGeometry, input: &[f32], rows: Range<usize>, cols: &mut [f32]) {
    let short = short_offsets(g);
    let copy = |dst: &mut [f32], q: usize, i: usize, len: usize| dst[q..q + len].copy_from_slice(&input[i..i + len]);
    for (dst, p) in cols.chunks_exact_mut(g.patch_len()).zip(rows) {
        visit_window(g, &short, p, dst, |dst| dst.fill(0.0), copy);
    }
}

/// Adds the im2col rows `cols` of output pixels `rows` back onto their input positions;
/// `grad_input` holds the images from `first_image` on.
fn col2im(g: &Conv2dGeometry, cols: &[f32], rows: Range<usize>, first_image: usize, grad_input: &mut [f32]) {
    let short = short_offsets(g);
    let shift = first_image * g.image_len();
    for (src, p) in cols.chunks_exact(g.patch_len()).zip(rows) {
        let add = |gi: &mut [f32], q: usize, i: usize, len: usize| {
            gi[i - shift..i - shift + len].iter_mut().zip(&src[q..q + len]).for_each(|(d, s)| *d += s)
        };
        visit_window(g, &short, p, grad_input, |_| {}, add);
    }
}

fn run_gemm(shape: Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    gemm(shape, a, b, c).expect("conv2d: operand lengths follow from the geometry");
}

/// Columns of a register tile of `gemm_strided` (two f32x4, as in the GEMM micro-kernel).
const TC: usize = 8;

/// `C [m, n] += A·B` for `a = (a, lane, step)` meaning `A(i, p) = a[i*lane + p*step]` and
/// `b = (b, step)` meaning `B(p, j) = b[p*step + j]`: a GEMM that reads its operands in place
/// instead of packing them. `(a, k, 1)` is A stored `[m, k]`; `(a, 1, m)` is A stored `[k, m]`.
fn gemm_strided(m: usize, n: usize, k: usize, a: (&[f32], usize, usize), b: (&[f32], usize), c: &mut [f32]) {
    // Tiles of three rows when that divides m (K = 9 or 27 in a first layer's filter
    // gradient), so no row falls to the scalar edge loop.
    if !m.is_multiple_of(4) && m.is_multiple_of(3) {
        strided_tiles::<3>(m, n, k, a, b, c)
    } else {
        strided_tiles::<4>(m, n, k, a, b, c)
    }
}

#[inline(always)]
fn strided_tiles<const TR: usize>(
    m: usize,
    n: usize,
    k: usize,
    (a, a_lane, a_step): (&[f32], usize, usize),
    (b, b_step): (&[f32], usize),
    c: &mut [f32],
) {
    // The last, partial block of columns is copied into a zero-padded panel once, so it
    // runs through the SIMD tile too (with K = 9 columns, it is a ninth of the work).
    let full = n / TC * TC;
    let edge: Vec<f32> = if full < n {
        (0..k * TC).map(|q| if full + q % TC < n { b[q / TC * b_step + full + q % TC] } else { 0.0 }).collect()
    } else {
        Vec::new()
    };
    for i0 in (0..m).step_by(TR) {
        for j0 in (0..n).step_by(TC) {
            let a = &a[i0 * a_lane..];
            let (mr, nr) = (TR.min(m - i0), TC.min(n - j0));
            if mr < TR {
                let (b, b_step) = if j0 < full { (&b[j0..], b_step) } else { (&edge[..], TC) };
                for i in 0..mr {
                    for j in 0..nr {
                        let s: f32 = (0..k).map(|p| a[i * a_lane + p * a_step] * b[p * b_step + j]).sum();
                        c[(i0 + i) * n + j0 + j] += s;
                    }
                }
                continue;
            }
            let acc = if j0 < full {
                tile::<TR>(k, (a, a_lane, a_step), (&b[j0..], b_step))
            } else {
                tile::<TR>(k, (a, a_lane, a_step), (&edge, TC))
            };
            for (i, row) in acc.iter().enumerate() {
                c[(i0 + i) * n + j0..][..nr].iter_mut().zip(row).for_each(|(x, v)| *x += v);
            }
        }
    }
}

/// One `TR×TC` tile of `A·B`, from the first `TR` rows of `a` and `TC` columns of `b`.
///
/// Fixed-size arrays, updated by an inlined function rather than a closure (which measured
/// 3x slower): LLVM keeps the tile in SIMD registers.
#[inline(always)]
fn tile<const TR: usize>(
    k: usize,
    (a, a_lane, a_step): (&[f32], usize, usize),
    (b, b_step): (&[f32], usize),
) -> [[f32; TC]; TR] {
    let mut acc = [[0.0f32; TC]; TR];
    if a_step == 1 {
        let rows: [&[f32]; TR] = std::array::from_fn(|i| &a[i * a_lane..][..k]);
        for (p, bp) in b.chunks(b_step).take(k).enumerate() {
            tile_step(&mut acc, std::array::from_fn(|i| rows[i][p]), bp);
        }
    } else {
        for (ap, bp) in a.chunks(a_step).zip(b.chunks(b_step)).take(k) {
            tile_step(&mut acc, ap[..TR].try_into().unwrap(), bp);
        }
    }
    acc
}

/// `acc += av ⊗ bp[..TC]`.
#[inline(always)]
fn tile_step<const TR: usize>(acc: &mut [[f32; TC]; TR], av: [f32; TR], bp: &[f32]) {
    let bp: &[f32; TC] = bp[..TC].try_into().unwrap();
    for (row, x) in acc.iter_mut().zip(av) {
        row.iter_mut().zip(bp).for_each(|(y, &bv)| *y += x * bv);
    }
}

/// grad_input = dL/dinput (overwrites).
pub fn conv2d_backward_input(g: &Conv2dGeometry, grad_out: &[f32], filter: &[f32], grad_input: &mut [f32]) {
    debug_check(g, grad_input.len(), filter.len(), grad_out.len());
    let (k, oc, plan) = (g.patch_len(), g.out_c, plan(g));
    // gemm takes filter [K, out_c] as a transposed B; gemm_strided reads B by rows and
    // gets filterᵀ [out_c, K] (a few hundred floats) ready-made.
    let small = k <= SMALL_K_INPUT;
    let filter_t: Vec<f32> = if small { (0..k * oc).map(|i| filter[i % k * oc + i / k]).collect() } else { vec![] };
    parallel::for_each_chunk_mut(grad_input, plan.images * g.image_len(), |t, gi| {
        let first_image = t * plan.images;
        if g.is_pointwise() {
            // The column gradient is the input gradient.
            let rows = first_image * g.out_pixels()..first_image * g.out_pixels() + gi.len() / k;
            let go = &grad_out[rows.start * oc..rows.end * oc];
            return run_gemm(Gemm::new(rows.len(), k, oc).trans_b(true), go, filter, gi);
        }
        gi.fill(0.0);
        for_each_step(g, plan, t, |rows, cols| {
            let go = &grad_out[rows.start * oc..rows.end * oc];
            if small {
                cols.fill(0.0);
                gemm_strided(rows.len(), k, oc, (go, oc, 1), (&filter_t, k), cols);
            } else {
                run_gemm(Gemm::new(rows.len(), k, oc).trans_b(true), go, filter, cols);
            }
            col2im(g, cols, rows, first_image, gi);
        });
    });
}

/// grad_filter = dL/dfilter (overwrites).
pub fn conv2d_backward_filter(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    debug_check(g, input.len(), grad_filter.len(), grad_out.len());
    let (k, oc, plan, flen) = (g.patch_len(), g.out_c, plan(g), g.filter_len());
    // Each task sums its images into its own slot; the slots are then added in task order,
    // so the result does not depend on which thread ran what.
    let mut partials = PARTIALS.with(Cell::take);
    partials.clear();
    partials.resize(g.batch.div_ceil(plan.images) * flen, 0.0);
    // gemm_strided keeps a tile of grad_filter in registers over all rows. gemm computes
    // grad_filterᵀ [out_c, K] = grad_outᵀ · cols instead: its packing then copies whole rows
    // of cols rather than gathering a few floats from each (measured 10% faster at K = 288).
    let small = k <= SMALL_K_FILTER;
    parallel::for_each_chunk_mut(&mut partials, flen, |t, part| {
        for_each_step(g, plan, t, |rows, buf| {
            let (m, go) = (rows.len(), &grad_out[rows.start * oc..rows.end * oc]);
            let cols = columns(g, input, rows, buf);
            if !small {
                return run_gemm(Gemm::new(oc, k, m).trans_a(true).accumulate(true), go, cols, part);
            }
            // Blocks of rows, so what one register tile reads is still in L1 for the next.
            for b0 in (0..m).step_by(256) {
                let b1 = (b0 + 256).min(m);
                gemm_strided(k, oc, b1 - b0, (&cols[b0 * k..b1 * k], 1, k), (&go[b0 * oc..b1 * oc], oc), part);
            }
        });
    });
    let (sum, rest) = partials.split_at_mut(flen);
    parallel::for_each_chunk_mut(sum, 4096, |c, dst| {
        for part in rest.chunks_exact(flen) {
            dst.iter_mut().zip(&part[c * 4096..]).for_each(|(d, s)| *d += s);
        }
    });
    if small {
        grad_filter.copy_from_slice(sum);
    } else {
        for (j, row) in sum.chunks_exact(k).enumerate() {
            row.iter().enumerate().for_each(|(q, &v)| grad_filter[q * oc + j] = v);
        }
    }
    PARTIALS.with(|c| c.set(partials));
}

/// grad_bias[c] = sum over n,h,w of grad_out (overwrites).
pub fn conv2d_backward_bias(g: &Conv2dGeometry, grad_out: &[f32], grad_bias: &mut [f32]) {
    debug_assert_eq!(grad_out.len(), g.batch * g.out_pixels() * g.out_c);
    debug_assert_eq!(grad_bias.len(), g.out_c);
    // Fixed blocks of rows, each summed on its own, then added in order (deterministic).
    const ROWS: usize = 2048;
    let oc = g.out_c;
    let mut partials = vec![0.0f32; (grad_out.len() / oc).div_ceil(ROWS).max(1) * oc];
    parallel::for_each_chunk_mut(&mut partials, oc, |b, acc| {
        for row in grad_out[b * ROWS * oc..((b + 1) * ROWS * oc).min(grad_out.len())].chunks_exact(oc) {
            acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
    });
    grad_bias.fill(0.0);
    for part in partials.chunks_exact(oc) {
        grad_bias.iter_mut().zip(part).for_each(|(d, s)| *d += s);
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
                for oc in 0..g.out_c {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let (y, x) = (oy * g.stride_h + ky, ox * g.stride_w + kx);
                            if y < g.pad_top || x < g.pad_left || y - g.pad_top >= g.in_h || x - g.pad_left >= g.in_w {
                                continue;
                            }
                            for ic in 0..g.in_c {
                                let o = ((n * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
                                let i = ((n * g.in_h + y - g.pad_top) * g.in_w + x - g.pad_left) * g.in_c + ic;
                                f(o, i, ((ky * g.kw + kx) * g.in_c + ic) * g.out_c + oc);
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
        fn blocked(&self, with_bias: bool) -> [Vec<f32>; 4] {
            let g = &self.g;
            let mut out = vec![f32::NAN; self.grad_out.len()];
            let mut gi = vec![f32::NAN; self.input.len()];
            let mut gf = vec![f32::NAN; self.filter.len()];
            let mut gb = vec![f32::NAN; g.out_c];
            conv2d_forward(g, &self.input, &self.filter, Some(&self.bias[..]).filter(|_| with_bias), false, &mut out);
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
            geometry(&[2, 11, 13, 1], (5, 5), 8, (1, 1), Same),
            geometry(&[2, 8, 9, 4], (3, 3), 16, (2, 2), Same),
            geometry(&[3, 6, 7, 2], (2, 3), 3, (1, 2), Same),
            geometry(&[1, 7, 5, 2], (2, 3), 3, (2, 1), Valid),
            geometry(&[1, 8, 8, 4], (1, 1), 6, (1, 1), Valid),
            geometry(&[3, 7, 7, 3], (1, 1), 2, (2, 2), Same),
            geometry(&[3, 10, 10, 8], (3, 3), 16, (1, 1), Valid),
            geometry(&[3, 28, 28, 1], (3, 3), 32, (1, 1), Valid),
            // Tasks of several images, the last one short.
            geometry(&[40, 5, 5, 2], (3, 3), 3, (1, 1), Same),
            // One image per task, more tasks than partial sums of the filter gradient.
            geometry(&[34, 16, 16, 64], (3, 3), 2, (1, 1), Same),
            // One image larger than a column buffer: several GEMM calls per image.
            geometry(&[2, 24, 24, 64], (3, 3), 4, (1, 1), Same),
        ]
    }

    #[test]
    fn blocked_matches_naive() {
        for (i, g) in cases().into_iter().enumerate() {
            let (c, with_bias) = (Case::new(g, i as u64), i % 2 == 0);
            let [out, gi, gf, gb] = c.blocked(with_bias);
            let mut want = vec![f32::NAN; out.len()];
            conv2d_forward_naive(&g, &c.input, &c.filter, Some(&c.bias[..]).filter(|_| with_bias), &mut want);
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
    fn fused_relu_matches_naive_then_relu() {
        for (i, g) in cases().into_iter().enumerate() {
            let c = Case::new(g, 50 + i as u64);
            let mut got = vec![f32::NAN; c.grad_out.len()];
            conv2d_forward(&g, &c.input, &c.filter, Some(&c.bias), true, &mut got);
            let mut want = vec![f32::NAN; got.len()];
            conv2d_forward_naive(&g, &c.input, &c.filter, Some(&c.bias), &mut want);
            want.iter_mut().for_each(|v| *v = v.max(0.0));
            assert_close(&got, &want, g.patch_len(), &format!("forward relu {g:?}"));
            assert!(got.contains(&0.0) && got.iter().all(|&v| v >= 0.0), "{g:?}: ReLU applied");
        }
        // A NaN in the input stays NaN through the ReLU (it must not be hidden as 0).
        let g = geometry(&[1, 4, 4, 1], (3, 3), 2, (1, 1), Padding::Same);
        let mut input = vec![0.5; 16];
        input[0] = f32::NAN;
        let mut out = vec![0.0; 32];
        conv2d_forward(&g, &input, &[-1.0; 18], None, true, &mut out);
        assert!(out[0].is_nan() && out[31] == 0.0, "{out:?}");
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
            geometry(&[1, 5, 5, 8], (3, 3), 2, (1, 1), Padding::Same), // K = 72: gemm
        ]
        .into_iter()
        .enumerate()
        {
            let c = Case::new(g, 100 + seed as u64);
            let [_, gi, gf, gb] = c.blocked(true);
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
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        // K = 72 (gemm) and K = 9 (gemm_strided), both split into 13 tasks.
        for g in [
            geometry(&[37, 12, 11, 8], (3, 3), 16, (1, 1), Padding::Same),
            geometry(&[37, 10, 9, 1], (3, 3), 8, (1, 1), Padding::Valid),
        ] {
            let c = Case::new(g, 5);
            parallel::set_thread_limit(Some(1));
            let one = c.blocked(true);
            parallel::set_thread_limit(None);
            assert_eq!(one, c.blocked(true), "{g:?}");
        }
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
                    (0..10)
                        .map(|_| {
                            let t = std::time::Instant::now();
                            f();
                            t.elapsed().as_secs_f64() * 1e3
                        })
                        .fold(f64::INFINITY, f64::min)
                };
                let fwd = time(&mut || conv2d_forward(&g, &c.input, &c.filter, Some(&c.bias), true, &mut out));
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
