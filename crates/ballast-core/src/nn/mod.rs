//! Layers with Keras semantics and defaults, and the registry that makes them by class name.
//!
//! A layer owns its weights as [`Param`]s: trainable parameters (kernels, biases, BN's γ and
//! β) and non-trainable state (BN's moving statistics). For each forward pass the graph puts
//! the trainable parameters on the tape as leaves and passes them to [`Layer::forward`] in
//! [`Layer::params`] order; the optimizer then updates them from their gradients.
//!
//! Each layer file declares its config once ([`config::layer_config!`]) and its registry
//! entries (`KINDS`); [`registry`] gathers them, so adding a layer touches its own file.

mod activation;
mod batch_norm;
pub mod config;
mod conv2d;
mod conv2d_transpose;
mod dense;
mod depthwise;
mod dropout;
mod embedding;
mod group_norm;
mod init;
mod input;
mod layer_norm;
mod merge;
mod normalization;
mod pooling;
mod preprocessing;
pub mod registry;
pub mod regularizer;
mod reshaping;
#[cfg(test)]
mod tests;

pub use activation::{
    Activation, ActivationLayer, AxisSet, EluConfig, EluLayer, LeakyReluConfig, LeakyReluLayer, PReluConfig,
    PReluLayer, ReluConfig, ReluLayer, SoftmaxConfig, SoftmaxLayer, LEAKY_RELU_SLOPE,
};
pub use batch_norm::{BatchNorm, BatchNormConfig, MovingAverage};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use conv2d_transpose::{Conv2dTranspose, Conv2dTransposeConfig};
pub use dense::{Dense, DenseConfig};
pub use depthwise::{DepthwiseConv2d, DepthwiseConv2dConfig, SeparableConv2d, SeparableConv2dConfig};
pub use dropout::{Dropout, SpatialDropout2d};
pub use embedding::{Embedding, EmbeddingConfig};
pub use group_norm::{GroupNorm, GroupNormConfig};
pub use init::Initializer;
pub use input::InputLayer;
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use merge::{Add, Average, Concatenate, ConcatenateConfig, Maximum, Multiply, Subtract};
pub use normalization::{Moments, Normalization};
pub use pooling::{AveragePool2d, Flatten, GlobalAveragePool2d, MaxPool2d, Pool2dConfig};
pub use preprocessing::{Augmentation, Random, Rescaling, Resizing};
pub use regularizer::Regularizer;
pub use reshaping::{
    Cropping2d, Cropping2dConfig, Permute, PermuteConfig, Reshape, ReshapeConfig, UpSampling2d, UpSampling2dConfig,
    ZeroPadding2d, ZeroPadding2dConfig,
};

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};
use config::Json;

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
    /// Every option, resolved (what `model.json` stores and the TypeScript factories read).
    fn config(&self) -> Json;
    /// Shape inference: checks the shapes of the inputs (without the batch axis) and returns
    /// the output's. Creates nothing. Errors name the shapes (the graph adds the layer).
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>>;
    /// Creates the weights for inputs of these shapes, which `output_shape` accepted.
    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let _ = (inputs, rng);
        Ok(())
    }
    /// Shape inference and weights for one input of shape `input`; returns the output shape.
    fn build_on(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let out = self.output_shape(&[input])?;
        self.build(&[input], rng)?;
        Ok(out)
    }
    /// The output for `inputs` (as many as `output_shape` accepted); `params` are this
    /// layer's trainable parameters on the tape.
    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var>;
    /// Trainable parameters, in the order `forward` receives them.
    fn params(&self) -> Vec<&Param> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }
    /// The regularizer of each trainable parameter, in `params` order (Keras'
    /// `kernel_regularizer`, ...): their penalties are added to the loss.
    fn regularizers(&self) -> Vec<Option<Regularizer>> {
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

/// `"layer 'conv2d_1' (Conv2D): message"` (or `"Conv2D: message"` for a layer not yet
/// named) — every layer error starts like this.
pub fn layer_error(layer: &dyn Layer, err: crate::Error) -> crate::Error {
    let message = if layer.name().is_empty() {
        format!("{}: {}", layer.kind(), err.message)
    } else {
        format!("layer '{}' ({}): {}", layer.name(), layer.kind(), err.message)
    };
    crate::Error { kind: err.kind, message }
}

/// One kind of layer, as the registry lists it; each layer file declares its own (`KINDS`).
pub struct LayerKind {
    /// Keras' class name: `Conv2D`, `AveragePooling2D`, ...
    pub class_name: &'static str,
    /// The base of Keras' default names (`average_pooling2d`, then `average_pooling2d_1`).
    pub default_name: &'static str,
    /// Makes the layer from its options (without `name` and `trainable`), checking them.
    pub make: fn(&Json) -> Result<Box<dyn Layer>>,
}

/// The single input of a one-input layer.
pub(crate) fn one_input<'a>(inputs: &[&'a [usize]]) -> Result<&'a [usize]> {
    match inputs {
        [one] => Ok(one),
        _ => Err(Error::argument(format!("expects one input, got {}", inputs.len()))),
    }
}

/// `[batch, 4, 4, 8]` for a layer input `[4, 4, 8]`.
pub fn batch_shape(input: &[usize]) -> String {
    let dims = shape_str(input);
    let inner = dims.trim_matches(|ch| ch == '[' || ch == ']');
    if inner.is_empty() {
        "[batch]".into()
    } else {
        format!("[batch, {inner}]")
    }
}

/// Resolves a Keras axis of the full input `[batch, ...input]` (negative counts from the
/// end); the batch axis is not allowed (the layers that take an axis work on each example).
pub(crate) fn resolve_axis(axis: isize, input: &[usize]) -> Result<usize> {
    let rank = input.len() as isize + 1;
    let resolved = if axis < 0 { rank + axis } else { axis };
    if resolved <= 0 || resolved >= rank {
        return Err(Error::argument(format!(
            "axis {axis} is out of range for input {} (valid: 1..{} or -1..-{})",
            batch_shape(input),
            rank - 1,
            rank - 1
        )));
    }
    Ok(resolved as usize)
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
