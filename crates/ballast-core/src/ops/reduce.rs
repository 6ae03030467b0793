//! Sums and means, over all elements or over chosen axes (kept as size-1 dimensions or dropped).

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

fn reduced_shape(shape: &[usize], axes: &[usize], op: &str) -> Result<Vec<usize>> {
    let mut kept = shape.to_vec();
    for &a in axes {
        if a >= shape.len() {
            return Err(Error::argument(format!("{op}: axis {a} is out of range for shape {}", shape_str(shape))));
        }
        kept[a] = 1;
    }
    Ok(kept)
}

/// Σ over `axes` (all axes when empty). `keep_dims` keeps them as size 1.
pub fn sum(tape: &mut Tape, x: Var, axes: &[usize], keep_dims: bool) -> Result<Var> {
    reduce(tape, x, axes, keep_dims, false)
}

/// Mean over `axes` (all axes when empty).
pub fn mean(tape: &mut Tape, x: Var, axes: &[usize], keep_dims: bool) -> Result<Var> {
    reduce(tape, x, axes, keep_dims, true)
}

fn reduce(tape: &mut Tape, x: Var, axes: &[usize], keep_dims: bool, mean: bool) -> Result<Var> {
    let shape = tape.value(x).shape().to_vec();
    let all: Vec<usize> = (0..shape.len()).collect();
    let axes = if axes.is_empty() { &all[..] } else { axes };
    let kept = reduced_shape(&shape, axes, if mean { "mean" } else { "sum" })?;
    let count = (shape.iter().product::<usize>() / kept.iter().product::<usize>().max(1)).max(1) as f32;
    let factor = if mean { 1.0 / count } else { 1.0 };
    let summed = tape.value(x).sum_to_shape(&kept).map(|v| v * factor);
    let out_shape: Vec<usize> = if keep_dims {
        kept.clone()
    } else {
        shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
    };
    let value = summed.reshape(&out_shape)?;
    Ok(tape.push(
        value,
        &[x],
        Box::new(move |g, inputs, _| {
            let g = g.clone().reshape(&kept).unwrap();
            let gx = Tensor::zeros(inputs[0].shape()).zip_broadcast(&g, "reduce", |_, g| g * factor).unwrap();
            vec![Some(gx)]
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;
    use crate::rng::Rng;

    #[test]
    fn reductions_and_gradients() {
        let mut r = Rng::new(5);
        let x = Tensor::new((0..24).map(|_| r.uniform(-1.0, 1.0)).collect(), &[2, 3, 4]).unwrap();
        let mut t = Tape::new();
        let v = t.leaf(x.clone(), false);
        let s = sum(&mut t, v, &[1], false).unwrap();
        assert_eq!(t.value(s).shape(), &[2, 4]);
        let m = mean(&mut t, v, &[0, 2], true).unwrap();
        assert_eq!(t.value(m).shape(), &[1, 3, 1]);
        let all = mean(&mut t, v, &[], false).unwrap();
        assert!((t.value(all).data()[0] - x.sum() / 24.0).abs() < 1e-6);
        let check = Check::default();
        let ins = [x];
        check.run("sum axis 1", &ins, |t, v| sum(t, v[0], &[1], false));
        check.run("mean axes 0,2", &ins, |t, v| mean(t, v[0], &[0, 2], true));
        check.run("mean all", &ins, |t, v| mean(t, v[0], &[], false));
        assert!(sum(&mut t, v, &[3], false).is_err());
    }
}
