//! Keras merge layers: the element-wise `Add` (the residual connection), `Multiply`,
//! `Subtract` (exactly two inputs), `Maximum` and `Average`, all of inputs of one shape, and
//! `Concatenate`.

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

/// The kind of an element-wise merge layer, which has no options.
macro_rules! elementwise_kind {
    ($class:literal, $default:literal, $ty:ident) => {
        LayerKind {
            class_name: $class,
            default_name: $default,
            make: |c| {
                check_keys(as_object(c)?, &[])?;
                Ok(Box::new($ty::new()))
            },
        }
    };
}

pub(super) const KINDS: &[LayerKind] = &[
    elementwise_kind!("Add", "add", Add),
    elementwise_kind!("Multiply", "multiply", Multiply),
    elementwise_kind!("Subtract", "subtract", Subtract),
    elementwise_kind!("Maximum", "maximum", Maximum),
    elementwise_kind!("Average", "average", Average),
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

/// Inputs all of one shape, for an element-wise merge.
fn one_shape(inputs: &[&[usize]]) -> Result<Vec<usize>> {
    at_least_two(inputs)?;
    if inputs.iter().any(|s| s != &inputs[0]) {
        return Err(Error::shape(format!("inputs must all have one shape, got {}", shapes(inputs))));
    }
    Ok(inputs[0].to_vec())
}

/// Declares an element-wise merge layer (no options, no weights) computed by `$op`; `$check`
/// checks the input shapes and gives the output's.
macro_rules! elementwise_layer {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $check:expr, $op:path) => {
        $(#[$meta])*
        #[derive(Clone, Default)]
        pub struct $name {
            name: String,
            trainable: bool,
        }

        impl $name {
            pub fn new() -> Self {
                $name { name: String::new(), trainable: true }
            }
        }

        impl Layer for $name {
            layer_common!($kind);

            fn config(&self) -> Json {
                Json::Object(Map::new())
            }

            fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
                let check: fn(&[&[usize]]) -> Result<Vec<usize>> = $check;
                check(inputs)
            }

            fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
                $op(ctx.tape, inputs)
            }
        }
    };
}

elementwise_layer!(
    /// The element-wise sum of inputs of one shape.
    Add,
    "Add",
    one_shape,
    ops::merge::add_n
);
elementwise_layer!(
    /// The element-wise product of inputs of one shape.
    Multiply,
    "Multiply",
    one_shape,
    ops::merge::multiply_n
);
elementwise_layer!(
    /// The first input minus the second (exactly two, of one shape).
    Subtract,
    "Subtract",
    |inputs| {
        if inputs.len() != 2 {
            return Err(Error::argument(format!(
                "a Subtract layer needs exactly 2 inputs, got {}{}",
                inputs.len(),
                if inputs.is_empty() { String::new() } else { format!(" ({})", shapes(inputs)) }
            )));
        }
        one_shape(inputs)
    },
    ops::merge::subtract
);
elementwise_layer!(
    /// The element-wise maximum of inputs of one shape (a tie's gradient goes to the earlier
    /// input, as in TensorFlow).
    Maximum,
    "Maximum",
    one_shape,
    ops::merge::maximum_n
);
elementwise_layer!(
    /// The element-wise mean of inputs of one shape.
    Average,
    "Average",
    one_shape,
    ops::merge::average_n
);

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
