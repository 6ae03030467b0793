//! A compiled model: a graph of layers with a loss and an optimizer, and the training
//! step that runs entirely in the core (forward, backward, update) so each batch crosses the
//! JS/WASM boundary once.

use crate::autograd::Tape;
use crate::error::Error;
use crate::graph::Graph;
use crate::health::{norm, Clipping, LayerHealth};
use crate::nn::BatchNorm;
use crate::ops::loss::{accuracy, categorical_cross_entropy, mean_squared_error, one_hot, softmax_cross_entropy};
use crate::optim::Optimizer;
use crate::parallel;
use crate::profile::{now_ms, LayerTime, StepProfile};
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Targets one-hot `[batch, classes]`.
    CategoricalCrossentropy,
    /// Targets are class indices, `[batch]`.
    SparseCategoricalCrossentropy,
    MeanSquaredError,
}

impl Loss {
    pub fn parse(name: &str) -> Result<Loss> {
        Ok(match name {
            "categoricalCrossentropy" | "categorical_crossentropy" => Loss::CategoricalCrossentropy,
            "sparseCategoricalCrossentropy" | "sparse_categorical_crossentropy" => Loss::SparseCategoricalCrossentropy,
            "meanSquaredError" | "mean_squared_error" | "mse" => Loss::MeanSquaredError,
            _ => {
                return Err(Error::argument(format!(
                    "unknown loss '{name}' (categoricalCrossentropy, sparseCategoricalCrossentropy, meanSquaredError)"
                )))
            }
        })
    }
}

/// Loss and accuracy of one batch (accuracy is NaN for regression losses).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    pub loss: f32,
    pub accuracy: f32,
}

pub struct Model {
    pub net: Graph,
    pub loss: Loss,
    pub optimizer: Box<dyn Optimizer>,
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
            rng: Rng::new(seed ^ 0x5EED_D20F),
            profile: StepProfile::default(),
            clipping: Clipping::default(),
            track_health: true,
            health: Vec::new(),
        })
    }

    /// One-hot targets for the loss, after checking them against the model's output.
    fn targets(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let n = x.shape().first().copied().unwrap_or(0);
        let out = self.net.output_shape()?;
        match self.loss {
            Loss::SparseCategoricalCrossentropy => {
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

    /// Loss and accuracy of `x` against `y`; with `train`, also back-propagates and updates.
    /// All or nothing: when any part fails, no weight or statistic changes.
    fn step(&mut self, x: &Tensor, y: &Tensor, train: bool) -> Result<StepStats> {
        let result = self.try_step(x, y, train);
        self.net.end_step(result.is_ok());
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

    fn try_step(&mut self, x: &Tensor, y: &Tensor, train: bool) -> Result<StepStats> {
        let started = now_ms();
        self.net.check_input(x)?;
        let targets = self.targets(x, y)?;
        let classify = self.loss != Loss::MeanSquaredError;
        let logits = classify && self.net.ends_in_softmax();
        let mut tape = Tape::new();
        let input = tape.constant(x.clone());
        let run = |tape: &mut Tape, net: &mut Graph, rng: &mut Rng| net.forward(tape, input, train, logits, rng);
        let (out, param_vars) = if train {
            run(&mut tape, &mut self.net, &mut self.rng)?
        } else {
            tape.no_grad(|t| run(t, &mut self.net, &mut self.rng))?
        };
        let loss = match (self.loss, logits) {
            (Loss::MeanSquaredError, _) => mean_squared_error(&mut tape, out, &targets)?,
            (_, true) => softmax_cross_entropy(&mut tape, out, &targets)?,
            (_, false) => categorical_cross_entropy(&mut tape, out, &targets)?,
        };
        let loss_value = tape.value(loss).data()[0];
        let acc = if classify { accuracy(tape.value(out), &targets)? } else { f32::NAN };
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
        Ok(StepStats { loss: loss_value, accuracy: acc })
    }

    /// Forward, backward and one optimizer update on a batch.
    pub fn train_step(&mut self, x: &Tensor, y: &Tensor) -> Result<StepStats> {
        self.step(x, y, true)
    }

    /// Loss and accuracy in inference mode (moving statistics, no dropout), no update.
    pub fn test_step(&mut self, x: &Tensor, y: &Tensor) -> Result<StepStats> {
        self.step(x, y, false)
    }

    /// Model outputs in inference mode (probabilities for a softmax model).
    pub fn predict(&mut self, x: &Tensor) -> Result<Tensor> {
        predict(&mut self.net, x)
    }

    /// Precise-BN: recomputes every BN layer's population statistics from `batches` run in
    /// training mode (no weight update). Returns the number of batches used.
    pub fn recalibrate_batch_norm<'a>(&mut self, batches: impl IntoIterator<Item = &'a Tensor>) -> Result<usize> {
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
            let mut tape = Tape::new();
            let input = tape.constant(x.clone());
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
    if chunks < 2 || parallel::threads() < 2 {
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
    let mut data = Vec::new();
    let mut layer_ms = vec![0.0; net.nodes().len()];
    for part in parts {
        let (out, ms): (Tensor, Vec<f64>) = part?;
        data.extend_from_slice(out.data());
        layer_ms.iter_mut().zip(ms).for_each(|(total, t)| *total += t);
    }
    net.set_forward_ms(layer_ms);
    let shape: Vec<usize> = std::iter::once(n).chain(net.output_shape()?.iter().copied()).collect();
    Tensor::new(data, &shape)
}

/// One forward pass over all of `x`.
fn predict_whole(net: &mut Graph, x: &Tensor) -> Result<Tensor> {
    let mut tape = Tape::new();
    let input = tape.constant(x.clone());
    // Inference draws no random numbers (dropout is off), so any generator will do.
    let (out, _) = tape.no_grad(|t| net.forward(t, input, false, false, &mut Rng::new(0)))?;
    Ok(tape.value(out).clone())
}
