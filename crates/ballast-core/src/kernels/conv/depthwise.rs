//! Depthwise convolution (`groups == in_c`): output channel `c*M + m` is input channel `c`
//! convolved with its own filter `[kh, kw]` (Keras' `DepthwiseConv2D`, kernel
//! `[kh, kw, in_c, M]`, which is laid out exactly as the grouped filter `[kh, kw, 1, in_c*M]`).
//!
//! There is no reduction over channels, so no GEMM: each pass is, for every destination
//! pixel, a sum over the window's taps of one channel vector times another. NHWC keeps the
//! channels innermost, so those vectors are contiguous and the loops run across channels in
//! blocks of [`CB`] floats held in registers (four f32x4 under SIMD128; LLVM vectorizes the
//! fixed-size arrays). The passes are memory-bound: a tap reads as many floats as it
//! multiplies.
//!
//! - forward: each output pixel gathers its window;
//! - input gradient: each input pixel gathers the output pixels whose windows cover it (no
//!   scatter, so tasks of rows write disjoint outputs and need no partial sums);
//! - filter gradient: tasks of output rows sum into their own partial filter, added in task
//!   order.
//!
//! A multiplier M > 1 first repeats each input channel M times (`[.., in_c*M]`, the layout
//! of the output), which makes it a depthwise convolution of multiplier 1; the input
//! gradient of the repeated input is summed back over each channel's M copies. Task splits
//! depend on the shapes only, so results are bitwise the same for any thread count.

use std::ops::Range;

use super::{dilated_taps, sum_of_partials, tap_outputs, Conv2dGeometry};
use crate::parallel;

/// Channels per register block.
const CB: usize = 16;
/// Output floats per task of the forward and input-gradient passes.
const TASK_FLOATS: usize = 1 << 14;
/// Partial filter gradients (tasks) at most: the sum is split by rows, in a fixed order.
const FILTER_TASKS: usize = 32;

/// The geometry of multiplier 1 on the input repeated M times, and M.
fn unit(g: &Conv2dGeometry) -> (Conv2dGeometry, usize) {
    let m = g.out_c / g.in_c;
    (Conv2dGeometry { in_c: g.out_c, groups: g.out_c, ..*g }, m)
}

/// Each value of `x` repeated `m` times: `[.., c]` → `[.., c*m]`, copy `j` of channel `c` at `c*m + j`.
fn repeat_channels(x: &[f32], m: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len() * m];
    parallel::for_each_chunk_mut(&mut out, TASK_FLOATS * m, |t, dst| {
        let src = &x[t * TASK_FLOATS..][..dst.len() / m];
        dst.chunks_exact_mut(m).zip(src).for_each(|(d, &v)| d.fill(v));
    });
    out
}

/// How a channel sum starts.
#[derive(Clone, Copy)]
enum Start<'a> {
    Zero,
    /// From these values (the bias).
    From(&'a [f32]),
    /// From what `dst` holds (accumulating).
    Dst,
}

/// `dst[j] = start[j] + Σ_(s, w) in terms a[s + j] * b[w + j]` for every channel `j` of `dst`,
/// then ReLU when `relu` (NaN stays NaN).
#[inline(always)]
fn channel_sums(dst: &mut [f32], start: Start, a: &[f32], b: &[f32], terms: &[(usize, usize)], relu: bool) {
    let c = dst.len();
    let mut j = 0;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if crate::kernels::simd_enabled() {
        // Every read below stays inside `a`, `b` and the start values; every write inside `dst`.
        assert!(terms.iter().all(|&(s, w)| s + c <= a.len() && w + c <= b.len()));
        let init = match start {
            Start::Zero => None,
            Start::From(init) => Some(&init[..c]),
            Start::Dst => None,
        };
        let dst_start = matches!(start, Start::Dst);
        let (pa, pb, pd) = (a.as_ptr(), b.as_ptr(), dst.as_mut_ptr());
        let from = |j: usize| {
            if dst_start {
                Some(pd.wrapping_add(j) as *const f32)
            } else {
                init.map(|i| i[j..].as_ptr())
            }
        };
        use crate::kernels::simd128::channel_block;
        // SAFETY: j + 16 (or 4) <= c, and the assert above bounds each term's run of c floats.
        unsafe {
            while j + CB <= c {
                channel_block::<4>(pd.add(j), from(j), pa.add(j), pb.add(j), terms, relu);
                j += CB;
            }
            while j + 4 <= c {
                channel_block::<1>(pd.add(j), from(j), pa.add(j), pb.add(j), terms, relu);
                j += 4;
            }
        }
    }
    while j + CB <= c {
        block::<CB>(&mut dst[j..j + CB], start, j, a, b, terms, relu);
        j += CB;
    }
    while j + 4 <= c {
        block::<4>(&mut dst[j..j + 4], start, j, a, b, terms, relu);
        j += 4;
    }
    for j in j..c {
        block::<1>(&mut dst[j..j + 1], start, j, a, b, terms, relu);
    }
}

/// [`channel_sums`] for the `W` channels from `j`, accumulated in registers.
#[inline(always)]
fn block<const W: usize>(
    dst: &mut [f32],
    start: Start,
    j: usize,
    a: &[f32],
    b: &[f32],
    terms: &[(usize, usize)],
    relu: bool,
) {
    let mut acc: [f32; W] = match start {
        Start::Zero => [0.0; W],
        Start::From(init) => init[j..j + W].try_into().unwrap(),
        Start::Dst => dst[..W].try_into().unwrap(),
    };
    for &(s, w) in terms {
        let x: &[f32; W] = a[s + j..s + j + W].try_into().unwrap();
        let y: &[f32; W] = b[w + j..w + j + W].try_into().unwrap();
        for l in 0..W {
            acc[l] += x[l] * y[l];
        }
    }
    if relu {
        acc.iter_mut().for_each(|v| *v = if *v < 0.0 { 0.0 } else { *v });
    }
    dst[..W].copy_from_slice(&acc);
}

/// Rows of `row_len` floats per task, at least one.
fn rows_per_task(row_len: usize) -> usize {
    (TASK_FLOATS / row_len.max(1)).max(1)
}

/// The taps `k` of a window starting at `x0`, as a range, for each output position `0..out`.
fn window_taps(out: usize, stride: usize, pad: usize, k: usize, d: usize, size: usize) -> Vec<Range<usize>> {
    (0..out).map(|o| dilated_taps(o * stride, pad, k, d, size)).collect()
}

/// The pairs (tap, output position) whose window covers input position `i`, for each `i`:
/// `o*stride + t*d - pad == i`.
fn covering(size: usize, out: usize, stride: usize, pad: usize, k: usize, d: usize) -> Vec<Vec<(usize, usize)>> {
    (0..size)
        .map(|i| {
            (0..k)
                .filter_map(|t| {
                    let p = (i + pad).checked_sub(t * d)?;
                    (p % stride == 0 && p / stride < out).then_some((t, p / stride))
                })
                .collect()
        })
        .collect()
}

pub(super) fn forward(
    g: &Conv2dGeometry,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    if g.out_c != g.in_c {
        let (u, m) = unit(g);
        return forward(&u, &repeat_channels(input, m), filter, bias, relu, out);
    }
    let c = g.in_c;
    let row_len = g.out_w * c;
    let rows = rows_per_task(row_len);
    let ys = window_taps(g.out_h, g.stride_h, g.pad_top, g.kh, g.dil_h, g.in_h);
    let xs = window_taps(g.out_w, g.stride_w, g.pad_left, g.kw, g.dil_w, g.in_w);
    let start = bias.map_or(Start::Zero, Start::From);
    parallel::for_each_chunk_mut(out, rows * row_len, |t, out| {
        let mut terms = Vec::with_capacity(g.kh * g.kw);
        for (r, out_row) in out.chunks_exact_mut(row_len).enumerate() {
            let (n, oy) = ((t * rows + r) / g.out_h, (t * rows + r) % g.out_h);
            for (ox, dst) in out_row.chunks_exact_mut(c).enumerate() {
                terms.clear();
                for ky in ys[oy].clone() {
                    let y = oy * g.stride_h + ky * g.dil_h - g.pad_top;
                    for kx in xs[ox].clone() {
                        let x = ox * g.stride_w + kx * g.dil_w - g.pad_left;
                        terms.push((((n * g.in_h + y) * g.in_w + x) * c, (ky * g.kw + kx) * c));
                    }
                }
                channel_sums(dst, start, input, filter, &terms, relu);
            }
        }
    });
}

pub(super) fn backward_input(g: &Conv2dGeometry, grad_out: &[f32], filter: &[f32], grad_input: &mut [f32]) {
    if g.out_c != g.in_c {
        let (u, m) = unit(g);
        let mut repeated = vec![0.0; grad_input.len() * m];
        backward_input(&u, grad_out, filter, &mut repeated);
        parallel::for_each_chunk_mut(grad_input, TASK_FLOATS, |t, gi| {
            let src = &repeated[t * TASK_FLOATS * m..][..gi.len() * m];
            gi.iter_mut().zip(src.chunks_exact(m)).for_each(|(d, s)| *d = s.iter().sum());
        });
        return;
    }
    let c = g.in_c;
    let row_len = g.in_w * c;
    let rows = rows_per_task(row_len);
    let ys = covering(g.in_h, g.out_h, g.stride_h, g.pad_top, g.kh, g.dil_h);
    let xs = covering(g.in_w, g.out_w, g.stride_w, g.pad_left, g.kw, g.dil_w);
    parallel::for_each_chunk_mut(grad_input, rows * row_len, |t, gi| {
        let mut terms = Vec::with_capacity(g.kh * g.kw);
        for (r, gi_row) in gi.chunks_exact_mut(row_len).enumerate() {
            let (n, iy) = ((t * rows + r) / g.in_h, (t * rows + r) % g.in_h);
            for (ix, dst) in gi_row.chunks_exact_mut(c).enumerate() {
                terms.clear();
                for &(ky, oy) in &ys[iy] {
                    for &(kx, ox) in &xs[ix] {
                        terms.push((((n * g.out_h + oy) * g.out_w + ox) * c, (ky * g.kw + kx) * c));
                    }
                }
                channel_sums(dst, Start::Zero, grad_out, filter, &terms, false);
            }
        }
    });
}

pub(super) fn backward_filter(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    if g.out_c != g.in_c {
        let (u, m) = unit(g);
        return backward_filter(&u, &repeat_channels(input, m), grad_out, grad_filter);
    }
    let c = g.in_c;
    let flen = grad_filter.len();
    let all_rows = g.batch * g.out_h;
    let rows = all_rows.div_ceil(FILTER_TASKS);
    let tasks = all_rows.div_ceil(rows);
    // For each kx, the output columns whose tap kx is inside the image: x = ox*s + kx*d - pad.
    let cols: Vec<Range<usize>> =
        (0..g.kw).map(|kx| tap_outputs(kx * g.dil_w, g.pad_left, g.stride_w, g.in_w, g.out_w)).collect();
    let ys = window_taps(g.out_h, g.stride_h, g.pad_top, g.kh, g.dil_h, g.in_h);
    let sum = sum_of_partials(tasks, flen, |t, part| {
        // Per output row, the (input, output gradient) pixel pairs of each tap; then channel
        // block by channel block, so one block's pixels (a few KiB) stay in L1 for every tap.
        let mut terms = Vec::with_capacity(g.kh * g.kw * g.out_w);
        let mut taps: Vec<(usize, Range<usize>)> = Vec::with_capacity(g.kh * g.kw);
        for row in t * rows..((t + 1) * rows).min(all_rows) {
            let (n, oy) = (row / g.out_h, row % g.out_h);
            terms.clear();
            taps.clear();
            for ky in ys[oy].clone() {
                let y = oy * g.stride_h + ky * g.dil_h - g.pad_top;
                for (kx, oxs) in cols.iter().enumerate() {
                    let first = terms.len();
                    for ox in oxs.clone() {
                        let x = ox * g.stride_w + kx * g.dil_w - g.pad_left;
                        terms.push((((n * g.in_h + y) * g.in_w + x) * c, ((n * g.out_h + oy) * g.out_w + ox) * c));
                    }
                    taps.push((ky * g.kw + kx, first..terms.len()));
                }
            }
            for j in (0..c).step_by(CB) {
                let w = CB.min(c - j);
                for (tap, range) in &taps {
                    let dst = &mut part[tap * c + j..][..w];
                    channel_sums(dst, Start::Dst, &input[j..], &grad_out[j..], &terms[range.clone()], false);
                }
            }
        }
    });
    grad_filter.copy_from_slice(&sum);
}
