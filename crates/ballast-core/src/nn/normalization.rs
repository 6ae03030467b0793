//! Keras' preprocessing `Normalization`: `(x − mean) / √variance` with a mean and variance for
//! each index of the `axis` axes (the channels, by default), given as options or *adapted*
//! from data; with `invert`, the way back, `x·√variance + mean`. The mean and variance are
//! the layer's non-trainable weights (`mean`, `variance`), saved with the model.
//!
//! Adapting is [`Moments`]: batches of data folded one at a time (Chan et al.'s pairwise
//! update, in f64), so data that does not fit in memory adapts too; the variance is the
//! population's, as Keras computes it.

use super::config::{layer_config, ConfigValue, Json};
use super::{batch_shape, layer_common, one_input, Ctx, Layer, LayerKind, Param};
use crate::autograd::Var;
use crate::error::Error;
use crate::rng::Rng;
use crate::{Result, Tensor};

/// Keras' floor on the standard deviation (`backend.epsilon()`), so a constant feature
/// (variance 0) is not divided by zero.
const EPSILON: f32 = 1e-7;

/// Keras' `axis`: one axis, a list of them, or `null` for one mean and variance over
/// everything. Axes count the batch axis as 0, so 1 is the first of an example's; negative
/// ones count from the end.
#[derive(Clone, Debug, PartialEq)]
pub struct Axes(pub Option<Vec<isize>>);

impl ConfigValue for Axes {
    const EXPECTED: &'static str = "an integer, a list of integers or null";
    fn read(v: &Json) -> Option<Self> {
        match v {
            Json::Null => Some(Axes(None)),
            Json::Array(a) => a.iter().map(isize::read).collect::<Option<Vec<_>>>().map(|a| Axes(Some(a))),
            _ => isize::read(v).map(|a| Axes(Some(vec![a]))),
        }
    }
    fn write(&self) -> Json {
        self.0.as_ref().map_or(Json::Null, |a| a.write())
    }
}

/// A mean or variance: one number for every feature, or one per feature (row-major over the
/// `axis` axes).
#[derive(Clone, Debug, PartialEq)]
pub struct Values(pub Vec<f32>);

impl ConfigValue for Values {
    const EXPECTED: &'static str = "a finite number or a list of them";
    fn read(v: &Json) -> Option<Self> {
        match v {
            Json::Array(a) => a.iter().map(f32::read).collect::<Option<Vec<_>>>().map(Values),
            _ => f32::read(v).map(|f| Values(vec![f])),
        }
    }
    fn write(&self) -> Json {
        match self.0.as_slice() {
            [one] => one.write(),
            all => Json::Array(all.iter().map(ConfigValue::write).collect()),
        }
    }
}

layer_config! {
    @clone
    pub struct NormalizationConfig {
        axis "axis": Axes = Axes(Some(vec![-1])),
        /// Given with `variance` (instead of adapting): one number or one per feature.
        mean "mean": Option<Values> = None,
        variance "variance": Option<Values> = None,
        /// Undo a normalization instead: `x·√variance + mean`.
        invert "invert": bool = false,
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "Normalization",
    default_name: "normalization",
    make: |c| Ok(Box::new(Normalization::new(NormalizationConfig::from_json(c)?)?)),
}];

/// Where each value of an example goes among the features: the kept axes (0-based in the
/// example) and, for each of the example's values, its feature's index.
#[derive(Clone, Debug, PartialEq)]
struct Features {
    /// The example shape these are for.
    example: Vec<usize>,
    /// The kept axes' sizes: the shape of the mean and the variance.
    shape: Vec<usize>,
    /// The feature of each value of an example, row-major.
    of: Vec<u32>,
}

impl Features {
    fn count(&self) -> usize {
        self.shape.iter().product()
    }

    fn new(axis: &Axes, example: &[usize]) -> Result<Features> {
        if example.contains(&0) {
            return Err(Error::shape(format!("expects input with no zero dimension, got {}", batch_shape(example))));
        }
        let rank = example.len() as isize;
        let mut kept = vec![false; example.len()];
        for &a in axis.0.iter().flatten() {
            let resolved = if a < 0 { rank + 1 + a } else { a };
            if resolved < 1 || resolved > rank {
                return Err(Error::argument(format!(
                    "option 'axis': {a} is out of range for input {} (valid: 1..{rank} or -1..-{rank}; the batch axis 0 cannot be kept)",
                    batch_shape(example)
                )));
            }
            kept[resolved as usize - 1] = true;
        }
        let shape: Vec<usize> = example.iter().zip(&kept).filter(|(_, &k)| k).map(|(&d, _)| d).collect();
        // The feature of a value: its indices on the kept axes, row-major.
        let numel: usize = example.iter().product();
        let mut of = vec![0u32; numel];
        let mut index = vec![0usize; example.len()];
        for slot in of.iter_mut() {
            let mut f = 0usize;
            for (axis, &i) in index.iter().enumerate() {
                if kept[axis] {
                    f = f * example[axis] + i;
                }
            }
            *slot = f as u32;
            for axis in (0..example.len()).rev() {
                index[axis] += 1;
                if index[axis] < example[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Ok(Features { example: example.to_vec(), shape, of })
    }
}

/// Keras `Normalization`.
#[derive(Clone)]
pub struct Normalization {
    name: String,
    trainable: bool,
    pub config: NormalizationConfig,
    features: Option<Features>,
    /// `mean` then `variance`, once built.
    stats: Vec<Param>,
}

impl Normalization {
    pub fn new(config: NormalizationConfig) -> Result<Self> {
        match (&config.mean, &config.variance) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::argument("options 'mean' and 'variance' are given together or not at all"))
            }
            (_, Some(Values(v))) if v.iter().any(|&v| v < 0.0) => {
                return Err(Error::argument("option 'variance' must not be negative"))
            }
            _ => {}
        }
        Ok(Normalization { name: String::new(), trainable: true, config, features: None, stats: vec![] })
    }

    /// The given `mean` or `variance` as one value per feature, or an error saying how many
    /// there should be.
    fn given(&self, option: &str, values: &Option<Values>, features: &Features, fill: f32) -> Result<Vec<f32>> {
        let n = features.count();
        match values {
            None => Ok(vec![fill; n]),
            Some(Values(v)) if v.len() == 1 => Ok(vec![v[0]; n]),
            Some(Values(v)) if v.len() == n => Ok(v.clone()),
            Some(Values(v)) => Err(Error::argument(format!(
                "option '{option}' has {} values; it needs 1 or one per feature, {n} (the axis sizes {:?})",
                v.len(),
                features.shape
            ))),
        }
    }
}

impl Layer for Normalization {
    layer_common!("Normalization");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        let features = Features::new(&self.config.axis, input)?;
        self.given("mean", &self.config.mean, &features, 0.0)?;
        Ok(input.to_vec())
    }

    fn build(&mut self, inputs: &[&[usize]], _: &mut Rng) -> Result<()> {
        let features = Features::new(&self.config.axis, inputs[0])?;
        let mean = self.given("mean", &self.config.mean, &features, 0.0)?;
        let variance = self.given("variance", &self.config.variance, &features, 1.0)?;
        let shape = if features.shape.is_empty() { vec![1] } else { features.shape.clone() };
        self.stats = vec![
            Param::new(&self.name, "mean", Tensor::new(mean, &shape)?),
            Param::new(&self.name, "variance", Tensor::new(variance, &shape)?),
        ];
        self.features = Some(features);
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        let features = self.features.as_ref().ok_or_else(|| Error::state("Normalization is not built"))?;
        let x = ctx.tape.value(inputs[0]);
        if x.shape().get(1..) != Some(&features.example[..]) {
            return Err(Error::shape(format!(
                "input {} does not match the shape the layer was built for",
                crate::tensor::shape_str(x.shape())
            )));
        }
        let mean = self.stats[0].value.data();
        // The standard deviation, floored (Keras: maximum(sqrt(variance), epsilon)).
        let sd: Vec<f32> = self.stats[1].value.data().iter().map(|&v| v.max(0.0).sqrt().max(EPSILON)).collect();
        let (scale, shift): (Vec<f32>, Vec<f32>) = if self.config.invert {
            (sd, mean.to_vec())
        } else {
            (sd.iter().map(|s| 1.0 / s).collect(), mean.iter().zip(&sd).map(|(m, s)| -m / s).collect())
        };
        Ok(crate::ops::augment::rescale_features(ctx.tape, inputs[0], features.of.clone(), scale, shift))
    }

    fn state(&self) -> Vec<&Param> {
        self.stats.iter().collect()
    }
    fn weights_mut(&mut self) -> Vec<&mut Param> {
        self.stats.iter_mut().collect()
    }
}

/// The mean and variance of data for a `Normalization`, folded in batch by batch (Keras'
/// `adapt`).
pub struct Moments {
    features: Features,
    /// Values seen per feature.
    count: f64,
    mean: Vec<f64>,
    /// Sums of squared differences from the mean.
    m2: Vec<f64>,
}

impl Moments {
    /// For the layer of `class_name` and `config` on examples of shape `example` (without the
    /// batch axis). Only a `Normalization` adapts.
    pub fn new(class_name: &str, config: &Json, example: &[usize]) -> Result<Moments> {
        if class_name != "Normalization" {
            return Err(Error::argument(format!(
                "{class_name} has nothing to adapt (of the layers, only Normalization adapts)"
            )));
        }
        let layer = Normalization::new(NormalizationConfig::from_json(config)?)?;
        if layer.config.mean.is_some() {
            return Err(Error::argument("a Normalization given 'mean' and 'variance' cannot adapt (as in Keras)"));
        }
        let features = Features::new(&layer.config.axis, example)?;
        let n = features.count();
        Ok(Moments { features, count: 0.0, mean: vec![0.0; n], m2: vec![0.0; n] })
    }

    /// Folds in a batch `[n, ...example]`; a batch of another shape or with a NaN or an Inf is
    /// refused, the moments unchanged.
    pub fn update(&mut self, x: &Tensor) -> Result<()> {
        if x.shape().get(1..) != Some(&self.features.example[..]) {
            return Err(Error::shape(format!(
                "adapt: a batch of shape {} for examples of shape {}",
                crate::tensor::shape_str(x.shape()),
                batch_shape(&self.features.example)
            )));
        }
        if let Some(i) = x.data().iter().position(|v| !v.is_finite()) {
            return Err(Error::data(format!(
                "adapt: value {} at flat index {i} of the batch is not finite",
                x.data()[i]
            )));
        }
        let per_example = self.features.of.len();
        let f = self.features.count();
        // Values per feature in this batch.
        let n_batch = (x.shape()[0] * per_example / f) as f64;
        if n_batch == 0.0 {
            return Ok(());
        }
        // The batch's own mean and squared deviations per feature (two passes, in f64).
        let mut mean = vec![0.0f64; f];
        for (i, &v) in x.data().iter().enumerate() {
            mean[self.features.of[i % per_example] as usize] += v as f64;
        }
        mean.iter_mut().for_each(|m| *m /= n_batch);
        let mut m2 = vec![0.0f64; f];
        for (i, &v) in x.data().iter().enumerate() {
            let j = self.features.of[i % per_example] as usize;
            m2[j] += (v as f64 - mean[j]).powi(2);
        }
        // Chan et al.'s combination of two sets' moments.
        let total = self.count + n_batch;
        for j in 0..f {
            let delta = mean[j] - self.mean[j];
            self.mean[j] += delta * n_batch / total;
            self.m2[j] += m2[j] + delta * delta * self.count * n_batch / total;
        }
        self.count = total;
        Ok(())
    }

    /// The mean and (population) variance per feature, row-major over the kept axes.
    pub fn finish(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        if self.count == 0.0 {
            return Err(Error::data("adapt: the data held no examples"));
        }
        let mean = self.mean.iter().map(|&m| m as f32).collect();
        let variance = self.m2.iter().map(|&m| (m / self.count) as f32).collect();
        Ok((mean, variance))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::Tape;
    use crate::nn::registry;
    use serde_json::json;

    fn run(layer: &mut dyn Layer, x: &Tensor) -> Tensor {
        let mut tape = Tape::new();
        let v = tape.leaf(x.clone(), false);
        let mut rng = Rng::new(1);
        let mut ctx = Ctx { tape: &mut tape, training: false, rng: &mut rng, logits: false };
        let y = layer.forward(&mut ctx, &[v], &[]).unwrap();
        tape.value(y).clone()
    }

    #[test]
    fn adapted_moments_are_the_datas_per_channel_and_normalize_it() {
        // 10 images 2x3 with 2 channels: channel 1 is 3 times channel 0 plus 5.
        let data: Vec<f32> = (0..120)
            .map(|i| if i % 2 == 0 { (i * 7 % 13) as f32 } else { 3.0 * ((i - 1) * 7 % 13) as f32 + 5.0 })
            .collect();
        let x = Tensor::new(data.clone(), &[10, 2, 3, 2]).unwrap();
        let mut m = Moments::new("Normalization", &json!({}), &[2, 3, 2]).unwrap();
        // In three uneven batches: the result is the whole set's.
        let rows = |a: usize, b: usize| Tensor::new(data[a * 12..b * 12].to_vec(), &[b - a, 2, 3, 2]).unwrap();
        for (a, b) in [(0, 3), (3, 4), (4, 10)] {
            m.update(&rows(a, b)).unwrap();
        }
        let (mean, var) = m.finish().unwrap();
        let ch0: Vec<f64> = data.iter().step_by(2).map(|&v| v as f64).collect();
        let mu = ch0.iter().sum::<f64>() / 60.0;
        let sigma2 = ch0.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / 60.0;
        assert!((mean[0] as f64 - mu).abs() < 1e-5 && (var[0] as f64 - sigma2).abs() < 1e-4);
        assert!((mean[1] as f64 - (3.0 * mu + 5.0)).abs() < 1e-4 && (var[1] as f64 - 9.0 * sigma2).abs() < 1e-3);

        let mut layer = registry::create("Normalization", &json!({})).unwrap();
        layer.build_on(&[2, 3, 2], &mut Rng::new(1)).unwrap();
        layer.weights_mut()[0].value = Tensor::new(mean, &[2]).unwrap();
        layer.weights_mut()[1].value = Tensor::new(var, &[2]).unwrap();
        let y = run(layer.as_mut(), &x);
        // Each channel of the output has mean 0 and variance 1.
        for ch in 0..2 {
            let v: Vec<f64> = y.data().iter().skip(ch).step_by(2).map(|&v| v as f64).collect();
            let mu = v.iter().sum::<f64>() / 60.0;
            let var = v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / 60.0;
            assert!(mu.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "channel {ch}: {mu} {var}");
        }
    }

    #[test]
    fn given_statistics_axes_and_invert() {
        let x = Tensor::new((0..12).map(|v| v as f32).collect(), &[2, 2, 3]).unwrap();
        // axis [1]: one mean and variance per row of each example.
        let mut l =
            registry::create("Normalization", &json!({ "axis": 1, "mean": [1, 2], "variance": [4, 16] })).unwrap();
        l.build_on(&[2, 3], &mut Rng::new(1)).unwrap();
        let y = run(l.as_mut(), &x);
        let want: Vec<f32> =
            (0..12).map(|i| if (i / 3) % 2 == 0 { (i as f32 - 1.0) / 2.0 } else { (i as f32 - 2.0) / 4.0 }).collect();
        assert_eq!(y.data(), &want[..]);
        // invert undoes it.
        let mut back = registry::create(
            "Normalization",
            &json!({ "axis": [1], "mean": [1, 2], "variance": [4, 16], "invert": true }),
        )
        .unwrap();
        back.build_on(&[2, 3], &mut Rng::new(1)).unwrap();
        assert_eq!(run(back.as_mut(), &y), x);
        // axis null: one scalar; a zero variance is floored, not divided by.
        let mut s = registry::create("Normalization", &json!({ "axis": null, "mean": 3, "variance": 0 })).unwrap();
        s.build_on(&[2, 3], &mut Rng::new(1)).unwrap();
        assert_eq!(s.state()[0].value.shape(), &[1]);
        assert!(run(s.as_mut(), &x).data().iter().all(|v| v.is_finite()));
        assert_eq!(
            registry::create("Normalization", &json!({})).unwrap().config(),
            json!({ "axis": [-1], "mean": null, "variance": null, "invert": false })
        );
    }

    #[test]
    fn the_gradient_is_the_scale_per_feature() {
        use crate::autograd::gradcheck::Check;
        let x = Tensor::new((0..24).map(|v| (v * 5 % 7) as f32 * 0.3).collect(), &[2, 3, 4]).unwrap();
        let mut l =
            registry::create("Normalization", &json!({ "axis": [-2], "mean": [1, 0, -1], "variance": [0.5, 2, 3] }))
                .unwrap();
        l.build_on(&[3, 4], &mut Rng::new(1)).unwrap();
        Check::default().run("normalization", &[x], move |t, v| {
            let mut rng = Rng::new(1);
            let mut ctx = Ctx { tape: t, training: true, rng: &mut rng, logits: false };
            l.clone_box().forward(&mut ctx, &[v[0]], &[])
        });
    }

    #[test]
    fn bad_options_and_data_are_typed_errors() {
        let err = |v: Json| registry::create("Normalization", &v).err().unwrap().message;
        assert!(err(json!({ "mean": 1 })).contains("'mean' and 'variance' are given together"));
        assert!(err(json!({ "mean": 1, "variance": -1 })).contains("must not be negative"));
        assert!(err(json!({ "axis": "last" })).contains("an integer, a list of integers or null"));
        let l = registry::create("Normalization", &json!({ "axis": 3 })).unwrap();
        assert!(l.output_shape(&[&[4, 2]]).unwrap_err().message.contains("option 'axis': 3 is out of range"));
        let l = registry::create("Normalization", &json!({ "mean": [1, 2], "variance": [1, 2] })).unwrap();
        assert!(l.output_shape(&[&[4, 3]]).unwrap_err().message.contains("needs 1 or one per feature, 3"));
        assert!(Moments::new("Normalization", &json!({ "mean": 0, "variance": 1 }), &[3])
            .err()
            .unwrap()
            .message
            .contains("cannot adapt"));
        assert!(Moments::new("Dense", &json!({ "units": 1 }), &[3])
            .err()
            .unwrap()
            .message
            .contains("Dense has nothing to adapt"));
        let mut m = Moments::new("Normalization", &json!({}), &[3]).unwrap();
        assert!(m
            .update(&Tensor::zeros(&[2, 4]))
            .unwrap_err()
            .message
            .contains("a batch of shape [2, 4] for examples of shape [batch, 3]"));
        let nan = Tensor::new(vec![1.0, f32::NAN, 0.0], &[1, 3]).unwrap();
        assert!(m.update(&nan).unwrap_err().message.contains("not finite"));
        assert!(m.finish().unwrap_err().message.contains("no examples"));
    }
}
