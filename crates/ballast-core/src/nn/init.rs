//! Weight initializers, as Keras names them.

use crate::error::Error;
use crate::rng::Rng;
use crate::{Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initializer {
    Zeros,
    Ones,
    Constant(f32),
    /// U(−l, l) with l = √(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).
    GlorotUniform,
    /// N(0, 2 / (fan_in + fan_out)), truncated at 2σ as Keras does.
    GlorotNormal,
    /// U(−l, l) with l = √(6 / fan_in) (He et al., 2015).
    HeUniform,
    /// N(0, 2 / fan_in), truncated at 2σ.
    HeNormal,
    RandomNormal {
        mean: f32,
        stddev: f32,
    },
    /// U(min, max); configs name it `randomUniform` (Keras' `uniform`), which is Keras'
    /// default U(−0.05, 0.05) (the `Embedding` initializer).
    RandomUniform {
        min: f32,
        max: f32,
    },
}

/// Keras' default bounds of `RandomUniform`.
pub const RANDOM_UNIFORM: Initializer = Initializer::RandomUniform { min: -0.05, max: 0.05 };

impl Initializer {
    pub fn parse(name: &str) -> Result<Initializer> {
        Ok(match name {
            "zeros" => Initializer::Zeros,
            "ones" => Initializer::Ones,
            "glorotUniform" | "glorot_uniform" => Initializer::GlorotUniform,
            "glorotNormal" | "glorot_normal" => Initializer::GlorotNormal,
            "heUniform" | "he_uniform" => Initializer::HeUniform,
            "heNormal" | "he_normal" => Initializer::HeNormal,
            "randomUniform" | "random_uniform" | "uniform" => RANDOM_UNIFORM,
            _ => {
                return Err(Error::argument(format!(
                    "unknown initializer '{name}' (zeros, ones, glorotUniform, glorotNormal, heUniform, heNormal, randomUniform)"
                )))
            }
        })
    }

    /// The name `parse` reads. The parameterized kinds are not offered by `parse` (nor in
    /// layer configs), so their names do not carry their parameters; `randomUniform` is read
    /// back with Keras' default bounds (the only ones configs make).
    pub fn name(&self) -> &'static str {
        match self {
            Initializer::Zeros => "zeros",
            Initializer::Ones => "ones",
            Initializer::Constant(_) => "constant",
            Initializer::GlorotUniform => "glorotUniform",
            Initializer::GlorotNormal => "glorotNormal",
            Initializer::HeUniform => "heUniform",
            Initializer::HeNormal => "heNormal",
            Initializer::RandomNormal { .. } => "randomNormal",
            Initializer::RandomUniform { .. } => "randomUniform",
        }
    }

    /// A tensor of `shape`; `fans` = (fan_in, fan_out) for the variance-scaling kinds.
    ///
    /// A weight too large for memory is an error saying how large, not an aborted allocation.
    pub fn init(&self, shape: &[usize], fans: (usize, usize), rng: &mut Rng) -> Result<Tensor> {
        let too_big = || {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            let values = shape.iter().map(|&d| d as f64).product::<f64>();
            Error::argument(format!(
                "a weight of shape [{}] ({values} values, {} MiB of float32) does not fit in memory",
                dims.join(", "),
                (values * 4.0 / 1048576.0).ceil()
            ))
        };
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).filter(|n| n.checked_mul(4).is_some());
        let n = n.ok_or_else(too_big)?;
        let mut data: Vec<f32> = Vec::new();
        data.try_reserve_exact(n).map_err(|_| too_big())?;
        let (fan_in, fan_out) = (fans.0.max(1) as f32, fans.1.max(1) as f32);
        let truncated = |rng: &mut Rng, std: f32| loop {
            let z = rng.normal();
            if z.abs() <= 2.0 {
                // Keras rescales by 0.8796 so the truncated normal keeps the target variance.
                break z * std / 0.879_625_7;
            }
        };
        match *self {
            Initializer::Zeros => data.resize(n, 0.0),
            Initializer::Ones => data.resize(n, 1.0),
            Initializer::Constant(v) => data.resize(n, v),
            Initializer::GlorotUniform => {
                let l = (6.0 / (fan_in + fan_out)).sqrt();
                data.extend((0..n).map(|_| rng.uniform(-l, l)))
            }
            Initializer::GlorotNormal => {
                let s = (2.0 / (fan_in + fan_out)).sqrt();
                data.extend((0..n).map(|_| truncated(rng, s)))
            }
            Initializer::HeUniform => {
                let l = (6.0 / fan_in).sqrt();
                data.extend((0..n).map(|_| rng.uniform(-l, l)))
            }
            Initializer::HeNormal => {
                let s = (2.0 / fan_in).sqrt();
                data.extend((0..n).map(|_| truncated(rng, s)))
            }
            Initializer::RandomNormal { mean, stddev } => data.extend((0..n).map(|_| mean + stddev * rng.normal())),
            Initializer::RandomUniform { min, max } => data.extend((0..n).map(|_| rng.uniform(min, max))),
        }
        Ok(Tensor::new(data, shape).expect("length matches shape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weight_past_the_address_space_is_an_error_not_an_abort() {
        let err = Initializer::Zeros.init(&[1 << 40, 1 << 30], (1, 1), &mut Rng::new(1)).unwrap_err();
        assert!(err.message.contains("a weight of shape [1099511627776, 1073741824]"), "{}", err.message);
        assert!(err.message.contains("does not fit in memory"), "{}", err.message);
    }

    #[test]
    fn glorot_uniform_has_the_keras_limit_and_variance() {
        let t = Initializer::GlorotUniform.init(&[300, 100], (300, 100), &mut Rng::new(1)).unwrap();
        let l = (6.0f32 / 400.0).sqrt();
        assert!(t.data().iter().all(|v| v.abs() <= l));
        let var = t.data().iter().map(|v| v * v).sum::<f32>() / t.len() as f32;
        assert!((var - 2.0 / 400.0).abs() < 2e-4, "{var}");
        let h = Initializer::HeNormal.init(&[200, 200], (200, 200), &mut Rng::new(2)).unwrap();
        let var = h.data().iter().map(|v| v * v).sum::<f32>() / h.len() as f32;
        assert!((var - 2.0 / 200.0).abs() < 5e-4, "{var}");
        assert!(Initializer::parse("lecun").is_err());
    }
}
