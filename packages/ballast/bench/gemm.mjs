// GEMM throughput of the threaded WASM build in Node, three kernel settings side by side:
// scalar on 1 thread, SIMD128 on 1 thread, SIMD128 on the whole pool.
// Usage: node packages/ballast/bench/gemm.mjs [--sizes 128,256,512,1024] [--seconds 0.5]
import { parseArgs } from 'node:util';
import { ready, tensor, matmul, diagnostics } from 'ballast';

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '128,256,512,1024' }, seconds: { type: 'string', default: '0.5' } },
});
const sizes = values.sizes.split(',').map(Number);
const budget = Number(values.seconds) * 1000;

const env = await ready();
console.log(`build=${env.build} threads=${env.threads} simd=${env.simd} node=${process.version}`);

const settings = [
  { name: 'scalar, 1 thread', simd: false, limit: 1 },
  { name: 'SIMD, 1 thread', simd: true, limit: 1 },
  { name: `SIMD, ${env.threads} threads`, simd: true, limit: 0 },
];

function gflops(n, setting) {
  diagnostics.setSimd(setting.simd);
  diagnostics.setThreadLimit(setting.limit);
  const a = tensor(Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [n, n]);
  matmul(a, a).dispose(); // warm-up: packing buffers, JIT
  const times = [];
  const start = performance.now();
  while (performance.now() - start < budget || times.length < 3) {
    const t0 = performance.now();
    matmul(a, a).dispose();
    times.push(performance.now() - t0);
  }
  a.dispose();
  times.sort((x, y) => x - y);
  const median = times[times.length >> 1];
  return (2 * n ** 3) / (median * 1e6);
}

const rows = [];
for (const n of sizes) {
  // Settings alternate within each size, so a noisy neighbour hits them alike.
  const row = { n };
  for (const s of settings) row[s.name] = gflops(n, s);
  rows.push(row);
}
diagnostics.setSimd(true);
diagnostics.setThreadLimit(0);

const header = ['n', ...settings.map((s) => `${s.name} GFLOP/s`), 'SIMD/scalar', `${env.threads}T/1T`];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const r of rows) {
  const [sc, s1, sn] = settings.map((s) => r[s.name]);
  console.log(`| ${r.n} | ${sc.toFixed(2)} | ${s1.toFixed(2)} | ${sn.toFixed(2)} | ${(s1 / sc).toFixed(2)}x | ${(sn / s1).toFixed(2)}x |`);
}
