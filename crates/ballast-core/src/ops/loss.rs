//! The loss ops of custom loops (mean over the batch); a compiled model's losses, with their
//! Keras options, are `crate::losses`.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

fn check_same(pred: &Tensor, target: &Tensor, op: &str) -> Result<(usize, usize)> {
    if pred.rank() != 2 || pred.shape() != target.shape() {
        return Err(Error::shape(format!(
            "{op}: predictions {} and targets {} must both be [batch, classes]",
            shape_str(pred.shape()),
            shape_str(target.shape())
        )));
    }
    Ok((pred.shape()[0], pred.shape()[1]))
}

/// Categorical cross-entropy from logits, via a stable log-softmax:
/// `L = −(1/n) Σ_i Σ_c y_ic · log softmax(x_i)_c`; `∂L/∂x = (softmax(x) − y) / n`.
pub fn softmax_cross_entropy(tape: &mut Tape, logits: Var, labels: &Tensor) -> Result<Var> {
    let (n, c) = check_same(tape.value(logits), labels, "softmax_cross_entropy")?;
    let mut probs = tape.value(logits).clone();
    let mut loss = 0.0f64;
    for (row, y) in probs.data_mut().chunks_exact_mut(c).zip(labels.data().chunks_exact(c)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        loss -= row.iter().zip(y).map(|(&x, &y)| (y * (x - lse)) as f64).sum::<f64>();
        row.iter_mut().for_each(|v| *v = (*v - lse).exp());
    }
    let labels = labels.clone();
    let value = Tensor::scalar((loss / n as f64) as f32);
    Ok(tape.push(
        value,
        &[logits],
        Box::new(move |g, _, _| {
            let scale = g.data()[0] / n as f32;
            let mut dx = probs.clone();
            dx.data_mut().iter_mut().zip(labels.data()).for_each(|(p, y)| *p = (*p - y) * scale);
            vec![Some(dx)]
        }),
    ))
}

pub use crate::data::one_hot;

/// Sparse form: labels are class indices.
pub fn sparse_softmax_cross_entropy(tape: &mut Tape, logits: Var, labels: &[u32]) -> Result<Var> {
    let shape = tape.value(logits).shape();
    if shape.len() != 2 || shape[0] != labels.len() {
        return Err(Error::shape(format!(
            "sparse_softmax_cross_entropy: logits {} for {} labels",
            shape_str(shape),
            labels.len()
        )));
    }
    let y = one_hot(labels, shape[1])?;
    softmax_cross_entropy(tape, logits, &y)
}

/// Mean squared error over all elements.
pub fn mean_squared_error(tape: &mut Tape, pred: Var, target: &Tensor) -> Result<Var> {
    if tape.value(pred).shape() != target.shape() {
        return Err(Error::shape(format!(
            "mean_squared_error: predictions {} and targets {} differ",
            shape_str(tape.value(pred).shape()),
            shape_str(target.shape())
        )));
    }
    let n = target.len().max(1) as f32;
    let diff = tape.value(pred).zip_broadcast(target, "mse", |p, t| p - t)?;
    let loss = diff.data().iter().map(|d| (d * d) as f64).sum::<f64>() as f32 / n;
    Ok(tape.push(
        Tensor::scalar(loss),
        &[pred],
        Box::new(move |g, _, _| vec![Some(diff.map(|d| 2.0 * d * g.data()[0] / n))]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;
    use crate::rng::Rng;

    #[test]
    fn loss_gradients() {
        let mut r = Rng::new(8);
        let logits = Tensor::new((0..24).map(|_| r.uniform(-2.0, 2.0)).collect(), &[4, 6]).unwrap();
        let labels = one_hot(&[1, 0, 5, 3], 6).unwrap();
        let check = Check::default();
        check.run("softmax_cross_entropy", &[logits.clone()], |t, v| softmax_cross_entropy(t, v[0], &labels));
        check.run("sparse", &[logits.clone()], |t, v| sparse_softmax_cross_entropy(t, v[0], &[1, 0, 5, 3]));
        let target = Tensor::new((0..24).map(|_| r.uniform(-1.0, 1.0)).collect(), &[4, 6]).unwrap();
        check.run("mse", &[logits], |t, v| mean_squared_error(t, v[0], &target));
    }

    #[test]
    fn bad_labels_are_errors() {
        assert!(one_hot(&[3], 3).unwrap_err().message.contains("label 3 at index 0"));
        let mut t = Tape::new();
        let x = t.leaf(Tensor::zeros(&[2, 3]), false);
        assert!(softmax_cross_entropy(&mut t, x, &Tensor::zeros(&[2, 4])).is_err());
        assert!(sparse_softmax_cross_entropy(&mut t, x, &[0]).is_err());
    }
}
