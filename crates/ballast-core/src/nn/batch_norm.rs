//! Keras `BatchNormalization`, plus what users of BN ask for beyond Keras: a cumulative moving
//! average (PyTorch's `momentum=None`) and precise-BN recalibration of the population
//! statistics after training (Wu & Johnson, 2021, arXiv:2105.07576).
//!
//! # Batch Renormalization
//! `renorm` (Ioffe, 2017, arXiv:1702.03275) follows Keras (`renorm`, `renorm_clipping`,
//! `renorm_momentum`): in training x̂ = (x − μ_B)/σ_B · r + d with
//! r = clip(σ_B/σ, 1/r_max, r_max) and d = clip((μ_B − μ)/σ, −d_max, d_max), constants in
//! backprop. As in Keras, μ and σ are *separate* renorm statistics (`renorm_mean`,
//! `renorm_stddev`, σ floored at √ε), moving averages of μ_B and σ_B = √(σ²_B + ε) with
//! `renorm_momentum`, updated after r and d are computed. The inference statistics are kept as
//! Keras keeps them with renorm: `moving_mean` as usual, `moving_stddev` averaged like the mean
//! and `moving_variance = max(moving_stddev² − ε, 0)`; inference is unchanged. Keras' separate
//! `rmin` is not offered: r is clipped to [1/r_max, r_max] as in the paper. Unbounded
//! clipping (the default, as in Keras) is `f32::INFINITY`. The paper's warm-up (r_max from 1
//! to 3, d_max from 0 to 5) is left to the user: set the values with
//! [`BatchNorm::set_renorm_clipping`] between steps, or start from r_max = 1, d_max = 0
//! (exactly plain BN) and raise them.
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

use super::config::{layer_config, ConfigValue, Json, Map};
use super::group_norm::affine_vars;
use super::{layer_common, one_input, resolve_axis, Ctx, Initializer, Layer, LayerKind, Param, Regularizer};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops::norm::{batch_norm_inference, batch_norm_train, batch_renorm_train, BatchStats, Renorm};
use crate::rng::Rng;
use crate::{Result, Tensor};

/// How the moving statistics follow the batch statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MovingAverage {
    /// Keras: `moving = moving · momentum + batch · (1 − momentum)`.
    Exponential { momentum: f32 },
    /// The plain average of every batch seen so far.
    Cumulative,
}

layer_config! {
    pub struct BatchNormConfig {
        /// The normalized (channel) axis of the full input, batch axis included; negative
        /// counts from the end.
        axis "axis": isize = -1,
        /// `momentum` in `model.json`: a number, or `null` for the cumulative average.
        moving_average "momentum": MovingAverage = MovingAverage::Exponential { momentum: 0.99 },
        epsilon "epsilon": f32 = 1e-3,
        /// Learn an offset β.
        center "center": bool = true,
        /// Learn a scale γ.
        scale "scale": bool = true,
        beta_initializer "betaInitializer": Initializer = Initializer::Zeros,
        gamma_initializer "gammaInitializer": Initializer = Initializer::Ones,
        moving_mean_initializer "movingMeanInitializer": Initializer = Initializer::Zeros,
        moving_variance_initializer "movingVarianceInitializer": Initializer = Initializer::Ones,
        /// Batch Renormalization (see the module notes).
        renorm "renorm": bool = false,
        /// (r_max ≥ 1, d_max ≥ 0); infinite means no clipping (`{ rmax, dmax }`, `null` for
        /// unbounded, in `model.json`).
        renorm_clipping "renormClipping": (f32, f32) = (f32::INFINITY, f32::INFINITY),
        /// Moving-average factor of the renorm statistics (Keras' default 0.99).
        renorm_momentum "renormMomentum": f32 = 0.99,
        /// Keras leaves β and γ unregularized unless asked.
        beta_regularizer "betaRegularizer": Option<Regularizer> = None,
        gamma_regularizer "gammaRegularizer": Option<Regularizer> = None,
    }
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig::from_json(&Json::Object(Map::new())).expect("every option has a default")
    }
}

impl ConfigValue for MovingAverage {
    const EXPECTED: &'static str = "a number in [0, 1], or null for a cumulative average";
    fn read(v: &Json) -> Option<Self> {
        match v {
            Json::Null => Some(MovingAverage::Cumulative),
            _ => f32::read(v).map(|momentum| MovingAverage::Exponential { momentum }),
        }
    }
    fn write(&self) -> Json {
        match self {
            MovingAverage::Exponential { momentum } => momentum.write(),
            MovingAverage::Cumulative => Json::Null,
        }
    }
}

/// Renorm clipping as `{ rmax, dmax }`; a missing or `null` bound is unbounded (JSON has no
/// Infinity).
impl ConfigValue for (f32, f32) {
    const EXPECTED: &'static str = "{ rmax, dmax } with numbers or null (unbounded)";
    fn read(v: &Json) -> Option<Self> {
        let obj = v.as_object()?;
        if obj.keys().any(|k| k != "rmax" && k != "dmax") {
            return None;
        }
        let bound = |k: &str| match obj.get(k) {
            None | Some(Json::Null) => Some(f32::INFINITY),
            Some(b) => f32::read(b),
        };
        Some((bound("rmax")?, bound("dmax")?))
    }
    fn write(&self) -> Json {
        let bound = |b: f32| if b.is_finite() { b.write() } else { Json::Null };
        let mut m = Map::new();
        m.insert("rmax".into(), bound(self.0));
        m.insert("dmax".into(), bound(self.1));
        Json::Object(m)
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "BatchNormalization",
    default_name: "batch_normalization",
    make: |c| Ok(Box::new(BatchNorm::new(BatchNormConfig::from_json(c)?)?)),
}];

/// Sums of per-batch statistics while recalibrating.
#[derive(Clone, Default)]
struct Recalibration {
    batches: usize,
    sum_mean: Vec<f64>,
    sum_second_moment: Vec<f64>,
}

#[derive(Clone)]
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
    /// Batch statistics of the current training step (and σ_B with renorm), applied by
    /// `end_step(true)`.
    pending: Option<(BatchStats, Option<Vec<f32>>)>,
}

/// Indices into `BatchNorm::moving`: Keras' weight order.
const MEAN: usize = 0;
const VARIANCE: usize = 1;
const STDDEV: usize = 2;
const RENORM_MEAN: usize = 3;
const RENORM_STDDEV: usize = 4;

fn check_renorm(clipping: (f32, f32), momentum: f32) -> Result<()> {
    let (r_max, d_max) = clipping;
    if !(r_max >= 1.0 && d_max >= 0.0) {
        return Err(Error::argument(format!("renorm clipping needs rmax >= 1 and dmax >= 0, got {r_max} and {d_max}")));
    }
    if !(0.0..=1.0).contains(&momentum) {
        return Err(Error::argument(format!("renorm momentum must be in [0, 1], got {momentum}")));
    }
    Ok(())
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
        check_renorm(config.renorm_clipping, config.renorm_momentum)?;
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

    /// Changes the renorm clipping, e.g. for the paper's warm-up (r_max 1 → 3, d_max 0 → 5).
    pub fn set_renorm_clipping(&mut self, r_max: f32, d_max: f32) -> Result<()> {
        check_renorm((r_max, d_max), self.config.renorm_momentum)?;
        self.config.renorm_clipping = (r_max, d_max);
        Ok(())
    }

    fn update_moving(&mut self, stats: &BatchStats, batch_stddev: Option<&[f32]>) {
        let k = self.batches_seen as f32;
        let rule = self.config.moving_average;
        let update = |param: &mut Param, batch: &[f32], rule: MovingAverage| {
            for (m, &b) in param.value.data_mut().iter_mut().zip(batch) {
                *m = match rule {
                    MovingAverage::Exponential { momentum } => *m * momentum + b * (1.0 - momentum),
                    MovingAverage::Cumulative => *m + (b - *m) / (k + 1.0),
                };
            }
        };
        update(&mut self.moving[MEAN], &stats.mean, rule);
        match batch_stddev {
            None => update(&mut self.moving[VARIANCE], &stats.variance, rule),
            Some(sd) => {
                // Keras with renorm: average σ_B, derive the variance (ReLU against rounding).
                update(&mut self.moving[STDDEV], sd, rule);
                let eps = self.config.epsilon;
                let (head, tail) = self.moving.split_at_mut(STDDEV);
                let var = head[VARIANCE].value.data_mut().iter_mut();
                var.zip(tail[0].value.data()).for_each(|(v, s)| *v = (s * s - eps).max(0.0));
                let renorm = MovingAverage::Exponential { momentum: self.config.renorm_momentum };
                update(&mut self.moving[RENORM_MEAN], &stats.mean, renorm);
                update(&mut self.moving[RENORM_STDDEV], sd, renorm);
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
            self.moving[MEAN].value.data_mut()[c] = mean as f32;
            self.moving[VARIANCE].value.data_mut()[c] = var as f32;
            if self.config.renorm {
                // Keeps the renorm pair consistent: the next update averages from here.
                self.moving[STDDEV].value.data_mut()[c] = (var + self.config.epsilon as f64).sqrt() as f32;
            }
        }
        r.batches
    }
}

impl Layer for BatchNorm {
    layer_common!("BatchNormalization");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        resolve_axis(self.config.axis, input)?;
        Ok(input.to_vec())
    }

    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let input = inputs[0];
        self.axis = resolve_axis(self.config.axis, input)?;
        let c = input[self.axis - 1];
        let cfg = self.config;
        self.params.clear();
        if cfg.scale {
            self.params.push(Param::new(&self.name, "gamma", cfg.gamma_initializer.init(&[c], (c, c), rng)?));
        }
        if cfg.center {
            self.params.push(Param::new(&self.name, "beta", cfg.beta_initializer.init(&[c], (c, c), rng)?));
        }
        self.moving = vec![
            Param::new(&self.name, "moving_mean", cfg.moving_mean_initializer.init(&[c], (c, c), rng)?),
            Param::new(&self.name, "moving_variance", cfg.moving_variance_initializer.init(&[c], (c, c), rng)?),
        ];
        if cfg.renorm {
            // Keras initializes the standard deviations as √(moving_variance_initializer).
            let stddev = |rng: &mut Rng| -> Result<Tensor> {
                Ok(cfg.moving_variance_initializer.init(&[c], (c, c), rng)?.map(|v| v.max(0.0).sqrt()))
            };
            let moving_stddev = stddev(rng)?;
            let renorm_mean = cfg.moving_mean_initializer.init(&[c], (c, c), rng)?;
            self.moving.push(Param::new(&self.name, "moving_stddev", moving_stddev));
            self.moving.push(Param::new(&self.name, "renorm_mean", renorm_mean));
            self.moving.push(Param::new(&self.name, "renorm_stddev", stddev(rng)?));
        }
        self.batches_seen = 0;
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        let (x, cfg) = (inputs[0], self.config);
        let (gamma, beta) = affine_vars(params, cfg.scale, cfg.center);
        let batch_mode = (ctx.training && self.trainable) || self.recalibration.is_some();
        if !batch_mode {
            let (mean, var) = (self.moving[0].value.data().to_vec(), self.moving[1].value.data().to_vec());
            return batch_norm_inference(ctx.tape, x, gamma, beta, &mean, &var, self.axis, cfg.epsilon);
        }
        if cfg.renorm && self.recalibration.is_none() {
            let (r_max, d_max) = cfg.renorm_clipping;
            let (mean, stddev) = (self.moving[RENORM_MEAN].value.data(), self.moving[RENORM_STDDEV].value.data());
            let renorm = Renorm { mean, stddev, r_max, d_max };
            let (y, stats, c) = batch_renorm_train(ctx.tape, x, gamma, beta, self.axis, cfg.epsilon, &renorm)?;
            self.pending = Some((stats, Some(c.batch_stddev)));
            return Ok(y);
        }
        // Recalibration collects plain batch statistics, with or without renorm.
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
            None => self.pending = Some((stats, None)),
        }
        Ok(y)
    }

    fn end_step(&mut self, commit: bool) {
        if let Some((stats, stddev)) = self.pending.take().filter(|_| commit) {
            self.update_moving(&stats, stddev.as_deref());
        }
    }

    fn params(&self) -> Vec<&Param> {
        self.params.iter().collect()
    }
    fn regularizers(&self) -> Vec<Option<Regularizer>> {
        // γ first, then β, as the parameters are made.
        let c = &self.config;
        [(c.scale, c.gamma_regularizer), (c.center, c.beta_regularizer)]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, r)| r)
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{normal, Check};
    use crate::autograd::Tape;

    fn built(config: BatchNormConfig, input: &[usize]) -> BatchNorm {
        let mut bn = BatchNorm::new(config).unwrap();
        bn.set_name("bn".into());
        bn.build_on(input, &mut Rng::new(0)).unwrap();
        bn
    }

    /// Output and gradients (x, then parameters) of one training step, which is committed.
    fn step(bn: &mut BatchNorm, x: &Tensor) -> Vec<Tensor> {
        let mut tape = Tape::new();
        let xv = tape.leaf(x.clone(), true);
        let params: Vec<Var> = bn.params().iter().map(|p| tape.leaf(p.value.clone(), true)).collect();
        let mut rng = Rng::new(0);
        let y = bn
            .forward(&mut Ctx { tape: &mut tape, training: true, rng: &mut rng, logits: false }, &[xv], &params)
            .unwrap();
        bn.end_step(true);
        tape.backward_with(y, normal(x.shape(), 7, 1.0, 0.0)).unwrap();
        let grads = std::iter::once(xv).chain(params).map(|v| tape.grad(v).unwrap().clone());
        std::iter::once(tape.value(y).clone()).chain(grads).collect()
    }

    #[test]
    fn renorm_with_r_max_1_and_d_max_0_trains_exactly_like_bn() {
        let renorm = BatchNormConfig { renorm: true, renorm_clipping: (1.0, 0.0), ..Default::default() };
        let (mut plain, mut re) = (built(BatchNormConfig::default(), &[3, 3, 2]), built(renorm, &[3, 3, 2]));
        for i in 0..3 {
            let x = normal(&[4, 3, 3, 2], 10 + i, 2.0 + i as f32, 1.0);
            for (k, (a, b)) in step(&mut plain, &x).iter().zip(step(&mut re, &x)).enumerate() {
                assert_eq!(a.data(), b.data(), "step {i}: output/gradient {k}");
            }
            assert_eq!(plain.moving_mean().data(), re.moving_mean().data());
        }
        // The renorm statistics moved (so r and d would not be 1 and 0 without the clipping).
        assert!(re.moving[RENORM_MEAN].value.data().iter().all(|&m| m != 0.0));
    }

    #[test]
    fn renorm_layer_gradients_where_the_clipping_holds_r_and_d() {
        // Renorm statistics far from the batch's: every r and d sits on its clipping bound, so
        // they are constant near x and the stop-gradient backprop is the true derivative.
        let config = BatchNormConfig { renorm: true, renorm_clipping: (1.05, 0.05), ..Default::default() };
        for (shape, axis) in [(&[4, 3, 3, 2][..], -1), (&[6, 4], -1), (&[3, 4, 2, 2], 1)] {
            let mut bn = built(BatchNormConfig { axis, ..config }, &shape[1..]);
            let c = bn.moving_mean().len();
            bn.moving[RENORM_MEAN].value = Tensor::full(&[c], -3.0);
            bn.moving[RENORM_STDDEV].value = Tensor::full(&[c], 0.5);
            let mut inputs = vec![normal(shape, 2, 2.0, 1.0)];
            inputs.extend(bn.params().iter().map(|p| p.value.clone()));
            let bn = std::sync::Mutex::new(bn);
            Check { eps: 1e-2, atol: 3e-3, rtol: 3e-2, max_probes: 40 }.run("renorm layer", &inputs, |tape, v| {
                let mut rng = Rng::new(0);
                let mut l = bn.lock().unwrap();
                let y = l.forward(&mut Ctx { tape, training: true, rng: &mut rng, logits: false }, &v[..1], &v[1..]);
                l.end_step(false);
                y
            });
        }
    }

    #[test]
    fn renorm_keeps_keras_weights_and_inference() {
        let mut bn = built(BatchNormConfig { renorm: true, ..Default::default() }, &[2]);
        let names: Vec<&str> = bn.params().into_iter().chain(bn.state()).map(|p| p.name.as_str()).collect();
        let want = ["gamma", "beta", "moving_mean", "moving_variance", "moving_stddev", "renorm_mean", "renorm_stddev"];
        assert_eq!(names, want.map(|n| format!("bn/{n}")));
        step(&mut bn, &normal(&[8, 2], 3, 2.0, 1.0));
        // moving_variance is derived from moving_stddev, as Keras does with renorm.
        let (sd, var) = (bn.moving[STDDEV].value.data().to_vec(), bn.moving_variance().data().to_vec());
        (0..2).for_each(|c| assert_eq!(var[c], (sd[c] * sd[c] - 1e-3).max(0.0)));
        // Inference: the moving statistics, no correction.
        let x = normal(&[3, 2], 4, 1.0, 0.0);
        let mut tape = Tape::new();
        let xv = tape.constant(x.clone());
        let params: Vec<Var> = bn.params().iter().map(|p| tape.constant(p.value.clone())).collect();
        let mut rng = Rng::new(0);
        let y = bn.forward(&mut Ctx { tape: &mut tape, training: false, rng: &mut rng, logits: false }, &[xv], &params);
        let want = (x.data()[1] - bn.moving_mean().data()[1]) / (var[1] + 1e-3).sqrt();
        assert!((tape.value(y.unwrap()).data()[1] - want).abs() < 1e-6);
        for (clip, momentum) in [((0.9, 1.0), 0.99), ((2.0, -1.0), 0.99), ((2.0, 1.0), 1.5), ((f32::NAN, 1.0), 0.99)] {
            let config = BatchNormConfig {
                renorm: true,
                renorm_clipping: clip,
                renorm_momentum: momentum,
                ..Default::default()
            };
            assert_eq!(BatchNorm::new(config).err().unwrap().kind, crate::error::ErrorKind::Argument);
        }
        assert!(bn.set_renorm_clipping(0.5, 0.0).is_err() && bn.set_renorm_clipping(3.0, 5.0).is_ok());
    }
}
