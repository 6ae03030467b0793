//! Data as it is kept in memory between batches, and the gather that turns rows of it into the
//! float32 batch a training step reads.
//!
//! A data set is read many times (once per epoch) but only a batch at a time, so it can be
//! stored compactly: images as the bytes they are (a quarter of their float32 size) with the
//! scaling applied while a batch is gathered, labels as class indices with the one-hot rows
//! made per batch. Whatever the storage, a [`Source`] stands for the same float32 tensor and
//! a gathered batch holds exactly the values that tensor would (`b / 255` for a pixel `b` with
//! the default scaling, bit for bit).

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::nn::config::{check_keys, describe, option, Json};
use crate::tensor::{shape_str, Tensor};

use super::batches::gather_rows;

/// How bytes become float32 values as they are gathered.
#[derive(Debug, Clone, PartialEq)]
pub enum Scaling {
    /// `byte * scale + offset` (Keras' `Rescaling`).
    Affine { scale: f32, offset: f32 },
    /// `(byte - mean[c]) / std[c]` for channel `c` (the last axis); one value for all channels
    /// or one per channel, in the units of the bytes (0 to 255).
    Standardize { mean: Vec<f32>, std: Vec<f32> },
}

impl Scaling {
    /// Pixels 0..=255 to [0, 1], as Keras' MNIST examples do: a division, not a multiply by
    /// 1/255, so each value is the correctly rounded quotient (51 → exactly 0.2f32).
    pub fn unit() -> Scaling {
        Scaling::Standardize { mean: vec![0.0], std: vec![255.0] }
    }

    /// From the options a user gives: nothing (null) for [`Scaling::unit`], `{ scale, offset }`
    /// (defaults 1 and 0) or `{ mean, std }` (numbers or one per channel; defaults 0 and 1).
    pub fn from_json(spec: &Json) -> Result<Scaling> {
        if spec.is_null() {
            return Ok(Scaling::unit());
        }
        let obj = spec.as_object().ok_or_else(|| {
            Error::argument(format!("scaling must be {{ scale, offset }} or {{ mean, std }}, got {}", describe(spec)))
        })?;
        let context = |e: Error| Error::argument(format!("scaling: {}", e.message));
        check_keys(obj, &["scale", "offset", "mean", "std"]).map_err(context)?;
        let affine = obj.contains_key("scale") || obj.contains_key("offset");
        if affine && (obj.contains_key("mean") || obj.contains_key("std")) {
            return Err(Error::argument("scaling: give { scale, offset } or { mean, std }, not both"));
        }
        if affine {
            let scale: f32 = option(obj, "scale", Some(1.0)).map_err(context)?;
            let offset: f32 = option(obj, "offset", Some(0.0)).map_err(context)?;
            return Ok(Scaling::Affine { scale, offset });
        }
        let values = |key: &str, default: f32| -> Result<Vec<f32>> {
            match obj.get(key) {
                None => Ok(vec![default]),
                Some(Json::Array(items)) if !items.is_empty() => {
                    items.iter().map(|v| v.as_f64().map(|f| f as f32)).collect::<Option<Vec<f32>>>().ok_or_else(|| {
                        Error::argument(format!("scaling: {key} must hold numbers, got {}", describe(&obj[key])))
                    })
                }
                Some(v) => v.as_f64().map(|f| vec![f as f32]).ok_or_else(|| {
                    Error::argument(format!(
                        "scaling: {key} must be a number or a list of numbers, got {}",
                        describe(v)
                    ))
                }),
            }
        };
        Ok(Scaling::Standardize { mean: values("mean", 0.0)?, std: values("std", 1.0)? })
    }

    /// Checks the scaling against `channels` (the last axis of the images).
    fn check(&self, channels: usize) -> Result<()> {
        match self {
            Scaling::Affine { scale, offset } => {
                if !(scale.is_finite() && offset.is_finite()) {
                    return Err(Error::argument(format!(
                        "scaling: scale and offset must be finite numbers, got scale {scale}, offset {offset}"
                    )));
                }
            }
            Scaling::Standardize { mean, std } => {
                for (what, v) in [("mean", mean), ("std", std)] {
                    if v.len() != 1 && v.len() != channels {
                        return Err(Error::argument(format!(
                            "scaling: {what} has {} values; give one, or one per channel ({channels})",
                            v.len()
                        )));
                    }
                }
                if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
                    return Err(Error::argument(format!("scaling: mean {m} is not a finite number")));
                }
                if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
                    return Err(Error::argument(format!("scaling: std {s} is not a positive number")));
                }
            }
        }
        Ok(())
    }

    /// Scales `src` (whole examples of `channels` values per pixel) onto the end of `dst`.
    fn extend(&self, src: &[u8], channels: usize, dst: &mut Vec<f32>) {
        match self {
            Scaling::Affine { scale, offset } => {
                let (s, o) = (*scale, *offset);
                dst.extend(src.iter().map(|&b| b as f32 * s + o));
            }
            Scaling::Standardize { mean, std } if mean.len() == 1 && std.len() == 1 => {
                let (m, s) = (mean[0], std[0]);
                dst.extend(src.iter().map(|&b| (b as f32 - m) / s));
            }
            Scaling::Standardize { mean, std } => {
                let at = |v: &[f32], c: usize| if v.len() == 1 { v[0] } else { v[c] };
                let mean: Vec<f32> = (0..channels).map(|c| at(mean, c)).collect();
                let std: Vec<f32> = (0..channels).map(|c| at(std, c)).collect();
                for pixel in src.chunks_exact(channels) {
                    dst.extend(pixel.iter().zip(&mean).zip(&std).map(|((&b, &m), &s)| (b as f32 - m) / s));
                }
            }
        }
    }
}

/// Bytes of shape `[n, ...]`, read as float32 through a [`Scaling`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bytes {
    data: Vec<u8>,
    shape: Vec<usize>,
    scaling: Scaling,
}

impl Bytes {
    /// `data` holds the product of `shape` bytes, row-major; the scaling's channels are the
    /// last axis.
    pub fn new(data: Vec<u8>, shape: &[usize], scaling: Scaling) -> Result<Bytes> {
        let want = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| {
            Error::shape(format!("bytes of shape {} are more than memory can index", shape_str(shape)))
        })?;
        if shape.is_empty() {
            return Err(Error::shape("byte data needs a batch axis (rank 1 or more)"));
        }
        if data.len() != want {
            return Err(Error::shape(format!("shape {} needs {want} bytes, got {}", shape_str(shape), data.len())));
        }
        scaling.check(Self::channels_of(shape))?;
        Ok(Bytes { data, shape: shape.to_vec(), scaling })
    }

    fn channels_of(shape: &[usize]) -> usize {
        if shape.len() < 2 {
            1
        } else {
            shape[shape.len() - 1]
        }
    }

    pub fn scaling(&self) -> &Scaling {
        &self.scaling
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Class indices `[n]`, read as one-hot float32 rows `[n, classes]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Classes {
    labels: Vec<u32>,
    classes: usize,
}

impl Classes {
    /// Every label must be below `classes`.
    pub fn new(labels: Vec<u32>, classes: usize) -> Result<Classes> {
        labels.len().checked_mul(classes).ok_or_else(|| {
            Error::argument(format!("{} labels × {classes} classes overflows the tensor size", labels.len()))
        })?;
        if let Some((i, &label)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= classes) {
            return Err(Error::argument(format!("label {label} at index {i} is out of range for {classes} classes")));
        }
        Ok(Classes { labels, classes })
    }

    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    pub fn classes(&self) -> usize {
        self.classes
    }
}

/// A float32 tensor of shape `[n, ...]` as it is stored: as it is, as scaled bytes, or as
/// class indices standing for one-hot rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    F32(Tensor),
    U8(Bytes),
    Classes(Classes),
}

impl From<Tensor> for Source {
    fn from(t: Tensor) -> Source {
        Source::F32(t)
    }
}

impl Source {
    /// The shape of the float32 tensor it stands for.
    pub fn shape(&self) -> Cow<'_, [usize]> {
        match self {
            Source::F32(t) => Cow::Borrowed(t.shape()),
            Source::U8(b) => Cow::Borrowed(&b.shape),
            Source::Classes(c) => Cow::Owned(vec![c.labels.len(), c.classes]),
        }
    }

    /// How the values are stored: `float32`, `uint8` or `classes`.
    pub fn storage(&self) -> &'static str {
        match self {
            Source::F32(_) => "float32",
            Source::U8(_) => "uint8",
            Source::Classes(_) => "classes",
        }
    }

    /// Bytes of memory the values take.
    pub fn byte_len(&self) -> usize {
        match self {
            Source::F32(t) => t.len() * 4,
            Source::U8(b) => b.data.len(),
            Source::Classes(c) => c.labels.len() * 4,
        }
    }

    /// Examples (the first axis); 0 for a scalar tensor.
    pub fn rows(&self) -> usize {
        match self {
            Source::F32(t) => t.shape().first().copied().unwrap_or(0),
            Source::U8(b) => b.shape[0],
            Source::Classes(c) => c.labels.len(),
        }
    }

    /// Checks that `rows` can be taken: a batch axis, and every index below the row count.
    pub fn check_rows(&self, rows: &[u32]) -> Result<()> {
        if let Source::F32(t) = self {
            if t.rank() == 0 {
                return Err(Error::shape("rows can only be taken from a tensor with a batch axis (rank 1 or more)"));
            }
        }
        let n = self.rows();
        if let Some((i, &r)) = rows.iter().enumerate().find(|(_, &r)| r as usize >= n) {
            return Err(Error::argument(format!("batch row {r} (position {i}) is out of range for {n} examples")));
        }
        Ok(())
    }

    /// The float32 values of rows `rows`, in that order, as a tensor `[rows.len(), ...]`:
    /// bytes scaled and class indices one-hot as they are copied, in one pass.
    pub fn gather(&self, rows: &[u32]) -> Result<Tensor> {
        self.check_rows(rows)?;
        let mut shape = self.shape().into_owned();
        shape[0] = rows.len();
        let mut data = Vec::new();
        match self {
            Source::F32(t) => {
                let row_len = t.len() / t.shape()[0].max(1);
                gather_rows(t.data(), row_len, rows, &mut data);
            }
            Source::U8(b) => {
                let row_len = b.data.len() / b.shape[0].max(1);
                let channels = Bytes::channels_of(&b.shape);
                data.reserve_exact(rows.len() * row_len);
                for &r in rows {
                    let r = r as usize;
                    b.scaling.extend(&b.data[r * row_len..(r + 1) * row_len], channels, &mut data);
                }
            }
            Source::Classes(c) => {
                data = vec![0.0f32; rows.len() * c.classes];
                for (row, &r) in data.chunks_exact_mut(c.classes.max(1)).zip(rows) {
                    row[c.labels[r as usize] as usize] = 1.0;
                }
            }
        }
        Tensor::new(data, &shape)
    }

    /// The whole float32 tensor: borrowed when it is stored as float32, made otherwise.
    pub fn to_tensor(&self) -> Result<Cow<'_, Tensor>> {
        match self {
            Source::F32(t) => Ok(Cow::Borrowed(t)),
            _ => {
                let n = u32::try_from(self.rows())
                    .map_err(|_| Error::shape("more than 2^32 rows cannot be made into one tensor"))?;
                let all: Vec<u32> = (0..n).collect();
                Ok(Cow::Owned(self.gather(&all)?))
            }
        }
    }

    /// Rows `rows` kept in the same storage (bytes stay bytes, classes stay indices).
    pub fn take_rows(&self, rows: &[u32]) -> Result<Source> {
        self.check_rows(rows)?;
        Ok(match self {
            Source::F32(_) => Source::F32(self.gather(rows)?),
            Source::U8(b) => {
                let row_len = b.data.len() / b.shape[0].max(1);
                let mut data = Vec::with_capacity(rows.len() * row_len);
                for &r in rows {
                    data.extend_from_slice(&b.data[r as usize * row_len..(r as usize + 1) * row_len]);
                }
                let mut shape = b.shape.clone();
                shape[0] = rows.len();
                Source::U8(Bytes { data, shape, scaling: b.scaling.clone() })
            }
            Source::Classes(c) => Source::Classes(Classes {
                labels: rows.iter().map(|&r| c.labels[r as usize]).collect(),
                classes: c.classes,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::rng::Rng;

    fn bytes(n: usize, row: &[usize], seed: u64) -> (Vec<u8>, Vec<usize>) {
        let mut rng = Rng::new(seed);
        let shape: Vec<usize> = std::iter::once(n).chain(row.iter().copied()).collect();
        let len: usize = shape.iter().product();
        ((0..len).map(|_| rng.next_u32() as u8).collect(), shape)
    }

    #[test]
    fn unit_scaling_gathers_exactly_the_old_divided_floats() {
        // The earlier loader divided every pixel by 255 at load time and gathered float rows.
        let (data, shape) = bytes(50, &[7, 5, 1], 3);
        let old = Tensor::new(data.iter().map(|&b| b as f32 / 255.0).collect(), &shape).unwrap();
        let compact = Source::U8(Bytes::new(data, &shape, Scaling::unit()).unwrap());
        let rows = [49, 0, 17, 17, 3];
        let a = compact.gather(&rows).unwrap();
        let b = Source::F32(old.clone()).gather(&rows).unwrap();
        assert_eq!(a.shape(), &[5, 7, 5, 1]);
        assert!(a.data().iter().zip(b.data()).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_eq!(*compact.to_tensor().unwrap(), old);
        // Every byte value, once: 51 is exactly 0.2f32, 255 exactly 1.
        let all = Source::U8(Bytes::new((0..=255).collect(), &[256], Scaling::unit()).unwrap());
        let t = all.gather(&(0..256).collect::<Vec<u32>>()).unwrap();
        assert!(t.data().iter().enumerate().all(|(i, &v)| v.to_bits() == (i as f32 / 255.0).to_bits()));
        assert_eq!((t.data()[51], t.data()[255]), (0.2, 1.0));
    }

    #[test]
    fn per_channel_and_affine_scaling() {
        // Two pixels of three channels.
        let data = vec![0, 10, 20, 255, 128, 1];
        let std = Scaling::Standardize { mean: vec![0.0, 10.0, 100.0], std: vec![1.0, 2.0, 4.0] };
        let s = Source::U8(Bytes::new(data.clone(), &[1, 2, 3], std).unwrap());
        assert_eq!(s.gather(&[0]).unwrap().data(), &[0.0, 0.0, -20.0, 255.0, 59.0, -24.75]);
        let aff = Source::U8(Bytes::new(data, &[2, 3], Scaling::Affine { scale: 0.5, offset: -1.0 }).unwrap());
        assert_eq!(aff.gather(&[1, 0]).unwrap().data(), &[126.5, 63.0, -0.5, -1.0, 4.0, 9.0]);
    }

    #[test]
    fn scaling_options() {
        let parse = |text: &str| Scaling::from_json(&serde_json::from_str(text).unwrap());
        assert_eq!(parse("null").unwrap(), Scaling::unit());
        assert_eq!(parse(r#"{"scale": 0.5}"#).unwrap(), Scaling::Affine { scale: 0.5, offset: 0.0 });
        assert_eq!(parse(r#"{"offset": -1}"#).unwrap(), Scaling::Affine { scale: 1.0, offset: -1.0 });
        let s = parse(r#"{"mean": [1, 2, 3], "std": 4}"#).unwrap();
        assert_eq!(s, Scaling::Standardize { mean: vec![1.0, 2.0, 3.0], std: vec![4.0] });
        assert_eq!(parse(r#"{"std": 2}"#).unwrap(), Scaling::Standardize { mean: vec![0.0], std: vec![2.0] });
        for (text, needle) in [
            (r#"{"scale": 1, "mean": 0}"#, "not both"),
            (r#"{"scael": 1}"#, "unknown option 'scael'"),
            (r#"{"scale": "2"}"#, "'scale' must be"),
            (r#"{"mean": [1, "a"]}"#, "mean must hold numbers"),
            (r#"{"std": []}"#, "std must be a number or a list"),
            ("3", "scaling must be"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Argument);
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn classes_gather_one_hot_rows() {
        let c = Source::Classes(Classes::new(vec![2, 0, 1, 2], 3).unwrap());
        assert_eq!(c.shape().as_ref(), &[4, 3]);
        let t = c.gather(&[3, 1]).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.data(), &[0., 0., 1., 1., 0., 0.]);
        assert_eq!(*c.to_tensor().unwrap(), super::super::one_hot(&[2, 0, 1, 2], 3).unwrap());
        let e = Classes::new(vec![0, 3], 3).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(e.message.contains("label 3 at index 1"), "{e}");
    }

    #[test]
    fn take_rows_keeps_the_storage() {
        let (data, shape) = bytes(10, &[2, 2], 5);
        let s = Source::U8(Bytes::new(data, &shape, Scaling::unit()).unwrap());
        let t = s.take_rows(&[4, 2]).unwrap();
        assert_eq!((t.storage(), t.byte_len(), t.shape().into_owned()), ("uint8", 8, vec![2, 2, 2]));
        assert_eq!(t.gather(&[0, 1]).unwrap(), s.gather(&[4, 2]).unwrap());
        let c = Source::Classes(Classes::new(vec![1, 0, 2], 3).unwrap());
        let k = c.take_rows(&[2, 2]).unwrap();
        assert_eq!(k.storage(), "classes");
        assert_eq!(k.gather(&[0, 1]).unwrap(), c.gather(&[2, 2]).unwrap());
    }

    #[test]
    fn bad_rows_and_bad_scalings_are_refused() {
        let s = Source::U8(Bytes::new(vec![0; 6], &[3, 2], Scaling::unit()).unwrap());
        for src in
            [s.clone(), Source::F32(Tensor::zeros(&[3, 2])), Source::Classes(Classes::new(vec![0; 3], 2).unwrap())]
        {
            let e = src.gather(&[0, 3]).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Argument);
            assert!(e.message.contains("batch row 3 (position 1) is out of range for 3 examples"), "{e}");
            assert!(src.take_rows(&[5]).is_err());
        }
        assert_eq!(Source::F32(Tensor::zeros(&[])).gather(&[]).unwrap_err().kind, ErrorKind::Shape);
        let bad = |scaling| Bytes::new(vec![0; 6], &[1, 2, 3], scaling).unwrap_err();
        let std = |mean: Vec<f32>, std: Vec<f32>| Scaling::Standardize { mean, std };
        assert!(bad(std(vec![0.0, 1.0], vec![1.0])).message.contains("mean has 2 values"));
        assert!(bad(std(vec![0.0], vec![1.0, 0.0, 1.0])).message.contains("std 0 is not a positive"));
        assert!(bad(std(vec![f32::NAN], vec![1.0])).message.contains("mean NaN"));
        assert!(bad(Scaling::Affine { scale: f32::INFINITY, offset: 0.0 }).message.contains("finite"));
        assert_eq!(Bytes::new(vec![0; 5], &[1, 2, 3], Scaling::unit()).unwrap_err().kind, ErrorKind::Shape);
    }
}
