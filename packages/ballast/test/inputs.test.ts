import { describe, expect, it } from 'vitest';
import { tensor, layers, Sequential, Tensor, ArgumentError, ShapeError, type LossSpec } from 'ballast';
import './build.js';


/** A small classifier: 3 features, 2 classes. */
function classifier(loss: LossSpec = 'categoricalCrossentropy'): Sequential {
  const model = new Sequential([layers.input({ shape: [3] }), layers.dense({ units: 2, activation: 'softmax' })], { seed: 3 });
  model.compile({ optimizer: 'sgd', loss, metrics: ['accuracy'] });
  return model;
}

const rowsX = [[0, 1, 2], [1, 0, 1], [2, 2, 0], [0.5, 1, 1]];
const rowsY = [[1, 0], [0, 1], [1, 0], [0, 1]];

describe('tensor() from plain JavaScript', () => {
  it('takes nested arrays with the shape of their nesting', () => {
    const t = tensor([[1, 2], [3, 4], [5, 6]]);
    expect(t.shape).toEqual([3, 2]);
    expect(Array.from(t.data())).toEqual([1, 2, 3, 4, 5, 6]);
    const deep = tensor([[[1], [2]], [[3], [4]]]);
    expect(deep.shape).toEqual([2, 2, 1]);
    expect(tensor(7).shape).toEqual([]);
    expect(Array.from(tensor(7).data())).toEqual([7]);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[], []]).shape).toEqual([2, 0]);
    // Rows as typed arrays are one level of the nesting.
    const rows = tensor([Float32Array.of(1, 2), Int32Array.of(3, 4)]);
    expect(rows.shape).toEqual([2, 2]);
    expect(Array.from(rows.data())).toEqual([1, 2, 3, 4]);
  });

  it('takes flat values with a shape, as tf.tensor(values, shape), and one axis without', () => {
    expect(tensor([1, 2, 3, 4, 5, 6], [2, 3]).shape).toEqual([2, 3]);
    expect(tensor(new Float64Array([1.5, 2, 3, 4]), [2, 2]).shape).toEqual([2, 2]);
    expect(Array.from(tensor(new Uint8Array([0, 128, 255])).data())).toEqual([0, 128, 255]);
    expect(tensor(new Int32Array(6)).shape).toEqual([6]);
    // Nested data may be given a shape of the same size.
    expect(tensor([[1, 2], [3, 4]], [4]).shape).toEqual([4]);
    expect(() => tensor([[1, 2], [3, 4]], [3])).toThrow(/shape \[3\] needs 3 values, got 4/);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(ShapeError);
  });

  it('refuses ragged arrays with a ShapeError naming where', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([[1, 2], [3]])).toThrow(/values\[1\] has 1 entries where values\[0\] has 2/);
    expect(() => tensor([[[1], [2]], [[3], [4]], [[5], 6]])).toThrow(/values\[2\]\[1\] is a number where values\[0\]\[0\] is an array of 1/);
    expect(() => tensor([[1, 2], [3, [4]]])).toThrow(/values\[1\]\[1\] is an array where values\[0\]\[0\] is a number/);
    expect(() => tensor([[[1], [2]], Float32Array.of(1, 2)])).toThrow(/values\[1\] is a typed array \(of numbers\) where values\[0\] is an array of arrays/);
    expect(() => tensor([[1, 2], Float32Array.of(3)])).toThrow(/values\[1\] has 1 entries where values\[0\] has 2/);
    expect(() => tensor([[1, 2], 3])).toThrow(/ragged array: values\[1\] is a number where values\[0\] is an array of 2/);
  });

  it('refuses what is not a finite float32 number with an ArgumentError naming where and what', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[1, 'a'], /values\[1\] must be a number, got "a"/],
      [[[1, 2], [3, NaN]], /values\[1\]\[1\] is NaN; only finite numbers/],
      [[Infinity], /values\[0\] is Infinity/],
      [[1e39], /values\[0\] is 1e\+39, beyond the range of float32/],
      [[[0], [-3.4028236e38]], /values\[1\]\[0\] is -3\.4028236e\+38, beyond the range of float32/],
      [[1, 2n], /values\[1\] must be a number, got the BigInt 2n/],
      [[Symbol('s')], /values\[0\] must be a number, got a symbol \(Symbol\(s\)\)/],
      [[null], /values\[0\] must be a number, got null/],
      [[true], /values\[0\] must be a number, got boolean true/],
      // A hole in a sparse array is undefined.
      [[1, , 3], /values\[1\] must be a number, got undefined/],
      [[[1, 2], 'ab'], /values\[1\] must be an array of numbers, got "ab"/],
      ['12', /values must be a number, nested arrays of numbers or a typed array, got "12"/],
      [{ 0: 1, length: 1 }, /values must be a number, nested arrays of numbers or a typed array, got Object/],
      [new BigInt64Array(2), /got a BigInt64Array \(BigInt values/],
      [new Float64Array([1, 1e300]), /values\[1\] is 1e\+300, beyond the range of float32/],
    ];
    for (const [data, message] of cases) {
      expect(() => tensor(data as never), String(message)).toThrow(ArgumentError);
      expect(() => tensor(data as never)).toThrow(message);
    }
    // The largest float32 and numbers that round to it are taken.
    expect(Array.from(tensor([3.4028234663852886e38, -3.40282350e38]).data())).toEqual([3.4028234663852886e38, -3.4028234663852886e38]);
    // A Float32Array is the storage format: NaN and Infinity in it are kept (fit reports them as a NumericError).
    expect(Array.from(tensor(Float32Array.of(NaN, Infinity)).data())).toEqual([NaN, Infinity]);
    expect(() => tensor([1, 2], [2.5] as never)).toThrow(ShapeError);
    expect(() => tensor([1, 2], 'x' as never)).toThrow(/the shape must be an array of dimensions, got "x"/);
  });
});

describe('fit, evaluate and predict take plain JavaScript', () => {
  it('nested arrays train, evaluate and predict exactly as the same tensors do', async () => {
    const a = classifier();
    const b = classifier();
    const hA = await a.fit(rowsX, rowsY, { epochs: 3, batchSize: 2, verbose: 0 });
    const [tx, ty] = [tensor(rowsX), tensor(rowsY)];
    const hB = await b.fit(tx, ty, { epochs: 3, batchSize: 2, verbose: 0 });
    expect(hA.history.loss).toEqual(hB.history.loss);
    expect(await a.evaluate(rowsX, rowsY)).toEqual(await b.evaluate(tx, ty));
    const pA = await a.predict(rowsX);
    const pB = await b.predict(tx);
    expect(pA.shape).toEqual([4, 2]);
    expect(Array.from(pA.data())).toEqual(Array.from(pB.data()));
    for (const t of [tx, ty, pA, pB]) t.dispose();
  });

  it('a flat typed array takes its rows from the model; { values, shape } says them', async () => {
    const model = classifier();
    const x = Float32Array.from(rowsX.flat());
    const y = Float32Array.from(rowsY.flat());
    const reference = classifier();
    const [tx, ty] = [tensor(rowsX), tensor(rowsY)];
    const h = await model.fit(x, y, { epochs: 2, batchSize: 2, verbose: 0, validationData: [{ values: x, shape: [4, 3] }, rowsY] });
    const r = await reference.fit(tx, ty, { epochs: 2, batchSize: 2, verbose: 0, validationData: [tx, ty] });
    expect(h.history.loss).toEqual(r.history.loss);
    expect(h.history.val_loss).toEqual(r.history.val_loss);
    const p = await model.predict({ values: Array.from(x), shape: [4, 3] });
    expect(p.shape).toEqual([4, 2]);
    // Sparse labels: one class index per example.
    const sparse = classifier('sparseCategoricalCrossentropy');
    const [loss] = await sparse.evaluate(x, Uint8Array.of(0, 1, 0, 1));
    expect(Number.isFinite(loss)).toBe(true);
    for (const t of [tx, ty, p]) t.dispose();
  });

  it('tensors made from plain data are disposed after the call, also when it throws', async () => {
    const model = classifier();
    const disposed: Tensor[] = [];
    const dispose = Tensor.prototype.dispose;
    Tensor.prototype.dispose = function (this: Tensor) {
      if (!this.isDisposed) disposed.push(this);
      dispose.call(this);
    };
    try {
      const disposedBy = async (call: () => Promise<unknown>) => {
        disposed.length = 0;
        const result = await call().catch((e: unknown) => e);
        return { count: disposed.length, result };
      };
      expect((await disposedBy(() => model.fit(rowsX, rowsY, { epochs: 1, verbose: 0, validationData: [rowsX, rowsY] }))).count).toBe(4);
      expect((await disposedBy(() => model.evaluate(rowsX, Float32Array.from(rowsY.flat())))).count).toBe(2);
      const predicted = await disposedBy(() => model.predict(rowsX));
      expect(predicted.count).toBe(1);
      expect((predicted.result as Tensor).isDisposed).toBe(false); // the result is the caller's
      (predicted.result as Tensor).dispose();
      const failed = await disposedBy(() => model.fit(rowsX, [[1, 0]], { verbose: 0 }));
      expect((failed.result as Error).message).toMatch(/x has 4 examples but y has 1/);
      expect(failed.count).toBe(2);
      const refused = await disposedBy(() => model.fit(rowsX, rowsY, { verbose: 0, validationData: [rowsX, 'y' as never] }));
      expect(refused.result).toBeInstanceOf(ArgumentError);
      expect(refused.count).toBe(3); // x, y and validationData[0], made before validationData[1] was refused
      // The caller's tensors stay the caller's.
      const tx = tensor(rowsX);
      const own = await disposedBy(() => model.predict(tx).then((t) => t.dispose()));
      expect(own.count).toBe(1); // the result, disposed above; not tx
      expect(tx.isDisposed).toBe(false);
    } finally {
      Tensor.prototype.dispose = dispose;
    }
  });

  it('anything else is an ArgumentError naming the argument and what it got', async () => {
    const model = classifier();
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => model.fit('data' as never, rowsY), /^fit: x must be a Tensor, nested arrays of numbers, a typed array or \{ values, shape \}, got "data"$/],
      [() => model.fit(rowsX, undefined as never), /^fit: y must be a Tensor.*got undefined$/],
      [() => model.fit(rowsX, rowsY, { validationData: [new Map() as never, rowsY] }), /^fit: validationData\[0\] must be a Tensor.*got Map$/],
      [() => model.fit(rowsX, rowsY, { validationData: [rowsX, 5n as never] }), /^fit: validationData\[1\] must be a Tensor.*got the BigInt 5n/],
      [() => model.fit(rowsX, rowsY, { validationData: rowsX as never }), /^fit: validationData must be \[x, y\], got an array$/],
      [() => model.evaluate(rowsX, { values: new Float32Array(8), shape: [4, 2], dtype: 'float32' } as never), /^evaluate: y as \{ values, shape \} has an unknown key 'dtype'$/],
      [() => model.evaluate(rowsX, { values: 'abc', shape: [3] } as never), /^evaluate: y\.values must be a typed array or an array of numbers, got "abc"$/],
      [() => model.predict(null as never), /^predict: x must be a Tensor.*got null$/],
      [() => model.predict(Symbol('x') as never), /^predict: x must be a Tensor.*got a symbol/],
      [() => model.predict([[1, 2, 'c']] as never), /^predict: x\[0\]\[2\] must be a number, got "c"$/],
      [() => model.predict([[1, 2, NaN]]), /^predict: x\[0\]\[2\] is NaN/],
    ];
    for (const [call, message] of cases) {
      const err = await call().then(() => null, (e: unknown) => e);
      expect(err, String(message)).toBeInstanceOf(ArgumentError);
      expect((err as Error).message).toMatch(message);
    }
    // Shapes that do not fit are ShapeErrors naming the argument.
    await expect(model.predict([[1, 2], [3]])).rejects.toThrow(/^predict: ragged array: x\[1\] has 1 entries where x\[0\] has 2$/);
    await expect(model.predict(new Float32Array(7))).rejects.toThrow(/^predict: x is a flat array of 7 values, not a whole number of examples of shape \[3\]; give \{ values, shape \}$/);
    await expect(model.fit(new Float32Array(12), new Float32Array(6), { verbose: 0 })).rejects.toThrow(/^fit: y is a flat array of 6 values, not 4 examples of shape \[2\] or \[\]/);
    await expect(model.predict([[1, 2]])).rejects.toThrow(/predict: x has shape \[1, 2\], the model expects \[n, 3\]/);
    await expect(model.predict({ values: [1, 2, 3], shape: [2, 3] })).rejects.toThrow(/^predict: shape \[2, 3\] needs 6 values, got 3$/);
  });
});
