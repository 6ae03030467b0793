//! Activations. Softmax and log-softmax act on the last axis.

use crate::autograd::{Tape, Var};
use crate::error::Error;
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
    let value = par_map(tape.value(x), |v| 1.0 / (1.0 + (-v).exp()));
    tape.push(value, &[x], Box::new(|g, _, y| vec![Some(par_zip(g, y, |g, y| g * y * (1.0 - y)))]))
}

pub fn tanh(tape: &mut Tape, x: Var) -> Var {
    let value = par_map(tape.value(x), f32::tanh);
    tape.push(value, &[x], Box::new(|g, _, y| vec![Some(par_zip(g, y, |g, y| g * (1.0 - y * y)))]))
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
