// CommonJS: require() of the ESM-only package, which Node supports from 20.19 and 22.12
// (require(esm)); the package's graph has no top-level await, so it loads synchronously.
const ballast = require('ballast');
const { ready, tensor } = ballast;
ready({ threads: 1 }).then((env) => {
  if (env.build !== 'simd') throw new Error(`ready({ threads: 1 }) should load the SIMD build, got ${env.build}`);
  const t = tensor([1, 2, 3, 4], [2, 2]);
  const sum = Array.from(t.data()).reduce((a, b) => a + b, 0);
  if (sum !== 10) throw new Error(`tensor data wrong: ${Array.from(t.data())}`);
  t.dispose();
  console.log(`cjs: require('ballast') works, ${Object.keys(ballast).length} exports, build ${env.build}`);
});
