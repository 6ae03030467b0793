//! Layer-level tests: finite-difference gradients through every layer (inputs and
//! parameters), and the BN features beyond Keras.

use super::*;
use crate::autograd::gradcheck::{normal, Check};
use crate::graph::{fold_batch_norm, Graph, Sequential};
use crate::kernels::conv::Padding;
use crate::model::{Loss, Model};
use crate::optim::Adam;

/// Checks d(out)/d(input) and d(out)/d(params) of `layer` built for `shape` (batch first).
pub(super) fn check_layer(name: &str, layer: Box<dyn Layer>, shape: &[usize], training: bool, check: &Check) {
    check_layer_on(name, layer, normal(shape, 2, 1.0, 0.0), training, check)
}

pub(super) fn check_layer_on(name: &str, mut layer: Box<dyn Layer>, x: Tensor, training: bool, check: &Check) {
    layer.set_name(name.into());
    layer.build_on(&x.shape()[1..], &mut Rng::new(1)).unwrap();
    let mut inputs = vec![x];
    inputs.extend(layer.params().iter().map(|p| p.value.clone()));
    let layer = std::sync::Mutex::new(layer);
    check.run(name, &inputs, |tape, v| {
        let mut rng = Rng::new(3); // the same dropout mask at every evaluation
        let mut ctx = Ctx { tape, training, rng: &mut rng, logits: false };
        let mut l = layer.lock().unwrap();
        let y = l.forward(&mut ctx, &v[..1], &v[1..]);
        l.end_step(false);
        y
    });
}

#[test]
fn every_layer_passes_a_gradient_check() {
    let check = Check::default();
    let act = |a| Activation::parse(a).unwrap();
    check_layer(
        "dense",
        Box::new(Dense::new(DenseConfig::new(4).activation(act("tanh"))).unwrap()),
        &[3, 5],
        true,
        &check,
    );
    check_layer(
        "dense_softmax",
        Box::new(Dense::new(DenseConfig::new(4).activation(act("softmax"))).unwrap()),
        &[3, 5],
        true,
        &check,
    );
    let conv = Conv2dConfig { padding: Padding::Same, strides: config::Pair(2, 1), ..Conv2dConfig::new(3, (3, 2)) }
        .activation(act("sigmoid"));
    check_layer("conv2d", Box::new(Conv2d::new(conv).unwrap()), &[2, 5, 4, 2], true, &check);
    // Distinct, well-separated inputs keep max pooling away from ties.
    let mut distinct: Vec<f32> = (0..96).map(|v| v as f32 * 0.1).collect();
    Rng::new(4).shuffle(&mut distinct);
    let x = Tensor::new(distinct, &[2, 4, 4, 3]).unwrap();
    check_layer_on("pool", Box::new(MaxPool2d::new((2, 2), None, Padding::Valid)), x, true, &check);
    check_layer("flatten", Box::new(Flatten::new()), &[2, 3, 2, 2], true, &check);
    check_layer("dropout", Box::new(Dropout::new(0.3).unwrap()), &[4, 6], true, &check);
    check_layer("activation", Box::new(ActivationLayer::new(act("tanh"))), &[4, 6], true, &check);
    let bn_check = Check { eps: 1e-2, atol: 3e-3, rtol: 3e-2, max_probes: 40 };
    for training in [true, false] {
        check_layer(
            "bn",
            Box::new(BatchNorm::new(BatchNormConfig::default()).unwrap()),
            &[4, 3, 3, 2],
            training,
            &bn_check,
        );
        let axis1 = BatchNormConfig { axis: 1, ..Default::default() };
        check_layer("bn_axis1", Box::new(BatchNorm::new(axis1).unwrap()), &[4, 3, 2, 2], training, &bn_check);
    }
}

#[test]
fn the_shape_merge_and_small_layers_pass_a_gradient_check() {
    let check = Check::default();
    let make = |class: &str, options: Json| registry::create(class, &options).unwrap();
    let json = |v: &str| -> Json { serde_json::from_str(v).unwrap() };
    let image = [2, 4, 5, 3];
    check_layer(
        "zero_padding2d",
        make("ZeroPadding2D", json(r#"{"padding": [[1, 2], [0, 3]]}"#)),
        &image,
        true,
        &check,
    );
    check_layer("cropping2d", make("Cropping2D", json(r#"{"cropping": [[1, 0], [2, 1]]}"#)), &image, true, &check);
    for interpolation in ["nearest", "bilinear"] {
        let options = json(&format!(r#"{{"size": [2, 3], "interpolation": "{interpolation}"}}"#));
        check_layer(&format!("up_sampling2d {interpolation}"), make("UpSampling2D", options), &image, true, &check);
    }
    check_layer("reshape", make("Reshape", json(r#"{"targetShape": [-1, 6]}"#)), &image, true, &check);
    check_layer("permute", make("Permute", json(r#"{"dims": [3, 1, 2]}"#)), &image, true, &check);
    for training in [true, false] {
        check_layer("spatial_dropout2d", make("SpatialDropout2D", json(r#"{"rate": 0.4}"#)), &image, training, &check);
    }

    // Merge layers take several inputs.
    let inputs = [normal(&[3, 2, 4], 11, 1.0, 0.0), normal(&[3, 2, 4], 12, 1.0, 0.0), normal(&[3, 2, 4], 13, 1.0, 0.3)];
    for (class, n) in [("Multiply", 3), ("Subtract", 2), ("Maximum", 3), ("Average", 3), ("Multiply", 2)] {
        let layer = make(class, json("{}"));
        let shapes: Vec<&[usize]> = inputs[..n].iter().map(|x| &x.shape()[1..]).collect();
        assert_eq!(layer.output_shape(&shapes).unwrap(), [2, 4]);
        let check = if class == "Maximum" { Check { eps: 1e-3, ..Check::default() } } else { Check::default() };
        check.run(class, &inputs[..n], |tape, v| {
            let mut rng = Rng::new(0);
            layer.clone_box().forward(&mut Ctx { tape, training: true, rng: &mut rng, logits: false }, v, &[])
        });
    }

    // Embedding: only the table is differentiable (the indices are class numbers).
    let mut emb = make("Embedding", json(r#"{"inputDim": 6, "outputDim": 3, "name": "emb"}"#));
    emb.set_name("emb".into());
    emb.build_on(&[4], &mut Rng::new(2)).unwrap();
    let indices = Tensor::new(vec![0.0, 5.0, 5.0, 2.0, 1.0, 5.0, 0.0, 3.0], &[2, 4]).unwrap();
    let table = [emb.params()[0].value.clone()];
    check.run("embedding", &table, |tape, v| {
        let x = tape.constant(indices.clone());
        let mut rng = Rng::new(0);
        emb.clone_box().forward(&mut Ctx { tape, training: true, rng: &mut rng, logits: false }, &[x], v)
    });
}

#[test]
fn spatial_dropout_is_the_identity_in_inference_and_follows_the_seed() {
    let mut layer = registry::create("SpatialDropout2D", &serde_json::json!({ "rate": 0.5 })).unwrap();
    let x = normal(&[8, 3, 3, 6], 1, 1.0, 2.0);
    let run = |layer: &mut Box<dyn Layer>, training: bool, seed: u64| {
        let mut tape = crate::autograd::Tape::new();
        let v = tape.constant(x.clone());
        let mut rng = Rng::new(seed);
        let y = layer.forward(&mut Ctx { tape: &mut tape, training, rng: &mut rng, logits: false }, &[v], &[]);
        tape.value(y.unwrap()).clone()
    };
    assert_eq!(run(&mut layer, false, 1), x);
    let (a, b, c) = (run(&mut layer, true, 1), run(&mut layer, true, 1), run(&mut layer, true, 2));
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Whole channels of an example, kept values doubled.
    for (i, (&y, &v)) in a.data().iter().zip(x.data()).enumerate() {
        let (example, channel) = (i / 54, i % 6);
        let first = a.data()[example * 54 + channel];
        assert_eq!(y == 0.0, first == 0.0, "value {i}");
        assert!(y == 0.0 || y == 2.0 * v, "value {i}: {y} for {v}");
    }
    let e = layer.output_shape(&[&[4, 6]]).unwrap_err();
    assert_eq!(e.message, "expects input [batch, height, width, channels], got [batch, 4, 6]");
    assert!(registry::create("SpatialDropout2D", &serde_json::json!({ "rate": 1 })).is_err());
}

fn bn_layer(config: BatchNormConfig, channels: usize) -> BatchNorm {
    let mut bn = BatchNorm::new(config).unwrap();
    bn.set_name("bn".into());
    bn.build_on(&[channels], &mut Rng::new(0)).unwrap();
    bn
}

fn bn_step(bn: &mut BatchNorm, x: &Tensor, training: bool) -> Tensor {
    let mut tape = crate::autograd::Tape::new();
    let xv = tape.constant(x.clone());
    let params: Vec<_> = bn.params().iter().map(|p| tape.leaf(p.value.clone(), true)).collect();
    let mut rng = Rng::new(0);
    let y = bn.forward(&mut Ctx { tape: &mut tape, training, rng: &mut rng, logits: false }, &[xv], &params).unwrap();
    bn.end_step(true);
    tape.value(y).clone()
}

#[test]
fn cumulative_moving_average_is_the_mean_of_batch_statistics() {
    let mut bn = bn_layer(BatchNormConfig { moving_average: MovingAverage::Cumulative, ..Default::default() }, 2);
    let batches: Vec<Tensor> = (0..4).map(|i| normal(&[16, 2], 10 + i, 1.0 + i as f32, 0.0)).collect();
    let mut means = vec![0.0f32; 2];
    for b in &batches {
        bn_step(&mut bn, b, true);
        for c in 0..2 {
            means[c] += b.data().iter().skip(c).step_by(2).sum::<f32>() / 16.0 / 4.0;
        }
    }
    for c in 0..2 {
        assert!((bn.moving_mean().data()[c] - means[c]).abs() < 1e-5);
    }
}

#[test]
fn frozen_batch_norm_uses_and_keeps_its_moving_statistics() {
    let mut bn = bn_layer(BatchNormConfig::default(), 3);
    bn.moving[0].value = Tensor::new(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    bn.set_trainable(false);
    let x = normal(&[8, 3], 4, 2.0, 0.0);
    let y = bn_step(&mut bn, &x, true);
    assert_eq!(bn.moving_mean().data(), &[1.0, 2.0, 3.0]);
    // Inference mode: (x − μ_moving)/√(1 + ε).
    let want = (x.data()[1] - 2.0) / (1.0f32 + 1e-3).sqrt();
    assert!((y.data()[1] - want).abs() < 1e-6);
    // Training mode with trainable = true moves them.
    bn.set_trainable(true);
    bn_step(&mut bn, &x, true);
    assert_ne!(bn.moving_mean().data(), &[1.0, 2.0, 3.0]);
}

fn small_cnn(with_bn_after_conv: bool) -> Graph {
    let mut net = Sequential::new();
    net.add(Box::new(BatchNorm::new(BatchNormConfig::default()).unwrap()));
    net.add(Box::new(Conv2d::new(Conv2dConfig::new(4, (3, 3))).unwrap()));
    if with_bn_after_conv {
        net.add(Box::new(BatchNorm::new(BatchNormConfig::default()).unwrap()));
    }
    net.add(Box::new(ActivationLayer::new(Activation::Relu)));
    net.add(Box::new(Flatten::new()));
    net.add(Box::new(Dense::new(DenseConfig::new(5)).unwrap()));
    net.add(Box::new(BatchNorm::new(BatchNormConfig::default()).unwrap()));
    net.add(Box::new(ActivationLayer::new(Activation::Softmax)));
    net.build(&[6, 6, 2], &mut Rng::new(7)).unwrap()
}

#[test]
fn precise_bn_recalibration_computes_population_statistics() {
    let mut model = Model::new(
        small_cnn(false),
        Loss::parse("categoricalCrossentropy").unwrap(),
        Box::new(Adam::keras_defaults()),
        1,
    )
    .unwrap();
    let batches: Vec<Tensor> = (0..5).map(|i| normal(&[10, 6, 6, 2], 20 + i, 1.5, 0.0)).collect();
    assert_eq!(model.recalibrate_batch_norm(&batches).unwrap(), 5);
    // The input BN sees the raw data: its statistics are those of all 50 examples at once
    // (equal batch sizes make E[μ_B] and E[σ²_B + μ_B²] − mean² exact).
    let all: Vec<f32> = batches.iter().flat_map(|b| b.data().to_vec()).collect();
    let bn = model.net.nodes()[1].layer.as_any().downcast_ref::<BatchNorm>().unwrap();
    for c in 0..2 {
        let xs: Vec<f64> = all.iter().skip(c).step_by(2).map(|&v| v as f64).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!((bn.moving_mean().data()[c] as f64 - mean).abs() < 1e-5, "mean {c}");
        assert!((bn.moving_variance().data()[c] as f64 - var).abs() < 1e-4, "variance {c}");
    }
}

#[test]
fn folding_bn_into_conv_and_dense_keeps_the_outputs() {
    let mut model = Model::new(
        small_cnn(true),
        Loss::parse("categoricalCrossentropy").unwrap(),
        Box::new(Adam::keras_defaults()),
        1,
    )
    .unwrap();
    // Train a little so that γ, β and the moving statistics are not at their defaults.
    let x = normal(&[12, 6, 6, 2], 30, 1.0, 0.0);
    let y = crate::data::one_hot(&(0..12).map(|i| i % 5).collect::<Vec<u32>>(), 5).unwrap();
    for _ in 0..20 {
        model.train_step(&x, &y, None).unwrap();
    }
    let before = model.predict(&x).unwrap();
    let mut folded = model.net.clone();
    let names = fold_batch_norm(&mut folded).unwrap();
    assert_eq!(names, ["batch_normalization_1", "batch_normalization_2"]);
    let kinds: Vec<&str> = folded.layers().map(|l| l.kind()).collect();
    // The input BN has no preceding layer and stays; the other two are folded away.
    assert_eq!(kinds, ["InputLayer", "BatchNormalization", "Conv2D", "Activation", "Flatten", "Dense", "Activation"]);
    let after = crate::model::predict(&mut folded, &x).unwrap();
    for (a, b) in after.data().iter().zip(before.data()) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-2), "{a} vs {b}");
    }
}

#[test]
fn predict_split_across_threads_is_bitwise_one_pass() {
    // A trained model (moving statistics away from their defaults), a batch of 70: chunks of
    // 32, 32 and 6 on the pool; one pass on one thread; and every row on its own.
    let mut model = Model::new(
        small_cnn(true),
        Loss::parse("categoricalCrossentropy").unwrap(),
        Box::new(Adam::keras_defaults()),
        1,
    )
    .unwrap();
    let x = normal(&[70, 6, 6, 2], 31, 1.0, 0.0);
    let y = crate::data::one_hot(&(0..70).map(|i| i % 5).collect::<Vec<u32>>(), 5).unwrap();
    for _ in 0..5 {
        model.train_step(&x, &y, None).unwrap();
    }
    let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
    crate::parallel::set_thread_limit(None);
    crate::parallel::take_task_counts();
    let split = model.predict(&x).unwrap();
    let ran_on_pool = crate::parallel::take_task_counts()[1..].iter().any(|&c| c > 0);
    crate::parallel::set_thread_limit(Some(1));
    let whole = model.predict(&x).unwrap();
    crate::parallel::set_thread_limit(None);
    assert!(ran_on_pool || crate::parallel::pool_size() == 1);
    assert_eq!(split.shape(), [70, 5]);
    assert_eq!(split, whole);
    for i in [0, 31, 32, 69] {
        let row = Tensor::new(x.data()[i * 72..(i + 1) * 72].to_vec(), &[1, 6, 6, 2]).unwrap();
        assert_eq!(model.predict(&row).unwrap().data(), &whole.data()[i * 5..(i + 1) * 5], "row {i}");
    }
    // A wrong shape is refused before any chunk runs.
    let err = model.predict(&normal(&[40, 6, 5, 2], 1, 1.0, 0.0)).unwrap_err();
    assert_eq!(err.kind, crate::ErrorKind::Shape);
    assert!(err.message.contains("[40, 6, 5, 2]"), "{}", err.message);
}
