//! Keras `Conv2D` on NHWC input with an HWIO kernel.

use super::{kernel_and_bias, layer_common, linear_weights, Activation, Ctx, Initializer, Layer, Param};
use crate::autograd::Var;
use crate::error::Error;
use crate::kernels::conv::{Conv2dGeometry, Padding};
use crate::ops;
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2dConfig {
    pub filters: usize,
    pub kernel_size: (usize, usize),
    pub strides: (usize, usize),
    pub padding: Padding,
    pub activation: Activation,
    pub use_bias: bool,
    pub kernel_initializer: Initializer,
    pub bias_initializer: Initializer,
}

impl Conv2dConfig {
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Self {
        Conv2dConfig {
            filters,
            kernel_size,
            strides: (1, 1),
            padding: Padding::Valid,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        }
    }
    pub fn activation(self, activation: Activation) -> Self {
        Conv2dConfig { activation, ..self }
    }
}

#[derive(Clone)]
pub struct Conv2d {
    name: String,
    trainable: bool,
    pub config: Conv2dConfig,
    weights: Vec<Param>,
}

impl Conv2d {
    pub fn new(config: Conv2dConfig) -> Self {
        Conv2d { name: String::new(), trainable: true, config, weights: Vec::new() }
    }

    /// Replaces kernel and bias (adding a bias if the layer had none), for BN folding.
    pub(crate) fn set_kernel_and_bias(&mut self, kernel: Tensor, bias: Tensor) {
        self.config.use_bias = true;
        self.weights = linear_weights(&self.name, kernel, bias);
    }

    pub(crate) fn kernel_and_bias(&self) -> (Tensor, Tensor) {
        kernel_and_bias(&self.weights, self.config.filters)
    }
}

impl Layer for Conv2d {
    layer_common!("Conv2D");

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let c = self.config;
        if c.filters == 0 {
            return Err(Error::argument("filters must be at least 1"));
        }
        if input.len() != 3 {
            return Err(Error::shape(format!(
                "expects input [batch, height, width, channels], got [batch, {}]",
                shape_str(input).trim_matches(|ch| ch == '[' || ch == ']')
            )));
        }
        // A batch of one checks the geometry (kernel vs input size, strides) once, here.
        let g =
            Conv2dGeometry::new(&[1, input[0], input[1], input[2]], c.kernel_size, c.filters, c.strides, c.padding)?;
        let (kh, kw) = c.kernel_size;
        let fans = (kh * kw * input[2], kh * kw * c.filters);
        self.weights = vec![Param::new(
            &self.name,
            "kernel",
            c.kernel_initializer.init(&[kh, kw, input[2], c.filters], fans, rng),
        )];
        if c.use_bias {
            self.weights.push(Param::new(&self.name, "bias", c.bias_initializer.init(&[c.filters], fans, rng)));
        }
        Ok(g.output_shape()[1..].to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, x: Var, params: &[Var]) -> Result<Var> {
        let c = self.config;
        let (filter, bias) = (params[0], params.get(1).copied());
        if c.activation == Activation::Relu {
            return ops::conv::conv2d_relu(ctx.tape, x, filter, bias, c.strides, c.padding);
        }
        let y = ops::conv::conv2d(ctx.tape, x, filter, bias, c.strides, c.padding)?;
        c.activation.apply(ctx, y)
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
