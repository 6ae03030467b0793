// The public API under generated bad input (issue 11): valid calls of every entry point with
// one part replaced by a bad value, a deleted key, an unknown key, or mutated bytes. Each
// call must succeed or throw a BallastError subclass (not a trap, a panic or a glue error
// wrapped in one), answer within a time limit, and leave a model it was refused on as it was
// (same weights, and a valid predict afterwards works).
//
// The suite runs FUZZ_CASES cases (default 5000, about 2 s) from FUZZ_SEED (default 1), on the threaded
// build, or the SIMD-only one with BALLAST_TEST_BUILD=simd. The long run is `bash scripts/fuzz.sh`
// (see benches/README.md): `FUZZ_CASES=20000 FUZZ_SEED=7 bash scripts/fuzz.sh`. A failing case
// prints its seed, index and the mutation, so that one case can be run again alone with
// FUZZ_SEED and FUZZ_ONLY=index.
import { afterAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { Model, NumericError } from 'ballast';
import '../build.js';
import { Findings, mutate, mutation, runCase, show } from './harness.js';
import { cleanUp, mutateBytes, resetModels, restoreShared, sharedModel, targets, xRows } from './targets.js';

const CASES = Number(process.env.FUZZ_CASES ?? 5000);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const ONLY = process.env.FUZZ_ONLY === undefined ? null : Number(process.env.FUZZ_ONLY);
/** An asynchronous call that has not answered by then is a hang. */
const LIMIT_MS = 10_000;

const weightsOf = (m: Model) => m.getWeights().map((w) => ({ name: w.name, values: Array.from(w.values) }));

/** What is wrong with `m` after a call: weights changed by a refused call, or a valid predict failing. */
async function harmed(m: Model, before: ReturnType<typeof weightsOf> | null): Promise<string | null> {
  let after: ReturnType<typeof weightsOf>;
  try {
    after = weightsOf(m);
  } catch (err) {
    resetModels();
    return `the model is broken afterwards: getWeights throws ${String(err)}`;
  }
  if (before) {
    const changed = after.find((w, i) => w.name !== before[i]?.name || w.values.some((v, j) => !Object.is(v, before[i].values[j])));
    if (changed || after.length !== before.length) return `a refused call changed weight '${changed?.name ?? '(count)'}'`;
  }
  const check = await runCase(async () => (await m.predict(xRows())).dispose(), LIMIT_MS);
  return check.ok ? null : `a valid predict afterwards failed: ${check.failure}`;
}

describe(`fuzz: the public API under bad input (seed ${SEED}, ${CASES} cases)`, () => {
  afterAll(cleanUp);

  it('the valid call of every target and variant succeeds (so a refusal is the mutation\'s)', async () => {
    const failed: string[] = [];
    for (const target of targets) {
      for (let variant = 0; variant < 12; variant++) {
        const outcome = await runCase(() => target.call(target.args(variant), variant), LIMIT_MS);
        if (!outcome.ok) failed.push(`${target.name} variant ${variant}: ${outcome.failure ?? String(outcome.error)}`);
      }
    }
    expect(failed).toEqual([]);
  });

  it('every call succeeds or throws a typed error, never hangs, and leaves the model unharmed', async () => {
    const arb = fc.record({ target: fc.nat(targets.length - 1), variant: fc.nat(11), m: mutation });
    const cases = fc.sample(arb, { seed: SEED, numRuns: CASES });
    // Callbacks warn about monitored values that are not logged (a mutated `monitor`): expected, and quiet here.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const findings = new Findings();
    const tally = new Map<string, { ok: number; refused: number }>();
    const start = performance.now();
    const initial = sharedModel().getWeights().map((w) => ({ name: w.name, values: w.values }));
    for (let i = 0; i < cases.length; i++) {
      if (ONLY !== null && i !== ONLY) continue;
      const { target: ti, variant, m } = cases[i];
      const target = targets[ti];
      let args: unknown[];
      try {
        restoreShared();
        args = target.args(variant);
      } catch (err) {
        // A valid call failing: an earlier case broke a shared model.
        findings.add(target.name, '(valid arguments)', `a shared model is broken: ${String(err)}`, `#${i} (seed ${SEED})`);
        resetModels();
        args = target.args(variant);
      }
      const where = target.bytes ? `bytes ${m.kind}` : mutate(args, m);
      if (target.bytes) args[0] = mutateBytes(args[0] as Uint8Array, m);
      const caseText = `#${i} (seed ${SEED}) ${target.name} variant ${variant}: ${where} = ${show(m.value())}`;
      const model = target.model?.();
      const before = model ? weightsOf(model) : null;
      findings.cases++;
      const outcome = await runCase(() => target.call(args, variant), LIMIT_MS);
      const t = tally.get(target.name) ?? { ok: 0, refused: 0 };
      t[outcome.ok ? 'ok' : 'refused']++;
      tally.set(target.name, t);
      if (outcome.failure) findings.add(target.name, where, outcome.failure, caseText);
      if (model) {
        // A NumericError comes from training that ran (the steps before it stand, as in Keras);
        // any other refusal must come before anything changed.
        const refusedBefore = !outcome.ok && !(outcome.error instanceof NumericError);
        const harm = await harmed(model, refusedBefore ? before : null);
        if (harm) findings.add(target.name, where, harm, caseText);
      }
      if (outcome.ms > 2000) findings.add(target.name, where, `slow: ${Math.round(outcome.ms)} ms`, caseText);
    }
    // The shared model still trains after everything thrown at it, once given good weights
    // again (accepted calls may have set any finite weights or learning rate).
    sharedModel().setWeights(initial);
    sharedModel().setLearningRate(0.001);
    const history = await sharedModel().fit(xRows(), [[1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 1]], { epochs: 1, verbose: 0 });
    expect(Number.isFinite(history.history.loss[0])).toBe(true);
    warn.mockRestore();
    const seconds = (performance.now() - start) / 1000;
    const counts = [...tally].map(([k, v]) => `${k} ${v.ok}/${v.refused}`).join(', ');
    console.log(`fuzz: ${findings.report()}\n(${seconds.toFixed(1)} s; accepted/refused by target: ${counts})`);
    expect(findings.byKey.size, findings.report()).toBe(0);
  }, 600_000);
});
