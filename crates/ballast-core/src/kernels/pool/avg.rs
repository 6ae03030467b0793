//! 2-D average pooling (NHWC) as TensorFlow and Keras' `AveragePooling2D` define it: with
//! "same" padding a window averages only the input cells it covers, so the padding neither
//! adds zeros nor counts in the divisor (PyTorch's `count_include_pad=False`).
//!
//! Work is split into tasks of whole images, as for max pooling: the overlapping windows of
//! one image scatter their gradients inside one task, in output order, so the result is the
//! same bit for bit whatever the number of threads.

use std::ops::Range;

use super::Pool2dGeometry;
use crate::kernels::conv::valid_taps;
use crate::parallel;

/// The input rows and columns that output pixel `i` (of its image) averages.
fn window(g: &Pool2dGeometry, i: usize) -> (Range<usize>, Range<usize>) {
    let (y0, x0) = (i / g.out_w * g.stride_h, i % g.out_w * g.stride_w);
    let span = |start: usize, pad: usize, k: usize, size: usize| {
        let taps = valid_taps(start, pad, k, size);
        // An empty window (a hand-made geometry with more padding than pool) would put its
        // bounds before the input.
        if taps.is_empty() {
            0..0
        } else {
            start + taps.start - pad..start + taps.end - pad
        }
    };
    (span(y0, g.pad_top, g.pool_h, g.in_h), span(x0, g.pad_left, g.pool_w, g.in_w))
}

/// `out[n, oy, ox, c]` = mean of the input cells of the window, padding excluded. A window
/// without input cells (only in hand-made geometries) gives 0.
pub fn avg_pool2d_forward(g: &Pool2dGeometry, input: &[f32], out: &mut [f32]) {
    debug_assert_eq!(input.len(), g.batch * g.image_len(), "avg_pool2d: input length");
    debug_assert_eq!(out.len(), g.batch * g.out_image_len(), "avg_pool2d: output length");
    let (c, images) = (g.channels, g.images_per_task());
    parallel::for_each_chunk_mut(out, images * g.out_image_len(), |t, out| {
        for (j, out) in out.chunks_mut(g.out_image_len()).enumerate() {
            let image = &input[(t * images + j) * g.image_len()..][..g.image_len()];
            for (i, acc) in out.chunks_exact_mut(c).enumerate() {
                let (rows, cols) = window(g, i);
                acc.fill(0.0);
                for iy in rows.clone() {
                    // One window row is a contiguous run of pixels of `c` channels each.
                    let run = &image[(iy * g.in_w + cols.start) * c..(iy * g.in_w + cols.end) * c];
                    for pixel in run.chunks_exact(c) {
                        acc.iter_mut().zip(pixel).for_each(|(a, &v)| *a += v);
                    }
                }
                let count = (rows.len() * cols.len()) as f32;
                if count > 0.0 {
                    acc.iter_mut().for_each(|a| *a /= count);
                }
            }
        }
    });
}

/// `grad_input` = each output gradient divided by its window's cell count, added to every
/// input cell of the window (overwrites `grad_input`).
pub fn avg_pool2d_backward(g: &Pool2dGeometry, grad_out: &[f32], grad_input: &mut [f32]) {
    debug_assert_eq!(grad_out.len(), g.batch * g.out_image_len(), "avg_pool2d: grad_out length");
    debug_assert_eq!(grad_input.len(), g.batch * g.image_len(), "avg_pool2d: grad_input length");
    let (c, images) = (g.channels, g.images_per_task());
    parallel::for_each_chunk_mut(grad_input, images * g.image_len(), |t, gi| {
        gi.fill(0.0);
        let mut share = vec![0.0f32; c];
        for (j, gi) in gi.chunks_mut(g.image_len()).enumerate() {
            let go = &grad_out[(t * images + j) * g.out_image_len()..][..g.out_image_len()];
            for (i, d) in go.chunks_exact(c).enumerate() {
                let (rows, cols) = window(g, i);
                let count = (rows.len() * cols.len()) as f32;
                if count == 0.0 {
                    continue;
                }
                // Divided once per output, not once per covered cell.
                share.iter_mut().zip(d).for_each(|(s, &d)| *s = d / count);
                for iy in rows {
                    let run = &mut gi[(iy * g.in_w + cols.start) * c..(iy * g.in_w + cols.end) * c];
                    for pixel in run.chunks_exact_mut(c) {
                        pixel.iter_mut().zip(&share).for_each(|(a, &s)| *a += s);
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::Padding;
    use crate::rng::Rng;

    fn geometry(shape: &[usize], pool: (usize, usize), s: (usize, usize), p: Padding) -> Pool2dGeometry {
        Pool2dGeometry::for_op("avg_pool2d", shape, pool, s, p).unwrap()
    }

    fn random(len: usize, rng: &mut Rng) -> Vec<f32> {
        (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect()
    }

    /// Direct reference over padded coordinates: every tap of every window, padding skipped
    /// and not counted, the gradient scattered per tap.
    fn naive(g: &Pool2dGeometry, input: &[f32], grad_out: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (mut out, mut gi) = (Vec::new(), vec![0.0f32; input.len()]);
        for n in 0..g.batch {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for ch in 0..g.channels {
                        let mut cells = Vec::new();
                        for ky in 0..g.pool_h {
                            for kx in 0..g.pool_w {
                                let (y, x) = (oy * g.stride_h + ky, ox * g.stride_w + kx);
                                if y >= g.pad_top
                                    && x >= g.pad_left
                                    && y - g.pad_top < g.in_h
                                    && x - g.pad_left < g.in_w
                                {
                                    let (y, x) = (y - g.pad_top, x - g.pad_left);
                                    cells.push(((n * g.in_h + y) * g.in_w + x) * g.channels + ch);
                                }
                            }
                        }
                        let count = cells.len() as f32;
                        out.push(cells.iter().map(|&i| input[i]).sum::<f32>() / count);
                        let d = grad_out[out.len() - 1] / count;
                        cells.iter().for_each(|&i| gi[i] += d);
                    }
                }
            }
        }
        (out, gi)
    }

    #[test]
    fn forward_and_backward_match_naive() {
        use Padding::*;
        let cases = [
            geometry(&[1, 4, 4, 1], (2, 2), (2, 2), Valid),
            geometry(&[3, 7, 9, 5], (2, 2), (2, 2), Valid),
            geometry(&[3, 7, 9, 12], (2, 2), (2, 2), Same),
            geometry(&[2, 9, 8, 3], (3, 3), (2, 2), Valid),
            geometry(&[2, 9, 8, 3], (3, 3), (2, 2), Same),
            geometry(&[3, 5, 7, 2], (3, 3), (1, 1), Same),
            geometry(&[1, 7, 8, 4], (2, 3), (1, 2), Same),
            geometry(&[1, 3, 3, 2], (5, 5), (1, 1), Same),
            geometry(&[2, 8, 8, 2], (2, 2), (3, 3), Same),
            geometry(&[40, 5, 6, 3], (3, 3), (2, 2), Same),
        ];
        for (seed, g) in cases.into_iter().enumerate() {
            let mut rng = Rng::new(seed as u64);
            let input = random(g.batch * g.image_len(), &mut rng);
            let grad_out = random(g.batch * g.out_image_len(), &mut rng);
            let (want, want_gi) = naive(&g, &input, &grad_out);
            let (mut out, mut gi) = (vec![f32::NAN; want.len()], vec![f32::NAN; input.len()]);
            avg_pool2d_forward(&g, &input, &mut out);
            avg_pool2d_backward(&g, &grad_out, &mut gi);
            // Same taps in the same order: equal up to the last bit, but a tolerance keeps the
            // test about the semantics rather than the summation order.
            for (what, got, want) in [("output", &out, &want), ("gradient", &gi, &want_gi)] {
                for (i, (a, b)) in got.iter().zip(want.iter()).enumerate() {
                    assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{what}[{i}] {g:?}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn same_padding_is_not_counted() {
        // 1..9 in a 3x3 image; pool 2 stride 1 "same" pads one row below and one column to
        // the right, which must shrink the divisor rather than add zeros.
        let g = geometry(&[1, 3, 3, 1], (2, 2), (1, 1), Padding::Same);
        assert_eq!((g.pad_top, g.pad_left, g.out_h, g.out_w), (0, 0, 3, 3));
        let input: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let mut out = vec![0.0; 9];
        avg_pool2d_forward(&g, &input, &mut out);
        assert_eq!(out, [3.0, 4.0, 4.5, 6.0, 7.0, 7.5, 7.5, 8.5, 9.0]);
        // Every output's gradient is shared out in full: the input gradients sum to it.
        let mut gi = vec![0.0; 9];
        avg_pool2d_backward(&g, &[1.0; 9], &mut gi);
        assert_eq!(gi, [0.25, 0.5, 0.75, 0.5, 1.0, 1.5, 0.75, 1.5, 2.25]);
        assert_eq!(gi.iter().sum::<f32>(), 9.0);
    }

    #[test]
    fn single_thread_and_pool_agree_bitwise() {
        let g = geometry(&[37, 12, 11, 8], (3, 3), (1, 1), Padding::Same);
        let mut rng = Rng::new(6);
        let input = random(g.batch * g.image_len(), &mut rng);
        let grad_out = random(g.batch * g.out_image_len(), &mut rng);
        let run = || {
            let (mut out, mut gi) = (vec![0.0; grad_out.len()], vec![0.0; input.len()]);
            avg_pool2d_forward(&g, &input, &mut out);
            avg_pool2d_backward(&g, &grad_out, &mut gi);
            (out, gi)
        };
        let _guard = crate::parallel::tests::LIMIT_LOCK.lock().unwrap();
        parallel::set_thread_limit(Some(1));
        let one = run();
        parallel::set_thread_limit(None);
        let all = run();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!((bits(&one.0), bits(&one.1)), (bits(&all.0), bits(&all.1)));
    }

    #[test]
    fn errors_name_the_op() {
        let e = Pool2dGeometry::for_op("avg_pool2d", &[1, 2, 2, 1], (3, 3), (1, 1), Padding::Valid).unwrap_err();
        assert!(e.message.starts_with("avg_pool2d:") && e.message.contains("[1, 2, 2, 1]"), "{}", e.message);
    }
}
