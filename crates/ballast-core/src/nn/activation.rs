//! Activation functions, fused into Dense/Conv2D or as a layer of their own.

use super::config::{layer_config, Json};
use super::{layer_common, one_input, Ctx, Layer, LayerKind};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops;
use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
}

impl Activation {
    pub fn parse(name: &str) -> Result<Activation> {
        Ok(match name {
            "linear" => Activation::Linear,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            _ => {
                return Err(Error::argument(format!(
                    "unknown activation '{name}' (linear, relu, sigmoid, tanh, softmax)"
                )))
            }
        })
    }

    /// The name `parse` reads.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }

    /// Applies the activation; with `ctx.logits` a softmax is left to the loss.
    pub fn apply(self, ctx: &mut Ctx, x: Var) -> Result<Var> {
        Ok(match self {
            Activation::Linear => x,
            Activation::Relu => ops::relu(ctx.tape, x),
            Activation::Sigmoid => ops::sigmoid(ctx.tape, x),
            Activation::Tanh => ops::tanh(ctx.tape, x),
            Activation::Softmax if ctx.logits => x,
            Activation::Softmax => ops::softmax(ctx.tape, x)?,
        })
    }
}

layer_config! {
    pub struct ActivationConfig {
        activation "activation": Activation,
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "Activation",
    default_name: "activation",
    make: |c| Ok(Box::new(ActivationLayer::new(ActivationConfig::from_json(c)?.activation))),
}];

/// Keras' `Activation` layer.
#[derive(Clone)]
pub struct ActivationLayer {
    name: String,
    trainable: bool,
    pub activation: Activation,
}

impl ActivationLayer {
    pub fn new(activation: Activation) -> Self {
        ActivationLayer { name: String::new(), trainable: true, activation }
    }
}

impl Layer for ActivationLayer {
    layer_common!("Activation");
    fn config(&self) -> Json {
        ActivationConfig { activation: self.activation }.to_json()
    }
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        if self.activation == Activation::Softmax && input.is_empty() {
            return Err(Error::shape("softmax needs at least one feature axis"));
        }
        Ok(input.to_vec())
    }
    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        self.activation.apply(ctx, inputs[0])
    }
    fn ends_in_softmax(&self) -> bool {
        self.activation == Activation::Softmax
    }
}
