/** One pool thread in a browser: instantiate the module over the shared memory and run rayon. */
import { initSync, runPoolWorker } from '../wasm/threads/ballast_wasm.js';

self.addEventListener(
  'message',
  (event: MessageEvent<{ module: WebAssembly.Module; memory: WebAssembly.Memory }>) => {
    initSync({ module: event.data.module, memory: event.data.memory });
    self.postMessage('ready');
    runPoolWorker();
  },
  { once: true },
);
