//! `Sequential`: a builder of chain graphs, one layer after another.

use super::Graph;
use crate::nn::{InputLayer, Layer};
use crate::rng::Rng;
use crate::Result;

#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
}

impl Sequential {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer (named after its kind unless it has a name, when built).
    pub fn add(&mut self, layer: Box<dyn Layer>) -> &mut Self {
        self.layers.push(layer);
        self
    }

    /// The chain graph from an input of shape `[batch, ...input_shape]` through every layer,
    /// with its weights created.
    pub fn build(self, input_shape: &[usize], rng: &mut Rng) -> Result<Graph> {
        let mut graph = Graph::new();
        let mut last = graph.add(Box::new(InputLayer::new(input_shape)?), &[], rng)?;
        for layer in self.layers {
            last = graph.add(layer, &[last], rng)?;
        }
        graph.set_outputs(&[last])?;
        Ok(graph)
    }
}
