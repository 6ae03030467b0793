// The cost of augmentation: training images/s of the tutorial's seed CNN with randomTranslation
// and randomRotation in front (examples/shared/augmentation.mjs, `digits`) beside the same CNN
// without, in one process, the two alternating epoch by epoch so that the machine's noise
// falls on both alike.
// Usage: node augment.mjs [--images 6400] [--rounds 4] [--batch 128]
import { parseArgs } from 'node:util';
import { ready, datasets, diagnostics } from 'ballast';
import { buildModel } from '../../examples/shared/mnist-models.mjs';

const { values } = parseArgs({
  options: { images: { type: 'string', default: '6400' }, rounds: { type: 'string', default: '4' }, batch: { type: 'string', default: '128' } },
});
const [images, rounds, batchSize] = [values.images, values.rounds, values.batch].map(Number);

const env = await ready();
const { train } = await datasets.mnist({ trainLimit: images, testLimit: 1 });
const models = { plain: buildModel('seed', { seed: 1 }), augmented: buildModel('seed', { seed: 1, augment: true }) };
const rates = { plain: [], augmented: [] };
console.log(`Ballast ${env.build} build, ${env.threads} threads; ${images} MNIST images, batch ${batchSize}, ${rounds} rounds`);
// One warm-up epoch each (first-step allocations), then the rounds.
for (let round = 0; round <= rounds; round++) {
  for (const [name, model] of Object.entries(models)) {
    const { history } = await model.fit(train.x, train.y, { batchSize, epochs: 1, shuffle: true, seed: round, yieldEvery: 0 });
    const seconds = history.seconds?.[0];
    if (round > 0) rates[name].push(images / seconds);
    const memory = `${(diagnostics.wasmMemoryBytes() / 2 ** 20).toFixed(1)} MiB of WASM memory`;
    if (round > 0) console.log(`round ${round} ${name.padEnd(9)} ${(images / seconds).toFixed(0)} images/s, ${memory}`);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const [plain, augmented] = [median(rates.plain), median(rates.augmented)];
console.log(`median: plain ${plain.toFixed(0)} images/s, augmented ${augmented.toFixed(0)} images/s`);
console.log(`augmented / plain: ${(augmented / plain).toFixed(3)}`);
