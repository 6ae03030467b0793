// Node 22 and later have relaxed SIMD on; Node 20 has it behind a V8 flag, which the
// processes that test the relaxed build get there (later Nodes refuse the flag).
export const relaxedSimdFlags = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
