/**
 * The PyTorch golden step of the seed CNN (crates/ballast-core/tests/golden, made by
 * make_golden.py) run through the public API of whichever build is loaded: one Adam step from
 * fixed weights on a fixed batch must give PyTorch's loss and updated weights.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { layers, Sequential, optimizers, tensor } from 'ballast';

interface GoldenTensor { shape: number[]; values: Float32Array }

function loadGolden(file: string, name: string): Record<string, GoldenTensor> {
  const url = new URL(`../../../crates/ballast-core/tests/golden/${file}`, import.meta.url);
  const json = JSON.parse(readFileSync(url, 'utf8'))[name];
  const out: Record<string, GoldenTensor> = {};
  for (const [k, t] of Object.entries(json.tensors as Record<string, { shape: number[]; b64: string }>)) {
    const bytes = Buffer.from(t.b64, 'base64');
    out[k] = { shape: t.shape, values: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
  }
  return out;
}

export function goldenCases(): void {
  it('one Adam step of the seed CNN matches PyTorch (loss and every updated weight)', async () => {
    const g = loadGolden('seed_cnn_adam.json', 'seed_cnn_adam');
    // Named as in the golden file; dropout is left out (the golden step disables it).
    const model = new Sequential([
      layers.input({ shape: [28, 28, 1] }),
      layers.batchNormalization({ name: 'bn' }),
      layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', name: 'conv1' }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', name: 'conv2' }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dense({ units: 128, activation: 'relu', name: 'dense1' }),
      layers.dense({ units: 10, activation: 'softmax', name: 'dense2' }),
    ]);
    model.compile({ optimizer: optimizers.adam(), loss: 'categoricalCrossentropy' });
    const names = model.getWeights().map((w) => w.name);
    model.setWeights(names.map((name) => ({ name, values: g[`${name}@initial`].values })));
    const x = tensor(g.x.values, g.x.shape);
    const y = tensor(g.y.values, g.y.shape);
    const history = await model.fit(x, y, { batchSize: 16, epochs: 1, shuffle: false });
    expect(Math.abs(history.history.loss[0] - g.loss.values[0])).toBeLessThan(1e-5);
    for (const w of model.getWeights()) {
      const want = g[`${w.name}@after`].values;
      let worst = 0;
      w.values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want[i]))));
      // Absolute 1e-5: Adam's first step is about lr·sign(g), sensitive where |g| is tiny.
      expect(worst, w.name).toBeLessThan(1e-5);
    }
    model.dispose();
  });
}
