//! Keras `Lion` (Chen et al., 2023, arXiv:2302.06675).

use crate::nn::config::{layer_config, Json};
use crate::nn::Param;
use crate::{Result, Tensor};

use super::options::{config_json, require, unit, CommonOptions};
use super::state::{base_methods, Base};
use super::Optimizer;

layer_config! {
    /// Lion's own options (Keras 3 defaults).
    pub struct LionOptions {
        beta1 "beta1": f32 = 0.9,
        beta2 "beta2": f32 = 0.99,
    }
}

impl Default for LionOptions {
    fn default() -> Self {
        LionOptions::from_json(&serde_json::json!({})).expect("every option has a default")
    }
}

/// Lion as Keras: `w −= η·sign(β₁m + (1−β₁)g)` (sign 0 at 0), then `m = β₂m + (1−β₂)g`.
/// Every value moves by exactly η, so Lion wants a rate 3–10× smaller than Adam's.
/// Default η = 1e-3.
#[derive(Clone, Debug)]
pub struct Lion {
    base: Base,
    options: LionOptions,
}

impl Lion {
    pub const CLASS_NAME: &'static str = "Lion";
    pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;

    /// Checks the options: β₁ in (0, 1) (Keras refuses 0, which degenerates to signSGD), β₂
    /// in [0, 1).
    pub fn with_options(common: CommonOptions, options: LionOptions) -> Result<Lion> {
        let b1 = options.beta1;
        require(Self::CLASS_NAME, "beta1", b1.is_finite() && b1 > 0.0 && b1 < 1.0, "in (0, 1)", b1)?;
        unit(Self::CLASS_NAME, "beta2", options.beta2)?;
        Ok(Lion { base: Base::new(Self::CLASS_NAME, common)?, options })
    }

    pub fn options(&self) -> LionOptions {
        self.options
    }
    pub fn common(&self) -> &CommonOptions {
        &self.base.common
    }
}

/// −1, 0 or 1 (NaN stays NaN), as Keras's `ops.sign`; `f32::signum` gives 1 for 0.
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

impl Optimizer for Lion {
    fn class_name(&self) -> &'static str {
        Self::CLASS_NAME
    }
    fn config(&self) -> Json {
        config_json(&self.base.common, self.options.to_json())
    }
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        let LionOptions { beta1: b1, beta2: b2 } = self.options;
        self.base.step(params, grads, &[0.0], |w, g, state, lr| {
            let lr = lr as f32;
            for ((w, &g), m) in w.iter_mut().zip(g).zip(state[0].iter_mut()) {
                *w -= lr * sign(*m * b1 + g * (1.0 - b1));
                *m = *m * b2 + g * (1.0 - b2);
            }
        })
    }
    base_methods!();
}
