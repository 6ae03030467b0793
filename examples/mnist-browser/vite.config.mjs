import { defineConfig } from 'vite';
import { mnistData } from './build/mnist-data-plugin.mjs';

// Cross-origin isolation lets the page share memory with its workers, which Ballast's threaded
// build needs. MNIST_BROWSER_ISOLATION=off serves the page without it, to see the SIMD-only
// fallback.
const isolation =
  process.env.MNIST_BROWSER_ISOLATION === 'off'
    ? {}
    : { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  plugins: [mnistData()],
  server: { headers: isolation },
  preview: { headers: isolation },
  // Pre-bundling would move ballast's modules away from the files they find by
  // `new URL(..., import.meta.url)`: the .wasm builds and the pool worker's script.
  optimizeDeps: { exclude: ['ballast'] },
  // Ballast starts its pool workers as module workers.
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 1024 },
});
