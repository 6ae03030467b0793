//! Grouped convolution with several input channels per group (Keras' `Conv2D(groups=...)`):
//! each group is an ordinary convolution of its slice of the input channels, run through the
//! plain kernels on channel slices copied out and back. (One input channel per group is a
//! depthwise convolution, which has its own kernels.)

use super::{conv2d_backward_filter, conv2d_backward_input, conv2d_forward, Conv2dGeometry};

/// The plain convolution of one group, and the channel counts per group (in, out).
fn group_geometry(g: &Conv2dGeometry) -> (Conv2dGeometry, usize, usize) {
    let (ipg, opg) = (g.in_per_group(), g.out_c / g.groups);
    (Conv2dGeometry { in_c: ipg, out_c: opg, groups: 1, ..*g }, ipg, opg)
}

/// Channels `group*width..(group+1)*width` of `x` (`[.., channels]`), contiguous.
fn slice_channels(x: &[f32], channels: usize, group: usize, width: usize) -> Vec<f32> {
    x.chunks_exact(channels).flat_map(|px| &px[group * width..][..width]).copied().collect()
}

/// Writes `part` (`[.., width]`) into channels `group*width..` of `x` (`[.., channels]`).
fn put_channels(x: &mut [f32], channels: usize, group: usize, width: usize, part: &[f32]) {
    for (px, src) in x.chunks_exact_mut(channels).zip(part.chunks_exact(width)) {
        px[group * width..][..width].copy_from_slice(src);
    }
}

pub(super) fn forward(
    g: &Conv2dGeometry,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    let (pg, ipg, opg) = group_geometry(g);
    let mut part = vec![0.0; out.len() / g.groups];
    for k in 0..g.groups {
        let x = slice_channels(input, g.in_c, k, ipg);
        let f = slice_channels(filter, g.out_c, k, opg);
        let b = bias.map(|b| &b[k * opg..][..opg]);
        conv2d_forward(&pg, &x, &f, b, relu, &mut part);
        put_channels(out, g.out_c, k, opg, &part);
    }
}

pub(super) fn backward_input(g: &Conv2dGeometry, grad_out: &[f32], filter: &[f32], grad_input: &mut [f32]) {
    let (pg, ipg, opg) = group_geometry(g);
    let mut part = vec![0.0; grad_input.len() / g.groups];
    for k in 0..g.groups {
        let go = slice_channels(grad_out, g.out_c, k, opg);
        let f = slice_channels(filter, g.out_c, k, opg);
        conv2d_backward_input(&pg, &go, &f, &mut part);
        put_channels(grad_input, g.in_c, k, ipg, &part);
    }
}

pub(super) fn backward_filter(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    let (pg, ipg, opg) = group_geometry(g);
    let mut part = vec![0.0; grad_filter.len() / g.groups];
    for k in 0..g.groups {
        let x = slice_channels(input, g.in_c, k, ipg);
        let go = slice_channels(grad_out, g.out_c, k, opg);
        conv2d_backward_filter(&pg, &x, &go, &mut part);
        put_channels(grad_filter, g.out_c, k, opg, &part);
    }
}
