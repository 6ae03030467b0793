/**
 * A trap is contained: an allocation that fails inside the core (past the checks made before
 * kernels run, here through fragmentation) is an OutOfMemoryError saying its size, and every
 * later call a StateError saying the instance must be replaced, never a raw trap, a glue
 * error or a hang. It runs in a fresh process, whose instance it spends.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const entry = new URL('../dist/node.js', import.meta.url).href;

const script = `
const b = await import(${JSON.stringify(entry)});
await b.ready({ threads: false });
// 763 MiB in WASM memory; a second copy cannot be placed beside it and the freed argument
// buffer below the 2 GiB the module may grow to.
const t = b.tensor(new Float32Array(200_000_000), [200_000_000]);
const outcome = (f) => { try { f(); return 'ok'; } catch (e) { return { name: e.name, message: e.message, oom: e instanceof b.OutOfMemoryError, state: e instanceof b.StateError }; } };
console.log(JSON.stringify([
  outcome(() => b.valueAndGrads((v) => b.ops.sum(b.ops.mul(v, v)), [t])),
  outcome(() => b.tensor([1, 2], [2])),
  outcome(() => t.data()),
  outcome(() => t.dispose()),
]));`;

// Wrappers never disposed, finalized by the collector after the trap: the glue's
// FinalizationRegistry must not free into the dead instance. Its memory counter (read from the
// glue directly, past the package's refusal) shows whether the 763 MiB tensor was freed.
const finalizers = `
const b = await import(${JSON.stringify(entry)});
const glue = await import(${JSON.stringify(new URL('../wasm/simd/ballast_wasm.js', import.meta.url).href)});
await b.ready({ threads: false });
function trap() {
  b.tensor(new Float32Array(1_000_000), [1_000_000]);
  const t = b.tensor(new Float32Array(200_000_000), [200_000_000]);
  try { b.valueAndGrads((v) => b.ops.sum(b.ops.mul(v, v)), [t]); } catch (e) { return e.name; }
}
const name = trap();
const before = glue.memoryHeld();
for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
console.log(JSON.stringify({ name, before, after: glue.memoryHeld() }));`;

describe('a trap in the core', () => {
  it('stops the finalizers: a wrapper collected after it frees nothing in the dead instance', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', finalizers], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const { name, before, after } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { name: string; before: number; after: number };
    expect(name).toBe('OutOfMemoryError');
    expect(before).toBeGreaterThan(800_000_000);
    expect(after).toBe(before);
  });

  it('an allocation that fails is an OutOfMemoryError, and every later call a StateError', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    expect(r.status, r.stderr).toBe(0);
    const [failed, later, read, dispose] = JSON.parse(line) as Array<{ name: string; message: string; oom: boolean; state: boolean } | 'ok'>;
    expect(failed).toMatchObject({ name: 'OutOfMemoryError', oom: true });
    expect(failed === 'ok' ? '' : failed.message).toMatch(
      /^out of memory: an allocation of 762\.9 MiB failed with [\d.]+ MiB of the module's [\d.]+ MiB in use; the instance cannot be used again/,
    );
    for (const after of [later, read]) {
      expect(after).toMatchObject({ name: 'StateError', state: true });
      expect(after === 'ok' ? '' : after.message).toMatch(/stopped at an earlier error \(out of memory: an allocation of 762\.9 MiB failed\).*reload the page, or restart the process/);
    }
    expect(dispose).toBe('ok'); // disposing is harmless: nothing is freed in a dead instance
  });
});
