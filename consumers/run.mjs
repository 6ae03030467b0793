#!/usr/bin/env node
/**
 * Consumer tests: the package as npm users get it. Packs packages/ballast with `npm pack`,
 * installs the tarball into fresh projects in a temporary directory outside the workspace
 * (tools pinned, from the npm registry, through a cache shared across runs), and checks:
 *   node   - Node ESM import and a tiny training; CommonJS require() (require(esm))
 *   types  - tsc strict, skipLibCheck false, moduleResolution bundler / node16 / nodenext,
 *            each with the Node-only lib (ES2022 + @types/node), the DOM lib, and both
 *   lint   - publint and @arethetypeswrong/cli on the packed package
 *   web    - a page training in a Worker, bundled by Vite 6, the current Vite (build and dev
 *            server), webpack 5 and esbuild, run in Debian's Chromium: threaded on a
 *            cross-origin-isolated page, SIMD-only otherwise, no console errors or warnings
 *
 * Usage: node consumers/run.mjs [--only node,types,lint,web] [--keep]
 * Env:   BALLAST_CONSUMER_CACHE  npm cache directory (scripts/consumers.sh sets it);
 *        BALLAST_CONSUMER_RUNTIMES  more runtimes for the `node` checks, as
 *        "node=PATH bun=PATH deno=PATH" (scripts/runtimes.sh sets it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const pkgDir = join(root, 'packages/ballast');

// Tool versions, pinned.
const VERSIONS = {
  typescript: '5.9.3',
  '@types/node': '22.20.7',
  publint: '0.3.25',
  '@arethetypeswrong/cli': '0.18.5',
};

// Bundlers for the web checks: Vite 6 (under an alias) and the current Vite, webpack 5, esbuild.
const WEB_VERSIONS = {
  vite6: 'npm:vite@6.4.6',
  vite: '8.3.8',
  webpack: '5.112.2',
  esbuild: '0.28.2',
};
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : ['node', 'types', 'lint', 'web'];
const keep = args.includes('--keep');
const cache = process.env.BALLAST_CONSUMER_CACHE;

let passed = 0;
let failed = 0;
const failures = [];

function run(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function check(name, fn) {
  const t0 = Date.now();
  let problem = null;
  try {
    problem = fn();
  } catch (e) {
    problem = e instanceof Error ? e.message : String(e);
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (problem) {
    failed++;
    failures.push(name);
    console.log(`FAIL ${name} (${secs}s)\n${String(problem).replace(/^/gm, '    ')}`);
  } else {
    passed++;
    console.log(`ok   ${name} (${secs}s)`);
  }
}

/** Runs a command in a project; returns null on success, else what it printed. */
function succeeds(cwd, cmd, argv, env = {}) {
  const r = run(cmd, argv, { cwd, env: { ...process.env, ...env } });
  return r.status === 0 ? null : `${cmd} ${argv.join(' ')} exited ${r.status}:\n${r.out.trim()}`;
}

function npmInstall(dir, deps) {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '0.0.0', dependencies: deps }, null, 2));
  const argv = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
  if (cache) argv.push('--cache', cache);
  const r = run('npm', argv, { cwd: dir });
  if (r.status !== 0) throw new Error(`npm install in ${dir} failed:\n${r.out}`);
}

// 1. Pack.
const work = mkdtempSync(join(tmpdir(), 'ballast-consumers-'));
const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: pkgDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }))[0];
const tarball = join(work, packed.filename);
console.log(`packed ${packed.filename}: ${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} KB (unpacked ${(packed.unpackedSize / 1024).toFixed(0)} KB)`);

check('tarball: license files, no sources or source maps pointing at missing files', () => {
  const files = packed.files.map((f) => f.path);
  const missing = ['LICENSE-MIT', 'LICENSE-APACHE', 'README.md', 'package.json', 'dist/node.js', 'dist/node.d.ts', 'dist/web.js', 'dist/web.d.ts',
    'wasm/threads/ballast_wasm_bg.wasm', 'wasm/simd/ballast_wasm_bg.wasm'].filter((f) => !files.includes(f));
  if (missing.length) return `missing from the tarball: ${missing.join(', ')}`;
  const maps = files.filter((f) => f.endsWith('.map'));
  if (maps.length) return `source maps are shipped without their sources: ${maps.join(', ')}`;
  const stray = files.filter((f) => /(^|\/)(test|bench|src)\//.test(f));
  if (stray.length) return `files that users do not need: ${stray.join(', ')}`;
  return null;
});

// 2. One project with the tarball and the pinned tools.
const project = join(work, 'project');
if (['node', 'types', 'lint'].some((c) => only.includes(c))) {
  cpSync(join(here, 'node'), project, { recursive: true });
  cpSync(join(here, 'types'), join(project, 'types'), { recursive: true });
  npmInstall(project, { ballast: `file:${tarball}`, ...VERSIONS });
}
const installed = join(project, 'node_modules/ballast');

if (only.includes('node')) {
  // This Node, then the runtimes of BALLAST_CONSUMER_RUNTIMES ("node=PATH bun=PATH deno=PATH").
  const runtimes = [['node', process.execPath], ...(process.env.BALLAST_CONSUMER_RUNTIMES ?? '').split(/\s+/).filter(Boolean).map((r) => r.split('='))];
  for (const [kind, bin] of runtimes) {
    const version = run(bin, ['--version']).out.trim().split('\n')[0];
    const argv = (file) => (kind === 'deno' ? ['run', '--allow-all', file] : [file]);
    check(`${kind} ${version}: ESM import, a tiny training on the threaded build`, () => succeeds(project, bin, argv('esm.mjs')));
    check(`${kind} ${version}: CommonJS require('ballast')`, () => succeeds(project, bin, argv('cjs.cjs')));
  }
}

if (only.includes('types')) {
  const tsc = join(project, 'node_modules/typescript/bin/tsc');
  const resolutions = { bundler: 'esnext', node16: 'node16', nodenext: 'nodenext' };
  const libs = {
    'Node only (ES2022 + @types/node)': { lib: ['ES2022'], types: ['node'] },
    'DOM, no Node types': { lib: ['ES2022', 'DOM'], types: [] },
    // ESNext declares Symbol.dispose as the package's types and @types/node do: they must merge.
    'ESNext + DOM + Node': { lib: ['ESNext', 'DOM', 'DOM.Iterable'], types: ['node'] },
  };
  // The consumer file is ESM in a "type": "module" folder, as node16/nodenext read it.
  writeFileSync(join(project, 'types/package.json'), JSON.stringify({ type: 'module' }));
  for (const [resolution, module] of Object.entries(resolutions)) {
    for (const [libName, lib] of Object.entries(libs)) {
      check(`tsc ${VERSIONS.typescript} strict, moduleResolution ${resolution}, ${libName}`, () => {
        const config = join(project, 'types', `tsconfig.${resolution}.${lib.lib.join('-')}.${lib.types.join('-') || 'none'}.json`);
        writeFileSync(config, JSON.stringify({
          compilerOptions: {
            target: 'ES2022', module, moduleResolution: resolution, ...lib, strict: true, skipLibCheck: false,
            noEmit: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true,
          },
          files: ['index.ts'],
        }, null, 2));
        return succeeds(project, process.execPath, [tsc, '-p', config]);
      });
    }
  }
  for (const [resolution, module] of Object.entries(resolutions).filter(([r]) => r !== 'bundler')) {
    const config = join(project, 'types', `tsconfig.cjs.${resolution}.json`);
    writeFileSync(config, JSON.stringify({
      compilerOptions: { target: 'ES2022', module, moduleResolution: resolution, lib: ['ES2022'], types: ['node'], strict: true, skipLibCheck: false, noEmit: true },
      files: ['cjs.cts'],
    }, null, 2));
    const r = run(process.execPath, [tsc, '-p', config], { cwd: project });
    if (resolution === 'nodenext') {
      check(`tsc ${VERSIONS.typescript}: a CommonJS .cts file imports the package under nodenext`, () => (r.status === 0 ? null : r.out));
    } else {
      check(`tsc ${VERSIONS.typescript}: under node16 a CommonJS .cts file is told to use import() (TS1479), as the README says`, () =>
        (r.status !== 0 && r.out.includes('TS1479') ? null : `expected error TS1479, got exit ${r.status}:\n${r.out}`));
    }
  }
  check('types: no @internal member in the public .d.ts', () => {
    const dts = run('grep', ['-rlE', '--include=*.d.ts', '_handleForBenchmarks|applyLayer|LayerOwner|get handle\\(\\)|WasmGlue|readyWith', join(installed, 'dist')]).out.trim();
    return dts ? `internal members still declared in: ${dts}` : null;
  });
}

if (only.includes('lint')) {
  check(`publint ${VERSIONS.publint} --strict`, () =>
    succeeds(project, process.execPath, [join(project, 'node_modules/publint/src/cli.js'), '--strict', installed]));
  // One finding is by design and ignored: cjs-resolves-to-esm. The package is ESM only;
  // require('ballast') loads it through require(esm), which every Node in `engines` has
  // (the `node` check above runs it), while attw's node16 model predates require(esm).
  check(`@arethetypeswrong/cli ${VERSIONS['@arethetypeswrong/cli']} (ESM only: cjs-resolves-to-esm ignored)`, () =>
    succeeds(project, process.execPath, [join(project, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tarball,
      '--format', 'table-flipped', '--no-color', '--ignore-rules', 'cjs-resolves-to-esm']));
}

if (only.includes('web')) await webChecks();

async function webChecks() {
  const { serve, launch, runPage } = await import('./web/drive.mjs');
  const web = join(work, 'web');
  cpSync(join(here, 'web/src'), join(web, 'src'), { recursive: true });
  npmInstall(web, { ballast: `file:${tarball}`, ...WEB_VERSIONS });
  const browser = await launch(join(pkgDir, 'package.json'));
  const outputs = [];

  /** Checks one page: relaxed threads when isolated, the SIMD build and its reason otherwise. */
  async function page(name, url, isolated) {
    const { result, messages } = await runPage(browser, url);
    check(`${name}, ${isolated ? 'isolated page: relaxed threads' : 'page without isolation: SIMD build'}`, () => {
      const noisy = messages.filter((m) => !m.startsWith('[debug]'));
      if (result.error) return `${result.error}\n${noisy.join('\n')}`;
      const { env } = result;
      const problems = [];
      // Chromium has relaxed SIMD: an isolated page gets the relaxed threaded build.
      if (isolated && !(env.build === 'relaxed' && env.threads >= 2 && result.crossOriginIsolated)) problems.push(`expected the relaxed threaded build, got ${JSON.stringify(env)}`);
      if (!isolated && !(env.build === 'simd' && /cross-origin isolated/.test(env.fallbackReason ?? ''))) problems.push(`expected the SIMD build and its reason, got ${JSON.stringify(env)}`);
      if (!env.simd) problems.push('SIMD128 kernels not in use');
      if (!(result.lastLoss < result.firstLoss)) problems.push(`loss did not fall: ${result.firstLoss} -> ${result.lastLoss}`);
      if (noisy.length) problems.push(`console/network messages:\n${noisy.join('\n')}`);
      return problems.length ? problems.join('\n') : null;
    });
  }
  async function pages(name, dir) {
    for (const isolated of [true, false]) {
      const server = await serve(dir, isolated);
      await page(name, `${server.origin}/`, isolated);
      await server.close();
    }
  }

  // Vite 6 and the current Vite, with no configuration beyond the page's root: build, and
  // the dev server (which pre-bundles dependencies).
  for (const vite of ['vite6', 'vite']) {
    const label = `${vite === 'vite' ? 'vite' : 'vite 6'} ${WEB_VERSIONS[vite].replace(/^npm:vite@/, '')}`;
    const api = await import(pathToFileURL(join(web, 'node_modules', vite, 'dist/node/index.js')).href);
    const warnings = [];
    const customLogger = {
      hasWarned: false,
      info() {}, clearScreen() {}, hasErrorLogged: () => false,
      warn: (msg) => warnings.push(msg), warnOnce: (msg) => warnings.push(msg), error: (msg) => warnings.push(msg),
    };
    const outDir = join(web, `out-${vite}`);
    let built = false;
    try {
      await api.build({ root: join(web, 'src'), configFile: false, logLevel: 'warn', customLogger, build: { outDir, emptyOutDir: true } });
      built = true;
    } catch (e) {
      warnings.push(`build failed: ${e.message}`);
    }
    check(`${label}: build, no warnings`, () => (warnings.length ? warnings.join('\n') : null));
    if (built) {
      outputs.push([label, outDir]);
      await pages(`${label} build`, outDir);
    }
    for (const isolated of [true, false]) {
      rmSync(join(web, 'node_modules/.vite'), { recursive: true, force: true });
      const server = await api.createServer({
        root: join(web, 'src'), configFile: false, logLevel: 'warn', customLogger, cacheDir: join(web, 'node_modules/.vite'),
        server: { host: '127.0.0.1', port: 0, strictPort: false, headers: isolated ? ISOLATION : {} },
      });
      await server.listen();
      await page(`${label} dev server`, server.resolvedUrls.local[0], isolated);
      await server.close();
    }
  }

  // webpack 5, its defaults (production mode); only its size hints are allowed as warnings.
  {
    const { default: webpack } = await import(pathToFileURL(join(web, 'node_modules/webpack/lib/index.js')).href);
    const outDir = join(web, 'out-webpack');
    const stats = await new Promise((done, fail) => {
      const compiler = webpack({ mode: 'production', context: web, entry: './src/main.js', output: { path: outDir, filename: 'main.js', clean: true } });
      compiler.run((err, result) => compiler.close(() => (err ? fail(err) : done(result))));
    });
    const info = stats.toJson({ all: false, errors: true, warnings: true });
    const warnings = [...info.errors, ...info.warnings].map((w) => w.message).filter((m) => !/size limit|performance/i.test(m));
    check(`webpack ${WEB_VERSIONS.webpack}: build, no errors or warnings but its size hints`, () => (warnings.length ? warnings.join('\n') : null));
    cpSync(join(web, 'src/index.html'), join(outDir, 'index.html'));
    outputs.push([`webpack ${WEB_VERSIONS.webpack}`, outDir]);
    await pages(`webpack ${WEB_VERSIONS.webpack}`, outDir);
  }

  // esbuild copies no file that `new URL(..., import.meta.url)` names, so the page lays out
  // the package's files as the package does (README, Bundlers): the bundles in dist/, the
  // package's wasm/ beside it, and its pool worker in dist/.
  {
    const esbuild = await import(pathToFileURL(join(web, 'node_modules/esbuild/lib/main.js')).href);
    const outDir = join(web, 'out-esbuild');
    rmSync(outDir, { recursive: true, force: true });
    const result = await esbuild.build({
      absWorkingDir: web, entryPoints: ['src/main.js', 'src/worker.js'], bundle: true, format: 'esm', outdir: join(outDir, 'dist'), logLevel: 'silent',
    });
    check(`esbuild ${WEB_VERSIONS.esbuild}: build, no warnings`, () => (result.errors.length + result.warnings.length ? JSON.stringify([...result.errors, ...result.warnings]) : null));
    cpSync(join(web, 'node_modules/ballast/wasm'), join(outDir, 'wasm'), { recursive: true });
    cpSync(join(web, 'node_modules/ballast/dist/pool-worker-web.js'), join(outDir, 'dist/pool-worker-web.js'));
    writeFileSync(join(outDir, 'index.html'), readFileSync(join(web, 'src/index.html'), 'utf8').replace('./main.js', './dist/main.js'));
    await pages(`esbuild ${WEB_VERSIONS.esbuild}`, outDir);
  }
  await browser.close();
}

if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
console.log(`consumers: ${passed} passed, ${failed} failed`);
if (failed) {
  console.log(`failed: ${failures.join('; ')}`);
  process.exit(1);
}
