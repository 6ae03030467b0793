//! Keras `LayerNormalization` (Ba, Kiros & Hinton, 2016, arXiv:1607.06450) over one axis:
//! each example is normalized over `axis` at every position of the other axes, with γ and β of
//! the length of `axis`. Keras' default axis −1 means only the last axis (the features of
//! `[batch, features]`, the channels of NHWC at each pixel), not every non-batch axis; for the
//! latter use GroupNormalization with `groups = 1`. Keras also accepts a list of axes; one axis
//! is what is offered here. Nothing depends on the batch: no moving statistics, the same
//! computation in training and inference.

use super::config::{layer_config, Json, Map};
use super::group_norm::{affine_vars, axis_and_affine_params, check_epsilon};
use super::{layer_common, one_input, resolve_axis, Ctx, Initializer, Layer, LayerKind, Param};
use crate::autograd::Var;
use crate::ops::group_norm::layer_norm;
use crate::rng::Rng;
use crate::Result;

layer_config! {
    pub struct LayerNormConfig {
        /// The normalized axis of the full input, batch axis included; negative counts from the end.
        axis "axis": isize = -1,
        epsilon "epsilon": f32 = 1e-3,
        /// Learn an offset β.
        center "center": bool = true,
        /// Learn a scale γ.
        scale "scale": bool = true,
        beta_initializer "betaInitializer": Initializer = Initializer::Zeros,
        gamma_initializer "gammaInitializer": Initializer = Initializer::Ones,
    }
}

impl Default for LayerNormConfig {
    fn default() -> Self {
        LayerNormConfig::from_json(&Json::Object(Map::new())).expect("every option has a default")
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "LayerNormalization",
    default_name: "layer_normalization",
    make: |c| Ok(Box::new(LayerNorm::new(LayerNormConfig::from_json(c)?)?)),
}];

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

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        resolve_axis(self.config.axis, input)?;
        Ok(input.to_vec())
    }

    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let cfg = self.config;
        let (scale, center) = (cfg.scale.then_some(cfg.gamma_initializer), cfg.center.then_some(cfg.beta_initializer));
        (self.axis, self.params) = axis_and_affine_params(&self.name, cfg.axis, inputs[0], scale, center, rng)?;
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        let cfg = self.config;
        let (gamma, beta) = affine_vars(params, cfg.scale, cfg.center);
        layer_norm(ctx.tape, inputs[0], gamma, beta, self.axis, cfg.epsilon)
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
        assert_eq!(ln.build_on(&[5, 3], &mut Rng::new(0)).unwrap(), [5, 3]);
        let names: Vec<(&str, &[usize])> =
            ln.params().into_iter().map(|p| (p.name.as_str(), p.value.shape())).collect();
        assert_eq!(names, [("layer_norm/gamma", &[3][..]), ("layer_norm/beta", &[3][..])]);
        let err = layer(3, true, true).build_on(&[5, 3], &mut Rng::new(0)).unwrap_err();
        assert!(
            err.message.contains("axis 3 is out of range for input [batch, 5, 3] (valid: 1..2 or -1..-2)"),
            "{}",
            err.message
        );
        assert!(layer(-3, true, true).build_on(&[5, 3], &mut Rng::new(0)).is_err());
        assert!(LayerNorm::new(LayerNormConfig { epsilon: -1.0, ..Default::default() }).is_err());
    }
}
