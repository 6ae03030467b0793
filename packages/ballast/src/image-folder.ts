/**
 * `datasets.imageFolder(dir, options)`: Keras 3's `image_dataset_from_directory` for Node.
 * One sub-folder of `dir` per class; the files are listed up front (their paths and labels)
 * and decoded a batch at a time as the dataset is iterated, so no more than one batch of
 * images is in memory. PNG and JPEG are decoded in pure JavaScript (pngjs, jpeg-js).
 *
 * Node only: the Node entry exports it and the browser entry never imports this module, so
 * bundlers for the browser never see node:fs or the decoders.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { Dataset, random32, type Values } from './dataset.js';
import { ArgumentError, DataError } from './errors.js';
import { checkOptions, describeValue } from './options.js';
import { checkAspectRatioFlags, checkInterpolation, resize } from './image.js';
import { tensor } from './inputs.js';

type Interpolation = 'bilinear' | 'nearest';

export interface ImageFolderOptions {
  /** `[height, width]` every image is resized to (default `[256, 256]`). */
  imageSize?: [number, number];
  /** Images a batch (default 32); the last batch may be smaller. */
  batchSize?: number;
  /**
   * How `ys` encodes the class: `'int'` (default) its index, shape `[batch]` (for
   * `sparseCategoricalCrossentropy`); `'categorical'` one-hot rows `[batch, classes]`;
   * `'binary'` (two classes only) `[batch, 1]` of 0 and 1; `null` no labels: the dataset
   * yields the images alone.
   */
  labelMode?: 'int' | 'categorical' | 'binary' | null;
  /** `'rgb'` (default, 3 channels), `'rgba'` (4), `'grayscale'` (1: `0.299 R + 0.587 G + 0.114 B`, rounded). */
  colorMode?: 'rgb' | 'rgba' | 'grayscale';
  /** The classes to use, in this order (default: every sub-folder, alphabetically); each must be a sub-folder. */
  classNames?: string[];
  /** Shuffle the files (default true): once when listed, with `seed`, and anew each epoch. */
  shuffle?: boolean;
  /** Seed of the shuffles, an integer in [0, 2^32); needed with `shuffle` and `validationSplit`. */
  seed?: number;
  /** The fraction of the files kept for validation, in (0, 1): the last ones after the seeded shuffle. */
  validationSplit?: number;
  /** With `validationSplit`: `'training'`, `'validation'`, or `'both'` (a `[training, validation]` pair). */
  subset?: 'training' | 'validation' | 'both';
  /** How images of another size are resized: `'bilinear'` (default) or `'nearest'`, with half-pixel centres (`image.resize`). */
  interpolation?: Interpolation;
  /** Resize without stretching: cut out the largest centred window of `imageSize`'s aspect ratio first (default false, as Keras). */
  cropToAspectRatio?: boolean;
  /** Resize without stretching or cutting: pad the short side evenly with zeros to `imageSize`'s aspect ratio first (default false; at most one of the two, as Keras). */
  padToAspectRatio?: boolean;
  /** A file that cannot be decoded: `'error'` (default) a `DataError` naming it; `'skip'` leaves it out with a `console.warn` naming it. */
  onCorrupt?: 'error' | 'skip';
}

/** A batch of images `xs` `[batch, height, width, channels]`, 0 to 255, and their labels `ys`. */
export interface ImageBatch {
  xs: Values;
  ys: Values;
}

/** A dataset of a folder's images, with Keras' `classNames` and `filePaths`. */
export class ImageFolderDataset<T = ImageBatch> extends Dataset<T> {
  /** The classes, in label order (label `i` is `classNames[i]`). */
  readonly classNames: readonly string[];
  /** The files, in the order listed (after the seeded shuffle of the listing, before any epoch's). */
  readonly filePaths: readonly string[];
  /** @internal */
  constructor(open: () => AsyncIterator<T>, classNames: string[], filePaths: string[]) {
    super(open);
    this.classNames = Object.freeze([...classNames]);
    this.filePaths = Object.freeze([...filePaths]);
  }
}

const WHAT = 'datasets.imageFolder';
const OPTIONS = ['imageSize', 'batchSize', 'labelMode', 'colorMode', 'classNames', 'shuffle', 'seed', 'validationSplit', 'subset', 'interpolation', 'cropToAspectRatio', 'padToAspectRatio', 'onCorrupt'];
/** The extensions Keras lists (case aside); .bmp and .gif are listed but not decoded here. */
const EXTENSIONS = ['.bmp', '.gif', '.jpeg', '.jpg', '.png'];
const UNDECODED = ['.bmp', '.gif'];

function oneOf<T>(key: string, v: unknown, allowed: readonly T[], fallback: T, note = ''): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new ArgumentError(`${WHAT}: ${key} must be ${allowed.map((a) => (a === null ? 'null' : `'${a}'`)).join(', ')}, got ${describeValue(v)}${note}`);
  return v as T;
}

interface Settings {
  imageSize: [number, number];
  batchSize: number;
  labelMode: 'int' | 'categorical' | 'binary' | null;
  channels: number;
  grayscale: boolean;
  classNames: string[] | undefined;
  shuffle: boolean;
  seed: number;
  validationSplit: number | undefined;
  subset: 'training' | 'validation' | 'both' | undefined;
  interpolation: Interpolation;
  cropToAspectRatio: boolean;
  padToAspectRatio: boolean;
  skipCorrupt: boolean;
}

/** Every option checked, before any file is touched. */
function settings(options: unknown): Settings {
  checkOptions(WHAT, options, OPTIONS);
  const o = options as ImageFolderOptions;
  const size = o.imageSize === undefined ? [256, 256] : o.imageSize;
  if (!Array.isArray(size) || size.length !== 2 || size.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 1)) {
    throw new ArgumentError(`${WHAT}: imageSize must be [height, width], two positive integers, got ${Array.isArray(size) ? `[${size.map(describeValue).join(', ')}]` : describeValue(size)}`);
  }
  const batchSize = o.batchSize === undefined ? 32 : o.batchSize;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError(`${WHAT}: batchSize must be a positive integer, got ${describeValue(batchSize)}`);
  const labelMode = oneOf('labelMode', o.labelMode, ['int', 'categorical', 'binary', null] as const, 'int', ' (null: no labels)');
  const colorMode = oneOf('colorMode', o.colorMode, ['rgb', 'rgba', 'grayscale'] as const, 'rgb');
  const interpolation = checkInterpolation(WHAT, o.interpolation ?? 'bilinear');
  const onCorrupt = oneOf('onCorrupt', o.onCorrupt, ['error', 'skip'] as const, 'error');
  const [cropToAspectRatio, padToAspectRatio] = checkAspectRatioFlags(WHAT, o.cropToAspectRatio ?? false, o.padToAspectRatio ?? false);
  const shuffle = o.shuffle ?? true;
  if (typeof shuffle !== 'boolean') throw new ArgumentError(`${WHAT}: shuffle must be true or false, got ${describeValue(shuffle)}`);
  const seed = o.seed;
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) {
    throw new ArgumentError(`${WHAT}: seed must be an integer in [0, 2^32), got ${describeValue(seed)}`);
  }
  const split = o.validationSplit;
  if (split !== undefined && (typeof split !== 'number' || !(split > 0 && split < 1))) {
    throw new ArgumentError(`${WHAT}: validationSplit must be a number between 0 and 1 (exclusive), got ${describeValue(split)}`);
  }
  const subset = oneOf('subset', o.subset, ['training', 'validation', 'both'] as const, undefined);
  if ((split === undefined) !== (subset === undefined)) {
    throw new ArgumentError(`${WHAT}: ${split === undefined ? 'subset needs validationSplit' : "validationSplit needs subset ('training', 'validation' or 'both')"}`);
  }
  if (split !== undefined && shuffle && seed === undefined) {
    throw new ArgumentError(`${WHAT}: validationSplit with shuffle needs a seed, so that the training and validation files do not overlap`);
  }
  const classNames = o.classNames;
  if (classNames !== undefined) {
    if (!Array.isArray(classNames) || classNames.length === 0 || classNames.some((c) => typeof c !== 'string' || c === '')) {
      throw new ArgumentError(`${WHAT}: classNames must be a non-empty array of folder names, got ${describeValue(classNames)}`);
    }
    const twice = classNames.find((c, i) => classNames.indexOf(c) !== i);
    if (twice !== undefined) throw new ArgumentError(`${WHAT}: classNames names '${twice}' twice`);
  }
  return {
    imageSize: [size[0], size[1]],
    batchSize,
    labelMode,
    channels: { rgb: 3, rgba: 4, grayscale: 1 }[colorMode],
    grayscale: colorMode === 'grayscale',
    classNames: classNames && [...classNames],
    shuffle,
    seed: seed ?? Math.floor(Math.random() * 0x100000000),
    validationSplit: split,
    subset,
    interpolation,
    cropToAspectRatio,
    padToAspectRatio,
    skipCorrupt: onCorrupt === 'skip',
  };
}

/** Code-unit order, as Python's `sorted` (which Keras uses), not the locale's. */
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The names in `dir`, sorted; a missing or unreadable directory is a DataError naming it. */
async function entries(dir: string) {
  try {
    return (await readdir(dir, { withFileTypes: true })).sort((a, b) => byName(a.name, b.name));
  } catch (err) {
    throw new DataError(`${WHAT}: cannot read the directory ${dir}: ${(err as Error).message}`);
  }
}

/**
 * The image files under a class folder, as Keras walks it: every folder below it (symbolic
 * links to folders are not followed), in the order of their paths, and each one's files
 * sorted by name; only Keras' image extensions.
 */
async function classFiles(dir: string): Promise<string[]> {
  const folders: Array<{ path: string; files: string[] }> = [];
  const walk = async (path: string) => {
    const found = await entries(path);
    folders.push({ path, files: found.filter((e) => !e.isDirectory() && EXTENSIONS.some((x) => e.name.toLowerCase().endsWith(x))).map((e) => e.name) });
    for (const e of found) if (e.isDirectory()) await walk(join(path, e.name));
  };
  await walk(dir);
  folders.sort((a, b) => byName(a.path, b.path));
  return folders.flatMap((f) => f.files.map((name) => join(f.path, name)));
}

/** Fisher-Yates with a seeded generator: the same seed, the same order. */
function shuffleInPlace<T>(items: T[], next: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
}

/** The class folders and their files (Keras' `index_directory`), shuffled with the seed when asked. */
async function listing(dir: string, s: Settings): Promise<{ classNames: string[]; files: Array<{ path: string; label: number }> }> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new DataError(`${WHAT}: ${dir} is not a directory (it should hold one sub-folder per class)`);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${WHAT}: there is no directory ${dir}`);
  }
  const folders: string[] = [];
  for (const e of await entries(dir)) {
    if (!e.name.startsWith('.') && (await isDirectory(join(dir, e.name)))) folders.push(e.name);
  }
  let classNames = folders;
  if (s.classNames) {
    const missing = s.classNames.find((c) => !folders.includes(c));
    if (missing !== undefined) throw new ArgumentError(`${WHAT}: classNames names '${missing}', which is not a sub-folder of ${dir} (its sub-folders: ${folders.join(', ') || 'none'})`);
    classNames = s.classNames;
  }
  if (classNames.length === 0) throw new DataError(`${WHAT}: found 0 files: ${dir} has no class sub-folders (it should hold one sub-folder of images per class)`);
  if (s.labelMode === 'binary' && classNames.length !== 2) {
    throw new ArgumentError(`${WHAT}: labelMode 'binary' needs exactly 2 classes, found ${classNames.length} (${classNames.join(', ')}); use 'int' or 'categorical'`);
  }
  let files: Array<{ path: string; label: number }> = [];
  for (const [label, name] of classNames.entries()) {
    for (const path of await classFiles(join(dir, name))) files.push({ path, label });
  }
  const undecoded = files.filter((f) => UNDECODED.some((x) => f.path.toLowerCase().endsWith(x)));
  if (undecoded.length) {
    const message = `${undecoded.length} .bmp/.gif file${undecoded.length > 1 ? 's' : ''}, such as ${undecoded[0].path}: only PNG and JPEG images are decoded`;
    if (!s.skipCorrupt) throw new DataError(`${WHAT}: ${message} (convert or remove them, or pass onCorrupt: 'skip')`);
    console.warn(`${WHAT}: skipping ${message}`);
    files = files.filter((f) => !undecoded.includes(f));
  }
  if (files.length === 0) throw new DataError(`${WHAT}: found 0 files belonging to ${classNames.length} classes in ${dir} (images: ${EXTENSIONS.join(', ')})`);
  if (s.shuffle) shuffleInPlace(files, random32(s.seed));
  return { classNames, files };
}

/** Keras' split: the last `floor(split × n)` files are validation, the others training. */
function part<T>(files: T[], split: number, subset: 'training' | 'validation', dir: string): T[] {
  const validation = Math.floor(split * files.length);
  const chosen = subset === 'training' ? files.slice(0, files.length - validation) : files.slice(files.length - validation);
  if (chosen.length === 0) throw new DataError(`${WHAT}: no ${subset} images: validationSplit ${split} of the ${files.length} files in ${dir} leaves none`);
  return chosen;
}

const isPng = (b: Uint8Array) => b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a;
const isJpeg = (b: Uint8Array) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** A file's RGBA pixels, by its content (as TensorFlow's `decode_image`), not its extension. */
async function decodeFile(path: string): Promise<{ width: number; height: number; rgba: Uint8Array }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new DataError(`${WHAT}: cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    if (isPng(bytes)) {
      const png = pngjs.PNG.sync.read(bytes as Buffer);
      return { width: png.width, height: png.height, rgba: png.data };
    }
    if (isJpeg(bytes)) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false });
      return { width: img.width, height: img.height, rgba: img.data };
    }
  } catch (err) {
    throw new DataError(`${WHAT}: ${path} is a corrupt or truncated ${isPng(bytes) ? 'PNG' : 'JPEG'} file: ${(err as Error).message}`);
  }
  throw new DataError(`${WHAT}: ${path} is not a PNG or JPEG image (${bytes.length} bytes that start with neither signature)`);
}

/** The decoded image as `channels` float values at `imageSize`. */
function pixels(img: { width: number; height: number; rgba: Uint8Array }, s: Settings): Float32Array {
  const { width, height, rgba } = img;
  const n = width * height;
  const c = s.channels;
  const values = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const p = i * 4;
    if (s.grayscale) values[i] = Math.round(0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2]);
    else for (let k = 0; k < c; k++) values[i * c + k] = rgba[p + k];
  }
  const [h, w] = s.imageSize;
  if (h === height && w === width) return values;
  // Through the core's resize (Keras' `Resizing`), one image at a time.
  const decoded = tensor(values, [height, width, c]);
  try {
    const resized = resize(decoded, [h, w], { interpolation: s.interpolation, cropToAspectRatio: s.cropToAspectRatio, padToAspectRatio: s.padToAspectRatio });
    const out = resized.data();
    resized.dispose();
    return out;
  } finally {
    decoded.dispose();
  }
}

/** A dataset over `files`, decoding each batch's files when that batch is asked for. */
function dataset(files: Array<{ path: string; label: number }>, classNames: string[], s: Settings, reshuffle: boolean): ImageFolderDataset<unknown> {
  const [h, w] = s.imageSize;
  const size = h * w * s.channels;
  const classes = classNames.length;
  /** Files found corrupt (with onCorrupt 'skip'): warned about once, not read again. */
  const corrupt = new Set<string>();
  let iteration = 0;
  const epochSeed = random32(s.seed ^ 0x5bd1e995);
  const batchOf = async (group: Array<{ path: string; label: number }>) => {
    const decoded = await Promise.all(
      group.map(async (f) => {
        if (corrupt.has(f.path)) return null;
        try {
          return { f, values: pixels(await decodeFile(f.path), s) };
        } catch (err) {
          if (!(s.skipCorrupt && err instanceof DataError)) throw err;
          corrupt.add(f.path);
          console.warn(`${err.message} (skipped: onCorrupt is 'skip')`);
          return null;
        }
      }),
    );
    const good = decoded.filter((d) => d !== null);
    if (good.length === 0) return null;
    const b = good.length;
    const xs = new Float32Array(b * size);
    good.forEach((d, i) => xs.set(d.values, i * size));
    const images: Values = { values: xs, shape: [b, h, w, s.channels] };
    if (s.labelMode === null) return images;
    let ys: Values;
    if (s.labelMode === 'categorical') {
      const onehot = new Float32Array(b * classes);
      good.forEach((d, i) => (onehot[i * classes + d.f.label] = 1));
      ys = { values: onehot, shape: [b, classes] };
    } else {
      ys = { values: Float32Array.from(good, (d) => d.f.label), shape: s.labelMode === 'binary' ? [b, 1] : [b] };
    }
    return { xs: images, ys };
  };
  const open = async function* () {
    const order = [...files];
    if (reshuffle) shuffleInPlace(order, random32(epochSeed() ^ Math.imul(iteration++, 0x27d4eb2d)));
    for (let start = 0; start < order.length; start += s.batchSize) {
      const batch = await batchOf(order.slice(start, start + s.batchSize));
      if (batch) yield batch;
    }
  };
  return new ImageFolderDataset<unknown>(open, classNames, files.map((f) => f.path));
}

/**
 * A dataset of batches `{ xs, ys }` of the images in `dir`, one sub-folder per class (Keras'
 * `image_dataset_from_directory`): `xs` `[batch, height, width, channels]` float32 0 to 255,
 * `ys` as `labelMode` says. Lists the files now; decodes each batch's files as it is asked
 * for. With `subset: 'both'`, resolves to `[training, validation]` (validation is never
 * reshuffled). PNG and JPEG files are decoded; `.bmp` and `.gif` files, which Keras also
 * lists, are a `DataError` (or skipped with `onCorrupt: 'skip'`).
 */
async function imageFolder(dir: string, options: ImageFolderOptions & { subset: 'both'; labelMode: null }): Promise<[ImageFolderDataset<Values>, ImageFolderDataset<Values>]>;
async function imageFolder(dir: string, options: ImageFolderOptions & { subset: 'both' }): Promise<[ImageFolderDataset<ImageBatch>, ImageFolderDataset<ImageBatch>]>;
async function imageFolder(dir: string, options: ImageFolderOptions & { labelMode: null }): Promise<ImageFolderDataset<Values>>;
async function imageFolder(dir: string, options?: ImageFolderOptions): Promise<ImageFolderDataset<ImageBatch>>;
async function imageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolderDataset<unknown> | ImageFolderDataset<unknown>[]> {
  if (typeof dir !== 'string' || dir === '') throw new ArgumentError(`${WHAT}: dir must be the path of a directory, got ${describeValue(dir)}`);
  const s = settings(options);
  const { classNames, files } = await listing(dir, s);
  if (s.validationSplit === undefined || s.subset === undefined) return dataset(files, classNames, s, s.shuffle);
  if (s.subset !== 'both') return dataset(part(files, s.validationSplit, s.subset, dir), classNames, s, s.shuffle);
  const training = part(files, s.validationSplit, 'training', dir);
  const validation = part(files, s.validationSplit, 'validation', dir);
  return [dataset(training, classNames, s, s.shuffle), dataset(validation, classNames, s, false)];
}

export { imageFolder };
