//! Optimizers, with Keras' update rules and defaults. State (momenta) is kept by parameter
//! name, so a layer frozen between fits keeps its moments and gets them back when unfrozen,
//! and no layer is ever handed another's.

use std::collections::HashMap;

use crate::error::Error;
use crate::nn::Param;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

pub trait Optimizer: Send {
    /// Applies one update: `params[i]` moves along `grads[i]`.
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()>;
    fn learning_rate(&self) -> f32;
    fn set_learning_rate(&mut self, lr: f32);
    /// Updates applied so far.
    fn iterations(&self) -> u64;
}

/// Per-parameter state: `n` buffers (velocity, or first and second moments) per name.
#[derive(Default)]
struct Slots {
    by_name: HashMap<String, Vec<Vec<f32>>>,
}

impl Slots {
    /// Checks every parameter against its gradient and its state before anything changes,
    /// creating zero state for parameters seen for the first time.
    fn prepare(&mut self, params: &[&mut Param], grads: &[Tensor], n: usize) -> Result<()> {
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
            if let Some(state) = self.by_name.get(&p.name) {
                if state[0].len() != p.value.len() {
                    return Err(Error::state(format!(
                        "parameter '{}' has {} values but the optimizer's state for it has {}: recompile to reset it",
                        p.name,
                        p.value.len(),
                        state[0].len()
                    )));
                }
            }
        }
        for p in params {
            // Only a parameter seen for the first time costs a copy of its name.
            if !self.by_name.contains_key(&p.name) {
                self.by_name.insert(p.name.clone(), vec![vec![0.0; p.value.len()]; n]);
            }
        }
        Ok(())
    }

    fn get(&mut self, p: &Param) -> &mut [Vec<f32>] {
        self.by_name.get_mut(&p.name).expect("prepared before the update")
    }
}

fn check_lr(lr: f32) -> Result<f32> {
    if lr.is_finite() && lr > 0.0 {
        Ok(lr)
    } else {
        Err(Error::argument(format!("learning rate must be a positive number, got {lr}")))
    }
}

/// Stochastic gradient descent with optional momentum and Nesterov momentum, as in Keras:
/// `v = μ·v − η·g`; `w += v` (or `w += μ·v − η·g` with Nesterov).
pub struct Sgd {
    lr: f32,
    momentum: f32,
    nesterov: bool,
    velocity: Slots,
    iterations: u64,
}

impl Sgd {
    pub fn new(learning_rate: f32, momentum: f32, nesterov: bool) -> Result<Sgd> {
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::argument(format!("momentum must be in [0, 1), got {momentum}")));
        }
        Ok(Sgd { lr: check_lr(learning_rate)?, momentum, nesterov, velocity: Slots::default(), iterations: 0 })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        self.velocity.prepare(params, grads, 1)?;
        let (lr, mu) = (self.lr, self.momentum);
        for (p, g) in params.iter_mut().zip(grads) {
            let v = &mut self.velocity.get(p)[0];
            for ((w, &g), v) in p.value.data_mut().iter_mut().zip(g.data()).zip(v.iter_mut()) {
                if mu == 0.0 {
                    *w -= lr * g;
                    continue;
                }
                *v = mu * *v - lr * g;
                *w += if self.nesterov { mu * *v - lr * g } else { *v };
            }
        }
        self.iterations += 1;
        Ok(())
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn iterations(&self) -> u64 {
        self.iterations
    }
}

/// Adam (Kingma & Ba, 2015) in Keras' form: the bias corrections are folded into the step
/// size, `η_t = η·√(1−β₂ᵗ)/(1−β₁ᵗ)`, and ε is added to √v (not to the corrected √v̂ as in
/// PyTorch). Keras defaults: η = 1e-3, β₁ = 0.9, β₂ = 0.999, ε = 1e-7.
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    moments: Slots,
    iterations: u64,
}

impl Adam {
    pub fn new(learning_rate: f32, beta1: f32, beta2: f32, epsilon: f32) -> Result<Adam> {
        for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::argument(format!("{name} must be in [0, 1), got {b}")));
            }
        }
        if !(epsilon >= 0.0) {
            return Err(Error::argument(format!("epsilon must be ≥ 0, got {epsilon}")));
        }
        Ok(Adam { lr: check_lr(learning_rate)?, beta1, beta2, epsilon, moments: Slots::default(), iterations: 0 })
    }

    pub fn keras_defaults() -> Adam {
        Adam::new(1e-3, 0.9, 0.999, 1e-7).expect("valid defaults")
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        self.moments.prepare(params, grads, 2)?;
        let t = (self.iterations + 1) as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        let lr_t = self.lr * (1.0 - (b2 as f64).powi(t)).sqrt() as f32 / (1.0 - (b1 as f64).powi(t)) as f32;
        for (p, g) in params.iter_mut().zip(grads) {
            let [m, v] = self.moments.get(p) else { unreachable!("two slots per parameter") };
            for (((w, &g), m), v) in p.value.data_mut().iter_mut().zip(g.data()).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *w -= lr_t * *m / (v.sqrt() + self.epsilon);
            }
        }
        self.iterations += 1;
        Ok(())
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn iterations(&self) -> u64 {
        self.iterations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(v: &[f32]) -> Param {
        Param::new("l", "w", Tensor::new(v.to_vec(), &[v.len()]).unwrap())
    }

    #[test]
    fn sgd_momentum_and_nesterov_follow_keras() {
        let g = [Tensor::new(vec![1.0, -2.0], &[2]).unwrap()];
        let mut p = param(&[0.0, 0.0]);
        let mut sgd = Sgd::new(0.1, 0.9, false).unwrap();
        sgd.step(&mut [&mut p], &g).unwrap();
        sgd.step(&mut [&mut p], &g).unwrap();
        // v1 = −0.1g, w1 = −0.1g; v2 = 0.9·v1 − 0.1g = −0.19g, w2 = −0.29g
        assert!((p.value.data()[0] + 0.29).abs() < 1e-6 && (p.value.data()[1] - 0.58).abs() < 1e-6);
        let mut q = param(&[0.0, 0.0]);
        let mut nag = Sgd::new(0.1, 0.9, true).unwrap();
        nag.step(&mut [&mut q], &g).unwrap();
        // v1 = −0.1g; w1 = 0.9·v1 − 0.1g = −0.19g
        assert!((q.value.data()[0] + 0.19).abs() < 1e-6);
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let mut p = param(&[1.0, 1.0]);
        let mut adam = Adam::keras_defaults();
        adam.step(&mut [&mut p], &[Tensor::new(vec![0.5, -3.0], &[2]).unwrap()]).unwrap();
        assert!((p.value.data()[0] - (1.0 - 1e-3)).abs() < 1e-6, "{:?}", p.value.data());
        assert!((p.value.data()[1] - (1.0 + 1e-3)).abs() < 1e-6);
        assert_eq!(adam.iterations(), 1);
    }

    #[test]
    fn state_follows_the_parameter_name_not_its_position() {
        let t = |v: f32| Tensor::new(vec![v], &[1]).unwrap();
        let (mut a, mut b) = (Param::new("a", "w", t(0.0)), Param::new("b", "w", t(0.0)));
        let mut sgd = Sgd::new(0.1, 0.5, false).unwrap();
        sgd.step(&mut [&mut a, &mut b], &[t(1.0), t(-1.0)]).unwrap(); // v_a = −0.1, v_b = 0.1
        sgd.step(&mut [&mut b], &[t(-1.0)]).unwrap(); // a frozen: v_b = 0.15
        sgd.step(&mut [&mut a], &[t(0.0)]).unwrap(); // b frozen: v_a = 0.5·(−0.1)
        assert!((a.value.data()[0] + 0.15).abs() < 1e-6, "a = {}", a.value.data()[0]);
        assert!((b.value.data()[0] - 0.25).abs() < 1e-6, "b = {}", b.value.data()[0]);
        let mut wrong = Param::new("a", "w", Tensor::zeros(&[2]));
        let err = sgd.step(&mut [&mut wrong], &[Tensor::zeros(&[2])]).unwrap_err();
        assert!(err.message.contains("parameter 'a/w' has 2 values"), "{}", err.message);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(Adam::new(-1.0, 0.9, 0.999, 1e-7).is_err());
        assert!(Sgd::new(0.1, 1.5, false).is_err());
        let mut p = param(&[1.0]);
        let err = Adam::keras_defaults().step(&mut [&mut p], &[Tensor::zeros(&[2])]).unwrap_err();
        assert!(err.message.contains("'l/w'"));
    }
}
