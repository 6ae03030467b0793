// Dilated and grouped Conv2D, DepthwiseConv2D and SeparableConv2D through the package: a small
// depthwise-separable (MobileNet-style) model learns, saves and loads; the resolved configs
// come from the core with Keras' defaults; bad options are ArgumentErrors naming the option,
// and kernels that do not fit the input are ShapeErrors naming the layer.
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layers, Model, optimizers, tensor, loadModel, diagnostics, ArgumentError, ShapeError, type Tensor } from 'ballast';
import { expectScalarMatchesSimd, rng } from './reference.js';
import { fused } from './build.js';


/** `n` random 8×8×3 images in 3 classes; the class shifts the mean of one channel. */
function data(n: number, seed: number): { x: Tensor; y: Tensor } {
  const r = rng(seed);
  const x = new Float32Array(n * 192);
  const y = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const cls = i % 3;
    y[i * 3 + cls] = 1;
    for (let j = 0; j < 192; j++) x[i * 192 + j] = r() * 2 - 1 + (j % 3 === cls ? 1 : 0);
  }
  return { x: tensor(x, [n, 8, 8, 3]), y: tensor(y, [n, 3]) };
}

/** Conv, a depthwise-separable block as MobileNet writes it, a separable conv, pooled. */
function mobilenetLike(): Model {
  const inp = layers.input({ shape: [8, 8, 3] });
  let h = layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(inp);
  h = layers.batchNormalization().apply(h);
  h = layers.activation({ activation: 'relu' }).apply(h);
  h = layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw' }).apply(h);
  h = layers.batchNormalization().apply(h);
  h = layers.activation({ activation: 'relu' }).apply(h);
  h = layers.conv2d({ filters: 12, kernelSize: 1, activation: 'relu' }).apply(h);
  h = layers.separableConv2d({ filters: 12, kernelSize: 3, padding: 'same', depthMultiplier: 2, dilationRate: 2, activation: 'relu', name: 'sep' }).apply(h);
  h = layers.globalAveragePooling2d().apply(h);
  const out = layers.dense({ units: 3, activation: 'softmax' }).apply(h);
  const model = new Model({ inputs: inp, outputs: out, seed: 2 });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

describe('depthwise and separable convolutions', () => {
  it('a depthwise-separable model learns, and saves and loads bit-identically', async () => {
    const { x, y } = data(48, 1);
    const model = mobilenetLike();
    const weights = model.getWeights().map((w) => `${w.name}[${w.shape}]`);
    expect(weights).toContain('dw/depthwise_kernel[3,3,8,1]');
    expect(weights).toContain('sep/depthwise_kernel[3,3,12,2]');
    expect(weights).toContain('sep/pointwise_kernel[1,1,24,12]');
    expect(weights).toContain('sep/bias[12]');
    expect(weights.some((w) => w.startsWith('dw/bias'))).toBe(false);
    const losses: number[] = [];
    await model.fit(x, y, { batchSize: 16, epochs: 6, callbacks: { onBatchEnd: (_, logs) => void losses.push(logs.loss) } });
    expect(losses.every(Number.isFinite)).toBe(true);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)) * 0.8);

    const dir = await mkdtemp(join(tmpdir(), 'ballast-conv-'));
    await model.save(dir);
    const loaded = await loadModel(dir);
    expect(Array.from((await loaded.predict(x)).data())).toEqual(Array.from((await model.predict(x)).data()));
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { nodes: Array<{ name: string; className: string; config: Record<string, unknown> }> };
    const sep = json.nodes.find((n) => n.name === 'sep')!;
    expect(sep.className).toBe('SeparableConv2D');
    expect(sep.config).toMatchObject({ filters: 12, depthMultiplier: 2, dilationRate: [2, 2] });
  });

  it('SIMD128 and scalar kernels, one thread and the pool, train bit-identically', async () => {
    const { x, y } = data(32, 2);
    /** Weights after two steps and the predictions, under the given switches. */
    const run = async (simd: boolean, limit: number) => {
      diagnostics.setSimd(simd);
      diagnostics.setThreadLimit(limit);
      try {
        const model = mobilenetLike();
        await model.fit(x, y, { batchSize: 16, epochs: 1 });
        return { weights: model.getWeights().map((w) => Array.from(w.values)), predicted: Array.from((await model.predict(x)).data()) };
      } finally {
        diagnostics.setSimd(true);
        diagnostics.setThreadLimit(0);
      }
    };
    const reference = await run(true, 0);
    expectScalarMatchesSimd(await run(false, 0), reference, fused);
    expect(await run(true, 1)).toEqual(reference);
  });

  it('resolved configs are read from the core, with Keras defaults', () => {
    expect(layers.depthwiseConv2d({ kernelSize: 3 }).config).toEqual({
      kernelSize: [3, 3], strides: [1, 1], padding: 'valid', depthMultiplier: 1, dilationRate: [1, 1],
      activation: 'linear', useBias: true, depthwiseInitializer: 'glorotUniform', biasInitializer: 'zeros',
      depthwiseRegularizer: null, biasRegularizer: null,
    });
    expect(layers.separableConv2d({ filters: 4, kernelSize: [3, 5] }).config).toEqual({
      filters: 4, kernelSize: [3, 5], strides: [1, 1], padding: 'valid', dilationRate: [1, 1], depthMultiplier: 1,
      activation: 'linear', useBias: true, depthwiseInitializer: 'glorotUniform', pointwiseInitializer: 'glorotUniform',
      biasInitializer: 'zeros', depthwiseRegularizer: null, pointwiseRegularizer: null, biasRegularizer: null,
    });
    const conv = layers.conv2d({ filters: 4, kernelSize: 3, dilationRate: [2, 1] });
    expect(conv.config).toMatchObject({ dilationRate: [2, 1], groups: 1 });
    expect(layers.depthwiseConv2d({ kernelSize: 3 }).defaultName).toBe('depthwise_conv2d');
    expect(layers.separableConv2d({ filters: 4, kernelSize: 3 }).defaultName).toBe('separable_conv2d');
  });

  it('output shapes follow TensorFlow: dilated spans, strides, multipliers and groups', () => {
    const inp = layers.input({ shape: [9, 9, 4] });
    expect(layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2 }).apply(inp).shape).toEqual([null, 5, 5, 2]);
    expect(layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 3, strides: 2, padding: 'same' }).apply(inp).shape).toEqual([null, 5, 5, 12]);
    expect(layers.separableConv2d({ filters: 6, kernelSize: 3, dilationRate: [2, 3], padding: 'same' }).apply(inp).shape).toEqual([null, 9, 9, 6]);
    expect(layers.conv2d({ filters: 6, kernelSize: 3, groups: 2 }).apply(inp).shape).toEqual([null, 7, 7, 6]);
  });

  it('bad options are ArgumentErrors naming the option; kernels too large are ShapeErrors', () => {
    const argument = (f: () => unknown, option: string) => {
      expect(f).toThrow(ArgumentError);
      expect(f).toThrow(option);
    };
    argument(() => layers.depthwiseConv2d({ kernelSize: 3, strides: 2, dilationRate: 2 }), "'dilationRate'");
    argument(() => layers.conv2d({ filters: 4, kernelSize: 3, strides: [2, 1], dilationRate: [1, 2] }), "'strides'");
    argument(() => layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 0 }), "'depthMultiplier'");
    argument(() => layers.separableConv2d({ filters: 2, kernelSize: 3, dilationRate: 0 }), "'dilationRate'");
    argument(() => layers.separableConv2d({ kernelSize: 3 } as never), "'filters'");
    argument(() => layers.conv2d({ filters: 5, kernelSize: 3, groups: 2 }), "'groups'");
    argument(() => layers.depthwiseConv2d({ kernelSize: 3, filters: 2 } as never), "unknown option 'filters'");

    const inp = layers.input({ shape: [5, 6, 3] });
    const dilated = () => layers.depthwiseConv2d({ kernelSize: 3, dilationRate: 3, name: 'wide' }).apply(inp);
    expect(dilated).toThrow(ShapeError);
    expect(dilated).toThrow("layer 'wide' (DepthwiseConv2D): depthwise_conv2d: kernel 3x3 with dilationRate (3, 3) spans 7x7, larger than the input 5x6");
    const groups = () => layers.conv2d({ filters: 4, kernelSize: 1, groups: 2 }).apply(inp);
    expect(groups).toThrow(ShapeError);
    expect(groups).toThrow("not divisible by option 'groups' (2)");
  });
});
