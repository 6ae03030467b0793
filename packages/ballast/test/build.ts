// The build a layer test file runs on: the threaded one (two workers), or the single-threaded
// SIMD-only one when vitest's `simd` project (vitest.config.ts) sets BALLAST_TEST_BUILD.
// Both builds must give the same answers, so the same files run on each.
import { ready } from 'ballast';

export const build = process.env.BALLAST_TEST_BUILD === 'simd' ? 'simd' : 'threads';
export const env = await ready(build === 'simd' ? { threads: false } : { threads: 2 });
if (env.build !== build) throw new Error(`asked for the ${build} build, got ${env.build}`);
