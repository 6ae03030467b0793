//! The backward passes: GEMMs over im2col rows, then col2im for the input gradient.
//!
//! Large K goes to the blocked [`gemm`]; small K (the first layer: K = 9) to
//! `gemm_strided`, which skips packing. Work is split into tasks of whole images, so a
//! task's column buffer stays bounded and tasks write disjoint outputs (col2im scatters
//! only inside the task's images). The split depends on the shapes only, never on the
//! thread count, so results are bitwise the same for any pool size.

use std::cell::Cell;
use std::ops::Range;

use super::{col2im, debug_check, im2col, Conv2dGeometry};
use crate::kernels::gemm::{gemm, Gemm};
use crate::parallel;

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

/// The convolution whose output is the input gradient of `g`, when `g` is a stride-1
/// convolution with odd (dilated) kernel spans and `same` padding (the padding is then
/// symmetric): the output gradient convolved with the filter turned by 180° and its channel
/// axes swapped, with the same dilation. The residual networks' 3×3 convolutions are all
/// like this.
pub(super) fn transposed(g: &Conv2dGeometry) -> Option<Conv2dGeometry> {
    let (eh, ew) = ((g.kh - 1) * g.dil_h + 1, (g.kw - 1) * g.dil_w + 1);
    let same = g.out_h == g.in_h && g.out_w == g.in_w && g.pad_top == eh / 2 && g.pad_left == ew / 2;
    let odd = eh % 2 == 1 && ew % 2 == 1;
    (g.stride_h == 1 && g.stride_w == 1 && odd && same && !g.is_pointwise()).then_some(Conv2dGeometry {
        in_c: g.out_c,
        out_c: g.in_c,
        ..*g
    })
}

/// `filter [kh, kw, in, out]` turned by 180° in space, as `[kh, kw, out, in]`.
fn rotated(g: &Conv2dGeometry, filter: &[f32]) -> Vec<f32> {
    let (ic, oc) = (g.in_c, g.out_c);
    let mut out = vec![0.0; filter.len()];
    for i in 0..g.kh {
        for j in 0..g.kw {
            let src = &filter[((g.kh - 1 - i) * g.kw + (g.kw - 1 - j)) * ic * oc..][..ic * oc];
            let dst = &mut out[(i * g.kw + j) * oc * ic..][..oc * ic];
            for c in 0..ic {
                for o in 0..oc {
                    dst[o * ic + c] = src[c * oc + o];
                }
            }
        }
    }
    out
}

/// grad_input = dL/dinput (overwrites).
pub fn conv2d_backward_input(g: &Conv2dGeometry, grad_out: &[f32], filter: &[f32], grad_input: &mut [f32]) {
    debug_check(g, grad_input.len(), filter.len(), grad_out.len());
    if g.groups > 1 {
        return super::grouped_backward_input(g, grad_out, filter, grad_input);
    }
    if let Some(t) = transposed(g) {
        // The forward pass's implicit GEMM reads the windows in place: no im2col of K floats
        // per pixel and no col2im scatter, which dominate when the channels are few.
        return super::forward::conv2d_forward(&t, grad_out, &rotated(g, filter), None, false, grad_input);
    }
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
    if g.groups > 1 {
        return super::grouped_backward_filter(g, input, grad_out, grad_filter);
    }
    if super::winograd::applies_to_filter_gradient(g) {
        return super::winograd::conv2d_backward_filter(g, input, grad_out, grad_filter);
    }
    if super::filter_gradient::applies(g) {
        return super::filter_gradient::conv2d_backward_filter(g, input, grad_out, grad_filter);
    }
    let (k, oc, plan, flen) = (g.patch_len(), g.out_c, plan(g), g.filter_len());
    // gemm_strided keeps a tile of grad_filter in registers over all rows. gemm computes
    // grad_filterᵀ [out_c, K] = grad_outᵀ · cols instead: its packing then copies whole rows
    // of cols rather than gathering a few floats from each (measured 10% faster at K = 288,
    // when this path still served every layer).
    let small = k <= SMALL_K_FILTER;
    let sum = super::sum_of_partials(g.batch.div_ceil(plan.images), flen, |t, part| {
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
    if small {
        grad_filter.copy_from_slice(&sum);
    } else {
        for (j, row) in sum.chunks_exact(k).enumerate() {
            row.iter().enumerate().for_each(|(q, &v)| grad_filter[q * oc + j] = v);
        }
    }
}

/// grad_bias[c] = sum over n,h,w of grad_out (overwrites).
pub fn conv2d_backward_bias(g: &Conv2dGeometry, grad_out: &[f32], grad_bias: &mut [f32]) {
    debug_assert_eq!(grad_out.len(), g.batch * g.out_pixels() * g.out_c);
    debug_assert_eq!(grad_bias.len(), g.out_c);
    // Fixed blocks of rows, each summed on its own, then added in order (deterministic).
    const ROWS: usize = 2048;
    let oc = g.out_c;
    let blocks = (grad_out.len() / oc).div_ceil(ROWS).max(1);
    let sum = super::sum_of_partials(blocks, oc, |b, acc| {
        for row in grad_out[b * ROWS * oc..((b + 1) * ROWS * oc).min(grad_out.len())].chunks_exact(oc) {
            acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
    });
    grad_bias.copy_from_slice(&sum);
}
