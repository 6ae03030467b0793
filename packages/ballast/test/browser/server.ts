/**
 * A tiny static file server for the browser tests: serves the package root (so that
 * `/dist/web.js` and `/wasm/...` resolve as they do in the published package) and the test
 * page's directory under `/page/`, on 127.0.0.1 with an ephemeral port. It can send or omit
 * the two headers that make a page cross-origin isolated.
 */
import { createServer, type Server } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

/** The package root, `packages/ballast`. */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
/** The test page's files, served under `/page/`. */
export const pageRoot = fileURLToPath(new URL('./page/', import.meta.url));

export interface StaticServerOptions {
  /** Send `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`. */
  isolated: boolean;
  /** Directory served at `/`; the package root by default. */
  root?: string;
  /** Directory served at `/page/`; the test page's directory by default. */
  page?: string;
}

export interface StaticServer {
  /** `http://127.0.0.1:PORT` with no trailing slash. */
  origin: string;
  /** Paths requested so far, with their status, for failure messages. */
  log: string[];
  close(): Promise<void>;
}

/** Resolves a URL path inside `root`, or null when it would escape it. */
export function resolveInside(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const base = resolve(root);
  const file = resolve(base, '.' + (decoded.startsWith('/') ? decoded : '/' + decoded));
  if (file !== base && !file.startsWith(base + sep)) return null;
  return file;
}

export async function startStaticServer(options: StaticServerOptions): Promise<StaticServer> {
  const root = resolve(options.root ?? packageRoot);
  const page = resolve(options.page ?? pageRoot);
  const log: string[] = [];

  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: string | Buffer, type = 'text/plain; charset=utf-8') => {
      log.push(`${status} ${req.method} ${req.url}`);
      const headers: Record<string, string | number> = {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      };
      if (options.isolated) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };

    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    // URL parsing folds literal `..` segments; resolveInside also catches encoded ones (%2e%2e%2f).
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    const file = pathname.startsWith('/page/')
      ? resolveInside(page, pathname.slice('/page'.length))
      : resolveInside(root, pathname);
    if (file === null) return send(403, 'forbidden');
    try {
      let target = file;
      if ((await stat(target)).isDirectory()) target = resolve(target, 'index.html');
      const body = await readFile(target);
      send(200, body, MIME[extname(target)] ?? 'application/octet-stream');
    } catch {
      send(404, 'not found');
    }
  });

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((done, fail) => {
        server.closeAllConnections();
        server.close((err) => (err ? fail(err) : done()));
      }),
  };
}
