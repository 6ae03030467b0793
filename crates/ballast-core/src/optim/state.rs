//! What every optimizer keeps and does around its own update rule: its state by parameter
//! name, the step count, the learning rate, weight decay and the moving average of weights.

use std::collections::HashMap;

use crate::error::Error;
use crate::nn::Param;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

use super::options::CommonOptions;
use super::schedule::LearningRate;

/// Per-parameter state: buffers (velocity, or first and second moments) by parameter name,
/// so a layer frozen between fits keeps its moments and gets them back when unfrozen, and no
/// layer is ever handed another's.
#[derive(Clone, Debug, Default)]
pub(crate) struct Slots {
    by_name: HashMap<String, Vec<Vec<f32>>>,
}

impl Slots {
    /// Refuses state whose size no longer matches its parameter (reshaped under the same
    /// name): nothing is changed.
    fn check(&self, params: &[&mut Param]) -> Result<()> {
        for p in params {
            if let Some(buf) = self.by_name.get(&p.name).and_then(|s| s.first()) {
                if buf.len() != p.value.len() {
                    return Err(Error::state(format!(
                        "parameter '{}' has {} values but the optimizer's state for it has {}: recompile to reset it",
                        p.name,
                        p.value.len(),
                        buf.len()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Creates the state of parameters seen for the first time, with `init(p)`.
    fn create(&mut self, params: &[&mut Param], init: impl Fn(&Param) -> Vec<Vec<f32>>) {
        for p in params {
            // Only a parameter seen for the first time costs a copy of its name.
            if !self.by_name.contains_key(&p.name) {
                self.by_name.insert(p.name.clone(), init(p));
            }
        }
    }

    fn get_mut(&mut self, name: &str) -> &mut [Vec<f32>] {
        self.by_name.get_mut(name).expect("created before the update")
    }

    pub(crate) fn get(&self, name: &str) -> Option<&[Vec<f32>]> {
        self.by_name.get(name).map(Vec::as_slice)
    }
}

/// The part of an optimizer that is Keras's base `Optimizer`: options, step count, state by
/// name and the moving averages. Each optimizer holds one and gives [`Base::step`] its rule.
#[derive(Clone, Debug)]
pub(crate) struct Base {
    pub(crate) common: CommonOptions,
    slots: Slots,
    /// With `useEma`: one buffer per parameter, its moving average.
    ema: Slots,
    iterations: u64,
}

impl Base {
    /// Checks `common` (errors start with `class`).
    pub(crate) fn new(class: &str, common: CommonOptions) -> Result<Base> {
        common.check(class)?;
        Ok(Base { common, slots: Slots::default(), ema: Slots::default(), iterations: 0 })
    }

    pub(crate) fn iterations(&self) -> u64 {
        self.iterations
    }

    /// The rate of the next update.
    pub(crate) fn learning_rate(&self) -> f64 {
        self.common.learning_rate.at(self.iterations)
    }

    pub(crate) fn set_learning_rate(&mut self, class: &str, lr: f64) -> Result<()> {
        if let LearningRate::Schedule(s) = &self.common.learning_rate {
            return Err(Error::state(format!(
                "{class}: the learning rate follows a schedule ({}) and cannot be set; give the optimizer a number \
                 as learningRate to change it during training",
                s.class_name()
            )));
        }
        let lr = LearningRate::Constant(lr);
        lr.check().map_err(|e| super::options::prefixed(class, e))?;
        self.common.learning_rate = lr;
        Ok(())
    }

    /// One update, in Keras's order: weight decay `w −= w·wd·η_t` (parameters not excluded),
    /// then `rule(weights, gradient, state, η_t)` for each parameter, then the moving averages
    /// (and their overwriting every `emaOverwriteFrequency` steps), then the step count. `init`
    /// gives a new parameter's state (its number of buffers and their start). Everything is
    /// checked before anything changes.
    pub(crate) fn step(
        &mut self,
        params: &mut [&mut Param],
        grads: &[Tensor],
        init: &[f32],
        mut rule: impl FnMut(&mut [f32], &[f32], &mut [Vec<f32>], f64),
    ) -> Result<()> {
        if params.len() != grads.len() {
            return Err(Error::argument(format!("{} parameters but {} gradients", params.len(), grads.len())));
        }
        for (p, g) in params.iter().zip(grads) {
            if p.value.shape() != g.shape() {
                return Err(Error::shape(format!(
                    "gradient {} does not match parameter '{}' {}",
                    shape_str(g.shape()),
                    p.name,
                    shape_str(p.value.shape())
                )));
            }
        }
        self.slots.check(params)?;
        self.ema.check(params)?;
        self.slots.create(params, |p| init.iter().map(|&v| vec![v; p.value.len()]).collect());
        let use_ema = self.common.use_ema;
        if use_ema {
            // A parameter's average starts at its value; Keras's first step (below) replaces it.
            self.ema.create(params, |p| vec![p.value.data().to_vec()]);
        }

        let lr = self.learning_rate();
        for (p, g) in params.iter_mut().zip(grads) {
            let w = p.value.data_mut();
            if self.common.decays(&p.name) {
                let decay = (self.common.weight_decay.unwrap_or(0.0) as f64 * lr) as f32;
                w.iter_mut().for_each(|w| *w -= *w * decay);
            }
            rule(w, g.data(), self.slots.get_mut(&p.name), lr);
        }

        if use_ema {
            // Keras: the first step sets the average to the weights.
            let m = if self.iterations == 0 { 0.0 } else { self.common.ema_momentum };
            let overwrite =
                self.common.ema_overwrite_frequency.is_some_and(|f| (self.iterations + 1).is_multiple_of(f as u64));
            for p in params.iter_mut() {
                let avg = &mut self.ema.get_mut(&p.name)[0];
                let w = p.value.data_mut();
                avg.iter_mut().zip(w.iter()).for_each(|(a, &w)| *a = m * *a + (1.0 - m) * w);
                if overwrite {
                    w.copy_from_slice(avg);
                }
            }
        }
        self.iterations += 1;
        Ok(())
    }

    pub(crate) fn ema_weights(&self, name: &str) -> Option<&[f32]> {
        self.ema.get(name).map(|s| s[0].as_slice())
    }

    /// With `useEma`, overwrites each parameter that has an average with it.
    pub(crate) fn finalize(&self, params: &mut [&mut Param]) -> Result<()> {
        if !self.common.use_ema {
            return Ok(());
        }
        self.ema.check(params)?;
        for p in params.iter_mut() {
            if let Some(avg) = self.ema_weights(&p.name) {
                p.value.data_mut().copy_from_slice(avg);
            }
        }
        Ok(())
    }
}

/// The methods of [`super::Optimizer`] that every optimizer answers from its [`Base`]
/// (field `base`).
macro_rules! base_methods {
    () => {
        fn learning_rate(&self) -> f64 {
            self.base.learning_rate()
        }
        fn set_learning_rate(&mut self, lr: f64) -> $crate::Result<()> {
            let class = self.class_name();
            self.base.set_learning_rate(class, lr)
        }
        fn iterations(&self) -> u64 {
            self.base.iterations()
        }
        fn ema_weights(&self, name: &str) -> Option<&[f32]> {
            self.base.ema_weights(name)
        }
        fn finalize_variable_values(&mut self, params: &mut [&mut $crate::nn::Param]) -> $crate::Result<()> {
            self.base.finalize(params)
        }
    };
}
pub(crate) use base_methods;
