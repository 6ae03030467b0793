//! Keras `Nadam`: Adam with Nesterov momentum (Dozat, 2016).

use crate::nn::config::{layer_config, Json};
use crate::nn::Param;
use crate::{Result, Tensor};

use super::options::{at_least, config_json, unit, CommonOptions};
use super::state::{base_methods, Base};
use super::Optimizer;

layer_config! {
    /// Nadam's own options (Keras 3 defaults).
    pub struct NadamOptions {
        beta1 "beta1": f32 = 0.9,
        beta2 "beta2": f32 = 0.999,
        epsilon "epsilon": f32 = 1e-7,
    }
}

impl Default for NadamOptions {
    fn default() -> Self {
        NadamOptions::from_json(&serde_json::json!({})).expect("every option has a default")
    }
}

/// Nadam with Keras 3's momentum schedule: at step t (1-based) the momentum is
/// `u_t = β₁(1 − ½·0.96ᵗ)`, and the optimizer keeps the product `Π_t = u_1⋯u_t`. Moments
/// as Adam's; then `m̂ = u_{t+1}·m/(1 − Π_t·u_{t+1}) + (1 − u_t)·g/(1 − Π_t)`,
/// `v̂ = v/(1 − β₂ᵗ)`, `w −= η·m̂/(√v̂ + ε)`. Default η = 1e-3.
#[derive(Clone, Debug)]
pub struct Nadam {
    base: Base,
    options: NadamOptions,
    /// `Π_t` after the last update (1 before the first).
    u_product: f64,
}

impl Nadam {
    pub const CLASS_NAME: &'static str = "Nadam";
    pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;

    /// Checks the options: β₁ and β₂ in [0, 1), ε ≥ 0.
    pub fn with_options(common: CommonOptions, options: NadamOptions) -> Result<Nadam> {
        unit(Self::CLASS_NAME, "beta1", options.beta1)?;
        unit(Self::CLASS_NAME, "beta2", options.beta2)?;
        at_least(Self::CLASS_NAME, "epsilon", options.epsilon, 0.0)?;
        Ok(Nadam { base: Base::new(Self::CLASS_NAME, common)?, options, u_product: 1.0 })
    }

    pub fn options(&self) -> NadamOptions {
        self.options
    }
    pub fn common(&self) -> &CommonOptions {
        &self.base.common
    }
}

impl Optimizer for Nadam {
    fn class_name(&self) -> &'static str {
        Self::CLASS_NAME
    }
    fn config(&self) -> Json {
        config_json(&self.base.common, self.options.to_json())
    }
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        let NadamOptions { beta1, beta2, epsilon: eps } = self.options;
        let t = self.base.iterations() + 1;
        let (b1, b2) = (beta1 as f64, beta2 as f64);
        let u = |t: u64| b1 * (1.0 - 0.5 * 0.96f64.powf(t as f64));
        let (u_t, u_next) = (u(t), u(t + 1));
        // Kept only once the update is made.
        let product = self.u_product * u_t;
        let c_m = (u_next / (1.0 - product * u_next)) as f32;
        let c_g = ((1.0 - u_t) / (1.0 - product)) as f32;
        let c_v = (1.0 / (1.0 - b2.powf(t as f64))) as f32;
        self.base.step(params, grads, &[0.0, 0.0], |w, g, state, lr| {
            let lr = lr as f32;
            let [m, v] = state else { unreachable!("two slots per parameter") };
            for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m += (g - *m) * (1.0 - beta1);
                *v += (g * g - *v) * (1.0 - beta2);
                let m_hat = c_m * *m + c_g * g;
                *w -= m_hat * lr / ((*v * c_v).sqrt() + eps);
            }
        })?;
        self.u_product = product;
        Ok(())
    }
    base_methods!();
}
