//! Keras' reshaping layers: `ZeroPadding2D`, `Cropping2D`, `UpSampling2D`, `Reshape` and
//! `Permute`. None has weights; each checks its input's shape when it is added to a graph.

use super::config::{layer_config, Json, Pair, Sides};
use super::{batch_shape, layer_common, one_input, Ctx, Layer, LayerKind};
use crate::autograd::Var;
use crate::error::Error;
use crate::kernels::upsample::{Interpolation, Upsample2dGeometry};
use crate::ops;
use crate::tensor::shape_str;
use crate::Result;

layer_config! {
    pub struct ZeroPadding2dConfig {
        /// Rows and columns of zeros on each side (Keras' default 1 everywhere).
        padding "padding": Sides = Sides::all(1),
    }
}

layer_config! {
    pub struct Cropping2dConfig {
        /// Rows and columns removed on each side (Keras' default 0 everywhere).
        cropping "cropping": Sides = Sides::all(0),
    }
}

layer_config! {
    pub struct UpSampling2dConfig {
        /// Factors for rows and columns.
        size "size": Pair = Pair(2, 2),
        interpolation "interpolation": Interpolation = Interpolation::Nearest,
    }
}

layer_config! {
    @clone
    pub struct ReshapeConfig {
        /// One example's new shape (without the batch axis); one entry may be -1, the size
        /// that keeps the number of values.
        target_shape "targetShape": Vec<isize>,
    }
}

layer_config! {
    @clone
    pub struct PermuteConfig {
        /// The new order of the axes of one example, numbered from 1 (the batch axis stays
        /// first), as Keras numbers them: `[2, 1]` swaps the two axes of `[batch, a, b]`.
        dims "dims": Vec<usize>,
    }
}

pub(super) const KINDS: &[LayerKind] = &[
    LayerKind {
        class_name: "ZeroPadding2D",
        default_name: "zero_padding2d",
        make: |c| Ok(Box::new(ZeroPadding2d::new(ZeroPadding2dConfig::from_json(c)?))),
    },
    LayerKind {
        class_name: "Cropping2D",
        default_name: "cropping2d",
        make: |c| Ok(Box::new(Cropping2d::new(Cropping2dConfig::from_json(c)?))),
    },
    LayerKind {
        class_name: "UpSampling2D",
        default_name: "up_sampling2d",
        make: |c| Ok(Box::new(UpSampling2d::new(UpSampling2dConfig::from_json(c)?))),
    },
    LayerKind {
        class_name: "Reshape",
        default_name: "reshape",
        make: |c| Ok(Box::new(Reshape::new(ReshapeConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "Permute",
        default_name: "permute",
        make: |c| Ok(Box::new(Permute::new(PermuteConfig::from_json(c)?)?)),
    },
];

/// `(height, width, channels)` of an image input, or a ShapeError naming it.
fn image(input: &[usize]) -> Result<(usize, usize, usize)> {
    match *input {
        [h, w, c] => Ok((h, w, c)),
        _ => Err(Error::shape(format!("expects input [batch, height, width, channels], got {}", batch_shape(input)))),
    }
}

/// Declares a layer without weights over a config struct: the struct, its constructor from
/// the config, and the `Layer` methods every such layer shares.
macro_rules! shape_layer {
    ($(#[$meta:meta])* $name:ident, $config:ty, $kind:literal, $shape:expr, $forward:expr) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name {
            name: String,
            trainable: bool,
            pub config: $config,
        }

        impl Layer for $name {
            layer_common!($kind);

            fn config(&self) -> Json {
                self.config.to_json()
            }

            fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
                let shape: fn(&$config, &[usize]) -> Result<Vec<usize>> = $shape;
                shape(&self.config, one_input(inputs)?)
            }

            fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
                let forward: fn(&$config, &mut Ctx, Var) -> Result<Var> = $forward;
                forward(&self.config, ctx, inputs[0])
            }
        }
    };
}

shape_layer!(
    /// Zeros around each image: `[batch, h, w, c]` → `[batch, top + h + bottom, left + w + right, c]`.
    ZeroPadding2d,
    ZeroPadding2dConfig,
    "ZeroPadding2D",
    |c, input| {
        let (h, w, ch) = image(input)?;
        let (h, w) = ops::shape::padded_size(h, w, c.padding.pairs())
            .map_err(|m| Error::shape(format!("{m} (input {})", batch_shape(input))))?;
        Ok(vec![h, w, ch])
    },
    |c, ctx, x| ops::shape::zero_pad2d(ctx.tape, x, c.padding.pairs())
);

impl ZeroPadding2d {
    pub fn new(config: ZeroPadding2dConfig) -> Self {
        ZeroPadding2d { name: String::new(), trainable: true, config }
    }
}

shape_layer!(
    /// Rows and columns cut off each image's sides; at least one of each must remain.
    Cropping2d,
    Cropping2dConfig,
    "Cropping2D",
    |c, input| {
        let (h, w, ch) = image(input)?;
        let (h, w) = ops::shape::cropped_size(h, w, c.cropping.pairs())
            .map_err(|m| Error::shape(format!("{m} (input {})", batch_shape(input))))?;
        Ok(vec![h, w, ch])
    },
    |c, ctx, x| ops::shape::crop2d(ctx.tape, x, c.cropping.pairs())
);

impl Cropping2d {
    pub fn new(config: Cropping2dConfig) -> Self {
        Cropping2d { name: String::new(), trainable: true, config }
    }
}

shape_layer!(
    /// Each image enlarged by whole factors, repeating cells or interpolating (see
    /// `kernels::upsample`).
    UpSampling2d,
    UpSampling2dConfig,
    "UpSampling2D",
    |c, input| {
        let (h, w, ch) = image(input)?;
        let g = Upsample2dGeometry::new(&[1, h, w, ch], c.size.tuple())
            .map_err(|e| Error { message: format!("{} (input {})", e.message, batch_shape(input)), ..e })?;
        Ok(g.output_shape()[1..].to_vec())
    },
    |c, ctx, x| ops::upsample::upsample2d(ctx.tape, x, c.size.tuple(), c.interpolation)
);

impl UpSampling2d {
    pub fn new(config: UpSampling2dConfig) -> Self {
        UpSampling2d { name: String::new(), trainable: true, config }
    }
}

shape_layer!(
    /// One example's values in another shape, in the same (row-major) order.
    Reshape,
    ReshapeConfig,
    "Reshape",
    |c, input| c.resolve(input),
    |c, ctx, x| {
        let n = ctx.tape.value(x).shape()[0];
        let input = ctx.tape.value(x).shape()[1..].to_vec();
        let mut shape = vec![n];
        shape.extend(c.resolve(&input)?);
        ops::reshape(ctx.tape, x, &shape)
    }
);

impl Reshape {
    /// Refuses a target shape with a zero, a negative entry other than -1, or two -1s.
    pub fn new(config: ReshapeConfig) -> Result<Self> {
        let dims = &config.target_shape;
        let bad = dims.iter().any(|&d| d == 0 || d < -1) || dims.iter().filter(|&&d| d == -1).count() > 1;
        if dims.is_empty() || bad {
            return Err(Error::argument(format!(
                "option 'targetShape' must list positive sizes, at most one of them -1, got {}",
                Json::from(dims.iter().map(|&d| d as i64).collect::<Vec<_>>())
            )));
        }
        Ok(Reshape { name: String::new(), trainable: true, config })
    }
}

impl ReshapeConfig {
    /// The target shape for one example of shape `input`, its -1 resolved; a ShapeError
    /// naming both shapes when the numbers of values differ.
    pub fn resolve(&self, input: &[usize]) -> Result<Vec<usize>> {
        let values: usize = input.iter().product();
        let known: usize = self.target_shape.iter().filter(|&&d| d > 0).map(|&d| d as usize).product();
        let target = || {
            let dims: Vec<String> = self.target_shape.iter().map(|d| d.to_string()).collect();
            format!("[{}]", dims.join(", "))
        };
        let mismatch = || {
            Error::shape(format!(
                "cannot reshape input {} ({values} values per example) to target shape {}{}",
                batch_shape(input),
                target(),
                if self.target_shape.contains(&-1) {
                    format!(": the other sizes multiply to {known}, which does not divide {values}")
                } else {
                    format!(" ({known} values)")
                }
            ))
        };
        let fill = if self.target_shape.contains(&-1) {
            if known == 0 || !values.is_multiple_of(known) {
                return Err(mismatch());
            }
            values / known
        } else if known != values {
            return Err(mismatch());
        } else {
            0
        };
        Ok(self.target_shape.iter().map(|&d| if d == -1 { fill } else { d as usize }).collect())
    }
}

shape_layer!(
    /// The axes of each example in another order (the batch axis stays first).
    Permute,
    PermuteConfig,
    "Permute",
    |c, input| {
        if input.len() != c.dims.len() {
            return Err(Error::shape(format!(
                "dims {} permute {} axes, but input {} has {}",
                shape_str(&c.dims),
                c.dims.len(),
                batch_shape(input),
                input.len()
            )));
        }
        Ok(c.dims.iter().map(|&d| input[d - 1]).collect())
    },
    |c, ctx, x| {
        let perm: Vec<usize> = std::iter::once(0).chain(c.dims.iter().copied()).collect();
        ops::transpose(ctx.tape, x, &perm)
    }
);

impl Permute {
    /// Refuses `dims` that are not a permutation of 1..=n.
    pub fn new(config: PermuteConfig) -> Result<Self> {
        let n = config.dims.len();
        let mut seen = vec![false; n];
        let ok =
            n > 0 && config.dims.iter().all(|&d| (1..=n).contains(&d) && !std::mem::replace(&mut seen[d - 1], true));
        if !ok {
            return Err(Error::argument(format!(
                "option 'dims' must be a permutation of 1..{n} (the axes after the batch axis, numbered from 1), got {}",
                shape_str(&config.dims)
            )));
        }
        Ok(Permute { name: String::new(), trainable: true, config })
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::create;
    use crate::ErrorKind;
    use serde_json::json;

    fn shape(class: &str, options: serde_json::Value, input: &[usize]) -> crate::Result<Vec<usize>> {
        create(class, &options)?.output_shape(&[input])
    }

    #[test]
    fn configs_take_the_keras_forms() {
        let config = |class: &str, v| create(class, &v).unwrap().config();
        assert_eq!(config("ZeroPadding2D", json!({})), json!({ "padding": [[1, 1], [1, 1]] }));
        assert_eq!(config("ZeroPadding2D", json!({ "padding": 2 })), json!({ "padding": [[2, 2], [2, 2]] }));
        assert_eq!(config("ZeroPadding2D", json!({ "padding": [1, 3] })), json!({ "padding": [[1, 1], [3, 3]] }));
        assert_eq!(
            config("Cropping2D", json!({ "cropping": [[0, 1], [2, 3]] })),
            json!({ "cropping": [[0, 1], [2, 3]] })
        );
        assert_eq!(config("Cropping2D", json!({})), json!({ "cropping": [[0, 0], [0, 0]] }));
        assert_eq!(config("UpSampling2D", json!({})), json!({ "size": [2, 2], "interpolation": "nearest" }));
        assert_eq!(config("Reshape", json!({ "targetShape": [-1, 3] })), json!({ "targetShape": [-1, 3] }));
        assert_eq!(config("Permute", json!({ "dims": [2, 1] })), json!({ "dims": [2, 1] }));

        let err = |class: &str, v| create(class, &v).err().unwrap();
        for bad in [json!(-1), json!([1, 2, 3]), json!([[1, 2], 3]), json!([[1], [2, 3]]), json!("same"), json!(1.5)] {
            let e = err("ZeroPadding2D", json!({ "padding": bad }));
            assert_eq!(e.kind, ErrorKind::Argument);
            assert!(
                e.message.starts_with("ZeroPadding2D: option 'padding' must be a non-negative integer, a pair"),
                "{}",
                e.message
            );
        }
        let e = err("UpSampling2D", json!({ "interpolation": "bicubic" }));
        assert_eq!(e.message, "UpSampling2D: option 'interpolation' must be 'nearest' or 'bilinear', got \"bicubic\"");
        assert!(err("UpSampling2D", json!({ "size": 0 })).message.contains("option 'size' must be a positive integer"));
        assert!(err("Reshape", json!({})).message.contains("option 'targetShape' is required"));
        for bad in [json!([-1, -1]), json!([0, 3]), json!([-2, 3]), json!([])] {
            let e = err("Reshape", json!({ "targetShape": bad }));
            assert!(
                e.message.contains("option 'targetShape' must list positive sizes, at most one of them -1"),
                "{}",
                e.message
            );
        }
        for bad in [json!([1, 1]), json!([0, 1]), json!([1, 3]), json!([])] {
            let e = err("Permute", json!({ "dims": bad }));
            assert_eq!(e.kind, ErrorKind::Argument);
            assert!(e.message.contains("option 'dims' must be a permutation of 1.."), "{}", e.message);
        }
        assert!(err("Permute", json!({ "dims": [2, -1] })).message.contains("must be a list of non-negative integers"));
    }

    #[test]
    fn shapes_are_inferred_and_bad_inputs_named() {
        assert_eq!(shape("ZeroPadding2D", json!({ "padding": [[1, 2], [0, 3]] }), &[4, 5, 2]).unwrap(), [7, 8, 2]);
        assert_eq!(shape("Cropping2D", json!({ "cropping": [[1, 2], [0, 3]] }), &[4, 5, 2]).unwrap(), [1, 2, 2]);
        let e = shape("Cropping2D", json!({ "cropping": [[2, 2], [0, 0]] }), &[4, 5, 2]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.message, "cropping 2 + 2 rows leaves nothing of a height of 4 (input [batch, 4, 5, 2])");
        let e = shape("Cropping2D", json!({ "cropping": [0, 3] }), &[4, 5, 2]).unwrap_err();
        assert!(e.message.starts_with("cropping 3 + 3 columns leaves nothing of a width of 5"), "{}", e.message);
        assert_eq!(shape("UpSampling2D", json!({ "size": [2, 3] }), &[4, 5, 2]).unwrap(), [8, 15, 2]);
        let e = shape("UpSampling2D", json!({}), &[4, 5]).unwrap_err();
        assert_eq!(e.message, "expects input [batch, height, width, channels], got [batch, 4, 5]");
        assert!(shape("ZeroPadding2D", json!({}), &[12]).unwrap_err().message.contains("got [batch, 12]"));

        assert_eq!(shape("Reshape", json!({ "targetShape": [3, 8] }), &[4, 6]).unwrap(), [3, 8]);
        assert_eq!(shape("Reshape", json!({ "targetShape": [-1, 2, 2] }), &[4, 6]).unwrap(), [6, 2, 2]);
        let e = shape("Reshape", json!({ "targetShape": [5, 5] }), &[4, 6]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.message,
            "cannot reshape input [batch, 4, 6] (24 values per example) to target shape [5, 5] (25 values)"
        );
        let e = shape("Reshape", json!({ "targetShape": [5, -1] }), &[4, 6]).unwrap_err();
        assert!(e.message.contains("to target shape [5, -1]: the other sizes multiply to 5, which does not divide 24"));

        assert_eq!(shape("Permute", json!({ "dims": [3, 1, 2] }), &[4, 5, 6]).unwrap(), [6, 4, 5]);
        let e = shape("Permute", json!({ "dims": [2, 1] }), &[4, 5, 6]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.message, "dims [2, 1] permute 2 axes, but input [batch, 4, 5, 6] has 3");
    }
}
