use wasm_bindgen::prelude::*;

use ballast_core::data::gather_rows;
use ballast_core::Error;

use crate::errors::{to_js, IntoJs};

/// A tensor living in WASM memory; JavaScript holds it as a handle.
#[wasm_bindgen]
pub struct Tensor {
    pub(crate) inner: ballast_core::Tensor,
}

#[wasm_bindgen]
impl Tensor {
    /// Copies `data` into WASM memory with the given shape.
    #[wasm_bindgen(constructor)]
    pub fn new(data: &[f32], shape: &[u32]) -> Result<Tensor, JsValue> {
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let inner = ballast_core::Tensor::new(data.to_vec(), &shape).js()?;
        Ok(Tensor { inner })
    }

    #[wasm_bindgen(getter)]
    pub fn shape(&self) -> Vec<u32> {
        self.inner.shape().iter().map(|&d| d as u32).collect()
    }

    /// A copy of the values, as a `Float32Array`.
    pub fn data(&self) -> Vec<f32> {
        self.inner.data().to_vec()
    }
}

/// `op(a)·op(b)` for rank-2 tensors.
#[wasm_bindgen]
pub fn matmul(a: &Tensor, b: &Tensor, transpose_a: bool, transpose_b: bool) -> Result<Tensor, JsValue> {
    let inner = a.inner.matmul(&b.inner, transpose_a, transpose_b).js()?;
    Ok(Tensor { inner })
}

/// Rows `rows` of `t` (along the first axis), as a new tensor.
#[wasm_bindgen(js_name = takeRows)]
pub fn take_rows(t: &Tensor, rows: &[u32]) -> Result<Tensor, JsValue> {
    Ok(Tensor { inner: gather(&t.inner, rows)? })
}

/// Checks batch row indices against the number of rows, then gathers them.
pub(crate) fn gather(t: &ballast_core::Tensor, rows: &[u32]) -> Result<ballast_core::Tensor, JsValue> {
    if t.rank() == 0 {
        return Err(to_js(Error::shape("rows can only be taken from a tensor with a batch axis (rank 1 or more)")));
    }
    let n = t.shape().first().copied().unwrap_or(0);
    if let Some((i, &r)) = rows.iter().enumerate().find(|(_, &r)| r as usize >= n) {
        return Err(to_js(Error::argument(format!("batch row {r} (position {i}) is out of range for {n} examples"))));
    }
    let row_len = t.len() / n.max(1);
    let mut data = Vec::new();
    gather_rows(t.data(), row_len, rows, &mut data);
    let mut shape = t.shape().to_vec();
    shape[0] = rows.len();
    ballast_core::Tensor::new(data, &shape).js()
}
