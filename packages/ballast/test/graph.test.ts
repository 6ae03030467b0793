// Graph models: the functional API, merge and pooling layers, folding as a rewrite, the save
// format (version 2, and version 1 files still loading), fine-tuning with frozen layers, and
// the errors for graphs that cannot be models.
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  layers, Model, Sequential, optimizers, tensor, loadModel,
  ArgumentError, ShapeError, type SymbolicTensor, type Tensor,
} from 'ballast';
import { rng } from './reference.js';
import './build.js';


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

/** conv-BN-ReLU-conv-BN plus a shortcut (identity, or a strided 1×1 projection with BN), then ReLU. */
function block(x: SymbolicTensor, filters: number, strides = 1): SymbolicTensor {
  const conv = (k: number, s: number) => layers.conv2d({ filters, kernelSize: k, strides: s, padding: 'same', useBias: false });
  let h = conv(3, strides).apply(x);
  h = layers.batchNormalization().apply(h);
  h = layers.activation({ activation: 'relu' }).apply(h);
  h = conv(3, 1).apply(h);
  h = layers.batchNormalization().apply(h);
  const projected = strides !== 1 || x.shape[3] !== filters;
  const shortcut = projected ? layers.batchNormalization().apply(conv(1, strides).apply(x)) : x;
  return layers.activation({ activation: 'relu' }).apply(layers.add().apply([h, shortcut]));
}

function resnet(seed = 1): Model {
  const inp = layers.input({ shape: [8, 8, 3] });
  let h = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }).apply(inp);
  h = block(h, 4);
  h = block(h, 8, 2);
  h = layers.globalAveragePooling2d().apply(h);
  const out = layers.dense({ units: 3, activation: 'softmax' }).apply(h);
  const model = new Model({ inputs: inp, outputs: out, seed });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

describe('functional models', () => {
  it('symbolic tensors carry shapes the core inferred; the summary says what feeds what', () => {
    const inp = layers.input({ shape: [8, 8, 3] });
    expect(inp.shape).toEqual([null, 8, 8, 3]);
    const a = layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same' }).apply(inp);
    expect(a.shape).toEqual([null, 4, 4, 5]);
    const c = layers.concatenate().apply([a, layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(inp)]);
    expect(c.shape).toEqual([null, 4, 4, 8]);
    const g = layers.globalAveragePooling2d({ keepdims: true }).apply(c);
    expect(g.shape).toEqual([null, 1, 1, 8]);
    const model = new Model({ inputs: inp, outputs: layers.dense({ units: 2 }).apply(layers.flatten().apply(g)) });
    const rows = model.summaryRows();
    expect(rows.map((r) => r.name)).toEqual([
      'input_layer', 'conv2d', 'average_pooling2d', 'concatenate', 'global_average_pooling2d', 'flatten', 'dense',
    ]);
    expect(rows[3].inputs).toEqual(['conv2d', 'average_pooling2d']);
    const lines: string[] = [];
    model.summary((l) => lines.push(l));
    expect(lines.join('\n')).toMatch(/concatenate \(Concatenate\)\s+\(None, 4, 4, 8\)\s+0\s+conv2d, average_pooling2d/);
    model.dispose();
  });

  it('a residual network with BN trains, predicts, and saves as a graph', async () => {
    const model = resnet();
    const names = model.layers.map((l) => l.name);
    expect(names).toContain('add');
    expect(names).toContain('add_1');
    expect(model.layers.find((l) => l.name === 'add_1')!.className).toBe('Add');
    const { x, y } = data(48, 1);
    const history = await model.fit(x, y, { batchSize: 16, epochs: 8 });
    expect(history.history.loss[7]).toBeLessThan(history.history.loss[0] * 0.7);
    const [, acc] = await model.evaluate(x, y);
    expect(acc).toBeGreaterThan(0.6);
    const health = model.lastGradientHealth();
    expect(health.length).toBe(12); // every conv, BN and the dense layer
    expect(health[0]).toEqual({ name: 'conv2d', gradNorm: expect.any(Number), weightNorm: expect.any(Number), updateNorm: expect.any(Number) });
    expect(model.lastStepProfile().find((r) => r.name === 'add')).toMatchObject({ type: 'Add' });

    const dir = await mkdtemp(join(tmpdir(), 'ballast-graph-'));
    await model.save(dir);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(json).toMatchObject({ format: 'ballast-model', version: 2, modelClass: 'Functional', inputs: ['input_layer'], outputs: ['dense'] });
    expect(json.nodes.find((n: { name: string }) => n.name === 'add')).toEqual({
      name: 'add', className: 'Add', config: {}, inputs: ['batch_normalization_1', 'conv2d'],
    });
    const again = await loadModel(dir);
    expect(again).toBeInstanceOf(Model);
    expect(Array.from((await again.predict(x)).data())).toEqual(Array.from((await model.predict(x)).data()));
    await again.fit(x, y, { batchSize: 16, epochs: 1 }); // compiled from the file
    model.dispose();
    again.dispose();
  });

  it('folding BN is a rewrite of the graph: layers, summary and save follow it', async () => {
    const model = resnet(2);
    const { x, y } = data(32, 2);
    await model.fit(x, y, { batchSize: 16, epochs: 2 });
    const before = (await model.predict(x)).data();
    const folded = model.foldBatchNorm();
    expect(folded).toHaveLength(5);
    expect(model.layers.some((l) => l.className === 'BatchNormalization')).toBe(false);
    expect(model.summaryRows().some((r) => r.type === 'BatchNormalization')).toBe(false);
    const after = (await model.predict(x)).data();
    after.forEach((v, i) => expect(Math.abs(v - before[i])).toBeLessThan(1e-5));
    const dir = await mkdtemp(join(tmpdir(), 'ballast-fold-'));
    await model.save(dir);
    const again = await loadModel(dir);
    expect(Array.from((await again.predict(x)).data())).toEqual(Array.from(after));
    model.dispose();
    again.dispose();
  });

  it('fine-tuning: train, freeze a base, add a new head, fit, unfreeze, fit', async () => {
    const inp = layers.input({ shape: [8, 8, 3] });
    const base = [
      layers.conv2d({ filters: 4, kernelSize: 3, useBias: false }),
      layers.batchNormalization(),
      layers.activation({ activation: 'relu' }),
      layers.globalAveragePooling2d(),
    ];
    const features = base.reduce<SymbolicTensor>((h, l) => l.apply(h), inp);
    const first = new Model({ inputs: inp, outputs: layers.dense({ units: 3, activation: 'softmax' }).apply(features), seed: 4 });
    first.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy' });
    const { x, y } = data(32, 3);
    await first.fit(x, y, { batchSize: 16, epochs: 2 });
    const trained = first.getWeights().filter((w) => !w.name.startsWith('dense'));

    // A new head on the trained base: the base layers keep their names and bring their weights.
    expect(first.outputs[0].shape).toEqual([null, 3]);
    expect(first.inputs).toEqual([inp]);
    const head = layers.dense({ units: 3, activation: 'softmax', name: 'new_head' }).apply(features);
    const tuned = new Model({ inputs: inp, outputs: head, seed: 5 });
    const weight = (m: Model, name: string) => Array.from(m.getWeights().find((w) => w.name === name)!.values);
    for (const w of trained) expect(weight(tuned, w.name)).toEqual(Array.from(w.values));
    for (const l of base) tuned.setTrainable(l, false);
    tuned.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy' });
    const headBefore = weight(tuned, 'new_head/kernel');
    await tuned.fit(x, y, { batchSize: 16, epochs: 2 });
    // Frozen: the kernel and BN (in inference mode, statistics frozen) are unchanged.
    for (const w of trained) expect(weight(tuned, w.name)).toEqual(Array.from(w.values));
    expect(weight(tuned, 'new_head/kernel')).not.toEqual(headBefore);
    expect(tuned.summaryRows().find((r) => r.name === 'conv2d')!.trainable).toBe(0);

    // The base model's own layers are its own: freezing them in the new model left them alone.
    expect(first.summaryRows().find((r) => r.name === 'conv2d')!.trainable).toBeGreaterThan(0);
    expect(base[0].trainable).toBe(true);
    // Unfrozen without recompiling: the optimizer keeps each moment with its parameter.
    tuned.getLayer('conv2d').trainable = true;
    tuned.setTrainable('batch_normalization', true);
    await tuned.fit(x, y, { batchSize: 16, epochs: 1 });
    expect(weight(tuned, 'conv2d/kernel')).not.toEqual(Array.from(trained.find((w) => w.name === 'conv2d/kernel')!.values));
    expect(weight(tuned, 'batch_normalization/moving_mean')).not.toEqual(
      Array.from(trained.find((w) => w.name === 'batch_normalization/moving_mean')!.values),
    );
    first.dispose();
    tuned.dispose();
  });
});

describe('freezing after training', () => {
  it('setTrainable between fits keeps working, and each layer keeps its own optimizer state', async () => {
    const model = new Sequential([
      layers.input({ shape: [8, 8, 3] }),
      layers.flatten(),
      layers.dense({ units: 6, activation: 'relu' }),
      layers.dense({ units: 6, activation: 'relu' }),
      layers.dense({ units: 6, activation: 'relu' }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ], { seed: 6 });
    model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy' });
    const { x, y } = data(32, 4);
    await model.fit(x, y, { batchSize: 16, epochs: 1 });
    const kernel = (name: string) => Array.from(model.getWeights().find((w) => w.name === `${name}/kernel`)!.values);
    // Two layers of one size, frozen in turn: with state kept by position the second fit
    // would hand one layer's Adam moments to the other, or refuse the new parameter set.
    for (const [frozen, moving] of [['dense_1', 'dense_2'], ['dense_2', 'dense_1']]) {
      model.setTrainable(frozen, false);
      model.setTrainable(moving, true);
      const [before, other] = [kernel(frozen), kernel(moving)];
      await model.fit(x, y, { batchSize: 16, epochs: 1 });
      expect(kernel(frozen)).toEqual(before);
      expect(kernel(moving)).not.toEqual(other);
    }
    expect(model.layers.find((l) => l.name === 'dense_2')!.trainable).toBe(false);
    model.dispose();
  });
});

describe('one owner for each option: the core', () => {
  it('factories read the resolved config back from the core', () => {
    expect(layers.averagePooling2d().config).toEqual({ poolSize: [2, 2], strides: [2, 2], padding: 'valid' });
    expect(layers.conv2d({ filters: 2, kernelSize: [3, 1] }).config).toMatchObject({ kernelSize: [3, 1], strides: [1, 1], padding: 'valid', useBias: true });
    expect(layers.batchNormalization({ momentum: null }).config).toMatchObject({ momentum: null, epsilon: 0.001 });
    expect(layers.dense({ units: 4, name: 'head' }).getConfig()).toMatchObject({ name: 'head', trainable: true, units: 4, activation: 'linear' });
  });

  it('options of the wrong type or unknown are typed errors naming the layer', () => {
    expect(() => layers.dense({ units: 3, name: 5 as unknown as string })).toThrow(/^Dense: option 'name' must be a string, got 5$/);
    expect(() => layers.dense({ units: 3, activation: 5 as never })).toThrow(ArgumentError);
    expect(() => layers.conv2d({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst' } as never)).toThrow(/unknown option 'dataFormat'/);
    expect(() => layers.dense({ units: 2 ** 32 + 1.5 })).toThrow(/units' must be a non-negative integer/);
    expect(() => layers.dense({ units: 3, kernelInitializer: (() => 0) as never })).toThrow(/'kernelInitializer' of the options of Dense must be .*got a function/);
    expect(() => layers.dense({ units: 3, name: 'a|b' })).toThrow(/invalid layer name "a\|b"/);
    expect(() => layers.dense(null as never)).toThrow(ArgumentError);
  });
});

describe('graphs that cannot be models', () => {
  it('shapes that disagree at add and concatenate are ShapeErrors naming the nodes', () => {
    const inp = layers.input({ shape: [8, 8, 3] });
    const a = layers.conv2d({ filters: 4, kernelSize: 3, name: 'wide' }).apply(inp);
    expect(() => layers.add().apply([inp, a])).toThrow(ShapeError);
    expect(() => layers.add().apply([inp, a])).toThrow(/Add.*inputs must all have one shape, got \[batch, 8, 8, 3\], \[batch, 6, 6, 4\]/);
    expect(() => layers.concatenate({ axis: 1 }).apply([inp, a])).toThrow(/must agree on every axis but 1/);
    expect(() => layers.add().apply([inp])).toThrow(/at least 2 inputs/);
  });

  it('disconnected graphs, reused layers and duplicate names are ArgumentErrors', () => {
    const inp = layers.input({ shape: [4] });
    const other = layers.input({ shape: [4] });
    const d = layers.dense({ units: 4, name: 'd' });
    const h = d.apply(inp);
    expect(() => d.apply(h)).toThrow(/already applied in a graph/);
    const sum = layers.add().apply([h, other]);
    expect(() => new Model({ inputs: inp, outputs: sum })).toThrow(/graph disconnected: the outputs need the input/);
    expect(() => new Model({ inputs: other, outputs: h })).toThrow(/graph disconnected/);
    const twin = layers.dense({ units: 4, name: 'd' }).apply(h);
    expect(() => new Model({ inputs: inp, outputs: twin })).toThrow(/a layer named 'd' is already in the model/);
    expect(() => new Model({ inputs: inp, outputs: [h, h] })).toThrow(/one input and one output/);
    expect(() => new Model({ inputs: h, outputs: h })).toThrow(/model inputs must come from layers.input/);
  });

  it('a name given to a later layer is not taken by an earlier default name', () => {
    const inp = layers.input({ shape: [4] });
    const early = layers.dense({ units: 4 }).apply(inp);
    const late = layers.dense({ units: 4, name: 'dense' }).apply(early);
    const model = new Model({ inputs: inp, outputs: late });
    expect(model.layers.map((l) => l.name)).toEqual(['input_layer', 'dense_1', 'dense']);
    model.dispose();
  });

  it("a model's layer list is read-only", () => {
    const model = new Sequential([layers.input({ shape: [2] }), layers.dense({ units: 1 })]);
    expect(Object.isFrozen(model.layers)).toBe(true);
    expect(() => (model.layers as unknown as unknown[]).pop()).toThrow(TypeError);
    expect(model.layers).toHaveLength(1);
    const d = layers.dense({ units: 2 });
    expect(() => new Sequential([layers.input({ shape: [2] }), d, d])).toThrow(/used once/);
    expect(() => model.setTrainable(undefined as never, false)).toThrow(ArgumentError);
    expect(() => model.setTrainable('dense', 'no' as never)).toThrow(ArgumentError);
    model.dispose();
  });
});

describe('save format', () => {
  it('version 1 files (ballast-sequential) still load, as Sequential models', async () => {
    const model = new Sequential([
      layers.input({ shape: [4, 4, 1] }),
      layers.batchNormalization({ name: 'bn', momentum: null }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dense({ units: 3, activation: 'softmax' }),
    ], { seed: 9 });
    const files = model.toFiles();
    // model.json as version 1 wrote it.
    const v1 = {
      format: 'ballast-sequential', version: 1, seed: 9,
      layers: [
        { type: 'input', config: { shape: [4, 4, 1] } },
        { type: 'batchNormalization', config: {
          axis: -1, momentum: null, epsilon: 0.001, center: true, scale: true, betaInitializer: 'zeros', gammaInitializer: 'ones',
          movingMeanInitializer: 'zeros', movingVarianceInitializer: 'ones', renorm: false, renormClipping: { rmax: null, dmax: null },
          renormMomentum: 0.99, name: 'bn' } },
        { type: 'maxPooling2d', config: { poolSize: [2, 2], strides: [2, 2], padding: 'valid', name: 'max_pooling2d' } },
        { type: 'flatten', config: { name: 'flatten' } },
        { type: 'dense', config: { units: 3, activation: 'softmax', useBias: true, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros', name: 'dense' } },
      ],
    };
    const dir = await mkdtemp(join(tmpdir(), 'ballast-v1-'));
    await writeFile(join(dir, 'model.json'), JSON.stringify(v1));
    await writeFile(join(dir, 'weights.safetensors'), files['weights.safetensors'] as Uint8Array);
    const loaded = await loadModel(dir);
    expect(loaded).toBeInstanceOf(Sequential);
    const x = tensor(Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), [3, 4, 4, 1]);
    expect(Array.from((await loaded.predict(x)).data())).toEqual(Array.from((await model.predict(x)).data()));
    expect(loaded.layers.map((l) => l.name)).toEqual(['bn', 'max_pooling2d', 'flatten', 'dense']);
    model.dispose();
    loaded.dispose();
  });

  it('a model.json whose nodes are out of order or unknown is a DataError naming the file', async () => {
    const model = resnet(3);
    const dir = await mkdtemp(join(tmpdir(), 'ballast-bad-'));
    await model.save(dir);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const swapped = { ...json, nodes: [json.nodes[1], json.nodes[0], ...json.nodes.slice(2)] };
    await writeFile(join(dir, 'model.json'), JSON.stringify(swapped));
    await expect(loadModel(dir)).rejects.toThrow(/model.json: node 'conv2d': input 'input_layer' is not a node defined before it/);
    const unknown = { ...json, nodes: json.nodes.map((n: { className: string }, i: number) => (i === 1 ? { ...n, className: 'Conv3D' } : n)) };
    await writeFile(join(dir, 'model.json'), JSON.stringify(unknown));
    await expect(loadModel(dir)).rejects.toThrow(/unknown layer class 'Conv3D'/);
    model.dispose();
  });
});
