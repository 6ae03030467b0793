//! Optimizers, with Keras' update rules and defaults. State (momenta) is kept per parameter
//! slot, in the order the model lists its trainable parameters.

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

fn check(params: &[&mut Param], grads: &[Tensor], state: &mut Vec<Vec<f32>>, slots: usize) -> Result<()> {
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
    if state.is_empty() {
        *state = params.iter().flat_map(|p| std::iter::repeat_n(vec![0.0; p.value.len()], slots)).collect();
    } else if state.len() != params.len() * slots {
        return Err(Error::state("the optimizer was used with a different set of parameters"));
    }
    Ok(())
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
    velocity: Vec<Vec<f32>>,
    iterations: u64,
}

impl Sgd {
    pub fn new(learning_rate: f32, momentum: f32, nesterov: bool) -> Result<Sgd> {
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::argument(format!("momentum must be in [0, 1), got {momentum}")));
        }
        Ok(Sgd { lr: check_lr(learning_rate)?, momentum, nesterov, velocity: Vec::new(), iterations: 0 })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        check(params, grads, &mut self.velocity, 1)?;
        let (lr, mu) = (self.lr, self.momentum);
        for ((p, g), v) in params.iter_mut().zip(grads).zip(&mut self.velocity) {
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
    moments: Vec<Vec<f32>>,
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
        Ok(Adam { lr: check_lr(learning_rate)?, beta1, beta2, epsilon, moments: Vec::new(), iterations: 0 })
    }

    pub fn keras_defaults() -> Adam {
        Adam::new(1e-3, 0.9, 0.999, 1e-7).expect("valid defaults")
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [&mut Param], grads: &[Tensor]) -> Result<()> {
        check(params, grads, &mut self.moments, 2)?;
        let t = (self.iterations + 1) as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        let lr_t = self.lr * (1.0 - (b2 as f64).powi(t)).sqrt() as f32 / (1.0 - (b1 as f64).powi(t)) as f32;
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, rest) = self.moments[2 * i..].split_first_mut().expect("two slots per parameter");
            let v = &mut rest[0];
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
    fn bad_arguments_are_errors() {
        assert!(Adam::new(-1.0, 0.9, 0.999, 1e-7).is_err());
        assert!(Sgd::new(0.1, 1.5, false).is_err());
        let mut p = param(&[1.0]);
        let err = Adam::keras_defaults().step(&mut [&mut p], &[Tensor::zeros(&[2])]).unwrap_err();
        assert!(err.message.contains("'l/w'"));
    }
}
