//! Losses with Keras' names, options, maths and reduction.
//!
//! A loss is given by name (`"categoricalCrossentropy"`, Keras' `"categorical_crossentropy"`,
//! `"mse"`) or as Keras serializes it, `{ "className": "Huber", "config": { "delta": 0.5 } }`;
//! its options are declared once here and written back resolved.
//!
//! Every loss is a function of one row of the last axis (one example's classes or outputs),
//! and the batch is reduced as Keras' `sum_over_batch_size` does: the row losses, each
//! multiplied by its example's weight when weights are given, summed and divided by the
//! number of rows (not by the sum of the weights).

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::nn::config::{as_object, check_keys, describe, layer_config, Json, Map};
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// Keras clips probabilities to [ε, 1 − ε] before taking logs.
pub const EPSILON: f32 = 1e-7;

layer_config! {
    /// Options of the cross-entropies.
    pub struct CrossentropyConfig {
        /// The model's outputs are logits (no softmax or sigmoid applied).
        from_logits "fromLogits": bool = false,
        /// Targets move towards uniform: `y·(1 − s) + s/classes` (binary: `+ s/2`).
        label_smoothing "labelSmoothing": f32 = 0.0,
    }
}

layer_config! {
    pub struct HuberConfig {
        /// Where the loss turns from quadratic to linear.
        delta "delta": f32 = 1.0,
    }
}

layer_config! {
    /// For losses without options.
    pub struct NoOptions {}
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// One-hot targets `[batch, classes]`.
    CategoricalCrossentropy(CrossentropyConfig),
    /// Class indices `[batch]` (or `[batch, 1]`).
    SparseCategoricalCrossentropy(CrossentropyConfig),
    /// Targets in [0, 1], the model's output shape; mean over the last axis.
    BinaryCrossentropy(CrossentropyConfig),
    MeanSquaredError,
    MeanAbsoluteError,
    Huber(HuberConfig),
    /// `Σ y·log(y/p)` over the last axis, both clipped to [ε, 1].
    KlDivergence,
}

/// A loss by Keras class name, with the names it is also called by (TF.js' camelCase
/// functions, Keras' snake_case functions and short forms).
struct LossKind {
    class_name: &'static str,
    aliases: &'static [&'static str],
    make: fn(&Json) -> Result<Loss>,
}

const KINDS: &[LossKind] = &[
    LossKind {
        class_name: "CategoricalCrossentropy",
        aliases: &["categoricalCrossentropy", "categorical_crossentropy"],
        make: |c| Ok(Loss::CategoricalCrossentropy(CrossentropyConfig::from_json(c)?)),
    },
    LossKind {
        class_name: "SparseCategoricalCrossentropy",
        aliases: &["sparseCategoricalCrossentropy", "sparse_categorical_crossentropy"],
        make: |c| Ok(Loss::SparseCategoricalCrossentropy(CrossentropyConfig::from_json(c)?)),
    },
    LossKind {
        class_name: "BinaryCrossentropy",
        aliases: &["binaryCrossentropy", "binary_crossentropy"],
        make: |c| Ok(Loss::BinaryCrossentropy(CrossentropyConfig::from_json(c)?)),
    },
    LossKind {
        class_name: "MeanSquaredError",
        aliases: &["meanSquaredError", "mean_squared_error", "mse"],
        make: |c| NoOptions::from_json(c).map(|_| Loss::MeanSquaredError),
    },
    LossKind {
        class_name: "MeanAbsoluteError",
        aliases: &["meanAbsoluteError", "mean_absolute_error", "mae"],
        make: |c| NoOptions::from_json(c).map(|_| Loss::MeanAbsoluteError),
    },
    LossKind {
        class_name: "Huber",
        aliases: &["huber", "huberLoss"],
        make: |c| Ok(Loss::Huber(HuberConfig::from_json(c)?)),
    },
    LossKind {
        class_name: "KLDivergence",
        aliases: &[
            "kld",
            "KLD",
            "kl_divergence",
            "klDivergence",
            "kullback_leibler_divergence",
            "kullbackLeiblerDivergence",
        ],
        make: |c| NoOptions::from_json(c).map(|_| Loss::KlDivergence),
    },
];

fn known_losses() -> String {
    KINDS.iter().map(|k| k.aliases[0]).collect::<Vec<_>>().join(", ")
}

impl Loss {
    /// A loss from a name or from `{ className, config }`.
    pub fn from_json(spec: &Json) -> Result<Loss> {
        let empty = Json::Object(Map::new());
        let (kind, config) = match spec {
            Json::String(name) => {
                let kind = KINDS.iter().find(|k| k.class_name == name || k.aliases.contains(&name.as_str()));
                (kind.ok_or_else(|| Error::argument(format!("unknown loss '{name}' ({})", known_losses())))?, &empty)
            }
            Json::Object(obj) => {
                check_keys(obj, &["className", "config"])?;
                let name = obj.get("className").and_then(Json::as_str).ok_or_else(|| {
                    Error::argument(format!("a loss object needs a 'className' string, got {}", describe(spec)))
                })?;
                let kind = KINDS.iter().find(|k| k.class_name == name).ok_or_else(|| {
                    let classes: Vec<&str> = KINDS.iter().map(|k| k.class_name).collect();
                    Error::argument(format!("unknown loss class '{name}' (known: {})", classes.join(", ")))
                })?;
                (kind, obj.get("config").unwrap_or(&empty))
            }
            _ => {
                return Err(Error::argument(format!(
                    "loss must be a name ({}) or {{ className, config }}, got {}",
                    known_losses(),
                    describe(spec)
                )))
            }
        };
        as_object(config)?;
        let loss =
            (kind.make)(config).map_err(|e| Error::argument(format!("loss {}: {}", kind.class_name, e.message)))?;
        loss.check().map_err(|e| Error::argument(format!("loss {}: {}", kind.class_name, e.message)))?;
        Ok(loss)
    }

    /// A loss by name with its defaults.
    pub fn parse(name: &str) -> Result<Loss> {
        Loss::from_json(&Json::String(name.to_string()))
    }

    fn check(&self) -> Result<()> {
        match self {
            Loss::CategoricalCrossentropy(c) | Loss::SparseCategoricalCrossentropy(c) | Loss::BinaryCrossentropy(c) => {
                if !(0.0..=1.0).contains(&c.label_smoothing) {
                    return Err(Error::argument(format!(
                        "labelSmoothing must be in [0, 1], got {}",
                        c.label_smoothing
                    )));
                }
            }
            Loss::Huber(h) if h.delta <= 0.0 => {
                return Err(Error::argument(format!("delta must be positive, got {}", h.delta)));
            }
            _ => {}
        }
        Ok(())
    }

    pub fn class_name(&self) -> &'static str {
        match self {
            Loss::CategoricalCrossentropy(_) => "CategoricalCrossentropy",
            Loss::SparseCategoricalCrossentropy(_) => "SparseCategoricalCrossentropy",
            Loss::BinaryCrossentropy(_) => "BinaryCrossentropy",
            Loss::MeanSquaredError => "MeanSquaredError",
            Loss::MeanAbsoluteError => "MeanAbsoluteError",
            Loss::Huber(_) => "Huber",
            Loss::KlDivergence => "KLDivergence",
        }
    }

    /// `{ className, config }` with every option resolved.
    pub fn to_json(&self) -> Json {
        let config = match self {
            Loss::CategoricalCrossentropy(c) | Loss::SparseCategoricalCrossentropy(c) | Loss::BinaryCrossentropy(c) => {
                c.to_json()
            }
            Loss::Huber(h) => h.to_json(),
            _ => Json::Object(Map::new()),
        };
        serde_json::json!({ "className": self.class_name(), "config": config })
    }

    /// Targets are class indices, made one-hot per batch.
    pub fn sparse(&self) -> bool {
        matches!(self, Loss::SparseCategoricalCrossentropy(_))
    }

    /// A softmax ending the model may be fused into this loss (computed from its logits,
    /// as a stable log-softmax): a categorical cross-entropy on probabilities.
    pub fn fuses_softmax(&self) -> bool {
        matches!(self, Loss::CategoricalCrossentropy(c) | Loss::SparseCategoricalCrossentropy(c) if !c.from_logits)
    }

    /// The loss of a batch: `pred` (the model's output, or with `fused` the logits of its
    /// final softmax) against dense `targets` of the same shape (sparse labels already made
    /// one-hot), weighted per example by `weights`. Returns the loss and the predictions as
    /// the model outputs them (probabilities when fused), for the metrics.
    pub fn compute(
        &self,
        tape: &mut Tape,
        pred: Var,
        targets: &Tensor,
        weights: Option<&[f32]>,
        fused: bool,
    ) -> Result<(Var, Tensor)> {
        let p = tape.value(pred);
        if p.shape() != targets.shape() || p.rank() < 2 {
            return Err(Error::shape(format!(
                "{}: predictions {} and targets {} must have the same shape [batch, ..., outputs]",
                self.class_name(),
                shape_str(p.shape()),
                shape_str(targets.shape())
            )));
        }
        let n = p.shape()[0];
        if let Some(w) = weights {
            if w.len() != n {
                return Err(Error::shape(format!("{} sample weights for a batch of {n}", w.len())));
            }
        }
        let c = *p.shape().last().expect("rank ≥ 2");
        let rows = p.len() / c.max(1);
        let per_example = rows / n.max(1);
        let mut grad = vec![0.0f32; p.len()];
        let mut shown = if fused { vec![0.0f32; p.len()] } else { Vec::new() };
        let mut total = 0.0f64;
        let mut smoothed = vec![0.0f32; c];
        for r in 0..rows {
            let span = r * c..(r + 1) * c;
            let (x, y, g) = (&p.data()[span.clone()], &targets.data()[span.clone()], &mut grad[span.clone()]);
            let y = self.smooth(y, &mut smoothed);
            let row_loss = if fused { softmax_crossentropy_row(x, y, g, &mut shown[span]) } else { self.row(x, y, g) };
            let w = weights.map_or(1.0, |w| w[r / per_example]);
            total += w as f64 * row_loss;
            let scale = w / rows as f32;
            g.iter_mut().for_each(|v| *v *= scale);
        }
        let shown = if fused { Tensor::new(shown, p.shape())? } else { p.clone() };
        let grad = Tensor::new(grad, p.shape())?;
        let value = Tensor::scalar((total / rows.max(1) as f64) as f32);
        let var = tape.push(value, &[pred], Box::new(move |g, _, _| vec![Some(grad.map(|v| v * g.data()[0]))]));
        Ok((var, shown))
    }

    /// The targets with label smoothing applied (borrowed unchanged without it).
    fn smooth<'a>(&self, y: &'a [f32], buf: &'a mut [f32]) -> &'a [f32] {
        let (s, towards) = match self {
            Loss::CategoricalCrossentropy(c) | Loss::SparseCategoricalCrossentropy(c) => {
                (c.label_smoothing, 1.0 / y.len() as f32)
            }
            Loss::BinaryCrossentropy(c) => (c.label_smoothing, 0.5),
            _ => (0.0, 0.0),
        };
        if s == 0.0 {
            return y;
        }
        buf.iter_mut().zip(y).for_each(|(b, &t)| *b = t * (1.0 - s) + s * towards);
        buf
    }

    /// The loss of one row and, into `g`, its gradient with respect to the row.
    fn row(&self, x: &[f32], y: &[f32], g: &mut [f32]) -> f64 {
        let c = x.len() as f32;
        let clip = |p: f32| p.clamp(EPSILON, 1.0 - EPSILON);
        let inside = |p: f32| p > EPSILON && p < 1.0 - EPSILON;
        match self {
            Loss::CategoricalCrossentropy(o) | Loss::SparseCategoricalCrossentropy(o) => {
                if o.from_logits {
                    let mut probs = vec![0.0; x.len()];
                    softmax_crossentropy_row(x, y, g, &mut probs)
                } else {
                    probability_crossentropy_row(x, y, g)
                }
            }
            Loss::BinaryCrossentropy(o) => {
                let mut loss = 0.0f64;
                for ((&x, &y), g) in x.iter().zip(y).zip(g.iter_mut()) {
                    if o.from_logits {
                        // max(x, 0) − x·y + log(1 + e^−|x|): no overflow for any x.
                        loss += (x.max(0.0) - x * y + (-x.abs()).exp().ln_1p()) as f64;
                        *g = (1.0 / (1.0 + (-x).exp()) - y) / c;
                    } else {
                        let p = clip(x);
                        loss -= (y * p.ln() + (1.0 - y) * (1.0 - p).ln()) as f64;
                        *g = if inside(x) { (-y / p + (1.0 - y) / (1.0 - p)) / c } else { 0.0 };
                    }
                }
                loss / c as f64
            }
            Loss::MeanSquaredError => {
                let mut loss = 0.0f64;
                for ((&x, &y), g) in x.iter().zip(y).zip(g.iter_mut()) {
                    loss += ((x - y) * (x - y)) as f64;
                    *g = 2.0 * (x - y) / c;
                }
                loss / c as f64
            }
            Loss::MeanAbsoluteError => {
                let mut loss = 0.0f64;
                for ((&x, &y), g) in x.iter().zip(y).zip(g.iter_mut()) {
                    loss += (x - y).abs() as f64;
                    *g = sign(x - y) / c;
                }
                loss / c as f64
            }
            Loss::Huber(h) => {
                let mut loss = 0.0f64;
                for ((&x, &y), g) in x.iter().zip(y).zip(g.iter_mut()) {
                    let d = x - y;
                    if d.abs() <= h.delta {
                        loss += (0.5 * d * d) as f64;
                        *g = d / c;
                    } else {
                        loss += (h.delta * (d.abs() - 0.5 * h.delta)) as f64;
                        *g = h.delta * sign(d) / c;
                    }
                }
                loss / c as f64
            }
            Loss::KlDivergence => {
                let mut loss = 0.0f64;
                for ((&x, &y), g) in x.iter().zip(y).zip(g.iter_mut()) {
                    let (t, p) = (y.clamp(EPSILON, 1.0), x.clamp(EPSILON, 1.0));
                    loss += (t * (t / p).ln()) as f64;
                    *g = if x > EPSILON && x < 1.0 { -t / p } else { 0.0 };
                }
                loss
            }
        }
    }
}

fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// `−Σ y·log softmax(x)` through a stable log-sum-exp; the gradient is `softmax(x)·Σy − y`.
/// `probs` receives the softmax.
fn softmax_crossentropy_row(x: &[f32], y: &[f32], g: &mut [f32], probs: &mut [f32]) -> f64 {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = x.iter().map(|v| (v - max).exp()).sum();
    let lse = max + sum.ln();
    let y_sum: f32 = y.iter().sum();
    let mut loss = 0.0f64;
    for (((&x, &y), g), p) in x.iter().zip(y).zip(g.iter_mut()).zip(probs.iter_mut()) {
        loss -= (y * (x - lse)) as f64;
        *p = (x - lse).exp();
        *g = *p * y_sum - y;
    }
    loss
}

/// Keras' cross-entropy on probabilities: `q = p / Σp`, clipped to [ε, 1 − ε], then
/// `−Σ y·log q`. The gradient goes through the normalization, and is zero where clipped.
fn probability_crossentropy_row(p: &[f32], y: &[f32], g: &mut [f32]) -> f64 {
    let s: f32 = p.iter().sum();
    let mut loss = 0.0f64;
    // dL/dq_j, then dL/dp_k = (dL/dq_k − Σ_j dL/dq_j·q_j) / s.
    let mut dot = 0.0f32;
    for ((&p, &y), g) in p.iter().zip(y).zip(g.iter_mut()) {
        let q = p / s;
        let qc = q.clamp(EPSILON, 1.0 - EPSILON);
        loss -= (y * qc.ln()) as f64;
        *g = if q > EPSILON && q < 1.0 - EPSILON { -y / q } else { 0.0 };
        dot += *g * q;
    }
    g.iter_mut().for_each(|g| *g = (*g - dot) / s);
    loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;
    use crate::ops;
    use crate::rng::Rng;
    use serde_json::json;

    fn random(shape: &[usize], seed: u64, low: f32, high: f32) -> Tensor {
        let mut r = Rng::new(seed);
        let n = shape.iter().product();
        Tensor::new((0..n).map(|_| r.uniform(low, high)).collect(), shape).unwrap()
    }

    fn value(loss: &Loss, pred: &Tensor, targets: &Tensor, weights: Option<&[f32]>) -> f32 {
        let mut t = Tape::new();
        let x = t.leaf(pred.clone(), false);
        let (l, _) = loss.compute(&mut t, x, targets, weights, false).unwrap();
        t.value(l).data()[0]
    }

    #[test]
    fn every_loss_passes_a_gradient_check() {
        let probs = random(&[3, 2, 4], 1, 0.05, 0.95);
        // Targets 0.05 to 0.4 away from the predictions: |p − y| has a kink at 0.
        let offsets = random(&[3, 2, 4], 2, 0.05, 0.4);
        let mut sign = Rng::new(4);
        let targets = Tensor::new(
            probs
                .data()
                .iter()
                .zip(offsets.data())
                .map(|(p, o)| (p + o * if sign.uniform(-1.0, 1.0) < 0.0 { -1.0 } else { 1.0 }).clamp(0.0, 1.0))
                .collect(),
            probs.shape(),
        )
        .unwrap();
        let logits = random(&[3, 2, 4], 3, -2.0, 2.0);
        let weights = [0.5, 2.0, 1.0];
        let check = Check::default();
        for spec in [
            json!("categoricalCrossentropy"),
            json!({ "className": "CategoricalCrossentropy", "config": { "labelSmoothing": 0.1 } }),
            json!({ "className": "CategoricalCrossentropy", "config": { "fromLogits": true } }),
            json!("binaryCrossentropy"),
            json!({ "className": "BinaryCrossentropy", "config": { "fromLogits": true, "labelSmoothing": 0.2 } }),
            json!("mse"),
            json!("mae"),
            json!({ "className": "Huber", "config": { "delta": 0.3 } }),
            json!("kld"),
        ] {
            let loss = Loss::from_json(&spec).unwrap();
            let logit_input = matches!(loss,
                Loss::CategoricalCrossentropy(c) | Loss::BinaryCrossentropy(c) if c.from_logits);
            let input = if logit_input { &logits } else { &probs };
            check.run(&format!("{spec}"), &[input.clone()], |t, v| {
                Ok(loss.compute(t, v[0], &targets, Some(&weights), false)?.0)
            });
        }
        // The fused path: logits of a final softmax.
        let loss = Loss::parse("categorical_crossentropy").unwrap();
        check.run("fused", &[logits.clone()], |t, v| Ok(loss.compute(t, v[0], &targets, None, true)?.0));
    }

    #[test]
    fn values_follow_keras_formulas() {
        // Keras: CategoricalCrossentropy()([[0, 1, 0]], [[0.05, 0.95, 0]]) = 0.0513 (≈ −log 0.95).
        let y = Tensor::new(vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]).unwrap();
        let p = Tensor::new(vec![0.05, 0.95, 0.0, 0.1, 0.8, 0.1], &[2, 3]).unwrap();
        let cce = value(&Loss::parse("categoricalCrossentropy").unwrap(), &p, &y, None);
        assert!((cce - 1.177).abs() < 1e-3, "{cce}"); // the docs example: 1.177
                                                      // Keras docs: MeanAbsoluteError()([[0, 1], [0, 0]], [[1, 1], [1, 0]]) = 0.5, MSE too;
                                                      // Huber()(same) = 0.155 for y_pred [[0.6, 0.4], [0.4, 0.6]].
        let y = Tensor::new(vec![0.0, 1.0, 0.0, 0.0], &[2, 2]).unwrap();
        let p = Tensor::new(vec![1.0, 1.0, 1.0, 0.0], &[2, 2]).unwrap();
        assert_eq!(value(&Loss::parse("mae").unwrap(), &p, &y, None), 0.5);
        assert_eq!(value(&Loss::parse("mse").unwrap(), &p, &y, None), 0.5);
        let p = Tensor::new(vec![0.6, 0.4, 0.4, 0.6], &[2, 2]).unwrap();
        assert!((value(&Loss::parse("huber").unwrap(), &p, &y, None) - 0.155).abs() < 1e-6);
        // Sample weights multiply each example's loss; the divisor stays the batch size.
        let w = value(&Loss::parse("mse").unwrap(), &p, &y, Some(&[1.0, 0.0]));
        let first = ((0.6f32 * 0.6 + 0.6 * 0.6) / 2.0) / 2.0;
        assert!((w - first).abs() < 1e-6, "{w} vs {first}");
        // Keras docs: BinaryCrossentropy()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]) = 0.815.
        assert!((value(&Loss::parse("binaryCrossentropy").unwrap(), &p, &y, None) - 0.815).abs() < 1e-3);
    }

    #[test]
    fn fused_and_probability_forms_agree() {
        let logits = random(&[4, 5], 7, -3.0, 3.0);
        let y = ops::loss::one_hot(&[0, 4, 2, 2], 5).unwrap();
        let mut t = Tape::new();
        let x = t.leaf(logits.clone(), false);
        let probs = ops::softmax(&mut t, x).unwrap();
        let loss = Loss::parse("categoricalCrossentropy").unwrap();
        let (a, shown) = loss.compute(&mut t, x, &y, None, true).unwrap();
        let (b, _) = loss.compute(&mut t, probs, &y, None, false).unwrap();
        assert!((t.value(a).data()[0] - t.value(b).data()[0]).abs() < 1e-5);
        let diff = shown.data().iter().zip(t.value(probs).data()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff < 1e-6, "metrics see the probabilities: {diff}");
    }

    #[test]
    fn names_configs_and_bad_input() {
        assert_eq!(Loss::parse("mse").unwrap(), Loss::MeanSquaredError);
        assert_eq!(Loss::parse("categorical_crossentropy").unwrap(), Loss::parse("categoricalCrossentropy").unwrap());
        let huber = Loss::from_json(&json!({ "className": "Huber", "config": { "delta": 2 } })).unwrap();
        assert_eq!(huber.to_json(), json!({ "className": "Huber", "config": { "delta": 2.0 } }));
        assert_eq!(Loss::from_json(&huber.to_json()).unwrap(), huber);
        let err = |v: Json| Loss::from_json(&v).unwrap_err().message;
        assert!(
            err(json!("hinge")).starts_with("unknown loss 'hinge' (categoricalCrossentropy, "),
            "{}",
            err(json!("hinge"))
        );
        assert!(err(json!(5)).contains("loss must be a name"));
        assert!(err(json!({ "className": "Huber", "config": { "delta": -1 } }))
            .contains("loss Huber: delta must be positive"));
        assert!(err(json!({ "className": "Huber", "config": { "delta": "1" } }))
            .contains("option 'delta' must be a finite number"));
        assert!(err(json!({ "className": "BinaryCrossentropy", "config": { "labelSmoothing": 2 } }))
            .contains("labelSmoothing"));
        assert!(err(json!({ "className": "MeanSquaredError", "config": { "fromLogits": true } }))
            .contains("unknown option 'fromLogits'"));
        assert!(err(json!({ "name": "mse" })).contains("unknown option 'name'"));
        let mut t = Tape::new();
        let x = t.leaf(Tensor::zeros(&[2, 3]), false);
        let e = Loss::MeanSquaredError.compute(&mut t, x, &Tensor::zeros(&[2, 4]), None, false).unwrap_err();
        assert!(e.message.contains("[2, 3]") && e.message.contains("[2, 4]"), "{}", e.message);
    }
}
