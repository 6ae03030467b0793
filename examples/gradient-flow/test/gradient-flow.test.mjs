import { describe, expect, it } from 'vitest';
import { ready, datasets, tensor } from 'ballast';
import { compileSgd, deepNet, gradientsAtInit, hiddenLayerNames, scaleKernels } from '../experiments.mjs';

await ready({ threads: 2 });
const { train } = await datasets.mnist({ trainLimit: 128, testLimit: 1 });

/** First to last hidden layer gradient-norm ratio, and the loss, at initialization. */
async function atInit(config, scale = 1) {
  const model = deepNet(config);
  if (scale !== 1) scaleKernels(model, scale);
  compileSgd(model, 1e-12);
  const names = hiddenLayerNames(model);
  const { loss, norms } = await gradientsAtInit(model, train.x, train.y, 128);
  model.dispose();
  const norm = (n) => norms.find((g) => g.name === n).gradNorm;
  return { loss, ratio: norm(names[0]) / norm(names[names.length - 1]) };
}

/** How far a ratio is from 1, as a factor (≥ 1). */
const distance = (r) => Math.max(r, 1 / r);

describe('gradient flow at initialization (20 hidden layers, width 256, Glorot)', () => {
  it('sigmoid: BN brings the first/last gradient ratio at least 100x closer to 1', async () => {
    const plain = await atInit({ kind: 'mlp', depth: 20, width: 256, activation: 'sigmoid', bn: false });
    const bn = await atInit({ kind: 'mlp', depth: 20, width: 256, activation: 'sigmoid', bn: true });
    console.log(`sigmoid 20 layers: first/last = ${plain.ratio.toExponential(2)} without BN, ${bn.ratio.toExponential(2)} with BN`);
    expect(plain.ratio).toBeLessThan(1e-8); // vanishing: PyTorch gives about 1e-12
    expect(distance(bn.ratio)).toBeLessThan(10); // PyTorch gives about 2
    expect(distance(plain.ratio) / distance(bn.ratio)).toBeGreaterThan(100);
  });

  it('ReLU with weights 3x too large: the initial loss is O(1) with BN and astronomical without', async () => {
    const plain = await atInit({ kind: 'mlp', depth: 20, width: 256, activation: 'relu', bn: false }, 3);
    const bn = await atInit({ kind: 'mlp', depth: 20, width: 256, activation: 'relu', bn: true }, 3);
    console.log(`ReLU 20 layers, weights x3: initial loss ${plain.loss.toExponential(2)} without BN, ${bn.loss.toFixed(3)} with BN`);
    expect(plain.loss).toBeGreaterThan(1e4);
    expect(bn.loss).toBeLessThan(10);
  });

  it('BN makes ReLU gradients grow toward the input (Yang et al. 2019)', async () => {
    const bn = await atInit({ kind: 'mlp', depth: 20, width: 256, activation: 'relu', bn: true });
    console.log(`ReLU 20 layers with BN: first/last = ${bn.ratio.toFixed(1)}`);
    expect(bn.ratio).toBeGreaterThan(5); // PyTorch gives about 50
  });
});
