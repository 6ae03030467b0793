// The models of the tutorial, shared by the Node and browser examples.
import { Sequential, layers, optimizers } from 'ballast';
import { augmentations } from './augmentation.mjs';

export const variants = ['seed', 'bn-everywhere', 'no-bn'];

/**
 * `seed`: the tutorial's Keras CNN, BN on the input only.
 * `bn-everywhere`: BN after each convolution and after Dense(128), before the activation.
 * `no-bn`: the same CNN without any BN.
 * With `augment`, random shifts and rotations come first, in training only (augmentation.mjs).
 */
export function buildModel(variant = 'seed', { seed = 1, learningRate = 1e-3, augment = false } = {}) {
  if (!variants.includes(variant)) throw new Error(`unknown model variant '${variant}' (${variants.join(', ')})`);
  const bnEverywhere = variant === 'bn-everywhere';
  // With BN right after it, a layer's bias is redundant (BN's beta takes its place).
  const convBlock = (filters) =>
    bnEverywhere
      ? [
          layers.conv2d({ filters, kernelSize: 3, useBias: false }),
          layers.batchNormalization(),
          layers.activation({ activation: 'relu' }),
        ]
      : [layers.conv2d({ filters, kernelSize: 3, activation: 'relu' })];
  const model = new Sequential(
    [
      layers.input({ shape: [28, 28, 1] }),
      ...(augment ? augmentations.digits() : []),
      ...(variant === 'no-bn' ? [] : [layers.batchNormalization()]),
      ...convBlock(32),
      layers.maxPooling2d({ poolSize: 2 }),
      ...convBlock(64),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.flatten(),
      ...(bnEverywhere
        ? [layers.dense({ units: 128, useBias: false }), layers.batchNormalization(), layers.activation({ activation: 'relu' })]
        : [layers.dense({ units: 128, activation: 'relu' })]),
      layers.dropout({ rate: 0.5 }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
    { seed },
  );
  model.compile({ optimizer: optimizers.adam({ learningRate }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
