//! Keras `Dense`: `activation(x·W + b)` on `[batch, features]` input.

use super::{kernel_and_bias, layer_common, linear_weights, Activation, Ctx, Initializer, Layer, Param};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops;
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenseConfig {
    pub units: usize,
    pub activation: Activation,
    pub use_bias: bool,
    pub kernel_initializer: Initializer,
    pub bias_initializer: Initializer,
}

impl DenseConfig {
    pub fn new(units: usize) -> Self {
        DenseConfig {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        }
    }
    pub fn activation(self, activation: Activation) -> Self {
        DenseConfig { activation, ..self }
    }
}

#[derive(Clone)]
pub struct Dense {
    name: String,
    trainable: bool,
    pub config: DenseConfig,
    /// `[in, units]` then `[units]`.
    weights: Vec<Param>,
}

impl Dense {
    pub fn new(config: DenseConfig) -> Self {
        Dense { name: String::new(), trainable: true, config, weights: Vec::new() }
    }
}

impl Layer for Dense {
    layer_common!("Dense");

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let c = self.config;
        if c.units == 0 {
            return Err(Error::argument("units must be at least 1"));
        }
        if input.len() != 1 || input[0] == 0 {
            return Err(Error::shape(format!(
                "expects input [batch, features], got [batch, {}]; add a Flatten layer before it",
                shape_str(input).trim_matches(|ch| ch == '[' || ch == ']')
            )));
        }
        let fan_in = input[0];
        self.weights = vec![Param::new(
            &self.name,
            "kernel",
            c.kernel_initializer.init(&[fan_in, c.units], (fan_in, c.units), rng),
        )];
        if c.use_bias {
            self.weights.push(Param::new(
                &self.name,
                "bias",
                c.bias_initializer.init(&[c.units], (fan_in, c.units), rng),
            ));
        }
        Ok(vec![c.units])
    }

    fn forward(&mut self, ctx: &mut Ctx, x: Var, params: &[Var]) -> Result<Var> {
        let y = ops::dense(ctx.tape, x, params[0], params.get(1).copied())?;
        self.config.activation.apply(ctx, y)
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.iter().collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.iter_mut().collect()
    }
    fn ends_in_softmax(&self) -> bool {
        self.config.activation == Activation::Softmax
    }
}

impl Dense {
    /// Kernel and bias values (the bias is zero when the layer has none), for BN folding.
    /// Replaces kernel and bias (adding a bias if the layer had none), for BN folding.
    pub(crate) fn set_kernel_and_bias(&mut self, kernel: Tensor, bias: Tensor) {
        self.config.use_bias = true;
        self.weights = linear_weights(&self.name, kernel, bias);
    }

    pub(crate) fn kernel_and_bias(&self) -> (Tensor, Tensor) {
        kernel_and_bias(&self.weights, self.config.units)
    }
}
