//! The model handle: a graph of layers, each added with its Keras class name, its options
//! (a plain object) and the ids of its input nodes; then compiled with a loss and an
//! optimizer. Training steps take tensors already in WASM memory plus the row indices of the
//! batch, so a batch costs one boundary crossing and no copy of image data from JavaScript.
//! Records that come back (nodes, step profile, gradient health) are plain objects.

use ballast_core::graph::{fold_batch_norm, naming_inputs, Graph, NodeInfo};
use ballast_core::model::{self as core_model, Loss};
use ballast_core::nn::config::{as_object, check_keys, describe, Json};
use ballast_core::nn::registry;
use ballast_core::optim::Optimizer;
use ballast_core::rng::Rng;
use ballast_core::{Error, Tensor as CoreTensor};
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::errors::{to_js, IntoJs};
use crate::json::{self, record};
use crate::tensor::Tensor;

enum State {
    Net(Graph),
    Compiled(core_model::Model),
    /// Only while moving between the two.
    Empty,
}

/// Copies of tensors for a call that takes several (a merge layer run alone): handing JS
/// tensors over in a `Vec` would move them out of their JavaScript handles.
#[wasm_bindgen]
#[derive(Default)]
pub struct TensorList {
    items: Vec<CoreTensor>,
}

#[wasm_bindgen]
impl TensorList {
    #[wasm_bindgen(constructor)]
    pub fn new() -> TensorList {
        TensorList::default()
    }
    pub fn push(&mut self, t: &Tensor) -> Result<(), JsValue> {
        self.items.push(t.f32()?.into_owned());
        Ok(())
    }
}

#[wasm_bindgen]
pub struct Model {
    state: State,
    seed: u64,
    /// Draws the initial weights of each layer as it is added, in order.
    rng: Rng,
    /// Draws dropout masks for layers run alone: a new mask at each call.
    apply_rng: Rng,
}

fn dims(shape: &[usize]) -> JsValue {
    shape.iter().map(|&d| JsValue::from(d as u32)).collect::<Array>().into()
}

fn strings(items: &[String]) -> JsValue {
    items.iter().map(|s| JsValue::from_str(s)).collect::<Array>().into()
}

/// A layer's resolved options, read from the core's one declaration of them: what the
/// TypeScript factories hold. `{ className, defaultName, config, name, trainable }`.
#[wasm_bindgen(js_name = layerConfig)]
pub fn layer_config(class_name: &str, options: JsValue) -> Result<JsValue, JsValue> {
    let opts = json::from_js(&options, &format!("the options of {class_name}")).js()?;
    let layer = registry::create(class_name, &opts).js()?;
    let kind = registry::find(class_name).js()?;
    let name = if layer.name().is_empty() { JsValue::UNDEFINED } else { JsValue::from_str(layer.name()) };
    Ok(record(&[
        ("className", JsValue::from_str(kind.class_name)),
        ("defaultName", JsValue::from_str(kind.default_name)),
        ("config", json::to_js(&layer.config())),
        ("name", name),
        ("trainable", JsValue::from_bool(layer.trainable())),
    ]))
}

/// Keras' `adapt` for a layer (a `Normalization`) of `options` on examples of `exampleShape`: its
/// data's mean and variance, folded in batch by batch so the data need not fit in memory.
#[wasm_bindgen]
pub struct NormalizationMoments {
    inner: ballast_core::nn::Moments,
}

#[wasm_bindgen]
impl NormalizationMoments {
    #[wasm_bindgen(constructor)]
    pub fn new(class_name: &str, options: JsValue, example_shape: &[u32]) -> Result<NormalizationMoments, JsValue> {
        let opts = json::from_js(&options, &format!("the options of {class_name}")).js()?;
        let shape: Vec<usize> = example_shape.iter().map(|&d| d as usize).collect();
        Ok(NormalizationMoments { inner: ballast_core::nn::Moments::new(class_name, &opts, &shape).js()? })
    }

    /// Folds in a batch `[n, ...exampleShape]`; a refused batch leaves the moments as they were.
    pub fn update(&mut self, batch: &Tensor) -> Result<(), JsValue> {
        let x = batch.f32()?;
        self.inner.update(&x).js()
    }

    /// `{ mean, variance }` per feature, as `Float32Array`s.
    pub fn finish(&self) -> Result<JsValue, JsValue> {
        let (mean, variance) = self.inner.finish().js()?;
        Ok(record(&[
            ("mean", js_sys::Float32Array::from(&mean[..]).into()),
            ("variance", js_sys::Float32Array::from(&variance[..]).into()),
        ]))
    }
}

/// Shape inference for a layer not yet in a model (a functional API's `layer.apply`):
/// the output shape for inputs of `inputShapes`, all without the batch axis.
#[wasm_bindgen(js_name = layerOutputShape)]
pub fn layer_output_shape(
    class_name: &str,
    options: JsValue,
    input_shapes: Vec<js_sys::Uint32Array>,
    input_names: Vec<String>,
) -> Result<Vec<u32>, JsValue> {
    let opts = json::from_js(&options, &format!("the options of {class_name}")).js()?;
    let layer = registry::create(class_name, &opts).js()?;
    let shapes: Vec<Vec<usize>> =
        input_shapes.iter().map(|s| s.to_vec().into_iter().map(|d| d as usize).collect()).collect();
    let refs: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
    if input_names.len() != refs.len() {
        return Err(to_js(Error::argument("give one name per input shape")));
    }
    let named: Vec<(&str, &[usize])> = input_names.iter().map(|n| n.as_str()).zip(refs.iter().copied()).collect();
    let out =
        layer.output_shape(&refs).map_err(|e| ballast_core::nn::layer_error(layer.as_ref(), naming_inputs(e, &named)));
    Ok(out.js()?.iter().map(|&d| d as u32).collect())
}

#[wasm_bindgen]
impl Model {
    #[wasm_bindgen(constructor)]
    pub fn new(seed: u32) -> Model {
        Model::with(Graph::new(), seed as u64, Rng::new(seed as u64))
    }

    /// A model rebuilt from a `model.json` object (format 2, or a version 1 layer list).
    #[wasm_bindgen(js_name = fromSpec)]
    pub fn from_spec(spec: JsValue, seed: u32) -> Result<Model, JsValue> {
        let spec = json::from_js(&spec, "model.json").js()?;
        let mut rng = Rng::new(seed as u64);
        let graph = Graph::from_spec(&spec, &mut rng).js()?;
        Ok(Model::with(graph, seed as u64, rng))
    }

    fn with(graph: Graph, seed: u64, rng: Rng) -> Model {
        Model { state: State::Net(graph), seed, rng, apply_rng: Rng::new(seed ^ 0xA991_1CA7) }
    }

    fn net(&self) -> &Graph {
        match &self.state {
            State::Net(g) => g,
            State::Compiled(m) => &m.net,
            State::Empty => unreachable!("state is restored before returning"),
        }
    }

    fn net_mut(&mut self) -> &mut Graph {
        match &mut self.state {
            State::Net(g) => g,
            State::Compiled(m) => &mut m.net,
            State::Empty => unreachable!("state is restored before returning"),
        }
    }

    fn compiled(&mut self) -> Result<&mut core_model::Model, JsValue> {
        match &mut self.state {
            State::Compiled(m) => Ok(m),
            _ => Err(to_js(Error::state("the model must be compiled first: call compile()"))),
        }
    }

    /// Adds a node: a layer of Keras class `className` (`Conv2D`, `Add`, `InputLayer`, ...)
    /// with `options` (its config, plus `name` and `trainable`), on the outputs of the nodes
    /// `inputs`. Returns the new node's id. On error the model is unchanged.
    #[wasm_bindgen(js_name = addLayer)]
    pub fn add_layer(&mut self, class_name: &str, options: JsValue, inputs: &[u32]) -> Result<u32, JsValue> {
        let opts = json::from_js(&options, &format!("the options of {class_name}")).js()?;
        let layer = registry::create(class_name, &opts).js()?;
        let inputs: Vec<usize> = inputs.iter().map(|&i| i as usize).collect();
        let State::Net(graph) = &mut self.state else {
            return Err(to_js(Error::state("layers can only be added before compile()")));
        };
        // Weights are drawn from a copy, kept only when the node is added, so a refused layer
        // does not shift the next layers' initial weights.
        let mut rng = self.rng.clone();
        let id = graph.add(layer, &inputs, &mut rng).js()?;
        self.rng = rng;
        Ok(id as u32)
    }

    /// Keeps `names` (of layers to be added later) from being given to layers added before
    /// them without a name.
    #[wasm_bindgen(js_name = reserveNames)]
    pub fn reserve_names(&mut self, names: Vec<String>) {
        self.net_mut().reserve_names(names);
    }

    /// Completes the graph with its output nodes.
    #[wasm_bindgen(js_name = setOutputs)]
    pub fn set_outputs(&mut self, outputs: &[u32]) -> Result<(), JsValue> {
        let outputs: Vec<usize> = outputs.iter().map(|&i| i as usize).collect();
        self.net_mut().set_outputs(&outputs).js()
    }

    /// The architecture as a `model.json` object (format 2).
    pub fn spec(&self) -> JsValue {
        json::to_js(&self.net().to_spec())
    }

    /// One record per node, in order: `{ name, className, config, inputs, outputShape,
    /// trainable, trainableParams, nonTrainableParams }`.
    pub fn nodes(&self) -> Array {
        let net = self.net();
        net.summary()
            .into_iter()
            .zip(net.nodes())
            .map(|(info, node): (NodeInfo, _)| {
                record(&[
                    ("name", JsValue::from_str(&info.name)),
                    ("className", JsValue::from_str(info.kind)),
                    ("config", json::to_js(&node.layer.config())),
                    ("inputs", strings(&info.inputs)),
                    ("outputShape", dims(&info.output_shape)),
                    ("trainable", JsValue::from_bool(node.layer.trainable())),
                    ("trainableParams", JsValue::from(info.trainable_params as f64)),
                    ("nonTrainableParams", JsValue::from(info.non_trainable_params as f64)),
                ])
            })
            .collect()
    }

    /// The output shape of the (single) output, without the batch axis.
    #[wasm_bindgen(js_name = outputShape)]
    pub fn output_shape(&self) -> Result<Vec<u32>, JsValue> {
        Ok(self.net().output_shape().js()?.iter().map(|&d| d as u32).collect())
    }

    /// `config`: `{ loss, optimizer, metrics?, clipNorm?, clipValue? }`, where the loss and
    /// each metric are a name or `{ className, config }` and the optimizer is
    /// `{ className, config }`. Everything is checked before the model changes. Recompiling
    /// keeps the weights and resets the optimizer and the metrics.
    pub fn compile(&mut self, config: JsValue) -> Result<(), JsValue> {
        let config = json::from_js(&config, "compile options").js()?;
        let obj = as_object(&config).js()?;
        check_keys(obj, &["loss", "optimizer", "metrics", "clipNorm", "clipValue"]).js()?;
        let required =
            |key: &str| obj.get(key).ok_or_else(|| to_js(Error::argument(format!("compile needs a '{key}'"))));
        let loss = Loss::from_json(required("loss")?).js()?;
        let optimizer = optimizer_from_json(required("optimizer")?).js()?;
        let metrics = match obj.get("metrics") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(list)) => list.clone(),
            Some(other) => {
                return Err(to_js(Error::argument(format!(
                    "metrics must be a list of names or metric objects, got {}",
                    describe(other)
                ))))
            }
        };
        let clip = |key: &str| -> Result<Option<f32>, JsValue> {
            match obj.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(|f| Some(f as f32))
                    .ok_or_else(|| to_js(Error::argument(format!("{key} must be a number, got {}", describe(v))))),
            }
        };
        let clipping = ballast_core::health::Clipping::new(clip("clipNorm")?, clip("clipValue")?).js()?;
        // Training needs one input and one output.
        self.net().input_shape().js()?;
        let metrics = ballast_core::metrics::from_specs(&metrics, &loss, &self.net().output_shape().js()?).js()?;
        let net = match std::mem::replace(&mut self.state, State::Empty) {
            State::Net(net) => net,
            State::Compiled(m) => m.net,
            State::Empty => unreachable!(),
        };
        let mut model = core_model::Model::new(net, loss, optimizer, self.seed).expect("checked above");
        model.clipping = clipping;
        model.set_metrics(metrics);
        self.state = State::Compiled(model);
        Ok(())
    }

    /// The names the logs carry, in the order of the step results: `loss`, then each metric.
    #[wasm_bindgen(js_name = metricNames)]
    pub fn metric_names(&mut self) -> Result<Vec<String>, JsValue> {
        Ok(self.compiled()?.metric_results().into_iter().map(|(name, _)| name).collect())
    }

    /// The resolved `{ className, config }` of the loss and each metric.
    #[wasm_bindgen(js_name = compiledConfig)]
    pub fn compiled_config(&mut self) -> Result<JsValue, JsValue> {
        let m = self.compiled()?;
        let mut out = ballast_core::nn::config::Map::new();
        out.insert("loss".into(), m.loss.to_json());
        let mut optimizer = ballast_core::nn::config::Map::new();
        optimizer.insert("className".into(), Json::from(m.optimizer.class_name()));
        optimizer.insert("config".into(), m.optimizer.config());
        out.insert("optimizer".into(), Json::Object(optimizer));
        out.insert("metrics".into(), Json::Array(m.metrics().iter().map(|m| m.to_json()).collect()));
        Ok(json::to_js(&Json::Object(out)))
    }

    /// Starts an epoch or an evaluation: the loss mean and the metric sums begin again.
    #[wasm_bindgen(js_name = resetMetrics)]
    pub fn reset_metrics(&mut self) -> Result<(), JsValue> {
        self.compiled()?.reset_metrics();
        Ok(())
    }

    /// The mean loss and each metric since the last reset, in `metricNames` order.
    #[wasm_bindgen(js_name = metricResults)]
    pub fn metric_results(&mut self) -> Result<Vec<f32>, JsValue> {
        Ok(self.compiled()?.metric_results().into_iter().map(|(_, v)| v).collect())
    }

    /// Per-class weights of the loss for the next steps, as class indices and their weights
    /// (empty: none; classes not given weigh 1).
    #[wasm_bindgen(js_name = setClassWeight)]
    pub fn set_class_weight(&mut self, classes: &[f64], weights: &[f32]) -> Result<(), JsValue> {
        if classes.len() != weights.len() {
            return Err(to_js(Error::argument(format!(
                "{} classes but {} class weights",
                classes.len(),
                weights.len()
            ))));
        }
        let pairs: Vec<(f64, f32)> = classes.iter().copied().zip(weights.iter().copied()).collect();
        self.compiled()?.set_class_weight(&pairs).js()
    }

    /// One training step on rows `rows` of `x` / `y`, weighted per example by
    /// `sampleWeight` (empty: none); returns this batch's loss, then each metric on it.
    #[wasm_bindgen(js_name = trainStep)]
    pub fn train_step(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        rows: &[u32],
        sample_weight: &[f32],
    ) -> Result<Vec<f32>, JsValue> {
        let w = (!sample_weight.is_empty()).then_some(sample_weight);
        let s = self.compiled()?.train_rows(&x.inner, &y.inner, rows, w).js()?;
        Ok(std::iter::once(s.loss).chain(s.metrics).collect())
    }

    /// As `trainStep` in inference mode, without an update.
    #[wasm_bindgen(js_name = testStep)]
    pub fn test_step(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        rows: &[u32],
        sample_weight: &[f32],
    ) -> Result<Vec<f32>, JsValue> {
        let w = (!sample_weight.is_empty()).then_some(sample_weight);
        let s = self.compiled()?.test_rows(&x.inner, &y.inner, rows, w).js()?;
        Ok(std::iter::once(s.loss).chain(s.metrics).collect())
    }

    /// Outputs for rows `rows` of `x` (all rows when empty), in inference mode.
    pub fn predict(&mut self, x: &Tensor, rows: &[u32]) -> Result<Tensor, JsValue> {
        Ok(core_model::predict_rows(self.net_mut(), &x.inner, rows).js()?.into())
    }

    /// Precise-BN over the given batches of rows (each `batchSize` rows of `rows`).
    #[wasm_bindgen(js_name = recalibrateBatchNorm)]
    pub fn recalibrate_batch_norm(&mut self, x: &Tensor, rows: &[u32], batch_size: u32) -> Result<u32, JsValue> {
        Ok(self.compiled()?.recalibrate_rows(&x.inner, rows, batch_size as usize).js()? as u32)
    }

    /// Folds every BN fed only by a linear Conv2D/Dense into it (for inference); returns
    /// the names of the folded BN layers. When any was folded the model must be compiled
    /// again to train (its optimizer state was for the BN's parameters too).
    #[wasm_bindgen(js_name = foldBatchNorm)]
    pub fn fold_batch_norm(&mut self) -> Result<Vec<String>, JsValue> {
        let folded = fold_batch_norm(self.net_mut()).js()?;
        if !folded.is_empty() {
            if let State::Compiled(m) = std::mem::replace(&mut self.state, State::Empty) {
                self.state = State::Net(m.net);
            }
        }
        Ok(folded)
    }

    /// At the end of training: with `useEma`, the weights become their moving averages
    /// (Keras' `finalize_variable_values`); otherwise nothing changes.
    #[wasm_bindgen(js_name = finalizeOptimizer)]
    pub fn finalize_optimizer(&mut self) -> Result<(), JsValue> {
        let m = self.compiled()?;
        let mut params: Vec<_> = m.net.layers_mut().filter(|l| l.trainable()).flat_map(|l| l.params_mut()).collect();
        m.optimizer.finalize_variable_values(&mut params).js()
    }

    /// The optimizer's current learning rate.
    #[wasm_bindgen(js_name = learningRate)]
    pub fn learning_rate(&mut self) -> Result<f64, JsValue> {
        Ok(self.compiled()?.optimizer.learning_rate())
    }

    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<(), JsValue> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(to_js(Error::argument(format!("learning rate must be positive, got {lr}"))));
        }
        self.compiled()?.optimizer.set_learning_rate(lr).js()?;
        Ok(())
    }

    #[wasm_bindgen(js_name = setTrainable)]
    pub fn set_trainable(&mut self, layer: &str, trainable: bool) -> Result<(), JsValue> {
        match self.net_mut().layers_mut().find(|l| l.name() == layer) {
            Some(l) => {
                l.set_trainable(trainable);
                Ok(())
            }
            None => Err(to_js(Error::argument(format!("no layer named '{layer}'")))),
        }
    }

    /// Names of every weight (`layer/kernel`, ...), in order.
    #[wasm_bindgen(js_name = weightNames)]
    pub fn weight_names(&self) -> Vec<String> {
        self.net().weights().iter().map(|p| p.name.clone()).collect()
    }

    #[wasm_bindgen(js_name = weightShape)]
    pub fn weight_shape(&self, name: &str) -> Result<Vec<u32>, JsValue> {
        let p = self.net().weights().into_iter().find(|p| p.name == name);
        let p = p.ok_or_else(|| to_js(Error::argument(format!("no weight named '{name}'"))))?;
        Ok(p.value.shape().iter().map(|&d| d as u32).collect())
    }

    #[wasm_bindgen(js_name = getWeight)]
    pub fn get_weight(&self, name: &str) -> Result<Vec<f32>, JsValue> {
        let p = self.net().weights().into_iter().find(|p| p.name == name);
        let p = p.ok_or_else(|| to_js(Error::argument(format!("no weight named '{name}'"))))?;
        Ok(p.value.data().to_vec())
    }

    /// Replaces weights all at once: `names[i]` gets `lengths[i]` values, the next ones of
    /// `values`. Every name (once each) and length is checked first, so a mismatch changes
    /// nothing.
    #[wasm_bindgen(js_name = setWeights)]
    pub fn set_weights(&mut self, names: Vec<String>, lengths: &[u32], values: &[f32]) -> Result<(), JsValue> {
        if lengths.len() != names.len() {
            return Err(to_js(Error::argument(format!("{} names but {} lengths", names.len(), lengths.len()))));
        }
        let net = self.net_mut();
        let mut plan = Vec::with_capacity(names.len());
        let mut offset = 0;
        {
            let weights = net.weights();
            for (i, (name, &len)) in names.iter().zip(lengths).enumerate() {
                if names[..i].contains(name) {
                    return Err(to_js(Error::argument(format!("weight '{name}' is given twice"))));
                }
                let p = weights.iter().find(|p| &p.name == name);
                let p = p.ok_or_else(|| to_js(Error::argument(format!("the model has no weight named '{name}'"))))?;
                if len as usize != p.value.len() {
                    let shape = ballast_core::tensor::shape_str(p.value.shape());
                    let n = p.value.len();
                    return Err(to_js(Error::shape(format!(
                        "weight '{name}' has shape {shape} ({n} values), got {len} values"
                    ))));
                }
                plan.push((name.clone(), offset, p.value.len()));
                offset += p.value.len();
            }
        }
        if offset != values.len() {
            return Err(to_js(Error::shape(format!("{} values given for weights that hold {offset}", values.len()))));
        }
        for p in net.weights_mut() {
            if let Some((_, start, len)) = plan.iter().find(|(n, _, _)| *n == p.name) {
                p.value.data_mut().copy_from_slice(&values[*start..start + len]);
            }
        }
        Ok(())
    }

    /// Where the last training step spent its time: `{ layers: [{ name, className,
    /// forwardMs, backwardMs }], otherMs, optimizerMs, totalMs }`.
    #[wasm_bindgen(js_name = lastStepProfile)]
    pub fn last_step_profile(&mut self) -> Result<JsValue, JsValue> {
        let p = self.compiled()?.last_profile().clone();
        let layers: Array = p
            .layers
            .iter()
            .map(|l| {
                record(&[
                    ("name", JsValue::from_str(&l.name)),
                    ("className", JsValue::from_str(l.kind)),
                    ("forwardMs", JsValue::from(l.forward_ms)),
                    ("backwardMs", JsValue::from(l.backward_ms)),
                ])
            })
            .collect();
        Ok(record(&[
            ("layers", layers.into()),
            ("otherMs", JsValue::from(p.other_ms)),
            ("optimizerMs", JsValue::from(p.optimizer_ms)),
            ("totalMs", JsValue::from(p.total_ms)),
        ]))
    }

    /// Milliseconds per node of the last forward pass, whatever ran it (a training step,
    /// `predict`, `evaluate`): where inference spends its time.
    #[wasm_bindgen(js_name = lastForwardMs)]
    pub fn last_forward_ms(&self) -> Vec<f64> {
        self.net().forward_ms().to_vec()
    }

    /// Gradient clipping before each update: by global L2 norm and/or by value (NaN = off).
    #[wasm_bindgen(js_name = setClipping)]
    pub fn set_clipping(&mut self, global_norm: f32, value: f32) -> Result<(), JsValue> {
        let opt = |v: f32| (!v.is_nan()).then_some(v);
        let clipping = ballast_core::health::Clipping::new(opt(global_norm), opt(value)).js()?;
        self.compiled()?.clipping = clipping;
        Ok(())
    }

    /// Per trainable node in the last training step: `{ name, gradNorm, weightNorm, updateNorm }`.
    #[wasm_bindgen(js_name = lastGradientHealth)]
    pub fn last_gradient_health(&mut self) -> Result<Array, JsValue> {
        let health = self.compiled()?.last_health();
        Ok(health
            .iter()
            .map(|h| {
                record(&[
                    ("name", JsValue::from_str(&h.name)),
                    ("gradNorm", JsValue::from(h.grad_norm)),
                    ("weightNorm", JsValue::from(h.weight_norm)),
                    ("updateNorm", JsValue::from(h.update_norm)),
                ])
            })
            .collect())
    }

    /// Turns the per-layer norms of every training step on (default) or off.
    #[wasm_bindgen(js_name = setGradientHealthTracking)]
    pub fn set_gradient_health_tracking(&mut self, on: bool) -> Result<(), JsValue> {
        self.compiled()?.track_health = on;
        Ok(())
    }

    /// Runs one layer alone on `inputs` (Keras' `layer(x, training)`), without gradients.
    #[wasm_bindgen(js_name = applyLayer)]
    pub fn apply_layer(&mut self, name: &str, inputs: &TensorList, training: bool) -> Result<Tensor, JsValue> {
        let mut rng = self.apply_rng.clone();
        let out = self.net_mut().apply_layer(name, &inputs.items, training, &mut rng).js()?;
        self.apply_rng = rng;
        Ok(out.into())
    }
}

/// An optimizer from `{ className, config }` (Keras' serialized form), made by the core's
/// registry, which owns every optimizer's options and defaults.
fn optimizer_from_json(spec: &Json) -> Result<Box<dyn Optimizer>, Error> {
    let obj = as_object(spec).map_err(|_| {
        Error::argument(format!(
            "optimizer must be {{ className, config }} (optimizers.adam(), ...), got {}",
            describe(spec)
        ))
    })?;
    check_keys(obj, &["className", "config"])?;
    let class_name = obj
        .get("className")
        .and_then(Json::as_str)
        .ok_or_else(|| Error::argument(format!("optimizer needs a 'className' string, got {}", describe(spec))))?;
    let empty = Json::Object(Default::default());
    ballast_core::optim::create(class_name, obj.get("config").unwrap_or(&empty))
}
