use std::borrow::Cow;

use wasm_bindgen::prelude::*;

use crate::errors::IntoJs;
use ballast_core::data::{Bytes, Classes, Scaling, Source};
use ballast_core::kernels::upsample::Interpolation;
use ballast_core::ops::augment::Fit;

/// A float32 tensor living in WASM memory; JavaScript holds it as a handle. Its values may be
/// stored compactly (bytes read through a scaling, class indices read as one-hot rows): the
/// training steps gather batches straight from that storage, other ops read the float32
/// tensor it stands for.
#[wasm_bindgen]
pub struct Tensor {
    pub(crate) inner: Source,
}

impl From<ballast_core::Tensor> for Tensor {
    fn from(t: ballast_core::Tensor) -> Tensor {
        Tensor { inner: Source::F32(t) }
    }
}

impl Tensor {
    /// The float32 tensor, made from the compact storage when there is one.
    pub(crate) fn f32(&self) -> Result<Cow<'_, ballast_core::Tensor>, JsValue> {
        self.inner.to_tensor().js()
    }
}

#[wasm_bindgen]
impl Tensor {
    /// Copies `data` into WASM memory with the given shape.
    #[wasm_bindgen(constructor)]
    pub fn new(data: &[f32], shape: &[u32]) -> Result<Tensor, JsValue> {
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        Ok(ballast_core::Tensor::new(data.to_vec(), &shape).js()?.into())
    }

    /// Bytes of shape `shape`, read through `scaling`: `{ scale, offset }`, `{ mean, std }`
    /// (per channel, the last axis) or undefined for `byte / 255`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(data: Vec<u8>, shape: &[u32], scaling: JsValue) -> Result<Tensor, JsValue> {
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let bytes = Bytes::new(data, &shape, scaling_of(&scaling)?).js()?;
        Ok(Tensor { inner: Source::U8(bytes) })
    }

    /// Class indices, read as one-hot rows `[n, classes]`.
    #[wasm_bindgen(js_name = fromClasses)]
    pub fn from_classes(labels: Vec<u32>, classes: u32) -> Result<Tensor, JsValue> {
        Ok(Tensor { inner: Source::Classes(Classes::new(labels, classes as usize).js()?) })
    }

    #[wasm_bindgen(getter)]
    pub fn shape(&self) -> Vec<u32> {
        self.inner.shape().iter().map(|&d| d as u32).collect()
    }

    /// How the values are stored: `float32`, `uint8` or `classes`.
    #[wasm_bindgen(getter)]
    pub fn storage(&self) -> String {
        self.inner.storage().to_string()
    }

    /// Bytes of WASM memory the values take.
    #[wasm_bindgen(getter, js_name = byteLength)]
    pub fn byte_length(&self) -> f64 {
        self.inner.byte_len() as f64
    }

    /// A copy of the values, as a `Float32Array` (scaled bytes, one-hot rows).
    pub fn data(&self) -> Result<Vec<f32>, JsValue> {
        Ok(self.f32()?.data().to_vec())
    }
}

/// `op(a)·op(b)` for rank-2 tensors.
#[wasm_bindgen]
pub fn matmul(a: &Tensor, b: &Tensor, transpose_a: bool, transpose_b: bool) -> Result<Tensor, JsValue> {
    let (a, b) = (a.f32()?, b.f32()?);
    Ok(a.matmul(&b, transpose_a, transpose_b).js()?.into())
}

/// Images `[n, h, w, c]` resized to `height × width` as Keras' `Resizing` does (TensorFlow's
/// half-pixel `resize`; with `cropToAspectRatio` the centred window of the output's aspect
/// ratio first, with `padToAspectRatio` the image padded to it with `fillValue`): what
/// image folders of mixed sizes are read through.
#[wasm_bindgen(js_name = resizeImages)]
pub fn resize_images(
    images: &Tensor,
    height: u32,
    width: u32,
    interpolation: &str,
    crop_to_aspect_ratio: bool,
    pad_to_aspect_ratio: bool,
    fill_value: f64,
) -> Result<Tensor, JsValue> {
    let bilinear = Interpolation::parse(interpolation).js()? == Interpolation::Bilinear;
    let fit = Fit::from_flags(crop_to_aspect_ratio, pad_to_aspect_ratio, fill_value).js()?;
    let mut tape = ballast_core::autograd::Tape::new();
    let x = tape.constant(images.f32()?.into_owned());
    let size = [height as usize, width as usize];
    // No gradient is wanted: the tape keeps no backward pass.
    let y = tape.no_grad(|t| ballast_core::ops::augment::resize(t, x, size, bilinear, fit)).js()?;
    Ok(tape.value(y).clone().into())
}

/// Refuses `cropToAspectRatio` and `padToAspectRatio` together, with the core's message: what
/// image folders check before they list any file.
#[wasm_bindgen(js_name = checkAspectRatioFlags)]
pub fn check_aspect_ratio_flags(crop_to_aspect_ratio: bool, pad_to_aspect_ratio: bool) -> Result<(), JsValue> {
    Fit::from_flags(crop_to_aspect_ratio, pad_to_aspect_ratio, 0.0).map(|_| ()).js()
}

/// Refuses an interpolation the resizing kernels do not have, with the core's message: what
/// image folders check before they list any file.
#[wasm_bindgen(js_name = checkInterpolation)]
pub fn check_interpolation(name: &str) -> Result<(), JsValue> {
    Interpolation::parse(name).map(|_| ()).js()
}

/// Rows `rows` of `t` (along the first axis), as a new tensor stored as `t` is.
#[wasm_bindgen(js_name = takeRows)]
pub fn take_rows(t: &Tensor, rows: &[u32]) -> Result<Tensor, JsValue> {
    Ok(Tensor { inner: t.inner.take_rows(rows).js()? })
}

/// A scaling from its JavaScript options (undefined or null: `byte / 255`).
pub(crate) fn scaling_of(spec: &JsValue) -> Result<Scaling, JsValue> {
    if spec.is_undefined() {
        return Ok(Scaling::unit());
    }
    Scaling::from_json(&crate::json::from_js(spec, "scaling").js()?).js()
}
