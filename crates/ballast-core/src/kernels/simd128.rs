//! SIMD128 micro-kernels (wasm32 only). Each mirrors a scalar function in its own kernel
//! module and is tested against it.

use core::arch::wasm32::*;

use super::gemm::{MR, NR};

/// `c + a·b`. In the relaxed-SIMD build (`target_feature = "relaxed-simd"`) this is
/// `f32x4.relaxed_madd`, one fused multiply-add where the CPU has FMA (x86 FMA3, ARM), rounded
/// once, so that build's results differ from the others' in the last bits; elsewhere a multiply
/// then an add, rounded twice, as the scalar kernels compute it.
#[inline(always)]
pub fn madd(a: v128, b: v128, c: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    return f32x4_relaxed_madd(a, b, c);
    #[cfg(not(target_feature = "relaxed-simd"))]
    return f32x4_add(c, f32x4_mul(a, b));
}

/// `acc (MR×NR) = Σ_p a[p] ⊗ b[p]` over `kc` steps of packed panels: `a` holds MR values per
/// step, `b` NR values per step (see `gemm::pack_a` / `gemm::pack_b`).
///
/// Eight accumulators of four lanes, two B vectors and one broadcast A value stay in
/// registers (15 of the 16 that V8 maps v128 onto on x86-64).
#[inline(always)]
pub fn gemm_micro(kc: usize, a: &[f32], b: &[f32], acc: &mut [f32; MR * NR]) {
    assert!(a.len() >= kc * MR && b.len() >= kc * NR);
    let zero = f32x4_splat(0.0);
    let (mut c00, mut c01, mut c10, mut c11) = (zero, zero, zero, zero);
    let (mut c20, mut c21, mut c30, mut c31) = (zero, zero, zero, zero);
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    for p in 0..kc {
        // SAFETY: p < kc and the assert above bounds both panels; v128_load allows
        // unaligned addresses.
        unsafe {
            let b0 = v128_load(bp.add(p * NR) as *const v128);
            let b1 = v128_load(bp.add(p * NR + 4) as *const v128);
            let a = ap.add(p * MR);
            let a0 = f32x4_splat(*a);
            c00 = madd(a0, b0, c00);
            c01 = madd(a0, b1, c01);
            let a1 = f32x4_splat(*a.add(1));
            c10 = madd(a1, b0, c10);
            c11 = madd(a1, b1, c11);
            let a2 = f32x4_splat(*a.add(2));
            c20 = madd(a2, b0, c20);
            c21 = madd(a2, b1, c21);
            let a3 = f32x4_splat(*a.add(3));
            c30 = madd(a3, b0, c30);
            c31 = madd(a3, b1, c31);
        }
    }
    let out = acc.as_mut_ptr() as *mut v128;
    // SAFETY: acc holds MR*NR = 32 f32, i.e. eight v128 slots.
    unsafe {
        for (i, v) in [c00, c01, c10, c11, c20, c21, c30, c31].into_iter().enumerate() {
            v128_store(out.add(i), v);
        }
    }
}

/// The convolution micro-kernel (see `conv::forward`): `act(init + Σ window · panel)` for MR
/// output pixels whose windows start at `src[starts[i]]`, each `kh` runs of `run` floats
/// `row_stride` apart; `panel` holds NR filter values per window element. ReLU when `relu`.
/// Row `i` of the tile is stored at `dst[i]`, straight from the registers.
///
/// # Safety
/// Every `starts[i] + (kh-1)*row_stride + run` must be at most `src.len()`, `panel` must
/// hold `kh*run*NR` floats, and each `dst[i]` must be valid for writing NR floats.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn conv_micro(
    src: &[f32],
    starts: [usize; MR],
    row_stride: usize,
    kh: usize,
    run: usize,
    panel: &[f32],
    init: &[f32; NR],
    relu: bool,
    dst: [*mut f32; MR],
) {
    let (i0, i1) = (v128_load(init.as_ptr() as *const v128), v128_load(init.as_ptr().add(4) as *const v128));
    let (mut c00, mut c01, mut c10, mut c11) = (i0, i1, i0, i1);
    let (mut c20, mut c21, mut c30, mut c31) = (i0, i1, i0, i1);
    let mut bp = panel.as_ptr();
    let base = src.as_ptr();
    for ky in 0..kh {
        let row = ky * row_stride;
        let [a0, a1, a2, a3] = starts.map(|s| base.add(s + row));
        for r in 0..run {
            let b0 = v128_load(bp as *const v128);
            let b1 = v128_load(bp.add(4) as *const v128);
            bp = bp.add(NR);
            let a = v128_load32_splat(a0.add(r) as *const u32);
            c00 = madd(a, b0, c00);
            c01 = madd(a, b1, c01);
            let a = v128_load32_splat(a1.add(r) as *const u32);
            c10 = madd(a, b0, c10);
            c11 = madd(a, b1, c11);
            let a = v128_load32_splat(a2.add(r) as *const u32);
            c20 = madd(a, b0, c20);
            c21 = madd(a, b1, c21);
            let a = v128_load32_splat(a3.add(r) as *const u32);
            c30 = madd(a, b0, c30);
            c31 = madd(a, b1, c31);
        }
    }
    let zero = f32x4_splat(0.0);
    for (row, (lo, hi)) in dst.into_iter().zip([(c00, c01), (c10, c11), (c20, c21), (c30, c31)]) {
        // pmax(v, 0) is `v < 0 ? 0 : v`: NaN stays NaN, as in the scalar kernel.
        let (lo, hi) = if relu { (f32x4_pmax(lo, zero), f32x4_pmax(hi, zero)) } else { (lo, hi) };
        v128_store(row as *mut v128, lo);
        v128_store(row.add(4) as *mut v128, hi);
    }
}

/// The depthwise channel block (see `conv::depthwise`): `dst[..4V] = init + Σ_(s, w) a[s..][..4V]
/// * b[w..][..4V]` over `terms`, in V f32x4 accumulators, then ReLU when `relu` (pmax: NaN
/// stays NaN).
///
/// # Safety
/// For every term, `a[s..s + 4V]` and `b[w..w + 4V]` must be in bounds of the allocations
/// `a` and `b` point into; `dst` must be valid for writing, and `init` (when given) for
/// reading, 4V floats.
#[inline(always)]
pub unsafe fn channel_block<const V: usize>(
    dst: *mut f32,
    init: Option<*const f32>,
    a: *const f32,
    b: *const f32,
    terms: &[(usize, usize)],
    relu: bool,
) {
    let mut acc = [f32x4_splat(0.0); V];
    if let Some(init) = init {
        for (v, x) in acc.iter_mut().enumerate() {
            *x = v128_load(init.add(4 * v) as *const v128);
        }
    }
    for &(s, w) in terms {
        let (pa, pb) = (a.add(s), b.add(w));
        for (v, x) in acc.iter_mut().enumerate() {
            *x = madd(v128_load(pa.add(4 * v) as *const v128), v128_load(pb.add(4 * v) as *const v128), *x);
        }
    }
    let zero = f32x4_splat(0.0);
    for (v, x) in acc.into_iter().enumerate() {
        v128_store(dst.add(4 * v) as *mut v128, if relu { f32x4_pmax(x, zero) } else { x });
    }
}

/// The filter-gradient micro-kernel (see `conv::filter_gradient`): a tile of TR input
/// channels × 8 filters, `Σ_(y, x) a[y*a_step.1 + x*a_step.0 + i] * b[y*b_step.1 + x*b_step.0
/// + j]` over `extent` (rows, columns) of output pixels, added to `dst[i*dst_row + j]`.
///
/// # Safety
/// For the last pixel, `a[..TR]` and `b[..8]` from its offsets must lie inside `a` and `b`,
/// and `dst` must hold `(TR-1)*dst_row + 8` floats.
#[inline(always)]
pub unsafe fn filter_gradient_micro<const TR: usize>(
    (a, a_step): (&[f32], (usize, usize)),
    (b, b_step): (&[f32], (usize, usize)),
    (rows, cols): (usize, usize),
    dst: &mut [f32],
    dst_row: usize,
) {
    let mut acc = [[f32x4_splat(0.0); 2]; TR];
    for y in 0..rows {
        for x in 0..cols {
            // Offsets from the operands' starts, so no pointer steps past the last pixel.
            let (pa, pb) = (a.as_ptr().add(y * a_step.1 + x * a_step.0), b.as_ptr().add(y * b_step.1 + x * b_step.0));
            let (b0, b1) = (v128_load(pb as *const v128), v128_load(pb.add(4) as *const v128));
            for (i, row) in acc.iter_mut().enumerate() {
                let av = v128_load32_splat(pa.add(i) as *const u32);
                row[0] = madd(av, b0, row[0]);
                row[1] = madd(av, b1, row[1]);
            }
        }
    }
    let d = dst.as_mut_ptr();
    for (i, row) in acc.iter().enumerate() {
        for (v, &x) in row.iter().enumerate() {
            let p = d.add(i * dst_row + 4 * v) as *mut v128;
            v128_store(p, f32x4_add(v128_load(p), x));
        }
    }
}
