//! Activations, each forward beside its gradient, with Keras's maths and defaults.
//! Softmax acts on the last axis ([`softmax`]) or any other ([`softmax_axis`]); log-softmax
//! on the last. The elementwise ones map every value in parallel chunks and keep NaN a NaN.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::kernels::math;
use crate::parallel;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// Elementwise map over large tensors in parallel chunks (activations run on every pixel).
pub(crate) fn par_map(x: &Tensor, f: impl Fn(f32) -> f32 + Sync + Send) -> Tensor {
    let mut out = Tensor::zeros(x.shape());
    let src = x.data();
    parallel::for_each_chunk_mut(out.data_mut(), 1 << 16, |i, dst| {
        let src = &src[i << 16..][..dst.len()];
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = f(s);
        }
    });
    out
}

/// `out = g ⊙ f(x, y)` elementwise over two same-shaped tensors, in parallel chunks.
pub(crate) fn par_zip(g: &Tensor, y: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync + Send) -> Tensor {
    let mut out = Tensor::zeros(g.shape());
    let (gs, ys) = (g.data(), y.data());
    parallel::for_each_chunk_mut(out.data_mut(), 1 << 16, |i, dst| {
        let (gs, ys) = (&gs[i << 16..][..dst.len()], &ys[i << 16..][..dst.len()]);
        for ((d, &a), &b) in dst.iter_mut().zip(gs).zip(ys) {
            *d = f(a, b);
        }
    });
    out
}

pub fn relu(tape: &mut Tape, x: Var) -> Var {
    // Not `v.max(0.0)`: that maps NaN to 0 and would hide a diverged network.
    let value = par_map(tape.value(x), |v| if v < 0.0 { 0.0 } else { v });
    // The output alone decides the gradient: y > 0 exactly where x > 0.
    tape.push(value, &[x], Box::new(|g, _, y| vec![Some(relu_grad(g, y))]))
}

/// The gradient through a ReLU from its output `y`: `g` where `y > 0`, else 0.
pub(crate) fn relu_grad(g: &Tensor, y: &Tensor) -> Tensor {
    par_zip(g, y, |g, y| if y > 0.0 { g } else { 0.0 })
}

pub fn sigmoid(tape: &mut Tape, x: Var) -> Var {
    let value = par_map(tape.value(x), math::sigmoid);
    tape.push(value, &[x], Box::new(|g, _, y| vec![Some(par_zip(g, y, |g, y| g * y * (1.0 - y)))]))
}

pub fn tanh(tape: &mut Tape, x: Var) -> Var {
    let value = par_map(tape.value(x), math::tanh);
    tape.push(value, &[x], Box::new(|g, _, y| vec![Some(par_zip(g, y, |g, y| g * (1.0 - y * y)))]))
}

/// `y = f(x)` elementwise; the gradient `g · df(x)` is taken from the input.
fn elementwise<F, D>(tape: &mut Tape, x: Var, f: F, df: D) -> Var
where
    F: Fn(f32) -> f32 + Sync + Send,
    D: Fn(f32) -> f32 + Sync + Send + 'static,
{
    let value = par_map(tape.value(x), f);
    tape.push(value, &[x], Box::new(move |g, inputs, _| vec![Some(par_zip(g, inputs[0], |g, x| g * df(x)))]))
}

/// Like [`elementwise`], with a derivative `df(x, y)` that may reuse the output `y = f(x)`
/// instead of recomputing what it shares with `f`.
fn elementwise_with_output<F, D>(tape: &mut Tape, x: Var, f: F, df: D) -> Var
where
    F: Fn(f32) -> f32 + Sync + Send,
    D: Fn(f32, f32) -> f32 + Sync + Send + 'static,
{
    let value = par_map(tape.value(x), f);
    tape.push(
        value,
        &[x],
        Box::new(move |g, inputs, y| {
            let mut out = Tensor::zeros(g.shape());
            let (gs, xs, ys) = (g.data(), inputs[0].data(), y.data());
            parallel::for_each_chunk_mut(out.data_mut(), 1 << 16, |i, dst| {
                let at = i << 16..(i << 16) + dst.len();
                for (((d, &g), &x), &y) in dst.iter_mut().zip(&gs[at.clone()]).zip(&xs[at.clone()]).zip(&ys[at]) {
                    *d = g * df(x, y);
                }
            });
            vec![Some(out)]
        }),
    )
}

/// log(1 + eˣ) without overflow: max(x, 0) + log1p(e^−|x|).
fn softplus_of(x: f32) -> f32 {
    x.max(0.0) + math::ln_1p(math::exp(-x.abs()))
}

/// Keras's `leaky_relu`: `x` for x ≥ 0, `negative_slope · x` below.
pub fn leaky_relu(tape: &mut Tape, x: Var, negative_slope: f32) -> Var {
    elementwise(
        tape,
        x,
        move |v| if v < 0.0 { negative_slope * v } else { v },
        move |v| {
            if v > 0.0 {
                1.0
            } else {
                negative_slope
            }
        },
    )
}

/// `min(max(x, 0), 6)`.
pub fn relu6(tape: &mut Tape, x: Var) -> Var {
    elementwise(tape, x, |v| v.clamp(0.0, 6.0), |v| if v > 0.0 && v < 6.0 { 1.0 } else { 0.0 })
}

/// Keras's `ReLU` layer (and `relu` activation function with its options): with threshold
/// t, slope s and maximum m, `min(x, m)` for x > t, `s · (x − t)` for x < t, 0 at t.
/// (Exactly Keras's `clip(x · [x > t], 0, m) − s · relu(t − x)`.)
pub fn relu_with(tape: &mut Tape, x: Var, max_value: Option<f32>, negative_slope: f32, threshold: f32) -> Var {
    let max = max_value.unwrap_or(f32::INFINITY);
    let f = move |v: f32| {
        // `v <= t` is false for NaN, which passes through.
        let pos = if v <= threshold || v < 0.0 {
            0.0
        } else if v > max {
            max
        } else {
            v
        };
        let neg = if v < threshold { negative_slope * (v - threshold) } else { 0.0 };
        pos + neg
    };
    let df = move |v: f32| {
        let pos = if v > threshold && v > 0.0 && v < max { 1.0 } else { 0.0 };
        let neg = if v < threshold { negative_slope } else { 0.0 };
        pos + neg
    };
    elementwise(tape, x, f, df)
}

/// `x` for x > 0, `alpha · (eˣ − 1)` otherwise.
pub fn elu(tape: &mut Tape, x: Var, alpha: f32) -> Var {
    elementwise(
        tape,
        x,
        move |v| if v > 0.0 { v } else { alpha * math::expm1(v) },
        move |v| {
            if v > 0.0 {
                1.0
            } else {
                alpha * math::exp(v)
            }
        },
    )
}

/// Keras's SELU constants (Klambauer et al., 2017).
pub const SELU_ALPHA: f32 = 1.673_263_2;
pub const SELU_SCALE: f32 = 1.050_701;

/// `scale · elu(x, alpha)` with Keras's constants.
pub fn selu(tape: &mut Tape, x: Var) -> Var {
    let (a, s) = (SELU_ALPHA, SELU_SCALE);
    elementwise(
        tape,
        x,
        move |v| if v > 0.0 { s * v } else { s * a * math::expm1(v) },
        move |v| {
            if v > 0.0 {
                s
            } else {
                s * a * math::exp(v)
            }
        },
    )
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_CUBIC: f32 = 0.044_715;
/// 1/√(2π), the standard normal density's constant.
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// GELU (Hendrycks & Gimpel, 2016): `x · Φ(x)` exactly (through erf, Keras's default), or
/// with `approximate` the tanh form `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
pub fn gelu(tape: &mut Tape, x: Var, approximate: bool) -> Var {
    if approximate {
        // 1 + tanh(u) = 2σ(2u): one exp, and no cancellation in 1 + tanh for negative x.
        let two_u = |v: f32| 2.0 * SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v);
        return elementwise(
            tape,
            x,
            move |v| v * math::sigmoid(two_u(v)),
            move |v| {
                // d/dx x·σ(2u) = σ + x · 2σ(1 − σ) · u′, u′ = √(2/π) (1 + 3c x²).
                let s = math::sigmoid(two_u(v));
                s + 2.0 * v * s * (1.0 - s) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * v * v)
            },
        );
    }
    // Φ(x) = erfc(−x/√2) / 2; its derivative is the density e^(−x²/2) / √(2π).
    let cdf = |v: f32| 0.5 * math::erfc(-v * std::f32::consts::FRAC_1_SQRT_2);
    // Φ(x) is y/x from the output (exact to rounding: no cancellation), which saves the
    // backward pass an erfc; at x = 0, where y/x is 0/0, Φ is ½.
    elementwise_with_output(
        tape,
        x,
        move |v| v * cdf(v),
        |v, y| (if v == 0.0 { 0.5 } else { y / v }) + v * INV_SQRT_2PI * math::exp(-0.5 * v * v),
    )
}

/// SiLU, also called swish: `x · σ(x)`.
pub fn silu(tape: &mut Tape, x: Var) -> Var {
    elementwise(
        tape,
        x,
        |v| v * math::sigmoid(v),
        |v| {
            let s = math::sigmoid(v);
            s * (1.0 + v * (1.0 - s))
        },
    )
}

/// `log(1 + eˣ)`, computed without overflow.
pub fn softplus(tape: &mut Tape, x: Var) -> Var {
    elementwise(tape, x, softplus_of, math::sigmoid)
}

/// `x / (1 + |x|)`.
pub fn softsign(tape: &mut Tape, x: Var) -> Var {
    elementwise(tape, x, |v| v / (1.0 + v.abs()), |v| 1.0 / ((1.0 + v.abs()) * (1.0 + v.abs())))
}

/// Keras 3's hard sigmoid: `relu6(x + 3) / 6` (Keras 2 and TF.js used `0.2x + 0.5`).
pub fn hard_sigmoid(tape: &mut Tape, x: Var) -> Var {
    elementwise(tape, x, |v| (v + 3.0).clamp(0.0, 6.0) / 6.0, |v| if v > -3.0 && v < 3.0 { 1.0 / 6.0 } else { 0.0 })
}

/// Mish (Misra, 2019): `x · tanh(softplus(x))`, from one exponential: with e = eˣ and
/// n = e(e + 2), tanh(log(1 + e)) = n / (n + 2).
pub fn mish(tape: &mut Tape, x: Var) -> Var {
    // Past 20, tanh(softplus(x)) is 1 in f32, so mish is x and its slope 1 (and e² would
    // overflow past 44): e is capped there, and the results are selected, not computed, so
    // neither overflows nor drifts at huge x. Comparisons rather than `min`, which would turn
    // a NaN into 20.
    let e = |v: f32| math::exp(if v > 20.0 { 20.0 } else { v });
    elementwise(
        tape,
        x,
        move |v| {
            let n = e(v) * (e(v) + 2.0);
            let y = v * (n / (n + 2.0));
            if v > 20.0 {
                v
            } else {
                y
            }
        },
        move |v| {
            // d/dx = t + x · σ(x) · (1 − t²), with 1 − t² = 4(n + 1) / (n + 2)².
            let e = e(v);
            let n = e * (e + 2.0);
            let d = n + 2.0;
            let slope = n / d + v * (e / (1.0 + e)) * 4.0 * (n + 1.0) / (d * d);
            if v > 20.0 {
                1.0
            } else {
                slope
            }
        },
    )
}

/// Keras's `PReLU`: `x` for x > 0, `alpha · x` otherwise, with a learned `alpha` that
/// broadcasts to `x` (NumPy rules: the batch axis, and any shared axis of size 1).
pub fn prelu(tape: &mut Tape, x: Var, alpha: Var) -> Result<Var> {
    let (xs, alphas) = (tape.value(x).shape(), tape.value(alpha).shape());
    if crate::tensor::broadcast_shapes(xs, alphas, "prelu").ok().as_deref() != Some(xs) {
        return Err(Error::shape(format!(
            "prelu: alpha {} does not broadcast to the input {}",
            shape_str(alphas),
            shape_str(xs)
        )));
    }
    let value = tape.value(x).zip_broadcast(tape.value(alpha), "prelu", |v, a| if v > 0.0 { v } else { a * v })?;
    Ok(tape.push(
        value,
        &[x, alpha],
        Box::new(|g, inputs, _| {
            let (x, alpha) = (inputs[0], inputs[1]);
            let a = x.zip_broadcast(alpha, "prelu", |_, a| a).expect("checked in the forward pass");
            let mut dx = g.clone();
            let mut da = g.clone();
            for (((dx, da), &v), &a) in dx.data_mut().iter_mut().zip(da.data_mut()).zip(x.data()).zip(a.data()) {
                if v > 0.0 {
                    *da = 0.0;
                } else {
                    *da *= v;
                    *dx *= a;
                }
            }
            vec![Some(dx), Some(da.sum_to_shape(alpha.shape()))]
        }),
    ))
}

fn last_axis(x: &Tensor, op: &str) -> Result<usize> {
    match x.shape().last() {
        Some(&n) if n > 0 => Ok(n),
        _ => Err(Error::shape(format!("{op} needs a last axis of size ≥ 1, got shape {}", shape_str(x.shape())))),
    }
}

/// Numerically stable: exp(x − max) / Σ exp(x − max), per row of the last axis.
pub fn softmax(tape: &mut Tape, x: Var) -> Result<Var> {
    let n = last_axis(tape.value(x), "softmax")?;
    let mut value = tape.value(x).clone();
    for row in value.data_mut().chunks_exact_mut(n) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        row.iter_mut().for_each(|v| *v /= sum);
    }
    Ok(tape.push(
        value,
        &[x],
        Box::new(move |g, _, y| {
            // dx = y ⊙ (g − Σ g·y)
            let mut dx = g.clone();
            for (d, yr) in dx.data_mut().chunks_exact_mut(n).zip(y.data().chunks_exact(n)) {
                let dot: f32 = d.iter().zip(yr).map(|(a, b)| a * b).sum();
                d.iter_mut().zip(yr).for_each(|(d, &y)| *d = y * (*d - dot));
            }
            vec![Some(dx)]
        }),
    ))
}

/// Softmax over `axis` (of the whole tensor, batch axis included): the last axis runs
/// [`softmax`]; any other is viewed as `[outer, n, inner]` and normalized over `n`.
pub fn softmax_axis(tape: &mut Tape, x: Var, axis: usize) -> Result<Var> {
    let shape = tape.value(x).shape().to_vec();
    if axis >= shape.len() || shape[axis] == 0 {
        return Err(Error::shape(format!(
            "softmax over axis {axis} needs that axis (of size ≥ 1), got shape {}",
            shape_str(&shape)
        )));
    }
    if axis + 1 == shape.len() {
        return softmax(tape, x);
    }
    let (n, inner) = (shape[axis], shape[axis + 1..].iter().product::<usize>());
    let block = n * inner;
    let mut value = tape.value(x).clone();
    if inner > 0 {
        let mut max = vec![0.0f32; inner];
        let mut sum = vec![0.0f32; inner];
        for b in value.data_mut().chunks_exact_mut(block) {
            max.fill(f32::NEG_INFINITY);
            sum.fill(0.0);
            for row in b.chunks_exact(inner) {
                max.iter_mut().zip(row).for_each(|(m, &v)| *m = m.max(v));
            }
            for row in b.chunks_exact_mut(inner) {
                for ((v, &m), s) in row.iter_mut().zip(&max).zip(sum.iter_mut()) {
                    *v = (*v - m).exp();
                    *s += *v;
                }
            }
            for row in b.chunks_exact_mut(inner) {
                row.iter_mut().zip(&sum).for_each(|(v, &s)| *v /= s);
            }
        }
    }
    Ok(tape.push(
        value,
        &[x],
        Box::new(move |g, _, y| {
            // dx = y ⊙ (g − Σ_axis g·y)
            let mut dx = g.clone();
            if inner == 0 {
                return vec![Some(dx)];
            }
            let mut dot = vec![0.0f32; inner];
            for (d, yb) in dx.data_mut().chunks_exact_mut(block).zip(y.data().chunks_exact(block)) {
                dot.fill(0.0);
                for (dr, yr) in d.chunks_exact(inner).zip(yb.chunks_exact(inner)) {
                    for ((s, &a), &b) in dot.iter_mut().zip(dr).zip(yr) {
                        *s += a * b;
                    }
                }
                for (dr, yr) in d.chunks_exact_mut(inner).zip(yb.chunks_exact(inner)) {
                    for ((v, &y), &s) in dr.iter_mut().zip(yr).zip(&dot) {
                        *v = y * (*v - s);
                    }
                }
            }
            vec![Some(dx)]
        }),
    ))
}

/// x − max − log Σ exp(x − max), per row of the last axis.
pub fn log_softmax(tape: &mut Tape, x: Var) -> Result<Var> {
    let n = last_axis(tape.value(x), "log_softmax")?;
    let mut value = tape.value(x).clone();
    for row in value.data_mut().chunks_exact_mut(n) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
        row.iter_mut().for_each(|v| *v -= lse);
    }
    Ok(tape.push(
        value,
        &[x],
        Box::new(move |g, _, y| {
            // dx = g − softmax(x) · Σ g
            let mut dx = g.clone();
            for (d, yr) in dx.data_mut().chunks_exact_mut(n).zip(y.data().chunks_exact(n)) {
                let total: f32 = d.iter().sum();
                d.iter_mut().zip(yr).for_each(|(d, &ly)| *d -= ly.exp() * total);
            }
            vec![Some(dx)]
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;
    use crate::rng::Rng;

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let mut r = Rng::new(seed);
        let n = shape.iter().product();
        // Keep away from relu's kink at 0, where finite differences are meaningless.
        let data = (0..n).map(|_| {
            let v = r.uniform(0.1, 2.0);
            if r.next_u32() % 2 == 0 {
                v
            } else {
                -v
            }
        });
        Tensor::new(data.collect(), shape).unwrap()
    }

    #[test]
    fn activation_gradients() {
        let x = [random(&[4, 6], 3)];
        let check = Check::default();
        check.run("relu", &x, |t, v| Ok(relu(t, v[0])));
        check.run("sigmoid", &x, |t, v| Ok(sigmoid(t, v[0])));
        check.run("tanh", &x, |t, v| Ok(tanh(t, v[0])));
        check.run("softmax", &x, |t, v| softmax(t, v[0]));
        check.run("log_softmax", &x, |t, v| log_softmax(t, v[0]));
    }

    /// Values in ±[0.1, 8] kept 0.05 away from every kink of the ops below (±3, 0.5, 2, 6).
    fn wide(shape: &[usize], seed: u64) -> Tensor {
        let kinks = [-3.0f32, 0.5, 2.0, 3.0, 6.0];
        let mut t = crate::autograd::gradcheck::uniform(shape, seed, 0.1, 8.0);
        let mut r = Rng::new(seed + 1);
        for v in t.data_mut() {
            *v = if r.next_u32() & 1 == 0 { *v } else { -*v };
            if kinks.iter().any(|k| (*v - k).abs() < 0.05) {
                *v += 0.1;
            }
        }
        t
    }

    #[test]
    fn new_activation_gradients() {
        let check = Check::default();
        for x in [random(&[4, 6], 3), wide(&[5, 8], 4)] {
            let x = [x];
            check.run("leaky_relu", &x, |t, v| Ok(leaky_relu(t, v[0], 0.2)));
            check.run("elu", &x, |t, v| Ok(elu(t, v[0], 1.0)));
            check.run("elu_0.5", &x, |t, v| Ok(elu(t, v[0], 0.5)));
            check.run("selu", &x, |t, v| Ok(selu(t, v[0])));
            check.run("gelu", &x, |t, v| Ok(gelu(t, v[0], false)));
            check.run("gelu_tanh", &x, |t, v| Ok(gelu(t, v[0], true)));
            check.run("silu", &x, |t, v| Ok(silu(t, v[0])));
            check.run("softplus", &x, |t, v| Ok(softplus(t, v[0])));
            check.run("softsign", &x, |t, v| Ok(softsign(t, v[0])));
            check.run("hard_sigmoid", &x, |t, v| Ok(hard_sigmoid(t, v[0])));
            check.run("relu6", &x, |t, v| Ok(relu6(t, v[0])));
            check.run("mish", &x, |t, v| Ok(mish(t, v[0])));
            check.run("relu_with", &x, |t, v| Ok(relu_with(t, v[0], Some(2.0), 0.3, 0.5)));
            check.run("relu_with_slope", &x, |t, v| Ok(relu_with(t, v[0], None, 0.3, 0.0)));
        }
        let x = random(&[2, 3, 4, 5], 6);
        for axis in 0..4 {
            check.run(&format!("softmax_axis{axis}"), std::slice::from_ref(&x), |t, v| softmax_axis(t, v[0], axis));
        }
        let prelu_in = [random(&[2, 3, 4], 7), random(&[1, 4], 8)];
        check.run("prelu_shared", &prelu_in, |t, v| prelu(t, v[0], v[1]));
        let prelu_in = [random(&[2, 3, 4], 9), random(&[3, 4], 10)];
        check.run("prelu", &prelu_in, |t, v| prelu(t, v[0], v[1]));
    }

    fn values(f: impl Fn(&mut Tape, Var) -> Var, x: &[f32]) -> Vec<f32> {
        let mut t = Tape::new();
        let v = t.leaf(Tensor::new(x.to_vec(), &[x.len()]).unwrap(), false);
        let y = f(&mut t, v);
        t.value(y).data().to_vec()
    }

    #[test]
    fn known_values_nan_and_extremes() {
        let close = |got: Vec<f32>, want: &[f32]| {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "{got:?} vs {want:?}");
            }
        };
        close(values(|t, x| leaky_relu(t, x, 0.2), &[-2.0, 0.0, 3.0]), &[-0.4, 0.0, 3.0]);
        close(values(relu6, &[-1.0, 3.0, 9.0]), &[0.0, 3.0, 6.0]);
        close(values(hard_sigmoid, &[-4.0, 0.0, 1.5, 4.0]), &[0.0, 0.5, 0.75, 1.0]);
        close(values(softsign, &[-3.0, 1.0]), &[-0.75, 0.5]);
        // GELU: x·Φ(x), Φ(1) = 0.8413447460685429; the tanh form is close to it.
        close(values(|t, x| gelu(t, x, false), &[1.0, -1.0, 0.0]), &[0.841_344_7, -0.158_655_26, 0.0]);
        close(values(|t, x| gelu(t, x, true), &[1.0]), &[0.841_192]);
        // Softplus, SiLU and mish neither overflow nor lose large values.
        close(values(softplus, &[100.0, -100.0, 0.0]), &[100.0, 0.0, std::f32::consts::LN_2]);
        close(values(silu, &[100.0, -100.0]), &[100.0, 0.0]);
        close(values(mish, &[100.0, -100.0]), &[100.0, 0.0]);
        // Huge inputs neither overflow nor drift: mish is x and its slope 1 past 20.
        assert_eq!(values(mish, &[3e21, -3e21]), [3e21, 0.0]);
        close(values(selu, &[1.0, -100.0]), &[SELU_SCALE, -SELU_SCALE * SELU_ALPHA]);
        type Op = fn(&mut Tape, Var) -> Var;
        let ops: [(&str, Op); 13] = [
            ("leaky_relu", |t, x| leaky_relu(t, x, 0.2)),
            ("elu", |t, x| elu(t, x, 1.0)),
            ("selu", selu),
            ("gelu", |t, x| gelu(t, x, false)),
            ("gelu_tanh", |t, x| gelu(t, x, true)),
            ("silu", silu),
            ("softplus", softplus),
            ("softsign", softsign),
            ("hard_sigmoid", hard_sigmoid),
            ("relu6", relu6),
            ("mish", mish),
            ("relu_with", |t, x| relu_with(t, x, Some(6.0), 0.1, 0.5)),
            ("relu_with_max", |t, x| relu_with(t, x, Some(1.0), 0.0, 0.0)),
        ];
        for (name, op) in ops {
            assert!(values(op, &[f32::NAN])[0].is_nan(), "{name} hides a NaN");
        }
    }

    #[test]
    fn softmax_on_any_axis_agrees_with_the_last_axis_after_a_transpose() {
        let x = random(&[2, 3, 4], 11);
        let mut t = Tape::new();
        let v = t.leaf(x.clone(), false);
        let y = softmax_axis(&mut t, v, 1).unwrap();
        let last = softmax_axis(&mut t, v, 2).unwrap();
        let plain = softmax(&mut t, v).unwrap();
        assert_eq!(t.value(last).data(), t.value(plain).data());
        let xt = crate::ops::transpose(&mut t, v, &[0, 2, 1]).unwrap();
        let yt = softmax(&mut t, xt).unwrap();
        let back = crate::ops::transpose(&mut t, yt, &[0, 2, 1]).unwrap();
        for (a, b) in t.value(y).data().iter().zip(t.value(back).data()) {
            assert!((a - b).abs() < 1e-6);
        }
        assert!(softmax_axis(&mut t, v, 3).is_err());
        let a = t.leaf(Tensor::zeros(&[2, 4]), true);
        assert_eq!(prelu(&mut t, v, a).unwrap_err().kind, crate::ErrorKind::Shape);
    }

    #[test]
    fn relu_propagates_nan() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::new(vec![f32::NAN, -1.0, 2.0], &[3]).unwrap(), false);
        let y = relu(&mut t, x);
        assert!(t.value(y).data()[0].is_nan());
        assert_eq!(&t.value(y).data()[1..], &[0.0, 2.0]);
    }

    #[test]
    fn softmax_is_stable_for_large_logits() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::new(vec![1000.0, 0.0, -1000.0], &[1, 3]).unwrap(), false);
        let y = softmax(&mut t, x).unwrap();
        assert_eq!(t.value(y).data(), &[1.0, 0.0, 0.0]);
        let l = log_softmax(&mut t, x).unwrap();
        assert_eq!(t.value(l).data(), &[0.0, -1000.0, -2000.0]);
    }
}
