"""Reference values for the losses and metrics of the training toolkit, from Keras itself.

Writes ``keras_training.json`` (same format as the PyTorch goldens, see README.md):

* ``loss_*``    -- a Keras loss on fixed predictions and targets (and sample weights): the
                   value and its gradient with respect to the predictions (tf.GradientTape).
* ``metric_*``  -- a Keras metric updated with two batches: its value after the first batch
                   and after both (Keras' epoch aggregation).

Keras and TensorFlow are needed only to regenerate the file (CI reads the committed JSON):

    python3 -m venv .venv-keras && .venv-keras/bin/pip install tensorflow-cpu==2.21.0
    .venv-keras/bin/python crates/ballast-core/tests/golden/make_keras_training.py

Generated with TensorFlow 2.21.0 and Keras 3.15.1 (CPU).
"""
import base64
import json
import os
import sys
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np
import tensorflow as tf
import keras

HERE = os.path.dirname(os.path.abspath(__file__))


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode("utf-8")))


def enc(a):
    a = np.asarray(a, dtype="<f4")
    if a.ndim == 0:
        a = a.reshape(1)
    assert np.all(np.isfinite(a)), "non-finite value"
    return {"shape": list(a.shape), "b64": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")}


def probabilities(rng, shape):
    """Rows that sum to one (a softmax of random logits)."""
    z = rng.normal(size=shape)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def one_hot(rng, n, c):
    labels = rng.integers(0, c, size=n)
    return np.eye(c, dtype=np.float32)[labels], labels.astype(np.float32)


def loss_case(name, loss, pred, target, weights=None, spec=None, sparse_labels=None):
    """`spec` is the loss as Ballast reads it (a name or {className, config}), as JSON."""
    p = tf.Variable(pred.astype(np.float32))
    with tf.GradientTape() as tape:
        y = sparse_labels if sparse_labels is not None else target
        # Keras broadcasts weights against the per-row losses ([batch, ...]): one per example.
        w = None if weights is None else tf.constant(weights.reshape((-1,) + (1,) * (pred.ndim - 2)))
        value = loss(tf.constant(y), p, sample_weight=w)
    grad = tape.gradient(value, p)
    tensors = {"pred": pred, "target": target, "loss": value.numpy(), "grad": grad.numpy()}
    if weights is not None:
        tensors["weights"] = weights
    return {"config": {"spec": json.dumps(spec)}, "tensors": {k: enc(v) for k, v in tensors.items()}}


def metric_case(name, metric, spec, loss, batches):
    """`batches`: two (pred, target) pairs; `loss` picks what 'accuracy' means."""
    metric.update_state(batches[0][1], batches[0][0])
    first = float(metric.result())
    metric.update_state(batches[1][1], batches[1][0])
    both = float(metric.result())
    tensors = {"pred1": batches[0][0], "target1": batches[0][1], "pred2": batches[1][0], "target2": batches[1][1],
               "first": np.float32(first), "both": np.float32(both)}
    return {"config": {"spec": json.dumps(spec), "loss": loss}, "tensors": {k: enc(v) for k, v in tensors.items()}}


def loss_cases():
    c = {}
    L = keras.losses
    r = rng_for("cce")
    p = probabilities(r, (6, 4))
    y, labels = one_hot(r, 6, 4)
    w = r.uniform(0, 2, size=6).astype(np.float32)
    logits = r.normal(size=(6, 4)).astype(np.float32)
    c["loss_cce"] = loss_case("cce", L.CategoricalCrossentropy(), p, y, spec="categoricalCrossentropy")
    c["loss_cce_weighted"] = loss_case("cce_w", L.CategoricalCrossentropy(), p, y, w, spec="categorical_crossentropy")
    c["loss_cce_smoothing"] = loss_case("cce_ls", L.CategoricalCrossentropy(label_smoothing=0.1), p, y,
                                        spec={"className": "CategoricalCrossentropy", "config": {"labelSmoothing": 0.1}})
    c["loss_cce_logits"] = loss_case("cce_logits", L.CategoricalCrossentropy(from_logits=True), logits, y,
                                     spec={"className": "CategoricalCrossentropy", "config": {"fromLogits": True}})
    # Probabilities that do not sum to one: Keras normalizes them first.
    unnormalized = r.uniform(0.05, 1.0, size=(6, 4)).astype(np.float32)
    c["loss_cce_unnormalized"] = loss_case("cce_un", L.CategoricalCrossentropy(), unnormalized, y, spec="categoricalCrossentropy")
    c["loss_sparse"] = loss_case("sparse", L.SparseCategoricalCrossentropy(), p, y, spec="sparseCategoricalCrossentropy",
                                 sparse_labels=labels)
    c["loss_sparse_logits"] = loss_case("sparse_l", L.SparseCategoricalCrossentropy(from_logits=True), logits, y,
                                        spec={"className": "SparseCategoricalCrossentropy", "config": {"fromLogits": True}},
                                        sparse_labels=labels)
    r = rng_for("bce")
    pb = r.uniform(0.02, 0.98, size=(3, 2, 4)).astype(np.float32)
    yb = (r.uniform(size=(3, 2, 4)) < 0.5).astype(np.float32)
    zb = r.normal(scale=2.0, size=(3, 2, 4)).astype(np.float32)
    wb = r.uniform(0, 2, size=3).astype(np.float32)
    c["loss_bce"] = loss_case("bce", L.BinaryCrossentropy(), pb, yb, spec="binaryCrossentropy")
    c["loss_bce_logits_smoothing"] = loss_case(
        "bce_l", L.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), zb, yb, wb,
        spec={"className": "BinaryCrossentropy", "config": {"fromLogits": True, "labelSmoothing": 0.2}})
    r = rng_for("regression")
    pr = r.normal(size=(5, 3)).astype(np.float32)
    yr = r.normal(size=(5, 3)).astype(np.float32)
    wr = r.uniform(0, 2, size=5).astype(np.float32)
    c["loss_mse"] = loss_case("mse", L.MeanSquaredError(), pr, yr, wr, spec="mse")
    c["loss_mae"] = loss_case("mae", L.MeanAbsoluteError(), pr, yr, spec="meanAbsoluteError")
    c["loss_huber"] = loss_case("huber", L.Huber(delta=0.5), pr, yr, wr, spec={"className": "Huber", "config": {"delta": 0.5}})
    r = rng_for("kld")
    c["loss_kld"] = loss_case("kld", L.KLDivergence(), probabilities(r, (5, 4)), probabilities(r, (5, 4)), spec="kld")
    return c


def metric_cases():
    c = {}
    M = keras.metrics
    r = rng_for("categorical metrics")
    cat = [(probabilities(r, (8, 5)), one_hot(r, 8, 5)[0]), (probabilities(r, (6, 5)), one_hot(r, 6, 5)[0])]
    r = rng_for("binary metrics")
    # Scores that lean towards the labels, so the curves are not trivial.
    def binary(n):
        y = (r.uniform(size=(n, 1)) < 0.4).astype(np.float32)
        return np.clip(r.uniform(size=(n, 1)) * 0.8 + 0.3 * y, 0, 1).astype(np.float32), y
    binary_batches = [binary(40), binary(30)]
    cce, bce = "categoricalCrossentropy", "binaryCrossentropy"
    c["metric_categorical_accuracy"] = metric_case("ca", M.CategoricalAccuracy(), "accuracy", cce, cat)
    c["metric_top2"] = metric_case("top2", M.TopKCategoricalAccuracy(k=2), {"className": "TopKCategoricalAccuracy", "config": {"k": 2}}, cce, cat)
    c["metric_mae"] = metric_case("mae", M.MeanAbsoluteError(), "mae", cce, cat)
    c["metric_mse"] = metric_case("mse", M.MeanSquaredError(), "mse", cce, cat)
    c["metric_precision_multiclass"] = metric_case("p_mc", M.Precision(thresholds=0.3), {"className": "Precision", "config": {"threshold": 0.3}}, cce, cat)
    c["metric_binary_accuracy"] = metric_case("ba", M.BinaryAccuracy(threshold=0.4), {"className": "BinaryAccuracy", "config": {"threshold": 0.4}}, bce, binary_batches)
    c["metric_precision"] = metric_case("p", M.Precision(), "precision", bce, binary_batches)
    c["metric_recall"] = metric_case("r", M.Recall(), "recall", bce, binary_batches)
    c["metric_auc_roc"] = metric_case("auc", M.AUC(), "auc", bce, binary_batches)
    c["metric_auc_pr"] = metric_case("auc_pr", M.AUC(curve="PR"), {"className": "AUC", "config": {"curve": "PR"}}, bce, binary_batches)
    c["metric_auc_50"] = metric_case("auc50", M.AUC(num_thresholds=50), {"className": "AUC", "config": {"numThresholds": 50}}, bce, binary_batches)
    return c


def main():
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    cases = {**loss_cases(), **metric_cases()}
    path = os.path.join(HERE, "keras_training.json")
    with open(path, "w") as f:
        json.dump(cases, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
