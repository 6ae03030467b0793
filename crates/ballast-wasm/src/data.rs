//! Data sets: IDX files parsed by the core (plain or gzip), one-hot labels.

use wasm_bindgen::prelude::*;

use crate::errors::IntoJs;
use crate::tensor::Tensor;

/// Images `[n, h, w, c]` (u8 scaled to [0, 1]) and labels, from a pair of IDX files.
#[wasm_bindgen]
pub struct IdxDataset {
    images: Option<Tensor>,
    labels: Vec<u32>,
    num_classes: u32,
}

#[wasm_bindgen]
impl IdxDataset {
    /// Takes the images tensor out (a second call returns undefined).
    #[wasm_bindgen(js_name = takeImages)]
    pub fn take_images(&mut self) -> Option<Tensor> {
        self.images.take()
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

#[wasm_bindgen(js_name = parseIdxPair)]
pub fn parse_idx_pair(
    images: &[u8],
    images_name: &str,
    labels: &[u8],
    labels_name: &str,
) -> Result<IdxDataset, JsValue> {
    let d = ballast_core::data::load_idx_pair(images, images_name, labels, labels_name).js()?;
    Ok(IdxDataset { images: Some(Tensor { inner: d.images }), labels: d.labels, num_classes: d.num_classes as u32 })
}

/// `[n, classes]` one-hot rows.
#[wasm_bindgen(js_name = oneHot)]
pub fn one_hot(labels: &[u32], num_classes: u32) -> Result<Tensor, JsValue> {
    Ok(Tensor { inner: ballast_core::data::one_hot(labels, num_classes as usize).js()? })
}

/// The order of examples for one epoch: a seeded permutation (identity without shuffle);
/// depends only on (seed, epoch), so a run can be repeated or resumed exactly.
#[wasm_bindgen(js_name = batchOrder)]
pub fn batch_order(n: u32, shuffle: bool, seed: u32, epoch: u32) -> Vec<u32> {
    ballast_core::data::batch_order(n as usize, shuffle, seed as u64, epoch as u64)
}
