// Runs Ballast in a module Worker: load, matmuls checked against a plain JS triple loop, the
// pool's task counts, and a shape error. Posts one plain object back to the page.

/** Deterministic uniform values in [-1, 1) (mulberry32). */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

function randomMatrix(rows, cols, next) {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = next();
  return data;
}

/** op(A)·op(B) in float64, A stored as [m,k] (or [k,m] when transposed), B as [k,n] (or [n,k]). */
function referenceMatmul(a, b, m, k, n, transposeA, transposeB) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) {
        const x = transposeA ? a[p * m + i] : a[i * k + p];
        const y = transposeB ? b[j * k + p] : b[p * n + j];
        sum += x * y;
      }
      out[i * n + j] = sum;
    }
  }
  return out;
}

async function run() {
  const ballast = await import('/dist/web.js');
  const { ready, tensor, matmul, diagnostics, ShapeError } = ballast;
  const env = await ready();

  const next = random(0x5eed);
  const cases = [
    { m: 1, k: 1, n: 1, transposeA: false, transposeB: false },
    { m: 7, k: 3, n: 5, transposeA: false, transposeB: false },
    { m: 257, k: 129, n: 65, transposeA: false, transposeB: false },
    { m: 257, k: 129, n: 65, transposeA: true, transposeB: false },
    { m: 257, k: 129, n: 65, transposeA: false, transposeB: true },
    { m: 257, k: 129, n: 65, transposeA: true, transposeB: true },
    { m: 33, k: 300, n: 17, transposeA: true, transposeB: true },
  ];

  let maxAbsError = 0;
  const checks = [];
  const check = ({ m, k, n, transposeA, transposeB }, afterEach) => {
    const a = randomMatrix(m, k, next);
    const b = randomMatrix(k, n, next);
    const ta = tensor(a, transposeA ? [k, m] : [m, k]);
    const tb = tensor(b, transposeB ? [n, k] : [k, n]);
    const started = performance.now();
    const tc = matmul(ta, tb, { transposeA, transposeB });
    const ms = performance.now() - started;
    afterEach?.();
    const shape = tc.shape;
    const got = tc.data();
    ta.dispose();
    tb.dispose();
    tc.dispose();
    const want = referenceMatmul(a, b, m, k, n, transposeA, transposeB);
    let error = shape.length === 2 && shape[0] === m && shape[1] === n && got.length === want.length ? 0 : Infinity;
    for (let i = 0; i < want.length && error !== Infinity; i++) {
      const e = Math.abs(got[i] - want[i]);
      // NaN must count as a failure, which Math.max alone would not guarantee to surface.
      error = Number.isNaN(e) ? Infinity : Math.max(error, e);
    }
    maxAbsError = Math.max(maxAbsError, error);
    checks.push({ m, k, n, transposeA, transposeB, shape, maxAbsError: error === Infinity ? 'Infinity' : error, ms });
  };

  for (const c of cases) check(c);

  // Counts so far belong to the cases above; take them, then count one large product alone.
  diagnostics.takeTaskCounts();
  let taskCounts = null;
  check({ m: 512, k: 512, n: 512, transposeA: false, transposeB: false }, () => {
    taskCounts = diagnostics.takeTaskCounts();
  });

  let shapeErrorName = null;
  let shapeErrorMessage = null;
  let shapeErrorIsShapeError = false;
  const x = tensor(new Float32Array(6), [2, 3]);
  const y = tensor(new Float32Array(6), [2, 3]);
  try {
    matmul(x, y).dispose();
  } catch (err) {
    shapeErrorName = err?.name ?? String(err);
    shapeErrorMessage = err?.message ?? String(err);
    shapeErrorIsShapeError = err instanceof ShapeError;
  } finally {
    x.dispose();
    y.dispose();
  }

  // The instance must still work after an error crossed the boundary.
  let afterErrorOk = false;
  {
    const p = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const q = tensor([1, 0, 0, 1, 1, 1], [3, 2]);
    const r = matmul(p, q);
    const d = Array.from(r.data());
    afterErrorOk = JSON.stringify(r.shape) === '[2,2]' && JSON.stringify(d) === JSON.stringify([4, 5, 10, 11]);
    p.dispose();
    q.dispose();
    r.dispose();
  }

  // fit on plain arrays, and its progress: nothing by default in a browser, one console line
  // per epoch (and its header) with verbose 1, never a carriage return.
  const { Sequential, layers } = ballast;
  const model = new Sequential([layers.input({ shape: [2] }), layers.dense({ units: 1 })], { seed: 1 });
  model.compile({ optimizer: 'sgd', loss: 'mse' });
  const progress = { quiet: [], verbose: [] };
  const log = console.log;
  try {
    console.log = (...args) => progress.quiet.push(args.join(' '));
    await model.fit([[0, 1], [1, 0], [1, 1]], [[1], [1], [2]], { epochs: 2, batchSize: 2 });
    console.log = (...args) => progress.verbose.push(args.join(' '));
    await model.fit([[0, 1], [1, 0], [1, 1]], [[1], [1], [2]], { epochs: 2, batchSize: 2, verbose: 1 });
  } finally {
    console.log = log;
  }
  model.dispose();

  return {
    env,
    progress,
    crossOriginIsolated: self.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    maxAbsError: maxAbsError === Infinity ? 'Infinity' : maxAbsError,
    taskCounts,
    shapeErrorName,
    shapeErrorMessage,
    shapeErrorIsShapeError,
    afterErrorOk,
    checks,
  };
}

run().then(
  (result) => self.postMessage(result),
  (err) => {
    console.error('ballast worker failed:', err?.stack ?? err);
    self.postMessage({ error: String(err?.stack ?? err) });
  },
);
