//! Metrics with Keras' names and maths, computed in the core for every batch and aggregated
//! over an epoch as Keras does: the means weight each row (one example's outputs) equally,
//! and precision, recall and AUC come from the epoch's summed counts, not from an average of
//! per-batch values.
//!
//! A metric is given by name (`"accuracy"`, `"mae"`, TF.js' `"categoricalAccuracy"`, Keras'
//! `"categorical_accuracy"`) or as `{ "className": "TopKCategoricalAccuracy", "config":
//! { "k": 3, "name": "top3" } }`. It is logged under the name given (`"accuracy"`, `"mae"`), or
//! for camelCase names and objects under Keras' snake_case name (`"top_k_categorical_accuracy"`).

use crate::error::Error;
use crate::losses::Loss;
use crate::nn::config::{as_object, check_keys, describe, layer_config, ConfigValue, Json, Map};
use crate::tensor::shape_str;
use crate::{Result, Tensor};

layer_config! {
    pub struct ThresholdConfig {
        /// A prediction above it counts as positive.
        threshold "threshold": f32 = 0.5,
    }
}

layer_config! {
    pub struct TopKConfig {
        k "k": usize = 5,
    }
}

layer_config! {
    pub struct AucConfig {
        num_thresholds "numThresholds": usize = 200,
        curve "curve": Curve = Curve::Roc,
    }
}

layer_config! {
    pub struct NoOptions {}
}

/// The curve an AUC integrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// True-positive rate against false-positive rate.
    Roc,
    /// Precision against recall.
    Pr,
}

impl ConfigValue for Curve {
    const EXPECTED: &'static str = "'ROC' or 'PR'";
    fn read(v: &Json) -> Option<Self> {
        match v.as_str()? {
            "ROC" => Some(Curve::Roc),
            "PR" => Some(Curve::Pr),
            _ => None,
        }
    }
    fn write(&self) -> Json {
        Json::from(if *self == Curve::Roc { "ROC" } else { "PR" })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    BinaryAccuracy(ThresholdConfig),
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy(TopKConfig),
    MeanAbsoluteError,
    MeanSquaredError,
    Precision(ThresholdConfig),
    Recall(ThresholdConfig),
    Auc(AucConfig),
}

/// Class name, Keras' snake_case name (the default log name), other names it is given by.
const NAMES: &[(&str, &str, &[&str])] = &[
    ("BinaryAccuracy", "binary_accuracy", &["binaryAccuracy"]),
    ("CategoricalAccuracy", "categorical_accuracy", &["categoricalAccuracy"]),
    ("SparseCategoricalAccuracy", "sparse_categorical_accuracy", &["sparseCategoricalAccuracy"]),
    ("TopKCategoricalAccuracy", "top_k_categorical_accuracy", &["topKCategoricalAccuracy"]),
    ("MeanAbsoluteError", "mean_absolute_error", &["meanAbsoluteError", "mae"]),
    ("MeanSquaredError", "mean_squared_error", &["meanSquaredError", "mse"]),
    ("Precision", "precision", &[]),
    ("Recall", "recall", &[]),
    ("AUC", "auc", &[]),
];

/// What a metric sums over the batches of an epoch.
#[derive(Clone, Debug, PartialEq)]
enum Counts {
    Mean {
        total: f64,
        count: f64,
    },
    Confusion {
        tp: f64,
        fp: f64,
        fn_: f64,
    },
    /// Per threshold, for AUC.
    Curve {
        tp: Vec<f64>,
        fp: Vec<f64>,
        tn: Vec<f64>,
        fn_: Vec<f64>,
    },
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        match (self, other) {
            (Counts::Mean { total, count }, Counts::Mean { total: t, count: c }) => {
                *total += t;
                *count += c;
            }
            (Counts::Confusion { tp, fp, fn_ }, Counts::Confusion { tp: a, fp: b, fn_: c }) => {
                *tp += a;
                *fp += b;
                *fn_ += c;
            }
            (Counts::Curve { tp, fp, tn, fn_ }, Counts::Curve { tp: a, fp: b, tn: c, fn_: d }) => {
                for (x, y) in [(tp, a), (fp, b), (tn, c), (fn_, d)] {
                    x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
                }
            }
            _ => unreachable!("a metric's counts keep their form"),
        }
    }
}

/// `a / b`, 0 when `b` is 0 (Keras' `divide_no_nan`).
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

#[derive(Clone, Debug)]
pub struct Metric {
    name: String,
    kind: Kind,
    epoch: Counts,
}

fn known_names() -> String {
    let mut names = vec!["accuracy", "acc"];
    names.extend(NAMES.iter().flat_map(|(_, _, aliases)| aliases.iter().copied()));
    names.join(", ")
}

impl Metric {
    /// A metric from a name or `{ className, config }`. `"accuracy"` becomes binary,
    /// sparse-categorical or categorical accuracy as in Keras: binary for one output,
    /// sparse for a sparse loss, categorical otherwise.
    pub fn from_json(spec: &Json, loss: &Loss, output_shape: &[usize]) -> Result<Metric> {
        let outputs = output_shape.last().copied().unwrap_or(1);
        let empty = Json::Object(Map::new());
        let (class_name, logged, config) = match spec {
            Json::String(s) if s == "accuracy" || s == "acc" => {
                let class = if outputs == 1 {
                    "BinaryAccuracy"
                } else if loss.sparse() {
                    "SparseCategoricalAccuracy"
                } else {
                    "CategoricalAccuracy"
                };
                (class, s.clone(), &empty)
            }
            Json::String(s) => {
                let (class, snake, _) = NAMES
                    .iter()
                    .find(|(c, snake, aliases)| c == s || snake == s || aliases.contains(&s.as_str()))
                    .ok_or_else(|| Error::argument(format!("unknown metric '{s}' ({})", known_names())))?;
                // Keras logs a name as given; camelCase and class names under Keras' name.
                let short = matches!(s.as_str(), "mae" | "mse") || s == snake;
                (*class, if short { s.clone() } else { snake.to_string() }, &empty)
            }
            Json::Object(obj) => {
                check_keys(obj, &["className", "config"])?;
                let class = obj.get("className").and_then(Json::as_str).ok_or_else(|| {
                    Error::argument(format!("a metric object needs a 'className' string, got {}", describe(spec)))
                })?;
                let (class, snake, _) = NAMES.iter().find(|(c, _, _)| *c == class).ok_or_else(|| {
                    let classes: Vec<&str> = NAMES.iter().map(|n| n.0).collect();
                    Error::argument(format!("unknown metric class '{class}' (known: {})", classes.join(", ")))
                })?;
                (*class, snake.to_string(), obj.get("config").unwrap_or(&empty))
            }
            _ => {
                return Err(Error::argument(format!(
                    "a metric must be a name ({}) or {{ className, config }}, got {}",
                    known_names(),
                    describe(spec)
                )))
            }
        };
        let fail = |e: Error| Error::argument(format!("metric {class_name}: {}", e.message));
        // `name` is common to every metric; the rest is the metric's own config.
        let mut config = as_object(config).map_err(fail)?.clone();
        let name = match config.remove("name") {
            None | Some(Json::Null) => logged,
            Some(Json::String(n)) if !n.is_empty() => n,
            Some(other) => {
                return Err(fail(Error::argument(format!(
                    "option 'name' must be a non-empty string, got {}",
                    describe(&other)
                ))))
            }
        };
        let config = Json::Object(config);
        let kind = match class_name {
            "BinaryAccuracy" => Kind::BinaryAccuracy(ThresholdConfig::from_json(&config).map_err(fail)?),
            "CategoricalAccuracy" => NoOptions::from_json(&config).map(|_| Kind::CategoricalAccuracy).map_err(fail)?,
            "SparseCategoricalAccuracy" => {
                NoOptions::from_json(&config).map(|_| Kind::SparseCategoricalAccuracy).map_err(fail)?
            }
            "TopKCategoricalAccuracy" => Kind::TopKCategoricalAccuracy(TopKConfig::from_json(&config).map_err(fail)?),
            "MeanAbsoluteError" => NoOptions::from_json(&config).map(|_| Kind::MeanAbsoluteError).map_err(fail)?,
            "MeanSquaredError" => NoOptions::from_json(&config).map(|_| Kind::MeanSquaredError).map_err(fail)?,
            "Precision" => Kind::Precision(ThresholdConfig::from_json(&config).map_err(fail)?),
            "Recall" => Kind::Recall(ThresholdConfig::from_json(&config).map_err(fail)?),
            "AUC" => Kind::Auc(AucConfig::from_json(&config).map_err(fail)?),
            _ => unreachable!("every class in NAMES is made here"),
        };
        match &kind {
            Kind::BinaryAccuracy(t) | Kind::Precision(t) | Kind::Recall(t) if !(0.0..=1.0).contains(&t.threshold) => {
                return Err(fail(Error::argument(format!("threshold must be in [0, 1], got {}", t.threshold))));
            }
            Kind::TopKCategoricalAccuracy(t) if t.k == 0 || t.k > outputs => {
                return Err(fail(Error::argument(format!(
                    "k must be in [1, {outputs}] for a model with {outputs} outputs, got {}",
                    t.k
                ))));
            }
            Kind::Auc(a) if a.num_thresholds < 2 || a.num_thresholds > 100_000 => {
                return Err(fail(Error::argument(format!(
                    "numThresholds must be in [2, 100000], got {}",
                    a.num_thresholds
                ))));
            }
            _ => {}
        }
        let epoch = Self::empty(&kind);
        Ok(Metric { name, kind, epoch })
    }

    fn empty(kind: &Kind) -> Counts {
        match kind {
            Kind::Precision(_) | Kind::Recall(_) => Counts::Confusion { tp: 0.0, fp: 0.0, fn_: 0.0 },
            Kind::Auc(a) => {
                let zeros = vec![0.0; a.num_thresholds];
                Counts::Curve { tp: zeros.clone(), fp: zeros.clone(), tn: zeros.clone(), fn_: zeros }
            }
            _ => Counts::Mean { total: 0.0, count: 0.0 },
        }
    }

    /// The name the logs carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn class_name(&self) -> &'static str {
        let i = match self.kind {
            Kind::BinaryAccuracy(_) => 0,
            Kind::CategoricalAccuracy => 1,
            Kind::SparseCategoricalAccuracy => 2,
            Kind::TopKCategoricalAccuracy(_) => 3,
            Kind::MeanAbsoluteError => 4,
            Kind::MeanSquaredError => 5,
            Kind::Precision(_) => 6,
            Kind::Recall(_) => 7,
            Kind::Auc(_) => 8,
        };
        NAMES[i].0
    }

    /// `{ className, config }`, the config resolved and with the name.
    pub fn to_json(&self) -> Json {
        let mut config = match &self.kind {
            Kind::BinaryAccuracy(t) | Kind::Precision(t) | Kind::Recall(t) => t.to_json(),
            Kind::TopKCategoricalAccuracy(k) => k.to_json(),
            Kind::Auc(a) => a.to_json(),
            _ => Json::Object(Map::new()),
        };
        config.as_object_mut().expect("configs are objects").insert("name".into(), Json::from(self.name.clone()));
        serde_json::json!({ "className": self.class_name(), "config": config })
    }

    /// Adds a batch (the model's outputs and dense targets of the same shape) to the epoch
    /// and returns the metric on this batch alone.
    pub fn update(&mut self, pred: &Tensor, targets: &Tensor) -> Result<f32> {
        if pred.shape() != targets.shape() || pred.rank() < 2 {
            return Err(Error::shape(format!(
                "metric '{}': predictions {} and targets {} must have the same shape",
                self.name,
                shape_str(pred.shape()),
                shape_str(targets.shape())
            )));
        }
        let batch = self.counts(pred, targets);
        self.epoch.add(&batch);
        Ok(self.value(&batch))
    }

    /// The metric over every batch since the last reset.
    pub fn result(&self) -> f32 {
        self.value(&self.epoch)
    }

    pub fn reset(&mut self) {
        self.epoch = Self::empty(&self.kind);
    }

    fn counts(&self, pred: &Tensor, targets: &Tensor) -> Counts {
        let c = *pred.shape().last().expect("rank ≥ 2");
        let rows = pred.data().chunks_exact(c).zip(targets.data().chunks_exact(c));
        let mean = |f: &dyn Fn(&[f32], &[f32]) -> f64| {
            let mut total = 0.0;
            let mut count = 0.0;
            for (p, y) in pred.data().chunks_exact(c).zip(targets.data().chunks_exact(c)) {
                total += f(p, y);
                count += 1.0;
            }
            Counts::Mean { total, count }
        };
        let argmax = |row: &[f32]| row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
        match &self.kind {
            Kind::BinaryAccuracy(t) => mean(&|p, y| {
                p.iter().zip(y).filter(|(&p, &y)| ((p > t.threshold) as u8 as f32) == y).count() as f64 / c as f64
            }),
            Kind::CategoricalAccuracy | Kind::SparseCategoricalAccuracy => {
                mean(&|p, y| (argmax(p) == argmax(y)) as u8 as f64)
            }
            // The true class is in the top k when fewer than k classes score higher (ties
            // at the boundary count as in, as TensorFlow's in_top_k).
            Kind::TopKCategoricalAccuracy(t) => mean(&|p, y| {
                let target = p[argmax(y)];
                (p.iter().filter(|&&v| v > target).count() < t.k) as u8 as f64
            }),
            Kind::MeanAbsoluteError => {
                mean(&|p, y| p.iter().zip(y).map(|(p, y)| (p - y).abs() as f64).sum::<f64>() / c as f64)
            }
            Kind::MeanSquaredError => {
                mean(&|p, y| p.iter().zip(y).map(|(p, y)| ((p - y) * (p - y)) as f64).sum::<f64>() / c as f64)
            }
            Kind::Precision(t) | Kind::Recall(t) => {
                let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
                for (p, y) in rows {
                    for (&p, &y) in p.iter().zip(y) {
                        match (p > t.threshold, y != 0.0) {
                            (true, true) => tp += 1.0,
                            (true, false) => fp += 1.0,
                            (false, true) => fn_ += 1.0,
                            (false, false) => {}
                        }
                    }
                }
                Counts::Confusion { tp, fp, fn_ }
            }
            Kind::Auc(a) => {
                let thresholds = auc_thresholds(a.num_thresholds);
                let k = thresholds.len();
                let (mut tp, mut fp, mut tn, mut fn_) = (vec![0.0; k], vec![0.0; k], vec![0.0; k], vec![0.0; k]);
                for (&p, &y) in pred.data().iter().zip(targets.data()) {
                    // Thresholds ascend: the prediction is positive for the first `above` of them.
                    let above = thresholds.partition_point(|&t| p > t);
                    let (hit, miss) = if y != 0.0 { (&mut tp, &mut fn_) } else { (&mut fp, &mut tn) };
                    hit[..above].iter_mut().for_each(|v| *v += 1.0);
                    miss[above..].iter_mut().for_each(|v| *v += 1.0);
                }
                Counts::Curve { tp, fp, tn, fn_ }
            }
        }
    }

    fn value(&self, counts: &Counts) -> f32 {
        (match (counts, &self.kind) {
            (Counts::Mean { total, count }, _) => ratio(*total, *count),
            (Counts::Confusion { tp, fp, .. }, Kind::Precision(_)) => ratio(*tp, tp + fp),
            (Counts::Confusion { tp, fn_, .. }, _) => ratio(*tp, tp + fn_),
            (Counts::Curve { tp, fp, tn, fn_ }, Kind::Auc(a)) => match a.curve {
                Curve::Roc => roc_auc(tp, fp, tn, fn_),
                Curve::Pr => pr_auc(tp, fp, fn_),
            },
            _ => unreachable!("counts match their metric"),
        }) as f32
    }
}

/// Metrics from their specs, checked against the loss and the model's output shape, with
/// distinct names (none may be `loss`).
pub fn from_specs(specs: &[Json], loss: &Loss, output_shape: &[usize]) -> Result<Vec<Metric>> {
    let metrics = specs.iter().map(|s| Metric::from_json(s, loss, output_shape)).collect::<Result<Vec<_>>>()?;
    for (i, m) in metrics.iter().enumerate() {
        if m.name() == "loss" || metrics[..i].iter().any(|o| o.name() == m.name()) {
            return Err(Error::argument(format!("two metrics are named '{}': give one a different `name`", m.name())));
        }
    }
    Ok(metrics)
}

/// Keras' AUC thresholds: evenly spaced in (0, 1), with −ε and 1 + ε at the ends so that
/// predictions of exactly 0 and 1 are counted.
fn auc_thresholds(n: usize) -> Vec<f32> {
    let inner = (1..n - 1).map(|i| i as f32 / (n - 1) as f32);
    std::iter::once(-1e-7).chain(inner).chain(std::iter::once(1.0 + 1e-7)).collect()
}

/// The ROC curve integrated by the trapezoid rule, over thresholds in ascending order
/// (from (1, 1) towards (0, 0)).
fn roc_auc(tp: &[f64], fp: &[f64], tn: &[f64], fn_: &[f64]) -> f64 {
    let tpr: Vec<f64> = tp.iter().zip(fn_).map(|(&t, &f)| ratio(t, t + f)).collect();
    let fpr: Vec<f64> = fp.iter().zip(tn).map(|(&f, &t)| ratio(f, f + t)).collect();
    (0..tp.len() - 1).map(|i| (fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2.0).sum()
}

/// The precision-recall curve integrated with Davis & Goadrich's interpolation (2006), as
/// Keras' `summation_method='interpolation'` does: between two thresholds precision is
/// interpolated along the true positives, which a straight line between the points is not.
fn pr_auc(tp: &[f64], fp: &[f64], fn_: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..tp.len() - 1 {
        let (p0, p1) = (tp[i] + fp[i], tp[i + 1] + fp[i + 1]);
        let dtp = tp[i] - tp[i + 1];
        let slope = ratio(dtp, (p0 - p1).max(0.0));
        let intercept = tp[i + 1] - slope * p1;
        let safe = if p0 > 0.0 && p1 > 0.0 { ratio(p0, p1.max(0.0)) } else { 1.0 };
        total += ratio(slope * (dtp + intercept * safe.ln()), (tp[i + 1] + fn_[i + 1]).max(0.0));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use serde_json::json;

    fn t(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::new(v.to_vec(), shape).unwrap()
    }
    fn cce() -> Loss {
        Loss::parse("categoricalCrossentropy").unwrap()
    }
    fn metric(spec: Json, outputs: usize) -> Metric {
        Metric::from_json(&spec, &cce(), &[outputs]).unwrap()
    }

    #[test]
    fn accuracies_follow_keras_docs() {
        // keras.metrics.CategoricalAccuracy: [[0,0,1],[0,1,0]] vs [[0.1,0.9,0.8],[0.05,0.95,0]] = 0.5
        let mut m = metric(json!("categoricalAccuracy"), 3);
        assert_eq!(m.name(), "categorical_accuracy");
        let y = t(&[0.0, 0.0, 1.0, 0.0, 1.0, 0.0], &[2, 3]);
        assert_eq!(m.update(&t(&[0.1, 0.9, 0.8, 0.05, 0.95, 0.0], &[2, 3]), &y).unwrap(), 0.5);
        // BinaryAccuracy: [[1],[1],[0],[0]] vs [[0.98],[1],[0],[0.6]] = 0.75
        let mut b = metric(json!("accuracy"), 1);
        assert_eq!((b.name(), b.class_name()), ("accuracy", "BinaryAccuracy"));
        assert_eq!(b.update(&t(&[0.98, 1.0, 0.0, 0.6], &[4, 1]), &t(&[1.0, 1.0, 0.0, 0.0], &[4, 1])).unwrap(), 0.75);
        // TopK k=1: [[0,0,1],[0,1,0]] vs [[0.1,0.9,0.8],[0.05,0.95,0]] = 0.5; with ties at the boundary in.
        let mut k = metric(json!({ "className": "TopKCategoricalAccuracy", "config": { "k": 1 } }), 3);
        assert_eq!(k.update(&t(&[0.1, 0.9, 0.8, 0.05, 0.95, 0.0], &[2, 3]), &y).unwrap(), 0.5);
        let mut k2 = metric(json!({ "className": "TopKCategoricalAccuracy", "config": { "k": 2, "name": "top2" } }), 3);
        assert_eq!(k2.name(), "top2");
        assert_eq!(k2.update(&t(&[0.1, 0.9, 0.8, 0.5, 0.5, 0.5], &[2, 3]), &y).unwrap(), 1.0);
        // "accuracy" with a sparse loss is sparse categorical accuracy.
        let sparse = Metric::from_json(&json!("acc"), &Loss::parse("sparseCategoricalCrossentropy").unwrap(), &[3]);
        assert_eq!(sparse.unwrap().class_name(), "SparseCategoricalAccuracy");
    }

    #[test]
    fn epoch_results_aggregate_counts_not_batch_values() {
        // Precision over two batches: batch 1 has 1 tp, 0 fp (1.0); batch 2 has 1 tp, 3 fp
        // (0.25). The epoch is 2 / 5, not the mean 0.625.
        let mut p = metric(json!("precision"), 1);
        assert_eq!(p.update(&t(&[0.9, 0.1], &[2, 1]), &t(&[1.0, 0.0], &[2, 1])).unwrap(), 1.0);
        assert_eq!(p.update(&t(&[0.9, 0.8, 0.7, 0.6], &[4, 1]), &t(&[1.0, 0.0, 0.0, 0.0], &[4, 1])).unwrap(), 0.25);
        assert!((p.result() - 0.4).abs() < 1e-7);
        // Means weight every row: 1 of 2 right, then 3 of 3: 4/5.
        let mut a = metric(json!("accuracy"), 2);
        a.update(&t(&[1.0, 0.0, 1.0, 0.0], &[2, 2]), &t(&[1.0, 0.0, 0.0, 1.0], &[2, 2])).unwrap();
        a.update(&t(&[0.0, 1.0, 0.0, 1.0, 1.0, 0.0], &[3, 2]), &t(&[0.0, 1.0, 0.0, 1.0, 1.0, 0.0], &[3, 2])).unwrap();
        assert!((a.result() - 0.8).abs() < 1e-7);
        a.reset();
        assert_eq!(a.result(), 0.0);
    }

    #[test]
    fn no_positives_give_zero_as_keras() {
        let zeros = t(&[0.0, 0.0, 0.0], &[3, 1]);
        let preds = t(&[0.2, 0.7, 0.1], &[3, 1]);
        let below = t(&[0.1, 0.2, 0.3], &[3, 1]);
        for name in ["precision", "recall", "auc"] {
            let mut m = metric(json!(name), 1);
            // Precision with nothing predicted positive; recall and AUC with no positive targets.
            let v = m.update(if name == "precision" { &below } else { &preds }, &zeros).unwrap();
            assert_eq!(v, 0.0, "{name}");
        }
    }

    /// ROC AUC by counting pairs: the chance a positive scores above a negative (ties half).
    fn exact_auc(p: &[f32], y: &[f32]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (a, _) in p.iter().zip(y).filter(|(_, &y)| y == 1.0) {
            for (b, _) in p.iter().zip(y).filter(|(_, &y)| y == 0.0) {
                pairs += 1.0;
                wins += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
        wins / pairs
    }

    #[test]
    fn auc_equals_pair_counting_when_thresholds_separate_the_scores() {
        // Scores halfway between Keras' thresholds (i/199): every distinct score has its own
        // threshold, so the trapezoid ROC is exactly the pair-counting AUC.
        let mut r = Rng::new(3);
        let n = 300;
        let y: Vec<f32> = (0..n).map(|_| (r.uniform(0.0, 1.0) < 0.4) as u8 as f32).collect();
        let p: Vec<f32> = y
            .iter()
            .map(|&y| {
                let score: f32 = (r.uniform(0.0, 1.0) + 0.3 * y).min(0.999);
                ((score * 199.0).floor() + 0.5) / 199.0
            })
            .collect();
        let mut m = metric(json!("auc"), 1);
        let got = m.update(&t(&p, &[n, 1]), &t(&y, &[n, 1])).unwrap() as f64;
        let want = exact_auc(&p, &y);
        assert!((got - want).abs() < 1e-5, "AUC {got} vs pair counting {want}");
        assert!(want > 0.6, "the scores carry signal: {want}");
        // Split into batches, the epoch's AUC is the same.
        let mut split = metric(json!("auc"), 1);
        split.update(&t(&p[..100], &[100, 1]), &t(&y[..100], &[100, 1])).unwrap();
        split.update(&t(&p[100..], &[200, 1]), &t(&y[100..], &[200, 1])).unwrap();
        assert!((split.result() as f64 - want).abs() < 1e-5);
    }

    #[test]
    fn pr_auc_of_a_perfect_ranking_is_one() {
        let mut m = metric(json!({ "className": "AUC", "config": { "curve": "PR" } }), 1);
        let v = m.update(&t(&[0.9, 0.8, 0.3, 0.2], &[4, 1]), &t(&[1.0, 1.0, 0.0, 0.0], &[4, 1])).unwrap();
        assert!((v - 1.0).abs() < 1e-6, "{v}");
    }

    #[test]
    fn means_and_bad_specs() {
        let mut mae = metric(json!("mae"), 2);
        assert_eq!(mae.name(), "mae");
        assert_eq!(mae.update(&t(&[1.0, 1.0, 1.0, 0.0], &[2, 2]), &t(&[0.0, 1.0, 0.0, 0.0], &[2, 2])).unwrap(), 0.5);
        let mse = metric(json!("meanSquaredError"), 2);
        assert_eq!(mse.name(), "mean_squared_error");
        assert_eq!(
            metric(json!({ "className": "AUC" }), 1).to_json(),
            json!({ "className": "AUC", "config": { "numThresholds": 200, "curve": "ROC", "name": "auc" } })
        );
        let err = |spec: Json, outputs: usize| Metric::from_json(&spec, &cce(), &[outputs]).unwrap_err().message;
        assert!(err(json!("f1"), 3).starts_with("unknown metric 'f1' (accuracy, acc, "));
        assert!(err(json!({ "className": "TopKCategoricalAccuracy", "config": { "k": 4 } }), 3)
            .contains("metric TopKCategoricalAccuracy: k must be in [1, 3] for a model with 3 outputs, got 4"));
        assert!(err(json!({ "className": "Precision", "config": { "threshold": 2 } }), 1)
            .contains("threshold must be in [0, 1]"));
        assert!(err(json!({ "className": "AUC", "config": { "curve": "XY" } }), 1).contains("'ROC' or 'PR'"));
        assert!(err(json!({ "className": "Recall", "config": { "thresholds": 0.5 } }), 1)
            .contains("unknown option 'thresholds'"));
        assert!(err(json!(7), 1).contains("a metric must be a name"));
        let mut m = metric(json!("accuracy"), 2);
        assert!(m.update(&t(&[1.0, 0.0], &[1, 2]), &t(&[1.0], &[1, 1])).is_err());
    }
}
