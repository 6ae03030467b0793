//! Keras merge layers: `Add` (the residual connection) and `Concatenate`.

use super::config::{as_object, check_keys, layer_config, Json, Map};
use super::{batch_shape, layer_common, resolve_axis, Ctx, Layer, LayerKind};
use crate::autograd::Var;
use crate::error::Error;
use crate::ops;
use crate::Result;

layer_config! {
    pub struct ConcatenateConfig {
        /// The axis of the full input, batch axis included (not 0); negative counts from the end.
        axis "axis": isize = -1,
    }
}

pub(super) const KINDS: &[LayerKind] = &[
    LayerKind {
        class_name: "Add",
        default_name: "add",
        make: |c| {
            check_keys(as_object(c)?, &[])?;
            Ok(Box::new(Add::new()))
        },
    },
    LayerKind {
        class_name: "Concatenate",
        default_name: "concatenate",
        make: |c| Ok(Box::new(Concatenate::new(ConcatenateConfig::from_json(c)?))),
    },
];

fn at_least_two(inputs: &[&[usize]]) -> Result<()> {
    if inputs.len() < 2 {
        return Err(Error::argument(format!("a merge layer needs at least 2 inputs, got {}", inputs.len())));
    }
    Ok(())
}

fn shapes(inputs: &[&[usize]]) -> String {
    inputs.iter().map(|s| batch_shape(s)).collect::<Vec<_>>().join(", ")
}

/// The element-wise sum of inputs of one shape.
#[derive(Clone, Default)]
pub struct Add {
    name: String,
    trainable: bool,
}

impl Add {
    pub fn new() -> Self {
        Add { name: String::new(), trainable: true }
    }
}

impl Layer for Add {
    layer_common!("Add");

    fn config(&self) -> Json {
        Json::Object(Map::new())
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        at_least_two(inputs)?;
        if inputs.iter().any(|s| s != &inputs[0]) {
            return Err(Error::shape(format!("inputs must all have one shape, got {}", shapes(inputs))));
        }
        Ok(inputs[0].to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        ops::merge::add_n(ctx.tape, inputs)
    }
}

/// Inputs joined along one axis; every other axis must agree.
#[derive(Clone)]
pub struct Concatenate {
    name: String,
    trainable: bool,
    pub config: ConcatenateConfig,
}

impl Concatenate {
    pub fn new(config: ConcatenateConfig) -> Self {
        Concatenate { name: String::new(), trainable: true, config }
    }
}

impl Layer for Concatenate {
    layer_common!("Concatenate");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        at_least_two(inputs)?;
        let axis = resolve_axis(self.config.axis, inputs[0])? - 1;
        let agree = |s: &&[usize]| {
            s.len() == inputs[0].len() && s.iter().zip(inputs[0]).enumerate().all(|(i, (a, b))| i == axis || a == b)
        };
        if !inputs.iter().all(agree) {
            return Err(Error::shape(format!(
                "inputs must agree on every axis but {}, got {}",
                self.config.axis,
                shapes(inputs)
            )));
        }
        let mut out = inputs[0].to_vec();
        out[axis] = inputs.iter().map(|s| s[axis]).sum();
        Ok(out)
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        let axis = resolve_axis(self.config.axis, &ctx.tape.value(inputs[0]).shape()[1..])?;
        ops::merge::concatenate(ctx.tape, inputs, axis)
    }
}
