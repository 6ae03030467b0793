//! f32 matrix multiply, `C = op(A)·op(B)` (or `C += ...`), cache-blocked in the manner of
//! BLIS (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS
//! Functionality", 2015): operands are packed into panels that stay in cache while an
//! MR×NR micro-kernel runs over them, and the tiles of C are split across the thread pool.
//!
//! # Shapes
//! All matrices are dense and row-major. `A` is stored `m×k` (or `k×m` when `trans_a`),
//! `B` is stored `k×n` (or `n×k` when `trans_b`), `C` is `m×n`.

use std::cell::Cell;

use crate::error::{Error, Result};
use crate::parallel;

/// Rows of C produced by one micro-kernel call.
pub const MR: usize = 4;
/// Columns of C produced by one micro-kernel call (two SIMD128 vectors).
pub const NR: usize = 8;
/// Depth of one packed block: an MR×KC panel of A and a KC×NR panel of B stay in L1.
const KC: usize = 256;
/// Rows of C in one task: the packed MC×KC block of A (64 KiB) stays in L2.
const MC: usize = 64;
/// Columns of C in one task: its packed KC×NC_TILE block of B (256 KiB) stays in L2.
const NC_TILE: usize = 256;

/// What to multiply: dimensions and how the operands are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    /// `C += A·B` instead of `C = A·B`.
    pub accumulate: bool,
}

impl Gemm {
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Gemm { m, n, k, trans_a: false, trans_b: false, accumulate: false }
    }
    pub fn trans_a(self, t: bool) -> Self {
        Gemm { trans_a: t, ..self }
    }
    pub fn trans_b(self, t: bool) -> Self {
        Gemm { trans_b: t, ..self }
    }
    pub fn accumulate(self, acc: bool) -> Self {
        Gemm { accumulate: acc, ..self }
    }

    fn check(&self, a: &[f32], b: &[f32], c: &[f32]) -> Result<()> {
        let (m, n, k) = (self.m, self.n, self.k);
        let sizes = [("A", a.len(), m * k), ("B", b.len(), k * n), ("C", c.len(), m * n)];
        for (name, got, want) in sizes {
            if got != want {
                return Err(Error::shape(format!(
                    "gemm: {name} has {got} elements, expected {want} for m={m}, n={n}, k={k}"
                )));
            }
        }
        Ok(())
    }
}

/// Multiplies with the fastest available path. Returns an error (before touching `c`) when
/// the buffer lengths do not match the dimensions.
pub fn gemm(g: Gemm, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<()> {
    g.check(a, b, c)?;
    if g.m == 0 || g.n == 0 {
        return Ok(());
    }
    if g.k == 0 {
        if !g.accumulate {
            c.fill(0.0);
        }
        return Ok(());
    }
    blocked(g, a, b, c);
    Ok(())
}

/// The straightforward triple loop; the reference the blocked version is tested against.
pub fn gemm_naive(g: Gemm, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<()> {
    g.check(a, b, c)?;
    let (m, n, k) = (g.m, g.n, g.k);
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for p in 0..k {
                let av = if g.trans_a { a[p * m + i] } else { a[i * k + p] };
                let bv = if g.trans_b { b[j * k + p] } else { b[p * n + j] };
                s += av * bv;
            }
            c[i * n + j] = if g.accumulate { c[i * n + j] + s } else { s };
        }
    }
    Ok(())
}

/// A pointer to C that tasks may share: each task writes a disjoint tile.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint tiles of C (see `blocked`), so sharing the pointer across
// threads cannot create overlapping writes.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

thread_local! {
    /// Packing buffers reused between calls on the same thread. Taken out while in use, so a
    /// nested call (work stealing inside a rayon join) simply allocates its own.
    static PACK_BUFFERS: Cell<(Vec<f32>, Vec<f32>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

/// One parallel region per product: a task per band of rows × NC_TILE columns of C, which,
/// for each depth block, packs its columns of B once and then, MC rows at a time, its rows
/// of A, running the micro-kernel over them. Forking once, rather than three times per depth
/// block (pack A, pack B, multiply), is what lets a small product, such as a dense layer's
/// 128 rows by 1,600 deep, gain from a second thread. The bands are as tall as still gives
/// each thread two of them, so a large product packs B a few times, not once per MC rows.
/// Every element of C sums its depth blocks in order, so the bands change no result.
fn blocked(g: Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, n, k) = (g.m, g.n, g.k);
    let out = OutPtr(c.as_mut_ptr());
    let simd = super::simd_enabled();
    let col_tiles = n.div_ceil(NC_TILE);
    let bands_wanted = (2 * parallel::threads()).div_ceil(col_tiles);
    let band = m.div_ceil(bands_wanted.max(1)).next_multiple_of(MC);
    let bands = m.div_ceil(band);
    parallel::for_each_task(bands * col_tiles, |t| {
        let (bi, tj) = (t / col_tiles, t % col_tiles);
        let cols = tj * NC_TILE..(tj * NC_TILE + NC_TILE).min(n);
        let (mut pa, mut pb) = PACK_BUFFERS.with(|cell| cell.take());
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            pb.clear();
            pb.resize(cols.len().div_ceil(NR) * NR * kc, 0.0);
            pack_b(g, b, pc, kc, cols.start, cols.end, &mut pb);
            // The first depth block overwrites C unless asked to accumulate.
            let overwrite = pc == 0 && !g.accumulate;
            for r0 in (bi * band..((bi + 1) * band).min(m)).step_by(MC) {
                let rows = r0..(r0 + MC).min(m);
                pa.clear();
                pa.resize(rows.len().div_ceil(MR) * MR * kc, 0.0);
                pack_a(g, a, rows.start, pc, kc, &mut pa);
                macro_tile(g, kc, &pa, &pb, rows, cols.clone(), out, overwrite, simd);
            }
        }
        PACK_BUFFERS.with(|cell| cell.set((pa, pb)));
    });
}

/// Packs rows `row0..` (as many MR-panels as `dst` holds) of A's depth block `pc..pc+kc`:
/// panel r, step p holds `A[row0 + r*MR + 0..MR][pc + p]`, zero past the last row.
fn pack_a(g: Gemm, a: &[f32], row0: usize, pc: usize, kc: usize, dst: &mut [f32]) {
    for (r, panel) in dst.chunks_exact_mut(MR * kc).enumerate() {
        let i0 = row0 + r * MR;
        let rows = MR.min(g.m.saturating_sub(i0));
        if !g.trans_a {
            for ii in 0..rows {
                let src = &a[(i0 + ii) * g.k + pc..][..kc];
                for (p, &v) in src.iter().enumerate() {
                    panel[p * MR + ii] = v;
                }
            }
        } else {
            for p in 0..kc {
                let src = &a[(pc + p) * g.m + i0..][..rows];
                panel[p * MR..p * MR + rows].copy_from_slice(src);
            }
        }
        // Rows past m stay zero: the buffer was zero-filled before packing.
    }
}

/// Packs columns `col0..col_end` of B's depth block `pc..pc+kc` into NR-column panels:
/// panel s, step p holds `B[pc + p][col0 + s*NR + 0..NR]`, zero past `col_end`.
fn pack_b(g: Gemm, b: &[f32], pc: usize, kc: usize, col0: usize, col_end: usize, dst: &mut [f32]) {
    for (s, panel) in dst.chunks_exact_mut(NR * kc).enumerate() {
        let j0 = col0 + s * NR;
        let cols = NR.min(col_end.saturating_sub(j0));
        if !g.trans_b {
            for p in 0..kc {
                let src = &b[(pc + p) * g.n + j0..][..cols];
                panel[p * NR..p * NR + cols].copy_from_slice(src);
            }
        } else {
            for jj in 0..cols {
                let src = &b[(j0 + jj) * g.k + pc..][..kc];
                for (p, &v) in src.iter().enumerate() {
                    panel[p * NR + jj] = v;
                }
            }
        }
    }
}

/// Runs the micro-kernel over one tile of C (`rows` × `cols`) for one depth block, from the
/// tile's packed rows of A (`pa`) and columns of B (`pb`).
#[allow(clippy::too_many_arguments)]
fn macro_tile(
    g: Gemm,
    kc: usize,
    pa: &[f32],
    pb: &[f32],
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    out: OutPtr,
    overwrite: bool,
    simd: bool,
) {
    let mut acc = [0.0f32; MR * NR];
    for j0 in cols.clone().step_by(NR) {
        let nr = NR.min(cols.end - j0);
        let b_panel = &pb[(j0 - cols.start) / NR * NR * kc..][..NR * kc];
        for i0 in rows.clone().step_by(MR) {
            let mr = MR.min(rows.end - i0);
            let a_panel = &pa[(i0 - rows.start) / MR * MR * kc..][..MR * kc];
            micro(kc, a_panel, b_panel, &mut acc, simd);
            for ii in 0..mr {
                // SAFETY: (i0+ii, j0..j0+nr) lies inside this task's tile, which no other
                // task touches, and inside C (rows < m, cols < n).
                let row = unsafe { std::slice::from_raw_parts_mut(out.0.add((i0 + ii) * g.n + j0), nr) };
                let src = &acc[ii * NR..ii * NR + nr];
                if overwrite {
                    row.copy_from_slice(src);
                } else {
                    for (d, s) in row.iter_mut().zip(src) {
                        *d += s;
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn micro(kc: usize, a: &[f32], b: &[f32], acc: &mut [f32; MR * NR], simd: bool) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if simd {
        return super::simd128::gemm_micro(kc, a, b, acc);
    }
    let _ = simd;
    micro_scalar(kc, a, b, acc);
}

/// The scalar micro-kernel: same packed layout, one multiply-add at a time.
#[inline(never)]
pub fn micro_scalar(kc: usize, a: &[f32], b: &[f32], acc: &mut [f32; MR * NR]) {
    acc.fill(0.0);
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc) {
        for i in 0..MR {
            for j in 0..NR {
                acc[i * NR + j] += ap[i] * bp[j];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn check(m: usize, n: usize, k: usize, ta: bool, tb: bool, acc: bool) {
        let mut rng = Rng::new((m * 131 + n * 17 + k) as u64);
        let a: Vec<f32> = (0..m * k).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let c0: Vec<f32> = (0..m * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let g = Gemm::new(m, n, k).trans_a(ta).trans_b(tb).accumulate(acc);
        let (mut want, mut got) = (c0.clone(), c0.clone());
        gemm_naive(g, &a, &b, &mut want).unwrap();
        gemm(g, &a, &b, &mut got).unwrap();
        // Summation order differs (blocked over KC); error grows like sqrt(k) * eps * |terms|.
        let tol = 1e-5 * (k as f32).sqrt().max(1.0) * 4.0;
        for (idx, (w, g)) in want.iter().zip(&got).enumerate() {
            assert!(
                (w - g).abs() <= tol * (1.0 + w.abs()),
                "m={m} n={n} k={k} ta={ta} tb={tb} acc={acc}: C[{idx}] = {g}, expected {w}"
            );
        }
    }

    #[test]
    fn blocked_matches_naive_on_awkward_shapes() {
        let sizes = [1, 3, 17, 129, 257];
        for &m in &sizes {
            for &n in &sizes {
                for &k in &[1, 3, 17, 257] {
                    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                        if m * n * k > 3_000_000 {
                            continue;
                        }
                        check(m, n, k, ta, tb, false);
                    }
                }
            }
        }
    }

    #[test]
    fn large_and_non_square() {
        check(300, 70, 600, false, false, false);
        check(70, 4100, 30, false, true, false); // wider than one packed block of B
        check(513, 257, 129, true, true, false);
    }

    #[test]
    fn accumulate_adds_to_c() {
        check(33, 45, 300, false, false, true);
        check(8, 8, 8, true, false, true);
    }

    #[test]
    fn empty_dimensions() {
        let g = Gemm::new(3, 2, 0);
        let mut c = vec![1.0; 6];
        gemm(g, &[], &[], &mut c).unwrap();
        assert_eq!(c, vec![0.0; 6]);
        gemm(g.accumulate(true), &[], &[], &mut c).unwrap();
        assert_eq!(c, vec![0.0; 6]);
    }

    #[test]
    fn wrong_lengths_are_shape_errors() {
        let mut c = vec![0.0; 4];
        let err = gemm(Gemm::new(2, 2, 3), &[0.0; 6], &[0.0; 5], &mut c).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Shape);
        assert!(err.message.contains("B has 5 elements, expected 6"), "{}", err.message);
    }

    #[test]
    fn single_thread_and_pool_agree_bitwise() {
        // Each C element is summed in the same order whichever thread computes its tile.
        let (m, n, k) = (200, 300, 400);
        let mut rng = Rng::new(7);
        let a: Vec<f32> = (0..m * k).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let (mut c1, mut c2) = (vec![0.0; m * n], vec![0.0; m * n]);
        let g = Gemm::new(m, n, k);
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        parallel::set_thread_limit(Some(1));
        gemm(g, &a, &b, &mut c1).unwrap();
        parallel::set_thread_limit(None);
        gemm(g, &a, &b, &mut c2).unwrap();
        assert_eq!(c1, c2);
    }
}
