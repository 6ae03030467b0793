//! Batch Normalization (Ioffe & Szegedy, 2015, arXiv:1502.03167) as one fused op: a few passes
//! over the data per channel instead of a dozen composed ops. Its gradient is checked against
//! finite differences and against PyTorch (tests/golden).
//!
//! The normalized axis may be any axis: the input is viewed as `[outer, channels, inner]`, and
//! statistics are taken per channel over `outer × inner` values (N·H·W for NHWC with the
//! last axis, N for `[batch, features]`).

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::parallel;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

#[derive(Clone, Copy, Debug)]
pub struct ChannelLayout {
    pub outer: usize,
    pub channels: usize,
    pub inner: usize,
}

impl ChannelLayout {
    pub fn new(shape: &[usize], axis: usize) -> Result<ChannelLayout> {
        if axis >= shape.len() {
            return Err(Error::argument(format!("axis {axis} is out of range for input shape {}", shape_str(shape))));
        }
        Ok(ChannelLayout {
            outer: shape[..axis].iter().product(),
            channels: shape[axis],
            inner: shape[axis + 1..].iter().product(),
        })
    }
    /// Values per channel.
    pub fn count(&self) -> usize {
        self.outer * self.inner
    }
    fn blocks(&self) -> usize {
        self.outer.clamp(1, 64)
    }
    fn block_rows(&self) -> usize {
        self.outer.div_ceil(self.blocks()).max(1)
    }
}

/// Rows accumulated in f32 before being added to the f64 totals: f32 keeps the inner loop
/// vectorizable, the f64 totals keep sums over millions of values accurate.
const FLUSH_ROWS: usize = 32;

/// Per-channel sums of `f(a, b, params[channel]) -> (u, v)` over two same-shaped inputs,
/// computed over blocks of rows on the pool and combined in block order (deterministic for any
/// thread count). The per-channel parameters come in as a slice rather than being looked up
/// by index inside `f`, so the channels-last loop is a plain zip that LLVM vectorizes.
fn channel_sums<P: Copy + Sync>(
    l: ChannelLayout,
    a: &[f32],
    b: &[f32],
    params: &[P],
    f: impl Fn(f32, f32, P) -> (f32, f32) + Sync + Send,
) -> (Vec<f64>, Vec<f64>) {
    let (ch, inner) = (l.channels, l.inner);
    assert_eq!(params.len(), ch, "one parameter per channel");
    let rows = l.block_rows();
    let partials = parallel::map_tasks(l.outer.div_ceil(rows), |blk| {
        let (mut sa, mut sb) = (vec![0.0f64; ch], vec![0.0f64; ch]);
        let (mut ta, mut tb) = (vec![0.0f32; ch], vec![0.0f32; ch]);
        let flush = |ta: &mut [f32], tb: &mut [f32], sa: &mut [f64], sb: &mut [f64]| {
            for c in 0..ch {
                sa[c] += ta[c] as f64;
                sb[c] += tb[c] as f64;
            }
            ta.fill(0.0);
            tb.fill(0.0);
        };
        let range = blk * rows..((blk + 1) * rows).min(l.outer);
        for (k, o) in range.enumerate() {
            let base = o * ch * inner;
            let (ra, rb) = (&a[base..base + ch * inner], &b[base..base + ch * inner]);
            if inner == 1 {
                // Channels last: one contiguous row of all channels.
                let sums = ta.iter_mut().zip(tb.iter_mut());
                for (((&a, &b), &p), (ta, tb)) in ra.iter().zip(rb).zip(params).zip(sums) {
                    let (u, v) = f(a, b, p);
                    *ta += u;
                    *tb += v;
                }
            } else {
                for (c, &p) in params.iter().enumerate() {
                    let (mut su, mut sv) = (0.0f32, 0.0f32);
                    for (&a, &b) in ra[c * inner..(c + 1) * inner].iter().zip(&rb[c * inner..(c + 1) * inner]) {
                        let (u, v) = f(a, b, p);
                        su += u;
                        sv += v;
                    }
                    ta[c] += su;
                    tb[c] += sv;
                }
            }
            if (k + 1) % FLUSH_ROWS == 0 {
                flush(&mut ta, &mut tb, &mut sa, &mut sb);
            }
        }
        flush(&mut ta, &mut tb, &mut sa, &mut sb);
        (sa, sb)
    });
    let (mut sa, mut sb) = (vec![0.0f64; ch], vec![0.0f64; ch]);
    for (pa, pb) in partials {
        sa.iter_mut().zip(pa).for_each(|(s, v)| *s += v);
        sb.iter_mut().zip(pb).for_each(|(s, v)| *s += v);
    }
    (sa, sb)
}

/// Fills `out[i] = f(a[i], b[i], params[channel of i])` in parallel blocks of rows (the
/// parameters as a slice for the same reason as in [`channel_sums`]).
fn channel_map<P: Copy + Sync>(
    l: ChannelLayout,
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    params: &[P],
    f: impl Fn(f32, f32, P) -> f32 + Sync + Send,
) {
    let (ch, inner) = (l.channels, l.inner);
    assert_eq!(params.len(), ch, "one parameter per channel");
    let block = l.block_rows() * ch * inner;
    parallel::for_each_chunk_mut(out, block, |blk, dst| {
        let start = blk * block;
        let (a, b) = (&a[start..start + dst.len()], &b[start..start + dst.len()]);
        for ((d, a), b) in
            dst.chunks_exact_mut(ch * inner).zip(a.chunks_exact(ch * inner)).zip(b.chunks_exact(ch * inner))
        {
            if inner == 1 {
                for (((d, &a), &b), &p) in d.iter_mut().zip(a).zip(b).zip(params) {
                    *d = f(a, b, p);
                }
            } else {
                let rows = d.chunks_exact_mut(inner).zip(a.chunks_exact(inner)).zip(b.chunks_exact(inner));
                for (((d, a), b), &p) in rows.zip(params) {
                    for ((d, &a), &b) in d.iter_mut().zip(a).zip(b) {
                        *d = f(a, b, p);
                    }
                }
            }
        }
    });
}

/// The inputs of a normalization op: x, then γ and β when the layer has them.
pub(crate) fn affine_inputs(x: Var, gamma: Option<Var>, beta: Option<Var>) -> Vec<Var> {
    std::iter::once(x).chain(gamma).chain(beta).collect()
}

/// Gradients in [`affine_inputs`] order: dx, then dγ and dβ for the parameters present.
pub(crate) fn affine_grads(dx: Tensor, dgamma: Option<Vec<f32>>, dbeta: Option<Vec<f32>>) -> Vec<Option<Tensor>> {
    let per_channel = |v: Vec<f32>| {
        let n = v.len();
        Tensor::new(v, &[n]).expect("one value per channel")
    };
    std::iter::once(Some(dx)).chain(dgamma.map(per_channel).map(Some)).chain(dbeta.map(per_channel).map(Some)).collect()
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Batch statistics of one training step: mean and biased variance per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats {
    pub mean: Vec<f32>,
    pub variance: Vec<f32>,
}

fn check_param(tape: &Tape, p: Option<Var>, what: &str, l: &ChannelLayout, shape: &[usize]) -> Result<()> {
    match p.map(|v| tape.value(v).shape().to_vec()) {
        Some(s) if s != [l.channels] => Err(Error::shape(format!(
            "{what} has shape {}, expected [{}] for input {}",
            shape_str(&s),
            l.channels,
            shape_str(shape)
        ))),
        _ => Ok(()),
    }
}

/// Normalizes with the batch's own statistics: `y = γ·(x − μ_B)/√(σ²_B + ε) + β`, with the
/// biased variance as Keras uses. Returns the output and the statistics (for moving averages).
pub fn batch_norm_train(
    tape: &mut Tape,
    x: Var,
    gamma: Option<Var>,
    beta: Option<Var>,
    axis: usize,
    epsilon: f32,
) -> Result<(Var, BatchStats)> {
    let (y, stats, _) = train(tape, x, gamma, beta, axis, epsilon, None)?;
    Ok((y, stats))
}

/// The reference of Batch Renormalization (Ioffe, 2017, arXiv:1702.03275): moving statistics
/// μ and σ that the batch statistics are corrected towards, and the clipping of the correction.
#[derive(Clone, Copy, Debug)]
pub struct Renorm<'a> {
    pub mean: &'a [f32],
    pub stddev: &'a [f32],
    /// r is clipped to [1/r_max, r_max] (r_max ≥ 1; 1 turns the scale correction off).
    pub r_max: f32,
    /// d is clipped to [−d_max, d_max] (d_max ≥ 0; 0 turns the shift correction off).
    pub d_max: f32,
}

/// Batch Renormalization's per-channel correction of one step, and the batch standard
/// deviation √(σ²_B + ε) it was computed from (the layer averages it into its statistics).
#[derive(Clone, Debug, PartialEq)]
pub struct Correction {
    pub r: Vec<f32>,
    pub d: Vec<f32>,
    pub batch_stddev: Vec<f32>,
}

impl Renorm<'_> {
    /// `r = clip(σ_B/σ, 1/r_max, r_max)`, `d = clip((μ_B − μ)/σ, −d_max, d_max)`, with σ floored
    /// at √ε as Keras does (a σ of 0 early in training would divide by zero).
    fn correction(&self, mean: &[f32], variance: &[f64], epsilon: f32) -> Correction {
        let eps = epsilon as f64;
        let (r_max, d_max) = (self.r_max as f64, self.d_max as f64);
        let mut c = Correction { r: Vec::new(), d: Vec::new(), batch_stddev: Vec::new() };
        for ch in 0..mean.len() {
            let sigma_b = (variance[ch] + eps).sqrt();
            let sigma = (self.stddev[ch] as f64).max(eps.sqrt());
            // max then min rather than clamp: no panic on a NaN bound (validated anyway).
            c.r.push((sigma_b / sigma).max(1.0 / r_max).min(r_max) as f32);
            c.d.push(((mean[ch] as f64 - self.mean[ch] as f64) / sigma).max(-d_max).min(d_max) as f32);
            c.batch_stddev.push(sigma_b as f32);
        }
        c
    }

    fn validate(&self, l: &ChannelLayout, shape: &[usize]) -> Result<()> {
        let (m, s, c) = (self.mean.len(), self.stddev.len(), l.channels);
        if m != c || s != c {
            let msg = format!("renorm statistics have {m} / {s} channels, input {} has {c}", shape_str(shape));
            return Err(Error::shape(msg));
        }
        if !(self.r_max >= 1.0 && self.d_max >= 0.0) {
            let (r, d) = (self.r_max, self.d_max);
            return Err(Error::argument(format!("renorm clipping needs r_max >= 1 and d_max >= 0, got {r} and {d}")));
        }
        Ok(())
    }
}

/// Batch Renormalization in training: `y = γ·((x − μ_B)/σ_B · r + d) + β` with r and d from
/// [`Renorm`], treated as constants in backprop (stop-gradient, as in the paper and Keras):
/// `dx = γr/σ_B · (g − mean(g) − x̂·mean(g·x̂))`, `dγ = Σ g·(x̂r + d)`, `dβ = Σ g`.
pub fn batch_renorm_train(
    tape: &mut Tape,
    x: Var,
    gamma: Option<Var>,
    beta: Option<Var>,
    axis: usize,
    epsilon: f32,
    renorm: &Renorm,
) -> Result<(Var, BatchStats, Correction)> {
    let shape = tape.value(x).shape().to_vec();
    renorm.validate(&ChannelLayout::new(&shape, axis)?, &shape)?;
    let correct = |mean: &[f32], var: &[f64]| renorm.correction(mean, var, epsilon);
    let (y, stats, c) = train(tape, x, gamma, beta, axis, epsilon, Some(&correct))?;
    Ok((y, stats, c.expect("a correction was asked for")))
}

/// Computes a correction from the batch mean and variance.
type Correct<'a> = &'a dyn Fn(&[f32], &[f64]) -> Correction;

/// Batch normalization with an optional renorm correction (r = 1, d = 0 without one).
fn train(
    tape: &mut Tape,
    x: Var,
    gamma: Option<Var>,
    beta: Option<Var>,
    axis: usize,
    epsilon: f32,
    correct: Option<Correct>,
) -> Result<(Var, BatchStats, Option<Correction>)> {
    let shape = tape.value(x).shape().to_vec();
    let l = ChannelLayout::new(&shape, axis)?;
    if l.count() < 2 {
        return Err(Error::shape(format!(
            "training needs more than one value per channel to compute batch statistics, got input {} \
             (axis {axis}); use a batch of at least 2",
            shape_str(&shape)
        )));
    }
    check_param(tape, gamma, "gamma", &l, &shape)?;
    check_param(tape, beta, "beta", &l, &shape)?;
    let xs = tape.value(x).data();
    let m = l.count() as f64;
    let (sum, _) = channel_sums(l, xs, xs, &vec![(); l.channels], |x, _, _| (x, 0.0));
    let mean: Vec<f32> = sum.iter().map(|s| (s / m) as f32).collect();
    // Two passes (mean, then squared deviations) avoid the cancellation of E[x²] − E[x]².
    let (sq, _) = channel_sums(l, xs, xs, &mean, |x, _, m| ((x - m) * (x - m), 0.0));
    let variance: Vec<f64> = sq.iter().map(|s| s / m).collect();
    let inv_std: Vec<f32> = variance.iter().map(|v| (1.0 / (v + epsilon as f64).sqrt()) as f32).collect();
    let mut gamma_c = gamma.map_or_else(|| vec![1.0; l.channels], |g| tape.value(g).data().to_vec());
    let mut beta_c = beta.map_or_else(|| vec![0.0; l.channels], |b| tape.value(b).data().to_vec());
    let correction = correct.map(|f| f(&mean, &variance));
    let rd = correction.as_ref().map(|c| (c.r.clone(), c.d.clone()));
    if let Some((r, d)) = &rd {
        // γ·(x̂·r + d) + β is BN with γ' = γ·r and β' = β + γ·d; the gradient of γ itself
        // is corrected in backward.
        for c in 0..l.channels {
            beta_c[c] += gamma_c[c] * d[c];
            gamma_c[c] *= r[c];
        }
    }
    // y = γ·(x − μ)/σ + β as one multiply-add per value.
    let scale: Vec<f32> = (0..l.channels).map(|c| gamma_c[c] * inv_std[c]).collect();
    let affine: Vec<(f32, f32)> = (0..l.channels).map(|c| (scale[c], beta_c[c] - mean[c] * scale[c])).collect();
    let mut y = Tensor::zeros(&shape);
    channel_map(l, y.data_mut(), xs, xs, &affine, |x, _, (scale, shift)| x * scale + shift);

    let stats = BatchStats { mean: mean.clone(), variance: variance.iter().map(|&v| v as f32).collect() };
    let inputs = affine_inputs(x, gamma, beta);
    let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
    let var = tape.push(
        y,
        &inputs,
        Box::new(move |grad, inputs, _| {
            let (gs, xs) = (grad.data(), inputs[0].data());
            // With x̂ = (x − μ)/σ: dβ = Σg, dγ = Σg·x̂, and
            // dx = γ/σ · (g − mean(g) − x̂·mean(g·x̂)), i.e. A·g + B·x + C per channel.
            let (sum_g, sum_gd) = channel_sums(l, gs, xs, &mean, |g, x, m| (g, g * (x - m)));
            let sum_gx: Vec<f64> = (0..l.channels).map(|c| sum_gd[c] * inv_std[c] as f64).collect();
            let coef: Vec<(f32, f32, f32)> = (0..l.channels)
                .map(|c| {
                    let (s, mg, mgx) = (inv_std[c] as f64, sum_g[c] / m, sum_gx[c] / m);
                    let a = gamma_c[c] as f64 * s;
                    let b = -a * s * mgx;
                    (a as f32, b as f32, (-a * mg - b * mean[c] as f64) as f32)
                })
                .collect();
            let mut dx = Tensor::zeros(grad.shape());
            channel_map(l, dx.data_mut(), gs, xs, &coef, |g, x, (a, b, c)| a * g + b * x + c);
            // Renorm: dγ = Σ g·(x̂·r + d) = r·Σ g·x̂ + d·Σ g.
            let dgamma = has_gamma.then(|| match &rd {
                None => to_f32(&sum_gx),
                Some((r, d)) => {
                    (0..l.channels).map(|c| (r[c] as f64 * sum_gx[c] + d[c] as f64 * sum_g[c]) as f32).collect()
                }
            });
            affine_grads(dx, dgamma, has_beta.then(|| to_f32(&sum_g)))
        }),
    );
    Ok((var, stats, correction))
}

/// Normalizes with given (moving) statistics: an affine map per channel.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_inference(
    tape: &mut Tape,
    x: Var,
    gamma: Option<Var>,
    beta: Option<Var>,
    mean: &[f32],
    variance: &[f32],
    axis: usize,
    epsilon: f32,
) -> Result<Var> {
    let shape = tape.value(x).shape().to_vec();
    let l = ChannelLayout::new(&shape, axis)?;
    check_param(tape, gamma, "gamma", &l, &shape)?;
    check_param(tape, beta, "beta", &l, &shape)?;
    if mean.len() != l.channels || variance.len() != l.channels {
        return Err(Error::shape(format!(
            "moving statistics have {} / {} channels, input {} has {}",
            mean.len(),
            variance.len(),
            shape_str(&shape),
            l.channels
        )));
    }
    let inv_std: Vec<f32> = variance.iter().map(|v| 1.0 / (v + epsilon).sqrt()).collect();
    let g = gamma.map(|v| tape.value(v).data().to_vec());
    let b = beta.map(|v| tape.value(v).data().to_vec());
    let gamma_c: Vec<f32> = (0..l.channels).map(|c| g.as_ref().map_or(1.0, |g| g[c])).collect();
    let beta_c: Vec<f32> = (0..l.channels).map(|c| b.as_ref().map_or(0.0, |b| b[c])).collect();
    let mean = mean.to_vec();
    let xs = tape.value(x).data();
    let scale: Vec<f32> = (0..l.channels).map(|c| gamma_c[c] * inv_std[c]).collect();
    let affine: Vec<(f32, f32)> = (0..l.channels).map(|c| (scale[c], beta_c[c] - mean[c] * scale[c])).collect();
    let mut y = Tensor::zeros(&shape);
    channel_map(l, y.data_mut(), xs, xs, &affine, |x, _, (scale, shift)| x * scale + shift);
    let centre: Vec<(f32, f32)> = (0..l.channels).map(|c| (mean[c], inv_std[c])).collect();
    let inputs = affine_inputs(x, gamma, beta);
    let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
    Ok(tape.push(
        y,
        &inputs,
        Box::new(move |grad, inputs, _| {
            let (gs, xs) = (grad.data(), inputs[0].data());
            let mut dx = Tensor::zeros(grad.shape());
            channel_map(l, dx.data_mut(), gs, gs, &scale, |g, _, s| g * s);
            let (sum_g, sum_gx) = channel_sums(l, gs, xs, &centre, |g, x, (m, s)| (g, g * (x - m) * s));
            affine_grads(dx, has_gamma.then(|| to_f32(&sum_gx)), has_beta.then(|| to_f32(&sum_g)))
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{normal, Check};

    #[test]
    fn training_gradients_for_every_axis_and_option() {
        // BN's output is invariant to shifts of x, so its gradients are small differences of
        // large terms; ε = 1e-2 on values of scale ~2 keeps f32 differences meaningful.
        let check = Check { eps: 1e-2, atol: 3e-3, rtol: 3e-2, max_probes: 40 };
        for (shape, axis) in [(&[4, 3, 3, 2][..], 3), (&[6, 4], 1), (&[3, 4, 2, 2], 1)] {
            let x = normal(shape, 1, 2.0, 1.0);
            let c = shape[axis];
            let gamma = normal(&[c], 2, 0.5, 1.0);
            let beta = normal(&[c], 3, 0.5, 0.0);
            let ins = [x, gamma, beta];
            check.run("bn train", &ins, |t, v| Ok(batch_norm_train(t, v[0], Some(v[1]), Some(v[2]), axis, 1e-3)?.0));
            check.run("bn train, no center", &ins[..2], |t, v| {
                Ok(batch_norm_train(t, v[0], Some(v[1]), None, axis, 1e-3)?.0)
            });
            check.run("bn train, plain", &ins[..1], |t, v| Ok(batch_norm_train(t, v[0], None, None, axis, 1e-3)?.0));
            let (mm, mv) = (vec![0.3; c], vec![1.7; c]);
            check.run("bn inference", &ins, |t, v| {
                batch_norm_inference(t, v[0], Some(v[1]), Some(v[2]), &mm, &mv, axis, 1e-3)
            });
        }
    }

    #[test]
    fn normalized_output_has_zero_mean_unit_variance() {
        let mut t = Tape::new();
        let x = t.leaf(normal(&[8, 5, 5, 3], 4, 3.0, -2.0), false);
        let (y, stats) = batch_norm_train(&mut t, x, None, None, 3, 1e-5).unwrap();
        let l = ChannelLayout::new(&[8, 5, 5, 3], 3).unwrap();
        let ys = t.value(y).data();
        let (s, sq) = channel_sums(l, ys, ys, &[(); 3], |y, _, _| (y, y * y));
        for c in 0..3 {
            assert!((s[c] / 200.0).abs() < 1e-5);
            assert!((sq[c] / 200.0 - 1.0).abs() < 1e-3);
            assert!((stats.mean[c] + 2.0).abs() < 0.6, "{stats:?}");
        }
    }

    /// Renorm statistics far from the batch's, so that r and d would matter.
    fn renorm_ref(c: usize) -> (Vec<f32>, Vec<f32>) {
        ((0..c).map(|i| 0.5 - i as f32).collect(), (0..c).map(|i| 0.4 + 0.7 * i as f32).collect())
    }

    /// Output and gradients (x, γ, β) of plain BN, or of renorm with `renorm`.
    fn run_both(ins: &[Tensor; 3], axis: usize, renorm: Option<&Renorm>) -> Vec<Tensor> {
        let mut t = Tape::new();
        let v = ins.clone().map(|a| t.leaf(a, true));
        let y = match renorm {
            Some(rn) => batch_renorm_train(&mut t, v[0], Some(v[1]), Some(v[2]), axis, 1e-3, rn).unwrap().0,
            None => batch_norm_train(&mut t, v[0], Some(v[1]), Some(v[2]), axis, 1e-3).unwrap().0,
        };
        t.backward_with(y, normal(t.value(y).shape(), 9, 1.0, 0.0)).unwrap();
        let grads = v.iter().map(|&a| t.grad(a).unwrap().clone());
        std::iter::once(t.value(y).clone()).chain(grads).collect()
    }

    fn bn_inputs(shape: &[usize], axis: usize) -> [Tensor; 3] {
        let c = shape[axis];
        [normal(shape, 1, 2.0, 1.0), normal(&[c], 2, 0.5, 1.0), normal(&[c], 3, 0.5, 0.0)]
    }

    #[test]
    fn renorm_with_r_max_1_and_d_max_0_is_plain_bn_exactly() {
        for (shape, axis) in [(&[4, 3, 3, 2][..], 3), (&[6, 4], 1)] {
            let ins = bn_inputs(shape, axis);
            let (mean, stddev) = renorm_ref(shape[axis]);
            let rn = Renorm { mean: &mean, stddev: &stddev, r_max: 1.0, d_max: 0.0 };
            let (plain, renorm) = (run_both(&ins, axis, None), run_both(&ins, axis, Some(&rn)));
            for (i, (p, r)) in plain.iter().zip(&renorm).enumerate() {
                assert_eq!(p.data(), r.data(), "output/gradient {i} for {shape:?}");
            }
            // And the correction does change them when it may.
            let loose = Renorm { r_max: 3.0, d_max: 5.0, ..rn };
            assert_ne!(plain[0].data(), run_both(&ins, axis, Some(&loose))[0].data());
        }
    }

    #[test]
    fn renorm_gradients_with_r_and_d_constant() {
        let check = Check { eps: 1e-2, atol: 3e-3, rtol: 3e-2, max_probes: 40 };
        for (shape, axis) in [(&[4, 3, 3, 2][..], 3), (&[6, 4], 1), (&[3, 4, 2, 2], 1)] {
            let ins = bn_inputs(shape, axis);
            let (mean, stddev) = renorm_ref(shape[axis]);
            let rn = Renorm { mean: &mean, stddev: &stddev, r_max: 1.5, d_max: 0.8 };
            // r and d of the unperturbed input, held fixed while finite differences move x:
            // the stop-gradient makes backprop the derivative of exactly this function.
            let mut t = Tape::new();
            let xv = t.leaf(ins[0].clone(), false);
            let fixed = batch_renorm_train(&mut t, xv, None, None, axis, 1e-3, &rn).unwrap().2;
            assert!(fixed.r.iter().chain(&fixed.d).any(|&v| v != 1.0 && v != 0.0), "{fixed:?}");
            let correct = |_: &[f32], _: &[f64]| fixed.clone();
            let f = |t: &mut Tape, v: &[Var], g: bool, b: bool| {
                let (gv, bv) = (g.then(|| v[1]), b.then(|| v[if g { 2 } else { 1 }]));
                Ok(train(t, v[0], gv, bv, axis, 1e-3, Some(&correct))?.0)
            };
            check.run("renorm", &ins, |t, v| f(t, v, true, true));
            check.run("renorm, no center", &ins[..2], |t, v| f(t, v, true, false));
            check.run("renorm, plain", &ins[..1], |t, v| f(t, v, false, false));
        }
    }

    #[test]
    fn one_value_per_channel_and_bad_axis_are_errors() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::zeros(&[1, 4]), false);
        let err = batch_norm_train(&mut t, x, None, None, 1, 1e-3).unwrap_err();
        assert!(err.message.contains("more than one value per channel") && err.message.contains("[1, 4]"));
        let err = batch_norm_train(&mut t, x, None, None, 2, 1e-3).unwrap_err();
        assert!(err.message.contains("axis 2 is out of range"), "{}", err.message);
        let gamma = t.leaf(Tensor::zeros(&[3]), false);
        let x = t.leaf(Tensor::zeros(&[2, 4]), false);
        assert!(batch_norm_train(&mut t, x, Some(gamma), None, 1, 1e-3).unwrap_err().message.contains("gamma"));
        let (mean, stddev) = renorm_ref(4);
        let bad = Renorm { mean: &mean, stddev: &stddev, r_max: 0.5, d_max: 0.0 };
        assert!(batch_renorm_train(&mut t, x, None, None, 1, 1e-3, &bad).unwrap_err().message.contains("r_max >= 1"));
        let short = Renorm { mean: &mean[..2], stddev: &stddev, r_max: 2.0, d_max: 1.0 };
        let err = batch_renorm_train(&mut t, x, None, None, 1, 1e-3, &short).unwrap_err();
        assert!(err.message.contains("2 / 4 channels, input [2, 4] has 4"), "{}", err.message);
    }
}
