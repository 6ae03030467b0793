import { afterEach, describe, expect, it, vi } from 'vitest';
import { ready, tensor, layers, Sequential, callbacks, Callback, ProgbarLogger, ArgumentError, type History, type TrainParams } from 'ballast';

await ready({ threads: 2 });

/** A stream that records what is written; a terminal or not. */
function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (text: string) => writes.push(text) } };
}

function model(): Sequential {
  const m = new Sequential([layers.input({ shape: [3] }), layers.dense({ units: 2, activation: 'softmax' })], { seed: 5 });
  m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

// 6 examples in batches of 2: three steps per epoch.
const x = tensor([[0, 1, 2], [1, 0, 1], [2, 2, 0], [0.5, 1, 1], [1, 1, 1], [0, 0, 2]]);
const y = tensor([[1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 1]]);
const fitOptions = { epochs: 2, batchSize: 2, validationData: [x, y] as [typeof x, typeof y] };

/** The line Keras prints at the end of an epoch, with this epoch's values. */
function epochLine(h: History, epoch: number): RegExp {
  const v = (k: string) => h.history[k][epoch].toFixed(4).replace('.', '\\.');
  return new RegExp(
    `^3/3 ━{20} \\d+s \\d+(ms|us)/step - accuracy: ${v('accuracy')} - loss: ${v('loss')} - val_accuracy: ${v('val_accuracy')} - val_loss: ${v('val_loss')}\n$`,
  );
}

afterEach(() => vi.restoreAllMocks());

describe('the progress line (Keras ProgbarLogger)', () => {
  it('not on a terminal: the epoch header and its finished line only, no carriage return or colour', async () => {
    const { writes, stream } = fakeStream(false);
    const h = await model().fit(x, y, { ...fitOptions, callbacks: [callbacks.progbarLogger({ stream })] });
    expect(writes).toHaveLength(4);
    expect(writes[0]).toBe('Epoch 1/2\n');
    expect(writes[1]).toMatch(epochLine(h, 0));
    expect(writes[2]).toBe('Epoch 2/2\n');
    expect(writes[3]).toMatch(epochLine(h, 1));
    expect(writes.join('')).not.toMatch(/[\r\x1b]/);
  });

  it('on a terminal: redrawn in place with Keras colours, ending each epoch with its line', async () => {
    const { writes, stream } = fakeStream(true);
    const h = await model().fit(x, y, { ...fitOptions, epochs: 1, callbacks: [new ProgbarLogger({ stream })] });
    // One epoch: no header (Keras prints it for more than one); redraws, then the finished line.
    const last = writes.at(-1)!;
    expect(last.endsWith('\x1b[K\n')).toBe(true);
    const plain = (s: string) => s.replace(/\x1b\[[0-9;]*[mK]/g, '');
    expect(plain(last)).toMatch(new RegExp(epochLine(h, 0).source.replace('^', '^\\r')));
    expect(last).toContain('\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m');
    const redraws = writes.slice(0, -1);
    expect(redraws.length).toBeGreaterThanOrEqual(1); // the first batch is always drawn
    for (const r of redraws) {
      expect(r.startsWith('\r')).toBe(true);
      expect(r.endsWith('\x1b[K')).toBe(true);
    }
    expect(plain(redraws[0])).toMatch(/^\r1\/3 ━{20} \d+s \d+(ms|us)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$/);
  });

  it('redraws at most ten times a second and shows the running means weighted by batch size', () => {
    const { writes, stream } = fakeStream(true);
    const bar = new ProgbarLogger({ stream });
    bar.setParams({ epochs: 1 });
    bar.onTrainBegin();
    bar.onEpochBegin(0);
    const started = performance.now();
    for (let b = 0; b < 1000; b++) bar.onBatchEnd(b, { loss: b === 999 ? 4 : 1, size: b === 999 ? 1 : 2, batches: 1000 });
    const ms = performance.now() - started;
    // The first batch, the last, and one per 100 ms in between.
    expect(writes.length).toBeLessThanOrEqual(2 + Math.ceil(ms / 100));
    const lastBatch = writes.at(-1)!.replace(/\x1b\[[0-9;]*[mK]/g, '');
    expect(lastBatch).toMatch(/^\r1000\/1000 ━{20} \d+s \d+(ms|us)\/step - loss: 1\.0015$/); // (999·2·1 + 1·4) / 1999
    bar.onEpochEnd(0, { loss: 1.5 });
    expect(writes.at(-1)!.replace(/\x1b\[[0-9;]*[mK]/g, '')).toMatch(/^\r1000\/1000 ━{20} \d+s \d+(ms|us)\/step - loss: 1\.5000\n$/);
  });

  it("Keras' times and numbers: the time left as 42s, 3:18 or 1:23:19, per step in s, ms or us, tiny values as 5.0000e-04", () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const { writes, stream } = fakeStream(true);
    const bar = new ProgbarLogger({ stream });
    bar.setParams({ epochs: 1 });
    bar.onTrainBegin();
    const line = () => writes.at(-1)!.replace(/\x1b\[[0-9;]*[mK]/g, '');
    const firstBatch = (ms: number, batches: number, loss: number) => {
      now = 0;
      bar.onEpochBegin(0);
      now = ms;
      bar.onBatchEnd(0, { loss, size: 1, batches });
      return line();
    };
    expect(firstBatch(2000, 100, 0.5)).toBe(`\r  1/100 ${'━'.repeat(20)} 3:18 2s/step - loss: 0.5000`);
    expect(firstBatch(50, 100_000, 0.0005)).toBe(`\r     1/100000 ${'━'.repeat(20)} 1:23:19 50ms/step - loss: 5.0000e-04`);
    expect(firstBatch(0.5, 85, 0)).toBe(`\r 1/85 ${'━'.repeat(20)} 0s 500us/step - loss: 0.0000e+00`);
    expect(firstBatch(1000, 43, 2)).toBe(`\r 1/43 ${'━'.repeat(20)} 42s 1s/step - loss: 2.0000`);
    // Five of twenty steps done: a quarter of the bar is filled (green), the rest not.
    now = 0;
    bar.onEpochBegin(0);
    for (let b = 0; b < 5; b++) {
      now += 200; // past the redraw interval each time
      bar.onBatchEnd(b, { loss: 1, size: 1, batches: 20 });
    }
    expect(writes.at(-1)).toContain(`\x1b[32m${'━'.repeat(5)}\x1b[0m\x1b[37m${'━'.repeat(15)}\x1b[0m`);
    expect(line()).toBe(`\r 5/20 ${'━'.repeat(20)} 3s 200ms/step - loss: 1.0000`);
  });

  it('a dataset of unknown length: n/Unknown while the epoch runs, then the finished line', async () => {
    const { writes, stream } = fakeStream(true);
    const batches = [0, 2, 4].map((i) => ({ xs: x.data().slice(i * 3, i * 3 + 6), ys: y.data().slice(i * 2, i * 2 + 4) }));
    await model().fitDataset(batches, { callbacks: [new ProgbarLogger({ stream })] });
    const plain = writes.map((s) => s.replace(/\x1b\[[0-9;]*[mK]/g, ''));
    expect(plain[0]).toMatch(/^\r1\/Unknown \d+s \d+(ms|us)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$/);
    expect(plain.at(-1)).toMatch(/^\r3\/3 ━{20} \d+s \d+(ms|us)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}\n$/);
  });

  it('verbose 2: one line per epoch in Keras form', async () => {
    const { writes, stream } = fakeStream(true);
    const h = await model().fit(x, y, { ...fitOptions, callbacks: [callbacks.progbarLogger({ verbose: 2, stream })] });
    expect(writes).toHaveLength(4);
    const v = (k: string, e: number) => h.history[k][e].toFixed(4);
    expect(writes[1]).toMatch(new RegExp(`^3/3 - \\d+s - \\d+(ms|us)/step - accuracy: ${v('accuracy', 0)} - loss: ${v('loss', 0)} - val_accuracy: ${v('val_accuracy', 0)} - val_loss: ${v('val_loss', 0)}\n$`));
    expect(writes.join('')).not.toMatch(/[\r\x1b]/);
  });

  it("fit's verbose writes to standard output; its default is 1 on a terminal and 0 otherwise", async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (written.push(String(s)), true));
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    try {
      Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
      await model().fit(x, y, fitOptions);
      expect(written).toEqual([]);
      await model().fit(x, y, { ...fitOptions, verbose: 0 });
      expect(written).toEqual([]);
      await model().fit(x, y, { ...fitOptions, verbose: 2 });
      expect(written).toHaveLength(4);
      expect(written[1]).toMatch(/^3\/3 - \d+s - /);
      written.length = 0;
      await model().fit(x, y, { ...fitOptions, verbose: 1 });
      expect(written).toHaveLength(4);
      expect(written[1]).toMatch(/^3\/3 ━{20} /);
      written.length = 0;
      Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
      await model().fit(x, y, fitOptions);
      expect(written.some((w) => w.startsWith('\r'))).toBe(true);
      written.length = 0;
      // A ProgbarLogger among the callbacks replaces the default one.
      const own = fakeStream(false);
      await model().fit(x, y, { ...fitOptions, verbose: 1, callbacks: [callbacks.progbarLogger({ stream: own.stream })] });
      expect(written).toEqual([]);
      expect(own.writes).toHaveLength(4);
    } finally {
      if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
  });

  it('what other callbacks print at the end of an epoch follows its line', async () => {
    const order: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (order.push(`bar ${String(s)}`), true));
    await model().fit(x, y, { ...fitOptions, epochs: 1, verbose: 2, callbacks: { onEpochEnd: () => void order.push('mine') } });
    expect(order.map((o) => o.slice(0, 7))).toEqual(['bar 3/3', 'mine']);
  });

  it("callbacks see fit's params (Keras' callback.params): epochs, steps per epoch, verbose", async () => {
    const seen: TrainParams[] = [];
    class Recorder extends Callback {
      override onTrainBegin(): void {
        seen.push(this.params);
      }
    }
    await model().fit(x, y, { ...fitOptions, verbose: 0, callbacks: [new Recorder()] });
    await model().fit(x, y, { epochs: 4, batchSize: 2, stepsPerEpoch: 2, verbose: 0, callbacks: new Recorder() });
    await model().fit(x, y, { epochs: 1, batchSize: 4, validationSplit: 0.5, verbose: 0, callbacks: new Recorder() });
    // 6 examples by 2: 3 steps; at most 2 when stepsPerEpoch says so; 3 left by validationSplit: one batch of 3.
    expect(seen).toEqual([{ epochs: 2, steps: 3, verbose: 0 }, { epochs: 4, steps: 2, verbose: 0 }, { epochs: 1, steps: 1, verbose: 0 }]);
  });

  it('bad verbose values and options are ArgumentErrors', async () => {
    const m = model();
    for (const verbose of [3, -1, '1', true, null, 1.5]) {
      await expect(m.fit(x, y, { verbose: verbose as never })).rejects.toThrow(/^fit: verbose must be 0, 1 or 2, got /);
    }
    await expect(m.fit(x, y, { verbose: 'auto' as never })).rejects.toThrow(ArgumentError);
    expect(() => callbacks.progbarLogger({ verbose: 0 as never })).toThrow(/progbarLogger: verbose must be 1 or 2, got number 0/);
    expect(() => callbacks.progbarLogger({ stream: {} as never })).toThrow(/progbarLogger: stream must have a write\(text\) method/);
    expect(() => callbacks.progbarLogger({ stream: process.stdout, width: 30 } as never)).toThrow(/unknown option 'width'/);
  });
});
