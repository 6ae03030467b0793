//! Keras `InputLayer`: where data enters a graph, with the shape of one example.

use super::config::{as_object, check_keys, describe, Json, Map};
use super::{layer_common, Ctx, Layer, LayerKind};
use crate::autograd::Var;
use crate::error::Error;
use crate::tensor::shape_str;
use crate::Result;

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "InputLayer",
    default_name: "input_layer",
    make: |c| Ok(Box::new(InputLayer::from_json(c)?)),
}];

#[derive(Clone)]
pub struct InputLayer {
    name: String,
    trainable: bool,
    /// One example's shape, without the batch axis.
    pub shape: Vec<usize>,
}

impl InputLayer {
    pub fn new(shape: &[usize]) -> Result<Self> {
        if shape.is_empty() || shape.contains(&0) {
            return Err(Error::shape(format!(
                "invalid input shape {}: give one example's shape, e.g. [28, 28, 1]",
                shape_str(shape)
            )));
        }
        Ok(InputLayer { name: String::new(), trainable: true, shape: shape.to_vec() })
    }

    fn from_json(c: &Json) -> Result<Self> {
        let obj = as_object(c)?;
        check_keys(obj, &["shape"])?;
        let raw = obj.get("shape").ok_or_else(|| Error::argument("option 'shape' is required (e.g. [28, 28, 1])"))?;
        let dims = raw.as_array().and_then(|a| a.iter().map(<usize as super::config::ConfigValue>::read).collect());
        let dims: Vec<usize> = dims.ok_or_else(|| {
            Error::argument(format!("option 'shape' must be a list of positive integers, got {}", describe(raw)))
        })?;
        InputLayer::new(&dims)
    }
}

impl Layer for InputLayer {
    layer_common!("InputLayer");

    fn config(&self) -> Json {
        let mut m = Map::new();
        m.insert("shape".into(), Json::from(self.shape.iter().map(|&d| d as u64).collect::<Vec<_>>()));
        Json::Object(m)
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        if !inputs.is_empty() {
            return Err(Error::argument("an input layer takes no inputs"));
        }
        Ok(self.shape.clone())
    }

    /// The graph feeds the data itself; an input layer passes it on.
    fn forward(&mut self, _: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        inputs.first().copied().ok_or_else(|| Error::state("an input layer runs only inside a graph"))
    }
}
