"""PyTorch CPU training and inference images/s on the same CNN, in NCHW.

Usage: python3 torch_bench.py --data DIR [--threads 2] [--batch 128] [--infer-batch 1000] ...
Reads the images run.mjs wrote (one channel, so its bytes are NCHW as they are) and prints the
same one-line result the Node scripts print.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from torch import nn

RESULT_TAG = "@bench-result "


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--infer-batch", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--min-steps", type=int, default=20)
    p.add_argument("--min-seconds", type=float, default=5)
    p.add_argument("--infer-reps", type=int, default=5)
    p.add_argument("--max-seconds", type=float, default=90)
    return p.parse_args()


def build_model(classes):
    # Keras' defaults where they differ from PyTorch's: BN epsilon 1e-3 and momentum 0.99
    # (PyTorch counts momentum the other way round).
    return nn.Sequential(
        nn.BatchNorm2d(1, eps=1e-3, momentum=0.01),
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1600, 128),
        nn.ReLU(),
        nn.Dropout(0.5),
        # Logits: CrossEntropyLoss applies the log-softmax the Keras model's softmax stands for.
        nn.Linear(128, classes),
    )


def time_repeated(fn, warmup, min_reps, min_seconds, max_seconds=float("inf"), max_reps=2000):
    """Median and spread of fn(i) after warm-up calls, over at least min_reps and min_seconds.

    The same rule as lib.mjs' timeRepeated, time caps included, so every engine is timed alike.
    """
    i = 0
    warm_start = time.perf_counter()
    while i < warmup and not (i >= 1 and time.perf_counter() - warm_start >= max_seconds / 2):
        fn(i)
        i += 1
    warmups = i
    times = []
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if len(times) >= max_reps:
            break
        if len(times) >= min_reps and elapsed >= min_seconds:
            break
        if len(times) >= 3 and elapsed >= max_seconds:
            break
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
        i += 1
    times.sort()

    def at(q):
        return times[min(len(times) - 1, int(q * len(times)))]

    return {"medianMs": at(0.5), "p10Ms": at(0.1), "p90Ms": at(0.9), "reps": len(times), "warmups": warmups}


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    with open(os.path.join(args.data, "meta.json")) as f:
        meta = json.load(f)
    n, h, w, classes = meta["n"], meta["height"], meta["width"], meta["classes"]
    images = np.fromfile(os.path.join(args.data, "images.f32"), dtype="<f4").reshape(n, 1, h, w)
    labels = np.fromfile(os.path.join(args.data, "labels.u8"), dtype=np.uint8).astype(np.int64)
    x = torch.from_numpy(images)
    y = torch.from_numpy(labels)

    model = build_model(classes)
    # Keras' Adam epsilon, so the update rule is the one the other engines run.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    weights = sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked")
    )
    result = {
        "engine": "torch",
        "label": "PyTorch CPU (NCHW)",
        "threads": torch.get_num_threads(),
        "weights": weights,
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "notes": f"mkldnn available: {torch.backends.mkldnn.is_available()}",
    }

    batches = n // args.batch

    def train_step(i):
        b = i % batches
        xb = x[b * args.batch : (b + 1) * args.batch]
        yb = y[b * args.batch : (b + 1) * args.batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        # The loss read back, as Ballast's step and tf.js' trainOnBatch return it.
        return loss.item()

    try:
        model.train()
        t = time_repeated(train_step, args.warmup, args.min_steps, args.min_seconds, args.max_seconds)
        result["train"] = {**t, "imagesPerSecond": args.batch / t["medianMs"] * 1000}
    except Exception as err:  # reported in the table, like the other engines' failures
        result["train"] = {"error": str(err).split("\n")[0]}

    try:
        model.eval()
        xi = x[: args.infer_batch]

        def infer(_i):
            with torch.inference_mode():
                return model(xi)

        t = time_repeated(infer, 2, args.infer_reps, args.min_seconds / 2, args.max_seconds)
        result["infer"] = {**t, "imagesPerSecond": args.infer_batch / t["medianMs"] * 1000}
    except Exception as err:
        result["infer"] = {"error": str(err).split("\n")[0]}

    # CPU time of all the process' threads, as the Node scripts report theirs.
    result["cpuSeconds"] = time.process_time()
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
