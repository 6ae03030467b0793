//! GroupNormalization, LayerNormalization and Batch Renormalization against PyTorch: golden
//! values in tests/golden/golden_norm.json, made by tests/golden/make_golden.py (see
//! tests/golden/README.md for the conventions and the command that regenerates them).

use ballast_core::autograd::{Tape, Var};
use ballast_core::nn::{
    BatchNorm, BatchNormConfig, Ctx, GroupNorm, GroupNormConfig, Layer, LayerNorm, LayerNormConfig,
};
use ballast_core::ops::group_norm::{group_norm, layer_norm};
use ballast_core::ops::norm::{batch_renorm_train, Renorm};
use ballast_core::rng::Rng;
use ballast_core::Tensor;

mod common;

use common::{assert_close, load, Case, RTOL};

/// The case's γ and β that are present, in that order (the order layers take them).
fn affine_names(c: &Case) -> Vec<&'static str> {
    ["gamma", "beta"].into_iter().filter(|n| c.has(n)).collect()
}

/// Runs `f(tape, x, γ, β)`, back-propagates `dy`, and checks `y` and every `d<input>`.
fn check_case(name: &str, c: &Case, f: impl Fn(&mut Tape, Var, Option<Var>, Option<Var>) -> Var) {
    let mut tape = Tape::new();
    let x = tape.leaf(c.t("x"), true);
    let gamma = c.has("gamma").then(|| tape.leaf(c.t("gamma"), true));
    let beta = c.has("beta").then(|| tape.leaf(c.t("beta"), true));
    let y = f(&mut tape, x, gamma, beta);
    tape.backward_with(y, c.t("dy")).unwrap();
    assert_close(&format!("{name} y"), tape.value(y), &c.t("y"), RTOL);
    for (n, v) in [("x", Some(x)), ("gamma", gamma), ("beta", beta)] {
        if let Some(v) = v {
            assert_close(&format!("{name} d{n}"), tape.grad(v).unwrap(), &c.t(&format!("d{n}")), RTOL);
        }
    }
}

/// The layer's output for `x` in training mode, parameters from the case.
fn layer_output(layer: &mut dyn Layer, c: &Case) -> Tensor {
    layer.set_name("norm".into());
    layer.build_on(&c.t("x").shape()[1..], &mut Rng::new(0)).unwrap();
    let mut tape = Tape::new();
    let x = tape.constant(c.t("x"));
    let params: Vec<Var> = affine_names(c).iter().map(|n| tape.constant(c.t(n))).collect();
    assert_eq!(params.len(), layer.params().len());
    let mut rng = Rng::new(0);
    let y = layer
        .forward(&mut Ctx { tape: &mut tape, training: true, rng: &mut rng, logits: false }, &[x], &params)
        .unwrap();
    tape.value(y).clone()
}

#[test]
fn group_and_layer_normalization_match_pytorch() {
    let cases = load("golden_norm.json");
    let names =
        ["gn_nhwc", "gn_nhwc_instance_no_center", "gn_axis1", "gn_2d_plain", "ln_2d", "ln_nhwc", "ln_axis1_no_center"];
    for name in names {
        let c = &cases[name];
        let rank = c.t("x").rank() as i64;
        let keras_axis = c.config["axis"].as_i64().unwrap(); // negative, as Keras counts it
        let axis = (rank + keras_axis) as usize;
        let (eps, center, scale) = (c.f("epsilon") as f32, c.b("center"), c.b("scale"));
        let mut layer: Box<dyn Layer> = match c.config["layer"].as_str().unwrap() {
            "GroupNormalization" => {
                let groups = c.config["groups"].as_u64().unwrap() as usize;
                check_case(name, c, |t, x, g, b| group_norm(t, x, g, b, axis, groups, eps).unwrap());
                let config = GroupNormConfig {
                    groups,
                    axis: keras_axis as isize,
                    epsilon: eps,
                    center,
                    scale,
                    ..Default::default()
                };
                Box::new(GroupNorm::new(config).unwrap())
            }
            _ => {
                check_case(name, c, |t, x, g, b| layer_norm(t, x, g, b, axis, eps).unwrap());
                let config =
                    LayerNormConfig { axis: keras_axis as isize, epsilon: eps, center, scale, ..Default::default() };
                Box::new(LayerNorm::new(config).unwrap())
            }
        };
        assert_close(&format!("{name} layer y"), &layer_output(layer.as_mut(), c), &c.t("y"), RTOL);
    }
}

#[test]
fn one_batch_renormalization_step_matches_pytorch() {
    let cases = load("golden_norm.json");
    for name in ["bn_renorm_4d", "bn_renorm_2d"] {
        let c = &cases[name];
        let (eps, r_max, d_max) = (c.f("epsilon") as f32, c.f("r_max") as f32, c.f("d_max") as f32);
        let axis = c.t("x").rank() - 1;
        // The op: output, gradients (r and d constant) and the correction itself.
        let (mean, stddev) = (c.t("renorm_mean@initial"), c.t("renorm_stddev@initial"));
        let renorm = Renorm { mean: mean.data(), stddev: stddev.data(), r_max, d_max };
        let correction = std::cell::RefCell::new(None);
        check_case(name, c, |t, x, g, b| {
            let (y, _, corr) = batch_renorm_train(t, x, g, b, axis, eps, &renorm).unwrap();
            *correction.borrow_mut() = Some(corr);
            y
        });
        let corr = correction.into_inner().unwrap();
        let ch = corr.r.len();
        assert_close("r", &Tensor::new(corr.r, &[ch]).unwrap(), &c.t("r"), RTOL);
        assert_close("d", &Tensor::new(corr.d, &[ch]).unwrap(), &c.t("d"), RTOL);

        // The layer: the same output from its own state, then Keras' updates of that state.
        let config = BatchNormConfig {
            epsilon: eps,
            moving_average: ballast_core::nn::MovingAverage::Exponential { momentum: c.f("momentum") as f32 },
            renorm: true,
            renorm_clipping: (r_max, d_max),
            renorm_momentum: c.f("renorm_momentum") as f32,
            ..Default::default()
        };
        let mut bn = BatchNorm::new(config).unwrap();
        bn.set_name("bn".into());
        bn.build_on(&c.t("x").shape()[1..], &mut Rng::new(0)).unwrap();
        for w in bn.weights_mut() {
            let short = w.name.trim_start_matches("bn/").to_string();
            w.value = if short == "gamma" || short == "beta" { c.t(&short) } else { c.t(&format!("{short}@initial")) };
        }
        assert_close(&format!("{name} layer y"), &layer_output_committed(&mut bn, c), &c.t("y"), RTOL);
        // moving_mean, moving_variance, moving_stddev, renorm_mean, renorm_stddev.
        assert_eq!(bn.state().len(), 5);
        for w in bn.state() {
            let short = w.name.trim_start_matches("bn/");
            assert_close(&format!("{name} {short} after the step"), &w.value, &c.t(&format!("{short}@after")), RTOL);
        }
    }
}

/// One training step of an already built layer with its own parameters; commits the step.
fn layer_output_committed(layer: &mut dyn Layer, c: &Case) -> Tensor {
    let mut tape = Tape::new();
    let x = tape.constant(c.t("x"));
    let params: Vec<Var> = layer.params().iter().map(|p| tape.leaf(p.value.clone(), true)).collect();
    let mut rng = Rng::new(0);
    let y = layer
        .forward(&mut Ctx { tape: &mut tape, training: true, rng: &mut rng, logits: false }, &[x], &params)
        .unwrap();
    layer.end_step(true);
    tape.value(y).clone()
}
