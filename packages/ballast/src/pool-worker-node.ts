/** One pool thread in Node: instantiate the module over the shared memory and run rayon. */
import { parentPort, workerData } from 'node:worker_threads';

const { module, memory } = workerData as { module: WebAssembly.Module; memory: WebAssembly.Memory };
const glue = await import('../wasm/threads/ballast_wasm.js');
glue.initSync({ module, memory });
parentPort!.postMessage('ready');
glue.runPoolWorker();
