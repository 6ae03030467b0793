/** Convolution checks shared by the threaded and SIMD-only test files. */
import { expect, it } from 'vitest';
import { Sequential, layers, tensor, diagnostics } from 'ballast';
import { maxAbsDiff, randomArray, rng } from './reference.js';

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

const settings = [
  // Windows across the padding, 99 pixels per image (a short group of four), 12 filters
  // (a partial panel of eight), ReLU fused into the kernel.
  { shape: [3, 9, 11, 5], kernel: 3, filters: 12, stride: 1, same: true, activation: 'relu' },
  { shape: [2, 13, 13, 32], kernel: 3, filters: 64, stride: 1, same: false, activation: 'relu' },
  { shape: [2, 10, 7, 3], kernel: 4, filters: 9, stride: 2, same: true, activation: 'linear' },
  { shape: [2, 28, 28, 1], kernel: 3, filters: 32, stride: 1, same: false, activation: 'relu' },
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
