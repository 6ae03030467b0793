/**
 * Images in: `image.fromPixels(source, { channels })`, TF.js' `tf.browser.fromPixels`. It reads
 * the RGBA pixels of an image source and returns a float32 tensor `[height, width, channels]`
 * of whole numbers 0 to 255.
 *
 * The DOM's sources (`ImageBitmap`, canvases, `<img>`, `<video>`, `VideoFrame`) are drawn to a
 * scratch canvas and read back with `getImageData`; `ImageData` and TF.js' `PixelData`
 * (`{ data, width, height }`, RGBA bytes) are read as they are, so the latter works in Node
 * too. Every DOM class is looked up with `typeof X !== 'undefined'` first: in Node, or in a
 * Worker without `HTMLImageElement`, the branches it needs are skipped, never a ReferenceError.
 */
import { ArgumentError, DataError, StateError, guard } from './errors.js';
import { tensor } from './inputs.js';
import { checkOptions, describeValue } from './options.js';
import { wasm } from './runtime.js';
import { Tensor } from './tensor.js';

/** TF.js' `PixelData`: RGBA bytes, row by row, 4 × `width` × `height` of them. */
export interface PixelData {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/**
 * The class named `K` where the environment's types declare it (the DOM lib, the Worker
 * lib), `never` elsewhere: the package's types need no DOM lib, and a page's types get the
 * DOM's classes.
 */
type DomClass<K extends string> = typeof globalThis extends Record<K, { prototype: infer P }> ? P : never;

/** What `fromPixels` reads: `PixelData` anywhere, and the DOM's image sources where they exist. */
export type PixelSource =
  | PixelData
  | DomClass<'ImageData'>
  | DomClass<'ImageBitmap'>
  | DomClass<'HTMLCanvasElement'>
  | DomClass<'OffscreenCanvas'>
  | DomClass<'HTMLImageElement'>
  | DomClass<'HTMLVideoElement'>
  | DomClass<'VideoFrame'>;

export interface FromPixelsOptions {
  /**
   * Channels of the tensor: 3 (default) red, green and blue; 4 with alpha; 1 the red channel
   * alone, as TF.js (not a luminance: convert colour images yourself when you want one).
   */
  channels?: 1 | 3 | 4;
}

const has = (name: string): boolean => typeof (globalThis as Record<string, unknown>)[name] !== 'undefined';
const isA = (v: object, name: string): boolean => has(name) && v instanceof ((globalThis as Record<string, unknown>)[name] as abstract new () => object);

/** The channel count of `what`'s `channels` option, refused unless 1, 3 or 4. */
export function channelsOption(what: string, key: string, channels: unknown, fallback: number): number {
  if (channels === undefined) return fallback;
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new ArgumentError(`${what}: ${key} must be 1, 3 or 4, got ${describeValue(channels)}`);
  return channels;
}

/** `width` × `height` checked: whole numbers, and an image with pixels. */
function checkSize(what: string, width: unknown, height: unknown, source: string): void {
  for (const [key, v] of [['width', width], ['height', height]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ArgumentError(`${what}: the ${source}'s ${key} must be a whole number, got ${describeValue(v)}`);
  }
  if (width === 0 || height === 0) throw new DataError(`${what}: the ${source} has no pixels (${width as number}x${height as number})`);
}

/** The first `channels` of each RGBA pixel as float32 values. */
function fromRgba(rgba: ArrayLike<number>, width: number, height: number, channels: number): Float32Array {
  const n = width * height;
  const out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) out[i * channels + c] = rgba[i * 4 + c];
  }
  return out;
}

type Context2D = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;
let scratch: Context2D | null = null;

/** One 2D context, reused for every draw (as TF.js does); an OffscreenCanvas where there is one. */
function scratchContext(what: string): Context2D {
  if (scratch) return scratch;
  let context: Context2D | null = null;
  if (has('OffscreenCanvas')) context = new OffscreenCanvas(1, 1).getContext('2d', { willReadFrequently: true });
  else if (has('document')) context = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  if (!context) throw new StateError(`${what}: this environment has no 2D canvas to draw the image on (pass ImageData or { data, width, height })`);
  scratch = context;
  return context;
}

/** The RGBA bytes of a DOM source, drawn at `width` × `height` on the scratch canvas. */
function drawn(what: string, source: CanvasImageSource, width: number, height: number, kind: string): Uint8ClampedArray {
  const context = scratchContext(what);
  const canvas = context.canvas;
  canvas.width = width;
  canvas.height = height;
  try {
    context.clearRect(0, 0, width, height);
    context.drawImage(source, 0, 0, width, height);
    return context.getImageData(0, 0, width, height).data;
  } catch (err) {
    // A cross-origin image taints the canvas (SecurityError); a closed frame cannot be drawn.
    throw new DataError(`${what}: cannot read the pixels of the ${kind}: ${(err as Error).message}`, { cause: err });
  }
}

const SOURCES = 'an image (ImageData, ImageBitmap, a canvas, <img>, <video>, VideoFrame or { data, width, height })';

/** The size of a DOM image source, checked ready to draw; null when `source` is none of them. */
function measure(what: string, source: object): { width: number; height: number; kind: string } | null {
  if (isA(source, 'HTMLImageElement')) {
    const img = source as HTMLImageElement;
    if (!img.complete) throw new StateError(`${what}: the <img> (${describeSrc(img.src)}) has not loaded yet; await img.decode() or its load event first`);
    if (img.naturalWidth === 0) throw new DataError(`${what}: the <img> (${describeSrc(img.src)}) has no pixels: it failed to load or has no source`);
    // TF.js reads an <img> at its width and height: its natural size unless they were set.
    return { width: img.width, height: img.height, kind: '<img>' };
  }
  if (isA(source, 'HTMLVideoElement')) {
    const video = source as HTMLVideoElement;
    if (video.readyState < 2) throw new StateError(`${what}: the <video> has no frame yet (readyState ${video.readyState}); wait for its loadeddata event`);
    return { width: video.videoWidth, height: video.videoHeight, kind: '<video>' };
  }
  if (isA(source, 'VideoFrame')) {
    const frame = source as VideoFrame;
    // A closed frame has no size left.
    return { width: frame.displayWidth, height: frame.displayHeight, kind: frame.displayWidth ? 'VideoFrame' : 'VideoFrame (closed?)' };
  }
  for (const kind of ['ImageBitmap', 'HTMLCanvasElement', 'OffscreenCanvas']) {
    if (isA(source, kind)) {
      const s = source as ImageBitmap;
      return { width: s.width, height: s.height, kind };
    }
  }
  return null;
}

function describeSrc(src: string): string {
  if (!src) return 'no src';
  return src.length > 60 ? `${src.slice(0, 57)}...` : src;
}

/**
 * A tensor `[height, width, channels]` of the pixels of `source`, whole numbers 0 to 255 as
 * float32 (TF.js' `tf.browser.fromPixels`). `channels` is 3 (default, red, green, blue), 4
 * (with alpha) or 1 (the red channel, as TF.js). A source that is not an image is an
 * `ArgumentError`; an `<img>` still loading or a `<video>` without a frame a `StateError`;
 * an image without pixels, one that failed to load or that cannot be read (a cross-origin
 * image), or `data` of the wrong length, a `DataError`. Needs `ready()`, as every tensor does.
 */
export function fromPixels(source: PixelSource, options: FromPixelsOptions = {}): Tensor {
  const what = 'image.fromPixels';
  checkOptions(what, options, ['channels']);
  const channels = channelsOption(what, 'channels', options.channels, 3);
  if (source === null || typeof source !== 'object') throw new ArgumentError(`${what}: source must be ${SOURCES}, got ${describeValue(source)}`);
  const size = measure(what, source);
  if (size) {
    checkSize(what, size.width, size.height, size.kind);
    const rgba = drawn(what, source as CanvasImageSource, size.width, size.height, size.kind);
    return tensor(fromRgba(rgba, size.width, size.height, channels), [size.height, size.width, channels]);
  }
  const s = source as unknown as Record<string, unknown>;
  const imageData = isA(source, 'ImageData');
  if (!imageData && !('data' in s)) {
    throw new ArgumentError(`${what}: source must be ${SOURCES}, got ${describeValue(source)}`);
  }
  const kind = imageData ? 'ImageData' : 'pixel data';
  const { data, width, height } = s;
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw new ArgumentError(`${what}: the ${kind}'s data must be a Uint8Array or Uint8ClampedArray of RGBA bytes, got ${describeValue(data)}`);
  }
  checkSize(what, width, height, kind);
  const w = width as number;
  const h = height as number;
  if (data.length !== w * h * 4) throw new DataError(`${what}: the ${kind} is ${w}x${h}, so its data must hold ${w * h * 4} RGBA bytes, got ${data.length}`);
  return tensor(fromRgba(data, w, h, channels), [h, w, channels]);
}

export interface ResizeOptions {
  /** `'bilinear'` (default) or `'nearest'`. */
  interpolation?: 'bilinear' | 'nearest';
  /** Cut out the largest centred window of the output's aspect ratio first, so nothing is stretched; default false. */
  cropToAspectRatio?: boolean;
  /** Pad the short side evenly with `fillValue` to the output's aspect ratio first, so nothing is stretched or cut off; default false (at most one of the two). */
  padToAspectRatio?: boolean;
  /** What `padToAspectRatio` pads with; default 0. */
  fillValue?: number;
}

/**
 * Images `[height, width, channels]` or a batch `[n, height, width, channels]` resized to
 * `size` `[height, width]`, as Keras' `Resizing` layer does it (the same core op):
 * TensorFlow's `resize` with half-pixel centres, the border clamped, no antialiasing.
 */
/** `fn()` through `guard`, with the core's ArgumentErrors prefixed with `what`, the caller's name. */
function prefixed<T>(what: string, fn: () => T): T {
  try {
    return guard(fn);
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`${what}: ${e.message}`) : e;
  }
}

/**
 * @internal `value` when the core's resizing kernels have that interpolation; otherwise the
 * core's ArgumentError (it owns the names), prefixed with `what`.
 */
export function checkInterpolation(what: string, value: unknown): 'bilinear' | 'nearest' {
  // Only a string may cross into the core as one.
  if (typeof value !== 'string') throw new ArgumentError(`${what}: interpolation must be a string, got ${describeValue(value)}`);
  prefixed(what, () => wasm().checkInterpolation(value));
  return value as 'bilinear' | 'nearest';
}

/**
 * @internal `[cropToAspectRatio, padToAspectRatio]` once both are booleans and the core accepts
 * them together (it refuses both at once, as Keras does); errors are prefixed with `what`.
 */
export function checkAspectRatioFlags(what: string, crop: unknown, pad: unknown): [boolean, boolean] {
  for (const [name, value] of [['cropToAspectRatio', crop], ['padToAspectRatio', pad]] as const) {
    if (typeof value !== 'boolean') throw new ArgumentError(`${what}: ${name} must be true or false, got ${describeValue(value)}`);
  }
  prefixed(what, () => wasm().checkAspectRatioFlags(crop as boolean, pad as boolean));
  return [crop as boolean, pad as boolean];
}

export function resize(images: Tensor, size: [number, number], options: ResizeOptions = {}): Tensor {
  const what = 'image.resize';
  if (!(images instanceof Tensor)) throw new ArgumentError(`${what}: images must be a Tensor, got ${describeValue(images)}`);
  checkOptions(what, options, ['interpolation', 'cropToAspectRatio', 'padToAspectRatio', 'fillValue']);
  const rank = images.shape.length;
  if (rank !== 3 && rank !== 4) throw new ArgumentError(`${what}: images must be [height, width, channels] or [n, height, width, channels], got shape [${images.shape.join(', ')}]`);
  if (!Array.isArray(size) || size.length !== 2 || size.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 0xffffffff)) {
    throw new ArgumentError(`${what}: size must be [height, width], two positive integers, got ${describeValue(size)}`);
  }
  const interpolation = checkInterpolation(what, options.interpolation ?? 'bilinear');
  const [crop, pad] = checkAspectRatioFlags(what, options.cropToAspectRatio ?? false, options.padToAspectRatio ?? false);
  const fillValue = options.fillValue ?? 0;
  // Only a number may cross as one; the core refuses one that is not finite as an f32.
  if (typeof fillValue !== 'number') throw new ArgumentError(`${what}: fillValue must be a finite number, got ${describeValue(fillValue)}`);
  // One image goes through as a batch of one (a copy: tensors have no views).
  const batch = rank === 4 ? images : tensor(images.data(), [1, ...images.shape]);
  try {
    const out = new Tensor(prefixed(what, () => wasm().resizeImages(batch.handle, size[0], size[1], interpolation, crop, pad, fillValue)));
    if (rank === 4) return out;
    const single = tensor(out.data(), out.shape.slice(1));
    out.dispose();
    return single;
  } finally {
    if (batch !== images) batch.dispose();
  }
}

export const image = { fromPixels, resize };
