//! Keras `Conv2D` on NHWC input with an HWIO kernel.

use super::config::{layer_config, Json, Pair};
use super::{
    batch_shape, kernel_and_bias, layer_common, linear_weights, one_input, Activation, Ctx, Initializer, Layer,
    LayerKind, Param, Regularizer,
};
use crate::autograd::Var;
use crate::error::Error;
use crate::kernels::conv::{Conv2dGeometry, ConvOptions, Padding};
use crate::ops;
use crate::rng::Rng;
use crate::{Result, Tensor};

layer_config! {
    pub struct Conv2dConfig {
        filters "filters": usize,
        kernel_size "kernelSize": Pair,
        strides "strides": Pair = Pair(1, 1),
        padding "padding": Padding = Padding::Valid,
        /// Taps `dilation_rate` apart (Keras' `dilation_rate`); above 1 only with strides 1.
        dilation_rate "dilationRate": Pair = Pair(1, 1),
        /// Channel groups: `filters` and the input channels must be divisible by it; the
        /// kernel is `[kh, kw, in/groups, filters]`.
        groups "groups": usize = 1,
        activation "activation": Activation = Activation::Linear,
        use_bias "useBias": bool = true,
        kernel_initializer "kernelInitializer": Initializer = Initializer::GlorotUniform,
        bias_initializer "biasInitializer": Initializer = Initializer::Zeros,
        kernel_regularizer "kernelRegularizer": Option<Regularizer> = None,
        bias_regularizer "biasRegularizer": Option<Regularizer> = None,
    }
}

impl Conv2dConfig {
    /// The declared defaults for every other option (kernel sizes must be positive).
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Self {
        let options = serde_json::json!({ "filters": filters, "kernelSize": [kernel_size.0, kernel_size.1] });
        Conv2dConfig::from_json(&options).expect("a positive kernel size")
    }
    pub fn activation(self, activation: Activation) -> Self {
        Conv2dConfig { activation, ..self }
    }

    /// Strides, padding, dilation and groups, as the kernels take them.
    pub fn options(&self) -> ConvOptions {
        ConvOptions::new(self.strides.tuple(), self.padding).dilation(self.dilation_rate.tuple()).groups(self.groups)
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "Conv2D",
    default_name: "conv2d",
    make: |c| Ok(Box::new(Conv2d::new(Conv2dConfig::from_json(c)?)?)),
}];

#[derive(Clone)]
pub struct Conv2d {
    name: String,
    trainable: bool,
    pub config: Conv2dConfig,
    weights: Vec<Param>,
}

impl Conv2d {
    pub fn new(config: Conv2dConfig) -> Result<Self> {
        if config.filters == 0 {
            return Err(Error::argument("filters must be at least 1"));
        }
        if config.groups == 0 || !config.filters.is_multiple_of(config.groups) {
            return Err(Error::argument(format!(
                "option 'groups' ({}) must be at least 1 and divide filters ({})",
                config.groups, config.filters
            )));
        }
        config.options().check_strides_and_dilation()?;
        Ok(Conv2d { name: String::new(), trainable: true, config, weights: Vec::new() })
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

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        let c = self.config;
        if input.len() != 3 {
            return Err(Error::shape(format!(
                "expects input [batch, height, width, channels], got {}",
                batch_shape(input)
            )));
        }
        if !input[2].is_multiple_of(c.groups) {
            return Err(Error::shape(format!(
                "input channels {} (input {}) are not divisible by option 'groups' ({})",
                input[2],
                batch_shape(input),
                c.groups
            )));
        }
        // A batch of one checks the geometry (kernel vs input size, strides) once, here.
        let g = Conv2dGeometry::with_options(
            "conv2d",
            &[1, input[0], input[1], input[2]],
            c.kernel_size.tuple(),
            c.filters,
            c.options(),
        )?;
        Ok(g.output_shape()[1..].to_vec())
    }

    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let c = self.config;
        let in_c = inputs[0][2] / c.groups;
        let Pair(kh, kw) = c.kernel_size;
        let fans = (kh * kw * in_c, kh * kw * c.filters);
        self.weights =
            vec![Param::new(&self.name, "kernel", c.kernel_initializer.init(&[kh, kw, in_c, c.filters], fans, rng)?)];
        if c.use_bias {
            self.weights.push(Param::new(&self.name, "bias", c.bias_initializer.init(&[c.filters], fans, rng)?));
        }
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        let c = self.config;
        let (filter, bias) = (params[0], params.get(1).copied());
        let relu = c.activation == Activation::Relu;
        let y = ops::conv::conv2d_with(ctx.tape, inputs[0], filter, bias, c.options(), relu)?;
        if relu {
            return Ok(y);
        }
        c.activation.apply(ctx, y)
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.iter().collect()
    }
    fn regularizers(&self) -> Vec<Option<Regularizer>> {
        [self.config.kernel_regularizer, self.config.bias_regularizer].into_iter().take(self.weights.len()).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.iter_mut().collect()
    }
    fn ends_in_softmax(&self) -> bool {
        self.config.activation == Activation::Softmax
    }
}
