#!/usr/bin/env node
// The gradient-flow report: deep networks with sigmoid, tanh and ReLU, with and without BN,
// their per-layer gradient norms at initialization and their training on MNIST; a network
// built to explode, with BN and with gradient clipping. Writes results/*.svg,
// results/results.json and the results section of README.md.
// Usage: node run.mjs [--steps 150] [--quick]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ready, datasets, tensor } from 'ballast';
import { compileAdam, compileSgd, deepNet, gradientsAtInit, hiddenLayerNames, scaleKernels, smallCnn, testAccuracy, train } from './experiments.mjs';
import { gradientNormChart, lossChart, svg } from './plots.mjs';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '150' }, quick: { type: 'boolean', default: false } } });
const steps = Number(values.steps);
const out = new URL('./results/', import.meta.url);
await mkdir(out, { recursive: true });

const env = await ready();
console.log(`Ballast ${env.build} build, ${env.threads} threads`);
const data = await datasets.mnist({ trainLimit: 12_000, testLimit: 1_000 });
const BATCH = 128;
const first = (t, n) => tensor(t.data().subarray(0, n * t.shape.slice(1).reduce((a, b) => a * b, 1)), [n, ...t.shape.slice(1)]);
const batch = { x: first(data.train.x, BATCH), y: first(data.train.y, BATCH) };

const configs = [];
for (const [kind, depth, width] of values.quick ? [['mlp', 20, 256]] : [['mlp', 10, 256], ['mlp', 20, 256], ['mlp', 50, 256], ['cnn', 10, 16]]) {
  for (const activation of ['sigmoid', 'tanh', 'relu']) {
    for (const bn of [false, true]) configs.push({ kind, depth, width, activation, bn });
  }
}

const results = [];
const normRows = {};
const lossRows = {};
for (const c of configs) {
  const key = `${c.kind}-${c.depth}`;
  const label = `${c.kind.toUpperCase()} ${c.depth} ${c.activation}${c.bn ? ' + BN' : ''}`;
  // Gradients at initialization, with a step that does not move the weights.
  const probe = deepNet(c);
  compileSgd(probe, 1e-12);
  const names = hiddenLayerNames(probe);
  const init = await gradientsAtInit(probe, batch.x, batch.y, BATCH);
  probe.dispose();
  const norms = names.map((n) => init.norms.find((g) => g.name === n)?.gradNorm ?? 0);
  (normRows[key] ??= []).push(...norms.map((g, i) => ({ layer: i + 1, gradNorm: g, activation: c.activation, norm: c.bn ? 'BN' : 'none' })));
  // Training.
  const model = deepNet(c);
  compileAdam(model, 1e-3);
  const started = performance.now();
  const run = await train(model, data, { steps, batchSize: BATCH });
  const seconds = (performance.now() - started) / 1000;
  const accuracy = run.failure ? { moving: NaN, recalibrated: NaN } : await testAccuracy(model, data, c.bn);
  model.dispose();
  (lossRows[key] ??= []).push(...run.curve.map((p) => ({ ...p, activation: c.activation, norm: c.bn ? 'BN' : 'none' })));
  const reach = run.stepsTo90;
  const record = {
    ...c,
    initialLoss: init.loss,
    firstGradNorm: norms[0],
    lastGradNorm: norms[norms.length - 1],
    ratio: norms[0] / norms[norms.length - 1],
    finalAccuracy: accuracy.moving,
    recalibratedAccuracy: accuracy.recalibrated,
    stepsTo90: reach,
    failure: run.failure,
    seconds,
  };
  results.push(record);
  console.log(
    `${label.padEnd(24)} first/last grad ${record.ratio.toExponential(2)}  acc ${(record.finalAccuracy * 100).toFixed(1)}%` +
      (c.bn ? ` (precise BN ${(record.recalibratedAccuracy * 100).toFixed(1)}%)` : '') +
      `  steps to 90% ${reach ?? '-'}${run.failure ? `  FAILED: ${run.failure}` : ''}  (${seconds.toFixed(1)} s)`,
  );
}

// Explosion: ReLU, weights 3x too large, a high learning rate; plain, with BN, with clipping.
const explosion = [];
const explosionRows = [];
for (const setting of [{ name: 'no BN', bn: false }, { name: 'BN', bn: true }, { name: 'no BN, clipNorm 1', bn: false, clipNorm: 1 }]) {
  const model = deepNet({ kind: 'mlp', depth: 20, width: 256, activation: 'relu', bn: setting.bn });
  scaleKernels(model, 3);
  compileSgd(model, 0.05, setting.clipNorm ? { clipNorm: setting.clipNorm } : {});
  const run = await train(model, data, { steps, batchSize: BATCH });
  const accuracy = run.failure ? { recalibrated: NaN } : await testAccuracy(model, data, setting.bn);
  model.dispose();
  explosionRows.push(...run.curve.map((p) => ({ ...p, setting: setting.name })));
  explosion.push({ setting: setting.name, initialLoss: run.curve[0]?.loss ?? NaN, finalAccuracy: accuracy.recalibrated, failure: run.failure });
  console.log(`explosion, ${setting.name}: initial loss ${run.curve[0]?.loss}, ${run.failure ?? `accuracy ${accuracy.recalibrated}`}`);
}

// Small batches, where BN's batch statistics are noisy: the same number of examples seen
// (6,000) at batch sizes 2, 8 and 128, for each normalization.
const smallBatch = [];
for (const normalization of values.quick ? [] : ['batch', 'renorm', 'group', 'layer', 'none']) {
  for (const batchSize of [2, 8, 128]) {
    const model = smallCnn(normalization);
    compileAdam(model, batchSize >= 128 ? 1e-3 : 3e-4);
    const run = await train(model, data, { steps: Math.ceil(6000 / batchSize), batchSize });
    const accuracy = run.failure ? { moving: NaN } : await testAccuracy(model, data, false);
    model.dispose();
    smallBatch.push({ normalization, batchSize, accuracy: accuracy.moving, failure: run.failure });
    console.log(`small batches: ${normalization} at batch ${batchSize}: ${run.failure ?? `${(accuracy.moving * 100).toFixed(1)}%`}`);
  }
}

await writeFile(new URL('results.json', out), JSON.stringify({ env, steps, results, explosion, smallBatch }, null, 2));
for (const key of Object.keys(normRows)) {
  const [kind, depth] = key.split('-');
  await writeFile(new URL(`gradient-norms-${key}.svg`, out), await svg(gradientNormChart(`${kind.toUpperCase()}, ${depth} hidden layers: gradient norm per layer at initialization`, normRows[key])));
  await writeFile(new URL(`loss-${key}.svg`, out), await svg(lossChart(`${kind.toUpperCase()}, ${depth} hidden layers: training loss (Adam, lr 1e-3)`, lossRows[key])));
}
await writeFile(new URL('explosion.svg', out), await svg(lossChart('ReLU MLP, 20 layers, weights ×3, SGD lr 0.05', explosionRows, 'setting')));

// The results section of the README, between its markers.
const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toExponential(digits) : String(v));
const table = [
  `| network | activation | BN | initial loss | ‖g‖ first / last hidden layer | test accuracy after ${steps} steps (moving statistics) | same after precise BN | steps to 90% training accuracy |`,
  '|---|---|---|---|---|---|---|---|',
  ...results.map((r) => {
    const pct = (v) => (r.failure ? 'diverged' : `${(v * 100).toFixed(1)}%`);
    return `| ${r.kind.toUpperCase()} ${r.depth} | ${r.activation} | ${r.bn ? 'yes' : 'no'} | ${fmt(r.initialLoss)} | ${fmt(r.ratio)} | ${pct(r.finalAccuracy)} | ${r.bn ? pct(r.recalibratedAccuracy) : '—'} | ${r.stepsTo90 ?? '—'} |`;
  }),
  '',
  `| exploding ReLU MLP (20 layers, weights ×3, SGD 0.05, ${steps} steps) | initial loss | outcome |`,
  '|---|---|---|',
  ...explosion.map((e) => `| ${e.setting} | ${fmt(e.initialLoss)} | ${e.failure ? `stopped: ${e.failure.replace(/\|/g, '/')}` : `accuracy ${(e.finalAccuracy * 100).toFixed(1)}%`} |`),
  '',
  '| small CNN, 6,000 examples seen: test accuracy (moving statistics) | batch 2 | batch 8 | batch 128 |',
  '|---|---|---|---|',
  ...['batch', 'renorm', 'group', 'layer', 'none'].filter((n) => smallBatch.some((r) => r.normalization === n)).map((n) => {
    const names = { batch: 'BatchNormalization', renorm: 'Batch Renormalization (rmax 3, dmax 5)', group: 'GroupNormalization (4 groups)', layer: 'LayerNormalization', none: 'no normalization' };
    const cells = [2, 8, 128].map((b) => smallBatch.find((r) => r.normalization === n && r.batchSize === b)).map((r) => (r.failure ? 'diverged' : `${(r.accuracy * 100).toFixed(1)}%`));
    return `| ${names[n]} | ${cells.join(' | ')} |`;
  }),
].join('\n');
const readmeUrl = new URL('./README.md', import.meta.url);
const readme = await readFile(readmeUrl, 'utf8');
const begin = '<!-- results:begin -->';
const end = '<!-- results:end -->';
if (readme.includes(begin) && !values.quick) {
  const stamp = `Measured with \`node examples/gradient-flow/run.mjs --steps ${steps}\` (${env.build} build, ${env.threads} threads).`;
  await writeFile(readmeUrl, `${readme.slice(0, readme.indexOf(begin) + begin.length)}\n${stamp}\n\n${table}\n${readme.slice(readme.indexOf(end))}`);
}
console.log(`\n${table}\n\nplots and results.json in ${out.pathname.replace(process.cwd() + '/', '')}`);
