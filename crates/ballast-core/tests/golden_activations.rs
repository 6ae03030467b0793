//! The activations beyond relu/sigmoid/tanh, the ReLU, LeakyReLU, ELU, Softmax and PReLU
//! layers, against PyTorch: golden values in tests/golden/golden_activations.json, made by
//! tests/golden/make_golden.py (see tests/golden/README.md for the conventions and the
//! command that regenerates them). Each case is checked through the op and through the layer
//! a user writes (`activation: 'gelu'`, or the layer class with its options).

use ballast_core::autograd::{Tape, Var};
use ballast_core::nn::config::Json;
use ballast_core::nn::{registry, Ctx};
use ballast_core::ops;
use ballast_core::rng::Rng;
use ballast_core::Tensor;
use serde_json::json;

mod common;

use common::{assert_close, load, run, Case, RTOL};

/// The op a case was made from, by case name.
fn op(name: &str, t: &mut Tape, x: Var) -> Var {
    match name {
        "leaky_relu" => ops::leaky_relu(t, x, 0.2),
        "leaky_relu_0.3" => ops::leaky_relu(t, x, 0.3),
        "elu" => ops::elu(t, x, 1.0),
        "elu_0.5" => ops::elu(t, x, 0.5),
        "selu" => ops::selu(t, x),
        "gelu" => ops::gelu(t, x, false),
        "gelu_tanh" => ops::gelu(t, x, true),
        "silu" => ops::silu(t, x),
        "softplus" => ops::softplus(t, x),
        "softsign" => ops::softsign(t, x),
        "hard_sigmoid" => ops::hard_sigmoid(t, x),
        "relu6" => ops::relu6(t, x),
        "mish" => ops::mish(t, x),
        "relu_layer_max6" => ops::relu_with(t, x, Some(6.0), 0.0, 0.0),
        "relu_layer_threshold" => ops::relu_with(t, x, None, 0.0, 1.0),
        "relu_layer_slope" => ops::relu_with(t, x, None, 0.2, 0.0),
        "relu_layer_all" => ops::relu_with(t, x, Some(2.5), 0.1, 0.5),
        _ => panic!("no op for case '{name}'"),
    }
}

/// The layer class and the options a user would give for a case (from its Keras config).
fn layer_options(c: &Case) -> (&'static str, Json) {
    let cfg = &c.config;
    if let Some(name) = cfg["activation"].as_str() {
        return ("Activation", json!({ "activation": name }));
    }
    match cfg["layer"].as_str().unwrap() {
        "LeakyReLU" => ("LeakyReLU", json!({ "negativeSlope": cfg["negative_slope"] })),
        "ELU" => ("ELU", json!({ "alpha": cfg["alpha"] })),
        "ReLU" => {
            let max = cfg.get("max_value").cloned().unwrap_or(Json::Null);
            ("ReLU", json!({ "maxValue": max, "negativeSlope": cfg["negative_slope"], "threshold": cfg["threshold"] }))
        }
        // The golden axis counts the batch axis as 0, as Keras does.
        "Softmax" => ("Softmax", json!({ "axis": cfg["axis"] })),
        "PReLU" => {
            let axes: Vec<u64> =
                cfg["shared_axes"].as_str().unwrap().split(',').filter_map(|a| a.parse().ok()).collect();
            let shared = if axes.is_empty() { Json::Null } else { json!(axes) };
            ("PReLU", json!({ "sharedAxes": shared }))
        }
        other => panic!("unknown layer {other}"),
    }
}

/// The layer's output for the case's `x` and the gradients of `L = Σ y·dy` for `x` and for
/// each parameter (set from the case, by short name).
fn through_layer(class: &str, options: &Json, c: &Case) -> (Tensor, Vec<(String, Tensor)>) {
    let mut layer = registry::create(class, options).unwrap();
    layer.set_name("l".into());
    let x = c.t("x");
    assert_eq!(layer.build_on(&x.shape()[1..], &mut Rng::new(0)).unwrap(), x.shape()[1..]);
    let mut tape = Tape::new();
    let xv = tape.leaf(x, true);
    let names: Vec<String> = layer.params().iter().map(|p| p.name.trim_start_matches("l/").to_string()).collect();
    let params: Vec<Var> = names.iter().map(|n| tape.leaf(c.t(n), true)).collect();
    let mut rng = Rng::new(0);
    let mut ctx = Ctx { tape: &mut tape, training: true, rng: &mut rng, logits: false };
    let y = layer.forward(&mut ctx, &[xv], &params).unwrap();
    tape.backward_with(y, c.t("dy")).unwrap();
    let mut grads = vec![("x".to_string(), tape.grad(xv).unwrap().clone())];
    grads.extend(names.into_iter().zip(&params).map(|(n, &v)| (n, tape.grad(v).unwrap().clone())));
    (tape.value(y).clone(), grads)
}

#[test]
fn elementwise_activations_match_pytorch() {
    let cases = load("golden_activations.json");
    let mut seen = 0;
    for (name, c) in &cases {
        if name.starts_with("softmax") || name.starts_with("prelu") {
            continue;
        }
        seen += 1;
        let (y, grads) = run(c, &["x"], |t, v| op(name, t, v[0]));
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} dx"), &grads[0], &c.t("dx"), RTOL);
        let (class, options) = layer_options(c);
        let (y, grads) = through_layer(class, &options, c);
        assert_close(&format!("{name} {class} layer y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} {class} layer dx"), &grads[0].1, &c.t("dx"), RTOL);
    }
    assert_eq!(seen, 17, "13 activations and 4 ReLU layer configurations");
}

#[test]
fn softmax_on_another_axis_matches_pytorch() {
    let cases = load("golden_activations.json");
    for name in ["softmax_axis1_4d", "softmax_axis0_2d"] {
        let c = &cases[name];
        let axis = c.config["axis"].as_u64().unwrap() as usize;
        let (y, grads) = run(c, &["x"], |t, v| ops::softmax_axis(t, v[0], axis).unwrap());
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} dx"), &grads[0], &c.t("dx"), RTOL);
    }
    // The layer takes any axis but the batch axis: axis 1 of NHWC.
    let c = &cases["softmax_axis1_4d"];
    let (y, grads) = through_layer("Softmax", &layer_options(c).1, c);
    assert_close("Softmax layer y", &y, &c.t("y"), RTOL);
    assert_close("Softmax layer dx", &grads[0].1, &c.t("dx"), RTOL);
}

#[test]
fn prelu_matches_pytorch() {
    let cases = load("golden_activations.json");
    for name in ["prelu_shared_hw", "prelu_full"] {
        let c = &cases[name];
        let (y, grads) = run(c, &["x", "alpha"], |t, v| ops::prelu(t, v[0], v[1]).unwrap());
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} dx"), &grads[0], &c.t("dx"), RTOL);
        assert_close(&format!("{name} dalpha"), &grads[1], &c.t("dalpha"), RTOL);
        let (class, options) = layer_options(c);
        let (y, grads) = through_layer(class, &options, c);
        assert_close(&format!("{name} layer y"), &y, &c.t("y"), RTOL);
        let names: Vec<&str> = grads.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x", "alpha"]);
        assert_close(&format!("{name} layer dx"), &grads[0].1, &c.t("dx"), RTOL);
        assert_close(&format!("{name} layer dalpha"), &grads[1].1, &c.t("dalpha"), RTOL);
    }
}
