//! Activation functions, fused into Dense/Conv2D or as a layer of their own.

use super::{layer_common, Ctx, Layer};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops;
use crate::rng::Rng;
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
            "linear" | "" => Activation::Linear,
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
    fn build(&mut self, input: &[usize], _: &mut Rng) -> Result<Vec<usize>> {
        if self.activation == Activation::Softmax && input.is_empty() {
            return Err(Error::shape("softmax needs at least one feature axis"));
        }
        Ok(input.to_vec())
    }
    fn forward(&mut self, ctx: &mut Ctx, x: Var, _: &[Var]) -> Result<Var> {
        self.activation.apply(ctx, x)
    }
    fn ends_in_softmax(&self) -> bool {
        self.activation == Activation::Softmax
    }
}
