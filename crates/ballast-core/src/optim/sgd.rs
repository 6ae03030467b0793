//! Keras `SGD`: stochastic gradient descent with optional (Nesterov) momentum.

use crate::nn::config::{layer_config, Json};
use crate::nn::Param;
use crate::{Result, Tensor};

use super::options::{config_json, unit, widen, CommonOptions};
use super::state::{base_methods, Base};
use super::Optimizer;

layer_config! {
    /// SGD's own options (Keras 3 defaults).
    pub struct SgdOptions {
        momentum "momentum": f32 = 0.0,
        nesterov "nesterov": bool = false,
    }
}

impl Default for SgdOptions {
    fn default() -> Self {
        SgdOptions::from_json(&serde_json::json!({})).expect("every option has a default")
    }
}

/// Stochastic gradient descent, as Keras: without momentum `w −= η·g`; with momentum μ,
/// `v = μ·v − η·g` then `w += v`, or with Nesterov `w += μ·v − η·g`. Default η = 0.01.
#[derive(Clone, Debug)]
pub struct Sgd {
    base: Base,
    options: SgdOptions,
}

impl Sgd {
    pub const CLASS_NAME: &'static str = "SGD";
    pub const DEFAULT_LEARNING_RATE: f64 = 0.01;

    /// SGD with a constant learning rate and Keras's other defaults.
    pub fn new(learning_rate: f32, momentum: f32, nesterov: bool) -> Result<Sgd> {
        Sgd::with_options(CommonOptions::new(widen(learning_rate)), SgdOptions { momentum, nesterov })
    }

    /// Checks the options: momentum in [0, 1).
    pub fn with_options(common: CommonOptions, options: SgdOptions) -> Result<Sgd> {
        unit(Self::CLASS_NAME, "momentum", options.momentum)?;
        Ok(Sgd { base: Base::new(Self::CLASS_NAME, common)?, options })
    }

    pub fn options(&self) -> SgdOptions {
        self.options
    }
    pub fn common(&self) -> &CommonOptions {
        &self.base.common
    }
}

impl Optimizer for Sgd {
    fn class_name(&self) -> &'static str {
        Self::CLASS_NAME
    }
    fn config(&self) -> Json {
        config_json(&self.base.common, self.options.to_json())
    }
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        let SgdOptions { momentum: mu, nesterov } = self.options;
        // Keras keeps no velocity without momentum.
        let init: &[f32] = if mu == 0.0 { &[] } else { &[0.0] };
        self.base.step(params, grads, init, |w, g, state, lr| {
            let lr = lr as f32;
            if mu == 0.0 {
                w.iter_mut().zip(g).for_each(|(w, &g)| *w -= g * lr);
                return;
            }
            for ((w, &g), v) in w.iter_mut().zip(g).zip(state[0].iter_mut()) {
                *v = *v * mu - g * lr;
                *w += if nesterov { *v * mu - g * lr } else { *v };
            }
        })
    }
    base_methods!();
}
