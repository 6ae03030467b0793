//! Inverted dropout: keep each value with probability 1 − rate and scale it by 1/(1 − rate),
//! so inference needs no rescaling (Srivastava et al., JMLR 2014). Spatial dropout keeps or
//! drops whole channels of each example instead (Tompson et al., CVPR 2015; Keras
//! `SpatialDropout2D`).

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::rng::Rng;
use crate::tensor::shape_str;
use crate::{Result, Tensor};

pub fn dropout(tape: &mut Tape, x: Var, rate: f32, rng: &mut Rng) -> Result<Var> {
    if !(0.0..1.0).contains(&rate) {
        return Err(Error::argument(format!("dropout rate must be in [0, 1), got {rate}")));
    }
    let scale = 1.0 / (1.0 - rate);
    // The mask is drawn serially so it depends only on the seed, not on the thread count.
    let mask: Vec<f32> = (0..tape.value(x).len()).map(|_| if rng.next_f32() >= rate { scale } else { 0.0 }).collect();
    let mask = Tensor::new(mask, tape.value(x).shape())?;
    let value = tape.value(x).zip_broadcast(&mask, "dropout", |a, m| a * m)?;
    Ok(tape.push(
        value,
        &[x],
        Box::new(move |g, _, _| vec![Some(g.zip_broadcast(&mask, "dropout", |a, m| a * m).unwrap())]),
    ))
}

/// Spatial dropout of `[n, h, w, c]`: each (example, channel) is kept with probability
/// 1 − rate, all its h·w values scaled by 1/(1 − rate), or zeroed. Keras' noise shape
/// `(batch, 1, 1, channels)`. The mask is drawn example by example, channel by channel.
pub fn spatial_dropout2d(tape: &mut Tape, x: Var, rate: f32, rng: &mut Rng) -> Result<Var> {
    if !(0.0..1.0).contains(&rate) {
        return Err(Error::argument(format!("dropout rate must be in [0, 1), got {rate}")));
    }
    let &[n, h, w, c] = tape.value(x).shape() else {
        return Err(Error::shape(format!(
            "spatial_dropout2d: input must have rank 4 [batch, height, width, channels], got shape {}",
            shape_str(tape.value(x).shape())
        )));
    };
    let scale = 1.0 / (1.0 - rate);
    let mask: Vec<f32> = (0..n * c).map(|_| if rng.next_f32() >= rate { scale } else { 0.0 }).collect();
    let apply = move |v: &Tensor| {
        let mut out = v.clone();
        if c > 0 {
            for (image, keep) in out.data_mut().chunks_mut(h * w * c).zip(mask.chunks_exact(c)) {
                for pixel in image.chunks_exact_mut(c) {
                    pixel.iter_mut().zip(keep).for_each(|(a, &m)| *a *= m);
                }
            }
        }
        out
    };
    let value = apply(tape.value(x));
    Ok(tape.push(value, &[x], Box::new(move |g, _, _| vec![Some(apply(g))])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::Check;

    #[test]
    fn keeps_the_expected_fraction_and_scales() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::full(&[100, 100], 1.0), false);
        let y = dropout(&mut t, x, 0.3, &mut Rng::new(1)).unwrap();
        let kept = t.value(y).data().iter().filter(|&&v| v > 0.0).count() as f32 / 10_000.0;
        assert!((kept - 0.7).abs() < 0.02, "kept {kept}");
        assert!(t.value(y).data().iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        let mean = t.value(y).sum() / 10_000.0;
        assert!((mean - 1.0).abs() < 0.03);
        assert!(dropout(&mut t, x, 1.0, &mut Rng::new(1)).is_err());
    }

    #[test]
    fn gradient_uses_the_same_mask() {
        let x = Tensor::new((0..30).map(|v| v as f32 / 10.0).collect(), &[5, 6]).unwrap();
        // A fresh Rng with the same seed per evaluation: the mask is fixed, as within one step.
        Check::default().run("dropout", &[x], |t, v| dropout(t, v[0], 0.4, &mut Rng::new(9)));
    }

    #[test]
    fn spatial_dropout_drops_whole_channels_of_each_example() {
        let (n, h, w, c) = (64, 3, 4, 16);
        let mut t = Tape::new();
        let x = t.leaf(Tensor::full(&[n, h, w, c], 1.0), false);
        let y = spatial_dropout2d(&mut t, x, 0.25, &mut Rng::new(5)).unwrap();
        let y = t.value(y).data();
        let mut dropped = 0;
        for e in 0..n {
            for ch in 0..c {
                let values: Vec<f32> = (0..h * w).map(|p| y[(e * h * w + p) * c + ch]).collect();
                // One decision per (example, channel): all its values alike, 0 or 1/(1 − rate).
                assert!(values.iter().all(|&v| v == values[0]), "example {e} channel {ch}: {values:?}");
                assert!(values[0] == 0.0 || (values[0] - 1.0 / 0.75).abs() < 1e-6, "{}", values[0]);
                dropped += (values[0] == 0.0) as usize;
            }
        }
        let rate = dropped as f32 / (n * c) as f32;
        assert!((rate - 0.25).abs() < 0.04, "dropped {rate}");
        // Examples are not all given the same channels.
        let channels_of = |e: usize| (0..c).map(|ch| y[e * h * w * c + ch] == 0.0).collect::<Vec<_>>();
        assert!((1..n).any(|e| channels_of(e) != channels_of(0)));

        // The same seed, the same mask; another seed, another one.
        let draw = |seed| {
            let mut t = Tape::new();
            let x = t.leaf(Tensor::full(&[4, 2, 2, 8], 1.0), false);
            let y = spatial_dropout2d(&mut t, x, 0.5, &mut Rng::new(seed)).unwrap();
            t.value(y).clone()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let e = spatial_dropout2d(&mut t, x, 1.0, &mut Rng::new(1)).unwrap_err();
        assert!(e.message.contains("[0, 1)"));
        let flat = t.leaf(Tensor::zeros(&[4, 5]), false);
        assert!(spatial_dropout2d(&mut t, flat, 0.5, &mut Rng::new(1)).unwrap_err().message.contains("rank 4"));
    }

    #[test]
    fn spatial_dropout_gradient_uses_the_same_mask() {
        let x = Tensor::new((0..96).map(|v| v as f32 / 10.0).collect(), &[2, 2, 3, 8]).unwrap();
        Check::default().run("spatial_dropout2d", &[x], |t, v| spatial_dropout2d(t, v[0], 0.4, &mut Rng::new(9)));
    }
}
