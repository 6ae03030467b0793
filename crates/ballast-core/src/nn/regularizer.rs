//! Weight regularizers (Keras' `kernel_regularizer`, `bias_regularizer`, ...): a penalty
//! `l1·Σ|w| + l2·Σw²` added to the loss for each regularized trainable weight, in training
//! and in evaluation, as Keras adds `model.losses`.

use super::config::{ConfigValue, Json};
use crate::autograd::{Tape, Var};
use crate::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RegularizerKind {
    L1,
    L2,
    L1L2,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regularizer {
    pub kind: RegularizerKind,
    pub l1: f32,
    pub l2: f32,
}

impl Regularizer {
    /// The penalty of `w` on the tape, a scalar whose gradient is `l1·sign(w) + 2·l2·w`.
    pub fn penalty(&self, tape: &mut Tape, w: Var) -> Var {
        let (l1, l2) = (self.l1, self.l2);
        let value: f64 = tape.value(w).data().iter().map(|&v| (l1 * v.abs() + l2 * v * v) as f64).sum();
        tape.push(
            Tensor::scalar(value as f32),
            &[w],
            Box::new(move |g, inputs, _| {
                let g = g.data()[0];
                let sign = |v: f32| {
                    if v > 0.0 {
                        1.0
                    } else if v < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                };
                vec![Some(inputs[0].map(|v| g * (l1 * sign(v) + 2.0 * l2 * v)))]
            }),
        )
    }
}

/// Keras' names: `'l1'`, `'l2'` (0.01) and `'l1l2'`/`'l1_l2'` (0.01 each), or
/// `{ className: 'L1' | 'L2' | 'L1L2', config: { l1, l2 } }` (Keras' defaults: 0.01 for L1
/// and L2, 0 for L1L2's factors). Factors must be finite and non-negative.
impl ConfigValue for Regularizer {
    const EXPECTED: &'static str =
        "'l1', 'l2', 'l1l2' or { className: 'L1' | 'L2' | 'L1L2', config: { l1, l2 } } with non-negative factors";
    fn read(v: &Json) -> Option<Self> {
        use RegularizerKind::*;
        let r = match v {
            Json::String(s) => match s.as_str() {
                "l1" => Regularizer { kind: L1, l1: 0.01, l2: 0.0 },
                "l2" => Regularizer { kind: L2, l1: 0.0, l2: 0.01 },
                "l1l2" | "l1_l2" => Regularizer { kind: L1L2, l1: 0.01, l2: 0.01 },
                _ => return None,
            },
            Json::Object(o) => {
                let config = match o.get("config") {
                    None => serde_json::Map::new(),
                    Some(Json::Object(c)) => c.clone(),
                    Some(_) => return None,
                };
                if o.keys().any(|k| k != "className" && k != "config") {
                    return None;
                }
                let factor = |key: &str, default: f32| -> Option<f32> {
                    match config.get(key) {
                        None => Some(default),
                        Some(v) => v.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as f32),
                    }
                };
                let (kind, keys, l1, l2): (_, &[&str], _, _) = match o.get("className")?.as_str()? {
                    "L1" => (L1, &["l1"], factor("l1", 0.01)?, 0.0),
                    "L2" => (L2, &["l2"], 0.0, factor("l2", 0.01)?),
                    "L1L2" => (L1L2, &["l1", "l2"], factor("l1", 0.0)?, factor("l2", 0.0)?),
                    _ => return None,
                };
                if config.keys().any(|k| !keys.contains(&k.as_str())) {
                    return None;
                }
                Regularizer { kind, l1, l2 }
            }
            _ => return None,
        };
        Some(r)
    }
    fn write(&self) -> Json {
        let f = |v: f32| v.write();
        let (class, config) = match self.kind {
            RegularizerKind::L1 => ("L1", serde_json::json!({ "l1": f(self.l1) })),
            RegularizerKind::L2 => ("L2", serde_json::json!({ "l2": f(self.l2) })),
            RegularizerKind::L1L2 => ("L1L2", serde_json::json!({ "l1": f(self.l1), "l2": f(self.l2) })),
        };
        serde_json::json!({ "className": class, "config": config })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;
    use serde_json::json;

    #[test]
    fn names_objects_and_round_trip() {
        let l2 = Regularizer::read(&json!("l2")).unwrap();
        assert_eq!((l2.l1, l2.l2), (0.0, 0.01));
        assert_eq!(l2.write(), json!({ "className": "L2", "config": { "l2": 0.01 } }));
        let both = Regularizer::read(&json!({ "className": "L1L2", "config": { "l1": 0.001 } })).unwrap();
        assert_eq!((both.l1, both.l2), (0.001, 0.0));
        assert_eq!(Regularizer::read(&both.write()), Some(both));
        for bad in [
            json!("l3"),
            json!({ "className": "L2", "config": { "l1": 1 } }),
            json!({ "className": "L1", "config": { "l1": -1 } }),
            json!(3),
        ] {
            assert_eq!(Regularizer::read(&bad), None, "{bad}");
        }
    }

    #[test]
    fn penalty_value_and_gradient() {
        let r = Regularizer { kind: RegularizerKind::L1L2, l1: 0.3, l2: 0.2 };
        let w = Tensor::new(vec![1.0, -2.0, 0.5], &[3]).unwrap();
        let mut t = Tape::new();
        let v = t.leaf(w.clone(), false);
        let p = r.penalty(&mut t, v);
        // 0.3·3.5 + 0.2·5.25
        assert!((t.value(p).data()[0] - (1.05 + 1.05)).abs() < 1e-6);
        Check::default().run("l1l2", &[w], |t, v| Ok(r.penalty(t, v[0])));
    }
}
