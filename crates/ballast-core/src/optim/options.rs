//! The options every optimizer has (Keras's base `Optimizer`), the option types the layer
//! configs do not need (f64, lists, strings), and the range checks that name the optimizer.

use crate::error::Error;
use crate::nn::config::{as_object, check_keys, option, ConfigValue, Json, Map};
use crate::Result;

use super::schedule::LearningRate;

/// The options of Keras's base `Optimizer`, which every optimizer takes besides its own.
///
/// JSON keys: `learningRate`, `weightDecay`, `excludeFromWeightDecay`, `useEma`,
/// `emaMomentum`, `emaOverwriteFrequency`. Gradient clipping (`clipnorm`, `clipvalue`,
/// `global_clipnorm` in Keras) is not here: the model applies it
/// ([`crate::health::Clipping`]) before the optimizer sees the gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct CommonOptions {
    /// `learningRate`: a number, or a schedule of the step (`{ className, config }`).
    pub learning_rate: LearningRate,
    /// `weightDecay`: when set, every step first moves each parameter by `w −= w·wd·η_t`
    /// (η_t the step's learning rate), as Keras does for every optimizer (AdamW is Adam with
    /// this set by default). `None` (JSON `null`, the default except for AdamW): no decay.
    pub weight_decay: Option<f32>,
    /// `excludeFromWeightDecay`: parameters whose name (`layer/weight`) contains any of these
    /// substrings are not decayed — Keras's `exclude_from_weight_decay(var_names=...)`, with
    /// substrings where Keras takes regular expressions. E.g. `["bias", "gamma", "beta"]`.
    pub exclude_from_weight_decay: Vec<String>,
    /// `useEma`: keep an exponential moving average of every parameter, updated after each
    /// step (see [`super::Optimizer::ema_weights`] and
    /// [`super::Optimizer::finalize_variable_values`]).
    pub use_ema: bool,
    /// `emaMomentum` (0.99): `avg = μ·avg + (1 − μ)·w` after every step but the first, which
    /// sets `avg = w`.
    pub ema_momentum: f32,
    /// `emaOverwriteFrequency`: with `useEma`, every this many steps the parameters are
    /// overwritten by their averages. `None` (default): only when finalized.
    pub ema_overwrite_frequency: Option<usize>,
}

impl CommonOptions {
    /// The JSON keys, in the order a config lists them (`learningRate` first, then the
    /// optimizer's own options, then the others).
    pub const KEYS: &'static [&'static str] =
        &["learningRate", "weightDecay", "excludeFromWeightDecay", "useEma", "emaMomentum", "emaOverwriteFrequency"];

    /// Keras's defaults around a learning rate: no weight decay, no EMA.
    pub fn new(learning_rate: impl Into<LearningRate>) -> CommonOptions {
        CommonOptions {
            learning_rate: learning_rate.into(),
            weight_decay: None,
            exclude_from_weight_decay: Vec::new(),
            use_ema: false,
            ema_momentum: 0.99,
            ema_overwrite_frequency: None,
        }
    }

    /// Reads the common keys of `obj` (other keys are left to the caller), with the
    /// optimizer's defaults for the learning rate and weight decay.
    pub(crate) fn read(obj: &Map<String, Json>, learning_rate: f64, weight_decay: Option<f32>) -> Result<Self> {
        let d = CommonOptions::new(learning_rate);
        Ok(CommonOptions {
            learning_rate: match obj.get("learningRate") {
                None => d.learning_rate,
                Some(v) => LearningRate::from_json(v)
                    .map_err(|e| Error { kind: e.kind, message: format!("option 'learningRate': {}", e.message) })?,
            },
            weight_decay: option(obj, "weightDecay", Some(weight_decay))?,
            exclude_from_weight_decay: option(obj, "excludeFromWeightDecay", Some(d.exclude_from_weight_decay))?,
            use_ema: option(obj, "useEma", Some(d.use_ema))?,
            ema_momentum: option(obj, "emaMomentum", Some(d.ema_momentum))?,
            ema_overwrite_frequency: option(obj, "emaOverwriteFrequency", Some(d.ema_overwrite_frequency))?,
        })
    }

    /// Refuses impossible values; errors start with `class` (the optimizer).
    pub(crate) fn check(&self, class: &str) -> Result<()> {
        self.learning_rate.check().map_err(|e| prefixed(class, e))?;
        if let Some(wd) = self.weight_decay {
            at_least(class, "weightDecay", wd, 0.0)?;
        }
        let m = self.ema_momentum;
        require(class, "emaMomentum", m.is_finite() && (0.0..=1.0).contains(&m), "in [0, 1]", m)?;
        if self.ema_overwrite_frequency == Some(0) {
            return Err(Error::argument(format!(
                "{class}: option 'emaOverwriteFrequency' must be at least 1 or null, got 0"
            )));
        }
        Ok(())
    }

    /// Whether weight decay applies to the parameter `name`.
    pub(crate) fn decays(&self, name: &str) -> bool {
        self.weight_decay.is_some() && !self.exclude_from_weight_decay.iter().any(|s| name.contains(s.as_str()))
    }
}

/// An optimizer's config object split into its common options and (as JSON) its own ones,
/// `own_keys`; unknown keys are refused, listing every option. Errors are not prefixed.
pub(crate) fn split(
    config: &Json,
    own_keys: &[&str],
    learning_rate: f64,
    weight_decay: Option<f32>,
) -> Result<(CommonOptions, Json)> {
    let obj = as_object(config)?;
    if let Some(k) = obj
        .keys()
        .find(|k| matches!(k.as_str(), "clipnorm" | "clipvalue" | "globalClipnorm" | "clipNorm" | "clipValue"))
    {
        return Err(Error::argument(format!(
            "option '{k}' is not an optimizer option here: gradient clipping is set on the model (clipNorm, clipValue)"
        )));
    }
    let mut known = vec![CommonOptions::KEYS[0]];
    known.extend_from_slice(own_keys);
    known.extend_from_slice(&CommonOptions::KEYS[1..]);
    check_keys(obj, &known)?;
    let common = CommonOptions::read(obj, learning_rate, weight_decay)?;
    let own: Map<String, Json> =
        obj.iter().filter(|(k, _)| own_keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok((common, Json::Object(own)))
}

/// An optimizer's full config: `learningRate`, then its own options (`own`, an object), then
/// the other common options.
pub(crate) fn config_json(common: &CommonOptions, own: Json) -> Json {
    let mut m = Map::new();
    m.insert("learningRate".into(), common.learning_rate.to_json());
    if let Json::Object(own) = own {
        m.extend(own);
    }
    m.insert("weightDecay".into(), common.weight_decay.write());
    m.insert("excludeFromWeightDecay".into(), common.exclude_from_weight_decay.write());
    m.insert("useEma".into(), common.use_ema.write());
    m.insert("emaMomentum".into(), common.ema_momentum.write());
    m.insert("emaOverwriteFrequency".into(), common.ema_overwrite_frequency.write());
    Json::Object(m)
}

pub(crate) fn prefixed(class: &str, e: Error) -> Error {
    Error { kind: e.kind, message: format!("{class}: {}", e.message) }
}

/// `Err` "class: option 'key' must be {want}, got {got}" unless `ok`.
pub(crate) fn require(class: &str, key: &str, ok: bool, want: &str, got: impl std::fmt::Display) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::argument(format!("{class}: option '{key}' must be {want}, got {got}")))
    }
}

/// A finite number in `[0, 1)` (β, ρ, momentum).
pub(crate) fn unit(class: &str, key: &str, v: f32) -> Result<()> {
    require(class, key, v.is_finite() && (0.0..1.0).contains(&v), "in [0, 1)", v)
}

/// A finite number ≥ `min` (ε, weight decay, accumulator).
pub(crate) fn at_least(class: &str, key: &str, v: f32, min: f32) -> Result<()> {
    require(class, key, v.is_finite() && v >= min, &format!("a number ≥ {min}"), v)
}

/// An f32 option as the f64 of its shortest decimal, so `0.01f32` becomes `0.01` (not
/// `0.009999999776`), as [`ConfigValue`] writes it.
pub(crate) fn widen(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}
