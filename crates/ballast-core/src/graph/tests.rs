//! The graph: building by inputs, the checks that refuse bad graphs, residual blocks trained
//! and checked against finite differences, folding as a rewrite, and the saved spec.

use super::*;
use crate::autograd::gradcheck::{normal, Check};
use crate::model::{predict_rows, Loss, Model};
use crate::nn::config::Json;
use crate::optim::Adam;
use serde_json::json;

fn layer(class: &str, options: Json) -> Box<dyn Layer> {
    registry::create(class, &options).unwrap()
}

/// conv-BN-ReLU-conv-BN plus a shortcut, then ReLU: identity when `stride` is 1 and the
/// channels agree, else a strided 1x1 projection with its BN.
fn residual_block(g: &mut Graph, x: NodeId, filters: usize, stride: usize, rng: &mut Rng) -> NodeId {
    let conv = |k: usize, s: usize| {
        layer(
            "Conv2D",
            json!({ "filters": filters, "kernelSize": k, "strides": s, "padding": "same", "useBias": false }),
        )
    };
    let bn = || layer("BatchNormalization", json!({}));
    let relu = || layer("Activation", json!({ "activation": "relu" }));
    let a = g.add(conv(3, stride), &[x], rng).unwrap();
    let a = g.add(bn(), &[a], rng).unwrap();
    let a = g.add(relu(), &[a], rng).unwrap();
    let a = g.add(conv(3, 1), &[a], rng).unwrap();
    let a = g.add(bn(), &[a], rng).unwrap();
    let in_c = *g.nodes()[x].shape.last().unwrap();
    let shortcut = if stride == 1 && in_c == filters {
        x
    } else {
        let s = g.add(conv(1, stride), &[x], rng).unwrap();
        g.add(bn(), &[s], rng).unwrap()
    };
    let sum = g.add(layer("Add", json!({})), &[a, shortcut], rng).unwrap();
    g.add(relu(), &[sum], rng).unwrap()
}

fn small_resnet() -> Graph {
    let rng = &mut Rng::new(3);
    let mut g = Graph::new();
    let x = g.add(layer("InputLayer", json!({ "shape": [6, 6, 2] })), &[], rng).unwrap();
    let h = residual_block(&mut g, x, 2, 1, rng);
    let h = residual_block(&mut g, h, 4, 2, rng);
    let h = g.add(layer("GlobalAveragePooling2D", json!({})), &[h], rng).unwrap();
    let out = g.add(layer("Dense", json!({ "units": 3, "activation": "softmax" })), &[h], rng).unwrap();
    g.set_outputs(&[out]).unwrap();
    g
}

#[test]
fn default_names_follow_keras_and_shapes_are_inferred() {
    let g = small_resnet();
    let names: Vec<&str> = g.layers().map(|l| l.name()).collect();
    assert_eq!(&names[..3], ["input_layer", "conv2d", "batch_normalization"]);
    assert!(names.contains(&"add") && names.contains(&"add_1") && names.contains(&"conv2d_4"));
    let rows = g.summary();
    let add1 = rows.iter().find(|r| r.name == "add_1").unwrap();
    assert_eq!(add1.output_shape, [3, 3, 4]);
    assert_eq!(add1.inputs, ["batch_normalization_3", "batch_normalization_4"]);
    assert_eq!(g.output_shape().unwrap(), [3]);
}

#[test]
fn default_names_skip_the_names_reserved_for_later_layers() {
    let rng = &mut Rng::new(0);
    let mut g = Graph::new();
    g.reserve_names(["dense".to_string()]);
    let x = g.add(layer("InputLayer", json!({ "shape": [4] })), &[], rng).unwrap();
    let a = g.add(layer("Dense", json!({ "units": 4 })), &[x], rng).unwrap();
    assert_eq!(g.nodes()[a].layer.name(), "dense_1");
    let b = g.add(layer("Dense", json!({ "units": 4, "name": "dense" })), &[a], rng).unwrap();
    assert_eq!(g.nodes()[b].layer.name(), "dense");
}

#[test]
fn bad_graphs_are_refused_naming_nodes_and_shapes() {
    let rng = &mut Rng::new(0);
    let mut g = Graph::new();
    let x = g.add(layer("InputLayer", json!({ "shape": [4, 4, 2] })), &[], rng).unwrap();
    let a = g.add(layer("Conv2D", json!({ "filters": 3, "kernelSize": 1, "name": "wide" })), &[x], rng).unwrap();
    let err = g.add(layer("Add", json!({})), &[x, a], rng).unwrap_err();
    assert_eq!(err.kind, crate::ErrorKind::Shape);
    assert_eq!(
        err.message,
        "layer 'add' (Add): inputs must all have one shape, got [batch, 4, 4, 2], [batch, 4, 4, 3] \
         (inputs: 'input_layer' [batch, 4, 4, 2], 'wide' [batch, 4, 4, 3])"
    );
    let err = g.add(layer("Concatenate", json!({ "axis": 1 })), &[x, a], rng).unwrap_err();
    assert!(err.message.contains("must agree on every axis but 1"), "{}", err.message);
    let err = g.add(layer("Dense", json!({ "units": 2, "name": "wide" })), &[a], rng).unwrap_err();
    assert_eq!(err.message, "a layer named 'wide' is already in the model");
    let err = g.add(layer("Flatten", json!({})), &[7], rng).unwrap_err();
    assert!(err.message.contains("input node 7 is not defined yet"), "{}", err.message);
    assert!(g.add(layer("Add", json!({})), &[a], rng).unwrap_err().message.contains("at least 2 inputs"));
    // Every refusal left the graph as it was.
    assert_eq!(g.nodes().len(), 2);
    let c = g.add(layer("Concatenate", json!({})), &[x, a], rng).unwrap();
    assert_eq!(g.nodes()[c].shape, [4, 4, 5]);
    // A node that leads nowhere.
    let err = g.set_outputs(&[a]).unwrap_err();
    assert!(err.message.contains("node 'concatenate' (Concatenate) does not lead to any output"), "{}", err.message);
    g.set_outputs(&[c]).unwrap();
    assert!(g.add(layer("Flatten", json!({})), &[c], rng).is_err());
}

#[test]
fn a_residual_network_passes_a_gradient_check_end_to_end() {
    // In inference mode, so BN is a fixed affine map and the finite differences are smooth;
    // the training-mode blocks are checked against PyTorch in the golden tests.
    let g = std::sync::Mutex::new(small_resnet());
    let x = normal(&[2, 6, 6, 2], 5, 1.0, 0.0);
    Check { eps: 1e-2, atol: 2e-3, rtol: 2e-2, max_probes: 30 }.run("resnet", &[x], |tape, v| {
        let mut g = g.lock().unwrap();
        g.forward(tape, v[0], false, false, &mut Rng::new(0)).map(|(y, _)| y)
    });
}

#[test]
fn a_residual_network_trains_and_folds() {
    let adam = Adam::new(1e-2, 0.9, 0.999, 1e-7).unwrap();
    let mut model =
        Model::new(small_resnet(), Loss::parse("categoricalCrossentropy").unwrap(), Box::new(adam), 1).unwrap();
    let x = normal(&[24, 6, 6, 2], 7, 1.0, 0.0);
    let labels: Vec<u32> =
        (0..24).map(|i| (x.data()[i * 72] > 0.0) as u32 + (x.data()[i * 72 + 1] > 0.0) as u32).collect();
    let y = crate::data::one_hot(&labels, 3).unwrap();
    let first = model.train_step(&x, &y, None).unwrap().loss;
    let mut last = first;
    for _ in 0..60 {
        last = model.train_step(&x, &y, None).unwrap().loss;
    }
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    assert_eq!(model.last_health().len(), 11, "every trainable node reports its norms");
    assert_eq!(model.last_profile().layers.len(), model.net.nodes().len());

    let before = model.predict(&x).unwrap();
    let mut folded = model.net.clone();
    let names = fold_batch_norm(&mut folded).unwrap();
    // Every BN follows a linear conv that feeds nothing else.
    assert_eq!(names.len(), 5);
    assert!(folded.layers().all(|l| l.kind() != "BatchNormalization"));
    let after = crate::model::predict(&mut folded, &x).unwrap();
    for (a, b) in after.data().iter().zip(before.data()) {
        assert!((a - b).abs() <= 2e-5 * b.abs().max(1e-2), "{a} vs {b}");
    }
    // The folded graph saves and loads as itself.
    let spec = folded.to_spec();
    let again = Graph::from_spec(&spec, &mut Rng::new(0)).unwrap();
    assert_eq!(again.to_spec(), spec);
}

#[test]
fn a_nan_names_the_node_where_it_first_appeared() {
    let mut model = Model::new(
        small_resnet(),
        Loss::parse("categoricalCrossentropy").unwrap(),
        Box::new(Adam::keras_defaults()),
        1,
    )
    .unwrap();
    let id = model.net.find("conv2d_2").unwrap();
    let kernel = &mut model.net.layers_mut().nth(id).unwrap().params_mut()[0].value;
    kernel.data_mut()[0] = f32::INFINITY;
    let x = normal(&[4, 6, 6, 2], 8, 1.0, 0.0);
    let y = crate::data::one_hot(&[0, 1, 2, 0], 3).unwrap();
    let err = model.train_step(&x, &y, None).unwrap_err();
    assert!(err.message.contains("first appeared in the output of node 'conv2d_2' (Conv2D)"), "{}", err.message);
}

#[test]
fn a_failed_step_takes_back_its_random_draws() {
    // Unseeded augmentation and dropout draw from the model's generator: after a refused step
    // (a NaN input), training goes on as if that step had never run.
    let graph = || {
        let rng = &mut Rng::new(5);
        let mut g = Graph::new();
        let x = g.add(layer("InputLayer", json!({ "shape": [4, 4, 1] })), &[], rng).unwrap();
        let h =
            g.add(layer("RandomTranslation", json!({ "heightFactor": 0.3, "widthFactor": 0.3 })), &[x], rng).unwrap();
        let h = g.add(layer("RandomFlip", json!({})), &[h], rng).unwrap();
        let h = g.add(layer("Flatten", json!({})), &[h], rng).unwrap();
        let h = g.add(layer("Dropout", json!({ "rate": 0.5 })), &[h], rng).unwrap();
        let out = g.add(layer("Dense", json!({ "units": 2, "activation": "softmax" })), &[h], rng).unwrap();
        g.set_outputs(&[out]).unwrap();
        g
    };
    let model = || {
        Model::new(graph(), Loss::parse("categoricalCrossentropy").unwrap(), Box::new(Adam::keras_defaults()), 1)
            .unwrap()
    };
    let x = normal(&[4, 4, 4, 1], 9, 1.0, 0.0);
    let y = crate::data::one_hot(&[0, 1, 1, 0], 2).unwrap();
    let (mut refused, mut straight) = (model(), model());
    let bad = x.map(|_| f32::NAN);
    assert!(refused.train_step(&bad, &y, None).is_err());
    for _ in 0..3 {
        refused.train_step(&x, &y, None).unwrap();
        straight.train_step(&x, &y, None).unwrap();
    }
    let values = |m: &Model| m.net.weights().iter().map(|p| p.value.clone()).collect::<Vec<_>>();
    assert_eq!(values(&refused), values(&straight));
}

#[test]
fn specs_round_trip_and_version_1_still_loads() {
    let g = small_resnet();
    let spec = g.to_spec();
    assert_eq!(spec["format"], "ballast-model");
    assert_eq!(spec["nodes"][1]["config"]["padding"], "same");
    let again = Graph::from_spec(&spec, &mut Rng::new(3)).unwrap();
    assert_eq!(again.to_spec(), spec);
    let shapes = |g: &Graph| g.weights().iter().map(|p| (p.name.clone(), p.value.shape().to_vec())).collect::<Vec<_>>();
    assert_eq!(shapes(&again), shapes(&g));

    let v1 = json!({ "format": "ballast-sequential", "version": 1, "seed": 1, "layers": [
        { "type": "input", "config": { "shape": [4, 4, 1] } },
        { "type": "maxPooling2d", "config": { "poolSize": [2, 2], "strides": [2, 2], "padding": "valid", "name": "pool" } },
        { "type": "flatten", "config": {} },
        { "type": "batchNormalization", "config": { "momentum": null, "renormClipping": { "rmax": null, "dmax": null } } },
        { "type": "dense", "config": { "units": 2, "activation": "softmax", "useBias": true,
          "kernelInitializer": "glorotUniform", "biasInitializer": "zeros" } }
    ]});
    let g1 = Graph::from_spec(&v1, &mut Rng::new(0)).unwrap();
    let kinds: Vec<&str> = g1.layers().map(|l| l.kind()).collect();
    assert_eq!(kinds, ["InputLayer", "MaxPooling2D", "Flatten", "BatchNormalization", "Dense"]);
    assert_eq!(g1.nodes()[1].layer.name(), "pool");
    assert_eq!(g1.nodes()[3].layer.config()["momentum"], Json::Null);

    let err = |spec: Json| Graph::from_spec(&spec, &mut Rng::new(0)).err().unwrap().message;
    let mut bad = spec.clone();
    bad["nodes"][2]["inputs"] = json!(["add_1"]);
    assert!(err(bad).contains("input 'add_1' is not a node defined before it"));
    let mut bad = spec.clone();
    bad["nodes"][1]["config"]["filters"] = json!("two");
    assert!(err(bad).contains("layer 'conv2d' (Conv2D): option 'filters' must be a non-negative integer, got \"two\""));
    assert!(err(json!({ "format": "keras" })).starts_with("not a Ballast model"));
}

#[test]
fn merge_layers_name_their_input_nodes_when_shapes_do_not_fit() {
    let rng = &mut Rng::new(0);
    let mut g = Graph::new();
    let x = g.add(layer("InputLayer", json!({ "shape": [4, 4, 2] })), &[], rng).unwrap();
    let a = g.add(layer("Conv2D", json!({ "filters": 3, "kernelSize": 1, "name": "wide" })), &[x], rng).unwrap();
    let b = g.add(layer("Conv2D", json!({ "filters": 2, "kernelSize": 1, "name": "narrow" })), &[x], rng).unwrap();
    for class in ["Multiply", "Subtract", "Maximum", "Average"] {
        let err = g.add(layer(class, json!({})), &[x, a], rng).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Shape);
        let name = registry::find(class).unwrap().default_name;
        assert_eq!(
            err.message,
            format!(
                "layer '{name}' ({class}): inputs must all have one shape, got [batch, 4, 4, 2], [batch, 4, 4, 3] \
                 (inputs: 'input_layer' [batch, 4, 4, 2], 'wide' [batch, 4, 4, 3])"
            )
        );
    }
    let err = g.add(layer("Subtract", json!({})), &[x, b, x], rng).unwrap_err();
    assert_eq!(err.kind, crate::ErrorKind::Argument);
    assert_eq!(
        err.message,
        "layer 'subtract' (Subtract): a Subtract layer needs exactly 2 inputs, got 3 \
         ([batch, 4, 4, 2], [batch, 4, 4, 2], [batch, 4, 4, 2])"
    );
    assert!(g.add(layer("Average", json!({})), &[x], rng).unwrap_err().message.contains("at least 2 inputs"));
    let err = g.add(layer("Cropping2D", json!({ "cropping": [[0, 0], [2, 2]], "name": "crop" })), &[x], rng);
    assert_eq!(
        err.unwrap_err().message,
        "layer 'crop' (Cropping2D): cropping 2 + 2 columns leaves nothing of a width of 4 (input [batch, 4, 4, 2])"
    );
    let err = g.add(layer("Reshape", json!({ "targetShape": [5, 7] })), &[a], rng).unwrap_err();
    assert!(
        err.message
            .starts_with("layer 'reshape' (Reshape): cannot reshape input [batch, 4, 4, 3] (48 values per example)"),
        "{}",
        err.message
    );
    assert_eq!(g.nodes().len(), 3, "every refusal left the graph as it was");
    let s = g.add(layer("Subtract", json!({})), &[x, b], rng).unwrap();
    assert_eq!(g.nodes()[s].shape, [4, 4, 2]);
}

/// Input 6×6×2 → a U-Net-like graph: padding, cropping, upsampling back, the merges, a
/// reshape and a permute, spatial dropout, then a softmax over 3 classes.
fn shape_layers_graph(rng: &mut Rng) -> Graph {
    let mut g = Graph::new();
    let x = g.add(layer("InputLayer", json!({ "shape": [6, 6, 2] })), &[], rng).unwrap();
    let conv = |filters: usize| layer("Conv2D", json!({ "filters": filters, "kernelSize": 3, "activation": "relu" }));
    let p = g.add(layer("ZeroPadding2D", json!({})), &[x], rng).unwrap(); // 8x8x2
    let c = g.add(conv(4), &[p], rng).unwrap(); // 6x6x4
    let d = g.add(layer("SpatialDropout2D", json!({ "rate": 0.25 })), &[c], rng).unwrap();
    let pooled = g.add(layer("MaxPooling2D", json!({})), &[d], rng).unwrap(); // 3x3x4
    let up = g.add(layer("UpSampling2D", json!({ "interpolation": "bilinear" })), &[pooled], rng).unwrap(); // 6x6x4
    let near = g.add(layer("UpSampling2D", json!({})), &[pooled], rng).unwrap();
    let wide = g.add(layer("ZeroPadding2D", json!({ "padding": [[1, 0], [0, 1]] })), &[c], rng).unwrap(); // 7x7x4
    let cropped = g.add(layer("Cropping2D", json!({ "cropping": [[1, 0], [0, 1]] })), &[wide], rng).unwrap();
    let m = g.add(layer("Multiply", json!({})), &[up, cropped], rng).unwrap();
    let s = g.add(layer("Subtract", json!({})), &[near, c], rng).unwrap();
    let mx = g.add(layer("Maximum", json!({})), &[m, s, c], rng).unwrap();
    let avg = g.add(layer("Average", json!({})), &[mx, up], rng).unwrap();
    let r = g.add(layer("Reshape", json!({ "targetShape": [36, -1] })), &[avg], rng).unwrap(); // 36x4
    let t = g.add(layer("Permute", json!({ "dims": [2, 1] })), &[r], rng).unwrap(); // 4x36
    let f = g.add(layer("Flatten", json!({})), &[t], rng).unwrap();
    let out = g.add(layer("Dense", json!({ "units": 3, "activation": "softmax" })), &[f], rng).unwrap();
    g.set_outputs(&[out]).unwrap();
    g
}

#[test]
fn a_graph_of_shape_and_merge_layers_trains_and_round_trips() {
    let mut model = Model::new(
        shape_layers_graph(&mut Rng::new(4)),
        Loss::parse("categoricalCrossentropy").unwrap(),
        Box::new(Adam::new(1e-2, 0.9, 0.999, 1e-7).unwrap()),
        1,
    )
    .unwrap();
    let x = normal(&[24, 6, 6, 2], 9, 1.0, 0.0);
    let labels: Vec<u32> = (0..24).map(|i| (x.data()[i * 72 + 14] > 0.0) as u32 * 2).collect();
    let y = crate::data::one_hot(&labels, 3).unwrap();
    let first = model.train_step(&x, &y, None).unwrap().loss;
    let mut last = first;
    for _ in 0..60 {
        last = model.train_step(&x, &y, None).unwrap().loss;
    }
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let spec = model.net.to_spec();
    let mut again = Graph::from_spec(&spec, &mut Rng::new(0)).unwrap();
    assert_eq!(again.to_spec(), spec);
    for (w, v) in again.weights_mut().into_iter().zip(model.net.weights()) {
        w.value = v.value.clone();
    }
    assert_eq!(crate::model::predict(&mut again, &x).unwrap(), model.predict(&x).unwrap());
}

#[test]
fn an_embedding_model_learns_which_classes_go_together() {
    // Sequences of 4 class indices out of 10; the label is whether index 7 appears.
    let rng = &mut Rng::new(5);
    let mut g = Graph::new();
    let x = g.add(layer("InputLayer", json!({ "shape": [4] })), &[], rng).unwrap();
    let e = g.add(layer("Embedding", json!({ "inputDim": 10, "outputDim": 3 })), &[x], rng).unwrap();
    let f = g.add(layer("Flatten", json!({})), &[e], rng).unwrap();
    let out = g.add(layer("Dense", json!({ "units": 2, "activation": "softmax" })), &[f], rng).unwrap();
    g.set_outputs(&[out]).unwrap();
    let mut model = Model::new(
        g,
        Loss::parse("categoricalCrossentropy").unwrap(),
        Box::new(Adam::new(5e-2, 0.9, 0.999, 1e-7).unwrap()),
        1,
    )
    .unwrap();
    let mut r = Rng::new(6);
    let ids: Vec<f32> = (0..32 * 4).map(|_| r.below(10) as f32).collect();
    let labels: Vec<u32> = ids.chunks(4).map(|s| s.contains(&7.0) as u32).collect();
    let (xs, ys) = (Tensor::new(ids, &[32, 4]).unwrap(), crate::data::one_hot(&labels, 2).unwrap());
    let first = model.train_step(&xs, &ys, None).unwrap().loss;
    let mut last = first;
    for _ in 0..80 {
        last = model.train_step(&xs, &ys, None).unwrap().loss;
    }
    assert!(last < 0.3 * first, "loss {first} -> {last}");
    // An index out of range fails the step, naming the layer and the value, and changes nothing.
    let before: Vec<Tensor> = model.net.weights().iter().map(|p| p.value.clone()).collect();
    let mut bad = xs.clone();
    bad.data_mut()[5] = 10.0;
    let err = model.train_step(&bad, &ys, None).unwrap_err();
    assert_eq!(err.kind, crate::ErrorKind::Argument);
    assert!(
        err.message.contains("layer 'embedding' (Embedding): input value 10 at [1, 1] of the batch is out of range"),
        "{}",
        err.message
    );
    let after: Vec<Tensor> = model.net.weights().iter().map(|p| p.value.clone()).collect();
    assert_eq!(before, after);
}

#[test]
fn compact_storage_trains_bitwise_as_float_tensors() {
    use crate::data::{batch_order, Bytes, Classes, Scaling, Source};
    let make = || {
        let adam = Adam::new(1e-2, 0.9, 0.999, 1e-7).unwrap();
        Model::new(small_resnet(), Loss::parse("categoricalCrossentropy").unwrap(), Box::new(adam), 1).unwrap()
    };
    let mut rng = Rng::new(17);
    let n = 20;
    let bytes: Vec<u8> = (0..n * 72).map(|_| rng.next_u32() as u8).collect();
    let labels: Vec<u32> = (0..n as u32).map(|i| (bytes[i as usize * 72] as u32 + i) % 3).collect();
    // The earlier loader: floats divided by 255 at load time, one-hot rows for all examples.
    let floats = Tensor::new(bytes.iter().map(|&b| b as f32 / 255.0).collect(), &[n, 6, 6, 2]).unwrap();
    let (old_x, old_y) = (Source::F32(floats), Source::F32(crate::data::one_hot(&labels, 3).unwrap()));
    let new_x = Source::U8(Bytes::new(bytes, &[n, 6, 6, 2], Scaling::unit()).unwrap());
    let new_y = Source::Classes(Classes::new(labels, 3).unwrap());
    let (mut a, mut b) = (make(), make());
    for epoch in 0..2 {
        let order = batch_order(n, true, 5, epoch);
        for rows in order.chunks(8) {
            let sa = a.train_rows(&old_x, &old_y, rows, None).unwrap();
            let sb = b.train_rows(&new_x, &new_y, rows, None).unwrap();
            assert_eq!(sa.loss.to_bits(), sb.loss.to_bits());
        }
    }
    let weights =
        |m: &Model| m.net.weights().iter().flat_map(|p| p.value.data().to_vec()).map(f32::to_bits).collect::<Vec<_>>();
    assert_eq!(weights(&a), weights(&b));
    let rows: Vec<u32> = (0..n as u32).rev().collect();
    assert_eq!(a.test_rows(&old_x, &old_y, &rows, None).unwrap(), b.test_rows(&new_x, &new_y, &rows, None).unwrap());
    let (pa, pb) = (predict_rows(&mut a.net, &old_x, &rows).unwrap(), predict_rows(&mut b.net, &new_x, &rows).unwrap());
    assert_eq!(pa, pb);
    assert_eq!(predict_rows(&mut b.net, &new_x, &[]).unwrap(), predict_rows(&mut a.net, &old_x, &[]).unwrap());
    assert_eq!(a.recalibrate_rows(&old_x, &rows, 4).unwrap(), b.recalibrate_rows(&new_x, &rows, 4).unwrap());
    assert_eq!(weights(&a), weights(&b));
    // Bad rows are refused before any step runs or any statistic changes.
    let e = b.recalibrate_rows(&new_x, &[0, 1, 2, 99], 2).unwrap_err();
    assert!(e.message.contains("batch row 99 (position 3)"), "{e}");
    assert_eq!(weights(&a), weights(&b));
    let e = b.train_rows(&new_x, &new_y, &[0, 20], None).unwrap_err();
    assert!(e.message.contains("batch row 20 (position 1) is out of range for 20 examples"), "{e}");
    assert_eq!(weights(&a), weights(&b));
}
