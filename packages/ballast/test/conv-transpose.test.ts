// Conv2DTranspose through the package: a small conv/transposed-conv autoencoder learns to
// reproduce its input, the resolved config comes from the core with Keras' defaults, output
// shapes follow Keras, and bad options are typed errors naming the option.
import { describe, expect, it } from 'vitest';
import { layers, Model, optimizers, tensor, diagnostics, ArgumentError, ShapeError, type Tensor } from 'ballast';
import { expectScalarMatchesSimd, rng } from './reference.js';
import { fused } from './build.js';


/** `n` smooth 8×8×2 images (a random plane per image and channel), so they compress. */
function images(n: number, seed: number): Tensor {
  const r = rng(seed);
  const x = new Float32Array(n * 128);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 2; c++) {
      const [a, b, d] = [r() * 2 - 1, r() * 2 - 1, r() - 0.5];
      for (let y = 0; y < 8; y++) for (let xx = 0; xx < 8; xx++) x[i * 128 + (y * 8 + xx) * 2 + c] = (a * y + b * xx) / 8 + d;
    }
  return tensor(x, [n, 8, 8, 2]);
}

/** Conv stride 2 (8×8 → 4×4), transposed conv stride 2 back to 8×8. */
function autoencoder(): { model: Model; codeShape: (number | null)[] } {
  const inp = layers.input({ shape: [8, 8, 2] });
  const code = layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', name: 'down' }).apply(inp);
  const out = layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', name: 'up' }).apply(code);
  const model = new Model({ inputs: inp, outputs: out, seed: 3 });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'mse' });
  return { model, codeShape: code.shape };
}

describe('conv2dTranspose', () => {
  it('an autoencoder returns to the input size and its mse falls', async () => {
    const x = images(32, 1);
    const { model, codeShape } = autoencoder();
    expect(model.outputShape).toEqual([8, 8, 2]);
    expect(codeShape).toEqual([null, 4, 4, 6]);
    const weights = model.getWeights().map((w) => `${w.name}[${w.shape}]`);
    expect(weights).toContain('up/kernel[3,3,2,6]');
    expect(weights).toContain('up/bias[2]');
    const history = await model.fit(x, x, { epochs: 15, batchSize: 16 });
    const loss = history.history.loss;
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(loss[loss.length - 1]).toBeLessThan(loss[0] * 0.5);
    expect((await model.predict(x)).shape).toEqual([32, 8, 8, 2]);
  });

  it('SIMD128 and scalar kernels, one thread and the pool, train bit-identically', async () => {
    const x = images(48, 2);
    /** Weights after one epoch and the predictions, under the given switches. */
    const run = async (simd: boolean, limit: number) => {
      diagnostics.setSimd(simd);
      diagnostics.setThreadLimit(limit);
      try {
        const { model } = autoencoder();
        await model.fit(x, x, { batchSize: 24, epochs: 1 });
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

  it('resolved config is read from the core, with Keras defaults', () => {
    const layer = layers.conv2dTranspose({ filters: 4, kernelSize: 3 });
    expect(layer.config).toMatchObject({
      filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', dilationRate: [1, 1], activation: 'linear',
      useBias: true, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros',
    });
    // No regularizer by default (whether the core lists the absent ones as null or not).
    expect(layer.config.kernelRegularizer ?? null).toBeNull();
    expect(layer.config.biasRegularizer ?? null).toBeNull();
    const options = Object.keys(layer.config).filter((k) => !k.endsWith('Regularizer')).sort();
    expect(options).toEqual(['activation', 'biasInitializer', 'dilationRate', 'filters', 'kernelInitializer', 'kernelSize', 'padding', 'strides', 'useBias']);
    const regularized = layers.conv2dTranspose({ filters: 4, kernelSize: 3, kernelRegularizer: 'l2' });
    expect(regularized.config.kernelRegularizer).toEqual({ className: 'L2', config: { l2: 0.01 } });
    expect(layer.className).toBe('Conv2DTranspose');
    expect(layer.defaultName).toBe('conv2d_transpose');
  });

  it('output shapes follow Keras: valid (in - 1)·s + k, or in·s; same in·s', () => {
    const inp = layers.input({ shape: [5, 4, 3] });
    const shape = (config: Parameters<typeof layers.conv2dTranspose>[0]) => layers.conv2dTranspose(config).apply(inp).shape;
    expect(shape({ filters: 2, kernelSize: 3 })).toEqual([null, 7, 6, 2]);
    expect(shape({ filters: 2, kernelSize: 3, strides: 2 })).toEqual([null, 11, 9, 2]);
    expect(shape({ filters: 2, kernelSize: [3, 2], strides: [2, 3], padding: 'same' })).toEqual([null, 10, 12, 2]);
    expect(shape({ filters: 2, kernelSize: 2, strides: 3 })).toEqual([null, 15, 12, 2]);
    expect(shape({ filters: 2, kernelSize: 3, dilationRate: 2 })).toEqual([null, 9, 8, 2]);
  });

  it('bad options are ArgumentErrors naming the option; a wrong input rank is a ShapeError', () => {
    const argument = (f: () => unknown, option: string) => {
      expect(f).toThrow(ArgumentError);
      expect(f).toThrow(option);
    };
    argument(() => layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2 }), "'dilationRate'");
    argument(() => layers.conv2dTranspose({ kernelSize: 3 } as never), "'filters'");
    argument(() => layers.conv2dTranspose({ filters: 2, kernelSize: 0 }), "'kernelSize'");
    argument(() => layers.conv2dTranspose({ filters: 2, kernelSize: 3, groups: 2 } as never), "unknown option 'groups'");
    const flat = layers.input({ shape: [5, 4] });
    const rank = () => layers.conv2dTranspose({ filters: 2, kernelSize: 3, name: 'up' }).apply(flat);
    expect(rank).toThrow(ShapeError);
    expect(rank).toThrow("layer 'up' (Conv2DTranspose): expects input [batch, height, width, channels], got [batch, 5, 4]");
  });
});
