/**
 * Browser entry point. Threads need a cross-origin-isolated page (for SharedArrayBuffer)
 * and must run off the main thread (which may not block on Atomics.wait): run Ballast in a
 * Worker. Elsewhere the SIMD-only build loads and `ready()` says why.
 */
import { DataError, StateError } from './errors.js';
import { readyWith, type BuildName, type Env, type Platform, type ReadyOptions, type WasmGlue } from './runtime.js';
// Both glue modules are imported statically (they are small; the .wasm files are fetched only
// when used): a dynamic import() would make bundlers split the user's Worker into chunks,
// which Vite 6's default classic-script workers (worker.format 'iife') cannot be.
import * as threadsGlue from '../wasm/threads/ballast_wasm.js';
import * as simdGlue from '../wasm/simd/ballast_wasm.js';

export * from './api.js';

/**
 * Vite's dev server pre-bundles dependencies into `node_modules/.vite/deps/`, away from the
 * files that `new URL(..., import.meta.url)` names, but still serves the package's own files
 * from `node_modules/ballast/`: there, `file` (a path inside the package) is taken from
 * there. Everywhere else `url` is right (bundlers rewrite the literal URLs as assets).
 */
const here = import.meta.url;
const viteDeps = /\/node_modules\/\.vite\/deps[^/]*\/[^/]+$/.test(new URL(here).pathname);
function packageFile(url: URL, file: string): URL {
  // `here`, not `import.meta.url`: bundlers would take the computed URL for an asset pattern.
  return viteDeps ? new URL('../../ballast/' + file, here) : url;
}

/** How to fix a setup that does not serve Ballast's files where its modules expect them. */
function bundlerHint(url: URL): string {
  return url.pathname.includes('/.vite/')
    ? "Vite pre-bundled Ballast away from its .wasm files: add optimizeDeps: { exclude: ['ballast'] } to vite.config"
    : "the bundler or server must serve Ballast's wasm/ and dist/ files as the package lays them out (see the package README, Bundlers)";
}

async function compile(build: BuildName): Promise<WebAssembly.Module> {
  // Literal URLs so that bundlers see and copy both files.
  const url =
    build === 'relaxed'
      ? packageFile(new URL('../wasm/relaxed/ballast_wasm_bg.wasm', import.meta.url), 'wasm/relaxed/ballast_wasm_bg.wasm')
      : build === 'threads'
        ? packageFile(new URL('../wasm/threads/ballast_wasm_bg.wasm', import.meta.url), 'wasm/threads/ballast_wasm_bg.wasm')
        : packageFile(new URL('../wasm/simd/ballast_wasm_bg.wasm', import.meta.url), 'wasm/simd/ballast_wasm_bg.wasm');
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new DataError(`could not fetch Ballast's WebAssembly from ${url}: ${(e as Error).message}`);
  }
  if (!response.ok) throw new DataError(`could not fetch Ballast's WebAssembly from ${url}: HTTP ${response.status}; ${bundlerHint(url)}`);
  const type = response.headers.get('content-type') ?? '';
  if (type.split(';')[0]!.trim() === 'application/wasm') return WebAssembly.compileStreaming(response);
  // A server that sends .wasm with another type: compile the bytes when they are WebAssembly.
  const bytes = new Uint8Array(await response.arrayBuffer());
  const magic = bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
  if (!magic) {
    throw new DataError(`${url} is not WebAssembly (served as '${type || 'no type'}', ${bytes.length} bytes); ${bundlerHint(url)}`);
  }
  return WebAssembly.compile(bytes);
}

const web: Platform = {
  cores: () => globalThis.navigator?.hardwareConcurrency ?? 1,
  threadsUnavailable() {
    if (!globalThis.crossOriginIsolated) {
      return 'the page is not cross-origin isolated (it needs the COOP: same-origin and COEP: require-corp headers), so SharedArrayBuffer is unavailable';
    }
    if (typeof (globalThis as { document?: unknown }).document !== 'undefined') {
      return 'Ballast runs on the main thread, which may not block; run it in a Worker to use threads';
    }
    return null;
  },
  async load(build) {
    // The relaxed build has the threaded build's exports and imports, so it shares its glue.
    const glue = build === 'simd' ? (simdGlue as unknown as WasmGlue) : threadsGlue;
    return { glue, module: await compile(build) };
  },
  async startWorkers(build, module, memory, count) {
    const started: Worker[] = [];
    const starting = Promise.all(
      Array.from({ length: count }, () => {
        // The literal `new Worker(new URL(...))` is what bundlers look for to bundle the worker.
        const worker = viteDeps
          ? new Worker(packageFile(new URL(here), 'dist/pool-worker-web.js'), { type: 'module' })
          : new Worker(new URL('./pool-worker-web.js', import.meta.url), { type: 'module' });
        started.push(worker);
        const url = packageFile(new URL('./pool-worker-web.js', here), 'dist/pool-worker-web.js');
        return new Promise<void>((resolve, reject) => {
          worker.addEventListener('message', () => resolve(), { once: true });
          worker.addEventListener(
            'error',
            // A script that fails to load gives an error event without a message.
            (e) => reject(new StateError(`Ballast's pool worker ${url} failed${e.message ? `: ${e.message}` : ' to load'}; ${bundlerHint(url)}`)),
            { once: true },
          );
          worker.postMessage({ build, module, memory });
        });
      }),
    );
    // If one worker fails, none is left holding the shared memory of a pool that never formed.
    await starting.catch((e: unknown) => {
      for (const w of started) w.terminate();
      throw e;
    });
  },
  async readFile(url) {
    const bytes = await fetchIfExists(url);
    if (bytes === null) throw new DataError(`could not fetch ${url}: HTTP 404 (not found)`);
    return bytes;
  },
  readFileIfExists: fetchIfExists,
  missingDirectory: async () => '',
  async writeFiles() {
    throw new StateError('saving to a directory needs Node; in a browser use model.save to IndexedDB or a download');
  },
  async mnistLocation() {
    throw new DataError('in a browser, pass the URL prefix of the MNIST IDX files: datasets.mnist({ location })');
  },
  yieldToEventLoop,
  // Not a terminal: the progress logger writes finished lines only, one console line each.
  progressOutput: () => ({ write: (text: string) => console.log(text.replace(/\n$/, '')), isTTY: false }),
};

/** The bytes at `url`, or null on HTTP 404; other failures name the URL. */
async function fetchIfExists(url: string): Promise<Uint8Array | null> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new DataError(`could not fetch ${url}: ${(err as Error).message}`);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new DataError(`could not fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** A message to ourselves is a task of its own, queued without a timer's clamped delay. */
const wakeUps: Array<() => void> = [];
let channel: MessageChannel | null = null;
function yieldToEventLoop(): Promise<void> {
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => wakeUps.shift()?.();
  }
  const port = channel.port2;
  return new Promise((resolve) => {
    wakeUps.push(resolve);
    port.postMessage(null);
  });
}

/** Loads the WASM core; resolves to what was loaded (`build`, `threads`, `simd`). */
export function ready(options?: ReadyOptions): Promise<Env> {
  return readyWith(web, options);
}
