// The experiments of the gradient-flow report, shared by run.mjs and the tests.
import { Sequential, layers, optimizers, NumericError } from 'ballast';

/**
 * A plain deep network: `depth` hidden layers of `width` units (MLP) or of 3x3 convolutions
 * with `width` channels (CNN), each optionally followed by BN before its activation.
 */
export function deepNet({ kind = 'mlp', depth, width = 256, activation, bn, seed = 1 }) {
  const block = () =>
    kind === 'mlp'
      ? layers.dense({ units: width, activation: bn ? 'linear' : activation, useBias: !bn })
      : layers.conv2d({ filters: width, kernelSize: 3, padding: 'same', activation: bn ? 'linear' : activation, useBias: !bn });
  const hidden = [];
  for (let i = 0; i < depth; i++) {
    hidden.push(block());
    if (bn) hidden.push(layers.batchNormalization(), layers.activation({ activation }));
  }
  const input =
    kind === 'mlp'
      ? [layers.input({ shape: [28, 28, 1] }), layers.flatten()]
      : [layers.input({ shape: [28, 28, 1] }), layers.maxPooling2d({ poolSize: 2 })]; // 14x14 keeps deep CNNs quick
  return new Sequential(
    [...input, ...hidden, ...(kind === 'mlp' ? [] : [layers.flatten()]), layers.dense({ units: 10, activation: 'softmax' })],
    { seed },
  );
}

/** The layers whose gradients the report follows: the hidden Dense/Conv2D layers, in order. */
export function hiddenLayerNames(model) {
  return model.layers.filter((l) => l.className === 'Dense' || l.className === 'Conv2D').slice(0, -1).map((l) => l.name);
}

/** Scales every kernel by `factor` (an initialization `factor` times too large). */
export function scaleKernels(model, factor) {
  model.setWeights(model.getWeights().filter((w) => w.name.endsWith('/kernel')).map((w) => ({ name: w.name, values: w.values.map((v) => v * factor) })));
}

/**
 * Loss and per-layer gradient norms at the current weights, from one training-mode pass.
 * The model's optimizer must be plain SGD with a negligible learning rate, so the step
 * leaves the weights as they are.
 */
export async function gradientsAtInit(model, x, y, batchSize) {
  let norms = [];
  const history = await model.fit(x, y, {
    batchSize, epochs: 1, shuffle: false,
    callbacks: { onBatchEnd: () => void (norms = model.lastGradientHealth()) },
  });
  return { loss: history.history.loss[0], norms };
}

/**
 * Trains for `steps` steps. Returns the loss curve, the first step at which the training
 * accuracy (mean of the last 20 batches) reached 90%, and why training stopped early if it did.
 */
export async function train(model, data, { steps, batchSize = 128, seed = 1 }) {
  const curve = [];
  let step = 0;
  let failure = null;
  let stepsTo90 = null;
  const recent = [];
  try {
    for (let epoch = 0; step < steps; epoch++) {
      await model.fit(data.train.x, data.train.y, {
        batchSize, epochs: 1, seed: seed + epoch, yieldEvery: 0,
        callbacks: {
          onBatchEnd: (_b, logs) => {
            step += 1;
            curve.push({ step, loss: logs.loss, accuracy: logs.accuracy });
            recent.push(logs.accuracy);
            if (recent.length > 20) recent.shift();
            if (stepsTo90 === null && recent.length === 20 && recent.reduce((a, b) => a + b) / 20 >= 0.9) stepsTo90 = step;
            if (step >= steps) throw new StopTraining();
          },
        },
      });
    }
  } catch (err) {
    if (err instanceof NumericError) failure = err.message;
    else if (!(err instanceof StopTraining)) throw err;
  }
  return { curve, stepsTo90, failure };
}

/**
 * Test accuracy with the moving statistics, and, for networks with BN, again after precise-BN
 * recalibration: after a short run, moving averages with momentum 0.99 still lag the weights,
 * and the lag compounds through deep stacks of BN layers.
 */
export async function testAccuracy(model, data, hasBn) {
  const [, moving] = await model.evaluate(data.test.x, data.test.y);
  if (!hasBn) return { moving, recalibrated: moving };
  model.recalibrateBatchNorm(data.train.x, { batches: 50 });
  const [, recalibrated] = await model.evaluate(data.test.x, data.test.y);
  return { moving, recalibrated };
}

class StopTraining extends Error {}

export function compileSgd(model, learningRate, extra = {}) {
  model.compile({ optimizer: optimizers.sgd({ learningRate, ...extra }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
}

export function compileAdam(model, learningRate = 1e-3) {
  model.compile({ optimizer: optimizers.adam({ learningRate }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
}

/**
 * A small CNN whose normalization layer is chosen: BN, Batch Renormalization, GroupNorm or
 * LayerNorm (or none), for the small-batch comparison.
 */
export function smallCnn(normalization, seed = 1) {
  const norm = () => {
    switch (normalization) {
      case 'batch': return [layers.batchNormalization()];
      case 'renorm': return [layers.batchNormalization({ renorm: true, renormClipping: { rmax: 3, dmax: 5 } })];
      case 'group': return [layers.groupNormalization({ groups: 4 })];
      case 'layer': return [layers.layerNormalization()];
      default: return [];
    }
  };
  const block = (filters) => [layers.conv2d({ filters, kernelSize: 3, useBias: normalization === 'none' }), ...norm(), layers.activation({ activation: 'relu' }), layers.maxPooling2d({ poolSize: 2 })];
  return new Sequential(
    [layers.input({ shape: [28, 28, 1] }), ...block(16), ...block(32), layers.flatten(), layers.dense({ units: 10, activation: 'softmax' })],
    { seed },
  );
}
