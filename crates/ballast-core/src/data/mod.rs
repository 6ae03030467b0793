//! Data sets: IDX files (plain and gzip), batching, seeded shuffling.

pub mod batches;
pub mod idx;

pub use batches::{batch_order, gather_rows, one_hot};
pub use idx::{parse_idx, IdxArray, IdxType, MAX_DECOMPRESSED_BYTES};

use crate::error::{Error, Result};
use crate::tensor::{shape_str, Tensor};

/// Labels must be below 2^24: IDX values pass through f32, which is exact for integers only
/// up to there, so a larger label could silently turn into its neighbour.
const MAX_LABEL_EXCLUSIVE: f32 = 16_777_216.0;

/// Labelled images, NHWC.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `[n, h, w, c]`; u8 sources are scaled to [0, 1], other types are kept as stored.
    pub images: Tensor,
    pub labels: Vec<u32>,
    /// One more than the largest label (0 for an empty set).
    pub num_classes: usize,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Values per example (`h * w * c`), the row length for [`gather_rows`].
    pub fn example_len(&self) -> usize {
        self.images.shape()[1..].iter().product()
    }
}

/// Builds a [`Dataset`] from an IDX images file (`[n, h, w]` or `[n, h, w, c]`) and an IDX
/// labels file (`[n]`, non-negative integers). Either may be gzipped.
pub fn load_idx_pair(images: &[u8], images_name: &str, labels: &[u8], labels_name: &str) -> Result<Dataset> {
    let img = parse_idx(images, images_name)?;
    let lab = parse_idx(labels, labels_name)?;
    let shape = match img.shape.as_slice() {
        &[n, h, w] => vec![n, h, w, 1],
        &[_, _, _, _] => img.shape.clone(),
        other => {
            return Err(Error::data(format!(
                "{images_name}: images must have 3 dimensions [n, h, w] or 4 [n, h, w, c], found {} {}",
                other.len(),
                shape_str(other)
            )))
        }
    };
    let &[n_labels] = lab.shape.as_slice() else {
        return Err(Error::data(format!(
            "{labels_name}: labels must have 1 dimension [n], found {} {}",
            lab.shape.len(),
            shape_str(&lab.shape)
        )));
    };
    if shape[0] != n_labels {
        return Err(Error::data(format!(
            "{images_name} has {} images but {labels_name} has {n_labels} labels; the counts must agree",
            shape[0]
        )));
    }
    let mut label_values = Vec::with_capacity(n_labels);
    for (i, &v) in lab.data.iter().enumerate() {
        // A range check that NaN (from a float labels file) also fails.
        if !(0.0..MAX_LABEL_EXCLUSIVE).contains(&v) || v.fract() != 0.0 {
            return Err(Error::data(format!(
                "{labels_name}: label {v} at index {i} is not an integer in [0, {MAX_LABEL_EXCLUSIVE})"
            )));
        }
        label_values.push(v as u32);
    }
    let num_classes = label_values.iter().max().map_or(0, |&m| m as usize + 1);
    let mut data = img.data;
    if img.dtype == IdxType::U8 {
        // Pixels 0..=255 to [0, 1], as Keras' MNIST examples do. Division, not a multiply by
        // 1/255, so each value is the correctly rounded quotient (51 → exactly 0.2f32).
        data.iter_mut().for_each(|v| *v /= 255.0);
    }
    Ok(Dataset { images: Tensor::new(data, &shape)?, labels: label_values, num_classes })
}

#[cfg(test)]
mod tests {
    use super::idx::testutil::*;
    use super::*;
    use crate::error::ErrorKind;

    fn data_err(result: Result<Dataset>, needles: &[&str]) {
        let e = result.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Data, "{e}");
        for needle in needles {
            assert!(e.message.contains(needle), "expected {needle:?} in {e}");
        }
    }

    #[test]
    fn loads_rank3_u8_images_scaled() {
        let images = u8_idx(&[3, 2, 2], &[0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8]);
        let labels = u8_idx(&[3], &[4, 0, 2]);
        let d = load_idx_pair(&gzip(&images), "imgs", &labels, "labs").unwrap();
        assert_eq!(d.images.shape(), &[3, 2, 2, 1]);
        assert_eq!(&d.images.data()[..4], &[0.0, 1.0, 0.2, 0.4]);
        assert!(d.images.data().iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(d.labels, vec![4, 0, 2]);
        assert_eq!(d.num_classes, 5);
        assert_eq!((d.len(), d.example_len()), (3, 4));
    }

    #[test]
    fn loads_rank4_float_images_unscaled() {
        let mut payload = Vec::new();
        for v in [0.5f32, -2.0, 3.0, 300.0] {
            payload.extend_from_slice(&v.to_be_bytes());
        }
        let images = idx_bytes(0x0D, &[2, 1, 1, 2], &payload);
        let labels = idx_bytes(0x0C, &[2], &[0, 0, 0, 1, 0, 0, 0, 0]);
        let d = load_idx_pair(&images, "imgs", &gzip(&labels), "labs").unwrap();
        assert_eq!(d.images.shape(), &[2, 1, 1, 2]);
        assert_eq!(d.images.data(), &[0.5, -2.0, 3.0, 300.0]);
        assert_eq!((d.labels.clone(), d.num_classes), (vec![1, 0], 2));
    }

    #[test]
    fn empty_pair_has_no_classes() {
        let d = load_idx_pair(&u8_idx(&[0, 28, 28], &[]), "i", &u8_idx(&[0], &[]), "l").unwrap();
        assert_eq!((d.images.shape(), d.num_classes), (&[0, 28, 28, 1][..], 0));
    }

    #[test]
    fn error_counts_disagree() {
        let r = load_idx_pair(&u8_idx(&[2, 1, 1], &[0, 1]), "train-images", &u8_idx(&[3], &[0, 1, 2]), "train-labels");
        data_err(r, &["train-images has 2 images", "train-labels has 3 labels"]);
    }

    #[test]
    fn error_wrong_ranks() {
        let labels = u8_idx(&[2], &[0, 1]);
        let r = load_idx_pair(&u8_idx(&[2, 2], &[0; 4]), "imgs", &labels, "labs");
        data_err(r, &["imgs: images must have 3 dimensions", "found 2 [2, 2]"]);
        let r = load_idx_pair(&u8_idx(&[2, 1, 1, 1, 1], &[0; 2]), "imgs", &labels, "labs");
        data_err(r, &["found 5"]);
        let r = load_idx_pair(&u8_idx(&[2, 1, 1], &[0; 2]), "imgs", &u8_idx(&[2, 1], &[0, 1]), "labs");
        data_err(r, &["labs: labels must have 1 dimension", "found 2 [2, 1]"]);
    }

    #[test]
    fn error_bad_label_values() {
        let images = u8_idx(&[2, 1, 1], &[0, 0]);
        let neg = idx_bytes(0x09, &[2], &[1, 0xFF]); // i8: 1, -1
        data_err(load_idx_pair(&images, "i", &neg, "labs"), &["labs: label -1 at index 1"]);
        let mut frac = Vec::new();
        for v in [2.0f32, 0.5] {
            frac.extend_from_slice(&v.to_be_bytes());
        }
        data_err(load_idx_pair(&images, "i", &idx_bytes(0x0D, &[2], &frac), "labs"), &["label 0.5 at index 1"]);
        let nan = [f32::NAN.to_be_bytes(), 0f32.to_be_bytes()].concat();
        data_err(load_idx_pair(&images, "i", &idx_bytes(0x0D, &[2], &nan), "labs"), &["at index 0"]);
        let huge = [0i32.to_be_bytes(), (1i32 << 24).to_be_bytes()].concat();
        data_err(load_idx_pair(&images, "i", &idx_bytes(0x0C, &[2], &huge), "labs"), &["at index 1"]);
    }

    #[test]
    fn errors_from_either_file_name_it() {
        let good_images = u8_idx(&[1, 1, 1], &[0]);
        let good_labels = u8_idx(&[1], &[0]);
        data_err(load_idx_pair(&good_images[..5], "imgs", &good_labels, "labs"), &["imgs:"]);
        data_err(load_idx_pair(&good_images, "imgs", &good_labels[..7], "labs"), &["labs:"]);
    }
}
