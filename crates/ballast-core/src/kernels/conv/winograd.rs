//! Winograd's minimal filtering F(4×4, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray,
//! "Fast Algorithms for Convolutional Neural Networks", 2016): each 4×4 block of outputs is
//! `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` for its 6×6 input tile `d`, so a tile costs 36 multiplies per
//! (input channel, filter) pair where the direct convolution spends 144: 4x fewer.
//!
//! Summed over input channels the element-wise products become 36 independent GEMMs, one
//! per point ξ of the 6×6 transform domain: `M_ξ [tiles, out_c] = V_ξ [tiles, in_c] ·
//! U_ξ [in_c, out_c]`. They run through the forward pass's register-tile micro-kernel (a
//! window of one run of `in_c` floats). The filter is transformed once per call into `U`,
//! packed as panels of NR filters; the input is transformed a block of tiles at a time into
//! `V`; the output transform adds the bias and applies ReLU before the single store. The
//! transforms run four channels at a time, as f32x4 values in SIMD128 builds.
//!
//! F(2×2, 3×3) (2.25x fewer multiplies, exact ±½ transforms) was measured first: its 4x
//! larger transformed input made it no faster than the direct path at 16 to 64 channels.
//! F(4×4)'s transforms (interpolation points 0, ±1, ±2) round more: its outputs differ from
//! the direct convolution's by about 1e-6 of their scale, within every golden tolerance.
//!
//! The filter gradient is the transposed algorithm, `Gᵀ [Σ (Bᵀ d B) ⊙ (A dY Aᵀ)] G`: per
//! point ξ a GEMM that sums over all tiles, run by the filter gradient's register tile.
//!
//! Forward tasks are whole images (the output chunks), and each output value depends on its
//! own tile only; filter-gradient tasks sum partials added in task order. Results are
//! bitwise the same for any thread count.

use std::cell::Cell;

use super::filter_gradient::{self, Operands, TILE_CHANNELS, TILE_FILTERS};
use super::Conv2dGeometry;
use crate::kernels::gemm::{MR, NR};
use crate::parallel;

/// Outputs per tile side, and the input tile's side (`OUT + 3 - 1`).
const OUT: usize = 4;
const TILE: usize = 6;
/// Points of the transform domain: a 6×6 tile.
const POINTS: usize = TILE * TILE;
/// Transformed-input floats per block of tiles (64 KiB): `V` for the block and the panels of
/// `U` it multiplies stay in L2 while the 36 GEMMs run.
const BLOCK_FLOATS: usize = 1 << 14;
/// The same for the filter gradient, whose blocks hold the transformed output gradient too
/// (256 KiB with it), and at least this many tiles.
const GRAD_BLOCK_FLOATS: usize = 1 << 16;
const MIN_GRAD_BLOCK: usize = 16;
/// Channels below which the transforms cost more than the multiplies they save, for the
/// forward pass (and the input gradient, a forward pass) and for the filter gradient, which
/// transforms the output gradient too (measured with `bench/winograd.mjs`: at 8 channels the
/// forward pass gains 1.4x and the filter gradient loses).
const MIN_CHANNELS: usize = 8;
const MIN_FILTER_GRADIENT_CHANNELS: usize = 16;
/// Images below which the batch gives too few tasks to share out (the direct path splits
/// single images).
const MIN_IMAGES: usize = 8;

thread_local! {
    /// Per block of tiles, reused between calls: the transformed input `V`; the products `M`
    /// (forward) or the transformed output gradient `W` (filter gradient); a tile's outputs.
    static BUFFERS: Cell<[Vec<f32>; 3]> = const { Cell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// Whether `g` takes the Winograd path while the path is enabled: a plain 3×3 stride-1
/// convolution with enough channels and images.
pub(super) fn applies(g: &Conv2dGeometry) -> bool {
    crate::kernels::winograd_enabled() && fits(g)
}

/// Whether the filter gradient of `g` takes the Winograd path: from 16 channels, and while a
/// quarter of the filter gradient's tasks fit their partial sums in the budget (36 points per
/// filter value where the implicit GEMM holds 9).
pub(super) fn applies_to_filter_gradient(g: &Conv2dGeometry) -> bool {
    applies(g) && fits_filter_gradient(g)
}

/// The shape conditions of [`applies`], without the switch.
fn fits(g: &Conv2dGeometry) -> bool {
    let plain = g.groups == 1 && !g.is_dilated() && (g.kh, g.kw) == (3, 3) && (g.stride_h, g.stride_w) == (1, 1);
    plain && g.in_c >= MIN_CHANNELS && g.out_c >= MIN_CHANNELS && g.batch >= MIN_IMAGES
}

fn fits_filter_gradient(g: &Conv2dGeometry) -> bool {
    let part_len = POINTS * g.in_c * g.out_c.next_multiple_of(TILE_FILTERS);
    fits(g) && g.in_c.min(g.out_c) >= MIN_FILTER_GRADIENT_CHANNELS && filter_gradient::fits_budget(part_len, 4)
}

/// Runs `f::<L>(args.., c)` over channels `0..len`: four at a time (as an f32x4 when `simd`),
/// then one at a time.
macro_rules! each_lane {
    ($simd:expr, $len:expr, $f:ident($($arg:expr),*)) => {{
        let whole = $len / 4 * 4;
        for c in (0..whole).step_by(4) {
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            if $simd {
                $f::<simd::F32x4>($($arg,)* c);
                continue;
            }
            $f::<[f32; 4]>($($arg,)* c);
        }
        for c in whole..$len {
            $f::<[f32; 1]>($($arg,)* c);
        }
        let _ = $simd;
    }};
}

/// `out = act(conv(input, filter) + bias)` for a geometry [`applies`] accepts (overwrites).
pub(super) fn conv2d_forward(
    g: &Conv2dGeometry,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    debug_assert!(fits(g));
    let width = g.out_c.next_multiple_of(NR);
    let u = transform_filter(g, filter, width);
    let mut init = vec![0.0; width];
    if let Some(b) = bias {
        init[..g.out_c].copy_from_slice(b);
    }
    let simd = crate::kernels::simd_enabled();
    let tiles_per_block = (BLOCK_FLOATS / (POINTS * g.in_c)).next_multiple_of(MR).max(MR);
    parallel::for_each_chunk_mut(out, g.out_pixels() * g.out_c, |n, out| {
        let [mut v, mut m, mut ys] = BUFFERS.with(Cell::take);
        v.resize(POINTS * tiles_per_block * g.in_c, 0.0);
        m.resize(tiles_per_block * POINTS * width, 0.0);
        ys.resize(OUT * OUT * width, 0.0);
        let (th, tw) = (g.out_h.div_ceil(OUT), g.out_w.div_ceil(OUT));
        for t0 in (0..th * tw).step_by(tiles_per_block) {
            let tiles = t0..(t0 + tiles_per_block).min(th * tw);
            for (i, t) in tiles.clone().enumerate() {
                transform_input(g, input, n, (t / tw, t % tw), (i, tiles_per_block), simd, &mut v);
            }
            multiply(g, &v, &u, width, tiles.len(), tiles_per_block, simd, &mut m);
            for (i, t) in tiles.enumerate() {
                let m = &m[i * POINTS * width..][..POINTS * width];
                transform_output(g, m, &init, relu, (t / tw, t % tw), simd, &mut ys, out);
            }
        }
        BUFFERS.with(|c| c.set([v, m, ys]));
    });
}

/// grad_filter = dL/dfilter (overwrites) for a geometry [`applies_to_filter_gradient`]
/// accepts: the forward pass's transposes, `Gᵀ [Σ_tiles (Bᵀ d B) ⊙ (A dY Aᵀ)] G`. Per point ξ the sum over tiles
/// is a GEMM with a long reduction, `ΔU_ξ [in_c, out_c] = V_ξᵀ · W_ξ`, run by the filter
/// gradient's register tile; each task (a range of images) sums into its own partial.
pub(super) fn conv2d_backward_filter(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    debug_assert!(fits_filter_gradient(g));
    let (ic, oc) = (g.in_c, g.out_c);
    let width = oc.next_multiple_of(TILE_FILTERS);
    let part_len = POINTS * ic * width;
    let (per_task, tasks) = filter_gradient::split(g.batch, part_len);
    // Blocks run over the tiles of all the task's images, so a small image (4 tiles of 7×7)
    // still gives each register tile a long sum.
    let block = (GRAD_BLOCK_FLOATS / (POINTS * (ic + width))).max(MIN_GRAD_BLOCK);
    let (th, tw) = (g.out_h.div_ceil(OUT), g.out_w.div_ceil(OUT));
    let simd = crate::kernels::simd_enabled();
    let sum = super::sum_of_partials(tasks, part_len, |t, part| {
        let [mut v, mut w, ys] = BUFFERS.with(Cell::take);
        v.resize(POINTS * block * ic, 0.0);
        w.resize(POINTS * block * width, 0.0);
        let images = t * per_task..((t + 1) * per_task).min(g.batch);
        let tiles = images.start * th * tw..images.end * th * tw;
        for t0 in tiles.clone().step_by(block) {
            let count = block.min(tiles.end - t0);
            for i in 0..count {
                let (n, tile) = ((t0 + i) / (th * tw), (t0 + i) % (th * tw));
                transform_input(g, input, n, (tile / tw, tile % tw), (i, block), simd, &mut v);
                transform_grad(g, grad_out, n, (tile / tw, tile % tw), (i, block), width, simd, &mut w);
            }
            for xi in 0..POINTS {
                for c0 in (0..ic).step_by(TILE_CHANNELS) {
                    for j0 in (0..width).step_by(TILE_FILTERS) {
                        let operands = Operands {
                            a: &v[xi * block * ic + c0..],
                            a_step: (ic, 0),
                            b: &w[xi * block * width + j0..],
                            b_step: (width, 0),
                            extent: (1, count),
                            dst_row: width,
                        };
                        let dst = &mut part[(xi * ic + c0) * width + j0..];
                        filter_gradient::add_products(&operands, TILE_CHANNELS.min(ic - c0), simd, dst);
                    }
                }
            }
        }
        BUFFERS.with(|c| c.set([v, w, ys]));
    });
    for c in 0..ic {
        for o in 0..oc {
            let du: [[f32; TILE]; TILE] =
                std::array::from_fn(|r| std::array::from_fn(|s| sum[((r * TILE + s) * ic + c) * width + o]));
            for (y, row) in filter_grad_1d(du).iter().enumerate() {
                for (x, &value) in filter_grad_1d(*row).iter().enumerate() {
                    grad_filter[((y * 3 + x) * ic + c) * oc + o] = value;
                }
            }
        }
    }
}

/// Writes `W_ξ[slot] = (A dY Aᵀ)_ξ` for output tile `(ty, tx)` of image `n`, for every
/// filter (`w` is `[ξ][block][width]`); outputs past the image's edge are zero.
#[allow(clippy::too_many_arguments)]
fn transform_grad(
    g: &Conv2dGeometry,
    grad_out: &[f32],
    n: usize,
    (ty, tx): (usize, usize),
    (slot, block): (usize, usize),
    width: usize,
    simd: bool,
    w: &mut [f32],
) {
    let oc = g.out_c;
    let rows = patch::<OUT>(grad_out, (g.out_h, g.out_w, oc), n, (OUT * ty, OUT * tx), (0, 0));
    let mut dst = point_slices(w, block * width, slot * width, oc);
    each_lane!(simd, oc, grad_lanes(&rows, &mut dst));
}

/// `A dY Aᵀ` for the lane of filters at `o` of the tile whose 16 outputs are `rows` (empty: zero).
#[inline(always)]
fn grad_lanes<L: Lane>(rows: &[[&[f32]; OUT]; OUT], dst: &mut [&mut [f32]; POINTS], o: usize) {
    let dy: [[L; OUT]; OUT] =
        rows.map(|row| row.map(|src| if src.is_empty() { L::zero() } else { L::load(&src[o..]) }));
    for (r, row) in grad_1d(dy).iter().enumerate() {
        for (s, value) in grad_1d(*row).iter().enumerate() {
            value.store(&mut dst[r * TILE + s][o..]);
        }
    }
}

/// `U_ξ = (G g Gᵀ)_ξ` for every (input channel, filter), as 36 matrices `[in_c, width]`, each
/// packed in panels of NR filters (`panel j, row c` holds filters `j*NR..j*NR+NR`).
fn transform_filter(g: &Conv2dGeometry, filter: &[f32], width: usize) -> Vec<f32> {
    let (ic, oc) = (g.in_c, g.out_c);
    let mut u = vec![0.0; POINTS * ic * width];
    for c in 0..ic {
        for o in 0..oc {
            let w: [[f32; 3]; 3] =
                std::array::from_fn(|y| std::array::from_fn(|x| filter[((y * 3 + x) * ic + c) * oc + o]));
            // G applied to the rows (a transform of rows of three), then to each row's values.
            for (r, row) in filter_1d(w).iter().enumerate() {
                for (s, &value) in filter_1d(*row).iter().enumerate() {
                    let (xi, j) = (r * TILE + s, o / NR);
                    u[((xi * width / NR + j) * ic + c) * NR + o % NR] = value;
                }
            }
        }
    }
    u
}

/// Writes `V_ξ[slot] = (Bᵀ d B)_ξ` for the input tile under output tile `(ty, tx)` of image
/// `n`, for every channel (`v` is `[ξ][block][in_c]`); positions outside the image are zero.
fn transform_input(
    g: &Conv2dGeometry,
    input: &[f32],
    n: usize,
    (ty, tx): (usize, usize),
    (slot, block): (usize, usize),
    simd: bool,
    v: &mut [f32],
) {
    let ic = g.in_c;
    let rows = patch::<TILE>(input, (g.in_h, g.in_w, ic), n, (OUT * ty, OUT * tx), (g.pad_top, g.pad_left));
    let mut dst = point_slices(v, block * ic, slot * ic, ic);
    each_lane!(simd, ic, input_lanes(&rows, &mut dst));
}

/// The `S×S` pixels of image `n` of an NHWC tensor `[_, h, w, c]` whose padded position
/// starts at `(y0, x0)`, each as its slice of `c` values; pixels over the padding `pad` or
/// past the edge are empty slices (read as zeros).
fn patch<const S: usize>(
    data: &[f32],
    (h, w, c): (usize, usize, usize),
    n: usize,
    (y0, x0): (usize, usize),
    pad: (usize, usize),
) -> [[&[f32]; S]; S] {
    let mut rows: [[&[f32]; S]; S] = [[&[]; S]; S];
    for (r, row) in rows.iter_mut().enumerate() {
        for (s, src) in row.iter_mut().enumerate() {
            if let (Some(y), Some(x)) = ((y0 + r).checked_sub(pad.0), (x0 + s).checked_sub(pad.1)) {
                if y < h && x < w {
                    *src = &data[((n * h + y) * w + x) * c..][..c];
                }
            }
        }
    }
    rows
}

/// Where one tile's 36 transformed values go, for `len` channels or filters: slot `at` of
/// each point's matrix, the points `stride` floats apart in `buf`.
fn point_slices(buf: &mut [f32], stride: usize, at: usize, len: usize) -> [&mut [f32]; POINTS] {
    let mut points = buf.chunks_exact_mut(stride);
    std::array::from_fn(|_| &mut points.next().unwrap()[at..][..len])
}

/// `Bᵀ d B` for the lane of channels at `c` of the tile whose 36 positions are `rows` (empty: zero).
#[inline(always)]
fn input_lanes<L: Lane>(rows: &[[&[f32]; TILE]; TILE], dst: &mut [&mut [f32]; POINTS], c: usize) {
    let d: [[L; TILE]; TILE] =
        rows.map(|row| row.map(|src| if src.is_empty() { L::zero() } else { L::load(&src[c..]) }));
    for (r, row) in input_1d(d).iter().enumerate() {
        for (s, value) in input_1d(*row).iter().enumerate() {
            value.store(&mut dst[r * TILE + s][c..]);
        }
    }
}

/// The 1-D transforms of F(4×4, 3×3) (Lavin & Gray's matrices), applied to the rows of a
/// tile and then to the values of each row: `T` is a value, a lane of channels or a row.
#[inline(always)]
fn input_1d<T: Lanes>(d: [T; TILE]) -> [T; TILE] {
    // Bᵀ = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
    //       [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    let (d13, d24) = (d[3].sub(d[1].scale(4.0)), d[4].sub(d[2].scale(4.0)));
    let (e13, e24) = (d[3].sub(d[1]).scale(2.0), d[4].sub(d[2]));
    [
        d[0].scale(4.0).sub(d[2].scale(5.0)).add(d[4]),
        d24.add(d13),
        d24.sub(d13),
        e24.add(e13),
        e24.sub(e13),
        d[1].scale(4.0).sub(d[3].scale(5.0)).add(d[5]),
    ]
}

#[inline(always)]
fn filter_1d<T: Lanes>(g: [T; 3]) -> [T; TILE] {
    // G = [[1/4, 0, 0], [-1/6, -1/6, -1/6], [-1/6, 1/6, -1/6],
    //      [1/24, 1/12, 1/6], [1/24, -1/12, 1/6], [0, 0, 1]]
    let (even, odd) = (g[0].add(g[2]), g[1]);
    let (even4, odd2) = (g[0].scale(1.0 / 24.0).add(g[2].scale(1.0 / 6.0)), odd.scale(1.0 / 12.0));
    [
        g[0].scale(0.25),
        even.add(odd).scale(-1.0 / 6.0),
        even.sub(odd).scale(-1.0 / 6.0),
        even4.add(odd2),
        even4.sub(odd2),
        g[2],
    ]
}

#[inline(always)]
fn output_1d<T: Lanes>(m: [T; TILE]) -> [T; OUT] {
    // Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    let (s12, d12, s34, d34) = (m[1].add(m[2]), m[1].sub(m[2]), m[3].add(m[4]), m[3].sub(m[4]));
    [m[0].add(s12).add(s34), d12.add(d34.scale(2.0)), s12.add(s34.scale(4.0)), d12.add(d34.scale(8.0)).add(m[5])]
}

/// `A` (the transpose of the output transform) for the output gradient: 4 values to 6.
#[inline(always)]
fn grad_1d<T: Lanes>(y: [T; OUT]) -> [T; TILE] {
    // A = [[1, 0, 0, 0], [1, 1, 1, 1], [1, -1, 1, -1], [1, 2, 4, 8], [1, -2, 4, -8], [0, 0, 0, 1]]
    let (even, odd) = (y[0].add(y[2]), y[1].add(y[3]));
    let (even4, odd8) = (y[0].add(y[2].scale(4.0)), y[1].scale(2.0).add(y[3].scale(8.0)));
    [y[0], even.add(odd), even.sub(odd), even4.add(odd8), even4.sub(odd8), y[3]]
}

/// `Gᵀ` (the transpose of the filter transform) for the filter gradient: 6 values to 3.
#[inline(always)]
fn filter_grad_1d<T: Lanes>(u: [T; TILE]) -> [T; 3] {
    // Gᵀ = [[1/4, -1/6, -1/6, 1/24, 1/24, 0], [0, -1/6, 1/6, 1/12, -1/12, 0],
    //       [0, -1/6, -1/6, 1/6, 1/6, 1]]
    let (s12, d12, s34, d34) = (u[1].add(u[2]), u[2].sub(u[1]), u[3].add(u[4]), u[3].sub(u[4]));
    [
        u[0].scale(0.25).sub(s12.scale(1.0 / 6.0)).add(s34.scale(1.0 / 24.0)),
        d12.scale(1.0 / 6.0).add(d34.scale(1.0 / 12.0)),
        s34.sub(s12).scale(1.0 / 6.0).add(u[5]),
    ]
}

/// Element-wise arithmetic on a value, a lane of channels or a row of lanes.
trait Lanes: Copy {
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    fn scale(self, k: f32) -> Self;
}

impl Lanes for f32 {
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self + other
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        self - other
    }
    #[inline(always)]
    fn scale(self, k: f32) -> Self {
        self * k
    }
}

impl<T: Lanes, const N: usize> Lanes for [T; N] {
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        std::array::from_fn(|i| self[i].add(other[i]))
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        std::array::from_fn(|i| self[i].sub(other[i]))
    }
    #[inline(always)]
    fn scale(self, k: f32) -> Self {
        self.map(|x| x.scale(k))
    }
}

/// The channels the transforms handle at once: `[f32; N]` on the scalar path, an f32x4 on
/// the SIMD128 one (same operations in the same order, so the two agree bitwise).
trait Lane: Lanes {
    fn zero() -> Self;
    /// The lane's first floats of `src` (N, or 4 for an f32x4).
    fn load(src: &[f32]) -> Self;
    fn store(self, dst: &mut [f32]);
    /// `v < 0 ? 0 : v`: NaN stays NaN, so a diverged network is not hidden.
    fn relu(self) -> Self;
}

impl<const N: usize> Lane for [f32; N] {
    #[inline(always)]
    fn zero() -> Self {
        [0.0; N]
    }
    #[inline(always)]
    fn load(src: &[f32]) -> Self {
        src[..N].try_into().unwrap()
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32]) {
        dst[..N].copy_from_slice(&self);
    }
    #[inline(always)]
    fn relu(self) -> Self {
        self.map(|v| if v < 0.0 { 0.0 } else { v })
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub(super) struct F32x4(v128);

    impl super::Lanes for F32x4 {
        #[inline(always)]
        fn add(self, other: Self) -> Self {
            F32x4(f32x4_add(self.0, other.0))
        }
        #[inline(always)]
        fn sub(self, other: Self) -> Self {
            F32x4(f32x4_sub(self.0, other.0))
        }
        #[inline(always)]
        fn scale(self, k: f32) -> Self {
            F32x4(f32x4_mul(self.0, f32x4_splat(k)))
        }
    }

    impl super::Lane for F32x4 {
        #[inline(always)]
        fn zero() -> Self {
            F32x4(f32x4_splat(0.0))
        }
        #[inline(always)]
        fn load(src: &[f32]) -> Self {
            let src = &src[..4];
            // SAFETY: `src` holds four floats; v128_load allows unaligned addresses.
            F32x4(unsafe { v128_load(src.as_ptr() as *const v128) })
        }
        #[inline(always)]
        fn store(self, dst: &mut [f32]) {
            let dst = &mut dst[..4];
            // SAFETY: `dst` holds four floats.
            unsafe { v128_store(dst.as_mut_ptr() as *mut v128, self.0) }
        }
        #[inline(always)]
        fn relu(self) -> Self {
            // pmax(v, 0) is `v < 0 ? 0 : v`: NaN stays NaN.
            F32x4(f32x4_pmax(self.0, f32x4_splat(0.0)))
        }
    }
}

/// `M[tile][ξ] = V_ξ[tile] · U_ξ` for the first `tiles` tiles of the block (`m` is
/// `[block][ξ][width]`), in MR×NR register tiles; a short last group of tiles computes rows
/// from stale `V` that the output transform never reads.
#[allow(clippy::too_many_arguments)]
fn multiply(
    g: &Conv2dGeometry,
    v: &[f32],
    u: &[f32],
    width: usize,
    tiles: usize,
    block: usize,
    simd: bool,
    m: &mut [f32],
) {
    let ic = g.in_c;
    let zero = [0.0f32; NR];
    assert!(v.len() >= POINTS * block * ic && u.len() >= POINTS * ic * width && m.len() >= block * POINTS * width);
    // Whole groups of MR tiles stay inside the block (the SAFETY argument below).
    assert!(tiles <= block && block.is_multiple_of(MR));
    for xi in 0..POINTS {
        for j in 0..width / NR {
            let panel = &u[(xi * width / NR + j) * ic * NR..][..ic * NR];
            for q in (0..tiles).step_by(MR) {
                let starts: [usize; MR] = std::array::from_fn(|i| (xi * block + q + i) * ic);
                let dst = |i: usize| ((q + i) * POINTS + xi) * width + j * NR;
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                if simd {
                    let base = m.as_mut_ptr();
                    // SAFETY: q + i < block, so every row read lies inside `v` and every row
                    // written (NR floats at `dst(i)`) inside `m`, by the assert above.
                    unsafe {
                        crate::kernels::simd128::conv_micro(
                            v,
                            starts,
                            0,
                            1,
                            ic,
                            panel,
                            &zero,
                            false,
                            std::array::from_fn(|i| base.add(dst(i))),
                        )
                    };
                    continue;
                }
                let _ = simd;
                let acc = super::forward::conv_micro_scalar(v, starts, 0, 1, ic, panel, &zero, false);
                for (i, row) in acc.iter().enumerate() {
                    m[dst(i)..][..NR].copy_from_slice(row);
                }
            }
        }
    }
}

/// Stores `act(init + Aᵀ M A)` for output tile `(ty, tx)` into `out` (one image), cropping a
/// tile that overhangs the image; `m` holds the tile's 36 rows of `width` floats, and `ys`
/// (16 rows of `width`) takes the 4×4 outputs before they are stored.
#[allow(clippy::too_many_arguments)]
fn transform_output(
    g: &Conv2dGeometry,
    m: &[f32],
    init: &[f32],
    relu: bool,
    (ty, tx): (usize, usize),
    simd: bool,
    ys: &mut [f32],
    out: &mut [f32],
) {
    let (oc, width) = (g.out_c, m.len() / POINTS);
    let mut points = m.chunks_exact(width);
    let p: [&[f32]; POINTS] = std::array::from_fn(|_| &points.next().unwrap()[..oc]);
    let mut rows = ys.chunks_exact_mut(width);
    let mut y: [&mut [f32]; OUT * OUT] = std::array::from_fn(|_| &mut rows.next().unwrap()[..oc]);
    each_lane!(simd, oc, output_lanes(&p, init, relu, &mut y));
    for r in 0..OUT.min(g.out_h - OUT * ty) {
        let at = ((OUT * ty + r) * g.out_w + OUT * tx) * oc;
        for s in 0..OUT.min(g.out_w - OUT * tx) {
            out[at + s * oc..][..oc].copy_from_slice(&ys[(r * OUT + s) * width..][..oc]);
        }
    }
}

/// `act(init + Aᵀ M A)` for the lane of filters at `o`, into the tile's 16 outputs `y`.
#[inline(always)]
fn output_lanes<L: Lane>(p: &[&[f32]; POINTS], init: &[f32], relu: bool, y: &mut [&mut [f32]; OUT * OUT], o: usize) {
    let m: [[L; TILE]; TILE] = std::array::from_fn(|r| std::array::from_fn(|s| L::load(&p[r * TILE + s][o..])));
    let init = L::load(&init[o..]);
    for (r, row) in output_1d(m).iter().enumerate() {
        for (s, value) in output_1d(*row).iter().enumerate() {
            let value = value.add(init);
            let value = if relu { value.relu() } else { value };
            value.store(&mut y[r * OUT + s][o..]);
        }
    }
}
