//! Activation functions, fused into Dense/Conv2D (`activation: 'gelu'`) or as layers of their
//! own: Keras's `Activation`, and the layers with options, `LeakyReLU`, `ELU`, `ReLU`,
//! `Softmax` (any axis) and `PReLU` (a learned slope).
//!
//! Names, defaults and maths are Keras 3's. A string activation takes no options, so one
//! with a parameter uses the Keras *function's* default (`leaky_relu`: slope 0.2), while the
//! layer has the Keras *layer's* default (`LeakyReLU`: slope 0.3), as in Keras.

use super::config::{as_object, layer_config, ConfigValue, Json, Map};
use super::{batch_shape, layer_common, one_input, resolve_axis, Ctx, Initializer, Layer, LayerKind, Param};
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
    /// Over the last axis (the `Softmax` layer takes any axis).
    Softmax,
    /// Slope [`LEAKY_RELU_SLOPE`] below 0 (Keras's `leaky_relu` function default).
    LeakyRelu,
    /// α = 1.
    Elu,
    Selu,
    /// Exact, through erf (Keras's default).
    Gelu,
    /// GELU's tanh approximation (TF.js's `gelu_new`, Keras's `gelu(approximate=True)`).
    GeluTanh,
    /// `x · σ(x)`; `swish` is the same function.
    Silu,
    Softplus,
    Softsign,
    /// Keras 3's `relu6(x + 3) / 6`.
    HardSigmoid,
    Relu6,
    Mish,
}

/// The negative slope of the string activation `leaky_relu` (Keras's function default; the
/// `LeakyReLU` layer's default is 0.3).
pub const LEAKY_RELU_SLOPE: f32 = 0.2;

/// Every name `Activation::parse` reads: Keras's snake_case names first (the one `name`
/// writes), then the other spellings TF.js users write.
const NAMES: &[(&str, Activation)] = &[
    ("linear", Activation::Linear),
    ("relu", Activation::Relu),
    ("sigmoid", Activation::Sigmoid),
    ("tanh", Activation::Tanh),
    ("softmax", Activation::Softmax),
    ("leaky_relu", Activation::LeakyRelu),
    ("elu", Activation::Elu),
    ("selu", Activation::Selu),
    ("gelu", Activation::Gelu),
    ("gelu_new", Activation::GeluTanh),
    ("silu", Activation::Silu),
    ("softplus", Activation::Softplus),
    ("softsign", Activation::Softsign),
    ("hard_sigmoid", Activation::HardSigmoid),
    ("relu6", Activation::Relu6),
    ("mish", Activation::Mish),
    // Aliases: Keras's and TF.js's `swish`, TF.js's camelCase `hardSigmoid`, and
    // `leakyRelu` in the same spelling (TF.js has no leaky string activation).
    ("swish", Activation::Silu),
    ("hardSigmoid", Activation::HardSigmoid),
    ("leakyRelu", Activation::LeakyRelu),
];

impl Activation {
    /// What an `activation` option must be, for error messages (the names of [`NAMES`]).
    pub const EXPECTED: &'static str = "one of 'linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'leaky_relu', \
         'elu', 'selu', 'gelu', 'gelu_new', 'silu', 'softplus', 'softsign', 'hard_sigmoid', 'relu6', 'mish' \
         (or 'swish', 'hardSigmoid', 'leakyRelu')";

    pub fn parse(name: &str) -> Result<Activation> {
        NAMES.iter().find(|(n, _)| *n == name).map(|&(_, a)| a).ok_or_else(|| {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            Error::argument(format!("unknown activation '{name}' (accepted: {})", names.join(", ")))
        })
    }

    /// The name `parse` reads: Keras's (`silu` for `swish`, `hard_sigmoid` for `hardSigmoid`).
    pub fn name(self) -> &'static str {
        NAMES.iter().find(|(_, a)| *a == self).map(|(n, _)| *n).expect("every activation has a name")
    }

    /// Applies the activation; with `ctx.logits` a softmax is left to the loss.
    pub fn apply(self, ctx: &mut Ctx, x: Var) -> Result<Var> {
        let t = &mut *ctx.tape;
        Ok(match self {
            Activation::Linear => x,
            Activation::Relu => ops::relu(t, x),
            Activation::Sigmoid => ops::sigmoid(t, x),
            Activation::Tanh => ops::tanh(t, x),
            Activation::Softmax if ctx.logits => x,
            Activation::Softmax => ops::softmax(t, x)?,
            Activation::LeakyRelu => ops::leaky_relu(t, x, LEAKY_RELU_SLOPE),
            Activation::Elu => ops::elu(t, x, 1.0),
            Activation::Selu => ops::selu(t, x),
            Activation::Gelu => ops::gelu(t, x, false),
            Activation::GeluTanh => ops::gelu(t, x, true),
            Activation::Silu => ops::silu(t, x),
            Activation::Softplus => ops::softplus(t, x),
            Activation::Softsign => ops::softsign(t, x),
            Activation::HardSigmoid => ops::hard_sigmoid(t, x),
            Activation::Relu6 => ops::relu6(t, x),
            Activation::Mish => ops::mish(t, x),
        })
    }
}

layer_config! {
    pub struct ActivationConfig {
        activation "activation": Activation,
    }
}

layer_config! {
    pub struct LeakyReluConfig {
        /// Keras 3's `negative_slope`; TF.js's `alpha` is read as this option.
        negative_slope "negativeSlope": f32 = 0.3,
    }
}

layer_config! {
    pub struct EluConfig {
        alpha "alpha": f32 = 1.0,
    }
}

layer_config! {
    pub struct ReluConfig {
        /// The largest output; `null` (the default) for none.
        max_value "maxValue": Option<f32> = None,
        /// The slope below `threshold`.
        negative_slope "negativeSlope": f32 = 0.0,
        threshold "threshold": f32 = 0.0,
    }
}

layer_config! {
    pub struct SoftmaxConfig {
        /// The normalized axis of the full input, batch axis included (not 0); negative counts
        /// from the end.
        axis "axis": isize = -1,
    }
}

layer_config! {
    pub struct PReluConfig {
        alpha_initializer "alphaInitializer": Initializer = Initializer::Zeros,
        /// Axes (of the full input, batch axis = 0) along which one alpha is shared: `[1, 2]`
        /// for one alpha per channel of NHWC. `null`: an alpha for every input value.
        shared_axes "sharedAxes": Option<AxisSet> = None,
    }
}

/// Every option at its default (the declarations above are the one place they are given).
macro_rules! default_from_declaration {
    ($($ty:ident),*) => {$(
        impl Default for $ty {
            fn default() -> Self {
                $ty::from_json(&Json::Object(Map::new())).expect("every option has a default")
            }
        }
    )*};
}
default_from_declaration!(LeakyReluConfig, EluConfig, ReluConfig, SoftmaxConfig, PReluConfig);

/// A set of axes of the full input (1 to 31; the batch axis 0 cannot be listed), read as one
/// positive integer or a list of them, written as a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisSet(pub u32);

impl AxisSet {
    pub fn from_axes(axes: &[usize]) -> AxisSet {
        AxisSet(axes.iter().fold(0, |m, &a| m | (1 << a)))
    }
    pub fn contains(self, axis: usize) -> bool {
        axis < 32 && self.0 & (1 << axis) != 0
    }
    pub fn axes(self) -> Vec<usize> {
        (1..32).filter(|&a| self.contains(a)).collect()
    }
}

impl ConfigValue for AxisSet {
    const EXPECTED: &'static str = "a positive integer (an axis after the batch axis) or a list of them";
    fn read(v: &Json) -> Option<Self> {
        let axis = |v: &Json| usize::read(v).filter(|a| (1..32).contains(a));
        match v {
            Json::Array(list) => list.iter().map(axis).collect::<Option<Vec<_>>>().map(|a| AxisSet::from_axes(&a)),
            _ => axis(v).map(|a| AxisSet::from_axes(&[a])),
        }
    }
    fn write(&self) -> Json {
        Json::from(self.axes().into_iter().map(|a| a as u64).collect::<Vec<_>>())
    }
}

/// Reads the option `alias` (TF.js's spelling) as `key`: refuses both at once and a
/// mistyped alias, naming it as the user wrote it.
fn read_alias(config: &Json, alias: &str, key: &str) -> Result<Json> {
    let mut obj = as_object(config)?.clone();
    if let Some(v) = obj.remove(alias) {
        if obj.contains_key(key) {
            return Err(Error::argument(format!("options '{alias}' and '{key}' are the same option: give one")));
        }
        if f32::read(&v).is_none() {
            let got = super::config::describe(&v);
            return Err(Error::argument(format!("option '{alias}' must be {}, got {got}", f32::EXPECTED)));
        }
        obj.insert(key.to_string(), v);
    }
    Ok(Json::Object(obj))
}

/// `value` must be finite (a config read from JSON always is; a struct made in Rust may not
/// be) and, with `non_negative`, at least 0.
fn check_option(key: &str, value: f32, non_negative: bool) -> Result<()> {
    if !value.is_finite() {
        return Err(Error::argument(format!("option '{key}' must be a finite number, got {value}")));
    }
    if non_negative && value < 0.0 {
        return Err(Error::argument(format!("option '{key}' must be at least 0 (as in Keras), got {value}")));
    }
    Ok(())
}

pub(super) const KINDS: &[LayerKind] = &[
    LayerKind {
        class_name: "Activation",
        default_name: "activation",
        make: |c| Ok(Box::new(ActivationLayer::new(ActivationConfig::from_json(c)?.activation))),
    },
    LayerKind {
        class_name: "LeakyReLU",
        default_name: "leaky_re_lu",
        make: |c| {
            let c = read_alias(c, "alpha", "negativeSlope")?;
            Ok(Box::new(LeakyReluLayer::new(LeakyReluConfig::from_json(&c)?)?))
        },
    },
    LayerKind {
        class_name: "ELU",
        default_name: "elu",
        make: |c| Ok(Box::new(EluLayer::new(EluConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "ReLU",
        default_name: "re_lu",
        make: |c| Ok(Box::new(ReluLayer::new(ReluConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "Softmax",
        default_name: "softmax",
        make: |c| Ok(Box::new(SoftmaxLayer::new(SoftmaxConfig::from_json(c)?))),
    },
    LayerKind {
        class_name: "PReLU",
        default_name: "p_re_lu",
        make: |c| Ok(Box::new(PReluLayer::new(PReluConfig::from_json(c)?))),
    },
];

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

/// Keras' `LeakyReLU`: `x` for x ≥ 0, `negativeSlope · x` below (default 0.3).
#[derive(Clone)]
pub struct LeakyReluLayer {
    name: String,
    trainable: bool,
    pub config: LeakyReluConfig,
}

impl LeakyReluLayer {
    pub fn new(config: LeakyReluConfig) -> Result<Self> {
        check_option("negativeSlope", config.negative_slope, true)?;
        Ok(LeakyReluLayer { name: String::new(), trainable: true, config })
    }
}

impl Layer for LeakyReluLayer {
    layer_common!("LeakyReLU");
    fn config(&self) -> Json {
        self.config.to_json()
    }
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(one_input(inputs)?.to_vec())
    }
    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        Ok(ops::leaky_relu(ctx.tape, inputs[0], self.config.negative_slope))
    }
}

/// Keras' `ELU`: `x` for x > 0, `alpha · (eˣ − 1)` otherwise (default α = 1).
#[derive(Clone)]
pub struct EluLayer {
    name: String,
    trainable: bool,
    pub config: EluConfig,
}

impl EluLayer {
    pub fn new(config: EluConfig) -> Result<Self> {
        check_option("alpha", config.alpha, false)?;
        Ok(EluLayer { name: String::new(), trainable: true, config })
    }
}

impl Layer for EluLayer {
    layer_common!("ELU");
    fn config(&self) -> Json {
        self.config.to_json()
    }
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(one_input(inputs)?.to_vec())
    }
    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        Ok(ops::elu(ctx.tape, inputs[0], self.config.alpha))
    }
}

/// Keras' `ReLU` layer: `min(x, maxValue)` above `threshold`, `negativeSlope · (x −
/// threshold)` below it. With the defaults, the plain ReLU.
#[derive(Clone)]
pub struct ReluLayer {
    name: String,
    trainable: bool,
    pub config: ReluConfig,
}

impl ReluLayer {
    pub fn new(config: ReluConfig) -> Result<Self> {
        if let Some(m) = config.max_value {
            check_option("maxValue", m, true)?;
        }
        check_option("negativeSlope", config.negative_slope, true)?;
        check_option("threshold", config.threshold, true)?;
        Ok(ReluLayer { name: String::new(), trainable: true, config })
    }
}

impl Layer for ReluLayer {
    layer_common!("ReLU");
    fn config(&self) -> Json {
        self.config.to_json()
    }
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(one_input(inputs)?.to_vec())
    }
    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        let c = self.config;
        Ok(if c.max_value.is_none() && c.negative_slope == 0.0 && c.threshold == 0.0 {
            ops::relu(ctx.tape, inputs[0])
        } else {
            ops::relu_with(ctx.tape, inputs[0], c.max_value, c.negative_slope, c.threshold)
        })
    }
}

/// Keras' `Softmax` layer over any axis but the batch axis (default the last). Only a
/// last-axis softmax ending a model is left to a cross-entropy loss to fuse; on another axis
/// it is always applied.
#[derive(Clone)]
pub struct SoftmaxLayer {
    name: String,
    trainable: bool,
    pub config: SoftmaxConfig,
    /// Whether the axis is the last of the input the layer was built for.
    last_axis: bool,
}

impl SoftmaxLayer {
    pub fn new(config: SoftmaxConfig) -> Self {
        SoftmaxLayer { name: String::new(), trainable: true, config, last_axis: config.axis == -1 }
    }
}

impl Layer for SoftmaxLayer {
    layer_common!("Softmax");
    fn config(&self) -> Json {
        self.config.to_json()
    }
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        resolve_axis(self.config.axis, input)?;
        Ok(input.to_vec())
    }
    fn build(&mut self, inputs: &[&[usize]], _: &mut Rng) -> Result<()> {
        self.last_axis = resolve_axis(self.config.axis, inputs[0])? == inputs[0].len();
        Ok(())
    }
    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        let shape = ctx.tape.value(inputs[0]).shape();
        let axis = resolve_axis(self.config.axis, shape.get(1..).unwrap_or(&[]))?;
        if ctx.logits && axis + 1 == shape.len() {
            return Ok(inputs[0]);
        }
        ops::softmax_axis(ctx.tape, inputs[0], axis)
    }
    fn ends_in_softmax(&self) -> bool {
        self.last_axis
    }
}

/// Keras' `PReLU`: `x` for x > 0, `alpha · x` otherwise, with `alpha` learned: one per input
/// value, or shared along `sharedAxes` (the weight `alpha` has size 1 there).
#[derive(Clone)]
pub struct PReluLayer {
    name: String,
    trainable: bool,
    pub config: PReluConfig,
    /// `alpha`, of the input's shape with the shared axes of size 1.
    weights: Vec<Param>,
}

impl PReluLayer {
    pub fn new(config: PReluConfig) -> Self {
        PReluLayer { name: String::new(), trainable: true, config, weights: Vec::new() }
    }

    fn alpha_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let shared = self.config.shared_axes.map(AxisSet::axes).unwrap_or_default();
        if let Some(&bad) = shared.iter().find(|&&a| a > input.len()) {
            return Err(Error::argument(format!(
                "option 'sharedAxes': axis {bad} is out of range for input {} (valid: 1..{})",
                batch_shape(input),
                input.len()
            )));
        }
        Ok(input.iter().enumerate().map(|(i, &d)| if shared.contains(&(i + 1)) { 1 } else { d }).collect())
    }
}

/// Keras' fan-in and fan-out of a weight of this shape (for initializers that scale by them).
fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [i, o] => (*i, *o),
        [rest @ .., i, o] => {
            let receptive: usize = rest.iter().product();
            (i * receptive, o * receptive)
        }
    }
}

impl Layer for PReluLayer {
    layer_common!("PReLU");
    fn config(&self) -> Json {
        self.config.to_json()
    }
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        self.alpha_shape(input)?;
        Ok(input.to_vec())
    }
    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let shape = self.alpha_shape(inputs[0])?;
        let alpha = self.config.alpha_initializer.init(&shape, fans(&shape), rng)?;
        self.weights = vec![Param::new(&self.name, "alpha", alpha)];
        Ok(())
    }
    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        ops::prelu(ctx.tape, inputs[0], params[0])
    }
    fn params(&self) -> Vec<&Param> {
        self.weights.iter().collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.iter_mut().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry;
    use super::*;
    use crate::autograd::gradcheck::Check;
    use crate::autograd::Tape;
    use crate::Tensor;
    use serde_json::json;

    #[test]
    fn every_name_parses_and_the_expected_list_names_them_all() {
        for &(name, a) in NAMES {
            assert_eq!(Activation::parse(name).unwrap(), a);
            assert!(Activation::EXPECTED.contains(&format!("'{name}'")), "{name} missing from EXPECTED");
            // The written name reads back as the same activation.
            assert_eq!(Activation::parse(a.name()).unwrap(), a);
        }
        assert_eq!(Activation::EXPECTED.matches('\'').count(), 2 * NAMES.len());
        assert_eq!(Activation::parse("swish").unwrap().name(), "silu");
        assert_eq!(Activation::parse("hardSigmoid").unwrap().name(), "hard_sigmoid");
        let err = Activation::parse("gelu_tanh").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Argument);
        assert!(err.message.starts_with("unknown activation 'gelu_tanh' (accepted: linear, relu,"), "{}", err.message);
        assert!(err.message.contains("hard_sigmoid") && err.message.ends_with("leakyRelu)"));
    }

    /// Output and input gradient of `layer` (built for `x`) on `x`, with `logits`.
    fn run(layer: &mut dyn Layer, x: &Tensor, logits: bool) -> Tensor {
        layer.set_name("l".into());
        layer.build_on(&x.shape()[1..], &mut Rng::new(0)).unwrap();
        let mut tape = Tape::new();
        let xv = tape.constant(x.clone());
        let params: Vec<Var> = layer.params().iter().map(|p| tape.constant(p.value.clone())).collect();
        let mut rng = Rng::new(0);
        let y = layer.forward(&mut Ctx { tape: &mut tape, training: false, rng: &mut rng, logits }, &[xv], &params);
        tape.value(y.unwrap()).clone()
    }

    #[test]
    fn layer_defaults_are_keras_and_options_are_checked() {
        let config = |class: &str, v: Json| registry::create(class, &v).map(|l| l.config());
        assert_eq!(config("LeakyReLU", json!({})).unwrap(), json!({ "negativeSlope": 0.3 }));
        assert_eq!(config("LeakyReLU", json!({ "alpha": 0.1 })).unwrap(), json!({ "negativeSlope": 0.1 }));
        assert_eq!(config("ELU", json!({})).unwrap(), json!({ "alpha": 1.0 }));
        assert_eq!(
            config("ReLU", json!({})).unwrap(),
            json!({ "maxValue": null, "negativeSlope": 0.0, "threshold": 0.0 })
        );
        assert_eq!(config("Softmax", json!({})).unwrap(), json!({ "axis": -1 }));
        assert_eq!(config("PReLU", json!({})).unwrap(), json!({ "alphaInitializer": "zeros", "sharedAxes": null }));
        assert_eq!(config("PReLU", json!({ "sharedAxes": 2 })).unwrap()["sharedAxes"], json!([2]));
        assert_eq!(config("PReLU", json!({ "sharedAxes": [2, 1] })).unwrap()["sharedAxes"], json!([1, 2]));
        assert_eq!(config("Activation", json!({ "activation": "swish" })).unwrap(), json!({ "activation": "silu" }));

        let err = |class: &str, v: Json| registry::create(class, &v).err().unwrap();
        let e = err("ReLU", json!({ "maxValue": -1 }));
        assert_eq!(e.kind, crate::ErrorKind::Argument);
        assert_eq!(e.message, "ReLU: option 'maxValue' must be at least 0 (as in Keras), got -1");
        assert!(err("ReLU", json!({ "name": "r", "threshold": -0.5 }))
            .message
            .starts_with("layer 'r' (ReLU): option 'threshold'"));
        assert!(err("LeakyReLU", json!({ "negativeSlope": -0.1 }))
            .message
            .contains("'negativeSlope' must be at least 0"));
        assert_eq!(
            err("LeakyReLU", json!({ "alpha": "x" })).message,
            "LeakyReLU: option 'alpha' must be a finite number, got \"x\""
        );
        assert!(err("LeakyReLU", json!({ "alpha": 0.1, "negativeSlope": 0.1 })).message.contains("give one"));
        assert!(err("ELU", json!({ "alpha": 1e300 })).message.contains("option 'alpha' must be a finite number"));
        assert!(err("Softmax", json!({ "axis": 1.5 })).message.contains("option 'axis' must be an integer"));
        assert!(err("PReLU", json!({ "sharedAxes": [0] }))
            .message
            .contains("option 'sharedAxes' must be a positive integer"));
        assert!(err("Activation", json!({ "activation": "swiss" })).message.contains("must be one of 'linear'"));
        assert!(EluLayer::new(EluConfig { alpha: f32::NAN }).is_err());

        // Shape-time checks: the axis and shared axes must exist.
        let shape_err = |class: &str, v: Json, input: &[usize]| {
            let layer = registry::create(class, &v).unwrap();
            layer.output_shape(&[input]).unwrap_err()
        };
        let e = shape_err("Softmax", json!({ "axis": 4 }), &[3, 4, 5]);
        assert_eq!(e.kind, crate::ErrorKind::Argument);
        assert!(e.message.contains("axis 4 is out of range for input [batch, 3, 4, 5]"), "{}", e.message);
        assert!(shape_err("Softmax", json!({ "axis": 0 }), &[3]).message.contains("axis 0 is out of range"));
        let e = shape_err("PReLU", json!({ "sharedAxes": [1, 3] }), &[4, 4]);
        assert!(e.message.contains("option 'sharedAxes': axis 3 is out of range for input [batch, 4, 4]"));
    }

    #[test]
    fn softmax_is_fused_into_the_loss_only_on_the_last_axis() {
        let x = crate::autograd::gradcheck::normal(&[2, 3, 4], 1, 1.0, 0.0);
        let mut last = SoftmaxLayer::new(SoftmaxConfig { axis: 2 });
        assert_eq!(run(&mut last, &x, true).data(), x.data(), "left to the loss");
        assert!(last.ends_in_softmax());
        let mut middle = SoftmaxLayer::new(SoftmaxConfig { axis: 1 });
        let y = run(&mut middle, &x, true);
        assert!(!middle.ends_in_softmax());
        // Applied: every column over axis 1 sums to 1.
        for b in 0..2 {
            for k in 0..4 {
                let s: f32 = (0..3).map(|j| y.data()[b * 12 + j * 4 + k]).sum();
                assert!((s - 1.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn in_a_graph_only_a_last_axis_softmax_is_left_to_the_loss_and_the_spec_round_trips() {
        use crate::graph::{Graph, Sequential};
        let make = |class: &str, v: Json| registry::create(class, &v).unwrap();
        let graph = |last: Box<dyn Layer>| {
            let mut s = Sequential::new();
            s.add(make("PReLU", json!({ "sharedAxes": [1] })));
            s.add(make("LeakyReLU", json!({ "alpha": 0.1 })));
            s.add(make("ReLU", json!({ "maxValue": 6 })));
            s.add(make("ELU", json!({})));
            s.add(make("Activation", json!({ "activation": "gelu_new" })));
            s.add(last);
            s.build(&[2, 3], &mut Rng::new(0)).unwrap()
        };
        let g = graph(make("Softmax", json!({})));
        assert!(g.ends_in_softmax());
        let names: Vec<&str> = g.layers().map(|l| l.name()).collect();
        assert_eq!(names, ["input_layer", "p_re_lu", "leaky_re_lu", "re_lu", "elu", "activation", "softmax"]);
        assert_eq!(g.weights()[0].name, "p_re_lu/alpha");
        assert_eq!(g.weights()[0].value.shape(), &[1, 3]);
        assert!(graph(make("Softmax", json!({ "axis": 2 }))).ends_in_softmax(), "axis 2 of [batch, 2, 3] is the last");
        assert!(!graph(make("Softmax", json!({ "axis": 1 }))).ends_in_softmax());
        assert!(!graph(make("Softmax", json!({ "axis": -2 }))).ends_in_softmax());

        let spec = graph(make("Softmax", json!({ "axis": 1 }))).to_spec();
        let again = Graph::from_spec(&spec, &mut Rng::new(1)).unwrap();
        assert_eq!(again.to_spec(), spec);
        let configs: Vec<Json> = again.layers().map(|l| l.config()).collect();
        assert_eq!(configs[2], json!({ "negativeSlope": 0.1 }));
        assert_eq!(configs[3], json!({ "maxValue": 6.0, "negativeSlope": 0.0, "threshold": 0.0 }));
        assert_eq!(configs[5], json!({ "activation": "gelu_new" }));
        assert!(!again.ends_in_softmax());
    }

    #[test]
    fn relu_layer_options_and_prelu_weights() {
        let x = Tensor::new(vec![-2.0, -0.5, 0.25, 1.0, 3.0, 7.0], &[1, 6]).unwrap();
        let mut plain = ReluLayer::new(ReluConfig::default()).unwrap();
        assert_eq!(run(&mut plain, &x, false).data(), &[0.0, 0.0, 0.25, 1.0, 3.0, 7.0]);
        let c = ReluConfig { max_value: Some(6.0), negative_slope: 0.1, threshold: 0.5 };
        let mut relu = ReluLayer::new(c).unwrap();
        let want = [-0.25, -0.1, -0.025, 1.0, 3.0, 6.0];
        for (g, w) in run(&mut relu, &x, false).data().iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        let mut leaky = LeakyReluLayer::new(LeakyReluConfig::default()).unwrap();
        assert_eq!(run(&mut leaky, &x, false).data()[0], -0.6);

        let mut prelu =
            PReluLayer::new(PReluConfig { shared_axes: Some(AxisSet::from_axes(&[1, 2])), ..Default::default() });
        prelu.set_name("prelu".into());
        assert_eq!(prelu.build_on(&[3, 3, 4], &mut Rng::new(0)).unwrap(), [3, 3, 4]);
        assert_eq!(prelu.params()[0].name, "prelu/alpha");
        assert_eq!(prelu.params()[0].value.shape(), &[1, 1, 4]);
        assert!(prelu.params()[0].value.data().iter().all(|&a| a == 0.0), "Keras initializes alpha to zeros");
    }

    #[test]
    fn layer_gradients() {
        let check = Check::default();
        let x = crate::autograd::gradcheck::normal(&[2, 3, 4], 5, 1.5, 0.0);
        // Away from the kinks: nudge values within 0.05 of 0, 0.5 or 2.
        let x = x.map(|v| if [0.0f32, 0.5, 2.0].iter().any(|k| (v - k).abs() < 0.05) { v + 0.1 } else { v });
        let relu = ReluConfig { max_value: Some(2.0), negative_slope: 0.2, threshold: 0.5 };
        let layers: Vec<(&str, Box<dyn Layer>)> = vec![
            ("relu", Box::new(ReluLayer::new(relu).unwrap())),
            ("leaky", Box::new(LeakyReluLayer::new(LeakyReluConfig::default()).unwrap())),
            ("elu", Box::new(EluLayer::new(EluConfig { alpha: 0.7 }).unwrap())),
            ("softmax1", Box::new(SoftmaxLayer::new(SoftmaxConfig { axis: 1 }))),
            ("prelu", {
                let c =
                    PReluConfig { alpha_initializer: Initializer::GlorotUniform, shared_axes: Some(AxisSet(1 << 1)) };
                Box::new(PReluLayer::new(c))
            }),
        ];
        for (name, mut layer) in layers {
            layer.set_name(name.into());
            layer.build_on(&x.shape()[1..], &mut Rng::new(1)).unwrap();
            let mut inputs = vec![x.clone()];
            inputs.extend(layer.params().iter().map(|p| p.value.clone()));
            let layer = std::sync::Mutex::new(layer);
            check.run(name, &inputs, |tape, v| {
                let mut rng = Rng::new(3);
                let mut ctx = Ctx { tape, training: true, rng: &mut rng, logits: false };
                layer.lock().unwrap().forward(&mut ctx, &v[..1], &v[1..])
            });
        }
    }
}
