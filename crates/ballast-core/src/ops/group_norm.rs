//! Group Normalization (Wu & He, 2018, arXiv:1803.08494) and Layer Normalization (Ba, Kiros &
//! Hinton, 2016, arXiv:1607.06450) as one fused op. Both normalize every example with its own
//! statistics, so their output does not depend on the rest of the batch: they behave the same
//! for a batch of one, in training and in inference, which is what small batches need.
//!
//! The input is viewed as `[rows, pre, channels, post]`; the channels are split into `groups`
//! runs of consecutive channels (as Keras and PyTorch split them). Statistics (mean and biased
//! variance) are taken per row and group over `pre × channels/groups × post` values (group
//! norm: `post_shared`), or per row and position of `post` over the channels (layer norm over
//! a middle axis). γ and β are per channel, applied after normalizing.
//!
//! - Group norm, axis `a`: rows = batch, pre = axes 1..a, post = axes after `a`, shared.
//! - Layer norm, axis `a`: rows = axes 0..a, groups = 1, post = axes after `a`, not shared;
//!   for the last axis (Keras' default) this is group norm with one group per row.
//!
//! Rows are independent, so the forward and `dx` run over blocks of rows on the pool; only dγ
//! and dβ sum over rows, per block and then in block order (deterministic for any thread count).

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::ops::norm::{affine_grads, affine_inputs};
use crate::parallel;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GroupLayout {
    rows: usize,
    pre: usize,
    channels: usize,
    groups: usize,
    post: usize,
    /// Whether the positions along `post` share their group's statistics (group norm) or each
    /// have their own (layer norm over an axis that is not the last).
    post_shared: bool,
}

fn check_axis(shape: &[usize], axis: usize) -> Result<()> {
    if axis == 0 || axis >= shape.len() {
        return Err(Error::argument(format!(
            "axis {axis} is out of range for input {} (valid: 1..{}; axis 0 is the batch)",
            shape_str(shape),
            shape.len().saturating_sub(1)
        )));
    }
    if shape[1..].contains(&0) {
        return Err(Error::shape(format!("cannot normalize an empty input {}", shape_str(shape))));
    }
    Ok(())
}

impl GroupLayout {
    fn group_norm(shape: &[usize], axis: usize, groups: usize) -> Result<GroupLayout> {
        check_axis(shape, axis)?;
        let channels = shape[axis];
        if groups == 0 || !channels.is_multiple_of(groups) {
            return Err(Error::argument(format!(
                "groups ({groups}) must divide the number of channels ({channels}) of axis {axis} of input {}",
                shape_str(shape)
            )));
        }
        let (pre, post) = (shape[1..axis].iter().product(), shape[axis + 1..].iter().product());
        Ok(GroupLayout { rows: shape[0], pre, channels, groups, post, post_shared: true })
    }

    fn layer_norm(shape: &[usize], axis: usize) -> Result<GroupLayout> {
        check_axis(shape, axis)?;
        let (rows, post) = (shape[..axis].iter().product(), shape[axis + 1..].iter().product());
        Ok(GroupLayout { rows, pre: 1, channels: shape[axis], groups: 1, post, post_shared: false })
    }

    fn row_len(&self) -> usize {
        self.pre * self.channels * self.post
    }
    fn stats_per_row(&self) -> usize {
        self.groups * if self.post_shared { 1 } else { self.post }
    }
    /// Values per statistic.
    fn count(&self) -> usize {
        self.pre * (self.channels / self.groups) * if self.post_shared { self.post } else { 1 }
    }
    /// Rows per parallel block: at most 64 blocks, fixed by the shape alone.
    fn block_rows(&self) -> usize {
        self.rows.div_ceil(self.rows.clamp(1, 64)).max(1)
    }
    fn blocks(&self) -> usize {
        self.rows.div_ceil(self.block_rows())
    }

    /// Calls `f(index in the row, statistic of the row, channel)` for every value of one row,
    /// in memory order.
    #[inline(always)]
    fn for_each_in_row(&self, mut f: impl FnMut(usize, usize, usize)) {
        let cg = self.channels / self.groups;
        // Shared: one statistic per group; otherwise one per group and position of `post`.
        let (stride, step) = if self.post_shared { (1, 0) } else { (self.post, 1) };
        for p in 0..self.pre {
            for c in 0..self.channels {
                let (base, s0) = ((p * self.channels + c) * self.post, (c / cg) * stride);
                for i in 0..self.post {
                    f(base + i, s0 + i * step, c);
                }
            }
        }
    }
}

/// Mean and 1/√(σ² + ε) of each statistic of one row.
fn row_stats(l: &GroupLayout, row: &[f32], eps: f64, mean: &mut [f32], inv_std: &mut [f32]) {
    let m = l.count() as f64;
    let mut acc = vec![0.0f64; l.stats_per_row()];
    l.for_each_in_row(|i, s, _| acc[s] += row[i] as f64);
    let mu: Vec<f64> = acc.iter().map(|a| a / m).collect();
    // Two passes (mean, then squared deviations) avoid the cancellation of E[x²] − E[x]².
    acc.fill(0.0);
    l.for_each_in_row(|i, s, _| {
        let d = row[i] as f64 - mu[s];
        acc[s] += d * d;
    });
    for s in 0..acc.len() {
        mean[s] = mu[s] as f32;
        inv_std[s] = (1.0 / (acc[s] / m + eps).sqrt()) as f32;
    }
}

fn param_values(
    tape: &Tape,
    p: Option<Var>,
    what: &str,
    l: &GroupLayout,
    shape: &[usize],
    default: f32,
) -> Result<Vec<f32>> {
    match p.map(|v| tape.value(v)) {
        Some(t) if t.shape() != [l.channels] => Err(Error::shape(format!(
            "{what} has shape {}, expected [{}] for input {}",
            shape_str(t.shape()),
            l.channels,
            shape_str(shape)
        ))),
        Some(t) => Ok(t.data().to_vec()),
        None => Ok(vec![default; l.channels]),
    }
}

/// Keras `GroupNormalization`: `y = γ·(x − μ_g)/√(σ²_g + ε) + β` with statistics per example
/// and group of `channels / groups` consecutive channels of `axis` (≥ 1; 0 is the batch).
pub fn group_norm(
    tape: &mut Tape,
    x: Var,
    gamma: Option<Var>,
    beta: Option<Var>,
    axis: usize,
    groups: usize,
    epsilon: f32,
) -> Result<Var> {
    let l = GroupLayout::group_norm(tape.value(x).shape(), axis, groups)?;
    normalize(tape, x, gamma, beta, l, epsilon)
}

/// Keras `LayerNormalization` over one `axis` (≥ 1): statistics per position of every other
/// axis, over `axis`; γ and β have the length of `axis`.
pub fn layer_norm(
    tape: &mut Tape,
    x: Var,
    gamma: Option<Var>,
    beta: Option<Var>,
    axis: usize,
    epsilon: f32,
) -> Result<Var> {
    let l = GroupLayout::layer_norm(tape.value(x).shape(), axis)?;
    normalize(tape, x, gamma, beta, l, epsilon)
}

fn normalize(
    tape: &mut Tape,
    x: Var,
    gamma: Option<Var>,
    beta: Option<Var>,
    l: GroupLayout,
    epsilon: f32,
) -> Result<Var> {
    let shape = tape.value(x).shape().to_vec();
    let gamma_c = param_values(tape, gamma, "gamma", &l, &shape, 1.0)?;
    let beta_c = param_values(tape, beta, "beta", &l, &shape, 0.0)?;
    let xs = tape.value(x).data();
    let (rows, len, s) = (l.block_rows(), l.row_len(), l.stats_per_row());
    let eps = epsilon as f64;
    let parts = parallel::map_tasks(l.blocks(), |blk| {
        let n = rows.min(l.rows - blk * rows);
        let (mut mean, mut inv) = (vec![0.0f32; n * s], vec![0.0f32; n * s]);
        for k in 0..n {
            let row = &xs[(blk * rows + k) * len..][..len];
            row_stats(&l, row, eps, &mut mean[k * s..(k + 1) * s], &mut inv[k * s..(k + 1) * s]);
        }
        (mean, inv)
    });
    let (mean, inv_std): (Vec<f32>, Vec<f32>) =
        parts.into_iter().fold((Vec::new(), Vec::new()), |(mut m, mut v), (pm, pv)| {
            m.extend(pm);
            v.extend(pv);
            (m, v)
        });
    let mut y = Tensor::zeros(&shape);
    parallel::for_each_chunk_mut(y.data_mut(), rows * len, |blk, dst| {
        for (k, out) in dst.chunks_exact_mut(len).enumerate() {
            let r = blk * rows + k;
            let (row, mu, inv) = (&xs[r * len..][..len], &mean[r * s..][..s], &inv_std[r * s..][..s]);
            l.for_each_in_row(|i, st, c| out[i] = (row[i] - mu[st]) * inv[st] * gamma_c[c] + beta_c[c]);
        }
    });
    let inputs = affine_inputs(x, gamma, beta);
    let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
    Ok(tape.push(
        y,
        &inputs,
        Box::new(move |grad, inputs, _| {
            let (dx, dgamma, dbeta) = backward(&l, grad.data(), inputs[0].data(), &mean, &inv_std, &gamma_c);
            let dx = Tensor::new(dx, grad.shape()).unwrap();
            affine_grads(dx, has_gamma.then_some(dgamma), has_beta.then_some(dbeta))
        }),
    ))
}

/// With ĝ = g·γ and x̂ = (x − μ)/σ per statistic over m values:
/// `dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) / σ`, `dγ = Σ g·x̂`, `dβ = Σ g` (over every row).
fn backward(
    l: &GroupLayout,
    gs: &[f32],
    xs: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (rows, len, s, ch) = (l.block_rows(), l.row_len(), l.stats_per_row(), l.channels);
    let m = l.count() as f64;
    // Per block: mean(ĝ) and mean(ĝ·x̂) of each statistic of its rows, and partial dγ, dβ.
    let parts = parallel::map_tasks(l.blocks(), |blk| {
        let n = rows.min(l.rows - blk * rows);
        let (mut a, mut b) = (vec![0.0f32; n * s], vec![0.0f32; n * s]);
        let (mut dg, mut db) = (vec![0.0f64; ch], vec![0.0f64; ch]);
        let (mut sa, mut sb) = (vec![0.0f64; s], vec![0.0f64; s]);
        for k in 0..n {
            let r = blk * rows + k;
            let (row, g, mu, inv) =
                (&xs[r * len..][..len], &gs[r * len..][..len], &mean[r * s..][..s], &inv_std[r * s..][..s]);
            sa.fill(0.0);
            sb.fill(0.0);
            l.for_each_in_row(|i, st, c| {
                let (xhat, gi) = (((row[i] - mu[st]) * inv[st]) as f64, g[i] as f64);
                let ghat = gi * gamma[c] as f64;
                sa[st] += ghat;
                sb[st] += ghat * xhat;
                dg[c] += gi * xhat;
                db[c] += gi;
            });
            for st in 0..s {
                a[k * s + st] = (sa[st] / m) as f32;
                b[k * s + st] = (sb[st] / m) as f32;
            }
        }
        (a, b, dg, db)
    });
    let (mut coef_a, mut coef_b) = (Vec::with_capacity(l.rows * s), Vec::with_capacity(l.rows * s));
    let (mut dgamma, mut dbeta) = (vec![0.0f64; ch], vec![0.0f64; ch]);
    for (a, b, dg, db) in parts {
        coef_a.extend(a);
        coef_b.extend(b);
        dgamma.iter_mut().zip(dg).for_each(|(t, v)| *t += v);
        dbeta.iter_mut().zip(db).for_each(|(t, v)| *t += v);
    }
    let mut dx = vec![0.0f32; l.rows * len];
    parallel::for_each_chunk_mut(&mut dx, rows * len, |blk, dst| {
        for (k, out) in dst.chunks_exact_mut(len).enumerate() {
            let r = blk * rows + k;
            let (row, g, mu, inv) =
                (&xs[r * len..][..len], &gs[r * len..][..len], &mean[r * s..][..s], &inv_std[r * s..][..s]);
            let (a, b) = (&coef_a[r * s..][..s], &coef_b[r * s..][..s]);
            l.for_each_in_row(|i, st, c| {
                let xhat = (row[i] - mu[st]) * inv[st];
                out[i] = inv[st] * (g[i] * gamma[c] - a[st] - xhat * b[st]);
            });
        }
    });
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (dx, to_f32(dgamma), to_f32(dbeta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{normal, Check};

    /// The same tolerances as BN's check: the output is invariant to a shift of each group, so
    /// gradients are small differences of large terms.
    const CHECK: Check = Check { eps: 1e-2, atol: 3e-3, rtol: 3e-2, max_probes: 40 };

    fn check_all(
        name: &str,
        shape: &[usize],
        channels: usize,
        f: impl Fn(&mut Tape, Var, Option<Var>, Option<Var>) -> Result<Var>,
    ) {
        let ins = [normal(shape, 1, 2.0, 1.0), normal(&[channels], 2, 0.5, 1.0), normal(&[channels], 3, 0.5, 0.0)];
        CHECK.run(name, &ins, |t, v| f(t, v[0], Some(v[1]), Some(v[2])));
        CHECK.run(&format!("{name}, no center"), &ins[..2], |t, v| f(t, v[0], Some(v[1]), None));
        CHECK.run(&format!("{name}, plain"), &ins[..1], |t, v| f(t, v[0], None, None));
    }

    #[test]
    fn group_norm_gradients_for_every_layout() {
        // NHWC with 2 groups, one group (layer norm over H, W, C), instance norm, an inner
        // axis (NCHW-like), and [batch, features].
        for (shape, axis, groups) in
            [([2, 3, 3, 4], 3, 2), ([2, 3, 3, 4], 3, 1), ([2, 3, 3, 4], 3, 4), ([2, 4, 3, 2], 1, 2)]
        {
            let name = format!("group norm {shape:?} axis {axis} groups {groups}");
            check_all(&name, &shape, shape[axis], |t, x, g, b| group_norm(t, x, g, b, axis, groups, 1e-3));
        }
        check_all("group norm [5, 6]", &[5, 6], 6, |t, x, g, b| group_norm(t, x, g, b, 1, 3, 1e-3));
    }

    #[test]
    fn layer_norm_gradients_for_every_axis() {
        for (shape, axis) in
            [(&[4, 6][..], 1), (&[2, 3, 5], 2), (&[2, 4, 3], 1), (&[2, 2, 3, 4], 3), (&[2, 3, 4, 2], 2)]
        {
            check_all(&format!("layer norm {shape:?} axis {axis}"), shape, shape[axis], |t, x, g, b| {
                layer_norm(t, x, g, b, axis, 1e-3)
            });
        }
    }

    fn forward(x: &Tensor, f: impl Fn(&mut Tape, Var) -> Result<Var>) -> Tensor {
        let mut t = Tape::new();
        let xv = t.leaf(x.clone(), false);
        let y = f(&mut t, xv).unwrap();
        t.value(y).clone()
    }

    #[test]
    fn matches_a_direct_computation_and_is_batch_independent() {
        let x = normal(&[3, 2, 2, 6], 5, 3.0, -1.0);
        let y = forward(&x, |t, v| group_norm(t, v, None, None, 3, 3, 1e-3));
        // Example 1, group 2 = channels 4 and 5 over the 2×2 positions.
        let vals: Vec<f64> = (0..4).flat_map(|p| [4, 5].map(|c| x.data()[24 + p * 6 + c] as f64)).collect();
        let mu = vals.iter().sum::<f64>() / 8.0;
        let var = vals.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / 8.0;
        let want = (x.data()[24 + 6 + 5] as f64 - mu) / (var + 1e-3).sqrt();
        assert!((y.data()[24 + 6 + 5] as f64 - want).abs() < 1e-5);
        // A batch of one gives that example's rows exactly.
        let one = Tensor::new(x.data()[24..48].to_vec(), &[1, 2, 2, 6]).unwrap();
        assert_eq!(forward(&one, |t, v| group_norm(t, v, None, None, 3, 3, 1e-3)).data(), &y.data()[24..48]);
        // Layer norm over the last axis is group norm with one group over [rows, features].
        let flat = x.clone().reshape(&[12, 6]).unwrap();
        let ln = forward(&x, |t, v| layer_norm(t, v, None, None, 3, 1e-3));
        assert_eq!(ln.data(), forward(&flat, |t, v| group_norm(t, v, None, None, 1, 1, 1e-3)).data());
    }

    #[test]
    fn bad_groups_axis_and_parameters_are_errors() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::zeros(&[2, 4, 4, 6]), false);
        let err = group_norm(&mut t, x, None, None, 3, 4, 1e-3).unwrap_err();
        assert!(
            err.message.contains("groups (4) must divide the number of channels (6)")
                && err.message.contains("[2, 4, 4, 6]"),
            "{}",
            err.message
        );
        assert!(group_norm(&mut t, x, None, None, 3, 0, 1e-3).is_err());
        for axis in [0, 4] {
            let err = layer_norm(&mut t, x, None, None, axis, 1e-3).unwrap_err();
            assert!(
                err.message.contains(&format!("axis {axis} is out of range for input [2, 4, 4, 6]")),
                "{}",
                err.message
            );
        }
        let gamma = t.leaf(Tensor::zeros(&[4]), false);
        let err = layer_norm(&mut t, x, Some(gamma), None, 3, 1e-3).unwrap_err();
        assert!(err.message.contains("gamma has shape [4], expected [6]"), "{}", err.message);
    }
}
