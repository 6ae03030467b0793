//! Transposed convolutions (Keras `Conv2DTranspose`) against PyTorch (`F.conv_transpose2d`,
//! the Keras kernel layout converted and TensorFlow's output window cut out of the full
//! output). Golden values in tests/golden/golden_conv_transpose.json, made by
//! tests/golden/make_golden.py (see tests/golden/README.md).

use ballast_core::autograd::Tape;
use ballast_core::kernels::conv::{ConvOptions, Padding};
use ballast_core::nn::{registry, Ctx};
use ballast_core::ops::conv;
use ballast_core::rng::Rng;
use serde_json::json;

mod common;

use common::{assert_close, load, run, Case, RTOL};

fn usize_of(c: &Case, key: &str) -> usize {
    c.config[key].as_u64().unwrap_or_else(|| panic!("config '{key}' missing")) as usize
}

fn options(c: &Case) -> ConvOptions {
    let s = usize_of(c, "strides");
    let padding = Padding::parse(c.config["padding"].as_str().unwrap()).unwrap();
    ConvOptions::new((s, s), padding).dilation((usize_of(c, "dilation_h"), usize_of(c, "dilation_w")))
}

const NAMES: [&str; 3] = ["dx", "dkernel", "dbias"];

#[test]
fn conv2d_transpose_matches_pytorch() {
    let cases = load("golden_conv_transpose.json");
    assert_eq!(cases.len(), 13);
    for (name, c) in &cases {
        let o = options(c);
        let (y, grads) =
            run(c, &["x", "kernel", "bias"], |t, v| conv::conv2d_transpose(t, v[0], v[1], Some(v[2]), o).unwrap());
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        for (g, n) in grads.iter().zip(NAMES) {
            assert_close(&format!("{name} {n}"), g, &c.t(n), RTOL);
        }
    }
}

/// Each case through the layer the registry makes from its Keras config, with the golden
/// weights loaded: the layer's shape inference, weight layout and option reading.
#[test]
fn conv2d_transpose_layer_matches_pytorch() {
    let cases = load("golden_conv_transpose.json");
    for (name, c) in &cases {
        let (x, kernel) = (c.t("x"), c.t("kernel"));
        let options = json!({
            "filters": usize_of(c, "filters"), "kernelSize": [kernel.shape()[0], kernel.shape()[1]],
            "strides": usize_of(c, "strides"), "padding": c.config["padding"],
            "dilationRate": [usize_of(c, "dilation_h"), usize_of(c, "dilation_w")],
        });
        let mut layer = registry::create("Conv2DTranspose", &options).unwrap();
        layer.set_name(name.clone());
        let out = layer.build_on(&x.shape()[1..], &mut Rng::new(0)).unwrap();
        assert_eq!(out, c.t("y").shape()[1..], "{name} output shape");
        for (p, w) in layer.params_mut().into_iter().zip(["kernel", "bias"]) {
            assert_eq!(p.value.shape(), c.t(w).shape(), "{name} {}", p.name);
            p.value = c.t(w);
        }
        let mut tape = Tape::new();
        let xv = tape.leaf(x, true);
        let params: Vec<_> = layer.params().iter().map(|p| tape.leaf(p.value.clone(), true)).collect();
        let mut rng = Rng::new(0);
        let mut ctx = Ctx { tape: &mut tape, training: true, rng: &mut rng, logits: false };
        let y = layer.forward(&mut ctx, &[xv], &params).unwrap();
        tape.backward_with(y, c.t("dy")).unwrap();
        assert_close(&format!("{name} layer y"), tape.value(y), &c.t("y"), RTOL);
        let grads = [xv, params[0], params[1]].map(|v| tape.grad(v).unwrap().clone());
        for (g, n) in grads.iter().zip(NAMES) {
            assert_close(&format!("{name} layer {n}"), g, &c.t(n), RTOL);
        }
    }
}
