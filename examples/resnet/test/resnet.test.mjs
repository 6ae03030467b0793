// The ResNet example, short: the model module learns Fashion-MNIST from the files the set-up
// installs, saves and loads as a graph, and the command line runs end to end. The 5-epoch run
// is a benchmark (benches/resnet/run.mjs), not a test.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ready, datasets, loadModel, Model } from 'ballast';
import { resnet } from '../../shared/resnet-models.mjs';
import { mobilenet } from '../../shared/mobilenet-models.mjs';

const data = '/usr/share/datasets/fashion-mnist';
const here = fileURLToPath(new URL('..', import.meta.url));
await ready({ threads: 2 });

describe('ResNet on Fashion-MNIST', () => {
  it('a ResNet-8 learns from 2,048 images in 2 epochs, and saves and loads as a graph', async () => {
    const file = (name) => join(data, name);
    const train = await datasets.idx({ images: file('train-images-idx3-ubyte.gz'), labels: file('train-labels-idx1-ubyte.gz'), numClasses: 10, limit: 2048 });
    const model = resnet({ depth: 8, seed: 3 });
    expect(model.layers.filter((l) => l.className === 'Add')).toHaveLength(3);
    const history = await model.fit(train.x, train.y, { batchSize: 64, epochs: 2 });
    const [first, second] = history.history.accuracy;
    // Ten classes: chance is 10%; the second epoch trains well above it and above the first.
    expect(second).toBeGreaterThan(0.5);
    expect(second).toBeGreaterThan(first);
    const dir = await mkdtemp(join(tmpdir(), 'ballast-resnet-'));
    await model.save(dir);
    const again = await loadModel(dir);
    expect(again).toBeInstanceOf(Model);
    const [a, b] = [await model.predict(train.x, { batchSize: 512 }), await again.predict(train.x, { batchSize: 512 })];
    expect(Array.from(b.data())).toEqual(Array.from(a.data()));
    model.dispose();
    again.dispose();
  });

  it('a MobileNet-style network of depthwise-separable blocks learns from the same images', async () => {
    const file = (name) => join(data, name);
    const train = await datasets.idx({ images: file('train-images-idx3-ubyte.gz'), labels: file('train-labels-idx1-ubyte.gz'), numClasses: 10, limit: 2048 });
    const model = mobilenet({ alpha: 0.5, seed: 3 });
    expect(model.layers.filter((l) => l.className === 'DepthwiseConv2D')).toHaveLength(5);
    const history = await model.fit(train.x, train.y, { batchSize: 64, epochs: 2 });
    const [first, second] = history.history.accuracy;
    expect(second).toBeGreaterThan(0.5);
    expect(second).toBeGreaterThan(first);
    model.dispose();
  });

  it('the command line trains (here with augmentation), evaluates and reports a result line', () => {
    const run = spawnSync(process.execPath, ['train.mjs', '--depth', '8', '--epochs', '1', '--train-limit', '256', '--test-limit', '128', '--augment', '--json'], {
      cwd: here, encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    // The summary lists the augmentation layers at the input.
    expect(run.stdout).toMatch(/augment_shift \(RandomTranslation\)/);
    expect(run.stdout).toMatch(/augment_flip \(RandomFlip\)/);
    const line = run.stdout.split('\n').find((l) => l.startsWith('@bench-result '));
    const result = JSON.parse(line.slice('@bench-result '.length));
    expect(result).toMatchObject({ engine: 'ballast', epochs: 1 });
    expect(result.trainImagesPerSecond).toBeGreaterThan(0);
    expect(result.testAccuracy).toBeGreaterThanOrEqual(0);
    const bad = spawnSync(process.execPath, ['train.mjs', '--depth', '9'], { cwd: here, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/6n \+ 2/);
  });
});
