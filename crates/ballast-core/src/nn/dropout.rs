//! Keras `Dropout` and `SpatialDropout2D`: active only in training. Neither takes a `seed`:
//! both draw their masks from the model's generator, so the model's seed fixes them.

use super::config::{layer_config, Json};
use super::{batch_shape, layer_common, one_input, Ctx, Layer, LayerKind};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops::dropout::{dropout, spatial_dropout2d};
use crate::Result;

layer_config! {
    pub struct DropoutConfig {
        /// The fraction of inputs zeroed in training, in [0, 1).
        rate "rate": f32,
    }
}

pub(super) const KINDS: &[LayerKind] = &[
    LayerKind {
        class_name: "Dropout",
        default_name: "dropout",
        make: |c| Ok(Box::new(Dropout::new(DropoutConfig::from_json(c)?.rate)?)),
    },
    LayerKind {
        class_name: "SpatialDropout2D",
        default_name: "spatial_dropout2d",
        make: |c| Ok(Box::new(SpatialDropout2d::new(DropoutConfig::from_json(c)?.rate)?)),
    },
];

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

/// Keras `SpatialDropout2D`: in training, each channel of each example is kept whole (scaled
/// by 1/(1 − rate)) or zeroed whole, for feature maps whose neighbouring values are too
/// alike for element-wise dropout to regularize them.
#[derive(Clone)]
pub struct SpatialDropout2d {
    name: String,
    trainable: bool,
    pub rate: f32,
}

impl SpatialDropout2d {
    pub fn new(rate: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::argument(format!("dropout rate must be in [0, 1), got {rate}")));
        }
        Ok(SpatialDropout2d { name: String::new(), trainable: true, rate })
    }
}

impl Layer for SpatialDropout2d {
    layer_common!("SpatialDropout2D");

    fn config(&self) -> Json {
        DropoutConfig { rate: self.rate }.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        if input.len() != 3 {
            return Err(Error::shape(format!(
                "expects input [batch, height, width, channels], got {}",
                batch_shape(input)
            )));
        }
        Ok(input.to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        if !ctx.training || self.rate == 0.0 {
            return Ok(inputs[0]);
        }
        spatial_dropout2d(ctx.tape, inputs[0], self.rate, ctx.rng)
    }
}
