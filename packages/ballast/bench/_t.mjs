import { ready, tensor, image, matmul } from 'ballast';
await ready({ threads: false });
const x = tensor(new Float32Array(4).fill(1), [1, 2, 2, 1]);
console.log('tensor ok', x.shape);
const y = matmul(tensor([1,2,3,4],[2,2]), tensor([1,2,3,4],[2,2])); console.log('matmul', y.data());
try { console.log(image.resize(x, [4, 4], { interpolation: 'nearest' }).shape); } catch (e) { console.log(e.message); }
