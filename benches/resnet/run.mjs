#!/usr/bin/env node
// Ballast against PyTorch CPU on the ResNet of examples/resnet: the same network trained the
// same way on Fashion-MNIST (examples/resnet/train.mjs, then torch_resnet20.py, each in its own
// process, one after the other), then their training images/s and test accuracies side by side.
// Usage: node benches/resnet/run.mjs [--epochs 5] [--batch-size 128] [--learning-rate 0.001]
//          [--threads N] [--depth 20] [--data DIR] [--train-limit N] [--test-limit N] [--seed 1]
//          [--warmup 5] [--quiet-wait 120] [--only ballast,pytorch] [--python PATH]   (or BENCH_PYTHON=PATH)
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runForResult, findPython, cpuTicks, othersDuring, quietCores } from '../compare/lib.mjs';

const usage = `Usage: node benches/resnet/run.mjs [options]
  --epochs N, --batch-size N, --learning-rate X, --depth N, --data DIR, --train-limit N,
  --test-limit N, --seed N, --warmup N   passed to both scripts (see examples/resnet/train.mjs --help)
  --threads N         threads for both (default: one per core)
  --quiet-wait S      before each run, wait up to S seconds for other work to leave the cores (default 120)
  --only IDS          ballast, pytorch or both (default ballast,pytorch)
  --python PATH       the interpreter with torch (default: BENCH_PYTHON, then the first python3 on PATH that imports torch)
  --help`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '128' },
      'learning-rate': { type: 'string', default: '0.001' },
      threads: { type: 'string', default: String(availableParallelism()) },
      depth: { type: 'string', default: '20' },
      data: { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      seed: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '5' },
      'quiet-wait': { type: 'string', default: '120' },
      only: { type: 'string', default: 'ballast,pytorch' },
      python: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  console.error(`error: ${err.message}\n\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const root = fileURLToPath(new URL('../..', import.meta.url));
// The options both scripts take, under the same names.
const shared = ['epochs', 'batch-size', 'learning-rate', 'threads', 'depth', 'data', 'train-limit', 'test-limit', 'seed', 'warmup'];
const common = shared.flatMap((k) => (values[k] === undefined ? [] : [`--${k}`, values[k]]));
const python = values.only.includes('pytorch') ? findPython(values.python) : null;
const engines = [
  { id: 'ballast', name: 'Ballast', cmd: process.execPath, args: ['examples/resnet/train.mjs', '--json', ...common] },
  { id: 'pytorch', name: 'PyTorch CPU', cmd: python, args: ['benches/resnet/torch_resnet20.py', ...common] },
].filter((e) => values.only.split(',').includes(e.id));
if (!engines.length) {
  console.error(`error: --only names neither ballast nor pytorch: '${values.only}'`);
  process.exit(2);
}

const loadText = () => loadavg().map((l) => l.toFixed(2)).join(', ');
const cores = availableParallelism();
console.log(`Machine: ${cpus()[0]?.model ?? '?'} × ${cores}, Node ${process.version}; load average before: ${loadText()}`);
console.log(`Both: ${common.join(' ')}`);

const results = {};
for (const e of engines) {
  if (!e.cmd) {
    results[e.id] = { error: 'no python3 with torch and numpy found (--python PATH)' };
    continue;
  }
  const othersBefore = await quietCores(Number(values['quiet-wait']));
  console.error(`\n== ${e.name}: ${[e.cmd, ...e.args].join(' ')}`);
  const a = cpuTicks();
  const t0 = performance.now();
  const res = await runForResult(e.cmd, e.args, { cwd: root, echo: process.stderr });
  const wall = (performance.now() - t0) / 1000;
  Object.assign(res, { othersBefore, othersDuring: othersDuring(a, cpuTicks(), wall, res.cpuSeconds), wallSeconds: wall });
  results[e.id] = res;
}

const pct = (x) => `${(x * 100).toFixed(2)}%`;
const num = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—');
console.log('');
console.log('| engine | threads | training images/s | test accuracy | test loss | training s | wall s | others\' cores before / during |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const e of engines) {
  const r = results[e.id];
  if (r.error) {
    console.log(`| ${e.name} | | fails: ${r.error} | | | | | |`);
    continue;
  }
  console.log(
    `| ${e.name} | ${r.threads} | ${num(r.trainImagesPerSecond)} | ${pct(r.testAccuracy)} | ${num(r.testLoss, 4)} | ` +
      `${num(r.trainSeconds)} | ${num(r.wallSeconds)} | ${num(r.othersBefore, 2)} / ${num(r.othersDuring, 2)} |`,
  );
}

const b = results.ballast, p = results.pytorch;
if (b && p && !b.error && !p.error) {
  console.log('');
  console.log('| epoch | Ballast s | img/s | loss | acc | val_acc | PyTorch s | img/s | loss | acc | val_acc |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const cells = (r) => (r ? [num(r.seconds), num(r.imagesPerSecond), num(r.loss, 4), pct(r.acc), pct(r.valAcc)] : ['', '', '', '', '']);
  for (let i = 0; i < Math.max(b.perEpoch.length, p.perEpoch.length); i++) {
    console.log(`| ${i + 1} | ${[...cells(b.perEpoch[i]), ...cells(p.perEpoch[i])].join(' | ')} |`);
  }
  console.log('');
  if (b.trainExamples !== p.trainExamples || b.testExamples !== p.testExamples || b.epochs !== p.epochs) {
    console.log(`WARNING: the runs differ: Ballast ${b.epochs} epochs on ${b.trainExamples}/${b.testExamples}, PyTorch ${p.epochs} on ${p.trainExamples}/${p.testExamples}`);
  }
  const points = (b.testAccuracy - p.testAccuracy) * 100;
  console.log(`Training images/s, Ballast / PyTorch: ${(b.trainImagesPerSecond / p.trainImagesPerSecond).toFixed(2)}×`);
  console.log(
    `Test accuracy, Ballast − PyTorch: ${points >= 0 ? '+' : ''}${points.toFixed(2)} points ` +
      `(${Math.abs(points) <= 0.5 ? 'within' : 'NOT within'} 0.5 points)`,
  );
}

console.log('');
for (const e of engines) {
  const r = results[e.id];
  if (r.error) continue;
  const v = Object.entries(r.versions ?? {}).map(([k, val]) => `${k} ${val}`).join(', ');
  console.log(`${e.id}: ${r.model}, ${r.epochs} epoch(s) at batch ${r.batchSize} on ${r.trainExamples} images; ${v}`);
}
const commit = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' });
if (commit.status === 0) console.log(`Repository: ${commit.stdout.trim()}`);
if (python) console.log(`python: ${python}`);
console.log(`Load average after: ${loadText()}`);
if (engines.some((e) => results[e.id].error)) process.exit(1);
