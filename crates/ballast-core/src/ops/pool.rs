//! Average pooling on NHWC tensors: over windows (Keras `AveragePooling2D`) and over the
//! whole image (`GlobalAveragePooling2D`). Max pooling is in `ops::conv`.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::kernels::conv::Padding;
use crate::kernels::pool::{self as p, Pool2dGeometry};
use crate::parallel;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// Average pooling over `[n, h, w, c]`; with "same" padding each window averages only the
/// input cells it covers, as TensorFlow does.
pub fn avg_pool2d(
    tape: &mut Tape,
    x: Var,
    pool: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Result<Var> {
    let g = Pool2dGeometry::for_op("avg_pool2d", tape.value(x).shape(), pool, strides, padding)?;
    let mut out = Tensor::zeros(&g.output_shape());
    p::avg_pool2d_forward(&g, tape.value(x).data(), out.data_mut());
    Ok(tape.push(
        out,
        &[x],
        Box::new(move |grad, inputs, _| {
            let mut gx = Tensor::zeros(inputs[0].shape());
            p::avg_pool2d_backward(&g, grad.data(), gx.data_mut());
            vec![Some(gx)]
        }),
    ))
}

/// The output shape of [`global_avg_pool2d`] for an input shape (batch axis included):
/// `[n, h, w, c]` → `[n, c]`.
pub fn global_avg_pool2d_output_shape(shape: &[usize]) -> Result<Vec<usize>> {
    let &[n, _, _, c] = shape else {
        return Err(Error::shape(format!(
            "global_avg_pool2d: input must have rank 4 [batch, height, width, channels], got shape {}",
            shape_str(shape)
        )));
    };
    if shape.contains(&0) {
        return Err(Error::shape(format!("global_avg_pool2d: input shape {} has a zero dimension", shape_str(shape))));
    }
    Ok(vec![n, c])
}

/// Pixels summed in f32 before being added to the f64 totals: f32 keeps the inner loop
/// vectorizable, the f64 totals keep the mean of a large image accurate.
const FLUSH_PIXELS: usize = 32;

/// Images per task: about 16 tasks when the batch allows, as for windowed pooling.
fn images_per_task(batch: usize) -> usize {
    batch.div_ceil(16)
}

/// Mean over the spatial axes: `[n, h, w, c]` → `[n, c]` (Keras' `keepdims=False`).
pub fn global_avg_pool2d(tape: &mut Tape, x: Var) -> Result<Var> {
    let shape = tape.value(x).shape().to_vec();
    let out_shape = global_avg_pool2d_output_shape(&shape)?;
    let (hw, c) = (shape[1] * shape[2], shape[3]);
    let images = images_per_task(shape[0]);
    let mut out = Tensor::zeros(&out_shape);
    let src = tape.value(x).data();
    parallel::for_each_chunk_mut(out.data_mut(), images * c, |t, out| {
        let (mut partial, mut total) = (vec![0.0f32; c], vec![0.0f64; c]);
        for (j, mean) in out.chunks_exact_mut(c).enumerate() {
            let image = &src[(t * images + j) * hw * c..][..hw * c];
            total.fill(0.0);
            for block in image.chunks(FLUSH_PIXELS * c) {
                partial.fill(0.0);
                // Each pixel is a row of `c` contiguous channels: a plain vector add.
                for pixel in block.chunks_exact(c) {
                    partial.iter_mut().zip(pixel).for_each(|(s, &v)| *s += v);
                }
                total.iter_mut().zip(&partial).for_each(|(s, &v)| *s += v as f64);
            }
            mean.iter_mut().zip(&total).for_each(|(m, &s)| *m = (s / hw as f64) as f32);
        }
    });
    Ok(tape.push(
        out,
        &[x],
        Box::new(move |grad, inputs, _| {
            let mut gx = Tensor::zeros(inputs[0].shape());
            let g = grad.data();
            parallel::for_each_chunk_mut(gx.data_mut(), images * hw * c, |t, gx| {
                let mut share = vec![0.0f32; c];
                for (j, image) in gx.chunks_mut(hw * c).enumerate() {
                    let n = t * images + j;
                    share.iter_mut().zip(&g[n * c..(n + 1) * c]).for_each(|(s, &d)| *s = d / hw as f32);
                    image.chunks_exact_mut(c).for_each(|pixel| pixel.copy_from_slice(&share));
                }
            });
            vec![Some(gx)]
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{normal, Check};
    use crate::ErrorKind;

    #[test]
    fn avg_pool_gradients() {
        // Average pooling is linear: central differences are exact up to f32 rounding, so
        // the default tolerances have a wide margin.
        let check = Check::default();
        let x = [normal(&[2, 5, 7, 3], 1, 1.0, 0.0)];
        for padding in [Padding::Valid, Padding::Same] {
            for pool in [2, 3] {
                for stride in [1, 2] {
                    let name = format!("avg_pool2d {pool}x{pool} s{stride} {padding:?}");
                    check.run(&name, &x, |t, v| avg_pool2d(t, v[0], (pool, pool), (stride, stride), padding));
                }
            }
        }
        check.run("avg_pool2d 2x3 s(1,2) same", &x, |t, v| avg_pool2d(t, v[0], (2, 3), (1, 2), Padding::Same));
    }

    #[test]
    fn global_avg_pool_values_and_gradient() {
        let x = normal(&[3, 5, 7, 4], 2, 1.0, 0.5);
        let mut t = Tape::new();
        let v = t.leaf(x.clone(), true);
        let y = global_avg_pool2d(&mut t, v).unwrap();
        assert_eq!(t.value(y).shape(), &[3, 4]);
        for n in 0..3 {
            for ch in 0..4 {
                let want = (0..35).map(|p| x.data()[(n * 35 + p) * 4 + ch] as f64).sum::<f64>() / 35.0;
                let got = t.value(y).data()[n * 4 + ch];
                assert!((got as f64 - want).abs() < 1e-6, "[{n}, {ch}]: {got} vs {want}");
            }
        }
        // Enough pixels per image for several f32 blocks before the f64 total.
        let check = Check::default();
        check.run("global_avg_pool2d", &[x], |t, v| global_avg_pool2d(t, v[0]));
        check.run("global_avg_pool2d 1x1", &[normal(&[2, 1, 1, 3], 3, 1.0, 0.0)], |t, v| global_avg_pool2d(t, v[0]));
    }

    #[test]
    fn global_avg_pool_single_thread_and_pool_agree_bitwise() {
        let x = normal(&[37, 9, 11, 6], 4, 1.0, 0.0);
        let dy = normal(&[37, 6], 5, 1.0, 0.0);
        let run = || {
            let mut t = Tape::new();
            let v = t.leaf(x.clone(), true);
            let y = global_avg_pool2d(&mut t, v).unwrap();
            t.backward_with(y, dy.clone()).unwrap();
            let bits = |v: &Tensor| v.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (bits(t.value(y)), bits(t.grad(v).unwrap()))
        };
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        parallel::set_thread_limit(Some(1));
        let one = run();
        parallel::set_thread_limit(None);
        assert_eq!(one, run());
    }

    #[test]
    fn bad_shapes_are_errors() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::zeros(&[2, 4, 3]), true);
        let e = global_avg_pool2d(&mut t, x).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("rank 4") && e.message.contains("[2, 4, 3]"), "{}", e.message);
        let e = global_avg_pool2d_output_shape(&[2, 0, 3, 1]).unwrap_err();
        assert!(e.kind == ErrorKind::Shape && e.message.contains("[2, 0, 3, 1]"), "{}", e.message);
        assert_eq!(global_avg_pool2d_output_shape(&[2, 4, 3, 5]).unwrap(), [2, 5]);

        let e = avg_pool2d(&mut t, x, (2, 2), (2, 2), Padding::Valid).unwrap_err();
        assert!(e.kind == ErrorKind::Shape && e.message.starts_with("avg_pool2d:"), "{}", e.message);
        let x = t.leaf(Tensor::zeros(&[1, 2, 5, 1]), true);
        let e = avg_pool2d(&mut t, x, (3, 3), (1, 1), Padding::Valid).unwrap_err();
        assert!(e.kind == ErrorKind::Shape && e.message.contains("3x3") && e.message.contains("[1, 2, 5, 1]"));
        let e = avg_pool2d(&mut t, x, (2, 2), (0, 1), Padding::Same).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Argument);
    }
}
