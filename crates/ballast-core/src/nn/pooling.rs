//! Keras `MaxPooling2D`, `AveragePooling2D`, `GlobalAveragePooling2D` and `Flatten`.

use super::config::{layer_config, Json, Map, Pair};
use super::{batch_shape, layer_common, one_input, Ctx, Layer, LayerKind};
use crate::autograd::Var;
use crate::error::Error;
use crate::kernels::conv::Padding;
use crate::kernels::pool::Pool2dGeometry;
use crate::ops;
use crate::Result;

layer_config! {
    /// Options of the windowed pooling layers.
    pub struct Pool2dConfig {
        pool_size "poolSize": Pair = Pair(2, 2),
        /// Keras defaults the strides to the pool size (resolved when the layer is made).
        strides "strides": Option<Pair> = None,
        padding "padding": Padding = Padding::Valid,
    }
}

layer_config! {
    pub struct GlobalPoolConfig {
        /// Keep the spatial axes as 1 × 1 (`[batch, 1, 1, channels]`).
        keepdims "keepdims": bool = false,
    }
}

pub(super) const KINDS: &[LayerKind] = &[
    LayerKind {
        class_name: "MaxPooling2D",
        default_name: "max_pooling2d",
        make: |c| Ok(Box::new(MaxPool2d::from_config(Pool2dConfig::from_json(c)?))),
    },
    LayerKind {
        class_name: "AveragePooling2D",
        default_name: "average_pooling2d",
        make: |c| Ok(Box::new(AveragePool2d::from_config(Pool2dConfig::from_json(c)?))),
    },
    LayerKind {
        class_name: "GlobalAveragePooling2D",
        default_name: "global_average_pooling2d",
        make: |c| Ok(Box::new(GlobalAveragePool2d::new(GlobalPoolConfig::from_json(c)?))),
    },
    LayerKind {
        class_name: "Flatten",
        default_name: "flatten",
        make: |c| {
            super::config::check_keys(super::config::as_object(c)?, &[])?;
            Ok(Box::new(Flatten::new()))
        },
    },
];

/// How a pooling op checks its geometry (max pooling also bounds the input's size, for its
/// `u32` arg-max indices).
type Geometry = fn(&[usize], (usize, usize), (usize, usize), Padding) -> Result<Pool2dGeometry>;

/// The geometry of a windowed pooling layer on `input` (without the batch axis).
fn pool_geometry(geometry: Geometry, input: &[usize], c: &Pool2dConfig) -> Result<Pool2dGeometry> {
    if input.len() != 3 {
        return Err(Error::shape(format!(
            "expects input [batch, height, width, channels], got {}",
            batch_shape(input)
        )));
    }
    let strides = c.strides.unwrap_or(c.pool_size);
    geometry(&[1, input[0], input[1], input[2]], c.pool_size.tuple(), strides.tuple(), c.padding)
}

/// Declares a windowed pooling layer over [`Pool2dConfig`] and the op that computes it.
macro_rules! pool_layer {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $op:path, $geometry:expr) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name {
            name: String,
            trainable: bool,
            pub config: Pool2dConfig,
        }

        impl $name {
            pub fn new(pool_size: (usize, usize), strides: Option<(usize, usize)>, padding: Padding) -> Self {
                let (pool_size, strides) = (Pair(pool_size.0, pool_size.1), strides.map(|s| Pair(s.0, s.1)));
                Self::from_config(Pool2dConfig { pool_size, strides, padding })
            }

            pub fn from_config(mut config: Pool2dConfig) -> Self {
                config.strides = Some(config.strides.unwrap_or(config.pool_size));
                $name { name: String::new(), trainable: true, config }
            }
        }

        impl Layer for $name {
            layer_common!($kind);

            fn config(&self) -> Json {
                self.config.to_json()
            }

            fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
                Ok(pool_geometry($geometry, one_input(inputs)?, &self.config)?.output_shape()[1..].to_vec())
            }

            fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
                let c = self.config;
                let strides = c.strides.unwrap_or(c.pool_size).tuple();
                $op(ctx.tape, inputs[0], c.pool_size.tuple(), strides, c.padding)
            }
        }
    };
}

pool_layer!(MaxPool2d, "MaxPooling2D", ops::conv::max_pool2d, Pool2dGeometry::new);
pool_layer!(
    /// Windows over the padding average only the real cells, as TensorFlow does.
    AveragePool2d,
    "AveragePooling2D",
    ops::pool::avg_pool2d,
    |s, p, st, pad| Pool2dGeometry::for_op("avg_pool2d", s, p, st, pad)
);

/// The mean over height and width of each channel: `[batch, h, w, c]` → `[batch, c]`.
#[derive(Clone)]
pub struct GlobalAveragePool2d {
    name: String,
    trainable: bool,
    pub config: GlobalPoolConfig,
}

impl GlobalAveragePool2d {
    pub fn new(config: GlobalPoolConfig) -> Self {
        GlobalAveragePool2d { name: String::new(), trainable: true, config }
    }
}

impl Layer for GlobalAveragePool2d {
    layer_common!("GlobalAveragePooling2D");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        if input.len() != 3 || input.contains(&0) {
            return Err(Error::shape(format!(
                "expects input [batch, height, width, channels], got {}",
                batch_shape(input)
            )));
        }
        Ok(if self.config.keepdims { vec![1, 1, input[2]] } else { vec![input[2]] })
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        let y = ops::pool::global_avg_pool2d(ctx.tape, inputs[0])?;
        if !self.config.keepdims {
            return Ok(y);
        }
        let s = ctx.tape.value(y).shape().to_vec();
        ops::reshape(ctx.tape, y, &[s[0], 1, 1, s[1]])
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

    fn config(&self) -> Json {
        Json::Object(Map::new())
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(vec![one_input(inputs)?.iter().product()])
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        ops::flatten(ctx.tape, inputs[0])
    }
}
