//! Keras `Dropout`: active only in training.

use super::config::{layer_config, Json};
use super::{layer_common, one_input, Ctx, Layer, LayerKind};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops::dropout::dropout;
use crate::Result;

layer_config! {
    pub struct DropoutConfig {
        /// The fraction of inputs zeroed in training, in [0, 1).
        rate "rate": f32,
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "Dropout",
    default_name: "dropout",
    make: |c| Ok(Box::new(Dropout::new(DropoutConfig::from_json(c)?.rate)?)),
}];

#[derive(Clone)]
pub struct Dropout {
    name: String,
    trainable: bool,
    pub rate: f32,
}

impl Dropout {
    pub fn new(rate: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::argument(format!("dropout rate must be in [0, 1), got {rate}")));
        }
        Ok(Dropout { name: String::new(), trainable: true, rate })
    }
}

impl Layer for Dropout {
    layer_common!("Dropout");

    fn config(&self) -> Json {
        DropoutConfig { rate: self.rate }.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(one_input(inputs)?.to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        if !ctx.training || self.rate == 0.0 {
            return Ok(inputs[0]);
        }
        dropout(ctx.tape, inputs[0], self.rate, ctx.rng)
    }
}
