//! Folding a trained BatchNormalization into the Conv2D or Dense right before it, for
//! inference: with s = γ/√(σ² + ε) per output channel,
//! `W' = W · s` and `b' = (b − μ) · s + β`, and the BN layer disappears.

use super::{Activation, BatchNorm, Conv2d, Dense, Layer, Sequential};
use crate::error::Error;
use crate::{Result, Tensor};

/// Scales the last axis of `kernel` by `s` and maps the bias through the BN affine map.
fn fold_into(kernel: &Tensor, bias: &Tensor, bn: &BatchNorm) -> (Tensor, Tensor) {
    let (gamma, beta) = bn.gamma_beta();
    let (mean, var) = (bn.moving_mean().data(), bn.moving_variance().data());
    let eps = bn.config.epsilon;
    let s: Vec<f32> = gamma.data().iter().zip(var).map(|(g, v)| g / (v + eps).sqrt()).collect();
    let mut k = kernel.clone();
    for row in k.data_mut().chunks_exact_mut(s.len()) {
        row.iter_mut().zip(&s).for_each(|(w, s)| *w *= s);
    }
    let b: Vec<f32> = (0..s.len()).map(|c| (bias.data()[c] - mean[c]) * s[c] + beta.data()[c]).collect();
    (k, Tensor::new(b, &[s.len()]).expect("one bias per channel"))
}

/// A model for inference where every BatchNormalization that directly follows a Conv2D or
/// Dense without activation (and normalizes its output channels) is folded into it. Other
/// BN layers stay. The model must be built.
pub fn fold_batch_norm(model: Sequential) -> Result<Sequential> {
    if !model.is_built() {
        return Err(Error::state("fold_batch_norm needs a built model"));
    }
    let input_shape = model.input_shape().to_vec();
    let mut out: Vec<Box<dyn Layer>> = Vec::new();
    for layer in model.into_layers() {
        if let (Some(bn), Some(prev)) = (layer.as_any().downcast_ref::<BatchNorm>(), out.last_mut()) {
            let rank = if prev.as_any().is::<Conv2d>() { 4 } else { 2 };
            let channels_last = bn.axis() == rank - 1;
            if let Some(conv) = prev.as_any_mut().downcast_mut::<Conv2d>() {
                if channels_last && conv.config.activation == Activation::Linear {
                    let (k, b) = conv.kernel_and_bias();
                    let (k, b) = fold_into(&k, &b, bn);
                    conv.set_kernel_and_bias(k, b);
                    continue;
                }
            } else if let Some(dense) = prev.as_any_mut().downcast_mut::<Dense>() {
                if channels_last && dense.config.activation == Activation::Linear {
                    let (k, b) = dense.kernel_and_bias();
                    let (k, b) = fold_into(&k, &b, bn);
                    dense.set_kernel_and_bias(k, b);
                    continue;
                }
            }
        }
        out.push(layer);
    }
    let mut folded = Sequential::new();
    for layer in out {
        folded.add(layer)?;
    }
    // Shapes are unchanged, so rebuilding only recomputes output shapes; weights are kept.
    folded.rebuild_shapes(&input_shape)?;
    Ok(folded)
}
