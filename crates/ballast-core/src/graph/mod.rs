//! A model's architecture as a graph of layers: nodes in topological order (each node's
//! inputs come before it, as on the tape, so a cycle cannot be written down), with every
//! node's output shape inferred when it is added.
//!
//! `Sequential` builds a chain of nodes; a functional model adds them by input. Training,
//! `predict`, gradient health, NaN location, precise-BN and BN folding all walk this one
//! structure.

mod fold;
mod sequential;
pub mod spec;
#[cfg(test)]
mod tests;

pub use fold::fold_batch_norm;
pub use sequential::Sequential;

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::nn::{batch_shape, layer_error, registry, Ctx, InputLayer, Layer, Param};
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// A shape error of a layer with several inputs, with the inputs named:
/// `... (inputs: 'conv2d' [batch, 4, 4, 3], 'add' [batch, 4, 4, 2])`.
pub fn naming_inputs(e: Error, inputs: &[(&str, &[usize])]) -> Error {
    if inputs.len() < 2 || e.kind != crate::ErrorKind::Shape {
        return e;
    }
    let named: Vec<String> = inputs.iter().map(|(name, shape)| format!("'{name}' {}", batch_shape(shape))).collect();
    Error { kind: e.kind, message: format!("{} (inputs: {})", e.message, named.join(", ")) }
}

/// A node's index in its graph.
pub type NodeId = usize;

#[derive(Clone)]
pub struct Node {
    pub layer: Box<dyn Layer>,
    /// The nodes whose outputs this one takes, in order; all come earlier.
    pub inputs: Vec<NodeId>,
    /// The output shape, without the batch axis.
    pub shape: Vec<usize>,
}

impl Node {
    pub fn is_input(&self) -> bool {
        self.layer.as_any().is::<InputLayer>()
    }
}

/// One row of a model summary.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    pub name: String,
    pub kind: &'static str,
    /// Without the batch axis.
    pub output_shape: Vec<usize>,
    pub trainable_params: usize,
    pub non_trainable_params: usize,
    /// The names of the nodes it takes its inputs from.
    pub inputs: Vec<String>,
}

#[derive(Clone, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    inputs: Vec<NodeId>,
    outputs: Vec<NodeId>,
    /// Milliseconds per node of the last forward pass.
    forward_ms: Vec<f64>,
    /// Each node's output on the tape of the last forward pass.
    values: Vec<Var>,
    /// Names that layers added later will bring, which default names must not take.
    reserved: Vec<String>,
}

/// The most values one example may have at any node: 2^30 float32 are 4 GiB, all the
/// memory a WASM instance can have, so a larger output could never be allocated.
pub const MAX_EXAMPLE_VALUES: usize = 1 << 30;

/// Refuses an output shape (without the batch axis) of more values than [`MAX_EXAMPLE_VALUES`].
fn check_example_size(shape: &[usize]) -> Result<()> {
    let values = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    match values {
        Some(v) if v <= MAX_EXAMPLE_VALUES => Ok(()),
        _ => Err(Error::argument(format!(
            "its output [{}] per example has more than 2^30 values (4 GiB of float32), more than WASM memory can hold",
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node running `layer` on the outputs of `inputs` (none for an `InputLayer`),
    /// names it after its kind unless it has a name, infers its shape and creates its
    /// weights. On any error the graph is unchanged.
    pub fn add(&mut self, mut layer: Box<dyn Layer>, inputs: &[NodeId], rng: &mut Rng) -> Result<NodeId> {
        if !self.outputs.is_empty() {
            return Err(Error::state("the graph is complete (its outputs are set): no node can be added"));
        }
        if layer.name().is_empty() {
            let base = registry::find(layer.kind())?.default_name;
            let mut name = base.to_string();
            let mut i = 0;
            while self.find(&name).is_some() || self.reserved.contains(&name) {
                i += 1;
                name = format!("{base}_{i}");
            }
            layer.set_name(name);
        } else if let Err(e) = registry::check_name(layer.name()) {
            return Err(e);
        } else if self.find(layer.name()).is_some() {
            return Err(Error::argument(format!("a layer named '{}' is already in the model", layer.name())));
        }
        if let Some(&bad) = inputs.iter().find(|&&i| i >= self.nodes.len()) {
            return Err(layer_error(
                layer.as_ref(),
                Error::argument(format!(
                    "input node {bad} is not defined yet (the graph has {} nodes; inputs must come first)",
                    self.nodes.len()
                )),
            ));
        }
        let shapes: Vec<&[usize]> = inputs.iter().map(|&i| self.nodes[i].shape.as_slice()).collect();
        let named: Vec<(&str, &[usize])> =
            inputs.iter().map(|&i| (self.nodes[i].layer.name(), self.nodes[i].shape.as_slice())).collect();
        let with_inputs = |e: Error| layer_error(layer.as_ref(), naming_inputs(e, &named));
        let shape = layer.output_shape(&shapes).map_err(with_inputs)?;
        check_example_size(&shape).map_err(|e| layer_error(layer.as_ref(), e))?;
        layer.build(&shapes, rng).map_err(|e| layer_error(layer.as_ref(), e))?;
        let id = self.nodes.len();
        if layer.as_any().is::<InputLayer>() {
            self.inputs.push(id);
        }
        self.nodes.push(Node { layer, inputs: inputs.to_vec(), shape });
        Ok(id)
    }

    /// Keeps `names` (of layers to be added later) from being given to layers added before
    /// them without a name of their own.
    pub fn reserve_names(&mut self, names: impl IntoIterator<Item = String>) {
        self.reserved.extend(names);
    }

    /// Completes the graph. Every node must lead to an output (a node that does not would
    /// run for nothing, or is a mistake), and there must be an input.
    pub fn set_outputs(&mut self, outputs: &[NodeId]) -> Result<()> {
        if self.inputs.is_empty() {
            return Err(Error::argument("the model has no input: start it with an input layer"));
        }
        if outputs.is_empty() {
            return Err(Error::argument("the model needs at least one output"));
        }
        if let Some(&bad) = outputs.iter().find(|&&o| o >= self.nodes.len()) {
            return Err(Error::argument(format!("output node {bad} is not in the graph ({} nodes)", self.nodes.len())));
        }
        let mut used = vec![false; self.nodes.len()];
        outputs.iter().for_each(|&o| used[o] = true);
        for i in (0..self.nodes.len()).rev() {
            if used[i] {
                self.nodes[i].inputs.iter().for_each(|&j| used[j] = true);
            }
        }
        if let Some(i) = used.iter().position(|u| !u) {
            let node = &self.nodes[i];
            return Err(Error::argument(format!(
                "node '{}' ({}) does not lead to any output of the model",
                node.layer.name(),
                node.layer.kind()
            )));
        }
        self.outputs = outputs.to_vec();
        Ok(())
    }

    pub fn is_complete(&self) -> bool {
        !self.outputs.is_empty()
    }
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }
    pub fn outputs(&self) -> &[NodeId] {
        &self.outputs
    }
    pub fn layers(&self) -> impl Iterator<Item = &dyn Layer> {
        self.nodes.iter().map(|n| n.layer.as_ref())
    }
    pub fn layers_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn Layer>> {
        self.nodes.iter_mut().map(|n| &mut n.layer)
    }
    /// The node of the layer named `name`.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.layer.name() == name)
    }
    /// How many nodes take this node's output (an output of the graph counts as one more).
    pub fn consumers(&self, id: NodeId) -> usize {
        let users = self.nodes.iter().map(|n| n.inputs.iter().filter(|&&i| i == id).count()).sum::<usize>();
        users + self.outputs.iter().filter(|&&o| o == id).count()
    }

    /// The one input and one output that training and `predict` need, or an error.
    fn single_io(&self) -> Result<(NodeId, NodeId)> {
        if !self.is_complete() {
            return Err(Error::state("the model is not complete: set its outputs first"));
        }
        match (self.inputs.as_slice(), self.outputs.as_slice()) {
            ([i], [o]) => Ok((*i, *o)),
            (i, o) => Err(Error::argument(format!(
                "models with {} inputs and {} outputs cannot be trained or run yet: give one input and one output",
                i.len(),
                o.len()
            ))),
        }
    }

    /// The shape of one example of the (single) input.
    pub fn input_shape(&self) -> Result<&[usize]> {
        Ok(&self.nodes[self.single_io()?.0].shape)
    }
    /// The shape of one example of the (single) output.
    pub fn output_shape(&self) -> Result<&[usize]> {
        Ok(&self.nodes[self.single_io()?.1].shape)
    }

    /// Whether the output node ends in a softmax that nothing else reads, so a loss may take
    /// its logits instead.
    pub fn ends_in_softmax(&self) -> bool {
        self.single_io().is_ok_and(|(_, o)| self.nodes[o].layer.ends_in_softmax() && self.consumers(o) == 1)
    }

    /// Checks that `x` is `[batch, ...input_shape]` with a batch of at least one.
    pub fn check_input(&self, x: &Tensor) -> Result<()> {
        let want = self.input_shape()?;
        let s = x.shape();
        if s.len() != want.len() + 1 || s[1..] != want[..] || s[0] == 0 {
            let dims = shape_str(want);
            return Err(Error::shape(format!(
                "model expects input [batch, {}], got {}",
                dims.trim_matches(|ch| ch == '[' || ch == ']'),
                shape_str(s)
            )));
        }
        Ok(())
    }

    /// Refuses a pass on `batch` examples when `copies` of every node's output (1 for
    /// inference; 2 for training, which keeps each output and its gradient) cannot fit in the
    /// memory left: a lower bound of what the pass takes, checked before any kernel runs.
    pub fn check_batch_memory(&self, batch: usize, copies: usize, what: &str) -> Result<()> {
        let per_example =
            self.nodes.iter().fold(0usize, |sum, node| sum.saturating_add(crate::memory::values_in(&node.shape)));
        let values = per_example.saturating_mul(batch).saturating_mul(copies);
        crate::memory::check_f32(values, || {
            format!("{what} on a batch of {batch} ({copies}× the layers' outputs, {per_example} values per example)")
        })
    }

    /// Runs every node on the input `x`. Returns the output and, per node, its trainable
    /// parameters' vars (leaves that require gradients when the layer is trainable). With
    /// `logits`, a final softmax is left out so the loss can fuse it.
    pub fn forward(
        &mut self,
        tape: &mut Tape,
        x: Var,
        training: bool,
        logits: bool,
        rng: &mut Rng,
    ) -> Result<(Var, Vec<Vec<Var>>)> {
        self.check_input(tape.value(x))?;
        let (_, output) = self.single_io()?;
        let logits = logits && self.ends_in_softmax();
        let mut param_vars = Vec::with_capacity(self.nodes.len());
        self.forward_ms.clear();
        self.values.clear();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let started = crate::profile::now_ms();
            tape.set_scope(i);
            let layer = &mut node.layer;
            let trainable = layer.trainable();
            let vars: Vec<Var> = layer.params().iter().map(|p| tape.leaf(p.value.clone(), trainable)).collect();
            let h = if node.inputs.is_empty() {
                x
            } else {
                let inputs: Vec<Var> = node.inputs.iter().map(|&j| self.values[j]).collect();
                let mut ctx = Ctx { tape: &mut *tape, training, rng: &mut *rng, logits: logits && i == output };
                layer.forward(&mut ctx, &inputs, &vars).map_err(|e| layer_error(layer.as_ref(), e))?
            };
            param_vars.push(vars);
            self.values.push(h);
            self.forward_ms.push(crate::profile::now_ms() - started);
        }
        tape.set_scope(self.nodes.len());
        Ok((self.values[output], param_vars))
    }

    /// Milliseconds per node of the last forward pass (of a `predict` split across threads:
    /// summed over its chunks, so thread time rather than wall time).
    pub fn forward_ms(&self) -> &[f64] {
        &self.forward_ms
    }

    pub(crate) fn set_forward_ms(&mut self, ms: Vec<f64>) {
        self.forward_ms = ms;
    }

    /// Runs the layer named `name` alone on `inputs` (no gradients). In training mode BN uses
    /// batch statistics and updates its moving statistics, as a Keras layer call would.
    pub fn apply_layer(&mut self, name: &str, inputs: &[Tensor], training: bool, rng: &mut Rng) -> Result<Tensor> {
        let Some(id) = self.find(name) else {
            return Err(Error::argument(format!("no layer named '{name}'")));
        };
        let layer = &mut self.nodes[id].layer;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape().get(1..).unwrap_or(&[])).collect();
        if inputs.iter().any(|t| t.rank() == 0) {
            return Err(layer_error(layer.as_ref(), Error::shape("inputs need a batch axis")));
        }
        // Inputs the layer cannot take at all are refused here; inputs of another size than its
        // weights were made for, by its ops (typed errors, before their kernels run).
        layer.output_shape(&shapes).map_err(|e| layer_error(layer.as_ref(), e))?;
        let mut tape = Tape::new();
        let vars: Vec<Var> = inputs.iter().map(|t| tape.constant(t.clone())).collect();
        let params: Vec<Var> = layer.params().iter().map(|p| tape.constant(p.value.clone())).collect();
        let mut ctx = Ctx { tape: &mut tape, training, rng, logits: false };
        let out = layer.forward(&mut ctx, &vars, &params).map_err(|e| layer_error(layer.as_ref(), e));
        layer.end_step(out.is_ok() && training);
        Ok(tape.value(out?).clone())
    }

    /// The first node whose output on `tape` (the last forward pass) holds a NaN or an Inf.
    pub fn first_non_finite_output(&self, tape: &Tape) -> Option<&dyn Layer> {
        let i = self.values.iter().position(|&v| !tape.value(v).all_finite())?;
        Some(self.nodes[i].layer.as_ref())
    }

    /// Ends a training step in every layer (see [`Layer::end_step`]).
    pub fn end_step(&mut self, commit: bool) {
        self.layers_mut().for_each(|l| l.end_step(commit));
    }

    /// Every weight, node by node: trainable parameters, then state.
    pub fn weights(&self) -> Vec<&Param> {
        self.layers().flat_map(|l| l.params().into_iter().chain(l.state())).collect()
    }

    pub fn weights_mut(&mut self) -> Vec<&mut Param> {
        self.layers_mut().flat_map(|l| l.weights_mut()).collect()
    }

    pub fn summary(&self) -> Vec<NodeInfo> {
        self.nodes
            .iter()
            .map(|n| {
                let l = &n.layer;
                let count = |ps: Vec<&Param>| ps.iter().map(|p| p.value.len()).sum::<usize>();
                let (params, state) = (count(l.params()), count(l.state()));
                let (trainable, frozen) = if l.trainable() { (params, state) } else { (0, params + state) };
                NodeInfo {
                    name: l.name().to_string(),
                    kind: l.kind(),
                    output_shape: n.shape.clone(),
                    trainable_params: trainable,
                    non_trainable_params: frozen,
                    inputs: n.inputs.iter().map(|&i| self.nodes[i].layer.name().to_string()).collect(),
                }
            })
            .collect()
    }

    /// Removes the nodes marked in `drop`, each replaced by its first input wherever it was
    /// read (for rewrites that fold a node into the one before it).
    pub(crate) fn remove_nodes(&mut self, drop: &[bool]) {
        let mut new_id = vec![0; self.nodes.len()];
        let mut kept = Vec::with_capacity(self.nodes.len());
        for (i, node) in std::mem::take(&mut self.nodes).into_iter().enumerate() {
            if drop[i] {
                new_id[i] = new_id[node.inputs[0]];
                continue;
            }
            new_id[i] = kept.len();
            kept.push(Node { inputs: node.inputs.iter().map(|&j| new_id[j]).collect(), ..node });
        }
        self.nodes = kept;
        self.inputs = self.inputs.iter().map(|&i| new_id[i]).collect();
        self.outputs = self.outputs.iter().map(|&i| new_id[i]).collect();
        self.forward_ms.clear();
        self.values.clear();
    }
}
