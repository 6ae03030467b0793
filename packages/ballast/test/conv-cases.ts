/** Convolution checks shared by the threaded and SIMD-only test files. */
import { expect, it } from 'vitest';
import { Sequential, layers, tensor, diagnostics, valueAndGrads, ops } from 'ballast';
import { expectScalarMatchesSimd, maxAbsDiff, randomArray, rng } from './reference.js';

/** NHWC convolution with an HWIO filter, TensorFlow's padding rules, then the activation. */
function convReference(
  x: Float32Array, [n, h, w, c]: number[], f: Float32Array, [kh, kw, , oc]: number[], bias: Float32Array,
  stride: number, same: boolean, relu: boolean,
): Float64Array {
  const oh = same ? Math.ceil(h / stride) : Math.floor((h - kh) / stride) + 1;
  const ow = same ? Math.ceil(w / stride) : Math.floor((w - kw) / stride) + 1;
  const padTop = same ? Math.floor(Math.max((oh - 1) * stride + kh - h, 0) / 2) : 0;
  const padLeft = same ? Math.floor(Math.max((ow - 1) * stride + kw - w, 0) / 2) : 0;
  const out = new Float64Array(n * oh * ow * oc);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let o = 0; o < oc; o++) {
          let s = bias[o];
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const y = oy * stride + ky - padTop, xx = ox * stride + kx - padLeft;
              if (y < 0 || xx < 0 || y >= h || xx >= w) continue;
              for (let i = 0; i < c; i++) s += x[((b * h + y) * w + xx) * c + i] * f[((ky * kw + kx) * c + i) * oc + o];
            }
          out[((b * oh + oy) * ow + ox) * oc + o] = relu ? Math.max(s, 0) : s;
        }
  return out;
}

/** The padded geometry of `convReference`: output size and padding before, per axis. */
function axis(size: number, k: number, stride: number, same: boolean): [number, number] {
  const out = same ? Math.ceil(size / stride) : Math.floor((size - k) / stride) + 1;
  return [out, same ? Math.floor(Math.max((out - 1) * stride + k - size, 0) / 2) : 0];
}

/** dL/dfilter for L = Σ conv(x, filter)·r: Σ over output pixels of input window · r. */
function filterGradReference(
  x: Float32Array, [n, h, w, c]: number[], r: Float32Array, [kh, kw, oc]: number[], stride: number, same: boolean,
): Float64Array {
  const [[oh, pt], [ow, pl]] = [axis(h, kh, stride, same), axis(w, kw, stride, same)];
  const grad = new Float64Array(kh * kw * c * oc);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const y = oy * stride + ky - pt, xx = ox * stride + kx - pl;
            if (y < 0 || xx < 0 || y >= h || xx >= w) continue;
            for (let i = 0; i < c; i++)
              for (let o = 0; o < oc; o++)
                grad[((ky * kw + kx) * c + i) * oc + o] += x[((b * h + y) * w + xx) * c + i] * r[((b * oh + oy) * ow + ox) * oc + o];
          }
  return grad;
}

// Filter gradients: the implicit GEMM with a short channel tile (6 = 4 + 2, 5 = 4 + 1) and
// filters padded to whole tiles, strided and "same"; the im2col path for 1 to 3 channels.
const gradSettings = [
  { shape: [3, 9, 11, 6], kernel: 3, filters: 12, stride: 1, same: true },
  { shape: [2, 10, 7, 5], kernel: 3, filters: 9, stride: 2, same: true },
  { shape: [2, 14, 14, 16], kernel: 3, filters: 16, stride: 1, same: true },
  { shape: [2, 12, 12, 3], kernel: 3, filters: 8, stride: 1, same: false },
] as const;

const settings = [
  // Windows across the padding, 99 pixels per image (a short group of four), 12 filters
  // (a partial panel of eight), ReLU fused into the kernel.
  { shape: [3, 9, 11, 5], kernel: 3, filters: 12, stride: 1, same: true, activation: 'relu' },
  { shape: [2, 13, 13, 32], kernel: 3, filters: 64, stride: 1, same: false, activation: 'relu' },
  { shape: [2, 10, 7, 3], kernel: 4, filters: 9, stride: 2, same: true, activation: 'linear' },
  { shape: [2, 28, 28, 1], kernel: 3, filters: 32, stride: 1, same: false, activation: 'relu' },
  // Winograd F(4x4, 3x3): 8 images of 8 channels, odd output sizes (tiles cropped).
  { shape: [8, 9, 11, 8], kernel: 3, filters: 12, stride: 1, same: true, activation: 'relu' },
  { shape: [8, 8, 7, 16], kernel: 3, filters: 8, stride: 1, same: false, activation: 'linear' },
] as const;

export function convCases(): void {
  it.each(settings)('Conv2D matches a JS reference, scalar and SIMD kernels agree: %o', (s) => {
    const [, h, w, c] = s.shape;
    const model = new Sequential([
      layers.input({ shape: [h, w, c] }),
      layers.conv2d({ filters: s.filters, kernelSize: s.kernel, strides: s.stride, padding: s.same ? 'same' : 'valid', activation: s.activation }),
    ], { seed: 3 });
    const random = rng(s.filters);
    const [kernel, bias] = model.getWeights();
    const biasValues = randomArray(s.filters, random);
    model.setWeights([{ name: bias.name, values: biasValues }]);
    const data = randomArray(s.shape.reduce((a, b) => a * b, 1), random);
    const x = tensor(data, [...s.shape]);
    const run = async (simd: boolean) => {
      diagnostics.setSimd(simd);
      const y = await model.predict(x);
      const values = y.data();
      y.dispose();
      return values;
    };
    return (async () => {
      const scalar = await run(false);
      const simd = await run(true);
      const want = convReference(data, [...s.shape], kernel.values, kernel.shape, biasValues, s.stride, s.same, s.activation === 'relu');
      const k = s.kernel * s.kernel * c;
      expect(maxAbsDiff(simd, want)).toBeLessThan(1e-5 * Math.sqrt(k) * 8);
      // Same window order and summation; only the instructions differ.
      expect(maxAbsDiff(simd, scalar)).toBeLessThan(1e-6 * Math.sqrt(k));
      if (s.activation === 'relu') expect(simd.some((v) => v === 0) && simd.every((v) => v >= 0)).toBe(true);
      x.dispose();
      model.dispose();
    })();
  });
}

/** `fused`: the build's SIMD kernels fuse multiply-adds, so they agree with the scalar ones within rounding only. */
export function convGradCases(fused: boolean): void {
  it.each(gradSettings)('Conv2D filter gradient matches a JS reference, scalar and SIMD kernels agree: %o', (s) => {
    const [, h, w, c] = s.shape;
    const random = rng(7 + s.filters);
    const data = randomArray(s.shape.reduce((a, b) => a * b, 1), random);
    const [oh, ow] = [axis(h, s.kernel, s.stride, s.same)[0], axis(w, s.kernel, s.stride, s.same)[0]];
    const weights = randomArray(s.shape[0] * oh * ow * s.filters, random);
    const filter = randomArray(s.kernel * s.kernel * c * s.filters, random);
    const [x, r, f] = [tensor(data, [...s.shape]), tensor(weights, [s.shape[0], oh, ow, s.filters]), tensor(filter, [s.kernel, s.kernel, c, s.filters])];
    const run = (simd: boolean) => {
      diagnostics.setSimd(simd);
      const { grads } = valueAndGrads((fv) => ops.sum(ops.mul(
        ops.conv2d(ops.constant(x), fv, undefined, { strides: s.stride, padding: s.same ? 'same' : 'valid' }), ops.constant(r))), [f]);
      const values = grads[0].data();
      grads[0].dispose();
      return values;
    };
    const scalar = run(false);
    const simd = run(true);
    const want = filterGradReference(data, [...s.shape], weights, [s.kernel, s.kernel, s.filters], s.stride, s.same);
    const terms = s.shape[0] * oh * ow;
    expect(maxAbsDiff(simd, want)).toBeLessThan(1e-5 * Math.sqrt(terms) * 8);
    // Same operations in the same order; only the instructions differ.
    expectScalarMatchesSimd(scalar, simd, fused);
    for (const t of [x, r, f]) t.dispose();
  });
}

export function winogradCases(): void {
  it.each([
    { shape: [8, 9, 11, 8], filters: 12, same: true },
    { shape: [9, 6, 7, 16], filters: 16, same: false },
    // Filters padded to a panel (20 of 24) and a one-channel lane (17 = 16 + 1) on SIMD128.
    { shape: [8, 7, 6, 17], filters: 20, same: true },
  ])('Winograd and the direct kernels agree on the output and both gradients: %o', (s) => {
    const random = rng(11 + s.filters);
    const [n, h, w, c] = s.shape;
    const [oh, ow] = [axis(h, 3, 1, s.same)[0], axis(w, 3, 1, s.same)[0]];
    const x = tensor(randomArray(n * h * w * c, random), [n, h, w, c]);
    const f = tensor(randomArray(9 * c * s.filters, random), [3, 3, c, s.filters]);
    const r = tensor(randomArray(n * oh * ow * s.filters, random), [n, oh, ow, s.filters]);
    const run = (winograd: boolean) => {
      diagnostics.setWinograd(winograd);
      try {
        const { value, grads } = valueAndGrads((xv, fv) => ops.sum(ops.mul(
          ops.relu(ops.conv2d(xv, fv, undefined, { padding: s.same ? 'same' : 'valid' })), ops.constant(r))), [x, f]);
        const values = grads.map((g) => g.data());
        grads.forEach((g) => g.dispose());
        return { value, values };
      } finally {
        diagnostics.setWinograd(true);
      }
    };
    const direct = run(false);
    const winograd = run(true);
    expect(Math.abs(winograd.value - direct.value)).toBeLessThan(1e-4 * (1 + Math.abs(direct.value)));
    // The input gradient of a "same" convolution goes through Winograd too, and from 16
    // channels the filter gradient (the first case's takes the implicit GEMM, with the ReLU
    // mask of the Winograd output).
    expect(maxAbsDiff(winograd.values[0], direct.values[0])).toBeLessThan(1e-4);
    expect(maxAbsDiff(winograd.values[1], direct.values[1])).toBeLessThan(1e-4 * Math.sqrt(n * oh * ow));
    expect(winograd.value).not.toBe(direct.value); // the paths differ (fixed data: not by chance)
    for (const t of [x, f, r]) t.dispose();
  });
}
