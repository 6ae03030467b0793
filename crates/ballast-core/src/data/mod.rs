//! Data sets: IDX files (plain and gzip), compact storage read through a gather, batching,
//! seeded shuffling.

pub mod batches;
pub mod idx;
pub mod source;

pub use batches::{batch_order, gather_rows, one_hot};
pub use idx::{parse_idx, read_idx, IdxArray, IdxRaw, IdxType, MAX_DECOMPRESSED_BYTES};
pub use source::{Bytes, Classes, Scaling, Source};

use crate::error::{Error, Result};
use crate::tensor::{shape_str, Tensor};

/// Labels must be below 2^24: IDX values pass through f32, which is exact for integers only
/// up to there, so a larger label could silently turn into its neighbour.
const MAX_LABEL_EXCLUSIVE: f32 = 16_777_216.0;

/// Labelled images, NHWC.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `[n, h, w, c]`; u8 sources stay bytes read through `scaling` (by default to [0, 1]),
    /// other types become f32 as stored.
    pub images: Source,
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
    /// Values per example (`h * w * c`).
    pub fn example_len(&self) -> usize {
        self.images.shape()[1..].iter().product()
    }
}

/// Builds a [`Dataset`] from an IDX images file (`[n, h, w]` or `[n, h, w, c]`) and an IDX
/// labels file (`[n]`, non-negative integers). Either may be gzipped. With `limit`, only the
/// first `limit` examples are read (see [`read_idx`]); u8 images are kept as bytes, read
/// through `scaling` (default [`Scaling::unit`]) when batches are gathered.
pub fn load_idx_pair(
    images: Vec<u8>,
    images_name: &str,
    labels: Vec<u8>,
    labels_name: &str,
    limit: Option<usize>,
    scaling: Option<Scaling>,
) -> Result<Dataset> {
    let img = read_idx(images, images_name, limit)?;
    let lab = read_idx(labels, labels_name, limit)?;
    let shape = match img.shape.as_slice() {
        &[n, h, w] => vec![n, h, w, 1],
        &[_, _, _, _] => img.shape.clone(),
        other => {
            let mut file_shape = other.to_vec();
            file_shape[0] = img.file_rows;
            return Err(Error::data(format!(
                "{images_name}: images must have 3 dimensions [n, h, w] or 4 [n, h, w, c], found {} {}",
                other.len(),
                shape_str(&file_shape)
            )));
        }
    };
    if lab.shape.len() != 1 {
        let mut file_shape = lab.shape.clone();
        file_shape[0] = lab.file_rows;
        return Err(Error::data(format!(
            "{labels_name}: labels must have 1 dimension [n], found {} {}",
            lab.shape.len(),
            shape_str(&file_shape)
        )));
    }
    if img.file_rows != lab.file_rows {
        return Err(Error::data(format!(
            "{images_name} has {} images but {labels_name} has {} labels; the counts must agree",
            img.file_rows, lab.file_rows
        )));
    }
    let mut label_values = Vec::with_capacity(lab.shape[0]);
    for (i, v) in lab.to_f32().into_iter().enumerate() {
        // A range check that NaN (from a float labels file) also fails.
        if !(0.0..MAX_LABEL_EXCLUSIVE).contains(&v) || v.fract() != 0.0 {
            return Err(Error::data(format!(
                "{labels_name}: label {v} at index {i} is not an integer in [0, {MAX_LABEL_EXCLUSIVE})"
            )));
        }
        label_values.push(v as u32);
    }
    let num_classes = label_values.iter().max().map_or(0, |&m| m as usize + 1);
    let images = if img.dtype == IdxType::U8 {
        Source::U8(Bytes::new(img.payload, &shape, scaling.unwrap_or_else(Scaling::unit))?)
    } else {
        if scaling.is_some() {
            return Err(Error::argument(format!(
                "{images_name}: a scaling applies to u8 images; these are {} (kept as they are stored)",
                img.dtype.name()
            )));
        }
        Source::F32(Tensor::new(img.to_f32(), &shape)?)
    };
    Ok(Dataset { images, labels: label_values, num_classes })
}

#[cfg(test)]
mod tests {
    use super::idx::testutil::*;
    use super::*;
    use crate::error::ErrorKind;

    fn pair(images: &[u8], images_name: &str, labels: &[u8], labels_name: &str) -> Result<Dataset> {
        load_idx_pair(images.to_vec(), images_name, labels.to_vec(), labels_name, None, None)
    }

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
        let d = pair(&gzip(&images), "imgs", &labels, "labs").unwrap();
        assert_eq!(d.images.shape().as_ref(), &[3, 2, 2, 1]);
        // Kept as the bytes they are, read as the quotients by 255.
        assert_eq!((d.images.storage(), d.images.byte_len()), ("uint8", 12));
        let x = d.images.to_tensor().unwrap();
        assert_eq!(&x.data()[..4], &[0.0, 1.0, 0.2, 0.4]);
        assert!(x.data().iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(d.labels, vec![4, 0, 2]);
        assert_eq!(d.num_classes, 5);
        assert_eq!((d.len(), d.example_len()), (3, 4));
    }

    #[test]
    fn a_limit_reads_the_first_examples_and_a_scaling_applies() {
        let images = u8_idx(&[4, 1, 2], &[0, 255, 51, 102, 1, 2, 3, 4]);
        let labels = u8_idx(&[4], &[4, 0, 2, 9]);
        let d = load_idx_pair(gzip(&images), "imgs", labels.clone(), "labs", Some(2), None).unwrap();
        assert_eq!((d.images.shape().into_owned(), d.labels.clone(), d.num_classes), (vec![2, 1, 2, 1], vec![4, 0], 5));
        assert_eq!(d.images.byte_len(), 4);
        let scaling = Scaling::Affine { scale: 2.0, offset: 1.0 };
        let d = load_idx_pair(images.clone(), "imgs", labels.clone(), "labs", Some(3), Some(scaling)).unwrap();
        assert_eq!(d.images.to_tensor().unwrap().data(), &[1.0, 511.0, 103.0, 205.0, 3.0, 5.0]);
        // The counts are those of the files, whatever the limit.
        let r = load_idx_pair(images, "imgs", u8_idx(&[3], &[0, 1, 2]), "labs", Some(2), None);
        data_err(r, &["imgs has 4 images but labs has 3 labels"]);
        let floats = idx_bytes(0x0D, &[1, 1, 1], &1f32.to_be_bytes());
        let r = load_idx_pair(floats, "imgs", u8_idx(&[1], &[0]), "labs", None, Some(Scaling::unit()));
        assert_eq!(r.unwrap_err().kind, ErrorKind::Argument);
    }

    #[test]
    fn loads_rank4_float_images_unscaled() {
        let mut payload = Vec::new();
        for v in [0.5f32, -2.0, 3.0, 300.0] {
            payload.extend_from_slice(&v.to_be_bytes());
        }
        let images = idx_bytes(0x0D, &[2, 1, 1, 2], &payload);
        let labels = idx_bytes(0x0C, &[2], &[0, 0, 0, 1, 0, 0, 0, 0]);
        let d = pair(&images, "imgs", &gzip(&labels), "labs").unwrap();
        assert_eq!((d.images.shape().as_ref(), d.images.storage()), (&[2, 1, 1, 2][..], "float32"));
        assert_eq!(d.images.to_tensor().unwrap().data(), &[0.5, -2.0, 3.0, 300.0]);
        assert_eq!((d.labels.clone(), d.num_classes), (vec![1, 0], 2));
    }

    #[test]
    fn empty_pair_has_no_classes() {
        let d = pair(&u8_idx(&[0, 28, 28], &[]), "i", &u8_idx(&[0], &[]), "l").unwrap();
        assert_eq!((d.images.shape().as_ref(), d.num_classes), (&[0, 28, 28, 1][..], 0));
    }

    #[test]
    fn error_counts_disagree() {
        let r = pair(&u8_idx(&[2, 1, 1], &[0, 1]), "train-images", &u8_idx(&[3], &[0, 1, 2]), "train-labels");
        data_err(r, &["train-images has 2 images", "train-labels has 3 labels"]);
    }

    #[test]
    fn error_wrong_ranks() {
        let labels = u8_idx(&[2], &[0, 1]);
        let r = pair(&u8_idx(&[2, 2], &[0; 4]), "imgs", &labels, "labs");
        data_err(r, &["imgs: images must have 3 dimensions", "found 2 [2, 2]"]);
        let r = pair(&u8_idx(&[2, 1, 1, 1, 1], &[0; 2]), "imgs", &labels, "labs");
        data_err(r, &["found 5"]);
        let r = pair(&u8_idx(&[2, 1, 1], &[0; 2]), "imgs", &u8_idx(&[2, 1], &[0, 1]), "labs");
        data_err(r, &["labs: labels must have 1 dimension", "found 2 [2, 1]"]);
    }

    #[test]
    fn error_bad_label_values() {
        let images = u8_idx(&[2, 1, 1], &[0, 0]);
        let neg = idx_bytes(0x09, &[2], &[1, 0xFF]); // i8: 1, -1
        data_err(pair(&images, "i", &neg, "labs"), &["labs: label -1 at index 1"]);
        let mut frac = Vec::new();
        for v in [2.0f32, 0.5] {
            frac.extend_from_slice(&v.to_be_bytes());
        }
        data_err(pair(&images, "i", &idx_bytes(0x0D, &[2], &frac), "labs"), &["label 0.5 at index 1"]);
        let nan = [f32::NAN.to_be_bytes(), 0f32.to_be_bytes()].concat();
        data_err(pair(&images, "i", &idx_bytes(0x0D, &[2], &nan), "labs"), &["at index 0"]);
        let huge = [0i32.to_be_bytes(), (1i32 << 24).to_be_bytes()].concat();
        data_err(pair(&images, "i", &idx_bytes(0x0C, &[2], &huge), "labs"), &["at index 1"]);
    }

    #[test]
    fn errors_from_either_file_name_it() {
        let good_images = u8_idx(&[1, 1, 1], &[0]);
        let good_labels = u8_idx(&[1], &[0]);
        data_err(pair(&good_images[..5], "imgs", &good_labels, "labs"), &["imgs:"]);
        data_err(pair(&good_images, "imgs", &good_labels[..7], "labs"), &["labs:"]);
    }
}
