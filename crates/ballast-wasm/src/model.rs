//! The model handle: layers are added one call each (typed arguments, no JSON), then the
//! model is built for an input shape and compiled with a loss and an optimizer. Training
//! steps take tensors already in WASM memory plus the row indices of the batch, so a batch
//! costs one boundary crossing and no copy of image data from JavaScript.

use ballast_core::data::gather_rows;
use ballast_core::kernels::conv::Padding;
use ballast_core::model::{self as core_model, Loss};
use ballast_core::nn::{
    fold_batch_norm, Activation, ActivationLayer, BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig, Dense, DenseConfig,
    Dropout, Flatten, GroupNorm, GroupNormConfig, Initializer, Layer, LayerNorm, LayerNormConfig, MaxPool2d,
    MovingAverage, Sequential,
};
use ballast_core::optim::{Adam, Optimizer, Sgd};
use ballast_core::rng::Rng;
use ballast_core::{Error, Tensor as CoreTensor};
use wasm_bindgen::prelude::*;

use crate::errors::{to_js, IntoJs};
use crate::tensor::Tensor;

enum State {
    Layers(Sequential),
    Compiled(core_model::Model),
    /// Only while moving between the two.
    Empty,
}

#[wasm_bindgen]
pub struct Model {
    state: State,
    seed: u64,
}

fn named(mut layer: Box<dyn Layer>, name: &str) -> Box<dyn Layer> {
    if !name.is_empty() {
        layer.set_name(name.to_string());
    }
    layer
}

fn pair(values: &[u32], what: &str) -> Result<(usize, usize), JsValue> {
    match values {
        [a, b] if *a > 0 && *b > 0 => Ok((*a as usize, *b as usize)),
        _ => Err(to_js(Error::argument(format!("{what} must be two positive integers, got {values:?}")))),
    }
}

/// Checks batch row indices against the number of rows, then gathers them.
pub(crate) fn gather(t: &CoreTensor, rows: &[u32]) -> Result<CoreTensor, JsValue> {
    let n = t.shape().first().copied().unwrap_or(0);
    if let Some((i, &r)) = rows.iter().enumerate().find(|(_, &r)| r as usize >= n) {
        return Err(to_js(Error::argument(format!("batch row {r} (position {i}) is out of range for {n} examples"))));
    }
    let row_len = t.len() / n.max(1);
    let mut data = Vec::new();
    gather_rows(t.data(), row_len, rows, &mut data);
    let mut shape = t.shape().to_vec();
    shape[0] = rows.len();
    CoreTensor::new(data, &shape).js()
}

/// The `i`-th of the initializer names a layer was given; a missing or unknown name is an error.
fn initializer(names: &[String], i: usize) -> Result<Initializer, JsValue> {
    Initializer::parse(names.get(i).map_or("", |s| s.as_str())).js()
}

#[wasm_bindgen]
impl Model {
    #[wasm_bindgen(constructor)]
    pub fn new(seed: u32) -> Model {
        Model { state: State::Layers(Sequential::new()), seed: seed as u64 }
    }

    fn layers(&mut self) -> Result<&mut Sequential, JsValue> {
        match &mut self.state {
            State::Layers(net) => Ok(net),
            _ => Err(to_js(Error::state("layers can only be added before compile()"))),
        }
    }

    fn net(&mut self) -> &mut Sequential {
        match &mut self.state {
            State::Layers(net) => net,
            State::Compiled(m) => &mut m.net,
            State::Empty => unreachable!("state is restored before returning"),
        }
    }

    fn net_ref(&self) -> &Sequential {
        match &self.state {
            State::Layers(net) => net,
            State::Compiled(m) => &m.net,
            State::Empty => unreachable!("state is restored before returning"),
        }
    }

    fn compiled(&mut self) -> Result<&mut core_model::Model, JsValue> {
        match &mut self.state {
            State::Compiled(m) => Ok(m),
            _ => Err(to_js(Error::state("the model must be compiled first: call compile()"))),
        }
    }

    #[wasm_bindgen(js_name = addDense)]
    pub fn add_dense(
        &mut self,
        name: &str,
        units: u32,
        activation: &str,
        use_bias: bool,
        kernel_initializer: &str,
        bias_initializer: &str,
    ) -> Result<(), JsValue> {
        let config = DenseConfig {
            units: units as usize,
            activation: Activation::parse(activation).js()?,
            use_bias,
            kernel_initializer: Initializer::parse(kernel_initializer).js()?,
            bias_initializer: Initializer::parse(bias_initializer).js()?,
        };
        self.layers()?.add(named(Box::new(Dense::new(config)), name)).js()
    }

    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = addConv2d)]
    pub fn add_conv2d(
        &mut self,
        name: &str,
        filters: u32,
        kernel_size: &[u32],
        strides: &[u32],
        padding: &str,
        activation: &str,
        use_bias: bool,
        kernel_initializer: &str,
        bias_initializer: &str,
    ) -> Result<(), JsValue> {
        let config = Conv2dConfig {
            filters: filters as usize,
            kernel_size: pair(kernel_size, "kernelSize")?,
            strides: pair(strides, "strides")?,
            padding: Padding::parse(padding).js()?,
            activation: Activation::parse(activation).js()?,
            use_bias,
            kernel_initializer: Initializer::parse(kernel_initializer).js()?,
            bias_initializer: Initializer::parse(bias_initializer).js()?,
        };
        self.layers()?.add(named(Box::new(Conv2d::new(config)), name)).js()
    }

    #[wasm_bindgen(js_name = addMaxPooling2d)]
    pub fn add_max_pooling2d(
        &mut self,
        name: &str,
        pool_size: &[u32],
        strides: &[u32],
        padding: &str,
    ) -> Result<(), JsValue> {
        let layer = MaxPool2d::new(
            pair(pool_size, "poolSize")?,
            Some(pair(strides, "strides")?),
            Padding::parse(padding).js()?,
        );
        self.layers()?.add(named(Box::new(layer), name)).js()
    }

    #[wasm_bindgen(js_name = addFlatten)]
    pub fn add_flatten(&mut self, name: &str) -> Result<(), JsValue> {
        self.layers()?.add(named(Box::new(Flatten::new()), name)).js()
    }

    #[wasm_bindgen(js_name = addDropout)]
    pub fn add_dropout(&mut self, name: &str, rate: f32) -> Result<(), JsValue> {
        let layer = Dropout::new(rate).js()?;
        self.layers()?.add(named(Box::new(layer), name)).js()
    }

    #[wasm_bindgen(js_name = addActivation)]
    pub fn add_activation(&mut self, name: &str, activation: &str) -> Result<(), JsValue> {
        let layer = ActivationLayer::new(Activation::parse(activation).js()?);
        self.layers()?.add(named(Box::new(layer), name)).js()
    }

    /// `momentum` NaN selects the cumulative moving average. `renorm` turns on Batch
    /// Renormalization with clipping `rmax`, `dmax` (Infinity: unclipped) and `renormMomentum`.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = addBatchNormalization)]
    pub fn add_batch_normalization(
        &mut self,
        name: &str,
        axis: i32,
        momentum: f32,
        epsilon: f32,
        center: bool,
        scale: bool,
        initializers: Vec<String>,
        renorm: bool,
        rmax: f32,
        dmax: f32,
        renorm_momentum: f32,
    ) -> Result<(), JsValue> {
        let init = |i: usize| initializer(&initializers, i);
        let config = BatchNormConfig {
            axis: axis as isize,
            moving_average: if momentum.is_nan() {
                MovingAverage::Cumulative
            } else {
                MovingAverage::Exponential { momentum }
            },
            epsilon,
            center,
            scale,
            beta_initializer: init(0)?,
            gamma_initializer: init(1)?,
            moving_mean_initializer: init(2)?,
            moving_variance_initializer: init(3)?,
            renorm,
            renorm_clipping: (rmax, dmax),
            renorm_momentum,
        };
        let layer = BatchNorm::new(config).js()?;
        self.layers()?.add(named(Box::new(layer), name)).js()
    }

    /// `initializers`: beta, gamma.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = addGroupNormalization)]
    pub fn add_group_normalization(
        &mut self,
        name: &str,
        groups: u32,
        axis: i32,
        epsilon: f32,
        center: bool,
        scale: bool,
        initializers: Vec<String>,
    ) -> Result<(), JsValue> {
        let init = |i: usize| initializer(&initializers, i);
        let config = GroupNormConfig {
            groups: groups as usize,
            axis: axis as isize,
            epsilon,
            center,
            scale,
            beta_initializer: init(0)?,
            gamma_initializer: init(1)?,
        };
        let layer = GroupNorm::new(config).js()?;
        self.layers()?.add(named(Box::new(layer), name)).js()
    }

    /// `initializers`: beta, gamma.
    #[wasm_bindgen(js_name = addLayerNormalization)]
    pub fn add_layer_normalization(
        &mut self,
        name: &str,
        axis: i32,
        epsilon: f32,
        center: bool,
        scale: bool,
        initializers: Vec<String>,
    ) -> Result<(), JsValue> {
        let init = |i: usize| initializer(&initializers, i);
        let config = LayerNormConfig {
            axis: axis as isize,
            epsilon,
            center,
            scale,
            beta_initializer: init(0)?,
            gamma_initializer: init(1)?,
        };
        let layer = LayerNorm::new(config).js()?;
        self.layers()?.add(named(Box::new(layer), name)).js()
    }

    /// Creates the weights for inputs `[batch, ...inputShape]`; returns the output shape.
    pub fn build(&mut self, input_shape: &[u32]) -> Result<Vec<u32>, JsValue> {
        let shape: Vec<usize> = input_shape.iter().map(|&d| d as usize).collect();
        let mut rng = Rng::new(self.seed);
        let net = self.layers()?;
        net.build(&shape, &mut rng).js()?;
        Ok(net.output_shape().iter().map(|&d| d as u32).collect())
    }

    /// `optimizer`: "adam" (lr, beta1, beta2, epsilon) or "sgd" (lr, momentum, nesterov).
    #[allow(clippy::too_many_arguments)]
    pub fn compile(
        &mut self,
        loss: &str,
        optimizer: &str,
        learning_rate: f32,
        beta1: f32,
        beta2: f32,
        epsilon: f32,
        momentum: f32,
        nesterov: bool,
    ) -> Result<(), JsValue> {
        let loss = Loss::parse(loss).js()?;
        let opt: Box<dyn Optimizer> = match optimizer {
            "adam" => Box::new(Adam::new(learning_rate, beta1, beta2, epsilon).js()?),
            "sgd" => Box::new(Sgd::new(learning_rate, momentum, nesterov).js()?),
            other => return Err(to_js(Error::argument(format!("unknown optimizer '{other}' (adam, sgd)")))),
        };
        let net = match std::mem::replace(&mut self.state, State::Empty) {
            State::Layers(net) => net,
            State::Compiled(m) => m.net, // recompiling keeps the weights, resets the optimizer
            State::Empty => unreachable!(),
        };
        if !net.is_built() {
            self.state = State::Layers(net);
            return Err(to_js(Error::state("build the model (give it an input shape) before compile()")));
        }
        self.state = State::Compiled(core_model::Model::new(net, loss, opt, self.seed).js()?);
        Ok(())
    }

    /// One training step on rows `rows` of `x` / `y`; returns `[loss, accuracy]`.
    #[wasm_bindgen(js_name = trainStep)]
    pub fn train_step(&mut self, x: &Tensor, y: &Tensor, rows: &[u32]) -> Result<Vec<f32>, JsValue> {
        let (bx, by) = (gather(&x.inner, rows)?, gather(&y.inner, rows)?);
        let s = self.compiled()?.train_step(&bx, &by).js()?;
        Ok(vec![s.loss, s.accuracy])
    }

    /// Loss and accuracy on rows `rows` in inference mode; returns `[loss, accuracy]`.
    #[wasm_bindgen(js_name = testStep)]
    pub fn test_step(&mut self, x: &Tensor, y: &Tensor, rows: &[u32]) -> Result<Vec<f32>, JsValue> {
        let (bx, by) = (gather(&x.inner, rows)?, gather(&y.inner, rows)?);
        let s = self.compiled()?.test_step(&bx, &by).js()?;
        Ok(vec![s.loss, s.accuracy])
    }

    /// Outputs for rows `rows` of `x` (all rows when empty), in inference mode.
    pub fn predict(&mut self, x: &Tensor, rows: &[u32]) -> Result<Tensor, JsValue> {
        let out = if rows.is_empty() {
            core_model::predict(self.net(), &x.inner)
        } else {
            let bx = gather(&x.inner, rows)?;
            core_model::predict(self.net(), &bx)
        };
        Ok(Tensor { inner: out.js()? })
    }

    /// Precise-BN over the given batches of rows (each `batchSize` rows of `rows`).
    #[wasm_bindgen(js_name = recalibrateBatchNorm)]
    pub fn recalibrate_batch_norm(&mut self, x: &Tensor, rows: &[u32], batch_size: u32) -> Result<u32, JsValue> {
        if batch_size < 2 {
            return Err(to_js(Error::argument("recalibration needs batches of at least 2 examples")));
        }
        let batches: Vec<CoreTensor> =
            rows.chunks(batch_size as usize).map(|r| gather(&x.inner, r)).collect::<Result<_, _>>()?;
        Ok(self.compiled()?.recalibrate_batch_norm(&batches).js()? as u32)
    }

    /// Folds every BN that follows a linear Conv2D/Dense into it (for inference).
    #[wasm_bindgen(js_name = foldBatchNorm)]
    pub fn fold_batch_norm(&mut self) -> Result<(), JsValue> {
        let net = match std::mem::replace(&mut self.state, State::Empty) {
            State::Layers(net) => net,
            State::Compiled(m) => m.net,
            State::Empty => unreachable!(),
        };
        match fold_batch_norm(net) {
            Ok(folded) => {
                self.state = State::Layers(folded);
                Ok(())
            }
            Err(e) => {
                self.state = State::Layers(Sequential::new());
                Err(to_js(e))
            }
        }
    }

    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&mut self, lr: f32) -> Result<(), JsValue> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(to_js(Error::argument(format!("learning rate must be positive, got {lr}"))));
        }
        self.compiled()?.optimizer.set_learning_rate(lr);
        Ok(())
    }

    #[wasm_bindgen(js_name = setTrainable)]
    pub fn set_trainable(&mut self, layer: &str, trainable: bool) -> Result<(), JsValue> {
        let l = self.net().layers_mut().iter_mut().find(|l| l.name() == layer);
        match l {
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
        self.net_ref().weights().iter().map(|p| p.name.clone()).collect()
    }

    #[wasm_bindgen(js_name = weightShape)]
    pub fn weight_shape(&self, name: &str) -> Result<Vec<u32>, JsValue> {
        let p = self.net_ref().weights().into_iter().find(|p| p.name == name);
        let p = p.ok_or_else(|| to_js(Error::argument(format!("no weight named '{name}'"))))?;
        Ok(p.value.shape().iter().map(|&d| d as u32).collect())
    }

    #[wasm_bindgen(js_name = getWeight)]
    pub fn get_weight(&self, name: &str) -> Result<Vec<f32>, JsValue> {
        let p = self.net_ref().weights().into_iter().find(|p| p.name == name);
        let p = p.ok_or_else(|| to_js(Error::argument(format!("no weight named '{name}'"))))?;
        Ok(p.value.data().to_vec())
    }

    /// Replaces weights all at once: `names[i]` gets the next `len(weight)` values of `values`.
    /// Every name and length is checked first, so a mismatch changes nothing.
    #[wasm_bindgen(js_name = setWeights)]
    pub fn set_weights(&mut self, names: Vec<String>, values: &[f32]) -> Result<(), JsValue> {
        let net = self.net();
        let mut plan = Vec::with_capacity(names.len());
        let mut offset = 0;
        {
            let weights = net.weights();
            for name in &names {
                let p = weights.iter().find(|p| &p.name == name);
                let p = p.ok_or_else(|| to_js(Error::argument(format!("the model has no weight named '{name}'"))))?;
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

    /// One line per layer: `name|kind|outputShape(comma-separated)|trainable|nonTrainable`.
    pub fn summary(&self) -> Vec<String> {
        self.net_ref()
            .summary()
            .into_iter()
            .map(|l| {
                let shape: Vec<String> = l.output_shape.iter().map(|d| d.to_string()).collect();
                format!("{}|{}|{}|{}|{}", l.name, l.kind, shape.join(","), l.trainable_params, l.non_trainable_params)
            })
            .collect()
    }
}

#[wasm_bindgen]
impl Model {
    /// Where the last training step spent its time: one line per layer
    /// `name|kind|forwardMs|backwardMs`, then `other|other|ms|0`, `optimizer|optimizer|ms|0`
    /// and `total|total|ms|0`.
    #[wasm_bindgen(js_name = lastStepProfile)]
    pub fn last_step_profile(&mut self) -> Result<Vec<String>, JsValue> {
        let p = self.compiled()?.last_profile().clone();
        let mut lines: Vec<String> =
            p.layers.iter().map(|l| format!("{}|{}|{}|{}", l.name, l.kind, l.forward_ms, l.backward_ms)).collect();
        lines.push(format!("other|other|{}|0", p.other_ms));
        lines.push(format!("optimizer|optimizer|{}|0", p.optimizer_ms));
        lines.push(format!("total|total|{}|0", p.total_ms));
        Ok(lines)
    }

    /// Milliseconds per layer of the last forward pass, whatever ran it (a training step,
    /// `predict`, `evaluate`): where inference spends its time.
    #[wasm_bindgen(js_name = lastForwardMs)]
    pub fn last_forward_ms(&mut self) -> Vec<f64> {
        self.net().forward_ms().to_vec()
    }
}

#[wasm_bindgen]
impl Model {
    /// Gradient clipping before each update: by global L2 norm and/or by value (NaN = off).
    #[wasm_bindgen(js_name = setClipping)]
    pub fn set_clipping(&mut self, global_norm: f32, value: f32) -> Result<(), JsValue> {
        let opt = |v: f32| (!v.is_nan()).then_some(v);
        let clipping = ballast_core::health::Clipping::new(opt(global_norm), opt(value)).js()?;
        self.compiled()?.clipping = clipping;
        Ok(())
    }

    /// Per trainable layer in the last training step: `name|gradNorm|weightNorm|updateNorm`.
    #[wasm_bindgen(js_name = lastGradientHealth)]
    pub fn last_gradient_health(&mut self) -> Result<Vec<String>, JsValue> {
        let health = self.compiled()?.last_health();
        Ok(health.iter().map(|h| format!("{}|{}|{}|{}", h.name, h.grad_norm, h.weight_norm, h.update_norm)).collect())
    }
}

#[wasm_bindgen]
impl Model {
    /// Runs one layer alone on `x` (Keras' `layer(x, training)`), without gradients.
    #[wasm_bindgen(js_name = applyLayer)]
    pub fn apply_layer(&mut self, name: &str, x: &Tensor, training: bool) -> Result<Tensor, JsValue> {
        let mut rng = ballast_core::rng::Rng::new(self.seed ^ 0xA991_1CA7);
        Ok(Tensor { inner: self.net().apply_layer(name, &x.inner, training, &mut rng).js()? })
    }
}

#[wasm_bindgen]
impl Model {
    /// Turns the per-layer norms of every training step on (default) or off.
    #[wasm_bindgen(js_name = setGradientHealthTracking)]
    pub fn set_gradient_health_tracking(&mut self, on: bool) -> Result<(), JsValue> {
        self.compiled()?.track_health = on;
        Ok(())
    }
}
