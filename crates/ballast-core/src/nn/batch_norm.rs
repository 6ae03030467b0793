//! Keras `BatchNormalization`, plus what users of BN ask for beyond Keras: a cumulative moving
//! average (PyTorch's `momentum=None`) and precise-BN recalibration of the population
//! statistics after training (Wu & Johnson, 2021, arXiv:2105.07576).
//!
//! # Modes
//! - training and `trainable`: normalize with the batch's mean and biased variance, then
//!   update the moving statistics;
//! - otherwise (inference, or `trainable = false` as in Keras 2+): normalize with the moving
//!   statistics, which stay frozen.
//!
//! # Shapes
//! Any rank ≥ 2; statistics per index of `axis` (default −1, the channels of NHWC) over every
//! other axis: N·H·W values for images, N for `[batch, features]`.

use super::{layer_common, Ctx, Initializer, Layer, Param};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops::norm::{batch_norm_inference, batch_norm_train, BatchStats};
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// How the moving statistics follow the batch statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MovingAverage {
    /// Keras: `moving = moving · momentum + batch · (1 − momentum)`.
    Exponential { momentum: f32 },
    /// The plain average of every batch seen so far.
    Cumulative,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// The normalized (channel) axis of the full input, batch axis included; negative counts
    /// from the end.
    pub axis: isize,
    pub moving_average: MovingAverage,
    pub epsilon: f32,
    /// Learn an offset β.
    pub center: bool,
    /// Learn a scale γ.
    pub scale: bool,
    pub beta_initializer: Initializer,
    pub gamma_initializer: Initializer,
    pub moving_mean_initializer: Initializer,
    pub moving_variance_initializer: Initializer,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig {
            axis: -1,
            moving_average: MovingAverage::Exponential { momentum: 0.99 },
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            moving_mean_initializer: Initializer::Zeros,
            moving_variance_initializer: Initializer::Ones,
        }
    }
}

/// Sums of per-batch statistics while recalibrating.
#[derive(Default)]
struct Recalibration {
    batches: usize,
    sum_mean: Vec<f64>,
    sum_second_moment: Vec<f64>,
}

pub struct BatchNorm {
    name: String,
    trainable: bool,
    pub config: BatchNormConfig,
    /// γ then β, whichever are enabled.
    params: Vec<Param>,
    /// Moving mean then moving variance.
    pub(crate) moving: Vec<Param>,
    /// Resolved axis of the full input (batch axis = 0).
    axis: usize,
    batches_seen: u64,
    recalibration: Option<Recalibration>,
    /// Batch statistics of the current training step, applied by `end_step(true)`.
    pending: Option<BatchStats>,
}

impl BatchNorm {
    pub fn new(config: BatchNormConfig) -> Result<Self> {
        if !(config.epsilon > 0.0) {
            return Err(Error::argument(format!("epsilon must be positive, got {}", config.epsilon)));
        }
        if let MovingAverage::Exponential { momentum } = config.moving_average {
            if !(0.0..=1.0).contains(&momentum) {
                return Err(Error::argument(format!("momentum must be in [0, 1], got {momentum}")));
            }
        }
        Ok(BatchNorm {
            name: String::new(),
            trainable: true,
            config,
            params: Vec::new(),
            moving: Vec::new(),
            axis: 0,
            batches_seen: 0,
            recalibration: None,
            pending: None,
        })
    }

    pub fn moving_mean(&self) -> &Tensor {
        &self.moving[0].value
    }
    pub fn moving_variance(&self) -> &Tensor {
        &self.moving[1].value
    }
    /// γ (ones when `scale` is off) and β (zeros when `center` is off).
    pub fn gamma_beta(&self) -> (Tensor, Tensor) {
        let c = self.moving_mean().len();
        let find = |suffix: &str| self.params.iter().find(|p| p.name.ends_with(suffix)).map(|p| p.value.clone());
        (
            find("/gamma").unwrap_or_else(|| Tensor::full(&[c], 1.0)),
            find("/beta").unwrap_or_else(|| Tensor::zeros(&[c])),
        )
    }
    /// The resolved channel axis of the full input (0 is the batch axis).
    pub fn axis(&self) -> usize {
        self.axis
    }

    fn update_moving(&mut self, stats: &BatchStats) {
        let k = self.batches_seen as f32;
        for (param, batch) in self.moving.iter_mut().zip([&stats.mean, &stats.variance]) {
            for (m, &b) in param.value.data_mut().iter_mut().zip(batch.iter()) {
                *m = match self.config.moving_average {
                    MovingAverage::Exponential { momentum } => *m * momentum + b * (1.0 - momentum),
                    MovingAverage::Cumulative => *m + (b - *m) / (k + 1.0),
                };
            }
        }
        self.batches_seen += 1;
    }

    /// Starts precise-BN recalibration: until [`BatchNorm::finish_recalibration`], training
    /// forward passes only collect batch statistics and leave the moving ones alone.
    pub fn begin_recalibration(&mut self) {
        let c = self.moving_mean().len();
        self.recalibration =
            Some(Recalibration { batches: 0, sum_mean: vec![0.0; c], sum_second_moment: vec![0.0; c] });
    }

    /// Sets the moving statistics to the population statistics of the batches seen since
    /// [`BatchNorm::begin_recalibration`]: mean = E[μ_B], variance = E[σ²_B + μ_B²] − mean².
    /// Returns the number of batches (0 leaves the statistics unchanged).
    pub fn finish_recalibration(&mut self) -> usize {
        let Some(r) = self.recalibration.take() else { return 0 };
        if r.batches == 0 {
            return 0;
        }
        let b = r.batches as f64;
        for c in 0..r.sum_mean.len() {
            let mean = r.sum_mean[c] / b;
            let var = (r.sum_second_moment[c] / b - mean * mean).max(0.0);
            self.moving[0].value.data_mut()[c] = mean as f32;
            self.moving[1].value.data_mut()[c] = var as f32;
        }
        r.batches
    }
}

impl Layer for BatchNorm {
    layer_common!("BatchNormalization");

    fn build(&mut self, input: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
        let rank = input.len() as isize + 1;
        let axis = if self.config.axis < 0 { rank + self.config.axis } else { self.config.axis };
        if axis <= 0 || axis >= rank {
            return Err(Error::argument(format!(
                "axis {} is out of range for input [batch, {}] (valid: 1..{} or -1..-{})",
                self.config.axis,
                shape_str(input).trim_matches(|ch| ch == '[' || ch == ']'),
                rank - 1,
                rank - 1
            )));
        }
        self.axis = axis as usize;
        let c = input[self.axis - 1];
        let cfg = self.config;
        self.params.clear();
        if cfg.scale {
            self.params.push(Param::new(&self.name, "gamma", cfg.gamma_initializer.init(&[c], (c, c), rng)));
        }
        if cfg.center {
            self.params.push(Param::new(&self.name, "beta", cfg.beta_initializer.init(&[c], (c, c), rng)));
        }
        self.moving = vec![
            Param::new(&self.name, "moving_mean", cfg.moving_mean_initializer.init(&[c], (c, c), rng)),
            Param::new(&self.name, "moving_variance", cfg.moving_variance_initializer.init(&[c], (c, c), rng)),
        ];
        self.batches_seen = 0;
        Ok(input.to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, x: Var, params: &[Var]) -> Result<Var> {
        let cfg = self.config;
        let mut p = params.iter().copied();
        let gamma = cfg.scale.then(|| p.next()).flatten();
        let beta = cfg.center.then(|| p.next()).flatten();
        let batch_mode = (ctx.training && self.trainable) || self.recalibration.is_some();
        if !batch_mode {
            let (mean, var) = (self.moving[0].value.data().to_vec(), self.moving[1].value.data().to_vec());
            return batch_norm_inference(ctx.tape, x, gamma, beta, &mean, &var, self.axis, cfg.epsilon);
        }
        let (y, stats) = batch_norm_train(ctx.tape, x, gamma, beta, self.axis, cfg.epsilon)?;
        match &mut self.recalibration {
            Some(r) => {
                r.batches += 1;
                for c in 0..stats.mean.len() {
                    let (m, v) = (stats.mean[c] as f64, stats.variance[c] as f64);
                    r.sum_mean[c] += m;
                    r.sum_second_moment[c] += v + m * m;
                }
            }
            None => self.pending = Some(stats),
        }
        Ok(y)
    }

    fn end_step(&mut self, commit: bool) {
        if let Some(stats) = self.pending.take().filter(|_| commit) {
            self.update_moving(&stats);
        }
    }

    fn params(&self) -> Vec<&Param> {
        self.params.iter().collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.params.iter_mut().collect()
    }
    fn state(&self) -> Vec<&Param> {
        self.moving.iter().collect()
    }
    fn weights_mut(&mut self) -> Vec<&mut Param> {
        self.params.iter_mut().chain(self.moving.iter_mut()).collect()
    }
}
