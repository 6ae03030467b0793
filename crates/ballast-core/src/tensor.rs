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
        let want: usize = shape.iter().product();
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
        let mut out = Tensor::zeros(&[m, n]);
        gemm(Gemm::new(m, n, ka).trans_a(trans_a).trans_b(trans_b), &self.data, &other.data, &mut out.data)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
