//! A dense f32 tensor: a shape and row-major storage. Images are NHWC, as in Keras.

use crate::error::{Error, Result};
use crate::kernels::gemm::{gemm, Gemm};

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

pub fn shape_str(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

impl Tensor {
    /// A tensor over `data`, which must hold exactly the product of `shape` values.
    pub fn new(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        // Checked: on wasm32 a product of large dimensions would wrap (65536 × 65536 = 0).
        let want = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| {
            Error::shape(format!("tensor of shape {} has more elements than memory can index", shape_str(shape)))
        })?;
        if data.len() != want {
            return Err(Error::shape(format!(
                "tensor of shape {} needs {want} values, got {}",
                shape_str(shape),
                data.len()
            )));
        }
        Ok(Tensor { shape: shape.to_vec(), data })
    }

    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor { shape: shape.to_vec(), data: vec![0.0; shape.iter().product()] }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Matrix product of two rank-2 tensors, either one optionally transposed.
    pub fn matmul(&self, other: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
        let (a, b) = (&self.shape, &other.shape);
        if a.len() != 2 || b.len() != 2 {
            return Err(Error::shape(format!(
                "matmul needs two matrices, got shapes {} and {}",
                shape_str(a),
                shape_str(b)
            )));
        }
        let (m, ka) = if trans_a { (a[1], a[0]) } else { (a[0], a[1]) };
        let (kb, n) = if trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
        if ka != kb {
            let t = |s: &[usize], t: bool| if t { format!("{}ᵀ", shape_str(s)) } else { shape_str(s) };
            return Err(Error::shape(format!(
                "matmul: inner dimensions differ: {} · {} ({ka} vs {kb})",
                t(a, trans_a),
                t(b, trans_b)
            )));
        }
        crate::memory::check_f32(m.saturating_mul(n), || format!("matmul: the output [{m}, {n}]"))?;
        let mut out = Tensor::zeros(&[m, n]);
        gemm(Gemm::new(m, n, ka).trans_a(trans_a).trans_b(trans_b), &self.data, &other.data, &mut out.data)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_that_overflow_are_refused() {
        let err = Tensor::new(Vec::new(), &[usize::MAX, 2]).unwrap_err();
        assert!(err.message.contains("more elements than memory can index"), "{}", err.message);
    }

    #[test]
    fn matmul_shapes_and_values() {
        let a = Tensor::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        let b = Tensor::new(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]).unwrap();
        let c = a.matmul(&b, false, false).unwrap();
        assert_eq!(c.shape(), &[2, 2]);
        assert_eq!(c.data(), &[4.0, 5.0, 10.0, 11.0]);
        let ct = a.matmul(&a, false, true).unwrap(); // A·Aᵀ
        assert_eq!(ct.data(), &[14.0, 32.0, 32.0, 77.0]);
    }

    #[test]
    fn matmul_mismatch_names_both_shapes() {
        let a = Tensor::zeros(&[2, 3]);
        let err = a.matmul(&a, false, false).unwrap_err();
        assert!(err.message.contains("[2, 3] · [2, 3]"), "{}", err.message);
        assert!(Tensor::new(vec![0.0; 5], &[2, 3]).is_err());
    }
}

/// The shape two operands broadcast to (NumPy rules), or a ShapeError naming both.
pub fn broadcast_shapes(a: &[usize], b: &[usize], op: &str) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shape(format!(
                    "{op}: shapes {} and {} cannot be broadcast together",
                    shape_str(a),
                    shape_str(b)
                )))
            }
        };
    }
    Ok(out)
}

/// Row-major strides of `shape` as seen from a broadcast output of rank `rank`
/// (stride 0 along broadcast dimensions).
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let rank = out.len();
    let mut strides = vec![0; rank];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        let o = i + rank - shape.len();
        strides[o] = if shape[i] == 1 && out[o] != 1 { 0 } else { s };
        s *= shape[i];
    }
    strides
}

impl Tensor {
    pub fn scalar(v: f32) -> Tensor {
        Tensor { shape: vec![], data: vec![v] }
    }

    pub fn full(shape: &[usize], v: f32) -> Tensor {
        Tensor { shape: shape.to_vec(), data: vec![v; shape.iter().product()] }
    }

    /// Same data, another shape with the same number of elements.
    pub fn reshape(mut self, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if n != self.data.len() {
            return Err(Error::shape(format!(
                "reshape: cannot view {} ({} values) as {}",
                shape_str(&self.shape),
                self.data.len(),
                shape_str(shape)
            )));
        }
        self.shape = shape.to_vec();
        Ok(self)
    }

    pub fn map(&self, f: impl Fn(f32) -> f32) -> Tensor {
        Tensor { shape: self.shape.clone(), data: self.data.iter().map(|&v| f(v)).collect() }
    }

    /// `f(flat index, value)` elementwise.
    pub fn map_indexed(&self, f: impl Fn(usize, f32) -> f32) -> Tensor {
        Tensor { shape: self.shape.clone(), data: self.data.iter().enumerate().map(|(i, &v)| f(i, v)).collect() }
    }

    /// `f(a, b)` elementwise with NumPy broadcasting.
    pub fn zip_broadcast(&self, other: &Tensor, op: &str, f: impl Fn(f32, f32) -> f32) -> Result<Tensor> {
        if self.shape == other.shape {
            let data = self.data.iter().zip(&other.data).map(|(&a, &b)| f(a, b)).collect();
            return Ok(Tensor { shape: self.shape.clone(), data });
        }
        let shape = broadcast_shapes(&self.shape, &other.shape, op)?;
        let (sa, sb) = (broadcast_strides(&self.shape, &shape), broadcast_strides(&other.shape, &shape));
        let n: usize = shape.iter().product();
        let mut data = Vec::with_capacity(n);
        let mut index = vec![0usize; shape.len()];
        let (mut ia, mut ib) = (0usize, 0usize);
        for _ in 0..n {
            data.push(f(self.data[ia], other.data[ib]));
            // Odometer increment, keeping both flat offsets in step.
            for d in (0..shape.len()).rev() {
                index[d] += 1;
                ia += sa[d];
                ib += sb[d];
                if index[d] < shape[d] {
                    break;
                }
                ia -= sa[d] * shape[d];
                ib -= sb[d] * shape[d];
                index[d] = 0;
            }
        }
        Ok(Tensor { shape, data })
    }

    /// Sums a broadcast gradient back down to `shape` (the inverse of broadcasting).
    pub fn sum_to_shape(&self, shape: &[usize]) -> Tensor {
        if self.shape == shape {
            return self.clone();
        }
        let strides = broadcast_strides(shape, &self.shape);
        let mut out = Tensor::zeros(shape);
        let mut index = vec![0usize; self.shape.len()];
        let mut io = 0usize;
        for &v in &self.data {
            out.data[io] += v;
            for d in (0..self.shape.len()).rev() {
                index[d] += 1;
                io += strides[d];
                if index[d] < self.shape[d] {
                    break;
                }
                io -= strides[d] * self.shape[d];
                index[d] = 0;
            }
        }
        out
    }

    pub fn sum(&self) -> f32 {
        // Pairwise-ish: f64 accumulation keeps large sums accurate.
        self.data.iter().map(|&v| v as f64).sum::<f64>() as f32
    }

    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }
}

#[cfg(test)]
mod broadcast_tests {
    use super::*;

    #[test]
    fn broadcasting_and_its_inverse() {
        let a = Tensor::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        let b = Tensor::new(vec![10.0, 20.0, 30.0], &[3]).unwrap();
        let c = a.zip_broadcast(&b, "add", |x, y| x + y).unwrap();
        assert_eq!(c.data(), &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        let col = Tensor::new(vec![1.0, 2.0], &[2, 1]).unwrap();
        let d = col.zip_broadcast(&b, "mul", |x, y| x * y).unwrap();
        assert_eq!(d.shape(), &[2, 3]);
        assert_eq!(d.data(), &[10.0, 20.0, 30.0, 20.0, 40.0, 60.0]);
        assert_eq!(d.sum_to_shape(&[3]).data(), &[30.0, 60.0, 90.0]);
        assert_eq!(d.sum_to_shape(&[2, 1]).data(), &[60.0, 120.0]);
        assert_eq!(d.sum_to_shape(&[]).data(), &[180.0]);
        let err = a.zip_broadcast(&Tensor::zeros(&[2]), "add", |x, _| x).unwrap_err();
        assert!(err.message.contains("[2, 3] and [2]"), "{}", err.message);
    }
}
