//! Keras `GroupNormalization` (Wu & He, 2018, arXiv:1803.08494): statistics per example and
//! group of `channels / groups` consecutive channels, so the layer does not depend on the
//! batch (no moving statistics, the same computation in training and inference). On NHWC
//! images with the default axis −1, each group spans H × W × channels/groups values;
//! `groups = 1` normalizes each example over all its values, `groups = channels` is instance
//! normalization. γ and β are per channel.

use super::config::{layer_config, Json, Map};
use super::{batch_shape, layer_common, one_input, resolve_axis, Ctx, Initializer, Layer, LayerKind, Param};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops::group_norm::group_norm;
use crate::rng::Rng;
use crate::Result;

layer_config! {
    pub struct GroupNormConfig {
        /// Keras' default 32; must divide the number of channels.
        groups "groups": usize = 32,
        /// The channel axis of the full input, batch axis included; negative counts from the end.
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

impl Default for GroupNormConfig {
    fn default() -> Self {
        GroupNormConfig::from_json(&Json::Object(Map::new())).expect("every option has a default")
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "GroupNormalization",
    default_name: "group_normalization",
    make: |c| Ok(Box::new(GroupNorm::new(GroupNormConfig::from_json(c)?)?)),
}];

/// γ then β (whichever are enabled) for `c` channels, named as Keras names them.
pub(super) fn affine_params(
    layer: &str,
    c: usize,
    scale: Option<Initializer>,
    center: Option<Initializer>,
    rng: &mut Rng,
) -> Result<Vec<Param>> {
    let mut params = Vec::new();
    if let Some(init) = scale {
        params.push(Param::new(layer, "gamma", init.init(&[c], (c, c), rng)?));
    }
    if let Some(init) = center {
        params.push(Param::new(layer, "beta", init.init(&[c], (c, c), rng)?));
    }
    Ok(params)
}

/// The resolved `axis` of `input` and γ, β for its channels: what GroupNorm and LayerNorm
/// build.
pub(super) fn axis_and_affine_params(
    layer: &str,
    axis: isize,
    input: &[usize],
    scale: Option<Initializer>,
    center: Option<Initializer>,
    rng: &mut Rng,
) -> Result<(usize, Vec<Param>)> {
    let axis = resolve_axis(axis, input)?;
    Ok((axis, affine_params(layer, input[axis - 1], scale, center, rng)?))
}

/// γ and β among a normalization layer's parameters on the tape, laid out as
/// [`affine_params`] made them (γ first, each only when enabled).
pub(super) fn affine_vars(params: &[Var], scale: bool, center: bool) -> (Option<Var>, Option<Var>) {
    let mut p = params.iter().copied();
    (scale.then(|| p.next()).flatten(), center.then(|| p.next()).flatten())
}

pub(super) fn check_epsilon(epsilon: f32) -> Result<()> {
    if !(epsilon > 0.0) {
        return Err(Error::argument(format!("epsilon must be positive, got {epsilon}")));
    }
    Ok(())
}

#[derive(Clone)]
pub struct GroupNorm {
    name: String,
    trainable: bool,
    pub config: GroupNormConfig,
    /// γ then β, whichever are enabled.
    params: Vec<Param>,
    /// Resolved axis of the full input (batch axis = 0).
    axis: usize,
}

impl GroupNorm {
    pub fn new(config: GroupNormConfig) -> Result<Self> {
        check_epsilon(config.epsilon)?;
        if config.groups == 0 {
            return Err(Error::argument("groups must be a positive integer, got 0"));
        }
        Ok(GroupNorm { name: String::new(), trainable: true, config, params: Vec::new(), axis: 0 })
    }
}

impl Layer for GroupNorm {
    layer_common!("GroupNormalization");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        let cfg = self.config;
        let axis = resolve_axis(cfg.axis, input)?;
        let c = input[axis - 1];
        if !c.is_multiple_of(cfg.groups) {
            return Err(Error::argument(format!(
                "groups ({}) must divide the number of channels ({c}) of axis {} of input {}",
                cfg.groups,
                cfg.axis,
                batch_shape(input)
            )));
        }
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
        group_norm(ctx.tape, inputs[0], gamma, beta, self.axis, cfg.groups, cfg.epsilon)
    }

    fn params(&self) -> Vec<&Param> {
        self.params.iter().collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.params.iter_mut().collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;
    use crate::Tensor;

    /// Checks d(out)/d(input) and d(out)/d(params) of `layer` built for `shape` (batch first),
    /// in training and in inference mode (which must agree: nothing depends on the batch).
    pub(in crate::nn) fn check_layer(name: &str, mut layer: Box<dyn Layer>, shape: &[usize]) {
        let mut r = Rng::new(2);
        let x = Tensor::new((0..shape.iter().product()).map(|_| r.normal() * 2.0 + 1.0).collect(), shape).unwrap();
        layer.set_name(name.into());
        layer.build_on(&shape[1..], &mut Rng::new(1)).unwrap();
        // Parameters away from their 1 / 0 initial values, so that their gradients are tested.
        for p in layer.params_mut() {
            p.value.data_mut().iter_mut().for_each(|v| *v += r.normal() * 0.5);
        }
        let mut inputs = vec![x];
        inputs.extend(layer.params().iter().map(|p| p.value.clone()));
        let layer = std::sync::Mutex::new(layer);
        // BN's tolerances: normalized outputs make gradients small differences of large terms.
        let check = Check { eps: 1e-2, atol: 3e-3, rtol: 3e-2, max_probes: 40 };
        for training in [true, false] {
            check.run(name, &inputs, |tape, v| {
                let mut rng = Rng::new(3);
                let mut ctx = Ctx { tape, training, rng: &mut rng, logits: false };
                layer.lock().unwrap().forward(&mut ctx, &v[..1], &v[1..])
            });
        }
    }

    fn layer(groups: usize, axis: isize, center: bool, scale: bool) -> Box<dyn Layer> {
        Box::new(GroupNorm::new(GroupNormConfig { groups, axis, center, scale, ..Default::default() }).unwrap())
    }

    #[test]
    fn gradients_for_every_option() {
        check_layer("gn", layer(2, -1, true, true), &[2, 3, 3, 4]);
        check_layer("gn_instance", layer(4, -1, true, false), &[2, 3, 3, 4]);
        check_layer("gn_one_group", layer(1, -1, false, true), &[2, 3, 3, 4]);
        check_layer("gn_axis1", layer(3, 1, true, true), &[2, 6, 2, 2]);
        check_layer("gn_dense", layer(2, 1, false, false), &[3, 6]);
    }

    #[test]
    fn bad_groups_and_axis_are_errors_naming_the_shapes() {
        let build = |groups, axis, input: &[usize]| layer(groups, axis, true, true).build_on(input, &mut Rng::new(0));
        let err = build(3, -1, &[4, 4, 8]).unwrap_err();
        assert!(
            err.message
                .contains("groups (3) must divide the number of channels (8) of axis -1 of input [batch, 4, 4, 8]"),
            "{}",
            err.message
        );
        assert!(build(32, -1, &[4, 4, 8]).unwrap_err().message.contains("groups (32)"));
        let err = build(1, 4, &[4, 4, 8]).unwrap_err();
        assert!(err.message.contains("axis 4 is out of range for input [batch, 4, 4, 8]"), "{}", err.message);
        assert!(build(1, 0, &[4]).is_err() && build(1, -3, &[4, 2]).is_err() && build(2, -2, &[4, 2]).is_ok());
        assert!(GroupNorm::new(GroupNormConfig { groups: 0, ..Default::default() }).is_err());
        assert!(GroupNorm::new(GroupNormConfig { epsilon: 0.0, ..Default::default() }).is_err());
    }
}
