/**
 * Browser entry point. Threads need a cross-origin-isolated page (for SharedArrayBuffer)
 * and must run off the main thread (which may not block on Atomics.wait): run Ballast in a
 * Worker. Elsewhere the SIMD-only build loads and `ready()` says why.
 */
import { DataError, StateError } from './errors.js';
import { readyWith, type BuildName, type Env, type Platform, type ReadyOptions, type WasmGlue } from './runtime.js';

export * from './api.js';

async function compile(build: BuildName): Promise<WebAssembly.Module> {
  // Literal URLs so that bundlers see and copy both files.
  const url =
    build === 'threads'
      ? new URL('../wasm/threads/ballast_wasm_bg.wasm', import.meta.url)
      : new URL('../wasm/simd/ballast_wasm_bg.wasm', import.meta.url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
  return WebAssembly.compileStreaming(response);
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
    const [glue, module] = await Promise.all([
      build === 'threads'
        ? import('../wasm/threads/ballast_wasm.js')
        : (import('../wasm/simd/ballast_wasm.js') as unknown as Promise<WasmGlue>),
      compile(build),
    ]);
    return { glue, module };
  },
  async startWorkers(build, module, memory, count) {
    await Promise.all(
      Array.from({ length: count }, () => {
        const worker = new Worker(new URL('./pool-worker-web.js', import.meta.url), { type: 'module' });
        return new Promise<void>((resolve, reject) => {
          worker.addEventListener('message', () => resolve(), { once: true });
          worker.addEventListener('error', (e) => reject(new Error(`pool worker failed: ${e.message}`)), { once: true });
          worker.postMessage({ build, module, memory });
        });
      }),
    );
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
