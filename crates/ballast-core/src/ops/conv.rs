//! Convolution and max pooling on NHWC tensors, over the kernels in `crate::kernels`.

use crate::autograd::{Tape, Var};
use crate::error::Error;
use crate::kernels::conv::{self as k, Conv2dGeometry, ConvOptions, Padding};
use crate::kernels::pool::{self as p, Pool2dGeometry};
use crate::tensor::shape_str;
use crate::{Result, Tensor};

/// `conv2d(x, filter) + bias`; `x: [n, h, w, in]`, `filter: [kh, kw, in, out]`, `bias: [out]`.
pub fn conv2d(
    tape: &mut Tape,
    x: Var,
    filter: Var,
    bias: Option<Var>,
    strides: (usize, usize),
    padding: Padding,
) -> Result<Var> {
    conv2d_activated(tape, x, filter, bias, strides, padding, false)
}

/// `relu(conv2d(x, filter) + bias)` in one op: the kernel applies ReLU before it stores the
/// output, which saves a pass over the largest tensors of a CNN (and the same on the way
/// back, where the mask is applied to the incoming gradient).
pub fn conv2d_relu(
    tape: &mut Tape,
    x: Var,
    filter: Var,
    bias: Option<Var>,
    strides: (usize, usize),
    padding: Padding,
) -> Result<Var> {
    conv2d_activated(tape, x, filter, bias, strides, padding, true)
}

fn conv2d_activated(
    tape: &mut Tape,
    x: Var,
    filter: Var,
    bias: Option<Var>,
    strides: (usize, usize),
    padding: Padding,
    relu: bool,
) -> Result<Var> {
    conv2d_with(tape, x, filter, bias, ConvOptions::new(strides, padding), relu)
}

/// `act(conv2d(x, filter) + bias)` with dilation and groups, act ReLU when `relu` (fused,
/// as in [`conv2d_relu`]) and the identity otherwise; `filter: [kh, kw, in/groups, out]`.
pub fn conv2d_with(
    tape: &mut Tape,
    x: Var,
    filter: Var,
    bias: Option<Var>,
    options: ConvOptions,
    relu: bool,
) -> Result<Var> {
    let (xs, fs) = (tape.value(x).shape().to_vec(), tape.value(filter).shape().to_vec());
    let groups = options.groups.max(1);
    if fs.len() != 4 || xs.len() != 4 || fs[2].checked_mul(groups) != Some(xs[3]) {
        let grouped = if groups > 1 { format!(" with {groups} groups") } else { String::new() };
        return Err(Error::shape(format!(
            "conv2d: input {} does not fit filter {}{grouped} (expected [batch, height, width, {}])",
            shape_str(&xs),
            shape_str(&fs),
            fs.get(2).copied().unwrap_or(0) * groups
        )));
    }
    let g = Conv2dGeometry::with_options("conv2d", &xs, (fs[0], fs[1]), fs[3], options)?;
    conv_op(tape, "conv2d", x, filter, bias, g, relu)
}

/// Depthwise convolution (Keras' `DepthwiseConv2D`): `x: [n, h, w, c]`, `filter: [kh, kw, c,
/// m]`, `bias: [c*m]`; output channel `c*m + j` is input channel `c` convolved with
/// `filter[.., .., c, j]`. `options.groups` must be 1 or `c` (a depthwise convolution has
/// one group per input channel). ReLU fused when `relu`.
pub fn depthwise_conv2d(
    tape: &mut Tape,
    x: Var,
    filter: Var,
    bias: Option<Var>,
    options: ConvOptions,
    relu: bool,
) -> Result<Var> {
    let (xs, fs) = (tape.value(x).shape().to_vec(), tape.value(filter).shape().to_vec());
    if fs.len() != 4 || xs.len() != 4 || fs[2] != xs[3] {
        return Err(Error::shape(format!(
            "depthwise_conv2d: input {} does not fit filter {} (expected [batch, height, width, {}])",
            shape_str(&xs),
            shape_str(&fs),
            fs.get(2).copied().unwrap_or(0)
        )));
    }
    if options.groups != 1 && options.groups != xs[3] {
        return Err(Error::argument(format!(
            "depthwise_conv2d: groups {} for {} input channels (a depthwise convolution has one group per channel)",
            options.groups, xs[3]
        )));
    }
    let out_c = fs[2].checked_mul(fs[3]).ok_or_else(|| Error::shape("depthwise_conv2d: too many channels"))?;
    let options = ConvOptions { groups: xs[3], ..options };
    let g = Conv2dGeometry::with_options("depthwise_conv2d", &xs, (fs[0], fs[1]), out_c, options)?;
    conv_op(tape, "depthwise_conv2d", x, filter, bias, g, relu)
}

/// Runs the convolution `g` and records its backward pass.
fn conv_op(
    tape: &mut Tape,
    op: &str,
    x: Var,
    filter: Var,
    bias: Option<Var>,
    g: Conv2dGeometry,
    relu: bool,
) -> Result<Var> {
    if let Some(b) = bias {
        if tape.value(b).shape() != [g.out_c] {
            return Err(Error::shape(format!(
                "{op}: bias {} should be [{}]",
                shape_str(tape.value(b).shape()),
                g.out_c
            )));
        }
    }
    let mut out = Tensor::zeros(&g.output_shape());
    let bias_data = bias.map(|b| tape.value(b).data());
    k::conv2d_forward(&g, tape.value(x).data(), tape.value(filter).data(), bias_data, relu, out.data_mut());
    let mut inputs = vec![x, filter];
    inputs.extend(bias);
    // The first convolution's input is the data: its gradient (a whole backward GEMM and
    // col2im) would be thrown away.
    let need_input_grad = tape.requires_grad(x);
    Ok(tape.push(
        out,
        &inputs,
        Box::new(move |grad, inputs, out| {
            let (x, f) = (inputs[0], inputs[1]);
            // Behind a ReLU the gradient flows only where the output is positive.
            let masked = relu.then(|| super::activation::relu_grad(grad, out));
            let grad = masked.as_ref().unwrap_or(grad);
            let gx = need_input_grad.then(|| {
                let mut gx = Tensor::zeros(x.shape());
                k::conv2d_backward_input(&g, grad.data(), f.data(), gx.data_mut());
                gx
            });
            let mut gf = Tensor::zeros(f.shape());
            k::conv2d_backward_filter(&g, x.data(), grad.data(), gf.data_mut());
            let mut grads = vec![gx, Some(gf)];
            if inputs.len() == 3 {
                let mut gb = Tensor::zeros(&[g.out_c]);
                k::conv2d_backward_bias(&g, grad.data(), gb.data_mut());
                grads.push(Some(gb));
            }
            grads
        }),
    ))
}

/// Max pooling over `[n, h, w, c]`.
pub fn max_pool2d(
    tape: &mut Tape,
    x: Var,
    pool: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Result<Var> {
    let g = Pool2dGeometry::new(tape.value(x).shape(), pool, strides, padding)?;
    let mut out = Tensor::zeros(&g.output_shape());
    if !tape.requires_grad(x) {
        // Inference: no backward pass will ask where the maxima came from.
        p::max_pool2d_inference(&g, tape.value(x).data(), out.data_mut());
        return Ok(tape.constant(out));
    }
    let mut argmax = vec![0u32; out.len()];
    p::max_pool2d_forward(&g, tape.value(x).data(), out.data_mut(), &mut argmax);
    Ok(tape.push(
        out,
        &[x],
        Box::new(move |grad, inputs, _| {
            let mut gx = Tensor::zeros(inputs[0].shape());
            p::max_pool2d_backward(&g, grad.data(), &argmax, gx.data_mut());
            vec![Some(gx)]
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::gradcheck::{uniform, Check};
    use crate::rng::Rng;

    #[test]
    fn conv_op_gradients() {
        let check = Check::default();
        let ins =
            [uniform(&[2, 5, 6, 3], 1, -1.0, 1.0), uniform(&[3, 2, 3, 4], 2, -1.0, 1.0), uniform(&[4], 3, -1.0, 1.0)];
        check.run("conv2d valid", &ins, |t, v| conv2d(t, v[0], v[1], Some(v[2]), (1, 1), Padding::Valid));
        check.run("conv2d same s2", &ins, |t, v| conv2d(t, v[0], v[1], Some(v[2]), (2, 2), Padding::Same));
        check.run("conv2d no bias", &ins[..2], |t, v| conv2d(t, v[0], v[1], None, (1, 2), Padding::Same));
    }

    #[test]
    fn dilated_depthwise_and_grouped_op_gradients() {
        let check = Check::default();
        let x = uniform(&[2, 7, 6, 3], 1, -1.0, 1.0);
        let dilated = [x.clone(), uniform(&[3, 2, 3, 4], 2, -1.0, 1.0), uniform(&[4], 3, -1.0, 1.0)];
        for (name, padding) in [("conv2d dilated valid", Padding::Valid), ("conv2d dilated same", Padding::Same)] {
            let o = ConvOptions::new((1, 1), padding).dilation((2, 2));
            check.run(name, &dilated, |t, v| conv2d_with(t, v[0], v[1], Some(v[2]), o, false));
        }
        // Multiplier 2: [kh, kw, 3, 2] -> 6 output channels.
        let dw = [x.clone(), uniform(&[3, 3, 3, 2], 4, -1.0, 1.0), uniform(&[6], 5, -1.0, 1.0)];
        for (name, o) in [
            ("depthwise same", ConvOptions::new((1, 1), Padding::Same)),
            ("depthwise s2 valid", ConvOptions::new((2, 2), Padding::Valid)),
            ("depthwise dilated same", ConvOptions::new((1, 1), Padding::Same).dilation((2, 1))),
        ] {
            check.run(name, &dw, |t, v| depthwise_conv2d(t, v[0], v[1], Some(v[2]), o, false));
        }
        check.run("depthwise no bias", &dw[..2], |t, v| {
            depthwise_conv2d(t, v[0], v[1], None, ConvOptions::new((1, 2), Padding::Same), false)
        });
        let grouped =
            [uniform(&[2, 5, 6, 4], 6, -1.0, 1.0), uniform(&[3, 3, 2, 6], 7, -1.0, 1.0), uniform(&[6], 8, -1.0, 1.0)];
        let o = ConvOptions::new((1, 1), Padding::Same).groups(2);
        check.run("conv2d groups 2", &grouped, |t, v| conv2d_with(t, v[0], v[1], Some(v[2]), o, false));
    }

    #[test]
    fn fused_relu_equals_conv_then_relu() {
        // Finite differences are unreliable here: a step moves many pre-activations, and
        // any of them may cross ReLU's kink. Both parts are checked on their own (above and
        // in ops::activation), so the fused op must agree with their composition.
        let ins =
            [uniform(&[2, 7, 6, 3], 1, -1.0, 1.0), uniform(&[3, 3, 3, 9], 2, -1.0, 1.0), uniform(&[9], 3, -1.0, 1.0)];
        for (strides, padding) in [((1, 1), Padding::Same), ((2, 1), Padding::Valid)] {
            let run = |fused: bool| {
                let mut t = Tape::new();
                let v: Vec<Var> = ins.iter().map(|x| t.leaf(x.clone(), true)).collect();
                let y = if fused {
                    conv2d_relu(&mut t, v[0], v[1], Some(v[2]), strides, padding).unwrap()
                } else {
                    let y = conv2d(&mut t, v[0], v[1], Some(v[2]), strides, padding).unwrap();
                    crate::ops::relu(&mut t, y)
                };
                let w = uniform(t.value(y).shape(), 4, -1.0, 1.0);
                t.backward_with(y, w).unwrap();
                let mut all = vec![t.value(y).clone()];
                all.extend(v.iter().map(|&x| t.grad(x).unwrap().clone()));
                all
            };
            let (fused, composed) = (run(true), run(false));
            assert!(fused[0].data().contains(&0.0), "some outputs are cut by the ReLU");
            for (what, (a, b)) in ["output", "d input", "d filter", "d bias"].iter().zip(fused.iter().zip(&composed)) {
                for (x, y) in a.data().iter().zip(b.data()) {
                    assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{what} {strides:?} {padding:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn pool_op_gradient() {
        // A permutation of distinct values: no ties for finite differences to straddle.
        let mut values: Vec<f32> = (0..2 * 6 * 6 * 2).map(|v| v as f32 * 0.1).collect();
        Rng::new(4).shuffle(&mut values);
        let x = Tensor::new(values, &[2, 6, 6, 2]).unwrap();
        let check = Check { eps: 1e-2, ..Check::default() };
        check.run("max_pool2d 2x2", &[x.clone()], |t, v| max_pool2d(t, v[0], (2, 2), (2, 2), Padding::Valid));
        check.run("max_pool2d 3x3 s2 same", &[x], |t, v| max_pool2d(t, v[0], (3, 3), (2, 2), Padding::Same));
    }

    #[test]
    fn mismatched_filter_is_a_shape_error() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::zeros(&[1, 5, 5, 3]), false);
        let f = t.leaf(Tensor::zeros(&[3, 3, 2, 4]), false);
        let err = conv2d(&mut t, x, f, None, (1, 1), Padding::Valid).unwrap_err();
        assert!(err.message.contains("[1, 5, 5, 3]") && err.message.contains("[3, 3, 2, 4]"), "{}", err.message);
        let err = depthwise_conv2d(&mut t, x, f, None, ConvOptions::default(), false).unwrap_err();
        assert!(
            err.message.starts_with("depthwise_conv2d: input [1, 5, 5, 3] does not fit filter [3, 3, 2, 4]"),
            "{}",
            err.message
        );
        let f3 = t.leaf(Tensor::zeros(&[3, 3, 3, 1]), false);
        let err = depthwise_conv2d(&mut t, x, f3, None, ConvOptions::default().groups(2), false).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Argument);
        let err = conv2d_with(&mut t, x, f, None, ConvOptions::default().groups(2), false).unwrap_err();
        assert!(err.message.contains("with 2 groups (expected [batch, height, width, 4])"), "{}", err.message);
    }
}
