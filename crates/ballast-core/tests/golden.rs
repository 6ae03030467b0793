//! The core against PyTorch: golden values made by `tests/golden/make_golden.py` (see
//! tests/golden/README.md for the conventions and the command that regenerates them).

use ballast_core::autograd::{Tape, Var};
use ballast_core::graph::{Graph, Sequential};
use ballast_core::kernels::conv::Padding;
use ballast_core::model::{Loss, Model};
use ballast_core::nn::{
    Activation, BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig, Dense, DenseConfig, Flatten, Layer, MaxPool2d,
};
use ballast_core::ops::{self, conv, loss, norm};
use ballast_core::optim::Adam;
use ballast_core::rng::Rng;
use ballast_core::Tensor;

mod common;

use common::{assert_close, load, run, RTOL};

#[test]
fn batch_norm_training_forward_backward_and_moving_statistics() {
    let cases = load("golden.json");
    for name in ["bn_train_4d", "bn_train_2d", "bn_train_4d_no_center", "bn_train_4d_no_scale", "bn_train_4d_plain"] {
        let c = &cases[name];
        let axis = c.t("x").rank() - 1;
        let mut inputs = vec!["x"];
        if c.has("gamma") {
            inputs.push("gamma");
        }
        if c.has("beta") {
            inputs.push("beta");
        }
        let (has_g, has_b) = (c.has("gamma"), c.has("beta"));
        let stats = std::cell::RefCell::new(None);
        let (y, grads) = run(c, &inputs, |t, v| {
            let g = has_g.then(|| v[1]);
            let b = has_b.then(|| v[if has_g { 2 } else { 1 }]);
            let (y, s) = norm::batch_norm_train(t, v[0], g, b, axis, 1e-3).unwrap();
            *stats.borrow_mut() = Some(s);
            y
        });
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} dx"), &grads[0], &c.t("dx"), RTOL);
        for (i, p) in inputs.iter().enumerate().skip(1) {
            assert_close(&format!("{name} d{p}"), &grads[i], &c.t(&format!("d{p}")), RTOL);
        }
        let s = stats.into_inner().unwrap();
        let ch = s.mean.len();
        assert_close("batch_mean", &Tensor::new(s.mean.clone(), &[ch]).unwrap(), &c.t("batch_mean"), RTOL);
        assert_close("batch_var", &Tensor::new(s.variance.clone(), &[ch]).unwrap(), &c.t("batch_var"), RTOL);

        // The layer applies the Keras moving-average rule from 0 / 1.
        let mut layer = BatchNorm::new(BatchNormConfig { center: has_b, scale: has_g, ..Default::default() }).unwrap();
        layer.set_name("bn".into());
        let shape = c.t("x").shape()[1..].to_vec();
        layer.build_on(&shape, &mut Rng::new(0)).unwrap();
        forward_layer(&mut layer, &c.t("x"), true);
        assert_close("moving_mean", layer.moving_mean(), &c.t("moving_mean"), RTOL);
        assert_close("moving_variance", layer.moving_variance(), &c.t("moving_variance"), RTOL);
    }
}

fn forward_layer(layer: &mut dyn Layer, x: &Tensor, training: bool) -> Tensor {
    let mut tape = Tape::new();
    let xv = tape.constant(x.clone());
    let params: Vec<Var> = layer.params().iter().map(|p| tape.leaf(p.value.clone(), true)).collect();
    let mut rng = Rng::new(0);
    let mut ctx = ballast_core::nn::Ctx { tape: &mut tape, training, rng: &mut rng, logits: false };
    let y = layer.forward(&mut ctx, &[xv], &params).unwrap();
    layer.end_step(true);
    tape.value(y).clone()
}

#[test]
fn batch_norm_inference_and_moving_statistics_over_steps() {
    let cases = load("golden.json");
    let c = &cases["bn_inference_4d"];
    let (mm, mv) = (c.t("moving_mean"), c.t("moving_variance"));
    let (y, grads) = run(c, &["x", "gamma", "beta"], |t, v| {
        norm::batch_norm_inference(t, v[0], Some(v[1]), Some(v[2]), mm.data(), mv.data(), 3, 1e-3).unwrap()
    });
    assert_close("bn inference y", &y, &c.t("y"), RTOL);
    for (i, n) in ["dx", "dgamma", "dbeta"].iter().enumerate() {
        assert_close(n, &grads[i], &c.t(n), RTOL);
    }

    let c = &cases["bn_moving_stats"];
    let mut layer = BatchNorm::new(BatchNormConfig::default()).unwrap();
    layer.set_name("bn".into());
    layer.build_on(&[3, 3, 2], &mut Rng::new(0)).unwrap();
    let mut y = Tensor::zeros(&[1]);
    for step in 0..5 {
        y = forward_layer(&mut layer, &c.t(&format!("x{step}")), true);
    }
    assert_close("moving_mean after 5 steps", layer.moving_mean(), &c.t("moving_mean"), RTOL);
    assert_close("moving_variance after 5 steps", layer.moving_variance(), &c.t("moving_variance"), RTOL);
    assert_close("y4", &y, &c.t("y4"), RTOL);
}

#[test]
fn conv_pool_dense_activations_and_losses() {
    let cases = load("golden.json");
    for name in ["conv2d_valid", "conv2d_same_stride2", "conv2d_cin1"] {
        let c = &cases[name];
        let s = c.config["strides"].as_u64().unwrap() as usize;
        let padding = Padding::parse(c.config["padding"].as_str().unwrap()).unwrap();
        let (y, g) =
            run(c, &["x", "filter", "bias"], |t, v| conv::conv2d(t, v[0], v[1], Some(v[2]), (s, s), padding).unwrap());
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        for (i, n) in ["dx", "dfilter", "dbias"].iter().enumerate() {
            assert_close(&format!("{name} {n}"), &g[i], &c.t(n), RTOL);
        }
    }
    for name in ["maxpool_2x2", "maxpool_3x3_s2_same"] {
        let c = &cases[name];
        let p = c.config["pool_size"].as_u64().unwrap() as usize;
        let s = c.config["strides"].as_u64().unwrap() as usize;
        let padding = Padding::parse(c.config["padding"].as_str().unwrap()).unwrap();
        let (y, g) = run(c, &["x"], |t, v| conv::max_pool2d(t, v[0], (p, p), (s, s), padding).unwrap());
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} dx"), &g[0], &c.t("dx"), RTOL);
    }
    let c = &cases["dense"];
    let (y, g) = run(c, &["x", "kernel", "bias"], |t, v| ops::dense(t, v[0], v[1], Some(v[2])).unwrap());
    assert_close("dense y", &y, &c.t("y"), RTOL);
    for (i, n) in ["dx", "dkernel", "dbias"].iter().enumerate() {
        assert_close(n, &g[i], &c.t(n), RTOL);
    }
    type Unary = fn(&mut Tape, Var) -> Var;
    let unary: [(&str, Unary); 5] = [
        ("relu", ops::relu),
        ("sigmoid", ops::sigmoid),
        ("tanh", ops::tanh),
        ("softmax", |t, x| ops::softmax(t, x).unwrap()),
        ("log_softmax", |t, x| ops::log_softmax(t, x).unwrap()),
    ];
    for (name, f) in unary {
        let c = &cases[name];
        let (y, g) = run(c, &["x"], |t, v| f(t, v[0]));
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} dx"), &g[0], &c.t("dx"), RTOL);
    }

    let c = &cases["softmax_cross_entropy"];
    let labels: Vec<u32> = c.t("label_indices").data().iter().map(|&v| v as u32).collect();
    for sparse in [false, true] {
        let mut tape = Tape::new();
        let x = tape.leaf(c.t("logits"), true);
        let l = if sparse {
            loss::sparse_softmax_cross_entropy(&mut tape, x, &labels).unwrap()
        } else {
            loss::softmax_cross_entropy(&mut tape, x, &c.t("labels")).unwrap()
        };
        tape.backward(l).unwrap();
        assert_close("cross-entropy", &tape.value(l).clone().reshape(&[1]).unwrap(), &c.t("loss"), RTOL);
        assert_close("dlogits", tape.grad(x).unwrap(), &c.t("dlogits"), RTOL);
    }
    let c = &cases["mse"];
    let mut tape = Tape::new();
    let x = tape.leaf(c.t("pred"), true);
    let l = loss::mean_squared_error(&mut tape, x, &c.t("target")).unwrap();
    tape.backward(l).unwrap();
    assert_close("mse", &tape.value(l).clone().reshape(&[1]).unwrap(), &c.t("loss"), RTOL);
    assert_close("dpred", tape.grad(x).unwrap(), &c.t("dpred"), RTOL);
}

/// The seed CNN of the tutorial, built from the core's layers (dropout left out: the golden
/// step has it disabled).
fn seed_cnn() -> Graph {
    let mut net = Sequential::new();
    let mut add = |name: &str, mut l: Box<dyn Layer>| {
        l.set_name(name.into());
        net.add(l);
    };
    add("bn", Box::new(BatchNorm::new(BatchNormConfig::default()).unwrap()));
    add("conv1", Box::new(Conv2d::new(Conv2dConfig::new(32, (3, 3)).activation(Activation::Relu)).unwrap()));
    add("pool1", Box::new(MaxPool2d::new((2, 2), None, Padding::Valid)));
    add("conv2", Box::new(Conv2d::new(Conv2dConfig::new(64, (3, 3)).activation(Activation::Relu)).unwrap()));
    add("pool2", Box::new(MaxPool2d::new((2, 2), None, Padding::Valid)));
    add("flatten", Box::new(Flatten::new()));
    add("dense1", Box::new(Dense::new(DenseConfig::new(128).activation(Activation::Relu)).unwrap()));
    add("dense2", Box::new(Dense::new(DenseConfig::new(10).activation(Activation::Softmax)).unwrap()));
    net.build(&[28, 28, 1], &mut Rng::new(0)).unwrap()
}

#[test]
fn one_adam_step_of_the_seed_cnn() {
    let cases = load("seed_cnn_adam.json");
    let c = &cases["seed_cnn_adam"];
    let mut net = seed_cnn();
    for p in net.weights_mut() {
        p.value = c.t(&format!("{}@initial", p.name));
    }
    let mut model =
        Model::new(net, Loss::parse("categoricalCrossentropy").unwrap(), Box::new(Adam::keras_defaults()), 0).unwrap();
    let stats = model.train_step(&c.t("x"), &c.t("y"), None).unwrap();
    assert!(
        (stats.loss - c.t("loss").data()[0]).abs() < 1e-5,
        "loss {} vs PyTorch {}",
        stats.loss,
        c.t("loss").data()[0]
    );
    for p in model.net.weights() {
        let want = c.t(&format!("{}@after", p.name));
        // Absolute 1e-5: Adam's first step is ≈ lr·sign(g), sensitive where |g| is tiny (README).
        for (i, (g, w)) in p.value.data().iter().zip(want.data()).enumerate() {
            assert!((g - w).abs() <= 1e-5, "{}[{i}] after one step: {g}, PyTorch {w}", p.name);
        }
    }
}
