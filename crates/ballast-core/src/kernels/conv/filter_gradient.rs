//! The filter gradient as an implicit GEMM: `grad_filter [K, out_c] = colsᵀ · grad_out`
//! summed over output pixels, reading the NHWC input in place instead of writing im2col rows.
//!
//! Seen one tap `(ky, kx)` at a time, `cols` needs no gathering at all: the tap's column of
//! input channel `c` at output pixel `(oy, ox)` is the input at row `oy*sh + ky*dh - pt`,
//! column `ox*sw + kx*dw - pl`, channel `c`, and the pixels whose tap falls inside the image
//! form a rectangle. So for each
//! tap, block of 4 input channels and block of 8 filters, a register tile of 4×8 sums
//! `input · grad_out` over that rectangle, with the input and the output gradient both read
//! as strided rows. Padding, strides and dilation only change the rectangle and the strides.
//!
//! Against im2col + a packed GEMM (what the backward pass did before) this saves writing and
//! re-reading K floats per pixel (144 for a 16-channel 3×3 layer) and packing them again:
//! ResNet-20's filter gradients cost twice its forward convolutions that way.
//!
//! Work is split into tasks of whole output rows (the split depends on the shapes only);
//! each task sums into its own partial gradient, and the partials are added in task order,
//! so the result is bitwise the same for any thread count.

use std::cell::Cell;
use std::ops::Range;

use super::{sum_of_partials, tap_outputs, Conv2dGeometry};

/// Filters per register tile (two f32x4).
pub(super) const TILE_FILTERS: usize = 8;
/// Input channels per register tile: 4×8 accumulators, two output-gradient vectors and one
/// broadcast input value fit the 16 registers V8 maps v128 onto on x86-64.
pub(super) const TILE_CHANNELS: usize = 4;
/// Output-gradient floats per block of rows: a block (and the input rows under it) stays in
/// L1 while every tap and channel block reads it.
const BLOCK_FLOATS: usize = 2048;
/// Tasks to aim for, so a pool of several threads stays balanced.
const MIN_TASKS: usize = 16;
/// Bound on all partial gradients together (16 MiB), for layers with large filters; a
/// layer whose filter alone is larger still gets two tasks.
const PARTIAL_BUDGET: usize = 1 << 22;

thread_local! {
    /// The output gradient padded to whole tiles of filters, when `out_c` is not a multiple.
    static PADDED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Whether the implicit path serves `g`: at least one whole tile of input channels. Fewer
/// channels (a first layer) make a tile that reads as much as it computes; those keep the
/// im2col path, whose columns are then short.
pub(super) fn applies(g: &Conv2dGeometry) -> bool {
    g.groups == 1 && g.in_c >= TILE_CHANNELS
}

/// grad_filter = dL/dfilter (overwrites), for a geometry [`applies`] accepts.
pub(super) fn conv2d_backward_filter(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    debug_assert!(applies(g));
    let (oc, k) = (g.out_c, g.kh * g.kw * g.in_c);
    let width = oc.next_multiple_of(TILE_FILTERS);
    let part_len = k * width;
    // Rows of output pixels (over the whole batch) shared out in tasks.
    let rows = g.batch * g.out_h;
    let (per_task, tasks) = split(rows, part_len);
    let mut padded = PADDED.with(Cell::take);
    let go: &[f32] = if width == oc {
        grad_out
    } else {
        padded.clear();
        padded.resize(grad_out.len() / oc * width, 0.0);
        padded.chunks_exact_mut(width).zip(grad_out.chunks_exact(oc)).for_each(|(d, s)| d[..oc].copy_from_slice(s));
        &padded
    };
    let simd = crate::kernels::simd_enabled();
    let sum = sum_of_partials(tasks, part_len, |t, part| {
        let task = t * per_task..((t + 1) * per_task).min(rows);
        let block_rows = (BLOCK_FLOATS / (g.out_w * width)).max(1);
        let mut r = task.start;
        while r < task.end {
            // A block stays inside one image.
            let (n, oy) = (r / g.out_h, r % g.out_h);
            let end = (r + block_rows).min(task.end).min((n + 1) * g.out_h);
            accumulate_block(g, input, go, width, n, oy..oy + (end - r), simd, part);
            r = end;
        }
    });
    PADDED.with(|c| c.set(padded));
    for (dst, src) in grad_filter.chunks_exact_mut(oc).zip(sum.chunks_exact(width)) {
        dst.copy_from_slice(&src[..oc]);
    }
}

/// Whether `tasks` partial gradients of `part_len` floats fit the budget.
pub(super) fn fits_budget(part_len: usize, tasks: usize) -> bool {
    part_len.saturating_mul(tasks) <= PARTIAL_BUDGET
}

/// Splits `units` of work into tasks that each sum into a partial gradient of `part_len`
/// floats: `(units per task, tasks)`, from the shapes only.
pub(super) fn split(units: usize, part_len: usize) -> (usize, usize) {
    let tasks = units.min(MIN_TASKS).min((PARTIAL_BUDGET / part_len).max(2)).max(1);
    let per_task = units.div_ceil(tasks);
    (per_task, units.div_ceil(per_task))
}

/// Adds the gradient contributions of output rows `oys` of image `n` into `part`
/// (`[K, width]`); `go` is the output gradient with rows of `width` floats.
#[allow(clippy::too_many_arguments)]
fn accumulate_block(
    g: &Conv2dGeometry,
    input: &[f32],
    go: &[f32],
    width: usize,
    n: usize,
    oys: Range<usize>,
    simd: bool,
    part: &mut [f32],
) {
    let ic = g.in_c;
    // Strides of the two operands between output pixels (along a row) and output rows.
    let a_step = (g.stride_w * ic, g.stride_h * g.in_w * ic);
    let b_step = (width, g.out_w * width);
    for ky in 0..g.kh {
        let ys = tap_outputs(ky * g.dil_h, g.pad_top, g.stride_h, g.in_h, g.out_h);
        let ys = ys.start.max(oys.start)..ys.end.min(oys.end);
        if ys.is_empty() {
            continue;
        }
        let iy = ys.start * g.stride_h + ky * g.dil_h - g.pad_top;
        for kx in 0..g.kw {
            let xs = tap_outputs(kx * g.dil_w, g.pad_left, g.stride_w, g.in_w, g.out_w);
            if xs.is_empty() {
                continue;
            }
            let ix = xs.start * g.stride_w + kx * g.dil_w - g.pad_left;
            let a0 = ((n * g.in_h + iy) * g.in_w + ix) * ic;
            let b0 = ((n * g.out_h + ys.start) * g.out_w + xs.start) * width;
            let extent = (ys.len(), xs.len());
            let row0 = (ky * g.kw + kx) * ic;
            for c0 in (0..ic).step_by(TILE_CHANNELS) {
                let channels = TILE_CHANNELS.min(ic - c0);
                for j0 in (0..width).step_by(TILE_FILTERS) {
                    let dst = &mut part[(row0 + c0) * width + j0..];
                    let a = &input[a0 + c0..];
                    let b = &go[b0 + j0..];
                    add_products(&Operands { a, a_step, b, b_step, extent, dst_row: width }, channels, simd, dst);
                }
            }
        }
    }
}

/// One tile's operands: `A(i, y, x) = a[y*a_step.1 + x*a_step.0 + i]` (input channel `i`)
/// and `B(y, x, j) = b[y*b_step.1 + x*b_step.0 + j]` (filter `j`), over `extent` (rows,
/// columns) of output pixels; tile row `i` is added at `dst[i*dst_row..][..8]`.
pub(super) struct Operands<'a> {
    pub a: &'a [f32],
    pub a_step: (usize, usize),
    pub b: &'a [f32],
    pub b_step: (usize, usize),
    pub extent: (usize, usize),
    pub dst_row: usize,
}

/// Adds `Σ A(i, ·)·B(·, j)` for `channels` (1 to 4) rows and 8 filters into `dst`.
pub(super) fn add_products(o: &Operands, channels: usize, simd: bool, dst: &mut [f32]) {
    if o.extent.0 == 0 || o.extent.1 == 0 {
        return;
    }
    match channels {
        4 => tile::<4>(o, simd, dst),
        3 => tile::<3>(o, simd, dst),
        2 => tile::<2>(o, simd, dst),
        _ => tile::<1>(o, simd, dst),
    }
}

#[inline(always)]
fn tile<const TR: usize>(o: &Operands, simd: bool, dst: &mut [f32]) {
    let (rows, cols) = (o.extent.0 - 1, o.extent.1 - 1);
    // Every read stays inside the operands (the last pixel's offsets), every write in `dst`.
    assert!(rows * o.a_step.1 + cols * o.a_step.0 + TR <= o.a.len());
    assert!(rows * o.b_step.1 + cols * o.b_step.0 + TILE_FILTERS <= o.b.len());
    assert!(dst.len() >= (TR - 1) * o.dst_row + TILE_FILTERS);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if simd {
        // SAFETY: the asserts above bound every read of `a` and `b` and every write.
        return unsafe {
            crate::kernels::simd128::filter_gradient_micro::<TR>(
                (o.a, o.a_step),
                (o.b, o.b_step),
                o.extent,
                dst,
                o.dst_row,
            )
        };
    }
    let _ = simd;
    filter_gradient_micro_scalar::<TR>(o, dst)
}

/// The scalar micro-kernel: the reference the SIMD128 one is tested against (same order of
/// summation: one accumulator per tile element over the pixels, then added to `dst`).
fn filter_gradient_micro_scalar<const TR: usize>(o: &Operands, dst: &mut [f32]) {
    let mut acc = [[0.0f32; TILE_FILTERS]; TR];
    for y in 0..o.extent.0 {
        for x in 0..o.extent.1 {
            let a = &o.a[y * o.a_step.1 + x * o.a_step.0..][..TR];
            let b: &[f32; TILE_FILTERS] = o.b[y * o.b_step.1 + x * o.b_step.0..][..TILE_FILTERS].try_into().unwrap();
            for (row, &av) in acc.iter_mut().zip(a) {
                row.iter_mut().zip(b).for_each(|(c, &bv)| *c += av * bv);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        dst[i * o.dst_row..][..TILE_FILTERS].iter_mut().zip(row).for_each(|(d, v)| *d += v);
    }
}
