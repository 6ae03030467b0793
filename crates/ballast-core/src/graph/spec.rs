//! The architecture as `model.json` stores it. Version 2 is the graph: every node with its
//! name, Keras class name, resolved config and inputs (by name). Version 1 (format
//! `ballast-sequential`, a list of layers) is still read, as the chain it describes.
//!
//! Weights are not here: they live in safetensors beside it, named `layer/weight`.

use super::{Graph, NodeId};
use crate::error::Error;
use crate::nn::config::{describe, Json, Map};
use crate::nn::registry;
use crate::rng::Rng;
use crate::Result;

pub const FORMAT: &str = "ballast-model";
pub const VERSION: u64 = 2;
const FORMAT_V1: &str = "ballast-sequential";
/// What a node of version 2 holds.
const NODE_KEYS: &[&str] = &["name", "className", "config", "inputs", "trainable"];

impl Graph {
    /// The architecture as a `model.json` object (format, version, nodes, inputs, outputs).
    pub fn to_spec(&self) -> Json {
        let name = |i: NodeId| Json::String(self.nodes[i].layer.name().to_string());
        let nodes: Vec<Json> = self
            .nodes
            .iter()
            .map(|n| {
                let mut m = Map::new();
                m.insert("name".into(), Json::String(n.layer.name().to_string()));
                m.insert("className".into(), Json::String(n.layer.kind().to_string()));
                m.insert("config".into(), n.layer.config());
                m.insert("inputs".into(), Json::Array(n.inputs.iter().map(|&i| name(i)).collect()));
                if !n.layer.trainable() {
                    m.insert("trainable".into(), Json::Bool(false));
                }
                Json::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("format".into(), Json::String(FORMAT.into()));
        m.insert("version".into(), Json::from(VERSION));
        m.insert("inputs".into(), Json::Array(self.inputs.iter().map(|&i| name(i)).collect()));
        m.insert("outputs".into(), Json::Array(self.outputs.iter().map(|&i| name(i)).collect()));
        m.insert("nodes".into(), Json::Array(nodes));
        Json::Object(m)
    }

    /// Rebuilds a graph from [`Graph::to_spec`]'s object (or a version 1 layer list), with new
    /// weights drawn from `rng`. Keys the core does not own (`seed`, `compile`) are left to
    /// the caller. Errors are `DataError`s saying what in the file is wrong, or the layer's
    /// own error for a bad config.
    pub fn from_spec(spec: &Json, rng: &mut Rng) -> Result<Graph> {
        let format = spec.get("format").and_then(Json::as_str);
        let version = spec.get("version").and_then(Json::as_u64);
        match (format, version) {
            (Some(FORMAT), Some(VERSION)) => from_v2(spec, rng),
            (Some(FORMAT_V1), Some(1)) => from_v1(spec, rng),
            _ => Err(Error::data(format!(
                "not a Ballast model (format {}, version {}; expected '{FORMAT}' version {VERSION}, or '{FORMAT_V1}' version 1)",
                spec.get("format").map_or("missing".into(), describe),
                spec.get("version").map_or("missing".into(), describe),
            ))),
        }
    }
}

fn list<'a>(v: &'a Json, key: &str) -> Result<&'a Vec<Json>> {
    v.get(key).and_then(Json::as_array).ok_or_else(|| Error::data(format!("'{key}' must be a list")))
}

fn from_v2(spec: &Json, rng: &mut Rng) -> Result<Graph> {
    let mut graph = Graph::new();
    // Names resolve to nodes already added, so a node used before it is defined (or a cycle)
    // cannot be built.
    let id_of = |graph: &Graph, v: &Json, what: &str| -> Result<NodeId> {
        let name =
            v.as_str().ok_or_else(|| Error::data(format!("{what} must be a layer name, got {}", describe(v))))?;
        graph.find(name).ok_or_else(|| {
            Error::data(format!("{what} '{name}' is not a node defined before it (nodes must be listed inputs first)"))
        })
    };
    for (i, node) in list(spec, "nodes")?.iter().enumerate() {
        let keys = node.as_object().ok_or_else(|| Error::data(format!("node {i} is not an object")))?.keys();
        if let Some(k) = keys.into_iter().find(|k| !NODE_KEYS.contains(&k.as_str())) {
            return Err(Error::data(format!("node {i} has an unknown key '{k}' (keys: {})", NODE_KEYS.join(", "))));
        }
        let field = |key: &str| node.get(key).ok_or_else(|| Error::data(format!("node {i} has no '{key}'")));
        let name = field("name")?.as_str().ok_or_else(|| Error::data(format!("node {i}: 'name' must be a string")))?;
        let class = field("className")?
            .as_str()
            .ok_or_else(|| Error::data(format!("node '{name}': 'className' must be a string")))?;
        let mut options = field("config")?.clone();
        let obj =
            options.as_object_mut().ok_or_else(|| Error::data(format!("node '{name}': 'config' must be an object")))?;
        obj.insert("name".into(), Json::String(name.into()));
        if let Some(t) = node.get("trainable") {
            obj.insert("trainable".into(), t.clone());
        }
        let inputs = list(node, "inputs").map_err(|e| Error::data(format!("node '{name}': {}", e.message)))?;
        let inputs: Vec<NodeId> =
            inputs.iter().map(|v| id_of(&graph, v, &format!("node '{name}': input"))).collect::<Result<_>>()?;
        let layer = registry::create(class, &options)?;
        graph.add(layer, &inputs, rng)?;
    }
    let ends = |key: &str| -> Result<Vec<NodeId>> {
        list(spec, key)?.iter().map(|v| id_of(&graph, v, &format!("'{key}' entry"))).collect()
    };
    let (inputs, outputs) = (ends("inputs")?, ends("outputs")?);
    if inputs != graph.inputs {
        return Err(Error::data("'inputs' must list the input layers, in the order of the nodes"));
    }
    graph.set_outputs(&outputs)?;
    Ok(graph)
}

fn from_v1(spec: &Json, rng: &mut Rng) -> Result<Graph> {
    let layers = list(spec, "layers")?;
    let mut graph = Graph::new();
    let mut last = None;
    for (i, layer) in layers.iter().enumerate() {
        let kind = layer.get("type").and_then(Json::as_str);
        let kind = kind.ok_or_else(|| Error::data(format!("layer {i} has no 'type'")))?;
        let config = layer.get("config").cloned().unwrap_or_else(|| Json::Object(Map::new()));
        let (class, inputs) = match (kind, last) {
            ("input", None) => ("InputLayer", vec![]),
            ("input", Some(_)) => return Err(Error::data(format!("layer {i}: only the first layer may be an input"))),
            (_, None) => return Err(Error::data("the first layer must be an input layer")),
            (kind, Some(prev)) => (registry::find_v1(kind).map_err(|e| Error::data(e.message))?.class_name, vec![prev]),
        };
        last = Some(graph.add(registry::create(class, &config)?, &inputs, rng)?);
    }
    graph.set_outputs(&[last.ok_or_else(|| Error::data("the model has no layers"))?])?;
    Ok(graph)
}
