//! Keras `RMSprop` (Hinton, 2012), optionally centered (Graves, 2013) and with momentum.

use crate::nn::config::{layer_config, Json};
use crate::nn::Param;
use crate::{Result, Tensor};

use super::options::{at_least, config_json, unit, CommonOptions};
use super::state::{base_methods, Base};
use super::Optimizer;

layer_config! {
    /// RMSprop's own options (Keras 3 defaults).
    pub struct RmsPropOptions {
        rho "rho": f32 = 0.9,
        momentum "momentum": f32 = 0.0,
        epsilon "epsilon": f32 = 1e-7,
        /// Divide by an estimate of the gradient's variance instead of its second moment.
        centered "centered": bool = false,
    }
}

impl Default for RmsPropOptions {
    fn default() -> Self {
        RmsPropOptions::from_json(&serde_json::json!({})).expect("every option has a default")
    }
}

/// RMSprop as Keras: `v = ρv + (1−ρ)g²`; centered, also `a = ρa + (1−ρ)g` and the
/// denominator is `√(v − a² + ε)`, else `√(v + ε)` (ε inside the root, unlike Adam);
/// `Δ = η·g/denominator`; with momentum μ, `s = μs + Δ; w −= s`, else `w −= Δ`.
/// Default η = 1e-3.
#[derive(Clone, Debug)]
pub struct RmsProp {
    base: Base,
    options: RmsPropOptions,
}

impl RmsProp {
    pub const CLASS_NAME: &'static str = "RMSprop";
    pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;

    /// Checks the options: ρ and momentum in [0, 1), ε ≥ 0.
    pub fn with_options(common: CommonOptions, options: RmsPropOptions) -> Result<RmsProp> {
        unit(Self::CLASS_NAME, "rho", options.rho)?;
        unit(Self::CLASS_NAME, "momentum", options.momentum)?;
        at_least(Self::CLASS_NAME, "epsilon", options.epsilon, 0.0)?;
        Ok(RmsProp { base: Base::new(Self::CLASS_NAME, common)?, options })
    }

    pub fn options(&self) -> RmsPropOptions {
        self.options
    }
    pub fn common(&self) -> &CommonOptions {
        &self.base.common
    }
}

impl Optimizer for RmsProp {
    fn class_name(&self) -> &'static str {
        Self::CLASS_NAME
    }
    fn config(&self) -> Json {
        config_json(&self.base.common, self.options.to_json())
    }
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        let RmsPropOptions { rho, momentum: mu, epsilon: eps, centered } = self.options;
        let with_momentum = mu > 0.0;
        // Slots: velocity, then the momentum and the average gradient when used.
        let init = [0.0; 3];
        let n = 1 + with_momentum as usize + centered as usize;
        self.base.step(params, grads, &init[..n], |w, g, state, lr| {
            let lr = lr as f32;
            let (v, rest) = state.split_first_mut().expect("a velocity");
            let (mut s, mut a) = (None, None);
            for buf in rest.iter_mut() {
                if with_momentum && s.is_none() {
                    s = Some(buf);
                } else {
                    a = Some(buf);
                }
            }
            for (i, (w, &g)) in w.iter_mut().zip(g).enumerate() {
                v[i] = rho * v[i] + (1.0 - rho) * g * g;
                let denominator = match a.as_deref_mut() {
                    Some(a) => {
                        a[i] = rho * a[i] + (1.0 - rho) * g;
                        v[i] - a[i] * a[i] + eps
                    }
                    None => v[i] + eps,
                };
                let increment = lr * g / denominator.sqrt();
                match s.as_deref_mut() {
                    Some(s) => {
                        s[i] = mu * s[i] + increment;
                        *w -= s[i];
                    }
                    None => *w -= increment,
                }
            }
        })
    }
    base_methods!();
}
