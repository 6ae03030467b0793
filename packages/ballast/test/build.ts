// The build a layer test file runs on: the threaded one (two workers) by default, or the one
// vitest's `simd` or `relaxed` project (vitest.config.ts) names in BALLAST_TEST_BUILD.
// The builds must give the same answers (the relaxed one within rounding), so the same files
// run on each.
import { ready, type BuildName } from 'ballast';

const asked = process.env.BALLAST_TEST_BUILD ?? 'threads';
if (!['threads', 'simd', 'relaxed'].includes(asked)) throw new Error(`BALLAST_TEST_BUILD=${asked} is not a build`);
export const build = asked as BuildName;
/** What the file passed to `ready()`: asking again with the same options gives the same instance. */
export const options = build === 'simd' ? { threads: false } : { threads: 2, relaxedSimd: build === 'relaxed' };
export const env = await ready(options);
if (env.build !== build) throw new Error(`asked for the ${build} build, got ${env.build}: ${env.fallbackReason ?? ''}`);

/** Whether this build's SIMD kernels fuse multiply-adds (see `expectScalarMatchesSimd`). */
export const fused = build === 'relaxed';
