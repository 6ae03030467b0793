//! Conv2D kernels (NHWC input, HWIO filter `[kh, kw, in_c, out_c]`, bias `[out_c]`).
//!
//! The passes are GEMMs over im2col rows (Chellapilla, Puri & Simard, "High Performance
//! Convolutional Neural Networks for Document Processing", 2006): each output pixel becomes
//! a row of its `K = kh*kw*in_c` input values, so with `M = batch*out_h*out_w`
//!
//! - forward:         `out [M, out_c] = cols [M, K] · filter [K, out_c]` (an implicit GEMM
//!   that reads the windows in place)
//! - backward input:  `cols [M, K] = grad_out [M, out_c] · filterᵀ`, then col2im (scatter-add)
//! - backward filter: `grad_filter [K, out_c] = colsᵀ · grad_out` (an implicit GEMM over
//!   each tap's input rows, in [`filter_gradient`], when there are 4 input channels or more)
//!
//! 3×3 stride-1 convolutions with enough channels and images take Winograd's F(4×4, 3×3)
//! instead ([`winograd`]): the forward pass, the input gradient of "same" layers (through
//! the forward pass of the transposed convolution) and the filter gradient.
//!
//! The forward pass lives in [`forward`], the backward passes in [`backward`]; this module
//! holds the geometry, the window walk shared by im2col and col2im, and the direct
//! seven-loop references the kernels are tested against.
//!
//! A dilated convolution (taps `dilation` apart, Yu & Koltun, 2016) goes through the same
//! passes: its windows are not contiguous runs, so the forward pass reads every window through
//! the zero-padded buffer (im2col per block) instead of in place. Grouped convolutions
//! (`groups` > 1) are dispatched to [`depthwise`] (one input channel per group, vectorized
//! across the channels) or [`grouped`] (each group a plain convolution); the plain paths
//! assume `groups == 1`.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::parallel;

mod backward;
mod depthwise;
mod filter_gradient;
mod forward;
mod grouped;
mod winograd;
pub use backward::{conv2d_backward_bias, conv2d_backward_filter, conv2d_backward_input};
pub use forward::conv2d_forward;

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

/// [`valid_taps`] for taps `d` apart: the taps `t` with `x0 + t*d - pad` inside `0..size`.
pub(crate) fn dilated_taps(x0: usize, pad: usize, k: usize, d: usize, size: usize) -> Range<usize> {
    let lo = pad.saturating_sub(x0).div_ceil(d).min(k);
    lo..(size + pad).saturating_sub(x0).div_ceil(d).clamp(lo, k)
}

/// The output positions along one axis whose tap at `offset` (`k * dilation`) lands inside
/// the input: `0 <= o*stride + offset - pad < size`.
fn tap_outputs(offset: usize, pad: usize, stride: usize, size: usize, out: usize) -> Range<usize> {
    let lo = pad.saturating_sub(offset).div_ceil(stride).min(out);
    let hi = match (size - 1 + pad).checked_sub(offset) {
        Some(last) => (last / stride + 1).min(out),
        None => 0,
    };
    lo..hi.max(lo)
}

/// Runs `task(t, partial)` for each task on the pool, each summing into its own zeroed
/// partial of `part_len` floats, and returns their sum, added in task order (so the result
/// does not depend on which thread ran what).
fn sum_of_partials(tasks: usize, part_len: usize, task: impl Fn(usize, &mut [f32]) + Sync + Send) -> Vec<f32> {
    let mut partials = PARTIALS.with(std::cell::Cell::take);
    partials.clear();
    partials.resize(tasks * part_len, 0.0);
    parallel::for_each_chunk_mut(&mut partials, part_len, task);
    let (sum, rest) = partials.split_at_mut(part_len);
    parallel::for_each_chunk_mut(sum, 4096, |c, dst| {
        for part in rest.chunks_exact(part_len) {
            dst.iter_mut().zip(&part[c * 4096..]).for_each(|(d, s)| *d += s);
        }
    });
    let sum = sum.to_vec();
    PARTIALS.with(|c| c.set(partials));
    sum
}

thread_local! {
    /// Per-task partial sums of [`sum_of_partials`], reused on the calling thread.
    static PARTIALS: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Strides, padding, dilation and channel groups of a convolution: what the geometry needs
/// besides the input shape, kernel size and filter count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    pub strides: (usize, usize),
    pub padding: Padding,
    /// Distance between the taps of a window (Keras' `dilation_rate`); 1 is a plain convolution.
    pub dilation: (usize, usize),
    /// Channel groups: group `i` of the output channels sees only group `i` of the inputs.
    pub groups: usize,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions { strides: (1, 1), padding: Padding::Valid, dilation: (1, 1), groups: 1 }
    }
}

impl ConvOptions {
    pub fn new(strides: (usize, usize), padding: Padding) -> Self {
        ConvOptions { strides, padding, ..Default::default() }
    }
    pub fn dilation(self, dilation: (usize, usize)) -> Self {
        ConvOptions { dilation, ..self }
    }
    pub fn groups(self, groups: usize) -> Self {
        ConvOptions { groups, ..self }
    }

    /// Keras and TensorFlow refuse strides above 1 together with a dilation above 1 (an
    /// argument error; the geometry checks it too).
    pub fn check_strides_and_dilation(&self) -> Result<()> {
        let (s, d) = (self.strides, self.dilation);
        if (s.0 > 1 || s.1 > 1) && (d.0 > 1 || d.1 > 1) {
            return Err(Error::argument(format!(
                "options 'strides' {s:?} and 'dilationRate' {d:?}: strides above 1 together with a dilation rate \
                 above 1 are not supported (as in Keras and TensorFlow)"
            )));
        }
        Ok(())
    }
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
    /// Dilation per axis; 1 along an axis of kernel size 1, where it changes nothing.
    pub dil_h: usize,
    pub dil_w: usize,
    /// Channel groups (1 for a plain convolution; `in_c` for a depthwise one).
    pub groups: usize,
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
        Self::with_options("conv2d", input_shape, kernel, out_c, ConvOptions::new(strides, padding))
    }

    /// [`Conv2dGeometry::new`] with dilation and groups; errors start with `op`. The
    /// kernel spans `(k - 1) * dilation + 1` input cells per axis, which is what must fit the
    /// (padded) input and what "same" padding pads for (as TensorFlow does).
    pub fn with_options(
        op: &str,
        input_shape: &[usize],
        kernel: (usize, usize),
        out_c: usize,
        options: ConvOptions,
    ) -> Result<Self> {
        let ConvOptions { strides, padding, dilation, groups } = options;
        let &[batch, in_h, in_w, in_c] = input_shape else {
            return Err(Error::shape(format!(
                "{op}: input must have rank 4 [batch, height, width, channels], got shape {input_shape:?}"
            )));
        };
        if input_shape.contains(&0) {
            return Err(Error::shape(format!("{op}: input shape {input_shape:?} has a zero dimension")));
        }
        let ((kh, kw), (stride_h, stride_w)) = (kernel, strides);
        if kh == 0 || kw == 0 || out_c == 0 || stride_h == 0 || stride_w == 0 {
            return Err(Error::argument(format!(
                "{op}: kernel {kh}x{kw}, filters {out_c} and strides ({stride_h}, {stride_w}) must be positive \
                 (input shape {input_shape:?})"
            )));
        }
        if dilation.0 == 0 || dilation.1 == 0 || groups == 0 {
            return Err(Error::argument(format!(
                "{op}: dilationRate {dilation:?} and groups {groups} must be positive (input shape {input_shape:?})"
            )));
        }
        options.check_strides_and_dilation().map_err(|e| Error::argument(format!("{op}: {}", e.message)))?;
        if !in_c.is_multiple_of(groups) || !out_c.is_multiple_of(groups) {
            return Err(Error::shape(format!(
                "{op}: input channels {in_c} and filters {out_c} must both be divisible by groups {groups} \
                 (input shape {input_shape:?})"
            )));
        }
        // A size-1 axis has one tap whatever the dilation: plain along that axis.
        let (dil_h, dil_w) = (if kh == 1 { 1 } else { dilation.0 }, if kw == 1 { 1 } else { dilation.1 });
        let span = |k: usize, d: usize| (k - 1).checked_mul(d).and_then(|v| v.checked_add(1));
        let (Some(eh), Some(ew)) = (span(kh, dil_h), span(kw, dil_w)) else {
            return Err(Error::shape(format!("{op}: kernel {kh}x{kw} with dilationRate {dilation:?} is too large")));
        };
        let too_big = || {
            let dilated = if (dil_h, dil_w) == (1, 1) {
                " is".to_string()
            } else {
                format!(" with dilationRate {dilation:?} spans {eh}x{ew},")
            };
            let padding = if padding == Padding::Valid { "valid" } else { "same" };
            Error::shape(format!(
                "{op}: kernel {kh}x{kw}{dilated} larger than the input {in_h}x{in_w} with {padding} padding \
                 (input shape {input_shape:?})"
            ))
        };
        let (out_h, pad_top) = padding.resolve(in_h, eh, stride_h).ok_or_else(too_big)?;
        let (out_w, pad_left) = padding.resolve(in_w, ew, stride_w).ok_or_else(too_big)?;
        #[rustfmt::skip]
        let g = Conv2dGeometry {
            batch, in_h, in_w, in_c, out_c, kh, kw, stride_h, stride_w, pad_top, pad_left, out_h, out_w,
            dil_h, dil_w, groups,
        };
        if [input_shape, &g.output_shape(), &[kh, kw, in_c, out_c]].iter().any(|d| checked_len(d).is_none()) {
            return Err(Error::shape(format!(
                "{op}: input shape {input_shape:?} with a {kh}x{kw} kernel and {out_c} filters is too large"
            )));
        }
        Ok(g)
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.out_c]
    }

    /// `kh*kw*(in_c/groups)*out_c`: the filter `[kh, kw, in_c/groups, out_c]`.
    pub fn filter_len(&self) -> usize {
        self.kh * self.kw * self.in_per_group() * self.out_c
    }

    /// Input channels each output channel sees.
    pub fn in_per_group(&self) -> usize {
        self.in_c / self.groups
    }

    /// Length of one im2col row: the GEMM depth `K` (of an ungrouped convolution).
    fn patch_len(&self) -> usize {
        self.kh * self.kw * self.in_c
    }

    /// Whether the taps of a window are spread out (`dilation` > 1 along an axis).
    fn is_dilated(&self) -> bool {
        self.dil_h > 1 || self.dil_w > 1
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

/// [`visit_window`] for a dilated convolution: each tap is a run of `in_c` floats (moved
/// element by element when short), and taps over the padding are skipped.
fn visit_dilated_window(
    g: &Conv2dGeometry,
    p: usize,
    buf: &mut [f32],
    on_border: impl FnOnce(&mut [f32]),
    mut f: impl FnMut(&mut [f32], usize, usize, usize),
) {
    let pixels = g.out_pixels();
    let (n, rem) = (p / pixels, p % pixels);
    let (y0, x0) = (rem / g.out_w * g.stride_h, rem % g.out_w * g.stride_w);
    let ys = dilated_taps(y0, g.pad_top, g.kh, g.dil_h, g.in_h);
    let xs = dilated_taps(x0, g.pad_left, g.kw, g.dil_w, g.in_w);
    if ys.len() < g.kh || xs.len() < g.kw {
        on_border(buf);
    }
    let c = g.in_c;
    for ky in ys {
        let y = y0 + ky * g.dil_h - g.pad_top;
        for kx in xs.clone() {
            let src = ((n * g.in_h + y) * g.in_w + x0 + kx * g.dil_w - g.pad_left) * c;
            let q = (ky * g.kw + kx) * c;
            if c < SHORT_RUN {
                (0..c).for_each(|i| f(buf, q + i, src + i, 1));
            } else {
                f(buf, q, src, c);
            }
        }
    }
}

/// Writes the im2col rows of output pixels `rows` into `cols` (`rows.len() * K` floats).
fn im2col(g: &Conv2dGeometry, input: &[f32], rows: Range<usize>, cols: &mut [f32]) {
    let copy = |dst: &mut [f32], q: usize, i: usize, len: usize| dst[q..q + len].copy_from_slice(&input[i..i + len]);
    if g.is_dilated() {
        for (dst, p) in cols.chunks_exact_mut(g.patch_len()).zip(rows) {
            visit_dilated_window(g, p, dst, |dst| dst.fill(0.0), copy);
        }
        return;
    }
    let short = short_offsets(g);
    for (dst, p) in cols.chunks_exact_mut(g.patch_len()).zip(rows) {
        visit_window(g, &short, p, dst, |dst| dst.fill(0.0), copy);
    }
}

/// Adds the im2col rows `cols` of output pixels `rows` back onto their input positions;
/// `grad_input` holds the images from `first_image` on.
fn col2im(g: &Conv2dGeometry, cols: &[f32], rows: Range<usize>, first_image: usize, grad_input: &mut [f32]) {
    let short = if g.is_dilated() { Vec::new() } else { short_offsets(g) };
    let shift = first_image * g.image_len();
    for (src, p) in cols.chunks_exact(g.patch_len()).zip(rows) {
        let add = |gi: &mut [f32], q: usize, i: usize, len: usize| {
            gi[i - shift..i - shift + len].iter_mut().zip(&src[q..q + len]).for_each(|(d, s)| *d += s)
        };
        if g.is_dilated() {
            visit_dilated_window(g, p, grad_input, |_| {}, add);
        } else {
            visit_window(g, &short, p, grad_input, |_| {}, add);
        }
    }
}

/// The forward pass of a grouped convolution: depthwise or per group.
fn grouped_forward(
    g: &Conv2dGeometry,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    if g.in_per_group() == 1 {
        depthwise::forward(g, input, filter, bias, relu, out)
    } else {
        grouped::forward(g, input, filter, bias, relu, out)
    }
}

fn grouped_backward_input(g: &Conv2dGeometry, grad_out: &[f32], filter: &[f32], grad_input: &mut [f32]) {
    if g.in_per_group() == 1 {
        depthwise::backward_input(g, grad_out, filter, grad_input)
    } else {
        grouped::backward_input(g, grad_out, filter, grad_input)
    }
}

fn grouped_backward_filter(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    if g.in_per_group() == 1 {
        depthwise::backward_filter(g, input, grad_out, grad_filter)
    } else {
        grouped::backward_filter(g, input, grad_out, grad_filter)
    }
}

fn debug_check(g: &Conv2dGeometry, input: usize, filter: usize, out: usize) {
    debug_assert_eq!(input, g.batch * g.image_len(), "conv2d: input length");
    debug_assert_eq!(filter, g.filter_len(), "conv2d: filter length");
    debug_assert_eq!(out, g.batch * g.out_pixels() * g.out_c, "conv2d: output length");
}

/// Calls `f(output index, input index, filter index)` for every in-image tap: the seven
/// loops of a direct convolution (dilated and grouped), shared by the reference implementations.
fn naive_taps(g: &Conv2dGeometry, mut f: impl FnMut(usize, usize, usize)) {
    let (ipg, opg) = (g.in_per_group(), g.out_c / g.groups);
    for n in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let (y, x) = (oy * g.stride_h + ky * g.dil_h, ox * g.stride_w + kx * g.dil_w);
                            if y < g.pad_top || x < g.pad_left || y - g.pad_top >= g.in_h || x - g.pad_left >= g.in_w {
                                continue;
                            }
                            for icg in 0..ipg {
                                let ic = oc / opg * ipg + icg;
                                let o = ((n * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
                                let i = ((n * g.in_h + y - g.pad_top) * g.in_w + x - g.pad_left) * g.in_c + ic;
                                f(o, i, ((ky * g.kw + kx) * ipg + icg) * g.out_c + oc);
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
    use crate::parallel;
    use crate::rng::Rng;
    use crate::ErrorKind;

    fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
    }

    fn geometry(shape: &[usize], k: (usize, usize), oc: usize, s: (usize, usize), p: Padding) -> Conv2dGeometry {
        Conv2dGeometry::new(shape, k, oc, s, p).unwrap()
    }

    /// A dilated (`d`) and grouped (`groups`) geometry.
    fn general(
        shape: &[usize],
        k: (usize, usize),
        oc: usize,
        s: (usize, usize),
        p: Padding,
        d: (usize, usize),
        groups: usize,
    ) -> Conv2dGeometry {
        Conv2dGeometry::with_options("conv2d", shape, k, oc, ConvOptions::new(s, p).dilation(d).groups(groups)).unwrap()
    }

    /// Dilated, depthwise (one input channel per group, multipliers 1 to 3) and grouped
    /// convolutions: the paths besides the plain kernels.
    fn general_cases() -> Vec<Conv2dGeometry> {
        use Padding::*;
        vec![
            // Dilated: through the buffer in the forward pass, im2col in the backward ones.
            general(&[2, 9, 8, 3], (3, 3), 4, (1, 1), Valid, (2, 2), 1),
            // Odd spans 5x7, "same": the input gradient as a dilated forward pass.
            general(&[2, 7, 8, 3], (3, 3), 5, (1, 1), Same, (2, 3), 1),
            // Even span 4 in rows: TensorFlow's uneven padding, no transposed shortcut.
            general(&[1, 8, 9, 2], (2, 3), 3, (1, 1), Same, (3, 2), 1),
            // K = 144: the blocked GEMM; runs of 16 channels.
            general(&[2, 10, 10, 16], (3, 3), 8, (1, 1), Same, (2, 2), 1),
            general(&[2, 12, 12, 32], (3, 3), 4, (1, 1), Valid, (3, 3), 1),
            general(&[2, 11, 10, 5], (3, 3), 9, (1, 1), Same, (2, 3), 1),
            // Dilation along a size-1 axis changes nothing.
            general(&[1, 5, 6, 1], (1, 3), 2, (1, 1), Valid, (4, 2), 1),
            // A dilated kernel wider than the input, with "same" padding.
            general(&[1, 3, 4, 2], (3, 3), 2, (1, 1), Same, (3, 3), 1),
            // Depthwise.
            general(&[2, 7, 7, 5], (3, 3), 5, (1, 1), Same, (1, 1), 5),
            general(&[2, 6, 7, 3], (3, 3), 6, (1, 1), Valid, (1, 1), 3),
            general(&[2, 8, 7, 4], (3, 3), 4, (2, 2), Same, (1, 1), 4),
            general(&[2, 9, 9, 20], (3, 3), 40, (1, 1), Same, (2, 2), 20),
            general(&[3, 10, 10, 37], (3, 3), 37, (2, 1), Valid, (1, 1), 37),
            general(&[1, 4, 4, 2], (5, 5), 6, (1, 1), Same, (1, 1), 2),
            general(&[40, 5, 5, 8], (3, 2), 8, (1, 1), Same, (1, 1), 8),
            general(&[2, 11, 9, 3], (2, 3), 9, (3, 2), Valid, (1, 1), 3),
            // Grouped, several channels per group.
            general(&[2, 6, 6, 4], (3, 3), 6, (1, 1), Same, (1, 1), 2),
            general(&[2, 9, 8, 6], (3, 3), 9, (1, 1), Valid, (2, 2), 3),
            general(&[2, 7, 7, 8], (3, 3), 4, (2, 2), Same, (1, 1), 4),
        ]
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
            // The implicit filter gradient with a short channel tile (6 = 4 + 2) and filters
            // padded to a whole tile (10 of 16), strided rows; and 7 = 4 + 3 channels.
            geometry(&[3, 9, 7, 6], (3, 3), 10, (2, 1), Same),
            geometry(&[2, 6, 9, 7], (3, 2), 5, (1, 2), Valid),
            // Winograd F(4x4, 3x3): odd output sizes (tiles cropped at the edges), filters
            // padded to a panel; "same" also sends the input gradient through it.
            geometry(&[9, 7, 8, 8], (3, 3), 12, (1, 1), Same),
            geometry(&[8, 10, 9, 16], (3, 3), 16, (1, 1), Valid),
            geometry(&[8, 6, 6, 72], (3, 3), 18, (1, 1), Same),
            // 17 = 16 + 1 channels: the transforms' one-channel lanes.
            geometry(&[8, 5, 7, 17], (3, 3), 16, (1, 1), Same),
            // Two forward blocks per image; filter-gradient tasks of two images whose blocks
            // cross images; filters padded (68 of 72).
            geometry(&[20, 12, 12, 72], (3, 3), 68, (1, 1), Same),
        ]
    }

    #[test]
    fn blocked_matches_naive() {
        for (i, g) in cases().into_iter().chain(general_cases()).enumerate() {
            let (c, with_bias) = (Case::new(g, i as u64), i % 2 == 0);
            let [out, gi, gf, gb] = c.blocked(with_bias);
            let mut want = vec![f32::NAN; out.len()];
            conv2d_forward_naive(&g, &c.input, &c.filter, Some(&c.bias[..]).filter(|_| with_bias), &mut want);
            assert_close(&out, &want, g.patch_len(), &format!("forward {g:?}"));
            let mut want = vec![f32::NAN; gi.len()];
            conv2d_backward_input_naive(&g, &c.grad_out, &c.filter, &mut want);
            assert_close(&gi, &want, g.kh * g.kw * g.out_c / g.groups, &format!("backward input {g:?}"));
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
        for (i, g) in cases().into_iter().chain(general_cases()).enumerate() {
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
            geometry(&[8, 3, 4, 8], (3, 3), 8, (1, 1), Padding::Same), // Winograd, input gradient too
            general(&[1, 7, 6, 2], (3, 2), 3, (1, 1), Padding::Same, (2, 3), 1),
            general(&[1, 6, 7, 2], (2, 3), 2, (1, 1), Padding::Valid, (2, 2), 1),
            general(&[2, 5, 6, 3], (3, 3), 6, (2, 1), Padding::Same, (1, 1), 3), // depthwise, multiplier 2
            general(&[1, 7, 7, 18], (3, 3), 18, (1, 1), Padding::Same, (2, 2), 18), // dilated depthwise
            general(&[1, 5, 5, 4], (3, 3), 6, (1, 1), Padding::Same, (1, 1), 2), // grouped
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
        // Winograd (forward, input gradient) with the implicit filter gradient; K = 9
        // (gemm_strided); Winograd's filter gradient with tasks of two images; the direct
        // kernels (batch 7) with K = 72.
        for g in [
            geometry(&[37, 12, 11, 8], (3, 3), 16, (1, 1), Padding::Same),
            geometry(&[37, 10, 9, 1], (3, 3), 8, (1, 1), Padding::Valid),
            geometry(&[20, 12, 12, 72], (3, 3), 68, (1, 1), Padding::Same),
            geometry(&[7, 12, 11, 8], (3, 3), 16, (1, 1), Padding::Same),
            general(&[9, 12, 11, 8], (3, 3), 16, (1, 1), Padding::Same, (2, 2), 1),
            // Depthwise: many forward/input-gradient tasks, FILTER_TASKS partial sums.
            general(&[37, 12, 11, 24], (3, 3), 24, (1, 1), Padding::Same, (1, 1), 24),
            general(&[9, 14, 13, 8], (3, 3), 16, (2, 2), Padding::Same, (1, 1), 8),
            general(&[9, 12, 12, 8], (3, 3), 8, (1, 1), Padding::Same, (1, 1), 2),
        ] {
            let c = Case::new(g, 5);
            parallel::set_thread_limit(Some(1));
            let one = c.blocked(true);
            parallel::set_thread_limit(None);
            assert_eq!(one, c.blocked(true), "{g:?}");
        }
    }

    #[test]
    fn tap_outputs_are_the_positions_inside_the_input() {
        for (size, k, d, s, pad, out) in
            [(7usize, 3, 1, 1, 1, 7), (9, 3, 2, 1, 2, 9), (8, 3, 1, 2, 0, 4), (5, 5, 1, 1, 2, 5)]
        {
            for t in 0..k {
                let want: Vec<usize> =
                    (0..out).filter(|&o: &usize| (o * s + t * d).checked_sub(pad).is_some_and(|i| i < size)).collect();
                let got: Vec<usize> = tap_outputs(t * d, pad, s, size, out).collect();
                assert_eq!(got, want, "size {size} k {k} d {d} s {s} pad {pad} tap {t}");
            }
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
    fn dilation_spans_the_kernel() {
        // Span 5x5: valid leaves 9-4 = 5 rows; "same" pads (5-1)/2 = 2 on each side.
        let g = general(&[1, 9, 9, 1], (3, 3), 1, (1, 1), Padding::Valid, (2, 2), 1);
        assert_eq!((g.out_h, g.out_w), (5, 5));
        let g = general(&[1, 9, 9, 1], (3, 3), 1, (1, 1), Padding::Same, (2, 2), 1);
        assert_eq!((g.out_h, g.pad_top, g.pad_left), (9, 2, 2));
        // Span 4 (kernel 2, dilation 3): one row of padding before, two after.
        let g = general(&[1, 6, 6, 1], (2, 2), 1, (1, 1), Padding::Same, (3, 3), 1);
        assert_eq!((g.out_h, g.pad_top), (6, 1));
        // A size-1 axis is plain whatever its dilation.
        let g = general(&[1, 6, 6, 1], (1, 3), 1, (1, 1), Padding::Valid, (5, 2), 1);
        assert_eq!((g.dil_h, g.dil_w, g.out_h, g.out_w), (1, 2, 6, 2));
        let opts = |s, d, groups| ConvOptions::new(s, Padding::Valid).dilation(d).groups(groups);
        let err =
            |shape: &[usize], k, oc, o| Conv2dGeometry::with_options("depthwise_conv2d", shape, k, oc, o).unwrap_err();
        let e = err(&[1, 6, 6, 1], (3, 3), 1, opts((1, 1), (3, 3), 1));
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(
            e.message.starts_with("depthwise_conv2d: kernel 3x3 with dilationRate (3, 3) spans 7x7, larger than the input 6x6 with valid padding"),
            "{}",
            e.message
        );
        let e = err(&[1, 6, 6, 1], (3, 3), 1, opts((2, 1), (1, 2), 1));
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(e.message.contains("options 'strides' (2, 1) and 'dilationRate' (1, 2)"), "{}", e.message);
        let e = err(&[1, 6, 6, 1], (3, 3), 1, opts((1, 1), (0, 1), 1));
        assert_eq!(e.kind, ErrorKind::Argument);
        let e = err(&[1, 6, 6, 6], (3, 3), 6, opts((1, 1), (1, 1), 4));
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("divisible by groups 4"), "{}", e.message);
        let e = err(&[1, 6, 6, 6], (3, 3), 6, opts((1, 1), (1, 1), 0));
        assert_eq!(e.kind, ErrorKind::Argument);
        let e = err(&[1, 6, 6, 6], (3, 3), 6, opts((1, 1), (usize::MAX / 2, 1), 1));
        assert_eq!(e.kind, ErrorKind::Shape);
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
        // After the seed CNN's two layers: the dilated and grouped paths against the plain one
        // on the same layer (a grouped layer does 1/groups of the plain one's FLOPs), and the
        // plain kernels on one group's channels.
        let shapes = [
            ("conv1 28x28x1->32", [128, 28, 28, 1], 32, 1, 1),
            ("conv2 13x13x32->64", [128, 13, 13, 32], 64, 1, 1),
            ("conv2 same", [128, 13, 13, 32], 64, 1, 1),
            ("conv2 same, dilation 2", [128, 13, 13, 32], 64, 2, 1),
            ("conv2 same, 2 groups", [128, 13, 13, 32], 64, 1, 2),
            ("conv2 same, 4 groups", [128, 13, 13, 32], 64, 1, 4),
            ("conv2 same, 8 groups", [128, 13, 13, 32], 64, 1, 8),
            // One group of the 4- and 8-group layers as a plain convolution: what each group runs.
            ("one group of 4: same 8->16", [128, 13, 13, 8], 16, 1, 1),
            ("one group of 8: same 4->8", [128, 13, 13, 4], 8, 1, 1),
            // ResNet-20's 3x3 convolutions, one per stage (examples/resnet).
            ("same 28x28x8->8", [128, 28, 28, 8], 8, 1, 1),
            ("resnet stage1 same 28x28x16->16", [128, 28, 28, 16], 16, 1, 1),
            ("resnet stage2 same 14x14x32->32", [128, 14, 14, 32], 32, 1, 1),
            ("resnet stage3 same 7x7x64->64", [128, 7, 7, 64], 64, 1, 1),
        ];
        for threads in [Some(1), None] {
            parallel::set_thread_limit(threads);
            let mut total = 0.0;
            for (name, shape, oc, d, groups) in shapes {
                let padding = if name.contains("same") { Padding::Same } else { Padding::Valid };
                let g = general(&shape, (3, 3), oc, (1, 1), padding, (d, d), groups);
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
                if d == 1 && groups == 1 && padding == Padding::Valid {
                    total += fwd + bi + bf + bb; // the seed CNN's layers
                }
                // Each of the three passes does one multiply-add per tap: 2 · outputs · taps.
                let flops = 2.0 * (c.grad_out.len() * g.kh * g.kw * g.in_per_group()) as f64;
                let rate = |ms: f64| flops / ms / 1e6;
                // Where Winograd serves a pass, the direct kernels' time beside it (effective
                // GFLOP/s count the direct convolution's multiply-adds).
                crate::kernels::set_winograd_enabled(false);
                let direct = [
                    time(&mut || conv2d_forward(&g, &c.input, &c.filter, Some(&c.bias), true, &mut out)),
                    time(&mut || conv2d_backward_input(&g, &c.grad_out, &c.filter, &mut gi)),
                    time(&mut || conv2d_backward_filter(&g, &c.input, &c.grad_out, &mut gf)),
                ];
                crate::kernels::set_winograd_enabled(true);
                // The input gradient of a "same" convolution is a forward pass of the same shape.
                let served = [
                    winograd::applies(&g),
                    backward::transposed(&g).is_some_and(|t| winograd::applies(&t)),
                    winograd::applies_to_filter_gradient(&g),
                ];
                let vs = |pass: usize, ms: f64| match served[pass] {
                    true => format!(" [direct {:.2} ms: Winograd {:.2}x]", direct[pass], direct[pass] / ms),
                    false => String::new(),
                };
                println!(
                    "{name} threads={}: forward {fwd:.2} ms ({:.1} GFLOP/s){}, backward input {bi:.2} ms ({:.1}){}, \
                     backward filter {bf:.2} ms ({:.1}){}, bias {bb:.2} ms",
                    parallel::threads(),
                    rate(fwd),
                    vs(0, fwd),
                    rate(bi),
                    vs(1, bi),
                    rate(bf),
                    vs(2, bf)
                );
            }
            println!("total (seed CNN) {total:.2} ms");
        }
        parallel::set_thread_limit(None);
    }
}
