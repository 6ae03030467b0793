// GEMM throughput in Node, kernel settings side by side:
//  - a build without SIMD128 (wasm/scalar, made by `scripts/build-wasm.sh --scalar`), 1 thread;
//  - the threaded build's scalar micro-kernel (which LLVM auto-vectorizes, since that build
//    targets SIMD128), 1 thread;
//  - the threaded build's SIMD128 micro-kernel on 1 thread and on the whole pool.
// Usage: node packages/ballast/bench/gemm.mjs [--sizes 128,256,512,1024] [--seconds 0.5]
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { ready, tensor, matmul, diagnostics } from 'ballast';

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '128,256,512,1024' }, seconds: { type: 'string', default: '0.5' } },
});
// Each size of the list must be a positive whole number.
const sizes = values.sizes.split(',').map((v) => positive({ sizes: v }, ['sizes'])[0]);
const [budget] = positive(values, ['seconds'], { whole: false }).map((s) => s * 1000);

const env = await ready();
console.log(`build=${env.build} threads=${env.threads} simd=${env.simd} node=${process.version}`);

// The no-SIMD build runs through its own glue: a process holds one instance of each glue.
const scalarDir = new URL('../wasm/scalar/', import.meta.url);
let scalarGlue = null;
if (existsSync(new URL('ballast_wasm_bg.wasm', scalarDir))) {
  scalarGlue = await import(new URL('ballast_wasm.js', scalarDir).href);
  scalarGlue.initSync({ module: new WebAssembly.Module(readFileSync(new URL('ballast_wasm_bg.wasm', scalarDir))) });
} else {
  console.log('(no wasm/scalar build: run scripts/build-wasm.sh --scalar for the no-SIMD baseline)');
}

const settings = [
  ...(scalarGlue ? [{ name: 'no-SIMD build, 1 thread', glue: scalarGlue }] : []),
  { name: 'auto-vectorized scalar kernel, 1 thread', simd: false, limit: 1 },
  { name: 'SIMD, 1 thread', simd: true, limit: 1 },
  { name: `SIMD, ${env.threads} threads`, simd: true, limit: 0 },
];

function gflops(n, setting) {
  const values = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  let multiply, release;
  if (setting.glue) {
    const a = new setting.glue.Tensor(values, Uint32Array.of(n, n));
    multiply = () => setting.glue.matmul(a, a, false, false).free();
    release = () => a.free();
  } else {
    diagnostics.setSimd(setting.simd);
    diagnostics.setThreadLimit(setting.limit);
    const a = tensor(values, [n, n]);
    multiply = () => matmul(a, a).dispose();
    release = () => a.dispose();
  }
  multiply(); // warm-up: packing buffers, JIT
  const times = [];
  const start = performance.now();
  while (performance.now() - start < budget || times.length < 3) {
    const t0 = performance.now();
    multiply();
    times.push(performance.now() - t0);
  }
  release();
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

const header = ['n', ...settings.map((s) => `${s.name} GFLOP/s`), 'SIMD/no-SIMD build', 'SIMD/auto-vectorized', `${env.threads}T/1T`];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const r of rows) {
  const values = settings.map((s) => r[s.name]);
  const [s1, sn] = values.slice(-2);
  const noSimd = scalarGlue ? `${(s1 / values[0]).toFixed(2)}x` : 'n/a';
  const auto = values[values.length - 3];
  console.log(`| ${r.n} | ${values.map((v) => v.toFixed(2)).join(' | ')} | ${noSimd} | ${(s1 / auto).toFixed(2)}x | ${(sn / s1).toFixed(2)}x |`);
}
const clock = 2.6; // GHz, as /proc/cpuinfo reports on these machines
console.log(`Peak for reference: 4-wide f32 SIMD, separate multiply and add (no FMA in SIMD128), 2 of each per cycle ≈ ${16 * clock} GFLOP/s per core, ${32 * clock} GFLOP/s on 2 cores at ${clock} GHz.`);
