// The benchmark scripts drive internal entry points (`_handleForBenchmarks().trainStep`, the
// per-layer profile) that no public test reaches, so a change there can break them silently:
// each runs here once, with the smallest settings, and must exit cleanly.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { relaxedSimdFlags } from './runtime-features.js';

const run = promisify(execFile);
const bench = (name: string) => fileURLToPath(new URL(`../bench/${name}`, import.meta.url));

describe('benchmark scripts run', () => {
  it.each([
    ['train-step.mjs', ['--steps', '1', '--batch', '8', '--direct'], /Winograd steps are [\d.]+x/],
    ['resnet-step.mjs', ['--steps', '1', '--batch', '8', '--rounds', '1', '--direct'], /direct: [\d.]+ ms\/step/],
    ['winograd.mjs', ['--reps', '1', '--batch', '8'], /\| seed CNN conv2.*x \|$/m],
    ['predict.mjs', ['--rounds', '1', '--batch', '16', '--direct'], /Winograd is [\d.]+x as fast/],
    ['soak.mjs', ['--seconds', '6', '--every', '2', '--train', '512', '--batch', '64', '--max-slowdown', '100'], /^soak: stable over \d+ checkpoints/m],
    ['depthwise.mjs', ['--steps', '1', '--batch', '2', '--size', '8', '--channels', '8'], /threads=2: forward [\d.]+ ms/],
    ['relaxed.mjs', ['--rounds', '1', '--steps', '1'], /\| matmul 512, GFLOP\/s \|.*x \|$/m, relaxedSimdFlags],
  ] as const)('%s %j', async (name, args, done, nodeFlags: readonly string[] = []) => {
    const { stdout, stderr } = await run(process.execPath, [...nodeFlags, bench(name), ...args], { timeout: 120_000 });
    expect(stderr).not.toMatch(/Error/);
    expect(stdout).toMatch(done); // the script's last figures: it ran to the end
  }, 150_000);

  it('a numeric flag that is not a positive number stops the script, naming it', async () => {
    for (const [name, args, message] of [
      ['train-step.mjs', ['--steps', 'ten'], /--steps needs a positive whole number, got "ten"/],
      ['soak.mjs', ['--every=-5'], /--every needs a positive number, got "-5"/],
      ['gemm.mjs', ['--sizes', '64,1.5'], /--sizes needs a positive whole number, got "1.5"/],
    ] as const) {
      const failed = (await run(process.execPath, [bench(name), ...args], { timeout: 60_000 }).catch((e: unknown) => e)) as { code?: number; stderr?: string };
      expect(failed.code).toBe(2);
      expect(failed.stderr).toMatch(message);
    }
  }, 150_000);

  it('relaxed.mjs refuses a Node without relaxed SIMD, saying why', async () => {
    // Without the flag Node 20 has no relaxed SIMD; later Nodes are made to lack it.
    const hide = `WebAssembly.validate = ((v) => (b) => !/\\xfd\\x85\\x02/.test(String.fromCharCode(...new Uint8Array(b))) && v(b))(WebAssembly.validate);`;
    const failed = await run(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hide)}`, bench('relaxed.mjs'), '--rounds', '1', '--steps', '1'], { timeout: 120_000 }).catch((e: { stderr: string }) => e);
    expect((failed as { stderr?: string }).stderr).toMatch(/the relaxed build does not load here: .*no relaxed SIMD/);
  }, 150_000);
});
