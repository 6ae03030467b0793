#!/usr/bin/env node
// Prints the size of each WASM build (raw, gzip -9, and its custom sections) and of the
// tarball `npm pack` makes of packages/ballast. Run after a build: node scripts/sizes.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '../packages/ballast');
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

/** Custom sections (name, producers, target_features, ...) by name, with their sizes. */
function customSections(bytes) {
  const sections = {};
  let at = 8;
  const leb = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 0) {
      const len = leb();
      const name = new TextDecoder().decode(bytes.subarray(at, at + len));
      sections[name] = (sections[name] ?? 0) + size;
    }
    at = end;
  }
  return sections;
}

console.log('| file | raw | gzip -9 | custom sections |');
console.log('| --- | ---: | ---: | --- |');
for (const build of readdirSync(join(pkg, 'wasm')).sort()) {
  const file = join(pkg, 'wasm', build, 'ballast_wasm_bg.wasm');
  if (!existsSync(file)) continue;
  const bytes = readFileSync(file);
  const custom = Object.entries(customSections(bytes)).map(([n, s]) => `${n} ${kb(s)}`).join(', ') || 'none';
  console.log(`| wasm/${build}/ballast_wasm_bg.wasm | ${kb(bytes.length)} | ${kb(gzipSync(bytes, { level: 9 }).length)} | ${custom} |`);
}
const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
console.log(`| ${packed.filename} (npm pack, ${packed.entryCount} files) | ${kb(packed.unpackedSize)} | ${kb(packed.size)} | |`);
