//! The losses and metrics against Keras itself (keras_training.json, made by
//! make_keras_training.py): each loss's value and gradient, and each metric after one batch
//! and after two (Keras' epoch aggregation).

mod common;

use ballast_core::autograd::Tape;
use ballast_core::losses::Loss;
use ballast_core::metrics::Metric;
use common::load;
use serde_json::Value;

fn spec(config: &Value) -> Value {
    serde_json::from_str(config["spec"].as_str().unwrap()).unwrap()
}

fn assert_near(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{what}[{i}]: Ballast {g}, Keras {w}");
    }
}

#[test]
fn losses_match_keras_values_and_gradients() {
    let cases = load("keras_training.json");
    let mut seen = 0;
    for (name, c) in cases.iter().filter(|(n, _)| n.starts_with("loss_")) {
        let loss = Loss::from_json(&spec(&c.config)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let weights = c.has("weights").then(|| c.t("weights").data().to_vec());
        let mut tape = Tape::new();
        let pred = tape.leaf(c.t("pred"), true);
        let (l, _) = loss.compute(&mut tape, pred, &c.t("target"), weights.as_deref(), false).unwrap();
        assert_near(&format!("{name} loss"), tape.value(l).data(), c.t("loss").data(), 1e-5);
        tape.backward(l).unwrap();
        assert_near(&format!("{name} gradient"), tape.grad(pred).unwrap().data(), c.t("grad").data(), 1e-5);
        seen += 1;
    }
    assert_eq!(seen, 13);
}

#[test]
fn metrics_match_keras_per_batch_and_per_epoch() {
    let cases = load("keras_training.json");
    let mut seen = 0;
    for (name, c) in cases.iter().filter(|(n, _)| n.starts_with("metric_")) {
        let loss = Loss::parse(c.config["loss"].as_str().unwrap()).unwrap();
        let outputs = *c.t("pred1").shape().last().unwrap();
        let mut m = Metric::from_json(&spec(&c.config), &loss, &[outputs]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let first = m.update(&c.t("pred1"), &c.t("target1")).unwrap();
        assert_near(&format!("{name} after one batch"), &[first], c.t("first").data(), 1e-6);
        m.update(&c.t("pred2"), &c.t("target2")).unwrap();
        assert_near(&format!("{name} after two"), &[m.result()], c.t("both").data(), 1e-6);
        seen += 1;
    }
    assert_eq!(seen, 11);
}
