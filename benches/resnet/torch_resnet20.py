"""PyTorch CPU reference for examples/resnet: the same ResNet trained the same way.

Usage: python3 torch_resnet20.py [--epochs 5] [--batch-size 128] [--learning-rate 0.001]
          [--threads 2] [--depth 20] [--data DIR] [--train-limit N] [--test-limit N]
          [--seed 1] [--warmup 5]

Reads Fashion-MNIST's gzip IDX files (Debian's dataset-fashion-mnist, which scripts/setup.sh
installs) with gzip and numpy, scales the pixels to [0, 1] and trains in NCHW. The network is
the one examples/shared/resnet-models.mjs builds, with Keras' conventions where they differ
from PyTorch's: TF 'same' padding (for a stride 2 on an even size TF pads 0 before and 1
after, PyTorch's padding=1 pads both sides), BN epsilon 1e-3 and momentum 0.99 (PyTorch's
momentum 0.01), Glorot-uniform kernels and zero biases, Adam epsilon 1e-7. Prints per-epoch
figures and, last, one `@bench-result ` JSON line as benches/compare/torch_bench.py does.
"""

import argparse
import gzip
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RESULT_TAG = "@bench-result "
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--data", default=DEFAULT_DATA, help="directory of the four gzip IDX files")
    p.add_argument("--train-limit", type=int, help="train on the first N examples only")
    p.add_argument("--test-limit", type=int, help="test on the first N examples only")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5, help="steps of the first epoch left out of the overall images/s")
    args = p.parse_args()
    if (args.depth - 2) % 6 != 0 or args.depth < 8:
        p.error(f"--depth must be 6n+2 with n >= 1 (8, 14, 20, 32, ...), got {args.depth}")
    for name in ("epochs", "batch_size", "threads"):
        if getattr(args, name) < (0 if name == "epochs" else 1):
            p.error(f"--{name.replace('_', '-')} is out of range: {getattr(args, name)}")
    return args


def read_idx(path):
    """A gzip IDX file as a numpy array (u8 images [n, h, w] or u8 labels [n])."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:  # 0x00000801 labels, 0x00000803 images: u8 elements
        raise ValueError(f"{path}: not a u8 IDX file (magic {magic:#010x})")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(dims):
        raise ValueError(f"{path}: {body.size} bytes of data for dimensions {dims}")
    return body.reshape(dims)


def load(data_dir, images, labels, limit):
    x = read_idx(os.path.join(data_dir, FILES[images]))
    y = read_idx(os.path.join(data_dir, FILES[labels]))
    if len(x) != len(y):
        raise ValueError(f"{data_dir}: {len(x)} images but {len(y)} labels")
    if limit is not None:
        x, y = x[:limit], y[:limit]
    # NCHW float32 in [0, 1], as Ballast's datasets.idx scales them (pixels / 255).
    x = torch.from_numpy((x.astype(np.float32) / 255.0)[:, None, :, :])
    return x, torch.from_numpy(y.astype(np.int64))


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TF/Keras 'same' padding: out = ceil(in / stride), the
    padding split with the odd pixel after (bottom/right), as TF does."""

    def __init__(self, cin, cout, k, stride=1):
        super().__init__(cin, cout, k, stride=stride, padding=0, bias=False)
        nn.init.xavier_uniform_(self.weight)  # Keras' glorot_uniform: same fans for OIHW and HWIO

    @staticmethod
    def _pads(size, k, s):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        return total // 2, total - total // 2

    def forward(self, x):
        top, bottom = self._pads(x.shape[2], self.kernel_size[0], self.stride[0])
        left, right = self._pads(x.shape[3], self.kernel_size[1], self.stride[1])
        if top == bottom and left == right:  # symmetric: the convolution pads by itself
            return F.conv2d(x, self.weight, None, self.stride, (top, left))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, None, self.stride, 0)


def bn(channels):
    # Keras' BatchNormalization: epsilon 1e-3, momentum 0.99 (PyTorch counts it the other way).
    # One small difference left: PyTorch's moving variance uses the unbiased batch variance,
    # Keras' the biased one; over 128 x 28 x 28 values per channel the two differ by 1e-5.
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = SameConv2d(cin, cout, 3, stride), bn(cout)
        self.conv2, self.bn2 = SameConv2d(cout, cout, 3), bn(cout)
        # Projection shortcut where the shape changes: 1x1 conv (stride 2 takes every other
        # pixel from the top left, as TF's 'same' does with no padding for k=1) and BN.
        self.project = stride != 1 or cin != cout
        if self.project:
            self.conv_s, self.bn_s = SameConv2d(cin, cout, 1, stride), bn(cout)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = self.bn_s(self.conv_s(x)) if self.project else x
        return F.relu(y + s)


class ResNet(nn.Module):
    """He et al.'s CIFAR ResNet (depth 6n+2): three stages of n basic blocks with 16/32/64
    filters, the first block of stages 2 and 3 strided, global average pooling, Dense."""

    def __init__(self, depth=20, in_channels=1, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = SameConv2d(in_channels, 16, 3)
        self.stem_bn = bn(16)
        blocks, cin = [], 16
        for stage, filters in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(cin, filters, stride))
                cin = filters
        self.blocks = nn.Sequential(*blocks)
        # Logits: CrossEntropyLoss applies the log-softmax that the Keras model's softmax stands for.
        self.fc = nn.Linear(cin, classes)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


def evaluate(model, x, y, batch=1000):
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            logits = model(x[i : i + batch])
            loss_sum += F.cross_entropy(logits, y[i : i + batch], reduction="sum").item()
            correct += (logits.argmax(1) == y[i : i + batch]).sum().item()
    return loss_sum / len(x), correct / len(x)


def main():
    args = parse_args()
    # Before any parallel work: the inter-op pool cannot be resized once it has started.
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)

    if not os.path.isdir(args.data):
        sys.exit(f"error: no Fashion-MNIST in {args.data} (run scripts/setup.sh, which installs "
                 "Debian's dataset-fashion-mnist, or pass --data DIR)")
    x, y = load(args.data, "train_images", "train_labels", args.train_limit)
    tx, ty = load(args.data, "test_images", "test_labels", args.test_limit)
    n = len(x)
    print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} thread(s), NCHW, "
          f"mkldnn {'available' if torch.backends.mkldnn.is_available() else 'unavailable'}")
    print(f"Fashion-MNIST: {n} training and {len(tx)} test images")

    model = ResNet(args.depth, x.shape[1], int(max(y.max(), ty.max())) + 1)
    params = sum(p.numel() for p in model.parameters())
    print(f"ResNet-{args.depth}: {params:,} trainable parameters")
    # Keras' Adam epsilon (Keras applies it to the bias-corrected estimate as PyTorch does,
    # up to a factor sqrt(1 - beta2^t) on epsilon: negligible).
    opt = torch.optim.Adam(model.parameters(), lr=args.learning_rate, eps=1e-7)
    gen = torch.Generator().manual_seed(args.seed)

    batches = math.ceil(n / args.batch_size)
    warmup = min(args.warmup, batches - 1) if args.epochs > 0 else 0
    steady_seconds, steady_images, total_seconds = 0.0, 0, 0.0
    epochs_log = []
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        start = time.perf_counter()
        mark, marked_images = start, 0
        for b in range(batches):
            rows = order[b * args.batch_size : (b + 1) * args.batch_size]
            xb, yb = x[rows], y[rows]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(rows)
            correct += (logits.argmax(1) == yb).sum().item()
            if epoch == 0 and b + 1 == warmup:
                mark, marked_images = time.perf_counter(), (b + 1) * args.batch_size
            done = b + 1
            if done % max(1, batches // 10) == 0 or done == batches:
                elapsed = time.perf_counter() - start
                seen = min(done * args.batch_size, n)
                print(f"  {done:>{len(str(batches))}}/{batches} - {seen / elapsed:.0f} img/s - "
                      f"loss: {loss_sum / seen:.4f} - acc: {correct / seen:.4f}", flush=True)
        end = time.perf_counter()
        seconds = end - start
        total_seconds += seconds
        steady_seconds += end - mark
        steady_images += n - marked_images
        val_loss, val_acc = evaluate(model, tx, ty)
        epochs_log.append({"epoch": epoch + 1, "seconds": seconds, "imagesPerSecond": n / seconds,
                           "loss": loss_sum / n, "acc": correct / n, "valLoss": val_loss, "valAcc": val_acc})
        print(f"Epoch {epoch + 1}/{args.epochs}: {seconds:.0f}s, {n / seconds:.0f} img/s - loss: {loss_sum / n:.4f} - "
              f"acc: {correct / n:.4f} - val_loss: {val_loss:.4f} - val_acc: {val_acc:.4f}", flush=True)

    # The last epoch's validation is the test (inference mode is deterministic).
    test_loss, test_acc = (val_loss, val_acc) if args.epochs > 0 else evaluate(model, tx, ty)
    ips = steady_images / steady_seconds if steady_seconds > 0 else float("nan")
    print(f"Training: {ips:.0f} images/s (after {warmup} warm-up steps), {total_seconds:.0f} s in all")
    print(f"Test accuracy: {test_acc * 100:.2f}% (loss {test_loss:.4f})")
    result = {
        "engine": "pytorch",
        "model": f"resnet{args.depth}",
        "epochs": args.epochs,
        "batchSize": args.batch_size,
        "trainExamples": n,
        "testExamples": len(tx),
        "trainImagesPerSecond": ips,
        "trainSeconds": total_seconds,
        "testAccuracy": test_acc,
        "testLoss": test_loss,
        "threads": torch.get_num_threads(),
        "perEpoch": epochs_log,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        # CPU time of all the process' threads, as benches/compare's scripts report theirs.
        "cpuSeconds": time.process_time(),
    }
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
