//! Differentiable image augmentations of NHWC batches, each image with its own parameters
//! (drawn by the layers in `nn::preprocessing`): affine resampling, flips, brightness and
//! contrast, and the `x·scale + offset` of `Rescaling`.
//!
//! They are differentiable so an augmentation may sit anywhere in a graph; the gradient of
//! a clipped value is zero where the clip bit, as for `clip` everywhere.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::kernels::augment::{self, Affine, FillMode, Resample, Sampling};
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// `[n, h, w, c]` of an image batch, or an error naming the op.
pub fn image_shape(op: &str, t: &Tensor) -> Result<[usize; 4]> {
    match *t.shape() {
        [n, h, w, c] => Ok([n, h, w, c]),
        _ => Err(Error::shape(format!(
            "{op}: input must have rank 4 [batch, height, width, channels], got shape {}",
            shape_str(t.shape())
        ))),
    }
}

fn per_image<T>(op: &str, what: &str, params: &[T], n: usize) -> Result<()> {
    if params.len() != n {
        return Err(Error::argument(format!("{op}: {} {what} for a batch of {n}", params.len())));
    }
    Ok(())
}

/// Resamples image `i` through `maps[i]` into an image of `size` (see
/// [`augment::affine_forward`]).
pub fn affine_transform(
    tape: &mut Tape,
    x: Var,
    size: [usize; 2],
    maps: Vec<Affine>,
    resample: Resample,
) -> Result<Var> {
    let shape = image_shape("affine_transform", tape.value(x))?;
    per_image("affine_transform", "maps", &maps, shape[0])?;
    if size.contains(&0) || shape[1] == 0 || shape[2] == 0 {
        return Err(Error::shape(format!(
            "affine_transform: an empty image (input {}, output {}x{})",
            shape_str(&shape),
            size[0],
            size[1]
        )));
    }
    // Checked first: on wasm32 the product could wrap to a wrong-sized allocation.
    [shape[0], size[0], size[1], shape[3]].iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| {
        Error::argument(format!("affine_transform: an output of {} x {size:?} images is too large", shape[0]))
    })?;
    let out = augment::affine_forward(tape.value(x).data(), shape, size, &maps, &resample);
    let value = Tensor::new(out, &[shape[0], size[0], size[1], shape[3]][..])?;
    Ok(tape.push(
        value,
        &[x],
        Box::new(move |g, _, _| {
            let dx = augment::affine_backward(g.data(), shape, size, &maps, &resample);
            vec![Some(Tensor::new(dx, &shape[..]).unwrap())]
        }),
    ))
}

/// The map and sampling of a resize of `h × w` to `oh × ow` with half-pixel centres, as
/// TensorFlow's `resize`: bilinear, output row `y` reads row `(y + ½)·h/oh − ½`; nearest,
/// the row `floor((y + ½)·h/oh)`.
fn resize_map([h, w]: [usize; 2], [oh, ow]: [usize; 2], bilinear: bool) -> (Affine, Sampling) {
    let (sy, sx) = (h as f32 / oh as f32, w as f32 / ow as f32);
    if bilinear {
        ([sx, 0.0, 0.5 * sx - 0.5, 0.0, sy, 0.5 * sy - 0.5], Sampling::Bilinear)
    } else {
        ([sx, 0.0, 0.0, 0.0, sy, 0.0], Sampling::NearestHalfPixel)
    }
}

/// The largest centred window of an `h × w` image with the aspect ratio of `oh × ow`, as
/// `(top, left), (height, width)` (Keras' `crop_to_aspect_ratio`, its integer rounding kept).
pub fn aspect_window([h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> ([usize; 2], [usize; 2]) {
    let ch = ((w as f64 * oh as f64 / ow as f64) as usize).clamp(1, h);
    let cw = ((h as f64 * ow as f64 / oh as f64) as usize).clamp(1, w);
    ([(h - ch) / 2, (w - cw) / 2], [ch, cw])
}

/// What [`resize`] does to an image whose aspect ratio is not the output's (Keras'
/// `crop_to_aspect_ratio` and `pad_to_aspect_ratio`, at most one of which may be on).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fit {
    /// Resize the whole image: its aspect ratio may change.
    Stretch,
    /// Cut out the largest centred window of the output's aspect ratio first.
    Crop,
    /// Pad the short side evenly with `fill_value` to the output's aspect ratio first.
    Pad { fill_value: f32 },
}

impl Fit {
    /// The fit of Keras' two flags, refusing both at once as Keras does, and a fill value
    /// that is not finite as an f32 (1e300 would pad with infinities).
    pub fn from_flags(crop_to_aspect_ratio: bool, pad_to_aspect_ratio: bool, fill_value: f64) -> Result<Fit> {
        let fill_value = fill_value as f32;
        if !fill_value.is_finite() {
            return Err(Error::argument(format!("fillValue must be a finite number, got {fill_value}")));
        }
        match (crop_to_aspect_ratio, pad_to_aspect_ratio) {
            (true, true) => Err(Error::argument(
                "only one of 'cropToAspectRatio' and 'padToAspectRatio' can be true",
            )),
            (true, false) => Ok(Fit::Crop),
            (false, true) => Ok(Fit::Pad { fill_value }),
            (false, false) => Ok(Fit::Stretch),
        }
    }
}

/// The rows (top and bottom each) and columns (left and right each) that bring an `h × w`
/// image to the aspect ratio of `oh × ow`, as Keras' `pad_to_aspect_ratio` computes them:
/// the padded side `w·oh/ow` in f32, truncated, and half the difference, truncated, on
/// either side. At most one of the two is non-zero.
pub fn aspect_padding([h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> [usize; 2] {
    let padded_h = ((w as f32 * oh as f32 / ow as f32) as usize).max(h);
    let padded_w = ((h as f32 * ow as f32 / oh as f32) as usize).max(w);
    [((padded_h - h) as f32 / 2.0) as usize, ((padded_w - w) as f32 / 2.0) as usize]
}

/// Keras' `Resizing`: every image to `size`, bilinear or nearest with half-pixel centres and
/// the border clamped (TensorFlow's `resize`, no antialiasing), after the crop or padding
/// that `fit` asks for.
pub fn resize(tape: &mut Tape, x: Var, size: [usize; 2], bilinear: bool, fit: Fit) -> Result<Var> {
    let [n, h, w, _] = image_shape("resize", tape.value(x))?;
    // The crop or padding comes first so that the border clamps at the new edge, as in Keras.
    let (x, window) = match fit {
        Fit::Stretch => (x, [h, w]),
        Fit::Crop => {
            let ([top, left], [ch, cw]) = aspect_window([h, w], size);
            let cut = ((top, h - top - ch), (left, w - left - cw));
            (if (ch, cw) == (h, w) { x } else { super::shape::crop2d(tape, x, cut)? }, [ch, cw])
        }
        Fit::Pad { fill_value } => {
            let [rows, cols] = aspect_padding([h, w], size);
            let x = if rows + cols == 0 { x } else { super::shape::pad2d(tape, x, ((rows, rows), (cols, cols)), fill_value)? };
            (x, [h + 2 * rows, w + 2 * cols])
        }
    };
    if window == size {
        return Ok(x);
    }
    let (map, sampling) = resize_map(window, size, bilinear);
    let resample = Resample { sampling, fill: FillMode::Nearest, fill_value: 0.0 };
    affine_transform(tape, x, size, vec![map; n], resample)
}

/// Flips image `i` left-right when `flips[i].0`, up-down when `flips[i].1`.
pub fn flip(tape: &mut Tape, x: Var, flips: Vec<(bool, bool)>) -> Result<Var> {
    let shape = image_shape("flip", tape.value(x))?;
    per_image("flip", "flips", &flips, shape[0])?;
    let value = Tensor::new(augment::flip(tape.value(x).data(), shape, &flips), &shape[..])?;
    Ok(tape.push(
        value,
        &[x],
        Box::new(move |g, _, _| vec![Some(Tensor::new(augment::flip(g.data(), shape, &flips), &shape[..]).unwrap())]),
    ))
}

/// The output of a clip to `[low, high]`, and its gradient mask (1 where the value was
/// inside the range, so the clip did not bite).
fn clipped(values: Vec<f32>, (low, high): (f32, f32)) -> (Vec<f32>, Vec<f32>) {
    let mask = values.iter().map(|&v| if (low..=high).contains(&v) { 1.0 } else { 0.0 }).collect();
    (values.into_iter().map(|v| v.clamp(low, high)).collect(), mask)
}

fn masked(g: &Tensor, mask: &[f32]) -> Vec<f32> {
    g.data().iter().zip(mask).map(|(g, m)| g * m).collect()
}

/// Adds `deltas[i]` to every value of image `i`, then clips to `range` (Keras'
/// `RandomBrightness`).
pub fn adjust_brightness(tape: &mut Tape, x: Var, deltas: Vec<f32>, range: (f32, f32)) -> Result<Var> {
    let shape = image_shape("adjust_brightness", tape.value(x))?;
    per_image("adjust_brightness", "deltas", &deltas, shape[0])?;
    let image = shape[1] * shape[2] * shape[3];
    let shifted: Vec<f32> = if image == 0 {
        Vec::new()
    } else {
        let data = tape.value(x).data();
        data.chunks_exact(image).zip(&deltas).flat_map(|(img, &d)| img.iter().map(move |v| v + d)).collect()
    };
    let (out, mask) = clipped(shifted, range);
    let value = Tensor::new(out, &shape[..])?;
    Ok(tape.push(value, &[x], Box::new(move |g, _, _| vec![Some(Tensor::new(masked(g, &mask), &shape[..]).unwrap())])))
}

/// Per image `i` and channel: `(x − mean)·factors[i] + mean`, the mean over the image's
/// pixels, then clipped to `range` (Keras' `RandomContrast`).
pub fn adjust_contrast(tape: &mut Tape, x: Var, factors: Vec<f32>, range: (f32, f32)) -> Result<Var> {
    let shape @ [_, h, w, c] = image_shape("adjust_contrast", tape.value(x))?;
    per_image("adjust_contrast", "factors", &factors, shape[0])?;
    let (pixels, image) = (h * w, h * w * c);
    let data = tape.value(x).data();
    let means: Vec<f32> =
        channel_sums(data, factors.len(), image, c).iter().map(|s| (s / pixels.max(1) as f64) as f32).collect();
    let adjusted: Vec<f32> = data
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let (i, ch) = (k / image.max(1), k % c.max(1));
            let m = means[i * c + ch];
            (v - m) * factors[i] + m
        })
        .collect();
    let (out, mask) = clipped(adjusted, range);
    let value = Tensor::new(out, &shape[..])?;
    Ok(tape.push(
        value,
        &[x],
        Box::new(move |g, _, _| {
            // d/dx_k of (x_k − m)·f + m with m the channel's mean: f on x_k itself, plus
            // (1 − f)/pixels through the mean, from every value of that channel.
            let gu = masked(g, &mask);
            let sums = channel_sums(&gu, factors.len(), image, c);
            let dx = gu
                .iter()
                .enumerate()
                .map(|(k, &gk)| {
                    let (i, ch) = (k / image.max(1), k % c.max(1));
                    let f = factors[i];
                    f * gk + ((1.0 - f) as f64 * sums[i * c + ch] / pixels as f64) as f32
                })
                .collect();
            vec![Some(Tensor::new(dx, &shape[..]).unwrap())]
        }),
    ))
}

/// Per image and channel of `n` images of `image` values with `c` channels: the sum over the
/// pixels (in f64, for the means).
fn channel_sums(data: &[f32], n: usize, image: usize, c: usize) -> Vec<f64> {
    let mut sums = vec![0.0f64; n * c];
    if image > 0 {
        for (i, img) in data.chunks_exact(image).enumerate() {
            for px in img.chunks_exact(c) {
                sums[i * c..(i + 1) * c].iter_mut().zip(px).for_each(|(s, &v)| *s += v as f64);
            }
        }
    }
    sums
}

/// `x·scale + offset` (Keras' `Rescaling`).
pub fn rescale(tape: &mut Tape, x: Var, scale: f32, offset: f32) -> Var {
    let value = tape.value(x).map(|v| v * scale + offset);
    tape.push(value, &[x], Box::new(move |g, _, _| vec![Some(g.map(|v| v * scale))]))
}

/// `x·scale[f] + shift[f]` with `f = features[i mod len]` the feature of each value of an
/// example (`Normalization`): one scale and shift per feature, broadcast over the rest.
pub fn rescale_features(tape: &mut Tape, x: Var, features: Vec<u32>, scale: Vec<f32>, shift: Vec<f32>) -> Var {
    let per_example = features.len();
    let value = tape.value(x).map_indexed(|i, v| {
        let f = features[i % per_example] as usize;
        v * scale[f] + shift[f]
    });
    tape.push(
        value,
        &[x],
        Box::new(move |g, _, _| vec![Some(g.map_indexed(|i, v| v * scale[features[i % per_example] as usize]))]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;

    fn images(shape: [usize; 4]) -> Tensor {
        let n: usize = shape.iter().product();
        // Values spread over [0, 1), irregular so no two neighbours tie.
        Tensor::new((0..n).map(|v| ((v * 37 % 101) as f32) / 101.0).collect(), &shape[..]).unwrap()
    }

    #[test]
    fn affine_gradients_match_finite_differences() {
        // Maps with fractional offsets (so no sample sits on a pixel and the bilinear weights
        // are smooth in x), one per image: a shift, a rotation about the centre, a zoom.
        let (s, c) = (0.5f32.sin(), 0.5f32.cos());
        let maps = vec![
            [1.0, 0.0, 0.37, 0.0, 1.0, -0.61],
            [c, -s, 1.5 - c * 1.5 + s * 1.5 + 0.01, s, c, 1.5 - s * 1.5 - c * 1.5 + 0.01],
            [1.3, 0.0, -0.47, 0.0, 0.8, 0.33],
        ];
        for fill in [FillMode::Reflect, FillMode::Wrap, FillMode::Constant, FillMode::Nearest] {
            let r = Resample { sampling: Sampling::Bilinear, fill, fill_value: 0.25 };
            let maps = maps.clone();
            Check::default().run(&format!("affine_transform {fill:?}"), &[images([3, 4, 4, 2])], move |t, v| {
                affine_transform(t, v[0], [4, 4], maps.clone(), r)
            });
        }
        // Nearest sampling is piecewise constant in x: a plain gather, its gradient a scatter.
        for sampling in [Sampling::Nearest, Sampling::NearestHalfPixel] {
            let r = Resample { sampling, fill: FillMode::Reflect, fill_value: 0.0 };
            let m = maps.clone();
            Check::default().run(&format!("affine_transform {sampling:?}"), &[images([3, 4, 4, 2])], move |t, v| {
                affine_transform(t, v[0], [3, 5], m.clone(), r)
            });
        }
    }

    #[test]
    fn resize_gradients_match_finite_differences() {
        let x = images([2, 5, 7, 2]);
        let pad = Fit::Pad { fill_value: 0.5 };
        for (size, bilinear, fit) in [
            ([3, 4], true, Fit::Stretch),
            ([8, 6], true, Fit::Stretch),
            ([4, 4], true, Fit::Crop),
            ([3, 9], false, Fit::Crop),
            ([4, 4], true, pad),
            ([3, 9], true, pad),
            ([6, 5], false, pad),
        ] {
            Check::default().run(&format!("resize {size:?} {bilinear} {fit:?}"), &[x.clone()], move |t, v| {
                resize(t, v[0], size, bilinear, fit)
            });
        }
    }

    /// TensorFlow's half-pixel resize written out for one channel: the source coordinate,
    /// clamped reads of its neighbours, and (nearest) `floor((y + ½)·scale)`.
    fn reference_resize(x: &[f32], [h, w]: [usize; 2], [oh, ow]: [usize; 2], bilinear: bool) -> Vec<f32> {
        let mut out = vec![];
        let (sy, sx) = (h as f32 / oh as f32, w as f32 / ow as f32);
        for y in 0..oh {
            for xo in 0..ow {
                if !bilinear {
                    let r = (((y as f32 + 0.5) * sy).floor() as usize).min(h - 1);
                    let c = (((xo as f32 + 0.5) * sx).floor() as usize).min(w - 1);
                    out.push(x[r * w + c]);
                    continue;
                }
                let (fy, fx) = ((y as f32 + 0.5) * sy - 0.5, (xo as f32 + 0.5) * sx - 0.5);
                let (y0, x0) = (fy.floor(), fx.floor());
                let (ty, tx) = (fy - y0, fx - x0);
                let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n - 1);
                let (r0, r1, c0, c1) = (clamp(y0, h), clamp(y0 + 1.0, h), clamp(x0, w), clamp(x0 + 1.0, w));
                let at = |r: usize, c: usize| x[r * w + c];
                let top = at(r0, c0) * (1.0 - tx) + at(r0, c1) * tx;
                let bottom = at(r1, c0) * (1.0 - tx) + at(r1, c1) * tx;
                out.push(top * (1.0 - ty) + bottom * ty);
            }
        }
        out
    }

    #[test]
    fn nearest_resize_picks_tensorflows_row_for_every_size() {
        // floor((y + ½)·h/oh) in f32, as TensorFlow computes it; at exact ties (100 → 30: rows
        // 7, 22, 25, 28) a rounding of (y·s + s/2 − ½) + ½ instead would pick the row before.
        let mut t = Tape::new();
        for h in (1..=64).chain([100, 255]) {
            let x = t.leaf(Tensor::new((0..h).map(|v| v as f32).collect(), &[1, h, 1, 1]).unwrap(), false);
            for oh in (1..=64).chain([30, 77]) {
                let y = resize(&mut t, x, [oh, 1], false, Fit::Stretch).unwrap();
                let scale = h as f32 / oh as f32;
                let want: Vec<f32> =
                    (0..oh).map(|y| (((y as f32 + 0.5) * scale).floor() as usize).min(h - 1) as f32).collect();
                assert_eq!(t.value(y).data(), &want[..], "{h} → {oh}");
            }
        }
    }

    #[test]
    fn resize_matches_the_half_pixel_reference_and_crops_to_the_aspect_ratio() {
        let (h, w) = (5, 7);
        let data: Vec<f32> = (0..h * w).map(|v| ((v * 37 % 101) as f32) / 101.0).collect();
        let mut t = Tape::new();
        let x = t.leaf(Tensor::new(data.clone(), &[1, h, w, 1]).unwrap(), false);
        for size in [[3, 4], [10, 14], [5, 3], [2, 2], [9, 7]] {
            for bilinear in [true, false] {
                let y = resize(&mut t, x, size, bilinear, Fit::Stretch).unwrap();
                let want = reference_resize(&data, [h, w], size, bilinear);
                let got = t.value(y).data();
                assert!(
                    got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
                    "{size:?} {bilinear}: {got:?} vs {want:?}"
                );
            }
        }
        // 5x7 to a square: Keras keeps the centred 5x5 window (columns 1..6), then resizes it.
        assert_eq!(aspect_window([5, 7], [4, 4]), ([0, 1], [5, 5]));
        assert_eq!(aspect_window([5, 7], [2, 6]), ([1, 0], [2, 7]));
        let y = resize(&mut t, x, [3, 3], true, Fit::Crop).unwrap();
        let window: Vec<f32> = (0..5).flat_map(|r| data[r * 7 + 1..r * 7 + 6].to_vec()).collect();
        let want = reference_resize(&window, [5, 5], [3, 3], true);
        assert!(t.value(y).data().iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6));
        assert_eq!(resize(&mut t, x, [5, 7], true, Fit::Stretch).unwrap(), x, "a resize to the same size is the identity");
    }

    #[test]
    fn resize_pads_to_the_aspect_ratio_as_keras() {
        // Keras: the padded side is trunc(w·oh/ow), and trunc(half the difference) goes on each
        // side, so an odd difference loses a row: 5x7 to a square pads 5 → 7 (1 row each side);
        // 5x8 to a square pads 5 → 8, a difference of 3, so 1 row each side (7 rows in all).
        assert_eq!(aspect_padding([5, 7], [4, 4]), [1, 0]);
        assert_eq!(aspect_padding([5, 8], [4, 4]), [1, 0]);
        assert_eq!(aspect_padding([5, 7], [2, 6]), [0, 4]);
        assert_eq!(aspect_padding([5, 7], [5, 7]), [0, 0]);
        // 4x2 into 4x4: trunc(4·4/4) = 4 columns, so one column of fill on either side.
        assert_eq!(aspect_padding([4, 2], [4, 4]), [0, 1]);
        let (h, w) = (5, 7);
        let data: Vec<f32> = (0..h * w).map(|v| ((v * 37 % 101) as f32) / 101.0).collect();
        let mut t = Tape::new();
        let x = t.leaf(Tensor::new(data.clone(), &[1, h, w, 1]).unwrap(), false);
        let fit = Fit::Pad { fill_value: -2.0 };
        for (size, bilinear) in [([4, 4], true), ([3, 3], false), ([14, 14], true)] {
            // The reference: the 7x7 image with a row of −2 above and below, resized.
            let padded: Vec<f32> = [vec![-2.0; 7], data.clone(), vec![-2.0; 7]].concat();
            let want = reference_resize(&padded, [7, 7], size, bilinear);
            let got = resize(&mut t, x, size, bilinear, fit).unwrap();
            let got = t.value(got).data();
            assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6), "{size:?}: {got:?} vs {want:?}");
        }
        // Already at the ratio: only the resize.
        let y = resize(&mut t, x, [10, 14], true, fit).unwrap();
        let want = reference_resize(&data, [5, 7], [10, 14], true);
        assert!(t.value(y).data().iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6));
        let both = Fit::from_flags(true, true, 0.0).unwrap_err();
        assert!(both.message.contains("only one of 'cropToAspectRatio' and 'padToAspectRatio'"), "{}", both.message);
    }

    #[test]
    fn flip_brightness_contrast_and_rescale_gradients() {
        let x = images([3, 3, 4, 2]);
        Check::default()
            .run("flip", &[x.clone()], |t, v| flip(t, v[0], vec![(true, false), (false, true), (true, true)]));
        // Deltas that clip some values (those past 1) and leave the rest; the values are
        // steps of 1/101 and the deltas half a step off them, so no value lies within the
        // probe's eps of a clip bound, where the derivative jumps.
        let fine = Check { eps: 1e-3, ..Check::default() };
        let half = 0.5 / 101.0;
        fine.run("adjust_brightness", &[x.clone()], |t, v| {
            adjust_brightness(t, v[0], vec![0.3 + half, -0.2 - half, 0.05 + half], (0.0, 1.0))
        });
        // A wide range: the gradient through the channel means is what is checked.
        Check::default()
            .run("adjust_contrast", &[x.clone()], |t, v| adjust_contrast(t, v[0], vec![1.4, 0.6, 1.0], (-10.0, 10.0)));
        fine.run("adjust_contrast clipped", &[x.clone()], |t, v| {
            adjust_contrast(t, v[0], vec![1.9, 0.3, 1.2], (0.1, 0.9))
        });
        Check::default().run("rescale", &[x], |t, v| Ok(rescale(t, v[0], 1.0 / 255.0, -0.5)));
    }

    #[test]
    fn contrast_keeps_each_channel_mean_and_scales_its_spread() {
        let x = images([2, 3, 3, 2]);
        let mut t = Tape::new();
        let v = t.leaf(x.clone(), false);
        let y = adjust_contrast(&mut t, v, vec![2.0, 0.5], (-100.0, 100.0)).unwrap();
        let y = t.value(y).data();
        for i in 0..2 {
            for ch in 0..2 {
                let pick = |d: &[f32]| (0..9).map(|p| d[i * 18 + p * 2 + ch] as f64).collect::<Vec<_>>();
                let (a, b) = (pick(x.data()), pick(y));
                let mean = |v: &[f64]| v.iter().sum::<f64>() / 9.0;
                assert!((mean(&a) - mean(&b)).abs() < 1e-5);
                let f = [2.0, 0.5][i];
                for (p, q) in a.iter().zip(&b) {
                    assert!(((p - mean(&a)) * f - (q - mean(&b))).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn bad_shapes_and_parameter_counts_are_errors() {
        let mut t = Tape::new();
        let flat = t.leaf(Tensor::zeros(&[2, 5]), false);
        assert!(flip(&mut t, flat, vec![(true, true); 2]).unwrap_err().message.contains("rank 4"));
        let x = t.leaf(Tensor::zeros(&[2, 2, 2, 1]), false);
        let e = adjust_brightness(&mut t, x, vec![0.1], (0.0, 1.0)).unwrap_err();
        assert_eq!(e.message, "adjust_brightness: 1 deltas for a batch of 2");
        let r = Resample { sampling: Sampling::Bilinear, fill: FillMode::Wrap, fill_value: 0.0 };
        let empty = t.leaf(Tensor::zeros(&[2, 0, 3, 1]), false);
        let id = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        assert!(affine_transform(&mut t, empty, [2, 2], vec![id; 2], r)
            .unwrap_err()
            .message
            .contains("an empty image"));
        assert!(affine_transform(&mut t, x, [0, 2], vec![id; 2], r).unwrap_err().message.contains("an empty image"));
    }
}
