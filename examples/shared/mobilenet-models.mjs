// A MobileNet-v1-style network for small images, built from depthwise-separable blocks with
// Batch Normalization; examples/resnet trains it as `--model mobilenet`, next to the ResNet.
import { Model, layers, optimizers } from 'ballast';
import { augment as augmentation } from './augmentation.mjs';

/** Filters and stride of each depthwise-separable block: on 28×28 inputs, 28 → 14 → 7. */
const BLOCKS = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1]];

/**
 * Howard et al.'s MobileNet ("MobileNets: Efficient Convolutional Neural Networks for Mobile
 * Vision Applications", 2017), scaled to 28×28 images: a 3×3 convolution with 32 filters,
 * then depthwise-separable blocks (a 3×3 depthwise convolution → BN → ReLU, a 1×1 pointwise
 * convolution → BN → ReLU), global average pooling, dropout and a softmax Dense layer.
 * `alpha` is the paper's width multiplier. No convolution has a bias: BN's beta replaces it.
 */
export function mobilenet({ alpha = 1, inputShape = [28, 28, 1], classes = 10, seed = 1, learningRate = 1e-3, dropout = 0.2, augment = false } = {}) {
  if (!(alpha > 0)) throw new Error(`the width multiplier alpha must be positive, got ${alpha}`);
  const width = (filters) => Math.max(8, Math.round(filters * alpha));
  const bn = (name) => layers.batchNormalization({ name });
  const relu = (name) => layers.activation({ activation: 'relu', name });

  const input = layers.input({ shape: inputShape });
  const images = augment ? augmentation(input) : input;
  let x = layers.conv2d({ filters: width(32), kernelSize: 3, padding: 'same', useBias: false, name: 'stem_conv' }).apply(images);
  x = relu('stem_relu').apply(bn('stem_bn').apply(x));
  BLOCKS.forEach(([filters, strides], i) => {
    const name = `block${i + 1}`;
    x = layers.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same', useBias: false, name: `${name}_dw` }).apply(x);
    x = relu(`${name}_dw_relu`).apply(bn(`${name}_dw_bn`).apply(x));
    x = layers.conv2d({ filters: width(filters), kernelSize: 1, useBias: false, name: `${name}_pw` }).apply(x);
    x = relu(`${name}_pw_relu`).apply(bn(`${name}_pw_bn`).apply(x));
  });
  x = layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x);
  x = layers.dropout({ rate: dropout, name: 'dropout' }).apply(x);
  const output = layers.dense({ units: classes, activation: 'softmax', name: 'predictions' }).apply(x);

  const model = new Model({ inputs: input, outputs: output, seed });
  model.compile({ optimizer: optimizers.adam({ learningRate }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
