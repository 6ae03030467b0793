//! Data sets: IDX files parsed by the core (plain or gzip), kept compact in WASM memory.

use wasm_bindgen::prelude::*;

use ballast_core::data::{Classes, Source};

use crate::errors::IntoJs;
use crate::tensor::{scaling_of, Tensor};

/// Images `[n, h, w, c]` (u8 files kept as bytes, read through their scaling) and labels,
/// from a pair of IDX files.
#[wasm_bindgen]
pub struct IdxDataset {
    images: Option<Source>,
    labels: Vec<u32>,
    num_classes: u32,
}

#[wasm_bindgen]
impl IdxDataset {
    /// Takes the images tensor out (a second call returns undefined).
    #[wasm_bindgen(js_name = takeImages)]
    pub fn take_images(&mut self) -> Option<Tensor> {
        self.images.take().map(|inner| Tensor { inner })
    }
    #[wasm_bindgen(getter)]
    pub fn labels(&self) -> Vec<u32> {
        self.labels.clone()
    }
    #[wasm_bindgen(getter, js_name = numClasses)]
    pub fn num_classes(&self) -> u32 {
        self.num_classes
    }
}

/// Parses a pair of IDX files (given whole, so a plain file's bytes become the images in
/// place), keeping the first `limit` examples when given, u8 images read through `scaling`.
#[wasm_bindgen(js_name = parseIdxPair)]
pub fn parse_idx_pair(
    images: Vec<u8>,
    images_name: &str,
    labels: Vec<u8>,
    labels_name: &str,
    limit: Option<u32>,
    scaling: JsValue,
) -> Result<IdxDataset, JsValue> {
    let scaling = if scaling.is_undefined() { None } else { Some(scaling_of(&scaling)?) };
    let limit = limit.map(|l| l as usize);
    let d = ballast_core::data::load_idx_pair(images, images_name, labels, labels_name, limit, scaling).js()?;
    Ok(IdxDataset { images: Some(d.images), labels: d.labels, num_classes: d.num_classes as u32 })
}

/// `[n, classes]` one-hot rows, stored as the class indices.
#[wasm_bindgen(js_name = oneHot)]
pub fn one_hot(labels: Vec<u32>, num_classes: u32) -> Result<Tensor, JsValue> {
    Ok(Tensor { inner: Source::Classes(Classes::new(labels, num_classes as usize).js()?) })
}

/// The order of examples for one epoch: a seeded permutation (identity without shuffle);
/// depends only on (seed, epoch), so a run can be repeated or resumed exactly.
#[wasm_bindgen(js_name = batchOrder)]
pub fn batch_order(n: u32, shuffle: bool, seed: u32, epoch: u32) -> Vec<u32> {
    ballast_core::data::batch_order(n as usize, shuffle, seed as u64, epoch as u64)
}
