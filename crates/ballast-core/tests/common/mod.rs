//! Reading the golden files of tests/golden (made by make_golden.py; README.md there gives
//! the format and conventions), shared by the golden test binaries.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;

use ballast_core::autograd::{Tape, Var};
use ballast_core::Tensor;
use base64::Engine;
use serde_json::Value;

pub struct Case {
    pub config: Value,
    pub tensors: HashMap<String, Tensor>,
}

impl Case {
    pub fn t(&self, name: &str) -> Tensor {
        self.tensors.get(name).unwrap_or_else(|| panic!("golden tensor '{name}' missing")).clone()
    }
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
    pub fn f(&self, key: &str) -> f64 {
        self.config[key].as_f64().unwrap_or_else(|| panic!("config '{key}' missing"))
    }
    pub fn b(&self, key: &str) -> bool {
        self.config[key].as_bool().unwrap()
    }
}

/// The cases of one golden file in tests/golden.
pub fn load(file: &str) -> HashMap<String, Case> {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file")).unwrap();
    let decode = |t: &Value| {
        let shape: Vec<usize> = t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        let bytes = base64::engine::general_purpose::STANDARD.decode(t["b64"].as_str().unwrap()).unwrap();
        let data = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Tensor::new(data, &shape).unwrap()
    };
    let cases = json.as_object().unwrap().iter().map(|(name, case)| {
        let tensors = case["tensors"].as_object().unwrap().iter().map(|(n, t)| (n.clone(), decode(t))).collect();
        (name.clone(), Case { config: case["config"].clone(), tensors })
    });
    cases.collect()
}

/// Agreement within `rtol` of the largest magnitude of the expected tensor (see README).
#[track_caller]
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let scale = want.data().iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    for (i, (g, w)) in got.data().iter().zip(want.data()).enumerate() {
        assert!((g - w).abs() <= rtol * scale, "{what}[{i}]: got {g}, PyTorch {w} (scale {scale})");
    }
}

pub const RTOL: f32 = 2e-5;

/// Leaves for the case's tensors `inputs`, `f` on them, the case's `dy` back-propagated:
/// the output and the gradient of each leaf.
pub fn run(case: &Case, inputs: &[&str], f: impl FnOnce(&mut Tape, &[Var]) -> Var) -> (Tensor, Vec<Tensor>) {
    let mut tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|n| tape.leaf(case.t(n), true)).collect();
    let y = f(&mut tape, &vars);
    tape.backward_with(y, case.t("dy")).unwrap();
    let grads = vars.iter().map(|&v| tape.grad(v).cloned().unwrap()).collect();
    (tape.value(y).clone(), grads)
}
