//! The forward pass as an implicit GEMM: `out [M, out_c] = cols [M, K] · filter [K, out_c]`
//! computed without writing `cols` down. The micro-kernel reads each output pixel's window
//! straight from the NHWC input: a window is `kh` runs of `kw*in_c` contiguous floats, one
//! per kernel row, so four pixels are four pointers that step through their runs together
//! (the "implicit GEMM" of cuDNN, Chetlur et al., 2014). Only windows that overlap the
//! padding are copied, into a small zero-padded buffer, and read from there the same way.
//!
//! Against im2col followed by a packed GEMM this saves writing and re-reading `cols` (K
//! floats per output pixel: 288 for the seed CNN's second layer) and packing it again. The
//! filter is packed once per call into panels of NR columns. Bias and ReLU are applied to the
//! register tile before it is stored, so the output is written exactly once.
//!
//! Each output value is one accumulator summed over the whole window in a fixed order,
//! whatever the task split, so results are bitwise the same for any thread count.

use super::Conv2dGeometry;
use crate::kernels::gemm::{MR, NR};
use crate::parallel;

/// Output pixels per task: a few hundred microseconds of work for the seed CNN's layers,
/// so a batch of 128 still yields dozens of tasks to balance across the pool.
const TASK_PIXELS: usize = 256;
/// Output pixels per block inside a task: their windows (for the seed CNN's second layer,
/// about 12 KiB of input) and one filter panel (9 KiB) stay in L1 while every panel runs.
const BLOCK_PIXELS: usize = 64;

/// `out = act(conv(input, filter) + bias)`, where act is ReLU when `relu` and the identity
/// otherwise (overwrites `out`; lengths checked with debug_assert, callers validate).
pub fn conv2d_forward(
    g: &Conv2dGeometry,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    super::debug_check(g, input.len(), filter.len(), out.len());
    debug_assert!(bias.is_none_or(|b| b.len() == g.out_c));
    if g.groups > 1 {
        return super::grouped_forward(g, input, filter, bias, relu, out);
    }
    if super::winograd::applies(g) {
        return super::winograd::conv2d_forward(g, input, filter, bias, relu, out);
    }
    let panels = pack_filter(g, filter);
    let bias = bias_panels(g, bias);
    let simd = crate::kernels::simd_enabled();
    let oc = g.out_c;
    parallel::for_each_chunk_mut(out, TASK_PIXELS * oc, |t, out| {
        let first = t * TASK_PIXELS;
        let mut windows = Windows::new(g, input);
        for (b, block) in out.chunks_mut(BLOCK_PIXELS * oc).enumerate() {
            let p0 = first + b * BLOCK_PIXELS;
            let pixels = block.len() / oc;
            windows.locate(p0..p0 + pixels);
            for (j, panel) in panels.chunks_exact(g.patch_len() * NR).enumerate() {
                let cols = j * NR..(j * NR + NR).min(oc);
                let init: &[f32; NR] = bias[j * NR..][..NR].try_into().unwrap();
                for (q, group) in windows.groups.iter().enumerate() {
                    let rows = MR.min(pixels - q * MR);
                    tile(&windows, group, panel, init, relu, simd, &mut block[q * MR * oc..], rows, cols.clone());
                }
            }
        }
    });
}

/// The filter `[K, out_c]` as panels of NR columns (`panel j, step p` holds
/// `filter[p][j*NR..j*NR+NR]`), the last one zero-padded.
fn pack_filter(g: &Conv2dGeometry, filter: &[f32]) -> Vec<f32> {
    let (k, oc) = (g.patch_len(), g.out_c);
    let mut panels = vec![0.0; oc.div_ceil(NR) * k * NR];
    for (j, panel) in panels.chunks_exact_mut(k * NR).enumerate() {
        let cols = j * NR..(j * NR + NR).min(oc);
        for (p, step) in panel.chunks_exact_mut(NR).enumerate() {
            step[..cols.len()].copy_from_slice(&filter[p * oc..][cols.clone()]);
        }
    }
    panels
}

/// The bias padded to whole panels (zeros without a bias).
fn bias_panels(g: &Conv2dGeometry, bias: Option<&[f32]>) -> Vec<f32> {
    let mut padded = vec![0.0; g.out_c.div_ceil(NR) * NR];
    if let Some(b) = bias {
        padded[..g.out_c].copy_from_slice(b);
    }
    padded
}

/// Where MR output pixels find their windows: an offset per pixel into the input (or into
/// the border buffer, when a window of the group overlaps the padding or is dilated), and
/// the distance between the window's kernel rows there.
#[derive(Clone, Copy)]
struct Group {
    starts: [usize; MR],
    row_stride: usize,
    in_border: bool,
}

/// The windows of one block of output pixels.
struct Windows<'a> {
    g: &'a Conv2dGeometry,
    input: &'a [f32],
    groups: Vec<Group>,
    /// Zero-padded windows (K floats each) of the groups that touch the padding.
    border: Vec<f32>,
}

impl<'a> Windows<'a> {
    fn new(g: &'a Conv2dGeometry, input: &'a [f32]) -> Self {
        Windows { g, input, groups: Vec::with_capacity(BLOCK_PIXELS / MR), border: Vec::new() }
    }

    /// Fills `groups` for output pixels `pixels` (flat over batch, rows, columns); the
    /// caller stores only the real pixels of a short last group.
    fn locate(&mut self, pixels: std::ops::Range<usize>) {
        let (g, k) = (self.g, self.g.patch_len());
        self.groups.clear();
        self.border.clear();
        let mut walk = Walk::new(g, pixels.start);
        // A dilated window is no set of contiguous runs: every group goes through the buffer.
        let in_place = !g.is_dilated();
        for q0 in pixels.clone().step_by(MR) {
            let real = q0..(q0 + MR).min(pixels.end);
            let mut starts = [0; MR];
            let mut inside = true;
            for i in 0..MR {
                if i < real.len() {
                    match walk.next_start() {
                        Some(s) => starts[i] = s,
                        None => inside = false,
                    }
                } else {
                    starts[i] = starts[i - 1]; // a short group repeats its last pixel
                }
            }
            let group = if inside && in_place {
                Group { starts, row_stride: g.in_w * g.in_c, in_border: false }
            } else {
                // Rows past a short group's end stay zero; their results are not stored.
                let at = self.border.len();
                self.border.resize(at + MR * k, 0.0);
                let len = real.len() * k;
                super::im2col(g, self.input, real, &mut self.border[at..at + len]);
                Group { starts: std::array::from_fn(|i| at + i * k), row_stride: g.kw * g.in_c, in_border: true }
            };
            self.groups.push(group);
        }
    }

    fn source(&self, group: &Group) -> &[f32] {
        if group.in_border {
            &self.border
        } else {
            self.input
        }
    }
}

/// Walks output pixels in order (image, row, column) with counters, giving each pixel's
/// window: two divisions per block instead of two per pixel.
struct Walk<'a> {
    g: &'a Conv2dGeometry,
    n: usize,
    oy: usize,
    ox: usize,
}

impl<'a> Walk<'a> {
    fn new(g: &'a Conv2dGeometry, p: usize) -> Self {
        let (n, rem) = (p / (g.out_h * g.out_w), p % (g.out_h * g.out_w));
        Walk { g, n, oy: rem / g.out_w, ox: rem % g.out_w }
    }

    /// The input offset of the current pixel's window if it lies inside the image (not over
    /// the padding); then steps to the next pixel.
    fn next_start(&mut self) -> Option<usize> {
        let g = self.g;
        let (y, x) = ((self.oy * g.stride_h).checked_sub(g.pad_top), (self.ox * g.stride_w).checked_sub(g.pad_left));
        let start = match (y, x) {
            (Some(y), Some(x)) if y + g.kh <= g.in_h && x + g.kw <= g.in_w => {
                Some(((self.n * g.in_h + y) * g.in_w + x) * g.in_c)
            }
            _ => None,
        };
        self.ox += 1;
        if self.ox == g.out_w {
            (self.ox, self.oy) = (0, self.oy + 1);
            if self.oy == g.out_h {
                (self.oy, self.n) = (0, self.n + 1);
            }
        }
        start
    }
}

/// One MR×NR tile, `act(init + Σ window · panel)` for the group's pixels, stored into the
/// first `rows` rows of `out` (rows of `out_c` floats), columns `cols`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile(
    w: &Windows,
    group: &Group,
    panel: &[f32],
    init: &[f32; NR],
    relu: bool,
    simd: bool,
    out: &mut [f32],
    rows: usize,
    cols: std::ops::Range<usize>,
) {
    let (g, src) = (w.g, w.source(group));
    let run = g.kw * g.in_c;
    // Every read of the kernels below stays inside `src` and `panel`, every write inside `out`.
    let last = group.starts.iter().max().unwrap() + (g.kh - 1) * group.row_stride + run;
    assert!(last <= src.len() && panel.len() >= g.kh * run * NR);
    assert!(rows >= 1 && (rows - 1) * g.out_c + cols.end <= out.len());
    // Copies the real rows and columns of a tile computed into memory.
    let store = |tile: &[[f32; NR]; MR], out: &mut [f32]| {
        for (i, row) in tile.iter().enumerate().take(rows) {
            out[i * g.out_c..][cols.clone()].copy_from_slice(&row[..cols.len()]);
        }
    };
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if simd {
        // A whole tile is stored straight from the registers into the output (for the first
        // layer, K = 9, a copy through memory took as long as the multiply-adds); a tile at
        // an edge (a short group, the last panel's spare columns) goes through `edge`.
        let micro = |dst: [*mut f32; MR]| {
            // SAFETY: the asserts above bound every read; each `dst` row holds NR floats.
            unsafe {
                crate::kernels::simd128::conv_micro(
                    src,
                    group.starts,
                    group.row_stride,
                    g.kh,
                    run,
                    panel,
                    init,
                    relu,
                    dst,
                )
            }
        };
        if rows == MR && cols.len() == NR {
            let base = out.as_mut_ptr();
            // SAFETY: row i of a whole tile starts at i*out_c + cols.start and holds NR floats,
            // inside `out` by the assert above.
            micro(std::array::from_fn(|i| unsafe { base.add(i * g.out_c + cols.start) }));
        } else {
            let mut edge = [[0.0f32; NR]; MR];
            let mut edge_rows = edge.iter_mut();
            micro(std::array::from_fn(|_| edge_rows.next().unwrap().as_mut_ptr()));
            store(&edge, out);
        }
        return;
    }
    let _ = simd;
    store(&conv_micro_scalar(src, group.starts, group.row_stride, g.kh, run, panel, init, relu), out);
}

/// The scalar micro-kernel: the reference the SIMD128 one is tested against.
#[allow(clippy::too_many_arguments)]
pub(super) fn conv_micro_scalar(
    src: &[f32],
    starts: [usize; MR],
    row_stride: usize,
    kh: usize,
    run: usize,
    panel: &[f32],
    init: &[f32; NR],
    relu: bool,
) -> [[f32; NR]; MR] {
    let mut acc = [*init; MR];
    let mut steps = panel.chunks_exact(NR);
    for ky in 0..kh {
        for r in 0..run {
            let b = steps.next().unwrap();
            for (row, &s) in acc.iter_mut().zip(&starts) {
                let a = src[s + ky * row_stride + r];
                row.iter_mut().zip(b).for_each(|(c, &bv)| *c += a * bv);
            }
        }
    }
    if relu {
        // Not `max(0.0)`: NaN stays NaN, so a diverged network is not hidden.
        acc.iter_mut().flatten().for_each(|v| *v = if *v < 0.0 { 0.0 } else { *v });
    }
    acc
}
