/**
 * What `ready()` does on a runtime that lacks a WebAssembly feature: each case runs the built
 * package in a fresh process of this Node, after taking the feature away, and reports what
 * `ready()` gave or threw.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { relaxedSimdFlags } from './runtime-features.js';

const entry = new URL('../dist/node.js', import.meta.url).href;

interface Outcome {
  env?: { build: string; threads: number; simd: boolean; fallbackReason?: string };
  sum?: number;
  error?: { name: string; message: string; isStateError: boolean };
}

function runWithout(prelude: string): Outcome {
  const script = `${prelude}
const b = await import(${JSON.stringify(entry)});
try {
  const env = await b.ready();
  const t = b.tensor([1, 2, 3, 4], [2, 2]);
  console.log(JSON.stringify({ env, sum: Array.from(b.matmul(t, t).data()).reduce((x, y) => x + y, 0) }));
} catch (e) {
  console.log(JSON.stringify({ error: { name: e.name, message: e.message, isStateError: e instanceof b.StateError } }));
}`;
  const r = spawnSync(process.execPath, [...relaxedSimdFlags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`child exited ${r.status}: ${r.stdout}${r.stderr}`);
  return JSON.parse(line) as Outcome;
}

describe('ready() on runtimes that lack a feature', () => {
  it('loads the relaxed-SIMD build when nothing is missing (the baseline of the cases below)', () => {
    const { env, sum } = runWithout('');
    expect(env?.build).toBe('relaxed');
    expect(env?.fallbackReason).toBeUndefined();
    expect(sum).toBe(7 + 10 + 15 + 22);
  });

  it('falls back to the threaded build, saying why, without relaxed SIMD', () => {
    // Refuses modules holding the relaxed_madd opcode (0xfd 0x85 0x02), as a runtime without it does.
    const { env, sum } = runWithout(`
const validate = WebAssembly.validate;
WebAssembly.validate = (bytes) => !/\\xfd\\x85\\x02/.test(String.fromCharCode(...new Uint8Array(bytes))) && validate(bytes);`);
    expect(env).toMatchObject({ build: 'threads', threads: expect.any(Number), simd: true });
    expect(env?.fallbackReason).toMatch(/no relaxed SIMD .*without fused multiply-adds/);
    expect(sum).toBe(54);
  });

  it('falls back to the SIMD build, saying why, without shared WebAssembly memory', () => {
    const { env, sum } = runWithout(`
const Memory = WebAssembly.Memory;
WebAssembly.Memory = function (descriptor) {
  if (descriptor && descriptor.shared) throw new TypeError('shared memory is not supported');
  return new Memory(descriptor);
};
WebAssembly.Memory.prototype = Memory.prototype;`);
    expect(env).toMatchObject({ build: 'simd', threads: 1, simd: true });
    expect(env?.fallbackReason).toMatch(/cannot share memory between threads/);
    expect(sum).toBe(54);
  });

  it('throws a StateError naming SIMD128 when WebAssembly has no SIMD', () => {
    const { error } = runWithout(`
const validate = WebAssembly.validate;
WebAssembly.validate = (bytes) => !new Uint8Array(bytes).includes(0x7b) && validate(bytes);`);
    expect(error?.isStateError).toBe(true);
    expect(error?.message).toMatch(/no SIMD128, which every build of Ballast needs/);
  });
});
