//! Keras `Dense`: `activation(x·W + b)` on `[batch, features]` input.

use super::config::{layer_config, Json};
use super::{
    batch_shape, kernel_and_bias, layer_common, linear_weights, one_input, Activation, Ctx, Initializer, Layer,
    LayerKind, Param, Regularizer,
};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops;
use crate::rng::Rng;
use crate::{Result, Tensor};

layer_config! {
    pub struct DenseConfig {
        units "units": usize,
        activation "activation": Activation = Activation::Linear,
        use_bias "useBias": bool = true,
        kernel_initializer "kernelInitializer": Initializer = Initializer::GlorotUniform,
        bias_initializer "biasInitializer": Initializer = Initializer::Zeros,
        kernel_regularizer "kernelRegularizer": Option<Regularizer> = None,
        bias_regularizer "biasRegularizer": Option<Regularizer> = None,
    }
}

impl DenseConfig {
    /// The declared defaults for every other option.
    pub fn new(units: usize) -> Self {
        DenseConfig::from_json(&serde_json::json!({ "units": units })).expect("every other option has a default")
    }
    pub fn activation(self, activation: Activation) -> Self {
        DenseConfig { activation, ..self }
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "Dense",
    default_name: "dense",
    make: |c| Ok(Box::new(Dense::new(DenseConfig::from_json(c)?)?)),
}];

#[derive(Clone)]
pub struct Dense {
    name: String,
    trainable: bool,
    pub config: DenseConfig,
    /// `[in, units]` then `[units]`.
    weights: Vec<Param>,
}

impl Dense {
    pub fn new(config: DenseConfig) -> Result<Self> {
        if config.units == 0 {
            return Err(Error::argument("units must be at least 1"));
        }
        Ok(Dense { name: String::new(), trainable: true, config, weights: Vec::new() })
    }
}

impl Layer for Dense {
    layer_common!("Dense");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        if input.len() != 1 || input[0] == 0 {
            return Err(Error::shape(format!(
                "expects input [batch, features], got {}; add a Flatten layer before it",
                batch_shape(input)
            )));
        }
        Ok(vec![self.config.units])
    }

    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let c = self.config;
        let fan_in = inputs[0][0];
        self.weights = vec![Param::new(
            &self.name,
            "kernel",
            c.kernel_initializer.init(&[fan_in, c.units], (fan_in, c.units), rng)?,
        )];
        if c.use_bias {
            self.weights.push(Param::new(
                &self.name,
                "bias",
                c.bias_initializer.init(&[c.units], (fan_in, c.units), rng)?,
            ));
        }
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        let y = ops::dense(ctx.tape, inputs[0], params[0], params.get(1).copied())?;
        self.config.activation.apply(ctx, y)
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.iter().collect()
    }
    fn regularizers(&self) -> Vec<Option<Regularizer>> {
        vec![self.config.kernel_regularizer, self.config.bias_regularizer]
            .into_iter()
            .take(self.weights.len())
            .collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.iter_mut().collect()
    }
    fn ends_in_softmax(&self) -> bool {
        self.config.activation == Activation::Softmax
    }
}

impl Dense {
    /// Replaces kernel and bias (adding a bias if the layer had none), for BN folding.
    pub(crate) fn set_kernel_and_bias(&mut self, kernel: Tensor, bias: Tensor) {
        self.config.use_bias = true;
        self.weights = linear_weights(&self.name, kernel, bias);
    }

    /// Kernel and bias values (the bias is zero when the layer has none), for BN folding.
    pub(crate) fn kernel_and_bias(&self) -> (Tensor, Tensor) {
        kernel_and_bias(&self.weights, self.config.units)
    }
}
