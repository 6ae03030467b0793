//! Keras `MaxPooling2D` and `Flatten`.

use super::{layer_common, Ctx, Layer};
use crate::autograd::Var;
use crate::error::Error;
use crate::kernels::conv::Padding;
use crate::kernels::pool::Pool2dGeometry;
use crate::ops;
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::Result;

#[derive(Clone)]
pub struct MaxPool2d {
    name: String,
    trainable: bool,
    pub pool_size: (usize, usize),
    /// Keras defaults the strides to the pool size.
    pub strides: (usize, usize),
    pub padding: Padding,
}

impl MaxPool2d {
    pub fn new(pool_size: (usize, usize), strides: Option<(usize, usize)>, padding: Padding) -> Self {
        MaxPool2d { name: String::new(), trainable: true, pool_size, strides: strides.unwrap_or(pool_size), padding }
    }
}

impl Layer for MaxPool2d {
    layer_common!("MaxPooling2D");

    fn build(&mut self, input: &[usize], _: &mut Rng) -> Result<Vec<usize>> {
        if input.len() != 3 {
            return Err(Error::shape(format!(
                "expects input [batch, height, width, channels], got [batch, {}]",
                shape_str(input).trim_matches(|ch| ch == '[' || ch == ']')
            )));
        }
        let g = Pool2dGeometry::new(&[1, input[0], input[1], input[2]], self.pool_size, self.strides, self.padding)?;
        Ok(g.output_shape()[1..].to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, x: Var, _: &[Var]) -> Result<Var> {
        ops::conv::max_pool2d(ctx.tape, x, self.pool_size, self.strides, self.padding)
    }
}

#[derive(Clone)]
pub struct Flatten {
    name: String,
    trainable: bool,
}

impl Flatten {
    pub fn new() -> Self {
        Flatten { name: String::new(), trainable: true }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer for Flatten {
    layer_common!("Flatten");

    fn build(&mut self, input: &[usize], _: &mut Rng) -> Result<Vec<usize>> {
        Ok(vec![input.iter().product()])
    }

    fn forward(&mut self, ctx: &mut Ctx, x: Var, _: &[Var]) -> Result<Var> {
        ops::flatten(ctx.tape, x)
    }
}
