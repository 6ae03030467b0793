//! Layers with Keras semantics and defaults, and the Sequential container.
//!
//! A layer owns its weights as [`Param`]s: trainable parameters (kernels, biases, BN's γ and
//! β) and non-trainable state (BN's moving statistics). For each forward pass the model puts
//! the trainable parameters on the tape as leaves and passes them to [`Layer::forward`] in
//! [`Layer::params`] order; the optimizer then updates them from their gradients.

mod activation;
mod batch_norm;
mod conv2d;
mod dense;
mod dropout;
mod fold;
mod group_norm;
mod init;
mod layer_norm;
mod pooling;
mod sequential;
#[cfg(test)]
mod tests;

pub use activation::{Activation, ActivationLayer};
pub use batch_norm::{BatchNorm, BatchNormConfig, MovingAverage};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use dense::{Dense, DenseConfig};
pub use dropout::Dropout;
pub use fold::fold_batch_norm;
pub use group_norm::{GroupNorm, GroupNormConfig};
pub use init::Initializer;
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use pooling::{Flatten, MaxPool2d};
pub use sequential::Sequential;

use crate::autograd::{Tape, Var};
use crate::rng::Rng;
use crate::{Result, Tensor};

/// A named weight of a layer (`"dense/kernel"`, `"batch_normalization/moving_mean"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub value: Tensor,
}

impl Param {
    pub fn new(layer: &str, name: &str, value: Tensor) -> Param {
        Param { name: format!("{layer}/{name}"), value }
    }
}

/// Kernel and bias of a Dense or Conv2D layer's weights (a zero bias of `units` when it has
/// none), for BN folding.
pub(crate) fn kernel_and_bias(weights: &[Param], units: usize) -> (Tensor, Tensor) {
    let bias = weights.get(1).map_or_else(|| Tensor::zeros(&[units]), |p| p.value.clone());
    (weights[0].value.clone(), bias)
}

/// The weights of a linear layer named `layer`: kernel, then bias.
pub(crate) fn linear_weights(layer: &str, kernel: Tensor, bias: Tensor) -> Vec<Param> {
    vec![Param::new(layer, "kernel", kernel), Param::new(layer, "bias", bias)]
}

/// What a forward pass needs besides its input.
pub struct Ctx<'a> {
    pub tape: &'a mut Tape,
    /// Training mode: batch statistics in BN, dropout active.
    pub training: bool,
    /// Draws dropout masks.
    pub rng: &'a mut Rng,
    /// Set for the last layer when the loss takes logits: a softmax activation is left to
    /// the loss, which fuses it into a numerically stable log-softmax.
    pub logits: bool,
}

pub trait Layer: Send + Sync {
    /// Unique within a model; prefixes the names of its weights.
    fn name(&self) -> &str;
    fn set_name(&mut self, name: String);
    /// The Keras class name: `Dense`, `Conv2D`, `BatchNormalization`, ...
    fn kind(&self) -> &'static str;
    /// Creates the weights for an input of shape `input` (without the batch axis) and returns
    /// the output shape. Errors name the layer and the shapes.
    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>>;
    /// The output for `x`; `params` are this layer's trainable parameters on the tape.
    fn forward(&mut self, ctx: &mut Ctx, x: Var, params: &[Var]) -> Result<Var>;
    /// Trainable parameters, in the order `forward` receives them.
    fn params(&self) -> Vec<&Param> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }
    /// Non-trainable weights saved with the model (BN's moving statistics).
    fn state(&self) -> Vec<&Param> {
        Vec::new()
    }
    /// Parameters then state, mutably (for loading weights).
    fn weights_mut(&mut self) -> Vec<&mut Param> {
        self.params_mut()
    }
    /// Keras' `trainable`: when false the optimizer leaves the weights alone (and BN runs in
    /// inference mode with frozen statistics).
    fn trainable(&self) -> bool;
    fn set_trainable(&mut self, trainable: bool);
    /// Ends a training step: state changes a forward pass prepared (BN's moving statistics)
    /// take effect when `commit` is true and are dropped otherwise, so a step that fails
    /// (a NaN loss, an error in a later layer) changes nothing.
    fn end_step(&mut self, commit: bool) {
        let _ = commit;
    }
    /// Whether this layer ends in a softmax (so the loss may take its logits instead).
    fn ends_in_softmax(&self) -> bool {
        false
    }
    /// A copy of the layer with its weights and state (inference on several threads at once).
    fn clone_box(&self) -> Box<dyn Layer>;
    /// For downcasting (BN recalibration and folding).
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
    fn as_any(&self) -> &dyn std::any::Any;
}

impl Clone for Box<dyn Layer> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// `"layer 'conv2d_1' (Conv2D): message"` — every layer error starts like this.
pub(crate) fn layer_error(layer: &dyn Layer, err: crate::Error) -> crate::Error {
    crate::Error { kind: err.kind, message: format!("layer '{}' ({}): {}", layer.name(), layer.kind(), err.message) }
}

/// Implements the name/trainable/clone/any boilerplate of [`Layer`] for a `Clone` struct with
/// `name` and `trainable` fields.
macro_rules! layer_common {
    ($kind:literal) => {
        fn name(&self) -> &str {
            &self.name
        }
        fn set_name(&mut self, name: String) {
            self.name = name;
        }
        fn kind(&self) -> &'static str {
            $kind
        }
        fn trainable(&self) -> bool {
            self.trainable
        }
        fn set_trainable(&mut self, trainable: bool) {
            self.trainable = trainable;
        }
        fn clone_box(&self) -> Box<dyn Layer> {
            Box::new(self.clone())
        }
        fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
            self
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    };
}
pub(crate) use layer_common;
