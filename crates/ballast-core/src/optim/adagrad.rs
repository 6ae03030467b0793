//! Keras `Adagrad` (Duchi et al., 2011).

use crate::nn::config::{layer_config, Json};
use crate::nn::Param;
use crate::{Result, Tensor};

use super::options::{at_least, config_json, CommonOptions};
use super::state::{base_methods, Base};
use super::Optimizer;

layer_config! {
    /// Adagrad's own options (Keras 3 defaults).
    pub struct AdagradOptions {
        /// The accumulator's start, for every value.
        initial_accumulator_value "initialAccumulatorValue": f32 = 0.1,
        epsilon "epsilon": f32 = 1e-7,
    }
}

impl Default for AdagradOptions {
    fn default() -> Self {
        AdagradOptions::from_json(&serde_json::json!({})).expect("every option has a default")
    }
}

/// Adagrad as Keras: `a += g²` (a starting at `initialAccumulatorValue`),
/// `w −= η·g/√(a + ε)`. Default η = 1e-3.
#[derive(Clone, Debug)]
pub struct Adagrad {
    base: Base,
    options: AdagradOptions,
}

impl Adagrad {
    pub const CLASS_NAME: &'static str = "Adagrad";
    pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;

    /// Checks the options: the initial accumulator and ε ≥ 0.
    pub fn with_options(common: CommonOptions, options: AdagradOptions) -> Result<Adagrad> {
        at_least(Self::CLASS_NAME, "initialAccumulatorValue", options.initial_accumulator_value, 0.0)?;
        at_least(Self::CLASS_NAME, "epsilon", options.epsilon, 0.0)?;
        Ok(Adagrad { base: Base::new(Self::CLASS_NAME, common)?, options })
    }

    pub fn options(&self) -> AdagradOptions {
        self.options
    }
    pub fn common(&self) -> &CommonOptions {
        &self.base.common
    }
}

impl Optimizer for Adagrad {
    fn class_name(&self) -> &'static str {
        Self::CLASS_NAME
    }
    fn config(&self) -> Json {
        config_json(&self.base.common, self.options.to_json())
    }
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        let AdagradOptions { initial_accumulator_value: a0, epsilon: eps } = self.options;
        self.base.step(params, grads, &[a0], |w, g, state, lr| {
            let lr = lr as f32;
            for ((w, &g), a) in w.iter_mut().zip(g).zip(state[0].iter_mut()) {
                *a += g * g;
                *w -= lr * g / (*a + eps).sqrt();
            }
        })
    }
    base_methods!();
}
