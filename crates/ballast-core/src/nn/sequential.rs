//! A linear stack of layers.

use super::{layer_error, Ctx, Layer, Param};
use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// One row of a model summary.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerInfo {
    pub name: String,
    pub kind: &'static str,
    /// Without the batch axis.
    pub output_shape: Vec<usize>,
    pub trainable_params: usize,
    pub non_trainable_params: usize,
}

#[derive(Clone, Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
    input_shape: Vec<usize>,
    output_shapes: Vec<Vec<usize>>,
    built: bool,
    /// Milliseconds per layer of the last forward pass.
    forward_ms: Vec<f64>,
    /// Each layer's output on the tape of the last forward pass.
    outputs: Vec<Var>,
}

/// Keras' default layer names: `conv2d`, `conv2d_1`, `batch_normalization`, ...
fn snake_case(kind: &str) -> String {
    match kind {
        "Conv2D" => "conv2d".into(),
        "MaxPooling2D" => "max_pooling2d".into(),
        "BatchNormalization" => "batch_normalization".into(),
        "LayerNormalization" => "layer_normalization".into(),
        "GroupNormalization" => "group_normalization".into(),
        other => other.to_lowercase(),
    }
}

impl Sequential {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer, naming it after its kind unless it has a name; names must be unique.
    pub fn add(&mut self, mut layer: Box<dyn Layer>) -> Result<()> {
        if self.built {
            return Err(Error::state("cannot add layers to a model that is already built"));
        }
        if layer.name().is_empty() {
            let base = snake_case(layer.kind());
            let taken = |n: &str| self.layers.iter().any(|l| l.name() == n);
            let mut name = base.clone();
            let mut i = 0;
            while taken(&name) {
                i += 1;
                name = format!("{base}_{i}");
            }
            layer.set_name(name);
        } else if self.layers.iter().any(|l| l.name() == layer.name()) {
            return Err(Error::argument(format!("a layer named '{}' is already in the model", layer.name())));
        }
        self.layers.push(layer);
        Ok(())
    }

    /// Creates every layer's weights for inputs of shape `[batch, ...input_shape]`.
    pub fn build(&mut self, input_shape: &[usize], rng: &mut Rng) -> Result<()> {
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Err(Error::shape(format!("invalid input shape {}", shape_str(input_shape))));
        }
        let mut shape = input_shape.to_vec();
        let mut shapes = Vec::with_capacity(self.layers.len());
        for layer in &mut self.layers {
            shape = layer.build(&shape, rng).map_err(|e| layer_error(layer.as_ref(), e))?;
            shapes.push(shape.clone());
        }
        self.input_shape = input_shape.to_vec();
        self.output_shapes = shapes;
        self.built = true;
        Ok(())
    }

    /// Marks a model assembled from already-built layers as built for `input_shape`,
    /// recording output shapes without creating new weights.
    pub(crate) fn rebuild_shapes(&mut self, input_shape: &[usize]) -> Result<()> {
        let saved: Vec<Vec<Param>> =
            self.layers.iter().map(|l| l.params().into_iter().chain(l.state()).cloned().collect()).collect();
        let mut rng = Rng::new(0);
        self.build(input_shape, &mut rng)?;
        for (layer, weights) in self.layers.iter_mut().zip(saved) {
            for (dst, src) in layer.weights_mut().into_iter().zip(weights) {
                *dst = src;
            }
        }
        Ok(())
    }

    pub fn is_built(&self) -> bool {
        self.built
    }
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }
    pub fn output_shape(&self) -> &[usize] {
        self.output_shapes.last().map_or(&self.input_shape, |s| s)
    }
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.layers
    }
    pub(crate) fn into_layers(self) -> Vec<Box<dyn Layer>> {
        self.layers
    }

    pub fn ends_in_softmax(&self) -> bool {
        self.layers.last().is_some_and(|l| l.ends_in_softmax())
    }

    /// Checks that `x` is `[batch, ...input_shape]` with a batch of at least one.
    pub fn check_input(&self, x: &Tensor) -> Result<()> {
        if !self.built {
            return Err(Error::state("the model is not built: give it an input shape first"));
        }
        let s = x.shape();
        if s.len() != self.input_shape.len() + 1 || s[1..] != self.input_shape[..] || s[0] == 0 {
            return Err(Error::shape(format!(
                "model expects input [batch, {}], got {}",
                shape_str(&self.input_shape).trim_matches(|ch| ch == '[' || ch == ']'),
                shape_str(s)
            )));
        }
        Ok(())
    }

    /// Runs every layer. Returns the output and, per layer, its trainable parameters' vars
    /// (leaves that require gradients when the layer is trainable). With `logits`, a final
    /// softmax is left out so the loss can fuse it.
    pub fn forward(
        &mut self,
        tape: &mut Tape,
        x: Var,
        training: bool,
        logits: bool,
        rng: &mut Rng,
    ) -> Result<(Var, Vec<Vec<Var>>)> {
        self.check_input(tape.value(x))?;
        let mut h = x;
        let mut param_vars = Vec::with_capacity(self.layers.len());
        let last = self.layers.len().saturating_sub(1);
        self.forward_ms.clear();
        self.outputs.clear();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let started = crate::profile::now_ms();
            tape.set_scope(i);
            let trainable = layer.trainable();
            let vars: Vec<Var> = layer.params().iter().map(|p| tape.leaf(p.value.clone(), trainable)).collect();
            let mut ctx = Ctx { tape: &mut *tape, training, rng: &mut *rng, logits: logits && i == last };
            h = layer.forward(&mut ctx, h, &vars).map_err(|e| layer_error(layer.as_ref(), e))?;
            param_vars.push(vars);
            self.outputs.push(h);
            self.forward_ms.push(crate::profile::now_ms() - started);
        }
        tape.set_scope(self.layers.len());
        Ok((h, param_vars))
    }

    /// Milliseconds per layer of the last forward pass (of a `predict` split across threads:
    /// summed over its chunks, so thread time rather than wall time).
    pub fn forward_ms(&self) -> &[f64] {
        &self.forward_ms
    }

    pub(crate) fn set_forward_ms(&mut self, ms: Vec<f64>) {
        self.forward_ms = ms;
    }

    /// Runs the layer named `name` alone on `x` (no gradients). In training mode BN uses
    /// batch statistics and updates its moving statistics, as a Keras layer call would.
    pub fn apply_layer(&mut self, name: &str, x: &Tensor, training: bool, rng: &mut Rng) -> Result<Tensor> {
        let Some(layer) = self.layers.iter_mut().find(|l| l.name() == name) else {
            return Err(Error::argument(format!("no layer named '{name}'")));
        };
        let mut tape = Tape::new();
        let input = tape.constant(x.clone());
        let params: Vec<Var> = layer.params().iter().map(|p| tape.constant(p.value.clone())).collect();
        let mut ctx = Ctx { tape: &mut tape, training, rng, logits: false };
        let out = layer.forward(&mut ctx, input, &params).map_err(|e| layer_error(layer.as_ref(), e));
        layer.end_step(out.is_ok() && training);
        Ok(tape.value(out?).clone())
    }

    /// The first layer whose output on `tape` (the last forward pass) holds a NaN or an Inf.
    pub fn first_non_finite_output(&self, tape: &Tape) -> Option<&dyn Layer> {
        let i = self.outputs.iter().position(|&v| !tape.value(v).all_finite())?;
        Some(self.layers[i].as_ref())
    }

    /// Ends a training step in every layer (see [`Layer::end_step`]).
    pub fn end_step(&mut self, commit: bool) {
        self.layers.iter_mut().for_each(|l| l.end_step(commit));
    }

    /// Every weight, layer by layer: trainable parameters, then state.
    pub fn weights(&self) -> Vec<&Param> {
        self.layers.iter().flat_map(|l| l.params().into_iter().chain(l.state())).collect()
    }

    pub fn weights_mut(&mut self) -> Vec<&mut Param> {
        self.layers.iter_mut().flat_map(|l| l.weights_mut()).collect()
    }

    pub fn summary(&self) -> Vec<LayerInfo> {
        self.layers
            .iter()
            .zip(&self.output_shapes)
            .map(|(l, shape)| {
                let count = |ps: Vec<&Param>| ps.iter().map(|p| p.value.len()).sum::<usize>();
                let (params, state) = (count(l.params()), count(l.state()));
                let (trainable, frozen) = if l.trainable() { (params, state) } else { (0, params + state) };
                LayerInfo {
                    name: l.name().to_string(),
                    kind: l.kind(),
                    output_shape: shape.clone(),
                    trainable_params: trainable,
                    non_trainable_params: frozen,
                }
            })
            .collect()
    }
}
