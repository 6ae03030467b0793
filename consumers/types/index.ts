// Type-checked by the consumer test under strict settings with skipLibCheck: false, for each
// moduleResolution and with or without the DOM lib: the package's .d.ts must stand alone.
import {
  ready, Sequential, Model, layers, optimizers, losses, metrics, callbacks, datasets, tensor, tidy, matmul,
  loadModel, encodeSafetensors, decodeSafetensors, ShapeError, BallastError, Tensor, diagnostics,
  type Env, type History, type SymbolicTensor, type FitOptions, type Logs,
} from 'ballast';

export async function main(): Promise<number> {
  const env: Env = await ready({ threads: 2 });
  const reason: string | undefined = env.fallbackReason;
  const model = new Sequential([layers.input({ shape: [2] }), layers.dense({ units: 2, activation: 'softmax' })], { seed: 1 });
  model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x: Tensor = tensor(new Float32Array(8), [4, 2]);
  const y = tidy(() => tensor([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]));
  const options: FitOptions = { epochs: 1, batchSize: 2, callbacks: { onEpochEnd: (_epoch: number, logs?: Logs) => void logs } };
  const history: History = await model.fit(x, y, options);
  const losses_: number[] = history.history['loss'] ?? [];
  const [loss] = await model.evaluate(x, y);
  const probs: Tensor = await model.predict(x);
  const shape: number[] = probs.shape;
  const inp: SymbolicTensor = layers.input({ shape: [2] });
  const graph = new Model({ inputs: inp, outputs: layers.dense({ units: 1 }).apply(inp) });
  const bytes: Uint8Array = encodeSafetensors([{ name: 'w', shape: [2], values: new Float32Array(2) }]);
  void [decodeSafetensors, loadModel, losses, metrics, callbacks, datasets, matmul, diagnostics, graph, bytes, reason, losses_, shape];
  try {
    tensor([1], [2]);
  } catch (e) {
    if (e instanceof ShapeError && e instanceof BallastError) return loss ?? 0;
  }
  return -1;
}
