//! Keras `Dropout`: active only in training.

use super::{layer_common, Ctx, Layer};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops::dropout::dropout;
use crate::rng::Rng;
use crate::Result;

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

    fn build(&mut self, input: &[usize], _: &mut Rng) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, x: Var, _: &[Var]) -> Result<Var> {
        if !ctx.training || self.rate == 0.0 {
            return Ok(x);
        }
        dropout(ctx.tape, x, self.rate, ctx.rng)
    }
}
