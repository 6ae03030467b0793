//! Binary elementwise ops with NumPy broadcasting; gradients are summed back to each
//! operand's shape.

use crate::autograd::{Tape, Var};
use crate::{Result, Tensor};

fn binary(
    tape: &mut Tape,
    a: Var,
    b: Var,
    name: &'static str,
    f: fn(f32, f32) -> f32,
    // (grad, a, b) -> (∂/∂a, ∂/∂b) elementwise
    df: fn(f32, f32, f32) -> (f32, f32),
) -> Result<Var> {
    let value = tape.value(a).zip_broadcast(tape.value(b), name, f)?;
    Ok(tape.push(
        value,
        &[a, b],
        Box::new(move |g, inputs, _| {
            let (x, y) = (inputs[0], inputs[1]);
            // Broadcast both operands to the output's shape, then reduce each gradient.
            let xb = x.zip_broadcast(g, name, |v, _| v).unwrap();
            let yb = y.zip_broadcast(g, name, |v, _| v).unwrap();
            let mut gx = Vec::with_capacity(g.len());
            let mut gy = Vec::with_capacity(g.len());
            for ((&gv, &xv), &yv) in g.data().iter().zip(xb.data()).zip(yb.data()) {
                let (dx, dy) = df(gv, xv, yv);
                gx.push(dx);
                gy.push(dy);
            }
            let gx = Tensor::new(gx, g.shape()).unwrap().sum_to_shape(x.shape());
            let gy = Tensor::new(gy, g.shape()).unwrap().sum_to_shape(y.shape());
            vec![Some(gx), Some(gy)]
        }),
    ))
}

pub fn add(tape: &mut Tape, a: Var, b: Var) -> Result<Var> {
    binary(tape, a, b, "add", |x, y| x + y, |g, _, _| (g, g))
}

pub fn sub(tape: &mut Tape, a: Var, b: Var) -> Result<Var> {
    binary(tape, a, b, "sub", |x, y| x - y, |g, _, _| (g, -g))
}

pub fn mul(tape: &mut Tape, a: Var, b: Var) -> Result<Var> {
    binary(tape, a, b, "mul", |x, y| x * y, |g, x, y| (g * y, g * x))
}

pub fn div(tape: &mut Tape, a: Var, b: Var) -> Result<Var> {
    binary(tape, a, b, "div", |x, y| x / y, |g, x, y| (g / y, -g * x / (y * y)))
}

/// `a · s` for a constant `s`.
pub fn scale(tape: &mut Tape, a: Var, s: f32) -> Var {
    let value = tape.value(a).map(|v| v * s);
    tape.push(value, &[a], Box::new(move |g, _, _| vec![Some(g.map(|v| v * s))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{uniform, Check};

    #[test]
    fn gradients_with_broadcasting() {
        let check = Check::default();
        for (sa, sb) in [(&[3, 4][..], &[3, 4][..]), (&[3, 4], &[4]), (&[2, 1, 3], &[4, 1]), (&[3], &[])] {
            let a = uniform(sa, 1, -2.0, 2.0);
            let b = uniform(sb, 2, 0.5, 2.0); // away from 0 for div
            let ins = [a, b];
            check.run("add", &ins, |t, v| add(t, v[0], v[1]));
            check.run("sub", &ins, |t, v| sub(t, v[0], v[1]));
            check.run("mul", &ins, |t, v| mul(t, v[0], v[1]));
            check.run("div", &ins, |t, v| div(t, v[0], v[1]));
            check.run("scale", &ins[..1], |t, v| Ok(scale(t, v[0], -1.5)));
        }
    }

    #[test]
    fn incompatible_shapes_are_errors() {
        let mut t = Tape::new();
        let a = t.leaf(Tensor::zeros(&[2, 3]), true);
        let b = t.leaf(Tensor::zeros(&[4]), true);
        let err = add(&mut t, a, b).unwrap_err();
        assert!(err.message.contains("[2, 3] and [4]"));
    }
}
