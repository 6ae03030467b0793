// image.fromPixels in Node (TF.js' PixelData, and every bad input a typed error), and the
// reference resize that datasets.imageFolder uses, against values worked out by hand.
// The DOM sources are tested in Chromium: test/browser/image.browser.test.ts.
import { describe, expect, it } from 'vitest';
import { ready, image, tensor, ArgumentError, DataError, BallastError } from 'ballast';

/** One image's values through `image.resize`, as plain numbers. */
function resizeImage(values: number[], shape: [number, number, number], size: [number, number], interpolation: 'bilinear' | 'nearest' = 'bilinear'): Float32Array {
  const t = tensor(Float32Array.from(values), shape);
  const out = image.resize(t, size, { interpolation });
  t.dispose();
  const data = out.data();
  out.dispose();
  return data;
}

await ready({ threads: 2 });

/** A 3-wide, 2-high RGBA image whose bytes say where they are: 100·y + 10·x + channel. */
const W = 3;
const H = 2;
const rgba = Uint8Array.from({ length: W * H * 4 }, (_, i) => {
  const p = Math.floor(i / 4);
  return 100 * Math.floor(p / W) + 10 * (p % W) + (i % 4);
});
const expected = (channels: number) => {
  const out: number[] = [];
  for (let p = 0; p < W * H; p++) for (let c = 0; c < channels; c++) out.push(rgba[p * 4 + c]);
  return out;
};

describe('image.fromPixels on { data, width, height }', () => {
  for (const channels of [1, 3, 4] as const) {
    it(`gives [height, width, ${channels}] of the bytes as they are (1: the red channel, as TF.js)`, () => {
      const t = image.fromPixels({ data: rgba, width: W, height: H }, { channels });
      expect(t.shape).toEqual([H, W, channels]);
      expect(Array.from(t.data())).toEqual(expected(channels));
      t.dispose();
    });
  }

  it('defaults to 3 channels, and takes a Uint8ClampedArray or a Buffer', () => {
    for (const data of [new Uint8ClampedArray(rgba), Buffer.from(rgba)]) {
      const t = image.fromPixels({ data, width: W, height: H });
      expect(t.shape).toEqual([H, W, 3]);
      expect(Array.from(t.data())).toEqual(expected(3));
      t.dispose();
    }
  });

  it('refuses what is not an image with an ArgumentError saying what it got', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /source must be an image .*got null/],
      [undefined, /got undefined/],
      [7, /got number 7/],
      ['cat.png', /got "cat.png"/],
      [new Map(), /got Map/],
      [[1, 2, 3, 4], /got an array/],
      [{ width: 2, height: 2 }, /got Object/],
      // Canvas-like, but in Node there is no canvas class to be one.
      [{ getContext: () => null, width: 1, height: 1 }, /got Object/],
      [{ data: [1, 2, 3, 4], width: 1, height: 1 }, /data must be a Uint8Array or Uint8ClampedArray .*got an array/],
      [{ data: new Float32Array(4), width: 1, height: 1 }, /got Float32Array/],
      [{ data: new Uint8Array(4), width: 1 }, /height must be a whole number, got undefined/],
      [{ data: new Uint8Array(8), width: 1.5, height: 1 }, /width must be a whole number, got number 1.5/],
      [{ data: new Uint8Array(8), width: -2, height: -1 }, /width must be a whole number, got number -2/],
    ];
    for (const [source, message] of cases) {
      const call = () => image.fromPixels(source as never);
      expect(call, show(source)).toThrow(ArgumentError);
      expect(call).toThrow(message);
    }
  });

  it('refuses channels other than 1, 3 or 4, and options it does not know', () => {
    const source = { data: rgba, width: W, height: H };
    for (const channels of [2, 5, 3.5, 0, '3', null]) {
      expect(() => image.fromPixels(source, { channels } as never)).toThrow(ArgumentError);
      expect(() => image.fromPixels(source, { channels } as never)).toThrow(/channels must be 1, 3 or 4/);
    }
    expect(() => image.fromPixels(source, 4 as never)).toThrow(/options must be an object, got number 4/);
    expect(() => image.fromPixels(source, { numChannels: 4 } as never)).toThrow(/unknown option 'numChannels' \(options: channels\)/);
  });

  it('refuses an image without pixels and data of the wrong length with a DataError', () => {
    expect(() => image.fromPixels({ data: new Uint8Array(0), width: 0, height: 3 })).toThrow(DataError);
    expect(() => image.fromPixels({ data: new Uint8Array(0), width: 0, height: 3 })).toThrow(/has no pixels \(0x3\)/);
    expect(() => image.fromPixels({ data: new Uint8Array(23), width: W, height: H })).toThrow(DataError);
    expect(() => image.fromPixels({ data: new Uint8Array(23), width: W, height: H })).toThrow(/is 3x2, so its data must hold 24 RGBA bytes, got 23/);
    // Three bytes a pixel (RGB without alpha) is the common mistake: PixelData is RGBA.
    expect(() => image.fromPixels({ data: new Uint8Array(18), width: W, height: H })).toThrow(/must hold 24 RGBA bytes, got 18/);
  });

  it('throws nothing but Ballast errors for odd objects', () => {
    const odd = [Object.create(null), { data: null, width: 1, height: 1 }, { data: new Uint8Array(4), width: '1', height: 1 }, new Proxy({}, {})];
    for (const source of odd) {
      let error: unknown = null;
      try {
        image.fromPixels(source as never);
      } catch (e) {
        error = e;
      }
      expect(error, show(source)).toBeInstanceOf(BallastError);
    }
  });
});

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

describe('image.resize (half-pixel centres, as tf.image.resize without antialiasing)', () => {
  it('bilinear 2x2 -> 4x4: edges clamp, the inside blends at 1/4 and 3/4', () => {
    const out = resizeImage([0, 10, 20, 30], [2, 2, 1], [4, 4]);
    expect(Array.from(out)).toEqual([
      0, 2.5, 7.5, 10,
      5, 7.5, 12.5, 15,
      15, 17.5, 22.5, 25,
      20, 22.5, 27.5, 30,
    ]);
  });

  it('bilinear 4x4 -> 2x2 averages each 2x2 block (samples at 0.5 and 2.5)', () => {
    const values = Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4));
    expect(Array.from(resizeImage(values, [4, 4, 1], [2, 2]))).toEqual([5.5, 7.5, 25.5, 27.5]);
  });

  it('bilinear at a ratio that is not whole: 1x3 -> 1x2 samples at 0.25 and 1.75', () => {
    expect(Array.from(resizeImage([0, 4, 8], [1, 3, 1], [1, 2]))).toEqual([1, 7]);
  });

  it('keeps channels apart', () => {
    // 1x2, two channels: (0, 100) then (8, 200); to 1x4: samples at -0.25, 0.25, 0.75, 1.25.
    expect(Array.from(resizeImage([0, 100, 8, 200], [1, 2, 2], [1, 4]))).toEqual([0, 100, 2, 125, 6, 175, 8, 200]);
  });

  it('nearest takes floor((o + 0.5) * in / out)', () => {
    expect(Array.from(resizeImage([0, 10, 20, 30], [2, 2, 1], [4, 4], 'nearest'))).toEqual([
      0, 0, 10, 10,
      0, 0, 10, 10,
      20, 20, 30, 30,
      20, 20, 30, 30,
    ]);
    const values = Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4));
    expect(Array.from(resizeImage(values, [4, 4, 1], [2, 2], 'nearest'))).toEqual([11, 13, 31, 33]);
    expect(Array.from(resizeImage([0, 4, 8], [1, 3, 1], [1, 2], 'nearest'))).toEqual([0, 8]);
  });

  it('gives an image back unchanged at its own size, either way', () => {
    const values = Array.from({ length: 5 * 7 * 3 }, (_, i) => (i * 37) % 256);
    expect(Array.from(resizeImage(values, [5, 7, 3], [5, 7]))).toEqual(values);
    expect(Array.from(resizeImage(values, [5, 7, 3], [5, 7], 'nearest'))).toEqual(values);
  });

  it('takes a batch, crops to the aspect ratio when asked, and refuses bad arguments', () => {
    // Two 2x4 images to 2x2: cropped first to their centred 2x2 window (columns 1 and 2).
    const batch = tensor(Float32Array.from({ length: 16 }, (_, i) => i), [2, 2, 4, 1]);
    const out = image.resize(batch, [2, 2], { cropToAspectRatio: true });
    expect(out.shape).toEqual([2, 2, 2, 1]);
    expect(Array.from(out.data())).toEqual([1, 2, 5, 6, 9, 10, 13, 14]);
    out.dispose();
    expect(() => image.resize(batch, [0, 2])).toThrow(ArgumentError);
    expect(() => image.resize(batch, [2, 2], { interpolation: 'bicubic' as 'nearest' })).toThrow(/^image.resize: unknown interpolation 'bicubic' \('nearest' or 'bilinear'\)$/);
    expect(() => image.resize(batch, [2, 2], { antialias: true } as object)).toThrow(ArgumentError);
    expect(() => image.resize([1, 2] as never, [2, 2])).toThrow(/must be a Tensor/);
    expect(() => image.resize(tensor([1, 2], [2]), [2, 2])).toThrow(/got shape \[2\]/);
    batch.dispose();
  });

  it('pads to the aspect ratio with the fill value when asked (Keras 3), and refuses both fits at once', () => {
    // A 2x4 image to 4x4: padded first to 4x4 with a row of fill above and below (Keras pads
    // trunc((4·4/4 − 2)/2) = 1 row on each side), so the resize is the identity after it.
    const one = tensor(Float32Array.from({ length: 8 }, (_, i) => i), [2, 4, 1]);
    const out = image.resize(one, [4, 4], { padToAspectRatio: true, fillValue: -1 });
    expect(out.shape).toEqual([4, 4, 1]);
    expect(Array.from(out.data())).toEqual([-1, -1, -1, -1, 0, 1, 2, 3, 4, 5, 6, 7, -1, -1, -1, -1]);
    out.dispose();
    // To 2x2: the padded 4x4 halved, each output the mean of a 2x2 block of it.
    const half = image.resize(one, [2, 2], { padToAspectRatio: true });
    expect(Array.from(half.data())).toEqual([0.25, 1.25, 2.25, 3.25]);
    half.dispose();
    expect(() => image.resize(one, [4, 4], { padToAspectRatio: true, cropToAspectRatio: true })).toThrow(
      /^image.resize: only one of 'cropToAspectRatio' and 'padToAspectRatio' can be true$/,
    );
    expect(() => image.resize(one, [4, 4], { padToAspectRatio: 1 as never })).toThrow(/^image.resize: padToAspectRatio must be true or false, got number 1$/);
    expect(() => image.resize(one, [4, 4], { padToAspectRatio: true, fillValue: NaN })).toThrow(/^image.resize: fillValue must be a finite number, got NaN$/);
    // Finite as a double, infinite as the f32 the core pads with.
    expect(() => image.resize(one, [4, 4], { padToAspectRatio: true, fillValue: 1e300 })).toThrow(/^image.resize: fillValue must be a finite number, got inf$/);
    expect(() => image.resize(one, [4, 4], { padToAspectRatio: true, fillValue: '1' as never })).toThrow(/^image.resize: fillValue must be a finite number, got "1"$/);
    one.dispose();
  });
});
