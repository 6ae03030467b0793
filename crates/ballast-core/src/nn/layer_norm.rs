//! Keras `LayerNormalization` (Ba, Kiros & Hinton, 2016, arXiv:1607.06450) over one axis:
//! each example is normalized over `axis` at every position of the other axes, with γ and β of
//! the length of `axis`. Keras' default axis −1 means only the last axis (the features of
//! `[batch, features]`, the channels of NHWC at each pixel), not every non-batch axis; for the
//! latter use GroupNormalization with `groups = 1`. Keras also accepts a list of axes; one axis
//! is what is offered here. Nothing depends on the batch: no moving statistics, the same
//! computation in training and inference.

use super::group_norm::{affine_params, affine_vars, check_epsilon, resolve_axis};
use super::{layer_common, Ctx, Initializer, Layer, Param};
use crate::autograd::Var;
use crate::ops::group_norm::layer_norm;
use crate::rng::Rng;
use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormConfig {
    /// The normalized axis of the full input, batch axis included; negative counts from the end.
    pub axis: isize,
    pub epsilon: f32,
    /// Learn an offset β.
    pub center: bool,
    /// Learn a scale γ.
    pub scale: bool,
    pub beta_initializer: Initializer,
    pub gamma_initializer: Initializer,
}

impl Default for LayerNormConfig {
    fn default() -> Self {
        LayerNormConfig {
            axis: -1,
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
        }
    }
}

#[derive(Clone)]
pub struct LayerNorm {
    name: String,
    trainable: bool,
    pub config: LayerNormConfig,
    /// γ then β, whichever are enabled.
    params: Vec<Param>,
    /// Resolved axis of the full input (batch axis = 0).
    axis: usize,
}

impl LayerNorm {
    pub fn new(config: LayerNormConfig) -> Result<Self> {
        check_epsilon(config.epsilon)?;
        Ok(LayerNorm { name: String::new(), trainable: true, config, params: Vec::new(), axis: 0 })
    }
}

impl Layer for LayerNorm {
    layer_common!("LayerNormalization");

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let cfg = self.config;
        self.axis = resolve_axis(cfg.axis, input)?;
        let (scale, center) = (cfg.scale.then_some(cfg.gamma_initializer), cfg.center.then_some(cfg.beta_initializer));
        self.params = affine_params(&self.name, input[self.axis - 1], scale, center, rng);
        Ok(input.to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, x: Var, params: &[Var]) -> Result<Var> {
        let cfg = self.config;
        let (gamma, beta) = affine_vars(params, cfg.scale, cfg.center);
        layer_norm(ctx.tape, x, gamma, beta, self.axis, cfg.epsilon)
    }

    fn params(&self) -> Vec<&Param> {
        self.params.iter().collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.params.iter_mut().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::group_norm::tests::check_layer;
    use super::*;

    fn layer(axis: isize, center: bool, scale: bool) -> Box<dyn Layer> {
        Box::new(LayerNorm::new(LayerNormConfig { axis, center, scale, ..Default::default() }).unwrap())
    }

    #[test]
    fn gradients_for_every_option() {
        check_layer("ln", layer(-1, true, true), &[4, 6]);
        check_layer("ln_nhwc", layer(-1, true, false), &[2, 3, 3, 4]);
        check_layer("ln_axis1", layer(1, false, true), &[2, 4, 3, 2]);
        check_layer("ln_plain", layer(-2, false, false), &[3, 4, 5]);
    }

    #[test]
    fn weights_and_errors() {
        let mut ln = layer(-1, true, true);
        ln.set_name("layer_norm".into());
        assert_eq!(ln.build(&[5, 3], &mut Rng::new(0)).unwrap(), [5, 3]);
        let names: Vec<(&str, &[usize])> =
            ln.params().into_iter().map(|p| (p.name.as_str(), p.value.shape())).collect();
        assert_eq!(names, [("layer_norm/gamma", &[3][..]), ("layer_norm/beta", &[3][..])]);
        let err = layer(3, true, true).build(&[5, 3], &mut Rng::new(0)).unwrap_err();
        assert!(
            err.message.contains("axis 3 is out of range for input [batch, 5, 3] (valid: 1..2 or -1..-2)"),
            "{}",
            err.message
        );
        assert!(layer(-3, true, true).build(&[5, 3], &mut Rng::new(0)).is_err());
        assert!(LayerNorm::new(LayerNormConfig { epsilon: -1.0, ..Default::default() }).is_err());
    }
}
