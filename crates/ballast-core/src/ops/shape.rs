//! Reshape, flatten and transpose; zero padding and cropping of NHWC images.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::parallel;
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

/// Rows and columns on each side of an image: `((top, bottom), (left, right))`.
pub type Sides2d = ((usize, usize), (usize, usize));

/// The height and width of an `h × w` image padded by `pad`; the message says which sum
/// overflows.
pub fn padded_size(h: usize, w: usize, pad: Sides2d) -> std::result::Result<(usize, usize), String> {
    let ((top, bottom), (left, right)) = pad;
    let add = |size: usize, a: usize, b: usize, what: &str| {
        size.checked_add(a).and_then(|s| s.checked_add(b)).ok_or_else(|| format!("padding {a} + {b} {what} overflows"))
    };
    Ok((add(h, top, bottom, "rows")?, add(w, left, right, "columns")?))
}

/// The height and width of an `h × w` image cropped by `crop`: at least one row and one
/// column must remain (as Keras requires); the message says which axis does not.
pub fn cropped_size(h: usize, w: usize, crop: Sides2d) -> std::result::Result<(usize, usize), String> {
    let ((top, bottom), (left, right)) = crop;
    let remains = |size: usize, a: usize, b: usize, what: &str, axis: &str| {
        a.checked_add(b)
            .filter(|&cut| cut < size)
            .map(|cut| size - cut)
            .ok_or_else(|| format!("cropping {a} + {b} {what} leaves nothing of a {axis} of {size}"))
    };
    Ok((remains(h, top, bottom, "rows", "height")?, remains(w, left, right, "columns", "width")?))
}

/// `[n, h, w, c]` with the spatial sizes of an NHWC shape replaced, or a ShapeError for
/// another rank, naming `op`.
fn nhwc(op: &str, shape: &[usize]) -> Result<[usize; 4]> {
    match *shape {
        [n, h, w, c] => Ok([n, h, w, c]),
        _ => Err(Error::shape(format!(
            "{op}: input must have rank 4 [batch, height, width, channels], got shape {}",
            shape_str(shape)
        ))),
    }
}

/// Copies a `rows × cols` window of every image: from `src` (images `src_hw` in size) at
/// `src_at` into `dst` (images `dst_hw`) at `dst_at`, leaving the rest of `dst` as it is.
/// Parallel over whole images of `dst`.
#[allow(clippy::too_many_arguments)]
fn copy_window(
    src: &[f32],
    src_hw: (usize, usize),
    src_at: (usize, usize),
    dst: &mut [f32],
    dst_hw: (usize, usize),
    dst_at: (usize, usize),
    (rows, cols): (usize, usize),
    c: usize,
) {
    let (src_image, dst_image) = (src_hw.0 * src_hw.1 * c, dst_hw.0 * dst_hw.1 * c);
    let Some(batch) = dst.len().checked_div(dst_image) else { return };
    let images = batch.div_ceil(16).max(1);
    let run = cols * c;
    parallel::for_each_chunk_mut(dst, images * dst_image, |t, dst| {
        for (j, dst) in dst.chunks_mut(dst_image).enumerate() {
            let src = &src[(t * images + j) * src_image..][..src_image];
            for r in 0..rows {
                let from = ((src_at.0 + r) * src_hw.1 + src_at.1) * c;
                let to = ((dst_at.0 + r) * dst_hw.1 + dst_at.1) * c;
                dst[to..to + run].copy_from_slice(&src[from..from + run]);
            }
        }
    });
}

/// Keras `ZeroPadding2D`: `[n, h, w, c]` → `[n, top + h + bottom, left + w + right, c]`,
/// zeros around the image.
pub fn zero_pad2d(tape: &mut Tape, x: Var, pad: Sides2d) -> Result<Var> {
    pad_with("zero_pad2d", tape, x, pad, 0.0)
}

/// [`zero_pad2d`] with `value` around the image instead of zeros (what `Resizing` pads to an
/// aspect ratio with).
pub fn pad2d(tape: &mut Tape, x: Var, pad: Sides2d, value: f32) -> Result<Var> {
    pad_with("pad2d", tape, x, pad, value)
}

/// Padding with `value`, checked as `op`. The gradient is the inner window of the output
/// gradient.
fn pad_with(op: &str, tape: &mut Tape, x: Var, pad: Sides2d, value: f32) -> Result<Var> {
    let [n, h, w, c] = nhwc(op, tape.value(x).shape())?;
    let bad = |m: String| Error::shape(format!("{op}: {m} (input {})", shape_str(&[n, h, w, c])));
    let (oh, ow) = padded_size(h, w, pad).map_err(bad)?;
    if [n, oh, ow, c].iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_none() {
        return Err(bad(format!("the padded size {oh}x{ow} has more elements than memory can hold")));
    }
    let at = (pad.0 .0, pad.1 .0);
    let mut out = Tensor::full(&[n, oh, ow, c], value);
    copy_window(tape.value(x).data(), (h, w), (0, 0), out.data_mut(), (oh, ow), at, (h, w), c);
    Ok(tape.push(
        out,
        &[x],
        Box::new(move |g, _, _| {
            let mut gx = Tensor::zeros(&[n, h, w, c]);
            copy_window(g.data(), (oh, ow), at, gx.data_mut(), (h, w), (0, 0), (h, w), c);
            vec![Some(gx)]
        }),
    ))
}

/// Keras `Cropping2D`: `[n, h, w, c]` → `[n, h − top − bottom, w − left − right, c]`. The
/// gradient is the output gradient padded back with zeros.
pub fn crop2d(tape: &mut Tape, x: Var, crop: Sides2d) -> Result<Var> {
    let [n, h, w, c] = nhwc("crop2d", tape.value(x).shape())?;
    let (oh, ow) = cropped_size(h, w, crop)
        .map_err(|m| Error::shape(format!("crop2d: {m} (input {})", shape_str(&[n, h, w, c]))))?;
    let at = (crop.0 .0, crop.1 .0);
    let mut out = Tensor::zeros(&[n, oh, ow, c]);
    copy_window(tape.value(x).data(), (h, w), at, out.data_mut(), (oh, ow), (0, 0), (oh, ow), c);
    Ok(tape.push(
        out,
        &[x],
        Box::new(move |g, _, _| {
            let mut gx = Tensor::zeros(&[n, h, w, c]);
            copy_window(g.data(), (oh, ow), (0, 0), gx.data_mut(), (h, w), at, (oh, ow), c);
            vec![Some(gx)]
        }),
    ))
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

    #[test]
    fn padding_and_cropping_values_gradients_and_errors() {
        use crate::autograd::gradcheck::normal;
        use crate::ErrorKind;
        let mut t = Tape::new();
        let x = t.leaf(Tensor::new((1..=6).map(|v| v as f32).collect(), &[1, 2, 3, 1]).unwrap(), true);
        let y = zero_pad2d(&mut t, x, ((1, 0), (0, 2))).unwrap();
        assert_eq!(t.value(y).shape(), &[1, 3, 5, 1]);
        #[rustfmt::skip]
        assert_eq!(t.value(y).data(), &[
            0.0, 0.0, 0.0, 0.0, 0.0,
            1.0, 2.0, 3.0, 0.0, 0.0,
            4.0, 5.0, 6.0, 0.0, 0.0,
        ]);
        let z = crop2d(&mut t, y, ((1, 1), (1, 2))).unwrap();
        assert_eq!(t.value(z).data(), &[2.0, 3.0]);

        let check = Check::default();
        let ins = [normal(&[3, 4, 5, 2], 1, 1.0, 0.0)];
        for sides in [((1, 2), (0, 3)), ((0, 0), (0, 0)), ((2, 2), (1, 1))] {
            check.run(&format!("zero_pad2d {sides:?}"), &ins, |t, v| zero_pad2d(t, v[0], sides));
        }
        for sides in [((1, 2), (0, 3)), ((0, 0), (0, 0)), ((3, 0), (2, 2))] {
            check.run(&format!("crop2d {sides:?}"), &ins, |t, v| crop2d(t, v[0], sides));
        }
        // Many images: several tasks.
        let big = [normal(&[40, 3, 2, 3], 2, 1.0, 0.0)];
        check.run("crop2d of 40 images", &big, |t, v| crop2d(t, v[0], ((1, 0), (0, 1))));

        let x = t.leaf(Tensor::zeros(&[2, 4, 5, 3]), true);
        let e = crop2d(&mut t, x, ((3, 1), (0, 0))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.message, "crop2d: cropping 3 + 1 rows leaves nothing of a height of 4 (input [2, 4, 5, 3])");
        let e = crop2d(&mut t, x, ((0, 0), (2, 7))).unwrap_err();
        assert!(e.message.contains("cropping 2 + 7 columns leaves nothing of a width of 5"), "{}", e.message);
        let e = zero_pad2d(&mut t, x, ((usize::MAX, 1), (0, 0))).unwrap_err();
        assert!(e.kind == ErrorKind::Shape && e.message.contains("overflows"), "{}", e.message);
        let flat = t.leaf(Tensor::zeros(&[2, 4]), true);
        assert!(zero_pad2d(&mut t, flat, ((1, 1), (1, 1))).unwrap_err().message.contains("rank 4"));
    }
}
