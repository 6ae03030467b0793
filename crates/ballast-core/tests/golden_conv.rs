//! Dilated and grouped convolutions, depthwise and separable convolutions against PyTorch
//! (`F.conv2d` with `dilation` and `groups`, the Keras kernel layouts converted). Golden
//! values in tests/golden/golden_conv.json, made by tests/golden/make_golden.py (see
//! tests/golden/README.md).

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

/// Strides, padding and dilation of a case.
fn options(c: &Case) -> ConvOptions {
    let s = usize_of(c, "strides");
    let padding = Padding::parse(c.config["padding"].as_str().unwrap()).unwrap();
    ConvOptions::new((s, s), padding).dilation((usize_of(c, "dilation_h"), usize_of(c, "dilation_w")))
}

fn check_all(name: &str, c: &Case, y: &ballast_core::Tensor, grads: &[ballast_core::Tensor], names: &[&str]) {
    assert_close(&format!("{name} y"), y, &c.t("y"), RTOL);
    for (g, n) in grads.iter().zip(names) {
        assert_close(&format!("{name} {n}"), g, &c.t(n), RTOL);
    }
}

#[test]
fn dilated_and_grouped_conv2d_match_pytorch() {
    let cases = load("golden_conv.json");
    for name in ["conv2d_dilated_valid", "conv2d_dilated_same", "conv2d_dilated_same_even", "conv2d_groups"] {
        let c = &cases[name];
        let o = options(c).groups(usize_of(c, "groups"));
        let (y, g) =
            run(c, &["x", "filter", "bias"], |t, v| conv::conv2d_with(t, v[0], v[1], Some(v[2]), o, false).unwrap());
        check_all(name, c, &y, &g, &["dx", "dfilter", "dbias"]);
    }
}

#[test]
fn depthwise_conv2d_matches_pytorch() {
    let cases = load("golden_conv.json");
    for name in ["depthwise_m1", "depthwise_m2", "depthwise_stride2_same", "depthwise_dilated"] {
        let c = &cases[name];
        let o = options(c);
        let (y, g) = run(c, &["x", "filter", "bias"], |t, v| {
            conv::depthwise_conv2d(t, v[0], v[1], Some(v[2]), o, false).unwrap()
        });
        check_all(name, c, &y, &g, &["dx", "dfilter", "dbias"]);
    }
}

/// Each case run through the layer the registry makes from its Keras config, with the
/// golden weights loaded into it.
#[test]
fn depthwise_and_separable_layers_match_pytorch() {
    let cases = load("golden_conv.json");
    let layers = [
        ("depthwise_dilated", "DepthwiseConv2D", vec!["filter", "bias"]),
        ("depthwise_stride2_same", "DepthwiseConv2D", vec!["filter", "bias"]),
        ("separable", "SeparableConv2D", vec!["depthwise_kernel", "pointwise_kernel", "bias"]),
        ("separable_stride2", "SeparableConv2D", vec!["depthwise_kernel", "pointwise_kernel", "bias"]),
    ];
    for (name, class, weights) in layers {
        let c = &cases[name];
        let x = c.t("x");
        let k = c.t(weights[0]).shape()[0];
        let mut options = json!({
            "kernelSize": k, "strides": usize_of(c, "strides"), "padding": c.config["padding"],
            "dilationRate": [usize_of(c, "dilation_h"), usize_of(c, "dilation_w")],
            "depthMultiplier": usize_of(c, "depth_multiplier"),
        });
        if class == "SeparableConv2D" {
            options["filters"] = c.config["filters"].clone();
        }
        let mut layer = registry::create(class, &options).unwrap();
        layer.set_name(name.into());
        layer.build_on(&x.shape()[1..], &mut Rng::new(0)).unwrap();
        for (p, w) in layer.params_mut().into_iter().zip(&weights) {
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
        let mut grads = vec![tape.grad(xv).unwrap().clone()];
        grads.extend(params.iter().map(|&p| tape.grad(p).unwrap().clone()));
        let mut names = vec!["dx".to_string()];
        names.extend(weights.iter().map(|w| if *w == "filter" { "dfilter".to_string() } else { format!("d{w}") }));
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        check_all(&format!("{name} ({class})"), c, tape.value(y), &grads, &names);
    }
}
