// Node 22 and later have relaxed SIMD on; Node 20 has it only behind a V8 flag, and its
// threaded instances then hang in the pool, so the package does not use it there (ready()
// falls back to the threaded build and says why). On Node 20, the relaxed build is tested by
// the runtime matrix (scripts/runtimes.sh) and in Chromium.
export const nodeHasRelaxedSimd = Number(process.versions.node.split('.')[0]) >= 22;
