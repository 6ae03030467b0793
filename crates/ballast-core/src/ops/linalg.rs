//! Matrix products: `matmul` and the dense (fully connected) transform `x·W + b`.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::kernels::gemm::{gemm, Gemm};
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// `a · b` for matrices.
pub fn matmul(tape: &mut Tape, a: Var, b: Var) -> Result<Var> {
    let value = tape.value(a).matmul(tape.value(b), false, false)?;
    Ok(tape.push(
        value,
        &[a, b],
        Box::new(|g, inputs, _| {
            let (a, b) = (inputs[0], inputs[1]);
            let ga = g.matmul(b, false, true).unwrap(); // g · bᵀ
            let gb = a.matmul(g, true, false).unwrap(); // aᵀ · g
            vec![Some(ga), Some(gb)]
        }),
    ))
}

/// Adds `bias[j]` to every row: `out[i, j] = x[i, j] + bias[j]`.
pub(crate) fn add_bias_rows(out: &mut [f32], bias: &[f32]) {
    for row in out.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(o, b)| *o += b);
    }
}

/// Σ over rows: `out[j] = Σ_i g[i, j]`.
pub(crate) fn sum_rows(g: &[f32], cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; cols];
    for row in g.chunks_exact(cols) {
        out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
    }
    out
}

/// `x·W + b` with `x: [n, in]`, `W: [in, out]` (Keras layout), `b: [out]`.
pub fn dense(tape: &mut Tape, x: Var, kernel: Var, bias: Option<Var>) -> Result<Var> {
    let (xs, ws) = (tape.value(x).shape(), tape.value(kernel).shape());
    if xs.len() != 2 || ws.len() != 2 || xs[1] != ws[0] {
        return Err(Error::shape(format!(
            "dense: input {} does not fit kernel {} (expected [batch, {}])",
            shape_str(xs),
            shape_str(ws),
            ws.first().copied().unwrap_or(0)
        )));
    }
    let (n, k, m) = (xs[0], ws[0], ws[1]);
    if let Some(b) = bias {
        if tape.value(b).shape() != [m] {
            return Err(Error::shape(format!("dense: bias {} should be [{m}]", shape_str(tape.value(b).shape()))));
        }
    }
    let mut out = Tensor::zeros(&[n, m]);
    gemm(Gemm::new(n, m, k), tape.value(x).data(), tape.value(kernel).data(), out.data_mut())?;
    if let Some(b) = bias {
        add_bias_rows(out.data_mut(), tape.value(b).data());
    }
    let mut inputs = vec![x, kernel];
    inputs.extend(bias);
    Ok(tape.push(
        out,
        &inputs,
        Box::new(move |g, inputs, _| {
            let (x, w) = (inputs[0], inputs[1]);
            let mut gx = Tensor::zeros(x.shape());
            let mut gw = Tensor::zeros(w.shape());
            gemm(Gemm::new(n, k, m).trans_b(true), g.data(), w.data(), gx.data_mut()).unwrap();
            gemm(Gemm::new(k, m, n).trans_a(true), x.data(), g.data(), gw.data_mut()).unwrap();
            let mut grads = vec![Some(gx), Some(gw)];
            if inputs.len() == 3 {
                grads.push(Some(Tensor::new(sum_rows(g.data(), m), &[m]).unwrap()));
            }
            grads
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{uniform, Check};

    #[test]
    fn gradients() {
        let check = Check::default();
        check.run("matmul", &[uniform(&[3, 5], 1, -1.0, 1.0), uniform(&[5, 4], 2, -1.0, 1.0)], |t, v| {
            matmul(t, v[0], v[1])
        });
        let ins = [uniform(&[5, 7], 3, -1.0, 1.0), uniform(&[7, 3], 4, -1.0, 1.0), uniform(&[3], 5, -1.0, 1.0)];
        check.run("dense", &ins, |t, v| dense(t, v[0], v[1], Some(v[2])));
        check.run("dense without bias", &ins[..2], |t, v| dense(t, v[0], v[1], None));
    }

    #[test]
    fn shape_errors_name_the_shapes() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::zeros(&[4, 6]), false);
        let w = t.leaf(Tensor::zeros(&[5, 3]), false);
        let err = dense(&mut t, x, w, None).unwrap_err();
        assert!(err.message.contains("[4, 6]") && err.message.contains("[5, 3]"), "{}", err.message);
    }
}
