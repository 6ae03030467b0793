// Everything Ballast does runs here, in a module Worker: its threaded build blocks while a
// kernel runs on the pool, which the page's main thread may not do. The page sends commands
// and gets back progress messages (see the `handlers` below and `post` calls).
import { ready, datasets, tensor, modelFromFiles } from 'ballast';
import { buildModel, variants as cnnVariants } from '../../shared/mnist-models.mjs';
import { resnet } from '../../shared/resnet-models.mjs';

const FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};

/** Thrown from onBatchEnd to end `fit` early (Stop, or a step limit). */
const STOP = Symbol('stop');

let data = null;
let dataLoading = null;
let model = null;
/** The training run in progress: its pause/stop state. */
let run = null;

const post = (message, transfer = []) => self.postMessage(message, transfer);

/**
 * Lets queued messages (pause, predict, ...) run between batches. A MessageChannel task, unlike
 * setTimeout, is not clamped to 4 ms when chained, which would be a few percent of a step.
 */
const channel = new MessageChannel();
const yieldToMessages = () =>
  new Promise((resolve) => {
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });

/** The models the page offers: the tutorial's CNNs, and He et al.'s ResNet at two depths. */
const RESNETS = { resnet8: 8, resnet20: 20 };
const VARIANTS = [...cnnVariants, ...Object.keys(RESNETS)];

function build(variant, { seed, learningRate }) {
  if (Object.hasOwn(RESNETS, variant)) return resnet({ depth: RESNETS[variant], seed, learningRate });
  if (cnnVariants.includes(variant)) return buildModel(variant, { seed, learningRate });
  throw new Error(`unknown model variant '${variant}' (${VARIANTS.join(', ')})`);
}

/** Each BN layer's moving mean and variance, by layer name. */
function bnStats() {
  const layers = new Map();
  for (const w of model.getWeights()) {
    const m = /^(.*)\/moving_(mean|variance)$/.exec(w.name);
    if (!m) continue;
    const entry = layers.get(m[1]) ?? { name: m[1] };
    entry[m[2]] = w.values;
    layers.set(m[1], entry);
  }
  return [...layers.values()];
}

function describeModel(source) {
  const rows = model.summaryRows();
  return {
    type: 'model',
    source,
    layers: rows.map((r) => ({ name: r.name, type: r.type, outputShape: r.outputShape, params: r.params, inputs: r.inputs })),
    params: rows.reduce((s, r) => s + r.params, 0),
    bn: bnStats().map((l) => ({ name: l.name, channels: l.mean.length })),
    // The layers that get a gradient, for the gradient-norm chart's lines.
    trainable: rows.filter((r) => r.trainable > 0).map((r) => ({ name: r.name, type: r.type })),
  };
}

function loadData(baseUrl, trainLimit, testLimit) {
  dataLoading ??= (async () => {
    const started = performance.now();
    const url = (name) => new URL(name, baseUrl).href;
    // Only the examples kept are decompressed; pixels stay bytes, labels class indices.
    const [train, test] = await Promise.all([
      datasets.idx({ images: url(FILES.trainImages), labels: url(FILES.trainLabels), numClasses: 10, limit: trainLimit }),
      datasets.idx({ images: url(FILES.testImages), labels: url(FILES.testLabels), numClasses: 10, limit: testLimit }),
    ]);
    data = { train, test };
    post({
      type: 'data',
      train: data.train.labels.length,
      test: data.test.labels.length,
      seconds: (performance.now() - started) / 1000,
    });
    return data;
  })();
  return dataLoading;
}

const handlers = {
  async init({ threads, relaxedSimd, dataUrl, trainLimit, testLimit }) {
    const env = await ready(threads === 'auto' ? { relaxedSimd } : { threads, relaxedSimd });
    post({
      type: 'ready',
      env,
      crossOriginIsolated: self.crossOriginIsolated,
      hardwareConcurrency: navigator.hardwareConcurrency,
    });
    await loadData(dataUrl, trainLimit, testLimit);
  },

  async start({ variant, batchSize, learningRate, epochs, steps, seed }) {
    if (run) throw new Error('training is already running');
    const { train, test } = await dataLoading;
    model?.dispose();
    model = build(variant, { seed, learningRate });
    post(describeModel(variant));

    const n = train.labels.length;
    const batches = Math.ceil(n / batchSize);
    // A step limit decides the number of epochs; one that ends mid-epoch stops it there.
    if (steps) epochs = Math.ceil(steps / batches);
    run = { paused: false, stop: false, resume: null };
    post({ type: 'state', state: 'training', epochs, batches });

    let step = 0;
    // Steps go to the page in groups, at most five times a second, so the page redraws its
    // charts and text once per group rather than once per step (on 2 cores, the page's work
    // comes out of the pool threads' time). The BN statistics ride on each group's last step.
    let pending = [];
    let lastPost = performance.now();
    const postSteps = () => {
      if (pending.length === 0) return;
      pending.at(-1).bn = bnStats();
      post({ type: 'batches', steps: pending });
      pending = [];
      lastPost = performance.now();
    };
    // Throughput counts the training steps only: not the plots' messages, pauses or validation.
    let last = performance.now();
    let trainSeconds = 0, trainImages = 0, steadySeconds = 0, steadyImages = 0;
    const started = performance.now();
    const finish = async (stoppedEarly) => {
      const [testLoss, testAcc] = await model.evaluate(test.x, test.y);
      post({
        type: 'done',
        stoppedEarly,
        steps: step,
        testLoss,
        testAcc,
        testCount: test.labels.length,
        seconds: (performance.now() - started) / 1000,
        imagesPerSecond: trainImages / trainSeconds,
        // After five warm-up steps, as bench/throughput.mjs counts in Node.
        steadyImagesPerSecond: steadyImages / steadySeconds,
      });
    };
    try {
      await model.fit(train.x, train.y, {
        batchSize,
        epochs,
        shuffle: true,
        seed,
        validationData: [test.x, test.y],
        yieldEvery: 0,
        callbacks: {
          onBatchEnd: async (batch, logs) => {
            const seconds = (performance.now() - last) / 1000;
            const images = batch === logs.batches - 1 ? n - batch * batchSize : batchSize;
            step += 1;
            trainSeconds += seconds;
            trainImages += images;
            if (step > 5) {
              steadySeconds += seconds;
              steadyImages += images;
            }
            pending.push({
              step,
              epoch: logs.epoch,
              batch,
              batches: logs.batches,
              loss: logs.loss,
              acc: logs.accuracy,
              imagesPerSecond: images / seconds,
              etaSeconds: logs.etaSeconds,
              // Only the gradient norms are plotted: a name and a number per trainable layer.
              gradients: model.lastGradientHealth().map(({ name, gradNorm }) => ({ name, gradNorm })),
            });
            const stopping = run.stop || (steps && step >= steps && batch < logs.batches - 1);
            // An epoch's last step goes out before the 'epoch' message that annotates it.
            if (stopping || batch === logs.batches - 1 || performance.now() - lastPost >= 200) postSteps();
            if (stopping) throw STOP;
            await yieldToMessages();
            if (run.paused) {
              postSteps();
              post({ type: 'state', state: 'paused' });
              await new Promise((resolve) => (run.resume = resolve));
              if (run.stop) throw STOP;
              post({ type: 'state', state: 'training' });
            }
            last = performance.now();
          },
          onEpochEnd: (epoch, logs) => {
            post({ type: 'epoch', epoch, step, seconds: logs.seconds, loss: logs.loss, acc: logs.accuracy, valLoss: logs.val_loss, valAcc: logs.val_accuracy });
            last = performance.now();
          },
        },
      });
      await finish(false);
    } catch (err) {
      if (err !== STOP) throw err;
      await finish(run.stop);
    } finally {
      run = null;
    }
  },

  pause() {
    if (run) run.paused = true;
  },

  resume() {
    if (!run) return;
    run.paused = false;
    run.resume?.();
  },

  stop() {
    if (!run) return;
    run.stop = true;
    run.resume?.();
  },

  setLearningRate({ learningRate }) {
    model?.setLearningRate(learningRate);
  },

  async predict({ id, pixels }) {
    if (!model) return post({ type: 'prediction', id, probs: null });
    const x = tensor(pixels, [1, 28, 28, 1]);
    try {
      const y = await model.predict(x);
      post({ type: 'prediction', id, probs: y.data() });
      y.dispose();
    } finally {
      x.dispose();
    }
  },

  exportModel({ id }) {
    if (!model) throw new Error('there is no model to save yet: train one or load one');
    const files = model.toFiles();
    const weights = files['weights.safetensors'];
    post({ type: 'exported', id, modelJson: files['model.json'], weights }, [weights.buffer]);
  },

  importModel({ id, modelJson, weights, source }) {
    if (run) throw new Error('stop training before loading a model');
    const loaded = modelFromFiles(modelJson, new Uint8Array(weights), source);
    model?.dispose();
    model = loaded;
    post({ ...describeModel(source), id });
  },
};

self.addEventListener('message', async (event) => {
  const { type, id } = event.data;
  try {
    await handlers[type](event.data);
  } catch (err) {
    post({ type: 'error', command: type, id, name: err?.name ?? 'Error', message: err?.message ?? String(err) });
  }
});
