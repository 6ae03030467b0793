//! Image augmentation kernels for NHWC batches: an affine resampling (Keras'
//! `ops.image.affine_transform`, which `RandomTranslation`, `RandomRotation` and `RandomZoom`
//! use) and per-image flips.
//!
//! Every image has its own transform, drawn before the kernel runs; the kernels then work on
//! whole images as tasks on the pool, so results are the same bit for bit whatever the number
//! of threads. The backward passes scatter each output gradient into its own image's input
//! gradient in output order inside one task, for the same reason.
//!
//! Sampling follows Keras' `affine_transform` (`map_coordinates`): output pixel (row y,
//! column x) reads the input at `(b0·x + b1·y + b2, a0·x + a1·y + a2)` in pixel units (no
//! half-pixel offset); bilinear sampling weighs the four neighbours, each index mapped by the
//! fill mode, nearest sampling reads the neighbour at the rounded coordinate. The output may
//! be of another size than the input, so a resize (`Resizing`, `RandomCrop`) is a map too:
//! bilinear, its half-pixel centres are in the map's offsets and TensorFlow's clamping at the
//! border is the `nearest` fill mode; nearest, it is [`Sampling::NearestHalfPixel`].

use crate::error::{Error, Result};
use crate::parallel;

/// How samples outside the image are filled (Keras' `fill_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillMode {
    /// `d c b a | a b c d | d c b a`: mirrored about the edge of the last pixel.
    Reflect,
    /// `a b c d | a b c d | a b c d`.
    Wrap,
    /// `k k k k | a b c d | k k k k` with `k` the fill value.
    Constant,
    /// `a a a a | a b c d | d d d d`.
    Nearest,
}

impl FillMode {
    pub const EXPECTED: &'static str = "'reflect', 'wrap', 'constant' or 'nearest'";

    pub fn parse(name: &str) -> Result<FillMode> {
        match name {
            "reflect" => Ok(FillMode::Reflect),
            "wrap" => Ok(FillMode::Wrap),
            "constant" => Ok(FillMode::Constant),
            "nearest" => Ok(FillMode::Nearest),
            _ => Err(Error::argument(format!("unknown fill mode '{name}' ({})", Self::EXPECTED))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FillMode::Reflect => "reflect",
            FillMode::Wrap => "wrap",
            FillMode::Constant => "constant",
            FillMode::Nearest => "nearest",
        }
    }

    /// The input index that index `i` of an axis of length `n` reads, or `None` for the fill
    /// value (constant mode, outside the image).
    #[inline]
    pub fn index(self, i: i64, n: usize) -> Option<usize> {
        let n = n as i64;
        let j = match self {
            FillMode::Constant => {
                if i < 0 || i >= n {
                    return None;
                }
                i
            }
            FillMode::Nearest => i.clamp(0, n - 1),
            FillMode::Wrap => i.rem_euclid(n),
            FillMode::Reflect => {
                let m = i.rem_euclid(2 * n);
                if m >= n {
                    2 * n - 1 - m
                } else {
                    m
                }
            }
        };
        Some(j as usize)
    }
}

/// One image's output-to-input map `[a0, a1, a2, b0, b1, b2]`: output (x, y) reads the input
/// at column `a0·x + a1·y + a2`, row `b0·x + b1·y + b2`.
pub type Affine = [f32; 6];

/// How a sample between pixels is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// The four neighbours, weighted by distance.
    Bilinear,
    /// The neighbour at the coordinate rounded to the nearest, ties to even (JAX's
    /// `map_coordinates`).
    Nearest,
    /// The map applied to the output pixel's centre `(x + ½, y + ½)`, and the input pixel that
    /// point falls in: TensorFlow's nearest resize with half-pixel centres, whose row is
    /// `floor((y + ½)·scale)` computed as TensorFlow computes it (the map `[s, 0, 0, 0, s, 0]`).
    NearestHalfPixel,
}

/// Options of an affine resampling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resample {
    pub sampling: Sampling,
    pub fill: FillMode,
    pub fill_value: f32,
}

/// The (up to four) input pixels an output pixel reads and their weights; `None` stands for
/// the fill value.
#[inline]
fn taps(map: &Affine, x: usize, y: usize, h: usize, w: usize, r: &Resample) -> [(Option<usize>, f32); 4] {
    let half = if r.sampling == Sampling::NearestHalfPixel { 0.5 } else { 0.0 };
    let (x, y) = (x as f32 + half, y as f32 + half);
    // Clamped far outside any image, so the integer conversions below cannot overflow.
    const FAR: f32 = 1e9;
    let sx = (map[0] * x + map[1] * y + map[2]).clamp(-FAR, FAR);
    let sy = (map[3] * x + map[4] * y + map[5]).clamp(-FAR, FAR);
    let at = |row: i64, col: i64| match (r.fill.index(row, h), r.fill.index(col, w)) {
        (Some(row), Some(col)) => Some(row * w + col),
        _ => None,
    };
    let nearest = |row: f32, col: f32| [(at(row as i64, col as i64), 1.0), (None, 0.0), (None, 0.0), (None, 0.0)];
    match r.sampling {
        Sampling::Nearest => return nearest(sy.round_ties_even(), sx.round_ties_even()),
        Sampling::NearestHalfPixel => return nearest(sy.floor(), sx.floor()),
        Sampling::Bilinear => {}
    }
    let (fy, fx) = (sy.floor(), sx.floor());
    let (ty, tx) = (sy - fy, sx - fx);
    let (row, col) = (fy as i64, fx as i64);
    [
        (at(row, col), (1.0 - ty) * (1.0 - tx)),
        (at(row, col + 1), (1.0 - ty) * tx),
        (at(row + 1, col), ty * (1.0 - tx)),
        (at(row + 1, col + 1), ty * tx),
    ]
}

/// Resamples each image of `x` (`[n, h, w, c]`) through its own map into an image of
/// `[oh, ow]` (`[n, oh, ow, c]` in all).
pub fn affine_forward(x: &[f32], shape: [usize; 4], [oh, ow]: [usize; 2], maps: &[Affine], r: &Resample) -> Vec<f32> {
    let [n, h, w, c] = shape;
    debug_assert_eq!(maps.len(), n);
    let (image, out_image) = (h * w * c, oh * ow * c);
    let mut out = vec![0.0f32; n * out_image];
    parallel::for_each_chunk_mut(&mut out, out_image, |i, dst| {
        let src = &x[i * image..(i + 1) * image];
        for y in 0..oh {
            for xo in 0..ow {
                let taps = taps(&maps[i], xo, y, h, w, r);
                let o = (y * ow + xo) * c;
                for ch in 0..c {
                    let mut v = 0.0f32;
                    for &(tap, weight) in &taps {
                        if weight != 0.0 {
                            v += weight * tap.map_or(r.fill_value, |p| src[p * c + ch]);
                        }
                    }
                    dst[o + ch] = v;
                }
            }
        }
    });
    out
}

/// The input gradient of [`affine_forward`] (input `shape`, output `[oh, ow]`) for the output
/// gradient `g` (the fill value takes its share of the gradient, which goes nowhere).
pub fn affine_backward(g: &[f32], shape: [usize; 4], [oh, ow]: [usize; 2], maps: &[Affine], r: &Resample) -> Vec<f32> {
    let [n, h, w, c] = shape;
    let (image, out_image) = (h * w * c, oh * ow * c);
    let mut dx = vec![0.0f32; n * image];
    parallel::for_each_chunk_mut(&mut dx, image, |i, dst| {
        let src = &g[i * out_image..(i + 1) * out_image];
        for y in 0..oh {
            for xo in 0..ow {
                let taps = taps(&maps[i], xo, y, h, w, r);
                let o = (y * ow + xo) * c;
                for &(tap, weight) in &taps {
                    if let (Some(p), true) = (tap, weight != 0.0) {
                        for ch in 0..c {
                            dst[p * c + ch] += weight * src[o + ch];
                        }
                    }
                }
            }
        }
    });
    dx
}

/// Flips each image of `x` (`[n, h, w, c]`) left-right and/or up-down as `flips[i]` says
/// (horizontal, vertical). A flip is its own inverse, so this is also its backward pass.
pub fn flip(x: &[f32], shape: [usize; 4], flips: &[(bool, bool)]) -> Vec<f32> {
    let [_, h, w, c] = shape;
    let image = h * w * c;
    let mut out = vec![0.0f32; x.len()];
    parallel::for_each_chunk_mut(&mut out, image, |i, dst| {
        let src = &x[i * image..(i + 1) * image];
        let (fh, fv) = flips[i];
        for y in 0..h {
            let sy = if fv { h - 1 - y } else { y };
            for xo in 0..w {
                let sx = if fh { w - 1 - xo } else { xo };
                let (o, s) = ((y * w + xo) * c, (sy * w + sx) * c);
                dst[o..o + c].copy_from_slice(&src[s..s + c]);
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_modes_map_indices_as_keras_documents() {
        let map = |m: FillMode| (-4..8).map(|i| m.index(i, 4)).collect::<Vec<_>>();
        let s = |v: &[usize]| v.iter().map(|&i| Some(i)).collect::<Vec<_>>();
        // Axis a b c d = 0 1 2 3, read from -4 to 7.
        assert_eq!(map(FillMode::Reflect), s(&[3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]));
        assert_eq!(map(FillMode::Wrap), s(&[0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]));
        assert_eq!(map(FillMode::Nearest), s(&[0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3]));
        let constant = map(FillMode::Constant);
        assert_eq!(&constant[4..8], &s(&[0, 1, 2, 3])[..]);
        assert!(constant[..4].iter().chain(&constant[8..]).all(Option::is_none));
    }

    #[test]
    fn identity_map_copies_and_whole_shifts_move_pixels() {
        let (n, h, w, c) = (2, 3, 5, 2);
        let x: Vec<f32> = (0..n * h * w * c).map(|v| v as f32).collect();
        let r = Resample { sampling: Sampling::Bilinear, fill: FillMode::Constant, fill_value: -1.0 };
        let id = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        assert_eq!(affine_forward(&x, [n, h, w, c], [h, w], &[id, id], &r), x);
        // Reading one column to the left: the image moves right by one, column 0 is the fill.
        let shift = [1.0, 0.0, -1.0, 0.0, 1.0, 0.0];
        let y = affine_forward(&x, [n, h, w, c], [h, w], &[shift, id], &r);
        for row in 0..h {
            for col in 0..w {
                for ch in 0..c {
                    let o = (row * w + col) * c + ch;
                    let want = if col == 0 { -1.0 } else { x[o - c] };
                    assert_eq!(y[o], want);
                }
            }
        }
        assert_eq!(&y[h * w * c..], &x[h * w * c..], "the second image keeps its identity map");
    }
}
