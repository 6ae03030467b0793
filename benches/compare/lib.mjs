// What the Node benchmark scripts share: their options, the data file format run.mjs writes,
// the timing loop, the one result line run.mjs reads back, and what the runners (this
// directory's run.mjs and benches/resnet/run.mjs) use to find PyTorch and watch the machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
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

/**
 * Runs a script to its end and resolves to the object on its result line, or to `{ error }`
 * (how it failed: the last lines it printed). With `echo` (a writable stream), everything the
 * script prints is passed on as it comes, for runs long enough to want their progress shown.
 */
export function runForResult(cmd, args, { cwd, echo } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => {
      out += d;
      echo?.write(d);
    });
    child.stderr.on('data', (d) => {
      err += d;
      echo?.write(d);
    });
    child.on('error', (e) => resolve({ error: `could not start ${cmd}: ${e.message}` }));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_TAG));
      if (line) return resolve(JSON.parse(line.slice(RESULT_TAG.length)));
      const tail = (err || out).trim().split('\n').slice(-3).join(' / ');
      resolve({ error: `exit code ${code}: ${tail}` });
    });
  });
}

/** The first line of an error, as the table shows it. */
export function errorText(err) {
  return String(err?.message ?? err).split('\n')[0];
}

/** The first interpreter that imports torch: `preferred`, BENCH_PYTHON, then each python3 on PATH. */
export function findPython(preferred) {
  const candidates = [preferred, process.env.BENCH_PYTHON].filter(Boolean);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'python3');
    if (dir && existsSync(p)) candidates.push(p);
  }
  for (const p of candidates) {
    const probe = spawnSync(p, ['-c', 'import torch, numpy'], { stdio: 'ignore' });
    if (probe.status === 0) return p;
  }
  return null;
}

/** Busy and total CPU ticks of the whole machine so far (Linux; null elsewhere). */
export function cpuTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3] - (f[4] ?? 0), total };
  } catch {
    return null;
  }
}
export const busyShare = (a, b) => (a && b ? (b.busy - a.busy) / Math.max(1, b.total - a.total) : NaN);

/**
 * Cores other work used on average while a process ran for `wallSeconds` between the ticks
 * `a` and `b`: the machine's busy time less the CPU time the process reports for itself.
 */
export function othersDuring(a, b, wallSeconds, cpuSeconds) {
  if (cpuSeconds === undefined) return NaN;
  const busy = busyShare(a, b) * availableParallelism() * wallSeconds;
  return Math.max(0, (busy - cpuSeconds) / wallSeconds);
}

/**
 * Cores other work keeps busy, sampled over one second while none of ours runs (the load
 * average still counts the previous setting's threads for minutes). Waits up to `patience`
 * seconds for them to drop under a quarter of a core, since other developers' builds and
 * tests come in bursts.
 */
export async function quietCores(patience) {
  const until = performance.now() + patience * 1000;
  for (;;) {
    const a = cpuTicks();
    await new Promise((r) => setTimeout(r, 1000));
    const busy = busyShare(a, cpuTicks()) * availableParallelism();
    if (!(busy >= 0.25) || performance.now() >= until) return busy;
  }
}
