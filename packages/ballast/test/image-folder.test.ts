// datasets.imageFolder (Keras' image_dataset_from_directory) on small folders of PNG and JPEG
// files written here: labels, class order, the seeded split, pixel values, resizing,
// streaming (files are decoded when their batch is asked for), every bad input and option,
// and a model trained on it with fitDataset.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ready, datasets, layers, Sequential, ArgumentError, DataError, type ImageBatch } from 'ballast';
import { jpegFile, pngFile, rgbaOf } from './reference.js';

await ready({ threads: 2 });

const root = await mkdtemp(join(tmpdir(), 'ballast-image-folder-'));
afterAll(() => rm(root, { recursive: true, force: true }));
let folders = 0;

/** A fresh folder under the temp dir with `files` (path: bytes) written; empty folders for paths ending in '/'. */
async function folder(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = join(root, `f${folders++}`);
  await mkdir(dir);
  for (const [path, bytes] of Object.entries(files)) {
    if (path.endsWith('/')) {
      await mkdir(join(dir, path), { recursive: true });
      continue;
    }
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return dir;
}

/** The RGBA bytes of image `k`: 4x4, opaque, every byte telling the image and the place apart. */
const pixelsOf = (k: number) => rgbaOf(4, 4, (y, x, c) => (c === 3 ? 255 : (k * 50 + y * 12 + x * 3 + c) % 256));
/** Those bytes as the dataset gives them for `channels` 3 or 4. */
const expectedOf = (k: number, channels: number) => Array.from(pixelsOf(k)).filter((_, i) => i % 4 < channels);

/** Every batch of a dataset, in order. */
async function all(ds: AsyncIterable<ImageBatch>): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of ds) out.push(b);
  return out;
}

/** Each image of the batches as [label, pixels]; `channels` values a pixel. */
function examples(batches: ImageBatch[], width: number): Array<{ label: number[]; pixels: number[] }> {
  const out: Array<{ label: number[]; pixels: number[] }> = [];
  for (const b of batches) {
    const n = b.xs.shape[0];
    const per = b.xs.values.length / n;
    const lab = b.ys.values.length / n;
    for (let i = 0; i < n; i++) {
      out.push({ label: Array.from(b.ys.values.subarray(i * lab, (i + 1) * lab)), pixels: Array.from(b.xs.values.subarray(i * per, (i + 1) * per)) });
    }
  }
  expect(out.every((e) => e.pixels.length % width === 0)).toBe(true);
  return out;
}

/** Classes a_cat (3 PNGs: images 0..2), b_dog (2 PNGs: 3, 4), c_empty (none), stray files and a hidden folder. */
const pets = await folder({
  'b_dog/d1.png': pngFile(4, 4, pixelsOf(4)),
  'b_dog/d0.png': pngFile(4, 4, pixelsOf(3)),
  'a_cat/c0.png': pngFile(4, 4, pixelsOf(0)),
  'a_cat/c1.PNG': pngFile(4, 4, pixelsOf(1)),
  'a_cat/nested/c2.png': pngFile(4, 4, pixelsOf(2)),
  'a_cat/notes.txt': 'not an image, and not listed',
  'c_empty/': '',
  'README.md': 'a file beside the classes is not a class',
  '.hidden/x.png': pngFile(4, 4, pixelsOf(9)),
});

describe('datasets.imageFolder: listing and labels', () => {
  it('one class a sub-folder, alphabetically, an empty one included; files in Keras order; exact PNG pixels', async () => {
    const ds = await datasets.imageFolder(pets, { imageSize: [4, 4], batchSize: 2, shuffle: false });
    expect(ds.classNames).toEqual(['a_cat', 'b_dog', 'c_empty']);
    expect(ds.filePaths).toEqual(['a_cat/c0.png', 'a_cat/c1.PNG', 'a_cat/nested/c2.png', 'b_dog/d0.png', 'b_dog/d1.png'].map((p) => join(pets, p)));
    const batches = await all(ds);
    expect(batches.map((b) => b.xs.shape)).toEqual([[2, 4, 4, 3], [2, 4, 4, 3], [1, 4, 4, 3]]);
    expect(batches.map((b) => b.ys.shape)).toEqual([[2], [2], [1]]);
    const got = examples(batches, 3);
    expect(got.map((e) => e.label[0])).toEqual([0, 0, 0, 1, 1]);
    expect(got.map((e) => e.pixels)).toEqual([0, 1, 2, 3, 4].map((k) => expectedOf(k, 3)));
    // Iterating again reads the files again, the same way.
    expect(examples(await all(ds), 3)).toEqual(got);
  });

  it('classNames picks the classes and their order', async () => {
    const ds = await datasets.imageFolder(pets, { imageSize: [4, 4], shuffle: false, classNames: ['b_dog', 'a_cat'], labelMode: 'categorical' });
    expect(ds.classNames).toEqual(['b_dog', 'a_cat']);
    const got = examples(await all(ds), 3);
    expect(got.map((e) => e.label)).toEqual([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]);
    expect(got.map((e) => e.pixels)).toEqual([3, 4, 0, 1, 2].map((k) => expectedOf(k, 3)));
  });

  it("labelMode 'categorical' (the empty class counts), 'binary' and null", async () => {
    const [cat] = await all(await datasets.imageFolder(pets, { imageSize: [4, 4], shuffle: false, labelMode: 'categorical' }));
    expect(cat.ys.shape).toEqual([5, 3]);
    expect(Array.from(cat.ys.values)).toEqual([1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0]);
    const [bin] = await all(await datasets.imageFolder(pets, { imageSize: [4, 4], shuffle: false, labelMode: 'binary', classNames: ['a_cat', 'b_dog'] }));
    expect(bin.ys.shape).toEqual([5, 1]);
    expect(Array.from(bin.ys.values)).toEqual([0, 0, 0, 1, 1]);
    const images = await datasets.imageFolder(pets, { imageSize: [4, 4], shuffle: false, labelMode: null });
    const [only] = await images.toArray();
    expect(only.shape).toEqual([5, 4, 4, 3]);
    expect(Array.from(only.values.subarray(0, 48))).toEqual(expectedOf(0, 3));
  });

  it("colorMode 'rgba' keeps alpha, 'grayscale' is 0.299 R + 0.587 G + 0.114 B, and a grayscale PNG reads as its grays", async () => {
    const translucent = rgbaOf(2, 1, (_, x, c) => [[200, 100, 50, 128], [0, 255, 10, 7]][x][c]);
    const gray = rgbaOf(2, 1, (_, x, c) => (c === 3 ? 255 : [17, 230][x]));
    const dir = await folder({ 'a/t.png': pngFile(2, 1, translucent), 'b/g.png': pngFile(2, 1, gray, 0) });
    const read = async (colorMode: 'rgb' | 'rgba' | 'grayscale') =>
      examples(await all(await datasets.imageFolder(dir, { imageSize: [1, 2], shuffle: false, colorMode })), 1).map((e) => e.pixels);
    expect(await read('rgba')).toEqual([[200, 100, 50, 128, 0, 255, 10, 7], [17, 17, 17, 255, 230, 230, 230, 255]]);
    expect(await read('rgb')).toEqual([[200, 100, 50, 0, 255, 10], [17, 17, 17, 230, 230, 230]]);
    const luma = (r: number, g: number, b: number) => Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    expect(await read('grayscale')).toEqual([[luma(200, 100, 50), luma(0, 255, 10)], [17, 230]]);
  });

  it('JPEG files decode to values near the encoded ones; the content decides the format, not the extension', async () => {
    const smooth = rgbaOf(8, 8, (y, x, c) => (c === 3 ? 255 : 40 + 10 * y + 5 * x + 30 * c));
    const dir = await folder({ 'a/smooth.jpg': jpegFile(8, 8, smooth, 95), 'a/really-a-jpeg.png': jpegFile(8, 8, smooth, 95), 'b/x.jpeg': jpegFile(8, 8, smooth, 60) });
    const got = examples(await all(await datasets.imageFolder(dir, { imageSize: [8, 8], shuffle: false })), 3);
    const want = Array.from(smooth).filter((_, i) => i % 4 < 3);
    for (const [i, e] of got.entries()) {
      const worst = Math.max(...e.pixels.map((v, k) => Math.abs(v - want[k])));
      expect(worst, `image ${i}`).toBeLessThanOrEqual(i < 2 ? 6 : 16);
      expect(worst).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('datasets.imageFolder: resizing', () => {
  // A 2x2 image, R = [0 10; 20 30], G = R + 100, B = 255 - R.
  const r = [0, 10, 20, 30];
  const small = rgbaOf(2, 2, (y, x, c) => [r[y * 2 + x], r[y * 2 + x] + 100, 255 - r[y * 2 + x], 255][c]);
  /** The bilinear half-pixel resize of R to 4x4, worked out by hand: samples at -0.25, 0.25, 0.75, 1.25 (edges clamp). */
  const bilinearR = [0, 2.5, 7.5, 10, 5, 7.5, 12.5, 15, 15, 17.5, 22.5, 25, 20, 22.5, 27.5, 30];
  const nearestR = [0, 0, 10, 10, 0, 0, 10, 10, 20, 20, 30, 30, 20, 20, 30, 30];
  const channels = (red: number[]) => red.flatMap((v) => [v, v + 100, 255 - v]);

  it('resizes an image of another size to imageSize, bilinear by default, nearest when asked', async () => {
    const dir = await folder({ 'a/big.png': pngFile(4, 4, pixelsOf(0)), 'a/small.png': pngFile(2, 2, small) });
    const bilinear = examples(await all(await datasets.imageFolder(dir, { imageSize: [4, 4], shuffle: false })), 3);
    expect(bilinear[0].pixels).toEqual(expectedOf(0, 3)); // already 4x4: untouched
    expect(bilinear[1].pixels).toEqual(channels(bilinearR));
    const nearest = examples(await all(await datasets.imageFolder(dir, { imageSize: [4, 4], shuffle: false, interpolation: 'nearest' })), 3);
    expect(nearest[1].pixels).toEqual(channels(nearestR));
  });

  it('pads a 2x2 image with zeros to a 2x4 imageSize with padToAspectRatio (a column each side), then resizes', async () => {
    const dir = await folder({ 'a/small.png': pngFile(2, 2, small) });
    const [b] = await all(await datasets.imageFolder(dir, { imageSize: [2, 4], shuffle: false, colorMode: 'grayscale', padToAspectRatio: true }));
    expect(b.xs.shape).toEqual([1, 2, 4, 1]);
    const g = [0, 1, 2, 3].map((p) => Math.round(0.299 * small[p * 4] + 0.587 * small[p * 4 + 1] + 0.114 * small[p * 4 + 2]));
    expect(Array.from(b.xs.values)).toEqual([0, g[0], g[1], 0, 0, g[2], g[3], 0]);
  });

  it('resizes to a height and width of their own ([height, width], as Keras)', async () => {
    const dir = await folder({ 'a/small.png': pngFile(2, 2, small) });
    const [b] = await all(await datasets.imageFolder(dir, { imageSize: [1, 4], shuffle: false, colorMode: 'grayscale' }));
    expect(b.xs.shape).toEqual([1, 1, 4, 1]);
    // Grayscale first (whole values), then the resize: rows blend at 0.5 (one output row).
    const g = small.filter((_, i) => i % 4 === 0).map((_, p) => Math.round(0.299 * small[p * 4] + 0.587 * small[p * 4 + 1] + 0.114 * small[p * 4 + 2]));
    const mid = [(g[0] + g[2]) / 2, (g[1] + g[3]) / 2];
    const row = [mid[0], mid[0] + 0.25 * (mid[1] - mid[0]), mid[0] + 0.75 * (mid[1] - mid[0]), mid[1]];
    expect(Array.from(b.xs.values)).toEqual(row.map((v) => Math.fround(v)));
  });
});

describe('datasets.imageFolder: shuffling and the validation split', () => {
  const files: Record<string, Uint8Array> = {};
  for (let k = 0; k < 10; k++) files[`${k < 6 ? 'a' : 'b'}/${k}.png`] = pngFile(4, 4, pixelsOf(k));
  const ten = folder(files);

  it('with a seed, the same listing every time; the split is its last fraction, as Keras', async () => {
    const dir = await ten;
    const listed = (await datasets.imageFolder(dir, { imageSize: [4, 4], seed: 7 })).filePaths;
    expect((await datasets.imageFolder(dir, { imageSize: [4, 4], seed: 7 })).filePaths).toEqual(listed);
    expect([...listed].sort()).toEqual((await datasets.imageFolder(dir, { imageSize: [4, 4], shuffle: false })).filePaths);
    expect((await datasets.imageFolder(dir, { imageSize: [4, 4], seed: 8 })).filePaths).not.toEqual(listed);
    const training = await datasets.imageFolder(dir, { imageSize: [4, 4], seed: 7, validationSplit: 0.25, subset: 'training' });
    const validation = await datasets.imageFolder(dir, { imageSize: [4, 4], seed: 7, validationSplit: 0.25, subset: 'validation' });
    // floor(0.25 * 10) = 2 files for validation: the last two of the shuffled listing.
    expect(training.filePaths).toEqual(listed.slice(0, 8));
    expect(validation.filePaths).toEqual(listed.slice(8));
    const [t, v] = await datasets.imageFolder(dir, { imageSize: [4, 4], seed: 7, validationSplit: 0.25, subset: 'both' });
    expect(t.filePaths).toEqual(training.filePaths);
    expect(v.filePaths).toEqual(validation.filePaths);
    expect(t.classNames).toEqual(['a', 'b']);
    expect(v.classNames).toEqual(['a', 'b']);
  });

  it('the labels go with their files through the shuffles; each epoch a new order, the same ones for the same seed', async () => {
    const dir = await ten;
    const [t, v] = await datasets.imageFolder(dir, { imageSize: [4, 4], batchSize: 3, seed: 3, validationSplit: 0.3, subset: 'both' });
    const [again] = await datasets.imageFolder(dir, { imageSize: [4, 4], batchSize: 3, seed: 3, validationSplit: 0.3, subset: 'both' });
    const image = (pixels: number[]) => [...Array(10).keys()].find((k) => expectedOf(k, 3).every((p, i) => p === pixels[i]))!;
    const epoch = async (ds: AsyncIterable<ImageBatch>) => examples(await all(ds), 3).map((e) => ({ image: image(e.pixels), label: e.label[0] }));
    const e1 = await epoch(t);
    const e2 = await epoch(t);
    for (const e of [...e1, ...e2]) expect(e.label).toBe(e.image < 6 ? 0 : 1);
    const names = t.filePaths.map((p) => Number(p.match(/(\d+)\.png$/)![1]));
    expect(e1.map((e) => e.image).sort()).toEqual([...names].sort());
    expect(e2.map((e) => e.image)).not.toEqual(e1.map((e) => e.image));
    expect(await epoch(again)).toEqual(e1);
    expect(await epoch(again)).toEqual(e2);
    // Validation ('both') keeps the listed order every epoch.
    const listedValidation = v.filePaths.map((p) => Number(p.match(/(\d+)\.png$/)![1]));
    expect((await epoch(v)).map((e) => e.image)).toEqual(listedValidation);
    expect((await epoch(v)).map((e) => e.image)).toEqual(listedValidation);
  });

  it('shuffle: false keeps the sorted order every epoch', async () => {
    const ds = await datasets.imageFolder(await ten, { imageSize: [4, 4], shuffle: false, validationSplit: 0.2, subset: 'training' });
    expect(ds.filePaths.map((p) => p.slice(-6))).toEqual(['a/0.png', 'a/1.png', 'a/2.png', 'a/3.png', 'a/4.png', 'a/5.png', 'b/6.png', 'b/7.png'].map((p) => p.slice(-6)));
    expect(examples(await all(ds), 3)).toEqual(examples(await all(ds), 3));
  });

  it('a split that leaves a subset empty is a DataError', async () => {
    const dir = await folder({ 'a/0.png': pngFile(4, 4, pixelsOf(0)), 'a/1.png': pngFile(4, 4, pixelsOf(1)) });
    await expect(datasets.imageFolder(dir, { seed: 1, validationSplit: 0.2, subset: 'validation' })).rejects.toThrow(DataError);
    await expect(datasets.imageFolder(dir, { seed: 1, validationSplit: 0.2, subset: 'both' })).rejects.toThrow(/no validation images: validationSplit 0.2 of the 2 files/);
  });
});

describe('datasets.imageFolder: streaming', () => {
  it('decodes each batch when it is asked for, not when listed nor ahead of it', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let k = 0; k < 8; k++) files[`a/${k}.png`] = pngFile(4, 4, pixelsOf(k));
    const dir = await folder(files);
    const ds = await datasets.imageFolder(dir, { imageSize: [4, 4], batchSize: 4, shuffle: false });
    // Changed after listing: the first batch shows the new image, so nothing was decoded yet.
    await writeFile(join(dir, 'a/1.png'), pngFile(4, 4, pixelsOf(20)));
    // Broken after listing: only the second batch, which holds it, fails.
    await writeFile(join(dir, 'a/6.png'), 'no longer a PNG');
    const it = ds[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    const got = examples([first.value as ImageBatch], 3);
    expect(got.map((e) => e.pixels)).toEqual([0, 20, 2, 3].map((k) => expectedOf(k, 3)));
    const second = it.next();
    await expect(second).rejects.toThrow(DataError);
    await expect(second).rejects.toThrow(join(dir, 'a/6.png'));
  });
});

describe('datasets.imageFolder: bad folders and files', () => {
  const good = pngFile(4, 4, pixelsOf(0));
  const png = pngFile(16, 16, rgbaOf(16, 16, (y, x, c) => (y * 16 + x * c) % 256));
  const jpg = jpegFile(32, 32, rgbaOf(32, 32, (y, x, c) => (y * 7 + x * 3 + c * 50) % 256));
  /** The PNG with one byte of its image data changed: its checksum no longer matches. */
  const flipped = Uint8Array.from(png, (b, i) => (i === 60 ? b ^ 0xff : b));

  it('a missing directory, a file instead of one, no classes, no images: DataErrors naming them', async () => {
    const missing = join(root, 'no-such-dir');
    await expect(datasets.imageFolder(missing)).rejects.toThrow(DataError);
    await expect(datasets.imageFolder(missing)).rejects.toThrow(`there is no directory ${missing}`);
    const file = join(await folder({ 'x.png': good }), 'x.png');
    await expect(datasets.imageFolder(file)).rejects.toThrow(DataError);
    await expect(datasets.imageFolder(file)).rejects.toThrow(`${file} is not a directory`);
    const empty = await folder({});
    await expect(datasets.imageFolder(empty)).rejects.toThrow(DataError);
    await expect(datasets.imageFolder(empty)).rejects.toThrow(/found 0 files: .* has no class sub-folders/);
    const noImages = await folder({ 'a/readme.txt': 'text', 'b/': '', 'loose.png': good });
    await expect(datasets.imageFolder(noImages)).rejects.toThrow(DataError);
    await expect(datasets.imageFolder(noImages)).rejects.toThrow(/found 0 files belonging to 2 classes/);
  });

  const broken: Array<[string, Uint8Array | string, RegExp]> = [
    ['corrupt.png', flipped, /is a corrupt or truncated PNG file/],
    ['truncated.png', png.subarray(0, png.length - 20), /is a corrupt or truncated PNG file/],
    ['cut-early.png', png.subarray(0, 30), /is a corrupt or truncated PNG file/],
    ['truncated.jpg', jpg.subarray(0, Math.floor(jpg.length * 0.6)), /is a corrupt or truncated JPEG file/],
    ['headless.jpg', jpg.subarray(0, 4), /is a corrupt or truncated JPEG file/],
    ['text.png', 'hello, I am not an image', /is not a PNG or JPEG image/],
    ['empty.jpeg', '', /is not a PNG or JPEG image \(0 bytes/],
  ];
  for (const [name, bytes, message] of broken) {
    it(`${name}: a DataError naming the file, or skipped with a warning with onCorrupt: 'skip'`, async () => {
      const dir = await folder({ 'a/0.png': good, [`a/${name}`]: bytes, 'a/z.png': good });
      const path = join(dir, 'a', name);
      const ds = await datasets.imageFolder(dir, { imageSize: [4, 4], shuffle: false });
      const error = await all(ds).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toMatch(message);
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        const skipping = await datasets.imageFolder(dir, { imageSize: [4, 4], shuffle: false, onCorrupt: 'skip' });
        const batches = await all(skipping);
        expect(batches.map((b) => b.xs.shape[0])).toEqual([2]);
        expect(examples(batches, 3).map((e) => e.pixels)).toEqual([expectedOf(0, 3), expectedOf(0, 3)]);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0][0])).toContain(path);
        // Known to be corrupt now: not read again, nor warned about again.
        await all(skipping);
        expect(warn).toHaveBeenCalledTimes(1);
      } finally {
        warn.mockRestore();
      }
    });
  }

  it('.bmp and .gif files (listed by Keras, not decoded here): a DataError naming one when listed, or skipped', async () => {
    const dir = await folder({ 'a/0.png': good, 'a/pic.bmp': 'BM...', 'b/anim.GIF': 'GIF89a...', 'b/1.png': good });
    await expect(datasets.imageFolder(dir)).rejects.toThrow(DataError);
    await expect(datasets.imageFolder(dir)).rejects.toThrow(`2 .bmp/.gif files, such as ${join(dir, 'a/pic.bmp')}: only PNG and JPEG images are decoded`);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const ds = await datasets.imageFolder(dir, { imageSize: [4, 4], shuffle: false, onCorrupt: 'skip' });
      expect(ds.filePaths).toEqual([join(dir, 'a/0.png'), join(dir, 'b/1.png')]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain(join(dir, 'a/pic.bmp'));
    } finally {
      warn.mockRestore();
    }
  });

  it('a corrupt file reaches fitDataset as a DataError naming the batch and the file', async () => {
    const dir = await folder({ 'a/0.png': good, 'b/bad.png': 'not a png' });
    const ds = await datasets.imageFolder(dir, { imageSize: [4, 4], batchSize: 1, shuffle: false });
    const model = new Sequential([layers.input({ shape: [4, 4, 3] }), layers.flatten(), layers.dense({ units: 2, activation: 'softmax' })], { seed: 1 });
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const error = await model.fitDataset(ds, { epochs: 1, verbose: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(/epoch 0 batch 1/);
    expect((error as Error).message + String((error as Error).cause)).toContain(join(dir, 'b/bad.png'));
  });
});

describe('datasets.imageFolder: options', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ imageSize: [0, 4] }, /imageSize must be \[height, width\], two positive integers, got \[number 0, number 4\]/],
    [{ imageSize: [4] }, /imageSize must be \[height, width\]/],
    [{ imageSize: [4, 4.5] }, /imageSize must be/],
    [{ imageSize: 64 }, /imageSize must be \[height, width\], two positive integers, got number 64/],
    [{ imageSize: ['4', 4] }, /imageSize must be/],
    [{ batchSize: 0 }, /batchSize must be a positive integer, got number 0/],
    [{ batchSize: null }, /batchSize must be a positive integer, got null/],
    [{ labelMode: 'sparse' }, /labelMode must be 'int', 'categorical', 'binary', null, got .*"sparse"/],
    [{ colorMode: 'cmyk' }, /colorMode must be 'rgb', 'rgba', 'grayscale', got "cmyk"/],
    [{ interpolation: 'bicubic' }, /datasets.imageFolder: unknown interpolation 'bicubic' \('nearest' or 'bilinear'\)/],
    [{ interpolation: 3 }, /datasets.imageFolder: interpolation must be a string, got number 3/],
    [{ onCorrupt: 'ignore' }, /onCorrupt must be 'error', 'skip'/],
    [{ shuffle: 'yes' }, /shuffle must be true or false/],
    [{ seed: -1 }, /seed must be an integer in \[0, 2\^32\)/],
    [{ seed: 1.5 }, /seed must be an integer/],
    [{ validationSplit: 0, subset: 'training', seed: 1 }, /validationSplit must be a number between 0 and 1 \(exclusive\), got number 0/],
    [{ validationSplit: 1, subset: 'training', seed: 1 }, /validationSplit must be a number between 0 and 1/],
    [{ validationSplit: 1.5, subset: 'training', seed: 1 }, /validationSplit must be/],
    [{ validationSplit: -0.2, subset: 'training', seed: 1 }, /validationSplit must be/],
    [{ validationSplit: '0.2', subset: 'training', seed: 1 }, /validationSplit must be/],
    [{ validationSplit: NaN, subset: 'training', seed: 1 }, /validationSplit must be/],
    [{ subset: 'training' }, /subset needs validationSplit/],
    [{ validationSplit: 0.2, seed: 1 }, /validationSplit needs subset/],
    [{ validationSplit: 0.2, subset: 'test', seed: 1 }, /subset must be 'training', 'validation', 'both', got "test"/],
    [{ validationSplit: 0.2, subset: 'training' }, /validationSplit with shuffle needs a seed/],
    [{ cropToAspectRatio: true, padToAspectRatio: true }, /only one of 'cropToAspectRatio' and 'padToAspectRatio' can be true/],
    [{ padToAspectRatio: 'yes' }, /padToAspectRatio must be true or false, got "yes"/],
    [{ classNames: [] }, /classNames must be a non-empty array of folder names/],
    [{ classNames: 'a_cat' }, /classNames must be a non-empty array/],
    [{ classNames: ['a_cat', 'a_cat'] }, /classNames names 'a_cat' twice/],
    [{ classNames: ['a_cat', 'lion'] }, /classNames names 'lion', which is not a sub-folder of .* \(its sub-folders: a_cat, b_dog, c_empty\)/],
    [{ labelMode: 'binary' }, /labelMode 'binary' needs exactly 2 classes, found 3 \(a_cat, b_dog, c_empty\)/],
    [{ image_size: [4, 4] }, /unknown option 'image_size' \(options: imageSize, batchSize/],
    [{ validation_split: 0.2 }, /unknown option 'validation_split'/],
    [null, /options must be an object, got null/],
    [[4, 4], /options must be an object, got an array/],
  ];
  for (const [options, message] of cases) {
    it(`refuses ${JSON.stringify(options)} with an ArgumentError naming the option`, async () => {
      const error = await datasets.imageFolder(pets, options as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArgumentError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('refuses a directory that is not a path', async () => {
    for (const dir of [5, null, '', { path: pets }]) {
      await expect(datasets.imageFolder(dir as never)).rejects.toThrow(ArgumentError);
      await expect(datasets.imageFolder(dir as never)).rejects.toThrow(/dir must be the path of a directory/);
    }
  });

  it('defaults to 256x256 RGB, batches of 32, int labels, shuffled', async () => {
    const ds = await datasets.imageFolder(pets);
    const [b] = await all(ds);
    expect(b.xs.shape).toEqual([5, 256, 256, 3]);
    expect(b.ys.shape).toEqual([5]);
    expect([...ds.filePaths].sort()).toEqual((await datasets.imageFolder(pets, { shuffle: false })).filePaths);
  });
});

describe('datasets.imageFolder: training', () => {
  it('trains a small model for an epoch with fitDataset', async () => {
    // Two classes told apart by brightness: dark images and bright ones, 8x8.
    const files: Record<string, Uint8Array> = {};
    for (let k = 0; k < 24; k++) {
      const bright = k % 2 === 1;
      files[`${bright ? 'bright' : 'dark'}/${k}.${k % 3 === 0 ? 'jpg' : 'png'}`] = (k % 3 === 0 ? jpegFile : pngFile)(8, 8, rgbaOf(8, 8, (y, x, c) => (c === 3 ? 255 : (bright ? 180 : 40) + ((y * 8 + x + k) % 30))));
    }
    const dir = await folder(files);
    const [train, val] = await datasets.imageFolder(dir, { imageSize: [8, 8], batchSize: 4, seed: 5, validationSplit: 0.25, subset: 'both' });
    const model = new Sequential([
      layers.input({ shape: [8, 8, 3] }),
      layers.rescaling ? layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }) : layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      layers.globalAveragePooling2d(),
      layers.dense({ units: 2, activation: 'softmax' }),
    ], { seed: 2 });
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const started = Date.now();
    const history = await model.fitDataset(train, { epochs: 1, verbose: 0, validationData: val });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(history.history.loss).toHaveLength(1);
    expect(Number.isFinite(history.history.loss[0])).toBe(true);
    expect(history.history.val_loss).toHaveLength(1);
  });
});
