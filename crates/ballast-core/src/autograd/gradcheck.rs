//! Finite-difference gradient checks for tests.
//!
//! For `out = f(inputs)` and a fixed random weighting `w`, the scalar `L = Σ out·w` is
//! differentiated both ways: by the tape, and by central differences
//! `(L(x+ε) − L(x−ε)) / 2ε` per input element. The core is f32, so ε and the tolerance are
//! chosen per op by the caller and stated in each test.

use super::{Tape, Var};
use crate::rng::Rng;
use crate::{Result, Tensor};

pub struct Check {
    pub eps: f32,
    /// Allowed |analytic − numeric| is `atol + rtol·|numeric|`.
    pub atol: f32,
    pub rtol: f32,
    /// Largest number of elements probed per input (spread over the whole tensor).
    pub max_probes: usize,
}

impl Default for Check {
    fn default() -> Self {
        Check { eps: 1e-2, atol: 2e-3, rtol: 2e-2, max_probes: 60 }
    }
}

fn weighted_sum(out: &Tensor, w: &Tensor) -> f64 {
    out.data().iter().zip(w.data()).map(|(&a, &b)| a as f64 * b as f64).sum()
}

impl Check {
    /// Panics with the worst mismatch when a gradient disagrees with finite differences.
    pub fn run<F>(&self, name: &str, inputs: &[Tensor], f: F)
    where
        F: Fn(&mut Tape, &[Var]) -> Result<Var>,
    {
        let eval = |values: &[Tensor]| -> Tensor {
            let mut tape = Tape::new();
            let vars: Vec<Var> = values.iter().map(|t| tape.leaf(t.clone(), false)).collect();
            let out = f(&mut tape, &vars).unwrap();
            tape.value(out).clone()
        };
        let mut tape = Tape::new();
        let vars: Vec<Var> = inputs.iter().map(|t| tape.leaf(t.clone(), true)).collect();
        let out = f(&mut tape, &vars).unwrap_or_else(|e| panic!("{name}: forward failed: {e}"));
        let mut rng = Rng::new(1234);
        let shape = tape.value(out).shape().to_vec();
        let n: usize = shape.iter().product();
        let w = Tensor::new((0..n).map(|_| rng.uniform(-1.0, 1.0)).collect(), &shape).unwrap();
        tape.backward_with(out, w.clone()).unwrap();

        for (i, input) in inputs.iter().enumerate() {
            let analytic = tape.grad(vars[i]).cloned().unwrap_or_else(|| Tensor::zeros(input.shape()));
            let step = (input.len() / self.max_probes).max(1);
            for j in (0..input.len()).step_by(step) {
                let mut values = inputs.to_vec();
                values[i].data_mut()[j] = input.data()[j] + self.eps;
                let plus = weighted_sum(&eval(&values), &w);
                values[i].data_mut()[j] = input.data()[j] - self.eps;
                let minus = weighted_sum(&eval(&values), &w);
                let numeric = ((plus - minus) / (2.0 * self.eps as f64)) as f32;
                let a = analytic.data()[j];
                assert!(
                    (a - numeric).abs() <= self.atol + self.rtol * numeric.abs(),
                    "{name}: d/d input{i}[{j}]: analytic {a}, finite difference {numeric}"
                );
            }
        }
    }
}

/// A tensor of uniform values in [low, high), from a seed.
pub fn uniform(shape: &[usize], seed: u64, low: f32, high: f32) -> Tensor {
    let mut r = Rng::new(seed);
    Tensor::new((0..shape.iter().product()).map(|_| r.uniform(low, high)).collect(), shape).unwrap()
}

/// A tensor of normal values with the given scale and shift, from a seed.
pub fn normal(shape: &[usize], seed: u64, scale: f32, shift: f32) -> Tensor {
    let mut r = Rng::new(seed);
    Tensor::new((0..shape.iter().product()).map(|_| r.normal() * scale + shift).collect(), shape).unwrap()
}
