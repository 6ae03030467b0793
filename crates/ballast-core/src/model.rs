//! A compiled model: a graph of layers with a loss and an optimizer, and the training
//! step that runs entirely in the core (forward, backward, update) so each batch crosses the
//! JS/WASM boundary once.

use std::borrow::Borrow;

use crate::autograd::Tape;
use crate::data::Source;
use crate::error::Error;
use crate::graph::Graph;
use crate::health::{norm, Clipping, LayerHealth};
pub use crate::losses::Loss;
use crate::metrics::Metric;
use crate::nn::BatchNorm;
use crate::ops::loss::one_hot;
use crate::optim::Optimizer;
use crate::parallel;
use crate::profile::{now_ms, LayerTime, StepProfile};
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// The loss of one batch and each metric's value on it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepStats {
    pub loss: f32,
    /// In the order of [`Model::metrics`].
    pub metrics: Vec<f32>,
}

pub struct Model {
    pub net: Graph,
    pub loss: Loss,
    pub optimizer: Box<dyn Optimizer>,
    /// Computed for every batch and summed over an epoch (see [`crate::metrics`]).
    metrics: Vec<Metric>,
    /// Sum and count of the batch losses since the last reset, weighted by batch size.
    loss_sum: (f64, f64),
    /// Per-class weights of the loss (Keras' `class_weight`), by class index.
    class_weight: Option<Vec<f32>>,
    rng: Rng,
    profile: StepProfile,
    pub clipping: Clipping,
    /// Compute per-layer gradient, weight and update norms each step (on by default; the
    /// NaN/Inf checks run either way).
    pub track_health: bool,
    health: Vec<LayerHealth>,
}

impl Model {
    /// `seed` drives dropout; the same seed and thread count repeat a run exactly.
    pub fn new(net: Graph, loss: Loss, optimizer: Box<dyn Optimizer>, seed: u64) -> Result<Model> {
        // Training needs one input and one output.
        net.input_shape()?;
        Ok(Model {
            net,
            loss,
            optimizer,
            metrics: Vec::new(),
            loss_sum: (0.0, 0.0),
            class_weight: None,
            rng: Rng::new(seed ^ 0x5EED_D20F),
            profile: StepProfile::default(),
            clipping: Clipping::default(),
            track_health: true,
            health: Vec::new(),
        })
    }

    /// Sets the metrics (see [`crate::metrics::from_specs`]) and resets the epoch's sums.
    pub fn set_metrics(&mut self, metrics: Vec<Metric>) {
        self.metrics = metrics;
        self.reset_metrics();
    }

    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// Starts a new epoch (or evaluation) for the loss mean and every metric.
    pub fn reset_metrics(&mut self) {
        self.loss_sum = (0.0, 0.0);
        self.metrics.iter_mut().for_each(Metric::reset);
    }

    /// The mean loss and each metric over the batches since the last reset, named as the
    /// logs carry them (`loss` first).
    pub fn metric_results(&self) -> Vec<(String, f32)> {
        let (sum, count) = self.loss_sum;
        let loss = if count > 0.0 { (sum / count) as f32 } else { 0.0 };
        std::iter::once(("loss".to_string(), loss))
            .chain(self.metrics.iter().map(|m| (m.name().to_string(), m.result())))
            .collect()
    }

    /// Weights of the loss per class (Keras' `class_weight`), as (class index, weight) pairs;
    /// classes not given weigh 1, and an empty list means none. A model with one output
    /// classifies binarily, classes 0 and 1. All or nothing: a bad pair changes nothing.
    pub fn set_class_weight(&mut self, given: &[(f64, f32)]) -> Result<()> {
        if given.is_empty() {
            self.class_weight = None;
            return Ok(());
        }
        let outputs = self.net.output_shape()?.last().copied().unwrap_or(1);
        let classes = if outputs == 1 { 2 } else { outputs };
        let mut weights = vec![1.0; classes];
        for &(class, w) in given {
            if !(class >= 0.0 && class.fract() == 0.0 && class < classes as f64) {
                return Err(Error::argument(format!(
                    "classWeight has class {class}, but the model has classes 0 to {}",
                    classes - 1
                )));
            }
            if !(w.is_finite() && w >= 0.0) {
                return Err(Error::argument(format!(
                    "classWeight for class {class} must be a non-negative number, got {w}"
                )));
            }
            weights[class as usize] = w;
        }
        self.class_weight = Some(weights);
        Ok(())
    }

    /// Per-example weights of the loss: the sample weights given, times the class weight of
    /// each example's class (the arg-max of its target row; for one output, 0 or 1).
    fn example_weights(&self, targets: &Tensor, sample_weight: Option<&[f32]>) -> Result<Option<Vec<f32>>> {
        let n = targets.shape()[0];
        if let Some(w) = sample_weight {
            if w.len() != n {
                return Err(Error::shape(format!("{} sample weights for a batch of {n} examples", w.len())));
            }
            if let Some((i, v)) = w.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
                return Err(Error::argument(format!("sample weight {v} at index {i} is not a non-negative number")));
            }
        }
        let Some(cw) = &self.class_weight else { return Ok(sample_weight.map(<[f32]>::to_vec)) };
        let per = targets.len() / n.max(1);
        let c = *targets.shape().last().expect("rank ≥ 2");
        let class_of = |row: &[f32]| {
            if c == 1 {
                (row[0] >= 0.5) as usize
            } else {
                row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
            }
        };
        // An example with several rows (outputs beyond [batch, classes]) takes its first row's class.
        let weights = (0..n)
            .map(|i| cw[class_of(&targets.data()[i * per..i * per + c])] * sample_weight.map_or(1.0, |w| w[i]))
            .collect();
        Ok(Some(weights))
    }

    /// One-hot targets for the loss, after checking them against the model's output.
    fn targets(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let n = x.shape().first().copied().unwrap_or(0);
        let out = self.net.output_shape()?;
        match self.loss {
            Loss::SparseCategoricalCrossentropy(_) => {
                let ok = (y.rank() == 1 && y.shape()[0] == n) || (y.rank() == 2 && y.shape() == [n, 1]);
                if !ok || out.len() != 1 {
                    return Err(Error::shape(format!(
                        "sparse labels must be [{n}] for input batch {n} and a [batch, classes] output, got {}",
                        shape_str(y.shape())
                    )));
                }
                let mut labels = Vec::with_capacity(n);
                for (i, &v) in y.data().iter().enumerate() {
                    if !(v >= 0.0 && v.fract() == 0.0) {
                        return Err(Error::argument(format!("label {v} at index {i} is not a class index")));
                    }
                    labels.push(v as u32);
                }
                one_hot(&labels, out[0])
            }
            _ => {
                let want: Vec<usize> = std::iter::once(n).chain(out.iter().copied()).collect();
                if y.shape() != want {
                    return Err(Error::shape(format!(
                        "targets {} do not match the model output {} for a batch of {n}",
                        shape_str(y.shape()),
                        shape_str(&want)
                    )));
                }
                Ok(y.clone())
            }
        }
    }

    /// Loss and metrics of `x` against `y`; with `train`, also back-propagates and updates.
    /// All or nothing: when any part fails, no weight, statistic or metric sum changes.
    fn step(&mut self, x: &Tensor, y: &Tensor, sample_weight: Option<&[f32]>, train: bool) -> Result<StepStats> {
        // The draws a failed step made (dropout masks, augmentations) are taken back too, so
        // the next step draws what it would have drawn had the failed one never run.
        let rng = self.rng.clone();
        let result = self.try_step(x, y, sample_weight, train);
        self.net.end_step(result.is_ok());
        if result.is_err() {
            self.rng = rng;
        }
        result
    }

    /// Gradient, weight and update norms per trainable layer in the last training step.
    pub fn last_health(&self) -> &[LayerHealth] {
        &self.health
    }

    /// Where the last training step spent its time.
    pub fn last_profile(&self) -> &StepProfile {
        &self.profile
    }

    fn try_step(&mut self, x: &Tensor, y: &Tensor, sample_weight: Option<&[f32]>, train: bool) -> Result<StepStats> {
        let started = now_ms();
        self.net.check_input(x)?;
        let what = if train { "a training step" } else { "an evaluation step" };
        self.net.check_batch_memory(x.shape()[0], if train { 2 } else { 1 }, what)?;
        let targets = self.targets(x, y)?;
        let weights = self.example_weights(&targets, sample_weight)?;
        let logits = self.loss.fuses_softmax() && self.net.ends_in_softmax();
        let mut tape = Tape::new();
        let input = tape.constant(x.clone());
        let run = |tape: &mut Tape, net: &mut Graph, rng: &mut Rng| net.forward(tape, input, train, logits, rng);
        let (out, param_vars) = if train {
            run(&mut tape, &mut self.net, &mut self.rng)?
        } else {
            tape.no_grad(|t| run(t, &mut self.net, &mut self.rng))?
        };
        let (loss, predictions) = self.loss.compute(&mut tape, out, &targets, weights.as_deref(), logits)?;
        // Keras adds the weight penalties to the loss, in training and in evaluation.
        let mut terms = vec![loss];
        for (layer, vars) in self.net.layers().zip(&param_vars) {
            if layer.trainable() {
                for (r, &v) in layer.regularizers().iter().zip(vars) {
                    if let Some(r) = r {
                        terms.push(r.penalty(&mut tape, v));
                    }
                }
            }
        }
        let loss = if terms.len() == 1 { loss } else { crate::ops::merge::add_n(&mut tape, &terms)? };
        let loss_value = tape.value(loss).data()[0];
        let step = self.optimizer.iterations() + 1;
        if !loss_value.is_finite() {
            // Nothing is updated: the weights stay those of the last finite step.
            let origin = if !x.all_finite() {
                "the input batch already holds NaN or Inf".to_string()
            } else if let Some(layer) = self.net.first_non_finite_output(&tape) {
                format!("it first appeared in the output of node '{}' ({})", layer.name(), layer.kind())
            } else {
                "every node's output is finite: the targets or the loss overflowed".to_string()
            };
            return Err(Error::numeric(format!(
                "the loss is {loss_value} at step {step}; {origin}; weights were not updated"
            )));
        }
        if train {
            tape.backward(loss)?;
            // Gradients per trainable node, in graph order.
            let mut per_layer: Vec<(usize, Vec<Tensor>)> = Vec::new();
            for (i, (layer, vars)) in self.net.layers().zip(&param_vars).enumerate() {
                if layer.trainable() && !vars.is_empty() {
                    let g =
                        vars.iter().map(|&v| tape.take_grad(v).expect("trainable parameters get gradients")).collect();
                    per_layer.push((i, g));
                }
            }
            // Back-propagation runs from the output, so the last node with a non-finite
            // gradient is where it appeared.
            if let Some((i, g)) = per_layer.iter().rev().find(|(_, g)| g.iter().any(|t| !t.all_finite())) {
                let layer = &self.net.nodes()[*i].layer;
                let bad = layer.params().iter().zip(g).find(|(_, t)| !t.all_finite()).map(|(p, _)| p.name.clone());
                return Err(Error::numeric(format!(
                    "the gradient of '{}' (layer '{}', {}) holds NaN or Inf at step {step}; weights were not updated",
                    bad.unwrap_or_default(),
                    layer.name(),
                    layer.kind()
                )));
            }
            let track = self.track_health;
            let grad_norms: Vec<f32> =
                per_layer.iter().map(|(_, g)| g.iter().map(|t| norm(t.data()).powi(2)).sum::<f32>().sqrt()).collect();
            let before: Vec<Vec<Tensor>> = if track {
                per_layer
                    .iter()
                    .map(|(i, _)| self.net.nodes()[*i].layer.params().iter().map(|p| p.value.clone()).collect())
                    .collect()
            } else {
                Vec::new()
            };
            let mut grads: Vec<Tensor> = per_layer.iter().flat_map(|(_, g)| g.iter().cloned()).collect();
            self.clipping.apply(&mut grads);
            let mut params: Vec<_> =
                self.net.layers_mut().filter(|l| l.trainable()).flat_map(|l| l.params_mut()).collect();
            let optimizer_started = now_ms();
            self.optimizer.step(&mut params, &grads)?;
            let end = now_ms();
            self.health = if !track {
                Vec::new()
            } else {
                per_layer
                    .iter()
                    .zip(grad_norms)
                    .zip(before)
                    .map(|(((i, _), grad_norm), before)| {
                        let layer = &self.net.nodes()[*i].layer;
                        let params = layer.params();
                        let sq = |f: &dyn Fn(usize, usize) -> f32| {
                            params
                                .iter()
                                .enumerate()
                                .map(|(k, p)| (0..p.value.len()).map(|j| f(k, j).powi(2)).sum::<f32>())
                                .sum::<f32>()
                                .sqrt()
                        };
                        LayerHealth {
                            name: layer.name().to_string(),
                            grad_norm,
                            weight_norm: sq(&|k, j| params[k].value.data()[j]),
                            update_norm: sq(&|k, j| params[k].value.data()[j] - before[k].data()[j]),
                        }
                    })
                    .collect()
            };
            let per_layer = tape.backward_ms();
            let layers = self
                .net
                .layers()
                .enumerate()
                .map(|(i, l)| LayerTime {
                    name: l.name().to_string(),
                    kind: l.kind(),
                    forward_ms: self.net.forward_ms().get(i).copied().unwrap_or(0.0),
                    backward_ms: per_layer.get(i).copied().unwrap_or(0.0),
                })
                .collect::<Vec<_>>();
            let layer_total: f64 = layers.iter().map(|l| l.forward_ms + l.backward_ms).sum();
            self.profile = StepProfile {
                layers,
                other_ms: (optimizer_started - started - layer_total).max(0.0),
                optimizer_ms: end - optimizer_started,
                total_ms: end - started,
            };
        }
        // The step succeeded: only now do the epoch's sums change.
        let n = x.shape()[0] as f64;
        self.loss_sum.0 += loss_value as f64 * n;
        self.loss_sum.1 += n;
        let metrics = self.metrics.iter_mut().map(|m| m.update(&predictions, &targets)).collect::<Result<Vec<_>>>()?;
        Ok(StepStats { loss: loss_value, metrics })
    }

    /// Forward, backward and one optimizer update on a batch, its loss weighted per example
    /// by `sample_weight` when given.
    pub fn train_step(&mut self, x: &Tensor, y: &Tensor, sample_weight: Option<&[f32]>) -> Result<StepStats> {
        self.step(x, y, sample_weight, true)
    }

    /// Loss and metrics in inference mode (moving statistics, no dropout), no update.
    pub fn test_step(&mut self, x: &Tensor, y: &Tensor, sample_weight: Option<&[f32]>) -> Result<StepStats> {
        self.step(x, y, sample_weight, false)
    }

    /// [`Model::train_step`] on rows `rows` of `x` and `y`, gathered from their storage (bytes
    /// scaled, class indices one-hot) into the batch; `sample_weight` is the batch's.
    pub fn train_rows(
        &mut self,
        x: &Source,
        y: &Source,
        rows: &[u32],
        sample_weight: Option<&[f32]>,
    ) -> Result<StepStats> {
        let (bx, by) = (x.gather(rows)?, y.gather(rows)?);
        self.train_step(&bx, &by, sample_weight)
    }

    /// [`Model::test_step`] on rows `rows` of `x` and `y`, as [`Model::train_rows`].
    pub fn test_rows(
        &mut self,
        x: &Source,
        y: &Source,
        rows: &[u32],
        sample_weight: Option<&[f32]>,
    ) -> Result<StepStats> {
        let (bx, by) = (x.gather(rows)?, y.gather(rows)?);
        self.test_step(&bx, &by, sample_weight)
    }

    /// Precise-BN over batches of `batch_size` rows of `rows` of `x`, each gathered as it is
    /// used, so memory holds one batch at a time. The rows are checked before any statistic
    /// changes.
    pub fn recalibrate_rows(&mut self, x: &Source, rows: &[u32], batch_size: usize) -> Result<usize> {
        if batch_size < 2 {
            return Err(Error::argument("recalibration needs batches of at least 2 examples"));
        }
        x.check_rows(rows)?;
        self.recalibrate_each(rows.chunks(batch_size).map(|r| x.gather(r)))
    }

    /// Model outputs in inference mode (probabilities for a softmax model).
    pub fn predict(&mut self, x: &Tensor) -> Result<Tensor> {
        predict(&mut self.net, x)
    }

    /// Precise-BN: recomputes every BN layer's population statistics from `batches` run in
    /// training mode (no weight update). Returns the number of batches used.
    pub fn recalibrate_batch_norm<'a>(&mut self, batches: impl IntoIterator<Item = &'a Tensor>) -> Result<usize> {
        self.recalibrate_each(batches.into_iter().map(Ok))
    }

    fn recalibrate_each<T: Borrow<Tensor>>(&mut self, batches: impl Iterator<Item = Result<T>>) -> Result<usize> {
        let bns = |net: &mut Graph| -> Vec<*mut BatchNorm> {
            net.layers_mut().filter_map(|l| l.as_any_mut().downcast_mut::<BatchNorm>()).map(|b| b as *mut _).collect()
        };
        for bn in bns(&mut self.net) {
            // SAFETY: the pointers come from distinct layers of `self.net`, used one at a time
            // while no other borrow of the network is alive.
            unsafe { (*bn).begin_recalibration() };
        }
        let mut count = 0;
        let mut result = Ok(());
        for x in batches {
            let x = match x {
                Ok(x) => x,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let mut tape = Tape::new();
            let input = tape.constant(x.borrow().clone());
            if let Err(e) = tape.no_grad(|t| self.net.forward(t, input, true, false, &mut self.rng)) {
                result = Err(e);
                break;
            }
            self.net.end_step(false);
            count += 1;
        }
        for bn in bns(&mut self.net) {
            // SAFETY: as above.
            let used = unsafe { (*bn).finish_recalibration() };
            debug_assert!(result.is_err() || used == count);
        }
        result.map(|_| count)
    }
}

/// Images per chunk when `predict` splits a batch across threads: enough rows for the Dense
/// layers' GEMMs, few enough that a chunk's activations stay in cache (the seed CNN's largest
/// is 86 KB per image, which a whole batch of 1,000 would spill to memory and read back).
const PREDICT_CHUNK: usize = 32;

/// Outputs of a network in inference mode, without gradients (no compile needed).
///
/// With several threads the batch is split into chunks that each run through the whole
/// network on one thread, on its own copy of the layers. Every output row depends on
/// its input row alone, and every kernel sums in an order that does not depend on the batch
/// size, so the result is bitwise the same as one pass over the whole batch.
pub fn predict(net: &mut Graph, x: &Tensor) -> Result<Tensor> {
    net.check_input(x)?;
    let n = x.shape()[0];
    let chunks = n.div_ceil(PREDICT_CHUNK);
    let whole = chunks < 2 || parallel::threads() < 2;
    // Each thread runs a chunk at a time; alone, the whole batch at once.
    let at_once = if whole { n } else { n.min(PREDICT_CHUNK * parallel::threads()) };
    net.check_batch_memory(at_once, 1, "predict")?;
    let out_shape: Vec<usize> = std::iter::once(n).chain(net.output_shape()?.iter().copied()).collect();
    let out_values = crate::memory::values_in(&out_shape);
    crate::memory::check_f32(out_values, || format!("predict: the output {}", crate::tensor::shape_str(&out_shape)))?;
    if whole {
        return predict_whole(net, x);
    }
    let per_image = x.len() / n;
    let shared: &Graph = net;
    let parts = parallel::map_tasks_with(
        chunks,
        || shared.clone(),
        |copy, i| {
            let rows = i * PREDICT_CHUNK..((i + 1) * PREDICT_CHUNK).min(n);
            let shape: Vec<usize> = std::iter::once(rows.len()).chain(x.shape()[1..].iter().copied()).collect();
            let part = Tensor::new(x.data()[rows.start * per_image..rows.end * per_image].to_vec(), &shape)?;
            let out = parallel::serially(|| predict_whole(copy, &part))?;
            Ok((out, copy.forward_ms().to_vec()))
        },
    );
    let mut data = Vec::with_capacity(out_values);
    let mut layer_ms = vec![0.0; net.nodes().len()];
    for part in parts {
        let (out, ms): (Tensor, Vec<f64>) = part?;
        data.extend_from_slice(out.data());
        layer_ms.iter_mut().zip(ms).for_each(|(total, t)| *total += t);
    }
    net.set_forward_ms(layer_ms);
    Tensor::new(data, &out_shape)
}

/// [`predict`] on rows `rows` of `x` (all of them when `rows` is empty), gathered from its storage.
pub fn predict_rows(net: &mut Graph, x: &Source, rows: &[u32]) -> Result<Tensor> {
    if rows.is_empty() {
        let all = x.to_tensor()?;
        predict(net, &all)
    } else {
        predict(net, &x.gather(rows)?)
    }
}

/// One forward pass over all of `x`.
fn predict_whole(net: &mut Graph, x: &Tensor) -> Result<Tensor> {
    let mut tape = Tape::new();
    let input = tape.constant(x.clone());
    // Inference draws no random numbers (dropout is off), so any generator will do.
    let (out, _) = tape.no_grad(|t| net.forward(t, input, false, false, &mut Rng::new(0)))?;
    Ok(tape.value(out).clone())
}
