//! Embedding lookup (Keras `Embedding`): rows of a table picked by class indices.
//!
//! Tensors are f32, so the indices arrive as floats; each must be a whole number naming a row
//! of the table, and any other value is refused before anything is computed (TensorFlow
//! refuses an out-of-range index on the CPU too, rather than reading past the table). The
//! gradient goes to the table only: each output row's gradient is added to the row it was
//! read from (a scatter-add, in input order, so repeated indices accumulate the same way on
//! any number of threads). Indices get none.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::parallel;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// Output rows copied per parallel task.
const TASK_ROWS: usize = 1024;

/// The multi-index of flat element `i` of `shape`, for error messages.
fn position(shape: &[usize], mut i: usize) -> String {
    let mut at = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        at[d] = i % n.max(1);
        i /= n.max(1);
    }
    shape_str(&at)
}

/// The rows that `indices` name in a table of `rows` rows, or an ArgumentError naming the
/// first value that is not a whole number in `[0, rows)` and where it is.
pub fn check_indices(indices: &Tensor, rows: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(indices.len());
    for (i, &v) in indices.data().iter().enumerate() {
        if v.fract() != 0.0 || !(0.0..rows as f32).contains(&v) {
            let why = if v.is_finite() && v.fract() != 0.0 { "not a whole number" } else { "out of range" };
            return Err(Error::argument(format!(
                "input value {v} at {} of the batch is {why}: indices must be whole numbers in [0, {rows}) (inputDim {rows})",
                position(indices.shape(), i)
            )));
        }
        out.push(v as usize);
    }
    Ok(out)
}

/// `indices` of shape `[...]` picking rows of `table` (`[rows, dim]`): output `[..., dim]`.
pub fn embedding(tape: &mut Tape, indices: Var, table: Var) -> Result<Var> {
    let &[rows, dim] = tape.value(table).shape() else {
        return Err(Error::shape(format!(
            "embedding: the table must be a matrix [rows, dim], got shape {}",
            shape_str(tape.value(table).shape())
        )));
    };
    let picked = check_indices(tape.value(indices), rows)?;
    let mut shape = tape.value(indices).shape().to_vec();
    shape.push(dim);
    let mut out = Tensor::zeros(&shape);
    let src = tape.value(table).data();
    if dim > 0 {
        let picked = &picked;
        parallel::for_each_chunk_mut(out.data_mut(), TASK_ROWS * dim, |t, dst| {
            for (k, row) in dst.chunks_exact_mut(dim).enumerate() {
                let r = picked[t * TASK_ROWS + k];
                row.copy_from_slice(&src[r * dim..(r + 1) * dim]);
            }
        });
    }
    Ok(tape.push(
        out,
        &[indices, table],
        Box::new(move |g, _, _| {
            let mut gt = Tensor::zeros(&[rows, dim]);
            if dim > 0 {
                let acc = gt.data_mut();
                for (&r, d) in picked.iter().zip(g.data().chunks_exact(dim)) {
                    acc[r * dim..(r + 1) * dim].iter_mut().zip(d).for_each(|(a, &v)| *a += v);
                }
            }
            vec![None, Some(gt)]
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{normal, Check};
    use crate::ErrorKind;

    fn ids(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::new(v.to_vec(), shape).unwrap()
    }

    #[test]
    fn rows_are_picked_and_repeated_indices_accumulate() {
        let table = normal(&[5, 3], 1, 1.0, 0.0);
        let mut t = Tape::new();
        let i = t.constant(ids(&[4.0, 0.0, 4.0, 2.0, 4.0, 0.0], &[2, 3]));
        let w = t.leaf(table.clone(), true);
        let y = embedding(&mut t, i, w).unwrap();
        assert_eq!(t.value(y).shape(), &[2, 3, 3]);
        assert_eq!(&t.value(y).data()[..3], &table.data()[12..15]);
        assert_eq!(&t.value(y).data()[3..6], &table.data()[..3]);
        let dy = normal(&[2, 3, 3], 2, 1.0, 0.0);
        t.backward_with(y, dy.clone()).unwrap();
        let g = t.grad(w).unwrap().data();
        let d = dy.data();
        for k in 0..3 {
            assert_eq!(g[4 * 3 + k], d[k] + d[6 + k] + d[12 + k], "row 4 is read three times");
            assert_eq!(g[k], d[3 + k] + d[15 + k]);
            assert_eq!(g[2 * 3 + k], d[9 + k]);
            assert_eq!((g[3 + k], g[9 + k]), (0.0, 0.0), "rows never read get nothing");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Only the table is probed: the indices are not differentiable (a nudged index is
        // not an index).
        let indices = ids(&[1.0, 3.0, 1.0, 0.0, 6.0, 1.0, 3.0, 2.0], &[4, 2]);
        let table = [normal(&[7, 4], 3, 1.0, 0.0)];
        Check::default().run("embedding", &table, |t, v| {
            let i = t.constant(indices.clone());
            embedding(t, i, v[0])
        });
        // Many rows: several parallel tasks.
        let many = Tensor::new((0..5000).map(|i| (i * 7 % 11) as f32).collect(), &[50, 100]).unwrap();
        let mut t = Tape::new();
        let (i, w) = (t.constant(many.clone()), t.leaf(normal(&[11, 2], 4, 1.0, 0.0), true));
        let y = embedding(&mut t, i, w).unwrap();
        for (p, &r) in many.data().iter().enumerate() {
            assert_eq!(&t.value(y).data()[p * 2..p * 2 + 2], &t.value(w).data()[r as usize * 2..][..2]);
        }
    }

    #[test]
    fn bad_indices_are_refused_naming_the_value_and_where() {
        let mut t = Tape::new();
        let w = t.leaf(Tensor::zeros(&[10, 2]), true);
        let mut err = |v: &[f32]| {
            let i = t.constant(ids(v, &[2, 2]));
            embedding(&mut t, i, w).unwrap_err()
        };
        let e = err(&[1.0, 2.0, 10.0, 3.0]);
        assert_eq!(e.kind, ErrorKind::Argument);
        assert_eq!(
            e.message,
            "input value 10 at [1, 0] of the batch is out of range: indices must be whole numbers in [0, 10) (inputDim 10)"
        );
        assert!(err(&[1.0, 2.5, 0.0, 0.0])
            .message
            .starts_with("input value 2.5 at [0, 1] of the batch is not a whole number"));
        assert!(err(&[-1.0, 0.0, 0.0, 0.0])
            .message
            .starts_with("input value -1 at [0, 0] of the batch is out of range"));
        assert!(err(&[0.0, 0.0, 0.0, f32::NAN]).message.starts_with("input value NaN at [1, 1]"));
        assert!(err(&[0.0, f32::INFINITY, 0.0, 0.0])
            .message
            .starts_with("input value inf at [0, 1] of the batch is out of range"));
        let bad = t.leaf(Tensor::zeros(&[10]), true);
        let i = t.constant(ids(&[0.0], &[1]));
        assert_eq!(embedding(&mut t, i, bad).unwrap_err().kind, ErrorKind::Shape);
    }
}
