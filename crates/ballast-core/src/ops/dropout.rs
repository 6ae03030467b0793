//! Inverted dropout: keep each value with probability 1 − rate and scale it by 1/(1 − rate),
//! so inference needs no rescaling (Srivastava et al., JMLR 2014).

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::rng::Rng;
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
}
