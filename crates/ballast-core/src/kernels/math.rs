//! Branch-free f32 transcendentals for the elementwise activations.
//!
//! `f32::exp` is a libm call per element, which no compiler vectorizes; the activations built
//! on it (sigmoid, SiLU, GELU, mish) ran 2–6x slower than memory allowed. The functions here
//! use only adds, multiplies, selects and integer bit shifts, so a loop over a slice compiles
//! to SIMD128 in the wasm builds and to SSE natively — one source, no separate scalar path to
//! keep in step, and the same bits from every build (no fused multiply-add is ever formed).

/// Below this eˣ is under f32's smallest normal: [`exp`] gives 0.
const EXP_MIN: f32 = -87.3;
/// Above this eˣ is within 2^0.6 of f32::MAX: [`exp`] gives ∞.
const EXP_MAX: f32 = 88.3;
/// 1.5 · 2²³: adding it rounds a float of magnitude below 2²² to an integer, which then sits
/// in the low mantissa bits (the classic round-to-nearest without a rounding instruction).
const ROUND: f32 = 12_582_912.0;
/// ln 2 split in two (Cody & Waite): `LN2_HI` has few enough bits that `n · LN2_HI` is exact
/// for the |n| ≤ 127 used here, so the reduced argument keeps full precision.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// x = n ln 2 + r with n an integer and |r| ≤ ln 2 / 2, for x clamped into [EXP_MIN, EXP_MAX]
/// (its callers put the ends back): returns r and 2ⁿ (built from its exponent bits). NaN gives
/// a NaN r.
#[inline(always)]
fn reduce(x: f32) -> (f32, f32) {
    // Selects, which vectorize; comparisons, not min/max: `f32::max(NaN, a)` is `a`, and a NaN
    // must come through.
    let x = if x < EXP_MIN { EXP_MIN } else { x };
    let x = if x > EXP_MAX { EXP_MAX } else { x };
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // The integer n is in the low mantissa bits of `shifted`; 2ⁿ has exponent field n + 127.
    let n_int = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    (r, f32::from_bits((n_int.wrapping_add(127) as u32) << 23))
}

/// eˣ to within 2 ulp over [−87.3, 88.3]; 0 below that range and ∞ above it (where eˣ is
/// below f32's smallest normal, or near f32::MAX), so that `x · exp(−x)` and `1 / (1 + exp(x))`
/// go to 0 rather than to a small number times a huge x; NaN stays NaN.
///
/// eˣ = 2ⁿ · eʳ with n = round(x / ln 2) and |r| ≤ ln 2 / 2; eʳ is its Taylor series to r⁷
/// (truncation error below 6e-9 relative), 2ⁿ is built from its exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // The polynomial runs on x clamped into range, and the ends are put back at the end.
    let (r, scale) = reduce(x);
    let p = 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    let y = p * scale;
    let y = if x < EXP_MIN { 0.0 } else { y };
    if x > EXP_MAX {
        f32::INFINITY
    } else {
        y
    }
}

/// eˣ − 1 to within 3 ulp, accurate near 0 where `exp(x) − 1` would cancel; −1 below −87.3
/// and ∞ above 88.3, as [`exp`]. With the same reduction x = n ln 2 + r, eˣ − 1 is
/// 2ⁿ (eʳ − 1) + (2ⁿ − 1): eʳ − 1 is its Taylor series to r⁸ (|r| ≤ ln 2 / 2: truncation below
/// 2e-10 relative), which for n = 0 is the whole answer, and for n ≠ 0 the sum loses at most a
/// bit.
#[inline(always)]
pub fn expm1(x: f32) -> f32 {
    let (r, scale) = reduce(x);
    let p = 1.0 / 40320.0;
    let p = p * r + 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let em1_r = (p * r) * r + r;
    let y = scale * em1_r + (scale - 1.0);
    let y = if x < EXP_MIN { -1.0 } else { y };
    if x > EXP_MAX {
        f32::INFINITY
    } else {
        y
    }
}

/// tanh(x) to within 4 ulp, as e/(e + 2) with e = eᵘ − 1, u = 2|x|, and the sign put back.
/// Past |x| = 9, tanh is 1 in f32; the argument is capped there so eᵘ stays finite.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let e = expm1(2.0 * if a > 9.0 { 9.0 } else { a });
    (e / (e + 2.0)).copysign(x)
}

/// ln(1 + u) for u in [0, 1] (softplus's ln(1 + e^−|x|)) to within 3 ulp; beyond u = 1.8
/// the series below would need more terms. With w = 1 + u rounded,
/// ln w comes from the series 2·atanh(s), s = (m − 1)/(m + 1), m = w or w/2 so that
/// |s| ≤ 0.172 (truncation below 2e-9); `(u − (w − 1)) / w` restores what rounding w lost,
/// which is all of it for tiny u.
#[inline(always)]
pub fn ln_1p(u: f32) -> f32 {
    debug_assert!(!(u > 1.0), "ln_1p is for u in [0, 1], got {u}");
    let w = 1.0 + u;
    let (m, k) = if w > std::f32::consts::SQRT_2 { (0.5 * w, 1.0) } else { (w, 0.0) };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = 1.0 / 11.0;
    let p = p * s2 + 1.0 / 9.0;
    let p = p * s2 + 1.0 / 7.0;
    let p = p * s2 + 1.0 / 5.0;
    let p = p * s2 + 1.0 / 3.0;
    let ln_m = 2.0 * s + 2.0 * s * s2 * p;
    let lost = (u - (w - 1.0)) / w;
    k * LN2_HI + (ln_m + (lost + k * LN2_LO))
}

/// The logistic function 1 / (1 + e⁻ˣ), within 3 ulp; 0 below x = −88.3, 1 above x = 17.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// erfc(z) from the Chebyshev fit of Press et al., *Numerical Recipes*, §6.2 (fractional error
/// 1.2e-7), evaluated in f32 around the [`exp`] above: the f32 rounding of −z² adds about
/// 1.2e-7 · z² relative, 1e-6 at z = 3, where erfc is 2e-5.
// The coefficients as published, though f32 keeps fewer digits.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn erfc(z: f32) -> f32 {
    let a = if z < 0.0 { -z } else { z };
    let t = 1.0 / (1.0 + 0.5 * a);
    let p = 0.170_872_77;
    let p = p * t - 0.822_152_23;
    let p = p * t + 1.488_515_87;
    let p = p * t - 1.135_203_98;
    let p = p * t + 0.278_868_07;
    let p = p * t - 0.186_288_06;
    let p = p * t + 0.096_784_18;
    let p = p * t + 0.374_091_96;
    let p = p * t + 1.000_023_68;
    let p = p * t - 1.265_512_23;
    let r = t * exp(p - a * a);
    if z < 0.0 {
        2.0 - r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between an f32 and the exact value (in f64).
    fn ulps(got: f32, exact: f64) -> f64 {
        let want = exact as f32;
        let ulp = (f32::from_bits(want.to_bits() + 1) - want) as f64;
        (got as f64 - exact).abs() / ulp
    }

    fn sweep(lo: f32, hi: f32, steps: usize) -> impl Iterator<Item = f32> {
        (0..=steps).map(move |i| lo + (hi - lo) * i as f32 / steps as f32)
    }

    #[test]
    fn exp_is_within_two_ulp_over_the_normal_range() {
        let worst = sweep(-87.0, 88.0, 400_000).map(|x| ulps(exp(x), (x as f64).exp())).fold(0.0, f64::max);
        assert!(worst <= 2.0, "worst {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(1.0), std::f32::consts::E);
    }

    #[test]
    fn exp_saturates_at_the_ends_and_keeps_nan() {
        assert!(exp(f32::NAN).is_nan());
        assert_eq!((exp(f32::NEG_INFINITY), exp(-88.0), exp(-1e30)), (0.0, 0.0, 0.0));
        assert_eq!((exp(f32::INFINITY), exp(89.0), exp(1e30)), (f32::INFINITY, f32::INFINITY, f32::INFINITY));
        assert!(exp(EXP_MIN).is_normal() && exp(EXP_MAX).is_finite() && exp(EXP_MAX) > 1e38);
        // What the saturation is for: x · σ(x) and friends go to 0 at huge |x|.
        assert_eq!((sigmoid(-1e30), sigmoid(1e30), -1e30 * sigmoid(-1e30)), (0.0, 1.0, 0.0));
    }

    #[test]
    fn sigmoid_and_erfc_against_f64() {
        for x in sweep(-20.0, 20.0, 100_000) {
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!(ulps(sigmoid(x), s) <= 3.0, "sigmoid({x}) = {} vs {s}", sigmoid(x));
        }
        // erfc's fit: 1.2e-7 relative, plus the f32 rounding of the exponent −z² (one ulp of
        // z², 6e-8 · z², becomes that relative error of the result).
        for z in sweep(-6.0, 9.0, 100_000) {
            let exact = libm_erfc(z as f64);
            let rel = (erfc(z) as f64 - exact).abs() / exact;
            let bound = 3e-7 + 1.2e-7 * (z * z) as f64;
            assert!(rel <= bound, "erfc({z}) = {} vs {exact}: {rel:e}", erfc(z));
        }
        assert!(sigmoid(f32::NAN).is_nan() && erfc(f32::NAN).is_nan());
    }

    #[test]
    fn expm1_tanh_and_ln_1p_against_f64() {
        let worst = sweep(-87.0, 88.0, 400_000)
            .chain(sweep(-0.4, 0.4, 100_000))
            .map(|x| ulps(expm1(x), (x as f64).exp_m1()))
            .fold(0.0, f64::max);
        assert!(worst <= 3.0, "expm1: worst {worst} ulp");
        assert_eq!(expm1(1e-30), 1e-30);
        assert_eq!((expm1(-1e30), expm1(1e30)), (-1.0, f32::INFINITY));
        let worst = sweep(-12.0, 12.0, 400_000)
            .chain(sweep(-1e-3, 1e-3, 10_000))
            .map(|x| ulps(tanh(x), (x as f64).tanh()))
            .fold(0.0, f64::max);
        assert!(worst <= 4.0, "tanh: worst {worst} ulp");
        assert_eq!((tanh(100.0), tanh(-100.0), tanh(0.0)), (1.0, -1.0, 0.0));
        let worst = sweep(0.0, 1.0, 400_000)
            .chain(sweep(0.0, 1e-6, 10_000))
            .map(|u| ulps(ln_1p(u), (u as f64).ln_1p()))
            .fold(0.0, f64::max);
        assert!(worst <= 3.0, "ln_1p: worst {worst} ulp");
        assert!(expm1(f32::NAN).is_nan() && tanh(f32::NAN).is_nan() && ln_1p(f32::NAN).is_nan());
    }

    /// erfc in f64 by its continued fraction / series, independent of the fit above.
    fn libm_erfc(z: f64) -> f64 {
        if z < 0.0 {
            return 2.0 - libm_erfc(-z);
        }
        if z < 2.0 {
            // erf by its Maclaurin series, converging fast for z < 2.
            let (mut term, mut sum, mut k) = (z, z, 0.0);
            while term.abs() > 1e-18 * sum.abs() {
                k += 1.0;
                term *= -z * z / k;
                sum += term / (2.0 * k + 1.0);
            }
            1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            // Lentz's continued fraction for erfc.
            let mut f = z;
            for k in (1..200).rev() {
                f = z + (k as f64 / 2.0) / f;
            }
            (-z * z).exp() / (std::f64::consts::PI.sqrt() * f)
        }
    }
}
