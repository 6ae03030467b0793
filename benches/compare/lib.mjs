// What the Node benchmark scripts share: their options, the data file format run.mjs writes,
// the timing loop and the one result line run.mjs reads back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** Options every engine script takes (run.mjs passes the same values to all of them). */
export const timingOptions = {
  data: { type: 'string' },
  batch: { type: 'string', default: '128' },
  'infer-batch': { type: 'string', default: '1000' },
  warmup: { type: 'string', default: '5' },
  'min-steps': { type: 'string', default: '20' },
  'min-seconds': { type: 'string', default: '5' },
  'infer-reps': { type: 'string', default: '5' },
  'max-seconds': { type: 'string', default: '90' },
};

export function parseOptions(extra = {}) {
  const { values } = parseArgs({ options: { ...timingOptions, ...extra } });
  if (!values.data) throw new Error('--data DIR is required (run.mjs writes it)');
  const int = (name) => {
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got '${values[name]}'`);
    return v;
  };
  return {
    values,
    data: values.data,
    batch: int('batch'),
    inferBatch: int('infer-batch'),
    warmup: int('warmup'),
    minSteps: int('min-steps'),
    minSeconds: Number(values['min-seconds']),
    inferReps: int('infer-reps'),
    maxSeconds: Number(values['max-seconds']),
  };
}

/**
 * The data set run.mjs wrote: `images.f32` (n × h × w float32 in [0, 1], one channel, so the
 * bytes are both NHWC and NCHW), `labels.u8` (class indices) and `meta.json`.
 */
export function readData(dir) {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  const raw = readFileSync(join(dir, 'images.f32'));
  // A copy, so the Float32Array starts on a 4-byte boundary whatever Buffer pooling did.
  const images = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const labels = new Uint8Array(readFileSync(join(dir, 'labels.u8')));
  if (images.length !== meta.n * meta.height * meta.width || labels.length !== meta.n) {
    throw new Error(`data files in ${dir} disagree with meta.json (${images.length} floats, ${labels.length} labels, n=${meta.n})`);
  }
  return { meta, images, labels };
}

/** One-hot rows for class indices. */
export function oneHot(labels, classes) {
  const y = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (y[i * classes + c] = 1));
  return y;
}

/**
 * Times `fn(i)` after up to `warmup` calls: at least `minReps` timed calls and at least
 * `minSeconds` of them (capped at `maxReps`), so fast engines get many samples and slow ones
 * enough for a stable median. An engine whose single step takes minutes (TF.js' cpu backend
 * trains this model that slowly) stops warming up after `maxSeconds / 2` and stops timing
 * after `maxSeconds` and 3 calls, so one run still ends in minutes.
 */
export async function timeRepeated(fn, { warmup, minReps, minSeconds, maxSeconds = Infinity, maxReps = 2000 }) {
  let i = 0;
  const warmStart = performance.now();
  while (i < warmup && !(i >= 1 && performance.now() - warmStart >= (maxSeconds * 1000) / 2)) await fn(i++);
  const warmups = i;
  const times = [];
  const start = performance.now();
  for (;;) {
    const elapsed = (performance.now() - start) / 1000;
    if (times.length >= maxReps) break;
    if (times.length >= minReps && elapsed >= minSeconds) break;
    if (times.length >= 3 && elapsed >= maxSeconds) break;
    const t0 = performance.now();
    await fn(i++);
    times.push(performance.now() - t0);
  }
  return { ...summarize(times), warmups };
}

export function summarize(times) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { medianMs: at(0.5), p10Ms: at(0.1), p90Ms: at(0.9), reps: sorted.length };
}

/**
 * The single line run.mjs parses out of a script's stdout. It carries the CPU time the whole
 * process used (all its threads), from which run.mjs tells how much CPU others took meanwhile.
 */
export const RESULT_TAG = '@bench-result ';
export function emitResult(result) {
  const { user, system } = process.cpuUsage();
  process.stdout.write(`${RESULT_TAG}${JSON.stringify({ ...result, cpuSeconds: (user + system) / 1e6 })}\n`);
}

/** The first line of an error, as the table shows it. */
export function errorText(err) {
  return String(err?.message ?? err).split('\n')[0];
}
