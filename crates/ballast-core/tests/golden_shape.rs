//! The reshaping, merge and embedding layers against PyTorch: zero padding and cropping
//! (asymmetric), nearest and bilinear upsampling, resizing to an aspect ratio (padded and
//! cropped, as Keras 3 does), reshape, permute, multiply, subtract,
//! maximum, average and the embedding lookup, forward and backward. Golden values in
//! tests/golden/golden_shape.json, made by tests/golden/make_golden.py (see
//! tests/golden/README.md for the conventions and the command that regenerates them).
//!
//! Each case is run twice: through its op, and through the layer the registry makes from the
//! case's Keras options, so the options are checked to mean what Keras means by them.

use ballast_core::autograd::{Tape, Var};
use ballast_core::kernels::upsample::Interpolation;
use ballast_core::nn::{registry, Ctx, Layer};
use ballast_core::ops::augment::{self, Fit};
use ballast_core::ops::{self, merge, shape, upsample};
use ballast_core::rng::Rng;
use ballast_core::Tensor;
use serde_json::Value;

mod common;

use common::{assert_close, load, run, Case, RTOL};

const ONE_INPUT: &[&str] = &[
    "zero_padding2d_asymmetric",
    "cropping2d_asymmetric",
    "up_sampling2d_nearest_2x2",
    "up_sampling2d_nearest_2x3",
    "up_sampling2d_bilinear_2x2",
    "up_sampling2d_bilinear_3x2",
    "reshape",
    "permute",
    "resizing_pad_to_aspect_ratio_tall",
    "resizing_pad_to_aspect_ratio_wide",
    "resizing_crop_to_aspect_ratio",
];

const MERGES: &[&str] = &["multiply_2", "multiply_3", "subtract_2", "maximum_2", "maximum_3", "average_2", "average_3"];

fn options(c: &Case) -> Value {
    serde_json::from_str(c.config["options"].as_str().unwrap()).unwrap()
}

/// The case's layer, made by the registry from its Keras options and built for `inputs`.
fn layer(c: &Case, inputs: &[&str]) -> Box<dyn Layer> {
    let mut layer = registry::create(c.config["layer"].as_str().unwrap(), &options(c)).unwrap();
    layer.set_name("layer".into());
    let shapes: Vec<Tensor> = inputs.iter().map(|n| c.t(n)).collect();
    let shapes: Vec<&[usize]> = shapes.iter().map(|t| &t.shape()[1..]).collect();
    let out = layer.output_shape(&shapes).unwrap();
    assert_eq!(out, c.t("y").shape()[1..], "inferred output shape");
    layer.build(&shapes, &mut Rng::new(0)).unwrap();
    layer
}

fn forward(layer: &mut dyn Layer, tape: &mut Tape, inputs: &[Var], params: &[Var]) -> Var {
    let mut rng = Rng::new(0);
    layer.forward(&mut Ctx { tape, training: true, rng: &mut rng, logits: false }, inputs, params).unwrap()
}

/// The op of a one-input case, with the parameters PyTorch was given.
fn one_input_op(name: &str, t: &mut Tape, x: Var) -> Var {
    match name {
        "zero_padding2d_asymmetric" => shape::zero_pad2d(t, x, ((1, 2), (0, 3))),
        "cropping2d_asymmetric" => shape::crop2d(t, x, ((1, 2), (3, 0))),
        "up_sampling2d_nearest_2x2" => upsample::upsample2d(t, x, (2, 2), Interpolation::Nearest),
        "up_sampling2d_nearest_2x3" => upsample::upsample2d(t, x, (2, 3), Interpolation::Nearest),
        "up_sampling2d_bilinear_2x2" => upsample::upsample2d(t, x, (2, 2), Interpolation::Bilinear),
        "up_sampling2d_bilinear_3x2" => upsample::upsample2d(t, x, (3, 2), Interpolation::Bilinear),
        "reshape" => ops::reshape(t, x, &[2, 3, 8]),
        "permute" => ops::transpose(t, x, &[0, 3, 1, 2]),
        "resizing_pad_to_aspect_ratio_tall" => augment::resize(t, x, [6, 6], true, Fit::Pad { fill_value: 0.5 }),
        "resizing_pad_to_aspect_ratio_wide" => augment::resize(t, x, [5, 4], true, Fit::Pad { fill_value: -1.0 }),
        "resizing_crop_to_aspect_ratio" => augment::resize(t, x, [4, 4], true, Fit::Crop),
        _ => unreachable!("{name}"),
    }
    .unwrap()
}

#[test]
fn reshaping_layers_match_pytorch() {
    let cases = load("golden_shape.json");
    for &name in ONE_INPUT {
        let c = &cases[name];
        let (y, g) = run(c, &["x"], |t, v| one_input_op(name, t, v[0]));
        assert_close(&format!("{name} op y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} op dx"), &g[0], &c.t("dx"), RTOL);
        let mut l = layer(c, &["x"]);
        let (y, g) = run(c, &["x"], |t, v| forward(l.as_mut(), t, v, &[]));
        assert_close(&format!("{name} layer y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} layer dx"), &g[0], &c.t("dx"), RTOL);
    }
}

#[test]
fn merge_layers_match_pytorch() {
    let cases = load("golden_shape.json");
    for &name in MERGES {
        let c = &cases[name];
        let inputs: Vec<&str> = ["a", "b", "c"].into_iter().filter(|n| c.has(n)).collect();
        let op: fn(&mut Tape, &[Var]) -> ballast_core::Result<Var> = match c.config["layer"].as_str().unwrap() {
            "Multiply" => merge::multiply_n,
            "Subtract" => merge::subtract,
            "Maximum" => merge::maximum_n,
            "Average" => merge::average_n,
            other => unreachable!("{other}"),
        };
        let mut l = layer(c, &inputs);
        let by_op = run(c, &inputs, |t, v| op(t, v).unwrap());
        let by_layer = run(c, &inputs, |t, v| forward(l.as_mut(), t, v, &[]));
        for (how, (y, g)) in [("op", by_op), ("layer", by_layer)] {
            assert_close(&format!("{name} {how} y"), &y, &c.t("y"), RTOL);
            for (i, n) in inputs.iter().enumerate() {
                assert_close(&format!("{name} {how} d{n}"), &g[i], &c.t(&format!("d{n}")), RTOL);
            }
        }
    }
}

#[test]
fn embedding_matches_pytorch_with_repeated_indices() {
    let cases = load("golden_shape.json");
    let c = &cases["embedding"];
    let mut l = layer(c, &["indices"]);
    assert_eq!(l.params()[0].value.shape(), c.t("embeddings").shape());
    for how in ["op", "layer"] {
        let mut tape = Tape::new();
        let indices = tape.constant(c.t("indices"));
        let table = tape.leaf(c.t("embeddings"), true);
        let y = match how {
            "op" => ops::embedding::embedding(&mut tape, indices, table).unwrap(),
            _ => forward(l.as_mut(), &mut tape, &[indices], &[table]),
        };
        tape.backward_with(y, c.t("dy")).unwrap();
        assert_close(&format!("embedding {how} y"), tape.value(y), &c.t("y"), RTOL);
        assert_close(&format!("embedding {how} dembeddings"), tape.grad(table).unwrap(), &c.t("dembeddings"), RTOL);
    }
}
