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

/// Output length of a transposed convolution along one axis (Keras' `deconv_output_length`
/// without output padding): `valid` grows each input cell into a stride-`s` block and lets
/// the last window overhang, `same` is exactly `in·s`. `span` is the dilated kernel size.
fn transposed_length(input: usize, span: usize, stride: usize, padding: Padding) -> Option<usize> {
    let blocks = input.checked_mul(stride)?;
    match padding {
        Padding::Valid => blocks.checked_add(span.saturating_sub(stride)),
        Padding::Same => Some(blocks),
    }
}

/// The ordinary convolution a transposed convolution is the input gradient of: its input is
/// the transposed convolution's output `[n, oh, ow, filters]`, its output `x`'s shape, and
/// its HWIO filter is the transposed kernel `[kh, kw, filters, in_c]` read as it is.
pub fn conv2d_transpose_geometry(
    op: &str,
    input_shape: &[usize],
    kernel: (usize, usize),
    filters: usize,
    options: ConvOptions,
) -> Result<Conv2dGeometry> {
    let &[n, h, w, c] = input_shape else {
        return Err(Error::shape(format!(
            "{op}: input must have rank 4 [batch, height, width, channels], got shape {input_shape:?}"
        )));
    };
    if options.groups != 1 {
        return Err(Error::argument(format!("{op}: groups {} (only 1 is supported)", options.groups)));
    }
    if input_shape.contains(&0) {
        return Err(Error::shape(format!("{op}: input shape {input_shape:?} has a zero dimension")));
    }
    let ((kh, kw), (sh, sw), (dh, dw)) = (kernel, options.strides, options.dilation);
    if kh == 0 || kw == 0 || sh == 0 || sw == 0 || dh == 0 || dw == 0 {
        return Err(Error::argument(format!(
            "{op}: kernel {kh}x{kw}, strides ({sh}, {sw}) and dilationRate ({dh}, {dw}) must be positive \
             (input shape {input_shape:?})"
        )));
    }
    let span = |k: usize, d: usize| (k - 1).checked_mul(d).and_then(|v| v.checked_add(1));
    let too_large = || Error::shape(format!("{op}: input shape {input_shape:?} with a {kh}x{kw} kernel is too large"));
    let (eh, ew) = (span(kh, dh).ok_or_else(too_large)?, span(kw, dw).ok_or_else(too_large)?);
    let oh = transposed_length(h, eh, sh, options.padding).ok_or_else(too_large)?;
    let ow = transposed_length(w, ew, sw, options.padding).ok_or_else(too_large)?;
    let g = Conv2dGeometry::with_options(op, &[n, oh, ow, filters], kernel, c, options)?;
    // The lengths above are the inverse of the convolution's: it maps them back onto `x`.
    debug_assert_eq!((g.out_h, g.out_w), (h, w));
    Ok(g)
}

/// Transposed convolution (Keras' `Conv2DTranspose`): `x: [n, h, w, in]`, `filter: [kh, kw,
/// filters, in]`, `bias: [filters]`; the output is `[n, oh, ow, filters]` with
/// `oh = (h − 1)·s + k` ("valid", `h·s` when `k < s`) or `h·s` ("same").
///
/// It is the input gradient of the convolution `g` ([`conv2d_transpose_geometry`]), so the
/// passes are that convolution's kernels with roles exchanged: forward = its input gradient
/// (with `x` as the output gradient), input gradient = its forward pass, filter gradient = its
/// filter gradient with the upstream gradient as the input and `x` as the output gradient.
pub fn conv2d_transpose(tape: &mut Tape, x: Var, filter: Var, bias: Option<Var>, options: ConvOptions) -> Result<Var> {
    let (xs, fs) = (tape.value(x).shape().to_vec(), tape.value(filter).shape().to_vec());
    if fs.len() != 4 || xs.len() != 4 || fs[3] != xs[3] {
        return Err(Error::shape(format!(
            "conv2d_transpose: input {} does not fit kernel {} (expected [batch, height, width, {}])",
            shape_str(&xs),
            shape_str(&fs),
            fs.get(3).copied().unwrap_or(0)
        )));
    }
    let g = conv2d_transpose_geometry("conv2d_transpose", &xs, (fs[0], fs[1]), fs[2], options)?;
    let filters = g.in_c;
    if let Some(b) = bias {
        if tape.value(b).shape() != [filters] {
            return Err(Error::shape(format!(
                "conv2d_transpose: bias {} should be [{filters}]",
                shape_str(tape.value(b).shape())
            )));
        }
    }
    let mut out = Tensor::zeros(&[g.batch, g.in_h, g.in_w, filters]);
    k::conv2d_backward_input(&g, tape.value(x).data(), tape.value(filter).data(), out.data_mut());
    if let Some(b) = bias {
        super::linalg::add_bias_rows(out.data_mut(), tape.value(b).data());
    }
    let mut inputs = vec![x, filter];
    inputs.extend(bias);
    let need_input_grad = tape.requires_grad(x);
    Ok(tape.push(
        out,
        &inputs,
        Box::new(move |grad, inputs, _| {
            let (x, f) = (inputs[0], inputs[1]);
            let gx = need_input_grad.then(|| {
                let mut gx = Tensor::zeros(x.shape());
                k::conv2d_forward(&g, grad.data(), f.data(), None, false, gx.data_mut());
                gx
            });
            let mut gf = Tensor::zeros(f.shape());
            k::conv2d_backward_filter(&g, grad.data(), x.data(), gf.data_mut());
            let mut grads = vec![gx, Some(gf)];
            if inputs.len() == 3 {
                grads.push(Some(Tensor::new(super::linalg::sum_rows(grad.data(), filters), &[filters]).unwrap()));
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

    #[test]
    fn conv_transpose_op_gradients() {
        let check = Check::default();
        for (kh, kw) in [(3, 3), (2, 2)] {
            let ins = [
                uniform(&[2, 4, 3, 3], 1, -1.0, 1.0),
                uniform(&[kh, kw, 5, 3], 2, -1.0, 1.0),
                uniform(&[5], 3, -1.0, 1.0),
            ];
            for padding in [Padding::Valid, Padding::Same] {
                for s in [1, 2] {
                    let o = ConvOptions::new((s, s), padding);
                    let name = format!("conv2d_transpose {kh}x{kw} s{s} {padding:?}");
                    check.run(&name, &ins, |t, v| conv2d_transpose(t, v[0], v[1], Some(v[2]), o));
                }
            }
        }
        // Asymmetric strides, a kernel smaller than the stride (empty rows in the output),
        // dilation, and no bias.
        let ins =
            [uniform(&[2, 3, 4, 2], 4, -1.0, 1.0), uniform(&[2, 3, 3, 2], 5, -1.0, 1.0), uniform(&[3], 6, -1.0, 1.0)];
        let o = ConvOptions::new((3, 2), Padding::Valid);
        check.run("conv2d_transpose 2x3 s(3,2) valid", &ins, |t, v| conv2d_transpose(t, v[0], v[1], Some(v[2]), o));
        let o = ConvOptions::new((3, 2), Padding::Same);
        check.run("conv2d_transpose 2x3 s(3,2) same", &ins, |t, v| conv2d_transpose(t, v[0], v[1], Some(v[2]), o));
        for padding in [Padding::Valid, Padding::Same] {
            let o = ConvOptions::new((1, 1), padding).dilation((2, 2));
            check.run("conv2d_transpose dilated", &ins, |t, v| conv2d_transpose(t, v[0], v[1], Some(v[2]), o));
        }
        let o = ConvOptions::new((2, 2), Padding::Same);
        check.run("conv2d_transpose no bias", &ins[..2], |t, v| conv2d_transpose(t, v[0], v[1], None, o));
    }

    #[test]
    fn conv_transpose_output_shapes() {
        let shape = |x: [usize; 4], k: (usize, usize), s: (usize, usize), padding, d: (usize, usize)| {
            let mut t = Tape::new();
            let x = t.leaf(Tensor::zeros(&x), false);
            let f = t.leaf(Tensor::zeros(&[k.0, k.1, 2, 3]), false);
            let y = conv2d_transpose(&mut t, x, f, None, ConvOptions::new(s, padding).dilation(d)).unwrap();
            t.value(y).shape().to_vec()
        };
        // Keras: valid (in - 1)·s + k, or in·s when the kernel is smaller than the stride; same in·s.
        assert_eq!(shape([1, 5, 4, 3], (3, 3), (2, 2), Padding::Valid, (1, 1)), [1, 11, 9, 2]);
        assert_eq!(shape([1, 5, 4, 3], (3, 2), (2, 3), Padding::Same, (1, 1)), [1, 10, 12, 2]);
        assert_eq!(shape([1, 5, 4, 3], (2, 2), (3, 3), Padding::Valid, (1, 1)), [1, 15, 12, 2]);
        assert_eq!(shape([1, 5, 4, 3], (3, 3), (1, 1), Padding::Valid, (2, 1)), [1, 9, 6, 2]);
        assert_eq!(shape([1, 5, 4, 3], (3, 3), (1, 1), Padding::Same, (2, 2)), [1, 5, 4, 2]);
    }

    #[test]
    fn conv_transpose_single_thread_and_pool_agree_bitwise() {
        // Enough images for the kernels to split the work into several tasks.
        let x = uniform(&[40, 6, 5, 4], 1, -1.0, 1.0);
        let f = uniform(&[3, 3, 6, 4], 2, -1.0, 1.0);
        let b = uniform(&[6], 3, -1.0, 1.0);
        let run = || {
            let mut t = Tape::new();
            let v: Vec<Var> = [&x, &f, &b].iter().map(|x| t.leaf((*x).clone(), true)).collect();
            let y = conv2d_transpose(&mut t, v[0], v[1], Some(v[2]), ConvOptions::new((2, 2), Padding::Same)).unwrap();
            let dy = uniform(t.value(y).shape(), 4, -1.0, 1.0);
            t.backward_with(y, dy).unwrap();
            let bits = |v: &Tensor| v.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let mut all = vec![bits(t.value(y))];
            all.extend(v.iter().map(|&v| bits(t.grad(v).unwrap())));
            all
        };
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        crate::parallel::set_thread_limit(Some(1));
        let one = run();
        crate::parallel::set_thread_limit(None);
        assert_eq!(one, run());
    }

    #[test]
    fn conv_transpose_bad_arguments_are_typed_errors() {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::zeros(&[1, 5, 5, 3]), false);
        let f = t.leaf(Tensor::zeros(&[3, 3, 4, 2]), false);
        let err = conv2d_transpose(&mut t, x, f, None, ConvOptions::default()).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Shape);
        assert!(err.message.contains("[1, 5, 5, 3]") && err.message.contains("[3, 3, 4, 2]"), "{}", err.message);
        let f = t.leaf(Tensor::zeros(&[3, 3, 4, 3]), false);
        let b = t.leaf(Tensor::zeros(&[3]), false);
        let err = conv2d_transpose(&mut t, x, f, Some(b), ConvOptions::default()).unwrap_err();
        assert!(err.message.contains("bias [3] should be [4]"), "{}", err.message);
        let o = ConvOptions::new((2, 2), Padding::Same).dilation((2, 2));
        let err = conv2d_transpose(&mut t, x, f, None, o).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Argument);
        assert!(err.message.contains("'dilationRate'"), "{}", err.message);
        let err = conv2d_transpose(&mut t, x, f, None, ConvOptions::default().groups(3)).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Argument);
        let err = conv2d_transpose(&mut t, x, f, None, ConvOptions::new((0, 1), Padding::Valid)).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Argument);
    }
}
