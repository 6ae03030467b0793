//! A tape for custom training loops: JavaScript records ops on variables by id, then asks for
//! gradients. Each op name maps to one core op; the maths stays in `ballast-core`.

use ballast_core::autograd::{Tape as CoreTape, Var};
use ballast_core::kernels::conv::Padding;
use ballast_core::ops::{self, conv, loss, norm};
use ballast_core::Error;
use wasm_bindgen::prelude::*;

use crate::errors::{to_js, IntoJs};
use crate::tensor::Tensor;

#[wasm_bindgen]
pub struct Tape {
    inner: CoreTape,
    vars: Vec<Var>,
}

fn pair(v: &[f32], at: usize, what: &str) -> Result<(usize, usize), JsValue> {
    match v.get(at..at + 2) {
        Some(&[a, b]) if a >= 1.0 && b >= 1.0 && a.fract() == 0.0 && b.fract() == 0.0 => Ok((a as usize, b as usize)),
        _ => Err(to_js(Error::argument(format!("{what} must be two positive integers")))),
    }
}

fn padding(v: &[f32], at: usize) -> Padding {
    if v.get(at).copied().unwrap_or(0.0) == 1.0 {
        Padding::Same
    } else {
        Padding::Valid
    }
}

#[wasm_bindgen]
impl Tape {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Tape {
        Tape { inner: CoreTape::new(), vars: Vec::new() }
    }

    fn push(&mut self, v: Var) -> u32 {
        self.vars.push(v);
        (self.vars.len() - 1) as u32
    }

    fn var(&self, id: u32) -> Result<Var, JsValue> {
        self.vars.get(id as usize).copied().ok_or_else(|| to_js(Error::state(format!("no variable {id} on this tape"))))
    }

    /// A leaf that gets a gradient.
    pub fn variable(&mut self, t: &Tensor) -> Result<u32, JsValue> {
        let v = self.inner.leaf(t.f32()?.into_owned(), true);
        Ok(self.push(v))
    }

    /// A leaf without a gradient (inputs, labels).
    pub fn constant(&mut self, t: &Tensor) -> Result<u32, JsValue> {
        let v = self.inner.constant(t.f32()?.into_owned());
        Ok(self.push(v))
    }

    /// Records op `name` on `inputs` with numeric `params`; returns the output's id.
    pub fn op(&mut self, name: &str, inputs: &[u32], params: &[f32]) -> Result<u32, JsValue> {
        let v: Vec<Var> = inputs.iter().map(|&i| self.var(i)).collect::<Result<_, _>>()?;
        let arity = |n: usize| -> Result<(), JsValue> {
            if v.len() == n {
                Ok(())
            } else {
                Err(to_js(Error::argument(format!("op '{name}' takes {n} input(s), got {}", v.len()))))
            }
        };
        // Axes and dimensions are whole numbers: a fraction, NaN or a negative number is refused
        // here (a cast would read -1 as 0 and 1.5 as 1); axes of sum and mean may count from
        // the end.
        let whole = |what: &str| -> Result<Vec<isize>, JsValue> {
            params
                .iter()
                .map(|&a| {
                    if a.is_finite() && a.fract() == 0.0 && a.abs() < 2_147_483_648.0 {
                        Ok(a as isize)
                    } else {
                        Err(to_js(Error::argument(format!("{name}: {what} {a} is not a whole number"))))
                    }
                })
                .collect()
        };
        let rank_of = |t: &CoreTape, v: Var| t.value(v).rank() as isize;
        let t = &mut self.inner;
        let axes: Vec<usize> = match name {
            "sum" | "mean" => {
                let rank = rank_of(t, v[0]);
                whole("axis")?
                    .into_iter()
                    .map(|a| {
                        let r = if a < 0 { rank + a } else { a };
                        if (0..rank).contains(&r) {
                            Ok(r as usize)
                        } else {
                            Err(to_js(Error::argument(format!(
                                "{name}: axis {a} is out of range for a tensor of rank {rank}"
                            ))))
                        }
                    })
                    .collect::<Result<_, _>>()?
            }
            "reshape" | "transpose" => whole(if name == "reshape" { "dimension" } else { "axis" })?
                .into_iter()
                .map(|a| usize::try_from(a).map_err(|_| to_js(Error::argument(format!("{name}: {a} is negative")))))
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        let out = match name {
            "add" | "sub" | "mul" | "div" | "matmul" => {
                arity(2)?;
                match name {
                    "add" => ops::add(t, v[0], v[1]),
                    "sub" => ops::sub(t, v[0], v[1]),
                    "mul" => ops::mul(t, v[0], v[1]),
                    "div" => ops::div(t, v[0], v[1]),
                    _ => ops::matmul(t, v[0], v[1]),
                }
                .js()?
            }
            "relu" | "sigmoid" | "tanh" => {
                arity(1)?;
                match name {
                    "relu" => ops::relu(t, v[0]),
                    "sigmoid" => ops::sigmoid(t, v[0]),
                    _ => ops::tanh(t, v[0]),
                }
            }
            // params: the activation's option (slope, alpha, approximate 0/1), when it has one
            "leakyRelu" | "elu" | "selu" | "gelu" | "silu" | "softplus" | "softsign" | "hardSigmoid" | "relu6"
            | "mish" => {
                arity(1)?;
                let p = params.first().copied();
                match name {
                    "leakyRelu" => ops::leaky_relu(t, v[0], p.unwrap_or(ballast_core::nn::LEAKY_RELU_SLOPE)),
                    "elu" => ops::elu(t, v[0], p.unwrap_or(1.0)),
                    "selu" => ops::selu(t, v[0]),
                    "gelu" => ops::gelu(t, v[0], p.unwrap_or(0.0) != 0.0),
                    "silu" => ops::silu(t, v[0]),
                    "softplus" => ops::softplus(t, v[0]),
                    "softsign" => ops::softsign(t, v[0]),
                    "hardSigmoid" => ops::hard_sigmoid(t, v[0]),
                    "relu6" => ops::relu6(t, v[0]),
                    _ => ops::mish(t, v[0]),
                }
            }
            // inputs: x, alpha (broadcasting to x)
            "prelu" => (arity(2)?, ops::prelu(t, v[0], v[1]).js()?).1,
            "scale" => {
                arity(1)?;
                ops::scale(t, v[0], params.first().copied().unwrap_or(1.0))
            }
            // params: the axis (negative counts from the end), the last when none
            "softmax" => {
                arity(1)?;
                let rank = t.value(v[0]).rank() as isize;
                let axis = params.first().map_or(-1, |&a| a as isize);
                let resolved = if axis < 0 { rank + axis } else { axis };
                if params.first().is_some_and(|a| a.fract() != 0.0) || resolved < 0 || resolved >= rank {
                    let e = format!("softmax: axis {axis} is out of range for a tensor of rank {rank}");
                    return Err(to_js(Error::argument(e)));
                }
                ops::softmax_axis(t, v[0], resolved as usize).js()?
            }
            "logSoftmax" => (arity(1)?, ops::log_softmax(t, v[0]).js()?).1,
            "sum" => (arity(1)?, ops::sum(t, v[0], &axes, false).js()?).1,
            "mean" => (arity(1)?, ops::mean(t, v[0], &axes, false).js()?).1,
            "reshape" => (arity(1)?, ops::reshape(t, v[0], &axes).js()?).1,
            "transpose" => (arity(1)?, ops::transpose(t, v[0], &axes).js()?).1,
            "flatten" => (arity(1)?, ops::flatten(t, v[0]).js()?).1,
            "dense" => ops::dense(t, v[0], v[1], v.get(2).copied()).js()?,
            // params: strides (2), padding (0 valid, 1 same)
            "conv2d" => {
                conv::conv2d(t, v[0], v[1], v.get(2).copied(), pair(params, 0, "strides")?, padding(params, 2)).js()?
            }
            // params: pool size (2), strides (2), padding
            "maxPool2d" => {
                arity(1)?;
                conv::max_pool2d(t, v[0], pair(params, 0, "poolSize")?, pair(params, 2, "strides")?, padding(params, 4))
                    .js()?
            }
            // inputs: x, gamma, beta; params: axis, epsilon
            "batchNorm" => {
                arity(3)?;
                let given = params.first().copied().unwrap_or(-1.0);
                let rank = t.value(v[0]).rank() as isize;
                let axis = if given.fract() == 0.0 && given.abs() < 1e9 { given as isize } else { isize::MAX };
                let axis = if axis < 0 { rank + axis } else { axis };
                if axis < 0 || axis >= rank {
                    return Err(to_js(Error::argument(format!(
                        "batchNorm: axis {given} is out of range for a tensor of rank {rank}"
                    ))));
                }
                let eps = params.get(1).copied().unwrap_or(1e-3);
                if !(eps > 0.0 && eps.is_finite()) {
                    return Err(to_js(Error::argument(format!(
                        "batchNorm: epsilon must be a positive number, got {eps}"
                    ))));
                }
                norm::batch_norm_train(t, v[0], Some(v[1]), Some(v[2]), axis as usize, eps).js()?.0
            }
            // inputs: logits, one-hot labels (a constant)
            "softmaxCrossEntropy" | "meanSquaredError" => {
                arity(2)?;
                let target = t.value(v[1]).clone();
                if name == "softmaxCrossEntropy" {
                    loss::softmax_cross_entropy(t, v[0], &target).js()?
                } else {
                    loss::mean_squared_error(t, v[0], &target).js()?
                }
            }
            _ => return Err(to_js(Error::argument(format!("unknown op '{name}'")))),
        };
        Ok(self.push(out))
    }

    pub fn value(&self, id: u32) -> Result<Tensor, JsValue> {
        Ok(self.inner.value(self.var(id)?).clone().into())
    }

    #[wasm_bindgen(js_name = valueShape)]
    pub fn value_shape(&self, id: u32) -> Result<Vec<u32>, JsValue> {
        Ok(self.inner.value(self.var(id)?).shape().iter().map(|&d| d as u32).collect())
    }

    /// Back-propagates from a scalar.
    pub fn backward(&mut self, id: u32) -> Result<(), JsValue> {
        let v = self.var(id)?;
        self.inner.backward(v).js()
    }

    /// The gradient of a variable after `backward` (zeros if the output does not depend on it).
    pub fn grad(&self, id: u32) -> Result<Tensor, JsValue> {
        let v = self.var(id)?;
        let g = self.inner.grad(v).cloned();
        Ok(g.unwrap_or_else(|| ballast_core::Tensor::zeros(self.inner.value(v).shape())).into())
    }
}

impl Default for Tape {
    fn default() -> Self {
        Self::new()
    }
}
