//! Learning-rate schedules, Keras 3's `keras.optimizers.schedules`: the rate as a function
//! of the step, evaluated in f64. An optimizer evaluates its schedule at `iterations` (the
//! updates applied before the current one), as Keras evaluates `lr(optimizer.iterations)`.
//!
//! A schedule crosses JSON in Keras's serialized form, `{ "className": "CosineDecay",
//! "config": { "initialLearningRate": 0.1, "decaySteps": 1000 } }`, with the options in
//! camelCase; [`Schedule::to_json`] writes every option, resolved.

use std::f64::consts::PI;

use crate::error::Error;
use crate::nn::config::{as_object, check_keys, describe, layer_config, option, Json, Map};
use crate::Result;

/// An optimizer's `learningRate`: a number or a schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRate {
    Constant(f64),
    Schedule(Schedule),
}

impl LearningRate {
    /// The rate for the update that follows `iterations` updates.
    pub fn at(&self, iterations: u64) -> f64 {
        match self {
            LearningRate::Constant(lr) => *lr,
            LearningRate::Schedule(s) => s.at(iterations),
        }
    }

    /// A number, or a schedule object `{ className, config }`.
    pub fn from_json(v: &Json) -> Result<LearningRate> {
        match v {
            Json::Number(n) => Ok(LearningRate::Constant(n.as_f64().unwrap_or(f64::NAN))),
            Json::Object(_) => Ok(LearningRate::Schedule(Schedule::from_json(v)?)),
            _ => Err(Error::argument(format!(
                "must be a number or a schedule {{ className, config }}, got {}",
                describe(v)
            ))),
        }
    }

    pub fn to_json(&self) -> Json {
        match self {
            LearningRate::Constant(lr) => Json::from(*lr),
            LearningRate::Schedule(s) => s.to_json(),
        }
    }

    /// A constant must be a finite number ≥ 0; a schedule was checked when made.
    pub(crate) fn check(&self) -> Result<()> {
        match self {
            LearningRate::Constant(lr) if !(lr.is_finite() && *lr >= 0.0) => {
                Err(Error::argument(format!("option 'learningRate' must be a finite number ≥ 0, got {lr}")))
            }
            LearningRate::Constant(_) => Ok(()),
            LearningRate::Schedule(s) => s.check(),
        }
    }
}

impl From<f64> for LearningRate {
    fn from(lr: f64) -> Self {
        LearningRate::Constant(lr)
    }
}

impl From<Schedule> for LearningRate {
    fn from(s: Schedule) -> Self {
        LearningRate::Schedule(s)
    }
}

layer_config! {
    /// `initialLearningRate · decayRate^(step / decaySteps)`, the exponent floored with
    /// `staircase`.
    pub struct ExponentialDecay {
        initial_learning_rate "initialLearningRate": f64,
        decay_steps "decaySteps": usize,
        decay_rate "decayRate": f64,
        staircase "staircase": bool = false,
    }
}

impl ExponentialDecay {
    pub fn at(&self, step: u64) -> f64 {
        let mut p = step as f64 / self.decay_steps as f64;
        if self.staircase {
            p = p.floor();
        }
        self.initial_learning_rate * self.decay_rate.powf(p)
    }
    fn check(&self) -> Result<()> {
        rate("initialLearningRate", self.initial_learning_rate)?;
        steps("decaySteps", self.decay_steps)?;
        rate("decayRate", self.decay_rate)
    }
}

/// `values[i]` for `boundaries[i−1] < step ≤ boundaries[i]`: `values[0]` up to and including
/// `boundaries[0]`, the last value after the last boundary. One more value than boundaries;
/// boundaries strictly increasing step counts.
#[derive(Clone, Debug, PartialEq)]
pub struct PiecewiseConstantDecay {
    pub boundaries: Vec<usize>,
    pub values: Vec<f64>,
}

impl PiecewiseConstantDecay {
    pub const KEYS: &'static [&'static str] = &["boundaries", "values"];

    pub fn from_json(v: &Json) -> Result<Self> {
        let obj = as_object(v)?;
        check_keys(obj, Self::KEYS)?;
        Ok(PiecewiseConstantDecay {
            boundaries: option(obj, "boundaries", None)?,
            values: option(obj, "values", None)?,
        })
    }
    pub fn to_json(&self) -> Json {
        serde_json::json!({ "boundaries": self.boundaries, "values": self.values })
    }
    pub fn at(&self, step: u64) -> f64 {
        let past = self.boundaries.iter().take_while(|&&b| step > b as u64).count();
        self.values[past]
    }
    fn check(&self) -> Result<()> {
        if self.values.len() != self.boundaries.len() + 1 {
            return Err(Error::argument(format!(
                "needs one more value than boundaries, got {} boundaries and {} values",
                self.boundaries.len(),
                self.values.len()
            )));
        }
        if let Some(w) = self.boundaries.windows(2).find(|w| w[0] >= w[1]) {
            return Err(Error::argument(format!(
                "option 'boundaries' must be strictly increasing, got {} then {}",
                w[0], w[1]
            )));
        }
        self.values.iter().try_for_each(|&v| rate("values", v))
    }
}

layer_config! {
    /// Keras 3's cosine decay with optional linear warm-up. Without `warmupTarget`: from
    /// `initialLearningRate` down to `alpha·initialLearningRate` over `decaySteps`, then flat.
    /// With it: linearly from `initialLearningRate` to `warmupTarget` over `warmupSteps`,
    /// then the cosine from `warmupTarget` to `alpha·warmupTarget` over `decaySteps`.
    pub struct CosineDecay {
        initial_learning_rate "initialLearningRate": f64,
        decay_steps "decaySteps": usize,
        alpha "alpha": f64 = 0.0,
        warmup_target "warmupTarget": Option<f64> = None,
        warmup_steps "warmupSteps": usize = 0,
    }
}

impl CosineDecay {
    pub fn at(&self, step: u64) -> f64 {
        let (s, d) = (step as f64, self.decay_steps as f64);
        let decay = |s: f64, from: f64| from * ((1.0 - self.alpha) * 0.5 * (1.0 + (PI * s / d).cos()) + self.alpha);
        match self.warmup_target {
            None => decay(s.min(d), self.initial_learning_rate),
            Some(target) => {
                let w = self.warmup_steps as f64;
                let s = s.min(d + w);
                if s < w {
                    (target - self.initial_learning_rate) * (s / w) + self.initial_learning_rate
                } else {
                    decay(s - w, target)
                }
            }
        }
    }
    fn check(&self) -> Result<()> {
        rate("initialLearningRate", self.initial_learning_rate)?;
        steps("decaySteps", self.decay_steps)?;
        rate("alpha", self.alpha)?;
        self.warmup_target.map_or(Ok(()), |t| rate("warmupTarget", t))
    }
}

layer_config! {
    /// SGDR (Loshchilov & Hutter, 2017): cosine decay from `initialLearningRate` to
    /// `alpha·initialLearningRate` over `firstDecaySteps`, then restarts, each period `tMul`
    /// times longer than the last and starting at `mMul` times the last one's start.
    pub struct CosineDecayRestarts {
        initial_learning_rate "initialLearningRate": f64,
        first_decay_steps "firstDecaySteps": usize,
        t_mul "tMul": f64 = 2.0,
        m_mul "mMul": f64 = 1.0,
        alpha "alpha": f64 = 0.0,
    }
}

impl CosineDecayRestarts {
    pub fn at(&self, step: u64) -> f64 {
        let (fraction, i) = self.period(step as f64 / self.first_decay_steps as f64);
        let cosine = 0.5 * self.m_mul.powf(i) * (1.0 + (PI * fraction).cos());
        self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)
    }

    /// For `f` first periods elapsed: the fraction of the current period done, and which
    /// restart it is (0 for the first period).
    fn period(&self, f: f64) -> (f64, f64) {
        let t = self.t_mul;
        if t == 1.0 {
            let i = f.floor();
            return (f - i, i);
        }
        // Period i starts after (tⁱ − 1)/(t − 1) first periods.
        let start = |i: f64| (t.powf(i) - 1.0) / (t - 1.0);
        let mut i = ((1.0 + f * (t - 1.0)).ln() / t.ln()).floor();
        // The logarithm can land a rounding error either side of a restart.
        if start(i + 1.0) <= f {
            i += 1.0;
        } else if i > 0.0 && start(i) > f {
            i -= 1.0;
        }
        ((f - start(i)) / t.powf(i), i)
    }

    fn check(&self) -> Result<()> {
        rate("initialLearningRate", self.initial_learning_rate)?;
        steps("firstDecaySteps", self.first_decay_steps)?;
        if self.t_mul.is_nan() || self.t_mul < 1.0 {
            // Shrinking periods add up to firstDecaySteps/(1 − tMul) steps, after which Keras's
            // formula takes the logarithm of a negative number.
            return Err(Error::argument(format!("option 'tMul' must be ≥ 1, got {}", self.t_mul)));
        }
        rate("mMul", self.m_mul)?;
        rate("alpha", self.alpha)
    }
}

layer_config! {
    /// `(initialLearningRate − endLearningRate)·(1 − step/decaySteps)^power +
    /// endLearningRate`, flat at `endLearningRate` after `decaySteps`; with `cycle`,
    /// `decaySteps` is instead the first multiple of itself that is ≥ the step.
    pub struct PolynomialDecay {
        initial_learning_rate "initialLearningRate": f64,
        decay_steps "decaySteps": usize,
        end_learning_rate "endLearningRate": f64 = 1e-4,
        power "power": f64 = 1.0,
        cycle "cycle": bool = false,
    }
}

impl PolynomialDecay {
    pub fn at(&self, step: u64) -> f64 {
        let (mut s, mut d) = (step as f64, self.decay_steps as f64);
        if self.cycle {
            d *= if step == 0 { 1.0 } else { (s / d).ceil() };
        } else {
            s = s.min(d);
        }
        (self.initial_learning_rate - self.end_learning_rate) * (1.0 - s / d).powf(self.power) + self.end_learning_rate
    }
    fn check(&self) -> Result<()> {
        rate("initialLearningRate", self.initial_learning_rate)?;
        steps("decaySteps", self.decay_steps)?;
        rate("endLearningRate", self.end_learning_rate)?;
        rate("power", self.power)
    }
}

/// A learning-rate schedule, by its Keras class name.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    ExponentialDecay(ExponentialDecay),
    PiecewiseConstantDecay(PiecewiseConstantDecay),
    CosineDecay(CosineDecay),
    CosineDecayRestarts(CosineDecayRestarts),
    PolynomialDecay(PolynomialDecay),
}

impl Schedule {
    /// The Keras class names, as [`Schedule::create`] takes them.
    pub const CLASS_NAMES: &'static [&'static str] =
        &["ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay", "CosineDecayRestarts", "PolynomialDecay"];

    /// A schedule from its class name (any case) and options, checked: errors start with the
    /// class name.
    pub fn create(class_name: &str, config: &Json) -> Result<Schedule> {
        let class = Self::CLASS_NAMES.iter().find(|c| c.eq_ignore_ascii_case(class_name)).ok_or_else(|| {
            Error::argument(format!(
                "unknown learning-rate schedule '{class_name}' (known: {})",
                Self::CLASS_NAMES.join(", ")
            ))
        })?;
        let made = match *class {
            "ExponentialDecay" => ExponentialDecay::from_json(config).map(Schedule::ExponentialDecay),
            "PiecewiseConstantDecay" => PiecewiseConstantDecay::from_json(config).map(Schedule::PiecewiseConstantDecay),
            "CosineDecay" => CosineDecay::from_json(config).map(Schedule::CosineDecay),
            "CosineDecayRestarts" => CosineDecayRestarts::from_json(config).map(Schedule::CosineDecayRestarts),
            _ => PolynomialDecay::from_json(config).map(Schedule::PolynomialDecay),
        };
        let schedule = made.map_err(|e| Error { kind: e.kind, message: format!("{class}: {}", e.message) })?;
        schedule.check()?;
        Ok(schedule)
    }

    /// From Keras's serialized form `{ "className": ..., "config": { ... } }`.
    pub fn from_json(v: &Json) -> Result<Schedule> {
        let obj = as_object(v)?;
        check_keys(obj, &["className", "config"])?;
        let class = match obj.get("className") {
            Some(Json::String(c)) => c,
            other => {
                return Err(Error::argument(format!(
                    "a schedule needs 'className', a string (one of {}), got {}",
                    Self::CLASS_NAMES.join(", "),
                    other.map_or("nothing".to_string(), describe)
                )))
            }
        };
        let empty = Json::Object(Map::new());
        Schedule::create(class, obj.get("config").unwrap_or(&empty))
    }

    /// `{ "className": ..., "config": { every option } }`.
    pub fn to_json(&self) -> Json {
        let config = match self {
            Schedule::ExponentialDecay(s) => s.to_json(),
            Schedule::PiecewiseConstantDecay(s) => s.to_json(),
            Schedule::CosineDecay(s) => s.to_json(),
            Schedule::CosineDecayRestarts(s) => s.to_json(),
            Schedule::PolynomialDecay(s) => s.to_json(),
        };
        serde_json::json!({ "className": self.class_name(), "config": config })
    }

    pub fn class_name(&self) -> &'static str {
        match self {
            Schedule::ExponentialDecay(_) => "ExponentialDecay",
            Schedule::PiecewiseConstantDecay(_) => "PiecewiseConstantDecay",
            Schedule::CosineDecay(_) => "CosineDecay",
            Schedule::CosineDecayRestarts(_) => "CosineDecayRestarts",
            Schedule::PolynomialDecay(_) => "PolynomialDecay",
        }
    }

    /// The rate at `step` (updates applied before this one).
    pub fn at(&self, step: u64) -> f64 {
        match self {
            Schedule::ExponentialDecay(s) => s.at(step),
            Schedule::PiecewiseConstantDecay(s) => s.at(step),
            Schedule::CosineDecay(s) => s.at(step),
            Schedule::CosineDecayRestarts(s) => s.at(step),
            Schedule::PolynomialDecay(s) => s.at(step),
        }
    }

    /// Refuses impossible values (a schedule built in Rust rather than through
    /// [`Schedule::create`] is checked when an optimizer takes it). Errors start with the
    /// class name.
    pub fn check(&self) -> Result<()> {
        match self {
            Schedule::ExponentialDecay(s) => s.check(),
            Schedule::PiecewiseConstantDecay(s) => s.check(),
            Schedule::CosineDecay(s) => s.check(),
            Schedule::CosineDecayRestarts(s) => s.check(),
            Schedule::PolynomialDecay(s) => s.check(),
        }
        .map_err(|e| Error { kind: e.kind, message: format!("{}: {}", self.class_name(), e.message) })
    }
}

/// Rates and factors: finite and ≥ 0.
fn rate(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::argument(format!("option '{key}' must be a finite number ≥ 0, got {v}")))
    }
}

fn steps(key: &str, n: usize) -> Result<()> {
    if n > 0 {
        Ok(())
    } else {
        Err(Error::argument(format!("option '{key}' must be at least 1, got 0")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn make(v: Json) -> Result<Schedule> {
        Schedule::from_json(&v)
    }

    #[test]
    fn keras_shapes() {
        let exp = make(json!({ "className": "ExponentialDecay", "config": { "initialLearningRate": 0.1, "decaySteps": 2, "decayRate": 0.5, "staircase": true } })).unwrap();
        assert_eq!([0, 1, 2, 3, 4].map(|t| exp.at(t)), [0.1, 0.1, 0.05, 0.05, 0.025]);
        let pw = make(json!({ "className": "PiecewiseConstantDecay", "config": { "boundaries": [2, 4], "values": [1.0, 0.5, 0.1] } })).unwrap();
        // values[0] up to and including the first boundary, as Keras.
        assert_eq!([0, 2, 3, 4, 5, 99].map(|t| pw.at(t)), [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]);
        let warm = make(json!({ "className": "CosineDecay", "config": { "initialLearningRate": 0.0, "decaySteps": 4, "warmupTarget": 1.0, "warmupSteps": 2 } })).unwrap();
        let r = [0, 1, 2, 4, 6, 9].map(|t| warm.at(t));
        assert!((r[0] - 0.0).abs() < 1e-12 && (r[1] - 0.5).abs() < 1e-12 && (r[2] - 1.0).abs() < 1e-12);
        assert!((r[3] - 0.5).abs() < 1e-12 && r[4].abs() < 1e-12 && r[5].abs() < 1e-12, "{r:?}");
        let sgdr = make(json!({ "className": "cosinedecayrestarts", "config": { "initialLearningRate": 1.0, "firstDecaySteps": 2 } })).unwrap();
        // Periods of 2, 4, 8 steps: restarts at 2 and 6.
        assert!(
            (sgdr.at(2) - 1.0).abs() < 1e-12 && (sgdr.at(6) - 1.0).abs() < 1e-12 && (sgdr.at(4) - 0.5).abs() < 1e-12
        );
        let poly = make(json!({ "className": "PolynomialDecay", "config": { "initialLearningRate": 1.0, "decaySteps": 4, "endLearningRate": 0.0, "cycle": true } })).unwrap();
        assert_eq!([0, 2, 4, 5, 8].map(|t| poly.at(t)), [1.0, 0.5, 0.0, 0.375, 0.0]);
    }

    #[test]
    fn configs_round_trip_and_bad_values_are_refused() {
        let s = make(json!({ "className": "CosineDecay", "config": { "initialLearningRate": 0.1, "decaySteps": 10 } }))
            .unwrap();
        assert_eq!(
            s.to_json(),
            json!({ "className": "CosineDecay", "config": { "initialLearningRate": 0.1, "decaySteps": 10, "alpha": 0.0, "warmupTarget": null, "warmupSteps": 0 } })
        );
        assert_eq!(Schedule::from_json(&s.to_json()).unwrap(), s);
        let err = |v| make(v).unwrap_err().message;
        assert_eq!(
            err(
                json!({ "className": "ExponentialDecay", "config": { "initialLearningRate": 0.1, "decaySteps": 0, "decayRate": 0.5 } })
            ),
            "ExponentialDecay: option 'decaySteps' must be at least 1, got 0"
        );
        assert_eq!(
            err(json!({ "className": "PolynomialDecay", "config": { "initialLearningRate": -1, "decaySteps": 3 } })),
            "PolynomialDecay: option 'initialLearningRate' must be a finite number ≥ 0, got -1"
        );
        assert!(err(
            json!({ "className": "PiecewiseConstantDecay", "config": { "boundaries": [3, 3], "values": [1, 2, 3] } })
        )
        .contains("strictly increasing"));
        assert!(err(json!({ "className": "PiecewiseConstantDecay", "config": { "boundaries": [3], "values": [1] } }))
            .contains("one more value than boundaries"));
        assert!(err(json!({ "className": "CosineDecayRestarts", "config": { "initialLearningRate": 1, "firstDecaySteps": 3, "tMul": 0.5 } }))
            .contains("'tMul' must be ≥ 1"));
        assert!(err(json!({ "className": "CosineDecay", "config": { "initialLearningRate": 1, "decaySteps": 3, "warmup": 2 } }))
            .starts_with("CosineDecay: unknown option 'warmup' (options: initialLearningRate, decaySteps, alpha, warmupTarget, warmupSteps)"));
        assert!(err(json!({ "className": "StepDecay", "config": {} }))
            .starts_with("unknown learning-rate schedule 'StepDecay' (known: ExponentialDecay"));
        assert!(err(json!({ "config": {} })).contains("needs 'className'"));
    }
}
