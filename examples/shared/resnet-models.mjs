// The ResNet of examples/resnet, built with the functional API; benches/resnet/torch_resnet20.py
// builds the same network in PyTorch.
import { Model, layers, optimizers } from 'ballast';
import { augment as augmentation } from './augmentation.mjs';

/** What is wrong with a ResNet depth, or null: it must be 6n + 2 with n ≥ 1. */
export function depthProblem(depth) {
  const ok = Number.isInteger(depth) && depth >= 8 && (depth - 2) % 6 === 0;
  return ok ? null : `ResNet depth must be 6n + 2 with n ≥ 1 (8, 14, 20, 32, ...), got ${depth}`;
}

/** The depths He et al. trained on CIFAR-10; any 6n + 2 (n ≥ 1) builds. */
export const resnetDepths = [20, 32, 44, 56, 110];

/**
 * He et al.'s CIFAR ResNet ("Deep Residual Learning for Image Recognition", 2015, section 4.2),
 * depth 6n + 2: a 3×3 convolution with 16 filters, then three stages of n basic blocks with
 * 16, 32 and 64 filters (the first block of stages 2 and 3 halves the size with stride 2),
 * global average pooling and a softmax Dense layer.
 *
 * A basic block is conv3×3 → BN → ReLU → conv3×3 → BN, added to a shortcut, then ReLU. The
 * shortcut is the identity, or a projection (1×1 convolution with the block's stride, then
 * BN) where the shape changes. Every convolution is followed by BN, so none has a bias (BN's
 * beta takes its place). Padding is 'same' throughout (on 28×28 inputs: 28 → 14 → 7).
 *
 * Layers are named after their place (`stage2_block1_conv1`, `stage2_block1_shortcut_bn`,
 * ...): with some forty convolutions and BNs, Keras' numbered defaults would not say which
 * is which in the summary or in the saved weights.
 */
export function resnet({ depth = 20, inputShape = [28, 28, 1], classes = 10, seed = 1, learningRate = 1e-3, augment = false } = {}) {
  const problem = depthProblem(depth);
  if (problem) throw new Error(problem);
  const blocks = (depth - 2) / 6;

  const conv = (name, filters, { kernelSize = 3, strides = 1 } = {}) =>
    layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, name });
  const bn = (name) => layers.batchNormalization({ name });
  const relu = (name) => layers.activation({ activation: 'relu', name });

  const input = layers.input({ shape: inputShape });
  const images = augment ? augmentation(input) : input;
  let x = conv('stem_conv', 16).apply(images);
  x = bn('stem_bn').apply(x);
  x = relu('stem_relu').apply(x);

  let channels = 16;
  [16, 32, 64].forEach((filters, stage) => {
    for (let b = 0; b < blocks; b++) {
      const name = `stage${stage + 1}_block${b + 1}`;
      const strides = stage > 0 && b === 0 ? 2 : 1;
      let y = conv(`${name}_conv1`, filters, { strides }).apply(x);
      y = bn(`${name}_bn1`).apply(y);
      y = relu(`${name}_relu1`).apply(y);
      y = conv(`${name}_conv2`, filters).apply(y);
      y = bn(`${name}_bn2`).apply(y);
      let shortcut = x;
      if (strides !== 1 || channels !== filters) {
        shortcut = conv(`${name}_shortcut_conv`, filters, { kernelSize: 1, strides }).apply(x);
        shortcut = bn(`${name}_shortcut_bn`).apply(shortcut);
      }
      x = layers.add({ name: `${name}_add` }).apply([y, shortcut]);
      x = relu(`${name}_relu2`).apply(x);
      channels = filters;
    }
  });

  x = layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x);
  const output = layers.dense({ units: classes, activation: 'softmax', name: 'predictions' }).apply(x);

  const model = new Model({ inputs: input, outputs: output, seed });
  model.compile({ optimizer: optimizers.adam({ learningRate }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
