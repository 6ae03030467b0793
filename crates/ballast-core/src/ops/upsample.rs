//! Upsampling of NHWC images by whole factors (Keras `UpSampling2D`); the loops are in
//! `kernels::upsample`.

use crate::autograd::{Tape, Var};
use crate::kernels::upsample::{self as k, Interpolation, Upsample2dGeometry};
use crate::{Result, Tensor};

/// `[n, h, w, c]` → `[n, h·size_h, w·size_w, c]`, repeating cells (`Nearest`) or
/// interpolating between them with half-pixel centers (`Bilinear`, as TensorFlow's `resize`).
pub fn upsample2d(tape: &mut Tape, x: Var, size: (usize, usize), interpolation: Interpolation) -> Result<Var> {
    let g = Upsample2dGeometry::new(tape.value(x).shape(), size)?;
    let (forward, backward): (Kernel, Kernel) = match interpolation {
        Interpolation::Nearest => (k::nearest_forward, k::nearest_backward),
        Interpolation::Bilinear => (k::bilinear_forward, k::bilinear_backward),
    };
    let mut out = Tensor::zeros(&g.output_shape());
    forward(&g, tape.value(x).data(), out.data_mut());
    Ok(tape.push(
        out,
        &[x],
        Box::new(move |grad, inputs, _| {
            let mut gx = Tensor::zeros(inputs[0].shape());
            backward(&g, grad.data(), gx.data_mut());
            vec![Some(gx)]
        }),
    ))
}

type Kernel = fn(&Upsample2dGeometry, &[f32], &mut [f32]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{normal, Check};

    #[test]
    fn gradients_of_both_interpolations() {
        // Linear in the input: the default tolerances have a wide margin.
        let check = Check::default();
        let x = [normal(&[2, 3, 4, 2], 1, 1.0, 0.0)];
        for interpolation in [Interpolation::Nearest, Interpolation::Bilinear] {
            for size in [(2, 2), (2, 3), (1, 1), (3, 1)] {
                let name = format!("upsample2d {size:?} {}", interpolation.name());
                check.run(&name, &x, |t, v| upsample2d(t, v[0], size, interpolation));
            }
        }
    }

    #[test]
    fn values_and_errors() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::new(vec![1.0, 2.0, 3.0, 4.0], &[1, 2, 2, 1]).unwrap(), true);
        let y = upsample2d(&mut t, x, (1, 2), Interpolation::Nearest).unwrap();
        assert_eq!(t.value(y).shape(), &[1, 2, 4, 1]);
        assert_eq!(t.value(y).data(), &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]);
        let bad = t.leaf(Tensor::zeros(&[2, 3]), true);
        assert!(upsample2d(&mut t, bad, (2, 2), Interpolation::Bilinear).unwrap_err().message.contains("rank 4"));
    }
}
