//! Optimizers and learning-rate schedules, with Keras 3's update rules, options and defaults.
//!
//! Each optimizer's options are declared once, here, with their camelCase JSON keys, types
//! and Keras defaults: its own (e.g. [`AdamOptions`], declared with
//! `layer_config!` (`crate::nn::config`) like the layers') and the ones every optimizer has
//! ([`CommonOptions`]: `learningRate`, `weightDecay`, `excludeFromWeightDecay`, `useEma`,
//! `emaMomentum`, `emaOverwriteFrequency`). [`create`] makes one from its Keras class name and
//! a config object; [`Optimizer::config`] gives the resolved config back, so
//! `create(o.class_name(), &o.config())` rebuilds it (without its state).
//!
//! | class | own options (defaults) | default `learningRate` |
//! | --- | --- | --- |
//! | `SGD` | `momentum` 0, `nesterov` false | 0.01 |
//! | `Adam` | `beta1` 0.9, `beta2` 0.999, `epsilon` 1e-7, `amsgrad` false | 0.001 |
//! | `AdamW` | as Adam; `weightDecay` 0.004 (required) | 0.001 |
//! | `RMSprop` | `rho` 0.9, `momentum` 0, `epsilon` 1e-7, `centered` false | 0.001 |
//! | `Adagrad` | `initialAccumulatorValue` 0.1, `epsilon` 1e-7 | 0.001 |
//! | `Nadam` | `beta1` 0.9, `beta2` 0.999, `epsilon` 1e-7 | 0.001 |
//! | `Lion` | `beta1` 0.9, `beta2` 0.99 | 0.001 |
//!
//! `learningRate` is a number or a [`Schedule`] in Keras's serialized form,
//! `{ "className": "CosineDecay", "config": { ... } }`. Gradient clipping is not an optimizer
//! option here: the model clips ([`crate::health::Clipping`]) before calling
//! [`Optimizer::step`].
//!
//! State (moments, accumulators, moving averages) is kept by parameter name, so a layer
//! frozen between fits keeps its state and gets it back when unfrozen, and no layer is ever
//! handed another's.

mod adagrad;
mod adam;
mod lion;
mod nadam;
mod options;
pub mod registry;
mod rmsprop;
pub mod schedule;
mod sgd;
mod state;
#[cfg(test)]
mod tests;

pub use adagrad::{Adagrad, AdagradOptions};
pub use adam::{Adam, AdamOptions};
pub use lion::{Lion, LionOptions};
pub use nadam::{Nadam, NadamOptions};
pub use options::CommonOptions;
pub use registry::create;
pub use rmsprop::{RmsProp, RmsPropOptions};
pub use schedule::{LearningRate, Schedule};
pub use sgd::{Sgd, SgdOptions};

use crate::nn::config::Json;
use crate::nn::Param;
use crate::{Result, Tensor};

/// An optimizer: its options and its state, keyed by parameter name.
pub trait Optimizer: Send {
    /// The Keras class name: `SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`, `Nadam`, `Lion`.
    fn class_name(&self) -> &'static str;

    /// Every option, resolved, as a camelCase JSON object (`learningRate` a number or a
    /// schedule object): for saving, and for the TypeScript side to read back. [`create`]
    /// takes it back.
    fn config(&self) -> Json;

    /// Applies one update: `params[i]` moves along `grads[i]`, at the rate of the schedule
    /// (if any) at [`Optimizer::iterations`]. Weight decay comes first when set, the moving
    /// averages after; the step count goes up by one. All or nothing: when any parameter
    /// does not fit its gradient or its state, nothing changes.
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()>;

    /// The rate of the next update (the schedule's value at [`Optimizer::iterations`]), for
    /// logs.
    fn learning_rate(&self) -> f64;

    /// Replaces the learning rate by a constant (what Keras's `ReduceLROnPlateau` does).
    /// Like Keras, refuses (a state error) when the rate is a schedule; refuses a negative or
    /// non-finite rate.
    fn set_learning_rate(&mut self, lr: f64) -> Result<()>;

    /// Updates applied so far.
    fn iterations(&self) -> u64;

    /// With `useEma`, the moving average of the parameter `name` (flat, in its layout), once
    /// it has been updated; `None` otherwise.
    fn ema_weights(&self, name: &str) -> Option<&[f32]>;

    /// Keras's `finalize_variable_values`: with `useEma`, overwrites each parameter that has
    /// a moving average with it, which Keras does at the end of `fit`; otherwise does
    /// nothing. A parameter whose size no longer matches its average is a state error, and
    /// then nothing changes.
    fn finalize_variable_values(&mut self, params: &mut [&mut Param]) -> Result<()>;
}
