//! Gradient health: per-layer norms of gradients, weights and updates for every training
//! step (cheap enough to leave on), gradient clipping, and locating where a NaN or Inf first
//! appeared so training stops with an error that names it.

use crate::error::{Error, Result};
use crate::Tensor;

/// Norms for one layer's trainable parameters in the last training step.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerHealth {
    pub name: String,
    /// ‖∂L/∂θ‖₂ over all the layer's parameters, before clipping.
    pub grad_norm: f32,
    /// ‖θ‖₂ after the update.
    pub weight_norm: f32,
    /// ‖Δθ‖₂ of the update.
    pub update_norm: f32,
}

/// Gradient clipping applied before the optimizer (Pascanu et al., 2013, arXiv:1211.5063).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Clipping {
    /// Rescale all gradients together when their global L2 norm exceeds this.
    pub global_norm: Option<f32>,
    /// Clamp every gradient value into [−v, v].
    pub value: Option<f32>,
}

impl Clipping {
    pub fn new(global_norm: Option<f32>, value: Option<f32>) -> Result<Clipping> {
        for (what, v) in [("clipNorm", global_norm), ("clipValue", value)] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::argument(format!("{what} must be a positive number, got {v}")));
                }
            }
        }
        Ok(Clipping { global_norm, value })
    }

    /// Clips in place; value clipping first, then the global norm.
    pub fn apply(&self, grads: &mut [Tensor]) {
        if let Some(v) = self.value {
            grads.iter_mut().for_each(|g| g.data_mut().iter_mut().for_each(|x| *x = x.clamp(-v, v)));
        }
        if let Some(max) = self.global_norm {
            let norm = grads.iter().map(|g| sum_squares(g.data())).sum::<f64>().sqrt() as f32;
            if norm > max {
                let s = max / norm;
                grads.iter_mut().for_each(|g| g.data_mut().iter_mut().for_each(|x| *x *= s));
            }
        }
    }
}

pub fn sum_squares(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64) * (x as f64)).sum()
}

pub fn norm(v: &[f32]) -> f32 {
    sum_squares(v).sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_by_value_and_global_norm() {
        let mut g = vec![Tensor::new(vec![3.0, -4.0], &[2]).unwrap(), Tensor::new(vec![12.0], &[1]).unwrap()];
        Clipping::new(Some(6.5), None).unwrap().apply(&mut g);
        // Global norm 13 → scaled by 0.5.
        assert_eq!(g[0].data(), &[1.5, -2.0]);
        assert_eq!(g[1].data(), &[6.0]);
        Clipping::new(None, Some(1.0)).unwrap().apply(&mut g);
        assert_eq!(g[0].data(), &[1.0, -1.0]);
        assert!(Clipping::new(Some(-1.0), None).is_err());
        assert!(Clipping::new(None, Some(f32::NAN)).is_err());
    }
}
