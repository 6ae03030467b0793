//! The ops of residual networks against PyTorch: average pooling, global average pooling,
//! concatenation and addition, then whole ResNet blocks composed from the core's ops. Golden
//! values in tests/golden/golden_graph.json, made by tests/golden/make_golden.py (see
//! tests/golden/README.md for the conventions and the command that regenerates them).

use std::collections::HashMap;

use ballast_core::autograd::{Tape, Var};
use ballast_core::kernels::conv::Padding;
use ballast_core::ops::norm::BatchStats;
use ballast_core::ops::{self, conv, merge, norm, pool};
use ballast_core::Tensor;

mod common;

use common::{assert_close, load, run, Case, RTOL};

fn usize_of(c: &Case, key: &str) -> usize {
    c.config[key].as_u64().unwrap_or_else(|| panic!("config '{key}' missing")) as usize
}

#[test]
fn average_pooling_matches_pytorch() {
    let cases = load("golden_graph.json");
    for name in ["avg_pool2d_2x2_valid", "avg_pool2d_3x3_s2_same", "avg_pool2d_2x2_s1_same"] {
        let c = &cases[name];
        let (p, s) = (usize_of(c, "pool_size"), usize_of(c, "strides"));
        let padding = Padding::parse(c.config["padding"].as_str().unwrap()).unwrap();
        let (y, g) = run(c, &["x"], |t, v| pool::avg_pool2d(t, v[0], (p, p), (s, s), padding).unwrap());
        assert_close(&format!("{name} y"), &y, &c.t("y"), RTOL);
        assert_close(&format!("{name} dx"), &g[0], &c.t("dx"), RTOL);
    }
    let c = &cases["global_avg_pool2d"];
    let (y, g) = run(c, &["x"], |t, v| pool::global_avg_pool2d(t, v[0]).unwrap());
    assert_close("global_avg_pool2d y", &y, &c.t("y"), RTOL);
    assert_close("global_avg_pool2d dx", &g[0], &c.t("dx"), RTOL);
}

#[test]
fn concatenate_and_add_match_pytorch() {
    let cases = load("golden_graph.json");
    let c = &cases["concatenate_channels"];
    // Keras counts the axis from the end; the op takes it resolved.
    let axis = (c.t("a").rank() as i64 + c.config["axis"].as_i64().unwrap()) as usize;
    let (y, g) = run(c, &["a", "b", "c"], |t, v| merge::concatenate(t, v, axis).unwrap());
    assert_close("concatenate y", &y, &c.t("y"), RTOL);
    for (i, n) in ["da", "db", "dc"].iter().enumerate() {
        assert_close(&format!("concatenate {n}"), &g[i], &c.t(n), RTOL);
    }
    let c = &cases["add_3"];
    let (y, g) = run(c, &["a", "b", "c"], |t, v| merge::add_n(t, v).unwrap());
    assert_close("add y", &y, &c.t("y"), RTOL);
    for (i, n) in ["da", "db", "dc"].iter().enumerate() {
        assert_close(&format!("add {n}"), &g[i], &c.t(n), RTOL);
    }
}

/// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut)` in training mode, convolutions 3×3
/// "same" without bias; the shortcut is `x` itself, or `shortcut_bn(1×1 conv, stride 2)` for
/// the projection block (whose conv1 has stride 2). Also returns each BN's batch statistics.
fn residual_block(
    t: &mut Tape,
    x: Var,
    p: &HashMap<String, Var>,
    projection: bool,
    eps: f32,
) -> (Var, Vec<(&'static str, BatchStats)>) {
    let mut stats = Vec::new();
    let mut bn = |t: &mut Tape, name: &'static str, h: Var| {
        let (gamma, beta) = (p[&format!("{name}/gamma")], p[&format!("{name}/beta")]);
        let (y, s) = norm::batch_norm_train(t, h, Some(gamma), Some(beta), 3, eps).unwrap();
        stats.push((name, s));
        y
    };
    let s = if projection { 2 } else { 1 };
    let h = conv::conv2d(t, x, p["conv1/kernel"], None, (s, s), Padding::Same).unwrap();
    let h = bn(t, "bn1", h);
    let h = ops::relu(t, h);
    let h = conv::conv2d(t, h, p["conv2/kernel"], None, (1, 1), Padding::Same).unwrap();
    let main = bn(t, "bn2", h);
    let shortcut = if projection {
        let h = conv::conv2d(t, x, p["shortcut/kernel"], None, (2, 2), Padding::Valid).unwrap();
        bn(t, "shortcut_bn", h)
    } else {
        x
    };
    let sum = merge::add_n(t, &[main, shortcut]).unwrap();
    (ops::relu(t, sum), stats)
}

#[test]
fn residual_blocks_forward_and_backward_match_pytorch() {
    let cases = load("golden_graph.json");
    for (name, projection) in
        [("residual_identity", false), ("residual_projection", true), ("residual_identity_winograd", false)]
    {
        let c = &cases[name];
        assert_eq!(c.config["block"].as_str().unwrap(), if projection { "projection" } else { "identity" });
        let eps = c.f("bn_epsilon") as f32;
        let mut names: Vec<String> = ["conv1/kernel", "conv2/kernel", "bn1/gamma", "bn1/beta", "bn2/gamma", "bn2/beta"]
            .map(String::from)
            .to_vec();
        if projection {
            names.extend(["shortcut/kernel", "shortcut_bn/gamma", "shortcut_bn/beta"].map(String::from));
        }
        let mut tape = Tape::new();
        let x = tape.leaf(c.t("x"), true);
        let p: HashMap<String, Var> = names.iter().map(|n| (n.clone(), tape.leaf(c.t(n), true))).collect();
        let (y, stats) = residual_block(&mut tape, x, &p, projection, eps);
        tape.backward_with(y, c.t("dy")).unwrap();

        assert_close(&format!("{name} y"), tape.value(y), &c.t("y"), RTOL);
        assert_close(&format!("{name} dx"), tape.grad(x).unwrap(), &c.t("dx"), RTOL);
        for n in &names {
            let want = c.t(&format!("grad/{n}"));
            assert_close(&format!("{name} grad/{n}"), tape.grad(p[n]).unwrap(), &want, RTOL);
        }
        assert_eq!(stats.len(), if projection { 3 } else { 2 });
        for (bn, s) in stats {
            let ch = s.mean.len();
            let mean = Tensor::new(s.mean, &[ch]).unwrap();
            assert_close(&format!("{name} {bn}/batch_mean"), &mean, &c.t(&format!("{bn}/batch_mean")), RTOL);
            let var = Tensor::new(s.variance, &[ch]).unwrap();
            assert_close(&format!("{name} {bn}/batch_var"), &var, &c.t(&format!("{bn}/batch_var")), RTOL);
        }
    }
}
