//! Grouped convolution with several input channels per group (Keras' `Conv2D(groups=...)`):
//! each group is an ordinary convolution of its slice of the input channels, run through the
//! plain kernels on channel slices copied out and back. (One input channel per group is a
//! depthwise convolution, which has its own kernels.)

use crate::parallel;

use super::{conv2d_backward_filter, conv2d_backward_input, conv2d_forward, Conv2dGeometry};

/// The plain convolution of one group, and the channel counts per group (in, out).
fn group_geometry(g: &Conv2dGeometry) -> (Conv2dGeometry, usize, usize) {
    let (ipg, opg) = (g.in_per_group(), g.out_c / g.groups);
    (Conv2dGeometry { in_c: ipg, out_c: opg, groups: 1, ..*g }, ipg, opg)
}

/// Channels `group*width..(group+1)*width` of `x` (`[.., channels]`), contiguous.
fn slice_channels(x: &[f32], channels: usize, group: usize, width: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() / channels * width);
    for px in x.chunks_exact(channels) {
        out.extend_from_slice(&px[group * width..][..width]);
    }
    out
}

/// Writes `part` (`[.., width]`) into channels `group*width..` of `x` (`[.., channels]`).
fn put_channels(x: &mut [f32], channels: usize, group: usize, width: usize, part: &[f32]) {
    for (px, src) in x.chunks_exact_mut(channels).zip(part.chunks_exact(width)) {
        px[group * width..][..width].copy_from_slice(src);
    }
}

/// Runs `group(k)` for every group, the groups shared out over the pool and each run on one
/// thread: a group is a small convolution, whose own split would cost more in fork-join than
/// it gains, and the channel copies then run in parallel too. Results come back in group order.
fn per_group(g: &Conv2dGeometry, group: impl Fn(usize) -> Vec<f32> + Sync + Send) -> Vec<Vec<f32>> {
    parallel::map_tasks(g.groups, |k| parallel::serially(|| group(k)))
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
    let parts = per_group(g, |k| {
        let x = slice_channels(input, g.in_c, k, ipg);
        let f = slice_channels(filter, g.out_c, k, opg);
        let b = bias.map(|b| &b[k * opg..][..opg]);
        let mut part = vec![0.0; out.len() / g.groups];
        conv2d_forward(&pg, &x, &f, b, relu, &mut part);
        part
    });
    for (k, part) in parts.iter().enumerate() {
        put_channels(out, g.out_c, k, opg, part);
    }
}

pub(super) fn backward_input(g: &Conv2dGeometry, grad_out: &[f32], filter: &[f32], grad_input: &mut [f32]) {
    let (pg, ipg, opg) = group_geometry(g);
    let parts = per_group(g, |k| {
        let go = slice_channels(grad_out, g.out_c, k, opg);
        let f = slice_channels(filter, g.out_c, k, opg);
        let mut part = vec![0.0; grad_input.len() / g.groups];
        conv2d_backward_input(&pg, &go, &f, &mut part);
        part
    });
    for (k, part) in parts.iter().enumerate() {
        put_channels(grad_input, g.in_c, k, ipg, part);
    }
}

pub(super) fn backward_filter(g: &Conv2dGeometry, input: &[f32], grad_out: &[f32], grad_filter: &mut [f32]) {
    let (pg, ipg, opg) = group_geometry(g);
    let parts = per_group(g, |k| {
        let x = slice_channels(input, g.in_c, k, ipg);
        let go = slice_channels(grad_out, g.out_c, k, opg);
        let mut part = vec![0.0; grad_filter.len() / g.groups];
        conv2d_backward_filter(&pg, &x, &go, &mut part);
        part
    });
    for (k, part) in parts.iter().enumerate() {
        put_channels(grad_filter, g.out_c, k, opg, part);
    }
}
