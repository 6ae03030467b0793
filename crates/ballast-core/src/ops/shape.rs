//! Reshape, flatten and transpose.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

pub fn reshape(tape: &mut Tape, x: Var, shape: &[usize]) -> Result<Var> {
    let value = tape.value(x).clone().reshape(shape)?;
    Ok(tape.push(value, &[x], Box::new(|g, inputs, _| vec![Some(g.clone().reshape(inputs[0].shape()).unwrap())])))
}

/// `[n, d1, d2, ...]` → `[n, d1·d2·...]`, in row-major (NHWC) order as Keras flattens.
pub fn flatten(tape: &mut Tape, x: Var) -> Result<Var> {
    let shape = tape.value(x).shape();
    if shape.is_empty() {
        return Err(Error::shape("flatten needs a batch axis, got a scalar"));
    }
    let rest = shape[1..].iter().product();
    let n = shape[0];
    reshape(tape, x, &[n, rest])
}

fn permute(x: &Tensor, perm: &[usize]) -> Tensor {
    let shape = x.shape();
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let mut strides = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    let src_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    let mut out = Vec::with_capacity(x.len());
    let mut index = vec![0usize; shape.len()];
    let mut offset = 0usize;
    for _ in 0..x.len() {
        out.push(x.data()[offset]);
        for d in (0..out_shape.len()).rev() {
            index[d] += 1;
            offset += src_strides[d];
            if index[d] < out_shape[d] {
                break;
            }
            offset -= src_strides[d] * out_shape[d];
            index[d] = 0;
        }
    }
    Tensor::new(out, &out_shape).unwrap()
}

/// Permutes the axes: output axis i is input axis `perm[i]`.
pub fn transpose(tape: &mut Tape, x: Var, perm: &[usize]) -> Result<Var> {
    let shape = tape.value(x).shape();
    let mut seen = vec![false; shape.len()];
    let valid =
        perm.len() == shape.len() && perm.iter().all(|&p| p < shape.len() && !std::mem::replace(&mut seen[p], true));
    if !valid {
        return Err(Error::argument(format!(
            "transpose: {perm:?} is not a permutation of the axes of {}",
            shape_str(shape)
        )));
    }
    let value = permute(tape.value(x), perm);
    let mut inverse = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    Ok(tape.push(value, &[x], Box::new(move |g, _, _| vec![Some(permute(g, &inverse))])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;

    #[test]
    fn transpose_values_and_gradient() {
        let x = Tensor::new((0..24).map(|v| v as f32).collect(), &[2, 3, 4]).unwrap();
        let mut t = Tape::new();
        let v = t.leaf(x.clone(), false);
        let y = transpose(&mut t, v, &[2, 0, 1]).unwrap();
        assert_eq!(t.value(y).shape(), &[4, 2, 3]);
        // y[k][i][j] = x[i][j][k]
        assert_eq!(t.value(y).data()[1 * 6 + 1 * 3 + 2], x.data()[1 * 12 + 2 * 4 + 1]);
        assert!(transpose(&mut t, v, &[0, 0, 1]).is_err());
        let check = Check::default();
        check.run("transpose", &[x.clone()], |t, v| transpose(t, v[0], &[1, 2, 0]));
        check.run("flatten", &[x.clone()], |t, v| flatten(t, v[0]));
        check.run("reshape", &[x], |t, v| reshape(t, v[0], &[4, 6]));
    }
}
