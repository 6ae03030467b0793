//! Folding trained BatchNormalization layers into the Conv2D or Dense that feeds them, for
//! inference, as a rewrite of the graph: with s = γ/√(σ² + ε) per output channel,
//! `W' = W · s` and `b' = (b − μ) · s + β`, and the BN node disappears.

use super::Graph;
use crate::error::Error;
use crate::nn::{Activation, BatchNorm, Conv2d, Dense, Layer};
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

/// Whether `layer` is a Conv2D or Dense without activation whose output channels are the
/// last axis of a tensor of rank `rank` (batch included).
fn linear_channels_last(layer: &dyn Layer) -> Option<usize> {
    if let Some(conv) = layer.as_any().downcast_ref::<Conv2d>() {
        return (conv.config.activation == Activation::Linear).then_some(4);
    }
    let dense = layer.as_any().downcast_ref::<Dense>()?;
    (dense.config.activation == Activation::Linear).then_some(2)
}

/// Folds, in place, every BatchNormalization whose only input is a Conv2D or Dense without
/// activation that feeds nothing else (and whose output channels it normalizes). Other BN
/// nodes stay. Returns the names of the folded BN layers.
pub fn fold_batch_norm(graph: &mut Graph) -> Result<Vec<String>> {
    if !graph.is_complete() {
        return Err(Error::state("folding BatchNormalization needs a complete model"));
    }
    let mut drop = vec![false; graph.nodes.len()];
    let mut folded = Vec::new();
    for i in 0..graph.nodes.len() {
        let Some(bn) = graph.nodes[i].layer.as_any().downcast_ref::<BatchNorm>() else { continue };
        let &[src] = graph.nodes[i].inputs.as_slice() else { continue };
        let Some(rank) = linear_channels_last(graph.nodes[src].layer.as_ref()) else { continue };
        if bn.axis() != rank - 1 || graph.consumers(src) != 1 {
            continue;
        }
        let bn = bn.clone();
        let layer = graph.nodes[src].layer.as_any_mut();
        if let Some(conv) = layer.downcast_mut::<Conv2d>() {
            let (k, b) = conv.kernel_and_bias();
            let (k, b) = fold_into(&k, &b, &bn);
            conv.set_kernel_and_bias(k, b);
        } else if let Some(dense) = layer.downcast_mut::<Dense>() {
            let (k, b) = dense.kernel_and_bias();
            let (k, b) = fold_into(&k, &b, &bn);
            dense.set_kernel_and_bias(k, b);
        }
        drop[i] = true;
        folded.push(bn.name().to_string());
    }
    // Shapes are unchanged: a BN's output has its input's shape.
    graph.remove_nodes(&drop);
    Ok(folded)
}
