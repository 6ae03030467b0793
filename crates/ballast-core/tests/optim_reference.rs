//! The optimizers and learning-rate schedules against Keras 3's published rules: reference
//! values made in float64 by `tests/optim_reference.py` (which regenerates
//! `optim_reference.json`, and with `--keras` checks itself against real Keras). The core
//! runs in f32; every value must agree within 1e-5 relative (the reference keeps every
//! parameter away from 0, so relative error is meaningful).

use ballast_core::nn::Param;
use ballast_core::optim::{create, Schedule};
use ballast_core::Tensor;
use serde_json::{Map, Value};

const RTOL: f64 = 1e-5;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/optim_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("optim_reference.json")).expect("valid JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("a list").iter().map(|x| x.as_f64().expect("a number")).collect()
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= RTOL * want.abs() || (want == 0.0 && got.abs() < 1e-12),
        "{what}: got {got}, want {want} (relative error {:.2e})",
        ((got - want) / want).abs()
    );
}

/// Parameters named as in the reference, flat.
fn params(v: &Map<String, Value>) -> Vec<Param> {
    v.iter()
        .map(|(name, values)| {
            let data: Vec<f32> = floats(values).iter().map(|&x| x as f32).collect();
            let n = data.len();
            Param { name: name.clone(), value: Tensor::new(data, &[n]).unwrap() }
        })
        .collect()
}

#[test]
fn optimizers_follow_keras_step_by_step() {
    let all = reference();
    let cases = all["optimizers"].as_object().unwrap();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for (name, case) in cases {
        let class = case["className"].as_str().unwrap();
        let mut opt = create(class, &case["config"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut ps = params(case["params"].as_object().unwrap());
        let steps = case["grads"].as_array().unwrap();
        for (step, grads) in steps.iter().enumerate() {
            let want_lr = case["learningRates"][step].as_f64().unwrap();
            close(&format!("{name} step {step} learning rate"), opt.learning_rate(), want_lr);
            let grads: Vec<Tensor> = params(grads.as_object().unwrap()).into_iter().map(|p| p.value).collect();
            let mut refs: Vec<&mut Param> = ps.iter_mut().collect();
            opt.step(&mut refs, &grads).unwrap_or_else(|e| panic!("{name} step {step}: {e}"));
            for p in &ps {
                let want = floats(&case["expected"][step][&p.name]);
                for (i, (&got, &want)) in p.value.data().iter().zip(&want).enumerate() {
                    close(&format!("{name} step {step} {}[{i}]", p.name), got as f64, want);
                }
                if let Some(ema) = case.get("ema") {
                    let want = floats(&ema[step][&p.name]);
                    let got = opt.ema_weights(&p.name).unwrap_or_else(|| panic!("{name}: no average of {}", p.name));
                    for (i, (&got, &want)) in got.iter().zip(&want).enumerate() {
                        close(&format!("{name} step {step} average of {}[{i}]", p.name), got as f64, want);
                    }
                }
            }
        }
        assert_eq!(opt.iterations(), steps.len() as u64, "{name}");
        // Keras's end of fit: with useEma the weights become their averages.
        let mut refs: Vec<&mut Param> = ps.iter_mut().collect();
        opt.finalize_variable_values(&mut refs).unwrap();
        let last = if case.get("ema").is_some() { &case["ema"] } else { &case["expected"] };
        for p in &ps {
            let want = floats(&last[steps.len() - 1][&p.name]);
            for (&got, &want) in p.value.data().iter().zip(&want) {
                close(&format!("{name} finalized {}", p.name), got as f64, want);
            }
        }
    }
}

#[test]
fn schedules_follow_keras() {
    let all = reference();
    let cases = all["schedules"].as_object().unwrap();
    assert!(cases.len() >= 8);
    for (name, case) in cases {
        let schedule = Schedule::from_json(&case["schedule"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rates = floats(&case["rates"]);
        for (step, want) in case["steps"].as_array().unwrap().iter().zip(rates) {
            let step = step.as_u64().unwrap();
            close(&format!("{name} at step {step}"), schedule.at(step), want);
        }
    }
}
