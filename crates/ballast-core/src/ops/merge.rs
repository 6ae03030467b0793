//! Merging several tensors into one: Keras' element-wise merges of tensors of one shape
//! (`Add`, `Multiply`, `Subtract`, `Maximum`, `Average`) and `Concatenate` (along one axis).
//! The shape rules are functions of shapes alone, so that layers infer their output shapes at
//! build time with the very checks the ops apply. Shapes include the batch axis.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::parallel;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// Elements per parallel task: enough work per task to outweigh its scheduling.
const TASK_LEN: usize = 1 << 16;

fn shape_list(shapes: &[&[usize]]) -> String {
    shapes.iter().map(|s| shape_str(s)).collect::<Vec<_>>().join(", ")
}

/// The output shape of an element-wise merge named `op`: at least two inputs, all of one
/// shape (no broadcasting, as Keras' merge layers are used).
pub fn elementwise_output_shape(op: &str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    if shapes.len() < 2 {
        return Err(Error::argument(format!(
            "{op} needs at least 2 inputs, got {} ({})",
            shapes.len(),
            shape_list(shapes)
        )));
    }
    if shapes.iter().any(|s| *s != shapes[0]) {
        return Err(Error::shape(format!("{op}: inputs must all have the same shape, got {}", shape_list(shapes))));
    }
    Ok(shapes[0].to_vec())
}

/// The output shape of [`add_n`] (Keras' `Add`).
pub fn add_output_shape(shapes: &[&[usize]]) -> Result<Vec<usize>> {
    elementwise_output_shape("add", shapes)
}

/// The output shape of [`subtract`]: exactly two inputs (Keras' `Subtract`), of one shape.
pub fn subtract_output_shape(shapes: &[&[usize]]) -> Result<Vec<usize>> {
    if shapes.len() != 2 {
        return Err(Error::argument(format!(
            "subtract needs exactly 2 inputs, got {} ({})",
            shapes.len(),
            shape_list(shapes)
        )));
    }
    elementwise_output_shape("subtract", shapes)
}

/// The output shape of [`concatenate`] along `axis` (already resolved; 0 is the batch axis):
/// at least one input, one rank for all, equal dimensions except along `axis`.
pub fn concat_output_shape(shapes: &[&[usize]], axis: usize) -> Result<Vec<usize>> {
    let Some(&first) = shapes.first() else {
        return Err(Error::argument("concatenate needs at least 1 input, got none"));
    };
    if shapes.iter().any(|s| s.len() != first.len()) {
        return Err(Error::shape(format!("concatenate: inputs must have the same rank, got {}", shape_list(shapes))));
    }
    if axis >= first.len() {
        return Err(Error::argument(format!(
            "concatenate: axis {axis} is out of range for inputs of rank {}, got {}",
            first.len(),
            shape_list(shapes)
        )));
    }
    let others_equal = |s: &[usize]| s.iter().zip(first).enumerate().all(|(i, (a, b))| i == axis || a == b);
    if !shapes.iter().all(|s| others_equal(s)) {
        return Err(Error::shape(format!(
            "concatenate: inputs must have equal dimensions except along axis {axis}, got {}",
            shape_list(shapes)
        )));
    }
    let mut out = first.to_vec();
    out[axis] = shapes.iter().map(|s| s[axis]).sum();
    Ok(out)
}

/// Which inputs want a gradient: the others are spared a copy of it.
fn needs_grad(tape: &Tape, xs: &[Var]) -> Vec<bool> {
    xs.iter().map(|&x| tape.requires_grad(x)).collect()
}

/// `xs[0] + xs[1] + …` elementwise (Keras `Add`), summed left to right.
pub fn add_n(tape: &mut Tape, xs: &[Var]) -> Result<Var> {
    let shapes: Vec<&[usize]> = xs.iter().map(|&x| tape.value(x).shape()).collect();
    let mut out = Tensor::zeros(&add_output_shape(&shapes)?);
    let srcs: Vec<&[f32]> = xs.iter().map(|&x| tape.value(x).data()).collect();
    // One pass over the output: each chunk takes every input while it is in cache.
    parallel::for_each_chunk_mut(out.data_mut(), TASK_LEN, |t, dst| {
        let at = t * TASK_LEN..t * TASK_LEN + dst.len();
        dst.copy_from_slice(&srcs[0][at.clone()]);
        for src in &srcs[1..] {
            dst.iter_mut().zip(&src[at.clone()]).for_each(|(d, &s)| *d += s);
        }
    });
    let need = needs_grad(tape, xs);
    // An input listed twice receives the gradient twice; the tape adds the two up.
    Ok(tape.push(out, xs, Box::new(move |g, _, _| need.iter().map(|&n| n.then(|| g.clone())).collect())))
}

/// An element-wise merge of `xs` (checked as `op`): the output is `first(x0)` then
/// `step(acc, xi)` for each later input, in input order, over chunks in parallel.
fn fold_inputs(tape: &Tape, op: &str, xs: &[Var], step: impl Fn(&mut f32, f32) + Sync + Send) -> Result<Tensor> {
    let shapes: Vec<&[usize]> = xs.iter().map(|&x| tape.value(x).shape()).collect();
    let mut out = Tensor::zeros(&elementwise_output_shape(op, &shapes)?);
    let srcs: Vec<&[f32]> = xs.iter().map(|&x| tape.value(x).data()).collect();
    parallel::for_each_chunk_mut(out.data_mut(), TASK_LEN, |t, dst| {
        let at = t * TASK_LEN..t * TASK_LEN + dst.len();
        dst.copy_from_slice(&srcs[0][at.clone()]);
        for src in &srcs[1..] {
            dst.iter_mut().zip(&src[at.clone()]).for_each(|(d, &s)| step(d, s));
        }
    });
    Ok(out)
}

/// A gradient per input that needs one: `grad(i, dst, at)` fills input `i`'s gradient over
/// the elements `at`, in parallel chunks.
fn input_grads(
    shape: &[usize],
    need: &[bool],
    grad: impl Fn(usize, &mut [f32], std::ops::Range<usize>) + Sync + Send,
) -> Vec<Option<Tensor>> {
    let grad = &grad;
    need.iter()
        .enumerate()
        .map(|(i, &n)| {
            n.then(|| {
                let mut gx = Tensor::zeros(shape);
                parallel::for_each_chunk_mut(gx.data_mut(), TASK_LEN, |t, dst| {
                    grad(i, dst, t * TASK_LEN..t * TASK_LEN + dst.len())
                });
                gx
            })
        })
        .collect()
}

/// `xs[0] · xs[1] · …` elementwise (Keras `Multiply`), multiplied left to right. Input `i`'s
/// gradient is the upstream gradient times every other input.
pub fn multiply_n(tape: &mut Tape, xs: &[Var]) -> Result<Var> {
    let out = fold_inputs(tape, "multiply", xs, |d, s| *d *= s)?;
    let need = needs_grad(tape, xs);
    Ok(tape.push(
        out,
        xs,
        Box::new(move |g, inputs, _| {
            input_grads(g.shape(), &need, |i, dst, at| {
                dst.copy_from_slice(&g.data()[at.clone()]);
                for (_, x) in inputs.iter().enumerate().filter(|&(j, _)| j != i) {
                    dst.iter_mut().zip(&x.data()[at.clone()]).for_each(|(d, &v)| *d *= v);
                }
            })
        }),
    ))
}

/// `xs[0] − xs[1]` (Keras `Subtract`: exactly two inputs).
pub fn subtract(tape: &mut Tape, xs: &[Var]) -> Result<Var> {
    let shapes: Vec<&[usize]> = xs.iter().map(|&x| tape.value(x).shape()).collect();
    subtract_output_shape(&shapes)?;
    let out = fold_inputs(tape, "subtract", xs, |d, s| *d -= s)?;
    let need = needs_grad(tape, xs);
    Ok(tape.push(out, xs, Box::new(move |g, _, _| vec![need[0].then(|| g.clone()), need[1].then(|| g.map(|v| -v))])))
}

/// The element-wise maximum (Keras `Maximum`), taken left to right as Keras does
/// (`maximum(maximum(x0, x1), x2)`): on a tie the earlier input keeps the value and, as in
/// TensorFlow's gradient of `maximum`, the whole gradient. A NaN propagates.
pub fn maximum_n(tape: &mut Tape, xs: &[Var]) -> Result<Var> {
    let out = fold_inputs(tape, "maximum", xs, |d, s| {
        if s > *d || s.is_nan() {
            *d = s
        }
    })?;
    let need = needs_grad(tape, xs);
    Ok(tape.push(
        out,
        xs,
        Box::new(move |g, inputs, y| {
            // The winner of an element is the first input equal to the output there.
            input_grads(g.shape(), &need, |i, dst, at| {
                for (k, e) in at.enumerate() {
                    let m = y.data()[e];
                    let wins = inputs[i].data()[e] == m && inputs[..i].iter().all(|x| x.data()[e] != m);
                    dst[k] = if wins { g.data()[e] } else { 0.0 };
                }
            })
        }),
    ))
}

/// The element-wise mean (Keras `Average`): the inputs summed left to right, divided by
/// their number.
pub fn average_n(tape: &mut Tape, xs: &[Var]) -> Result<Var> {
    let mut out = fold_inputs(tape, "average", xs, |d, s| *d += s)?;
    let n = xs.len() as f32;
    out.data_mut().iter_mut().for_each(|v| *v /= n);
    let need = needs_grad(tape, xs);
    Ok(tape.push(
        out,
        xs,
        Box::new(move |g, _, _| {
            let share = g.map(|v| v / n);
            need.iter().map(|&k| k.then(|| share.clone())).collect()
        }),
    ))
}

/// Fills `dst`, a stack of blocks of `block` values, block `r` from `src_row(r)`, in parallel
/// over groups of blocks.
fn copy_rows<'a>(dst: &mut [f32], block: usize, src_row: impl Fn(usize) -> &'a [f32] + Sync + Send) {
    // An empty block: nothing to copy.
    let Some(rows) = TASK_LEN.checked_div(block) else { return };
    let rows_per_task = rows.max(1);
    parallel::for_each_chunk_mut(dst, rows_per_task * block, |t, dst| {
        for (r, row) in dst.chunks_exact_mut(block).enumerate() {
            row.copy_from_slice(src_row(t * rows_per_task + r));
        }
    });
}

/// Joins `xs` along `axis` (resolved by the caller; 0 is the batch axis).
///
/// Viewed as `[outer, dim_i × inner]`, every input is a stack of `outer` contiguous blocks,
/// and an output row is the inputs' blocks side by side: the op copies whole blocks, and its
/// gradient copies them back out.
pub fn concatenate(tape: &mut Tape, xs: &[Var], axis: usize) -> Result<Var> {
    let shapes: Vec<Vec<usize>> = xs.iter().map(|&x| tape.value(x).shape().to_vec()).collect();
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let shape = concat_output_shape(&refs, axis)?;
    let inner: usize = shape[axis + 1..].iter().product();
    let blocks: Vec<usize> = shapes.iter().map(|s| s[axis] * inner).collect();
    // Where each input's block starts within an output row.
    let starts: Vec<usize> = blocks.iter().scan(0, |at, &b| Some(std::mem::replace(at, *at + b))).collect();
    let row: usize = blocks.iter().sum();

    let mut out = Tensor::zeros(&shape);
    let srcs: Vec<&[f32]> = xs.iter().map(|&x| tape.value(x).data()).collect();
    // Whole output rows per task; inside a row, one block per input. Rows are empty only
    // when the output is, which then needs no copy.
    if let Some(rows) = TASK_LEN.checked_div(row) {
        let rows_per_task = rows.max(1);
        parallel::for_each_chunk_mut(out.data_mut(), rows_per_task * row, |t, dst| {
            for (r, dst) in dst.chunks_exact_mut(row).enumerate() {
                let o = t * rows_per_task + r;
                for ((src, &b), &at) in srcs.iter().zip(&blocks).zip(&starts) {
                    dst[at..at + b].copy_from_slice(&src[o * b..(o + 1) * b]);
                }
            }
        });
    }
    let need = needs_grad(tape, xs);
    Ok(tape.push(
        out,
        xs,
        Box::new(move |g, _, _| {
            let g = g.data();
            let grads = shapes.iter().zip(&need).zip(blocks.iter().zip(&starts));
            grads
                .map(|((s, &n), (&b, &at))| {
                    n.then(|| {
                        let mut gx = Tensor::zeros(s);
                        copy_rows(gx.data_mut(), b, |o| &g[o * row + at..][..b]);
                        gx
                    })
                })
                .collect()
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{normal, Check};
    use crate::ErrorKind;

    #[test]
    fn add_n_gradient_accumulates_over_repeated_inputs() {
        // Linear in every input: the default tolerances have a wide margin.
        let check = Check::default();
        let ins = [normal(&[2, 3, 4], 1, 1.0, 0.0), normal(&[2, 3, 4], 2, 1.0, 0.0)];
        check.run("add_n(a, a, b)", &ins, |t, v| add_n(t, &[v[0], v[0], v[1]]));
        let ins = [
            normal(&[3, 2, 2, 5], 3, 1.0, 0.0),
            normal(&[3, 2, 2, 5], 4, 1.0, 0.0),
            normal(&[3, 2, 2, 5], 5, 1.0, 0.0),
        ];
        check.run("add_n(a, b, c)", &ins, add_n);

        let mut t = Tape::new();
        let a = t.leaf(ins[0].clone(), true);
        let b = t.constant(ins[1].clone());
        let y = add_n(&mut t, &[a, b, a]).unwrap();
        let want: Vec<f32> = ins[0].data().iter().zip(ins[1].data()).map(|(&a, &b)| a + b + a).collect();
        assert_eq!(t.value(y).data(), &want[..]);
        let dy = normal(&[3, 2, 2, 5], 6, 1.0, 0.0);
        t.backward_with(y, dy.clone()).unwrap();
        assert_eq!(t.grad(a).unwrap(), &dy.map(|v| v + v));
        assert!(t.grad(b).is_none());
    }

    #[test]
    fn add_n_errors_name_every_shape() {
        let mut t = Tape::new();
        let a = t.leaf(Tensor::zeros(&[2, 3]), true);
        let b = t.leaf(Tensor::zeros(&[2, 3]), true);
        let c = t.leaf(Tensor::zeros(&[3, 2]), true);
        let e = add_n(&mut t, &[a, b, c]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("[2, 3], [2, 3], [3, 2]"), "{}", e.message);
        // Broadcasting is no excuse.
        let d = t.leaf(Tensor::zeros(&[3]), true);
        assert_eq!(add_n(&mut t, &[a, d]).unwrap_err().kind, ErrorKind::Shape);
        let e = add_n(&mut t, &[a]).unwrap_err();
        assert!(e.kind == ErrorKind::Argument && e.message.contains("[2, 3]"), "{}", e.message);
        assert_eq!(add_output_shape(&[]).unwrap_err().kind, ErrorKind::Argument);
        assert_eq!(add_output_shape(&[&[4, 5], &[4, 5]]).unwrap(), [4, 5]);
    }

    #[test]
    fn concatenate_gradients_along_each_axis() {
        let check = Check::default();
        let ins = [
            normal(&[2, 3, 4, 2], 1, 1.0, 0.0),
            normal(&[2, 3, 4, 5], 2, 1.0, 0.0),
            normal(&[2, 3, 4, 1], 3, 1.0, 0.0),
        ];
        check.run("concatenate axis 3", &ins, |t, v| concatenate(t, v, 3));
        let ins = [
            normal(&[2, 3, 4, 2], 1, 1.0, 0.0),
            normal(&[2, 3, 1, 2], 2, 1.0, 0.0),
            normal(&[2, 3, 2, 2], 3, 1.0, 0.0),
        ];
        check.run("concatenate axis 2", &ins, |t, v| concatenate(t, v, 2));
        let ins = [normal(&[2, 1, 4, 2], 1, 1.0, 0.0), normal(&[2, 3, 4, 2], 2, 1.0, 0.0)];
        check.run("concatenate axis 1", &ins, |t, v| concatenate(t, v, 1));
        check.run("concatenate batch axis", &ins[1..], |t, v| concatenate(t, &[v[0], v[0]], 0));
        let ins = [normal(&[3, 4], 1, 1.0, 0.0), normal(&[3, 7], 2, 1.0, 0.0)];
        check.run("concatenate 2-D axis 1", &ins, |t, v| concatenate(t, v, 1));
        check.run("concatenate one input", &ins[..1], |t, v| concatenate(t, v, 1));
    }

    /// Per-element reference: the output index, decomposed, says which input it comes from.
    fn naive_concat(xs: &[Tensor], axis: usize) -> Vec<f32> {
        let shapes: Vec<&[usize]> = xs.iter().map(|x| x.shape()).collect();
        let shape = concat_output_shape(&shapes, axis).unwrap();
        let inner: usize = shape[axis + 1..].iter().product();
        (0..shape.iter().product::<usize>())
            .map(|i| {
                let (o, mut k, r) = (i / (shape[axis] * inner), i / inner % shape[axis], i % inner);
                for x in xs {
                    let d = x.shape()[axis];
                    if k < d {
                        return x.data()[(o * d + k) * inner + r];
                    }
                    k -= d;
                }
                unreachable!("index {i} beyond the inputs")
            })
            .collect()
    }

    #[test]
    fn concatenate_copies_blocks_across_tasks() {
        let mut t = Tape::new();
        let a = t.leaf(Tensor::new(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap(), true);
        let b = t.leaf(Tensor::new(vec![5.0, 6.0], &[2, 1]).unwrap(), true);
        let y = concatenate(&mut t, &[a, b], 1).unwrap();
        assert_eq!(t.value(y).data(), &[1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
        // Large enough for many tasks, with rows that do not divide a task evenly.
        for (axis, dims) in [(3, [[300, 7, 5, 3], [300, 7, 5, 8]]), (1, [[9, 1000, 3, 2], [9, 77, 3, 2]])] {
            let xs = [normal(&dims[0], 1, 1.0, 0.0), normal(&dims[1], 2, 1.0, 0.0)];
            let mut t = Tape::new();
            let v: Vec<Var> = xs.iter().map(|x| t.leaf(x.clone(), true)).collect();
            let y = concatenate(&mut t, &v, axis).unwrap();
            assert_eq!(t.value(y).data(), &naive_concat(&xs, axis)[..], "axis {axis}");
            // The gradient of a concatenation of the inputs' own indices gives them back.
            let ids: Vec<Tensor> =
                xs.iter().map(|x| Tensor::new((0..x.len()).map(|i| i as f32).collect(), x.shape()).unwrap()).collect();
            t.backward_with(y, Tensor::new(naive_concat(&ids, axis), t.value(y).shape()).unwrap()).unwrap();
            for (var, id) in v.iter().zip(&ids) {
                assert_eq!(t.grad(*var).unwrap(), id, "axis {axis}");
            }
        }
    }

    #[test]
    fn concatenate_errors_name_the_shapes() {
        let mut t = Tape::new();
        let a = t.leaf(Tensor::zeros(&[2, 4, 4, 3]), true);
        let b = t.leaf(Tensor::zeros(&[2, 4, 5, 2]), true);
        let e = concatenate(&mut t, &[a, b], 3).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("axis 3") && e.message.contains("[2, 4, 4, 3], [2, 4, 5, 2]"), "{}", e.message);
        let c = t.leaf(Tensor::zeros(&[2, 4, 4]), true);
        let e = concatenate(&mut t, &[a, c], 1).unwrap_err();
        assert!(e.kind == ErrorKind::Shape && e.message.contains("rank") && e.message.contains("[2, 4, 4]"));
        let e = concatenate(&mut t, &[a, a], 4).unwrap_err();
        assert!(e.kind == ErrorKind::Argument && e.message.contains("axis 4"), "{}", e.message);
        assert_eq!(concatenate(&mut t, &[], 0).unwrap_err().kind, ErrorKind::Argument);
        assert_eq!(concat_output_shape(&[&[2, 4, 4, 3], &[2, 4, 4, 2]], 3).unwrap(), [2, 4, 4, 5]);
        assert_eq!(concat_output_shape(&[&[2, 3], &[5, 3]], 0).unwrap(), [7, 3]);
    }

    #[test]
    fn elementwise_merges_match_their_definitions_and_gradients() {
        let check = Check::default();
        let shape = [2, 3, 2, 4];
        let ins = [normal(&shape, 1, 1.0, 0.0), normal(&shape, 2, 1.0, 0.0), normal(&shape, 3, 1.0, 0.5)];
        check.run("multiply(a, b)", &ins[..2], multiply_n);
        check.run("multiply(a, b, c)", &ins, multiply_n);
        check.run("multiply(a, a, b)", &ins[..2], |t, v| multiply_n(t, &[v[0], v[0], v[1]]));
        check.run("subtract(a, b)", &ins[..2], subtract);
        check.run("subtract(a, a)", &ins[..1], |t, v| subtract(t, &[v[0], v[0]]));
        check.run("average(a, b, c)", &ins, average_n);
        check.run("average(a, a, b)", &ins[..2], |t, v| average_n(t, &[v[0], v[0], v[1]]));
        // Random normals are never tied, and ε = 1e-2 rarely crosses a winner: a small ε
        // keeps every probe on one side.
        let max_check = Check { eps: 1e-3, ..Check::default() };
        max_check.run("maximum(a, b, c)", &ins, maximum_n);
        max_check.run("maximum(a, b)", &ins[..2], maximum_n);

        let mut t = Tape::new();
        let v: Vec<Var> = ins.iter().map(|x| t.leaf(x.clone(), true)).collect();
        let ys = [multiply_n(&mut t, &v), subtract(&mut t, &v[..2]), maximum_n(&mut t, &v), average_n(&mut t, &v)];
        let [m, s, mx, avg] = ys.map(|y| t.value(y.unwrap()).clone());
        let (a, b, c) = (ins[0].data(), ins[1].data(), ins[2].data());
        for e in 0..a.len() {
            assert_eq!(m.data()[e], a[e] * b[e] * c[e]);
            assert_eq!(s.data()[e], a[e] - b[e]);
            assert_eq!(mx.data()[e], a[e].max(b[e]).max(c[e]));
            assert_eq!(avg.data()[e], (a[e] + b[e] + c[e]) / 3.0);
        }
    }

    #[test]
    fn maximum_gives_a_tie_to_the_earlier_input() {
        let mut t = Tape::new();
        let a = t.leaf(Tensor::new(vec![1.0, 5.0, 2.0, f32::NAN], &[1, 4]).unwrap(), true);
        let b = t.leaf(Tensor::new(vec![1.0, 3.0, 7.0, 0.0], &[1, 4]).unwrap(), true);
        let c = t.leaf(Tensor::new(vec![1.0, 5.0, 0.0, 9.0], &[1, 4]).unwrap(), true);
        let y = maximum_n(&mut t, &[a, b, c]).unwrap();
        assert_eq!(&t.value(y).data()[..3], &[1.0, 5.0, 7.0]);
        assert!(t.value(y).data()[3].is_nan(), "a NaN propagates");
        t.backward_with(y, Tensor::new(vec![10.0, 20.0, 30.0, 40.0], &[1, 4]).unwrap()).unwrap();
        assert_eq!(&t.grad(a).unwrap().data()[..3], &[10.0, 20.0, 0.0]);
        assert_eq!(&t.grad(b).unwrap().data()[..3], &[0.0, 0.0, 30.0]);
        assert_eq!(&t.grad(c).unwrap().data()[..3], &[0.0, 0.0, 0.0]);
        // Large enough for several parallel tasks.
        let xs = [normal(&[3, 50_000], 4, 1.0, 0.0), normal(&[3, 50_000], 5, 1.0, 0.0)];
        let mut t = Tape::new();
        let v: Vec<Var> = xs.iter().map(|x| t.leaf(x.clone(), true)).collect();
        let y = maximum_n(&mut t, &v).unwrap();
        t.backward_with(y, Tensor::full(&[3, 50_000], 1.0)).unwrap();
        let (ga, gb) = (t.grad(v[0]).unwrap().data(), t.grad(v[1]).unwrap().data());
        for e in 0..xs[0].len() {
            let a_wins = xs[0].data()[e] >= xs[1].data()[e];
            assert_eq!((ga[e], gb[e]), if a_wins { (1.0, 0.0) } else { (0.0, 1.0) }, "element {e}");
        }
    }

    #[test]
    fn elementwise_merge_errors_name_the_op_and_shapes() {
        let mut t = Tape::new();
        let a = t.leaf(Tensor::zeros(&[2, 3]), true);
        let b = t.leaf(Tensor::zeros(&[2, 4]), true);
        let e = multiply_n(&mut t, &[a, b]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.message, "multiply: inputs must all have the same shape, got [2, 3], [2, 4]");
        let e = subtract(&mut t, &[a, a, a]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Argument);
        assert_eq!(e.message, "subtract needs exactly 2 inputs, got 3 ([2, 3], [2, 3], [2, 3])");
        assert_eq!(subtract(&mut t, &[a, b]).unwrap_err().kind, ErrorKind::Shape);
        assert!(maximum_n(&mut t, &[a]).unwrap_err().message.starts_with("maximum needs at least 2 inputs"));
        assert!(average_n(&mut t, &[a, b]).unwrap_err().message.starts_with("average: inputs must"));
    }
}
