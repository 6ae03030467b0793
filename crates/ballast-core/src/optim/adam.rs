//! Keras `Adam` (with AMSGrad) and `AdamW`.

use crate::error::Error;
use crate::nn::config::{layer_config, Json};
use crate::nn::Param;
use crate::{Result, Tensor};

use super::options::{at_least, config_json, unit, widen, CommonOptions};
use super::state::{base_methods, Base};
use super::Optimizer;

layer_config! {
    /// Adam's and AdamW's own options (Keras 3 defaults).
    pub struct AdamOptions {
        beta1 "beta1": f32 = 0.9,
        beta2 "beta2": f32 = 0.999,
        epsilon "epsilon": f32 = 1e-7,
        /// AMSGrad (Reddi et al., 2018): divide by the largest second moment seen so far.
        amsgrad "amsgrad": bool = false,
    }
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions::from_json(&serde_json::json!({})).expect("every option has a default")
    }
}

impl AdamOptions {
    /// β₁ and β₂ in [0, 1), ε ≥ 0; errors start with `class`.
    pub(crate) fn check(&self, class: &str) -> Result<()> {
        unit(class, "beta1", self.beta1)?;
        unit(class, "beta2", self.beta2)?;
        at_least(class, "epsilon", self.epsilon, 0.0)
    }
}

/// Adam (Kingma & Ba, 2015) in Keras' form: `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`, the
/// bias corrections folded into the step size `α_t = η·√(1−β₂ᵗ)/(1−β₁ᵗ)`, and ε added to √v
/// (not to the corrected √v̂ as in PyTorch): `w −= α_t·m/(√v + ε)`. With AMSGrad, v is
/// replaced by its running maximum. Keras defaults: η = 1e-3, β₁ = 0.9, β₂ = 0.999,
/// ε = 1e-7.
///
/// Also Keras's `AdamW` ([`Adam::adamw`]): the same rule, with decoupled weight decay
/// (`weightDecay`, default 0.004) that it requires.
#[derive(Clone, Debug)]
pub struct Adam {
    base: Base,
    options: AdamOptions,
    class_name: &'static str,
}

impl Adam {
    pub const CLASS_NAME: &'static str = "Adam";
    pub const ADAMW_CLASS_NAME: &'static str = "AdamW";
    pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;
    /// AdamW's default `weightDecay`.
    pub const ADAMW_WEIGHT_DECAY: f32 = 0.004;

    /// Adam with a constant learning rate, no AMSGrad and no weight decay.
    pub fn new(learning_rate: f32, beta1: f32, beta2: f32, epsilon: f32) -> Result<Adam> {
        let options = AdamOptions { beta1, beta2, epsilon, amsgrad: false };
        Adam::with_options(CommonOptions::new(widen(learning_rate)), options)
    }

    /// Adam with every Keras default.
    pub fn keras_defaults() -> Adam {
        Adam::with_options(CommonOptions::new(Self::DEFAULT_LEARNING_RATE), AdamOptions::default())
            .expect("valid defaults")
    }

    pub fn with_options(common: CommonOptions, options: AdamOptions) -> Result<Adam> {
        Adam::make(Self::CLASS_NAME, common, options)
    }

    /// Keras's `AdamW`: `common.weight_decay` must be set (its Keras default is
    /// [`Adam::ADAMW_WEIGHT_DECAY`]).
    pub fn adamw(common: CommonOptions, options: AdamOptions) -> Result<Adam> {
        if common.weight_decay.is_none() {
            return Err(Error::argument(
                "AdamW: option 'weightDecay' must be a number (AdamW is Adam with weight decay; use Adam for none)",
            ));
        }
        Adam::make(Self::ADAMW_CLASS_NAME, common, options)
    }

    fn make(class_name: &'static str, common: CommonOptions, options: AdamOptions) -> Result<Adam> {
        options.check(class_name)?;
        Ok(Adam { base: Base::new(class_name, common)?, options, class_name })
    }

    pub fn options(&self) -> AdamOptions {
        self.options
    }
    pub fn common(&self) -> &CommonOptions {
        &self.base.common
    }
}

impl Optimizer for Adam {
    fn class_name(&self) -> &'static str {
        self.class_name
    }
    fn config(&self) -> Json {
        config_json(&self.base.common, self.options.to_json())
    }
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        let AdamOptions { beta1: b1, beta2: b2, epsilon: eps, amsgrad } = self.options;
        let t = (self.base.iterations() + 1) as i32;
        let init: &[f32] = if amsgrad { &[0.0; 3] } else { &[0.0; 2] };
        self.base.step(params, grads, init, |w, g, state, lr| {
            let alpha = (lr * (1.0 - (b2 as f64).powi(t)).sqrt() / (1.0 - (b1 as f64).powi(t))) as f32;
            let moments = |m: &mut f32, v: &mut f32, g: f32| {
                *m += (g - *m) * (1.0 - b1);
                *v += (g * g - *v) * (1.0 - b2);
            };
            match state {
                [m, v] => {
                    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                        moments(m, v, g);
                        *w -= *m * alpha / (v.sqrt() + eps);
                    }
                }
                [m, v, hat] => {
                    let slots = m.iter_mut().zip(v.iter_mut()).zip(hat.iter_mut());
                    for ((w, &g), ((m, v), hat)) in w.iter_mut().zip(g).zip(slots) {
                        moments(m, v, g);
                        *hat = hat.max(*v);
                        *w -= *m * alpha / (hat.sqrt() + eps);
                    }
                }
                _ => unreachable!("two slots, three with AMSGrad"),
            }
        })
    }
    base_methods!();
}
