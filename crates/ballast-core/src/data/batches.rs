//! Batching helpers: one-hot targets, a seeded per-epoch example order, and row gathering.

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// One-hot encodes `labels` as a `[n, num_classes]` tensor.
pub fn one_hot(labels: &[u32], num_classes: usize) -> Result<Tensor> {
    let n = labels.len();
    // Checked before allocating: `num_classes` may come from a caller's typo or a hostile file.
    let total = n.checked_mul(num_classes).ok_or_else(|| {
        Error::argument(format!("one_hot: {n} labels × {num_classes} classes overflows the tensor size"))
    })?;
    if let Some((i, &label)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= num_classes) {
        return Err(Error::argument(format!(
            "one_hot: label {label} at index {i} is out of range for {num_classes} classes"
        )));
    }
    let mut data = vec![0.0f32; total];
    for (row, &label) in data.chunks_exact_mut(num_classes.max(1)).zip(labels) {
        row[label as usize] = 1.0;
    }
    Tensor::new(data, &[n, num_classes])
}

/// The order in which to visit `n` examples in epoch `epoch`: a permutation of `0..n`.
///
/// Shuffled orders depend only on `(seed, epoch)`, not on how many epochs ran before, so a run
/// resumed at epoch k sees the same batches as an uninterrupted one. `n` is at most `u32::MAX`
/// (indices are u32 to halve their memory); larger values are clamped.
pub fn batch_order(n: usize, shuffle: bool, seed: u64, epoch: u64) -> Vec<u32> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let mut order: Vec<u32> = (0..n).collect();
    if shuffle {
        Rng::new(seed).fork(epoch).shuffle(&mut order);
    }
    order
}

/// Copies rows `indices` of `src` (rows of `row_len` values) into `dst`, which is cleared first,
/// so one buffer can be reused for every batch.
///
/// Panics if an index addresses a row beyond `src`: indices come from [`batch_order`] over the
/// same data, so that is a bug in the caller, not bad input.
pub fn gather_rows(src: &[f32], row_len: usize, indices: &[u32], dst: &mut Vec<f32>) {
    dst.clear();
    dst.reserve(indices.len().saturating_mul(row_len));
    let rows = src.len().checked_div(row_len).unwrap_or(0);
    for &i in indices {
        let i = i as usize;
        assert!(row_len == 0 || i < rows, "gather_rows: row {i} out of range for {rows} rows");
        dst.extend_from_slice(&src[i * row_len..(i + 1) * row_len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn one_hot_sets_one_entry_per_row() {
        let t = one_hot(&[2, 0, 1], 3).unwrap();
        assert_eq!(t.shape(), &[3, 3]);
        assert_eq!(t.data(), &[0., 0., 1., 1., 0., 0., 0., 1., 0.]);
        assert_eq!(one_hot(&[], 10).unwrap().shape(), &[0, 10]);
        assert_eq!(one_hot(&[], 0).unwrap().shape(), &[0, 0]);
    }

    #[test]
    fn one_hot_rejects_out_of_range_labels() {
        let e = one_hot(&[0, 1, 9, 3], 9).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(e.message.contains("label 9 at index 2") && e.message.contains("9 classes"), "{e}");
        let e = one_hot(&[0], 0).unwrap_err();
        assert!(e.message.contains("index 0"), "{e}");
        let e = one_hot(&[0, 0], usize::MAX).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(e.message.contains("overflows"), "{e}");
    }

    fn is_permutation(order: &[u32], n: usize) -> bool {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        sorted == (0..n as u32).collect::<Vec<_>>()
    }

    #[test]
    fn batch_order_is_identity_unshuffled() {
        assert_eq!(batch_order(5, false, 123, 7), vec![0, 1, 2, 3, 4]);
        assert!(batch_order(0, true, 1, 0).is_empty());
    }

    #[test]
    fn batch_order_is_a_reproducible_permutation() {
        let a = batch_order(1000, true, 42, 3);
        assert!(is_permutation(&a, 1000));
        assert_eq!(a, batch_order(1000, true, 42, 3));
        assert_ne!(a, batch_order(1000, true, 42, 4), "epochs should differ");
        assert_ne!(a, batch_order(1000, true, 43, 3), "seeds should differ");
        assert_ne!(a, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn batch_order_moves_every_position_evenly() {
        // Over many epochs, element 0 should land in each of 4 slots about a quarter of the time.
        let mut counts = [0u32; 4];
        for epoch in 0..4000 {
            let order = batch_order(4, true, 9, epoch);
            counts[order.iter().position(|&v| v == 0).unwrap()] += 1;
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
    }

    #[test]
    fn gather_rows_assembles_a_batch() {
        let src: Vec<f32> = (0..12).map(|v| v as f32).collect(); // 4 rows of 3
        let mut dst = vec![99.0; 50];
        gather_rows(&src, 3, &[3, 0, 3], &mut dst);
        assert_eq!(dst, vec![9., 10., 11., 0., 1., 2., 9., 10., 11.]);
        gather_rows(&src, 3, &[], &mut dst);
        assert!(dst.is_empty());
        gather_rows(&src, 0, &[7, 8], &mut dst);
        assert!(dst.is_empty());
    }

    #[test]
    #[should_panic(expected = "row 4 out of range for 4 rows")]
    fn gather_rows_panics_on_a_bad_index() {
        gather_rows(&[0.0; 12], 3, &[4], &mut Vec::new());
    }
}
