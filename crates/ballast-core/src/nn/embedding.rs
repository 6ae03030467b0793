//! Keras `Embedding`: class indices to learned vectors, `[batch, ...]` → `[batch, ..., outputDim]`.
//!
//! The input holds the indices as numbers (every tensor is f32): whole numbers in
//! `[0, inputDim)`, anything else refused with the value and where it is. The table is the
//! weight `embeddings` (`[inputDim, outputDim]`, Keras' U(−0.05, 0.05) by default); its
//! gradient is the scatter-add of the output gradient (see `ops::embedding`).

use super::config::{layer_config, Json};
use super::init::RANDOM_UNIFORM;
use super::{batch_shape, layer_common, one_input, Ctx, Initializer, Layer, LayerKind, Param, Regularizer};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops;
use crate::rng::Rng;
use crate::Result;

layer_config! {
    pub struct EmbeddingConfig {
        /// The number of classes: indices run from 0 to `inputDim − 1`.
        input_dim "inputDim": usize,
        /// The length of each class's vector.
        output_dim "outputDim": usize,
        embeddings_initializer "embeddingsInitializer": Initializer = RANDOM_UNIFORM,
        embeddings_regularizer "embeddingsRegularizer": Option<Regularizer> = None,
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "Embedding",
    default_name: "embedding",
    make: |c| Ok(Box::new(Embedding::new(EmbeddingConfig::from_json(c)?)?)),
}];

#[derive(Clone)]
pub struct Embedding {
    name: String,
    trainable: bool,
    pub config: EmbeddingConfig,
    /// `[inputDim, outputDim]`, once built.
    weights: Vec<Param>,
}

impl Embedding {
    pub fn new(config: EmbeddingConfig) -> Result<Self> {
        if config.input_dim == 0 || config.output_dim == 0 {
            return Err(Error::argument(format!(
                "inputDim and outputDim must be at least 1, got {} and {}",
                config.input_dim, config.output_dim
            )));
        }
        if config.input_dim > 1 << 24 {
            // Above 2^24 not every whole number is an f32: some indices could not be given.
            return Err(Error::argument(format!(
                "inputDim {} is more than 2^24 classes, whose indices float32 inputs cannot all hold",
                config.input_dim
            )));
        }
        Ok(Embedding { name: String::new(), trainable: true, config, weights: Vec::new() })
    }
}

impl Layer for Embedding {
    layer_common!("Embedding");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        if input.is_empty() || input.contains(&0) {
            return Err(Error::shape(format!("expects input [batch, indices...], got {}", batch_shape(input))));
        }
        let mut out = input.to_vec();
        out.push(self.config.output_dim);
        Ok(out)
    }

    fn build(&mut self, _: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let c = self.config;
        let shape = [c.input_dim, c.output_dim];
        let table = c.embeddings_initializer.init(&shape, (c.input_dim, c.output_dim), rng)?;
        self.weights = vec![Param::new(&self.name, "embeddings", table)];
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        ops::embedding::embedding(ctx.tape, inputs[0], params[0])
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.iter().collect()
    }
    fn regularizers(&self) -> Vec<Option<Regularizer>> {
        vec![self.config.embeddings_regularizer; self.weights.len()]
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.iter_mut().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::create;
    use super::*;
    use crate::autograd::Tape;
    use crate::{ErrorKind, Tensor};
    use serde_json::json;

    #[test]
    fn config_weights_and_bad_indices() {
        let mut layer = create("Embedding", &json!({ "inputDim": 6, "outputDim": 3, "name": "emb" })).unwrap();
        assert_eq!(
            layer.config(),
            json!({ "inputDim": 6, "outputDim": 3, "embeddingsInitializer": "randomUniform", "embeddingsRegularizer": null })
        );
        assert_eq!(layer.output_shape(&[&[4]]).unwrap(), [4, 3]);
        assert_eq!(layer.output_shape(&[&[2, 5]]).unwrap(), [2, 5, 3]);
        layer.build(&[&[4]], &mut Rng::new(1)).unwrap();
        let table = &layer.params()[0];
        assert_eq!((table.name.as_str(), table.value.shape()), ("emb/embeddings", &[6, 3][..]));
        assert!(table.value.data().iter().all(|v| v.abs() <= 0.05) && table.value.data().iter().any(|&v| v != 0.0));

        let mut tape = Tape::new();
        let x = tape.constant(Tensor::new(vec![0.0, 5.0, 6.0, 1.0], &[1, 4]).unwrap());
        let w = tape.leaf(table.value.clone(), true);
        let mut rng = Rng::new(0);
        let mut ctx = Ctx { tape: &mut tape, training: true, rng: &mut rng, logits: false };
        let e = layer.forward(&mut ctx, &[x], &[w]).unwrap_err();
        let e = super::super::layer_error(layer.as_ref(), e);
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(
            e.message.starts_with("layer 'emb' (Embedding): input value 6 at [0, 2] of the batch is out of range"),
            "{}",
            e.message
        );

        let err = |v| create("Embedding", &v).err().unwrap().message;
        assert!(err(json!({ "outputDim": 3 })).contains("option 'inputDim' is required"));
        assert!(err(json!({ "inputDim": 0, "outputDim": 3 })).contains("inputDim and outputDim must be at least 1"));
        assert!(err(json!({ "inputDim": 3, "outputDim": 2, "maskZero": true })).contains("unknown option 'maskZero'"));
        assert_eq!(
            create("Embedding", &json!({ "inputDim": 3, "outputDim": 2, "embeddingsInitializer": "uniform" }))
                .unwrap()
                .config()["embeddingsInitializer"],
            "randomUniform"
        );
    }
}
