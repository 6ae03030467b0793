// The page: controls, live charts, the drawing pad and saving. Ballast itself runs in
// train-worker.js; this thread only sends it commands and draws what it reports.
//
// URL parameters preset the controls (model, batch, lr, epochs, threads) and can shorten a run
// for demos and tests: train=N / test=N keep the first N images, steps=N stops after N steps,
// autostart=1 starts as soon as the data is in.
import { COLORS, categoricalColor, channelColor, lineChart, smoother } from './charts.js';
import { SIZE, toMnist } from './digit.js';
import { loadSavedModel, saveModel } from './storage.js';
// After the charts' module, so that these rules come after uPlot's stylesheet.
import './style.css';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const intParam = (name) => (params.has(name) ? Number.parseInt(params.get(name), 10) : undefined);
const cores = navigator.hardwareConcurrency || 1;
const form = $('controls');
const number = new Intl.NumberFormat('en-US');

/** What the page knows, for people poking at it in the console and for the end-to-end test. */
const state = {
  phase: 'loading',
  crossOriginIsolated: window.crossOriginIsolated,
  hardwareConcurrency: cores,
  env: null,
  workerCrossOriginIsolated: null,
  data: null,
  model: null,
  step: 0,
  /** The training loss of each step of this run. */
  losses: [],
  epochs: [],
  result: null,
  /**
   * The gradient norms received in this run, per trainable layer:
   * `{ name, type, batches, min, max, last }`; a NaN or infinite norm shows in min or max.
   */
  gradients: [],
  prediction: null,
  /** A prediction is on its way (or another is queued behind it). */
  predicting: false,
  errors: [],
};
window.__mnist = state;

// ---------------------------------------------------------------- the worker

let worker = null;
let nextId = 1;
const pending = new Map();

function startWorker(threads) {
  worker?.terminate();
  for (const { reject } of pending.values()) reject(new Error('the worker was replaced'));
  pending.clear();
  state.env = null;
  setPhase('loading');
  worker = new Worker(new URL('./train-worker.js', import.meta.url), { type: 'module' });
  worker.addEventListener('message', (event) => onMessage(event.data));
  worker.addEventListener('error', (event) => showError(`The training worker failed to start: ${event.message || 'its script did not load'}`));
  worker.postMessage({
    type: 'init',
    threads,
    // ?relaxed=0 keeps the threaded build without relaxed SIMD (for side-by-side benchmarks).
    relaxedSimd: params.get('relaxed') !== '0',
    dataUrl: new URL(`${import.meta.env.BASE_URL}mnist/`, location.href).href,
    trainLimit: intParam('train'),
    testLimit: intParam('test'),
  });
}

/** Sends a command that the worker answers (matched by id). */
function request(type, payload = {}, transfer = []) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ type, id, ...payload }, transfer);
  });
}

function settle(message) {
  const entry = pending.get(message.id);
  if (!entry) return false;
  pending.delete(message.id);
  if (message.type === 'error') entry.reject(Object.assign(new Error(message.message), { name: message.name }));
  else entry.resolve(message);
  return true;
}

function onMessage(message) {
  // Answers go to whoever asked; a loaded model is also shown like any other.
  if (message.id !== undefined && settle(message) && message.type !== 'model') return;
  switch (message.type) {
    case 'ready':
      return onReady(message);
    case 'data':
      return onData(message);
    case 'model':
      return onModel(message);
    case 'state':
      return onState(message);
    case 'batches':
      return onBatches(message.steps);
    case 'epoch':
      return onEpoch(message);
    case 'done':
      return onDone(message);
    case 'error':
      if (message.command === 'start') setPhase('ready');
      return showError(`${message.name}: ${message.message}`);
  }
}

// ---------------------------------------------------------------- environment and data

function onReady({ env, crossOriginIsolated, hardwareConcurrency }) {
  state.env = env;
  state.workerCrossOriginIsolated = crossOriginIsolated;
  const chip = $('env');
  if (env.build !== 'simd') {
    const relaxed = env.build === 'relaxed';
    chip.dataset.kind = 'threads';
    chip.textContent = `WebAssembly threads ×${env.threads} · SIMD128${relaxed ? ' + relaxed (FMA)' : ''}`;
    chip.title = `Threaded ${relaxed ? 'relaxed-SIMD ' : ''}build: ${env.threads} pool threads on ${hardwareConcurrency} cores; the page is cross-origin isolated.`;
  } else {
    chip.dataset.kind = env.fallbackReason ? 'fallback' : 'simd';
    chip.textContent = `WebAssembly SIMD128 · 1 thread`;
    chip.title = env.fallbackReason ?? 'Single-threaded build, as chosen with the Threads control.';
  }
  const notice = $('notice');
  notice.hidden = !env.fallbackReason;
  if (env.fallbackReason) {
    notice.innerHTML = '';
    const strong = document.createElement('strong');
    strong.textContent = 'Training on one thread (SIMD-only build). ';
    const why = document.createElement('span');
    why.textContent =
      `Ballast could not use its threaded build: ${env.fallbackReason}. ` +
      `Serve this page with the headers Cross-Origin-Opener-Policy: same-origin and ` +
      `Cross-Origin-Embedder-Policy: require-corp (pnpm dev and pnpm preview send them) to train on all ${cores} cores.`;
    notice.append(strong, why);
  }
  setStatus('Loading MNIST…');
}

function onData({ train, test, seconds }) {
  state.data = { train, test };
  setPhase('ready');
  setStatus(`MNIST: ${number.format(train)} training and ${number.format(test)} test images, loaded in ${seconds.toFixed(1)} s. Ready.`);
  if (params.get('autostart') === '1' && !state.autostarted) {
    state.autostarted = true;
    start();
  }
}

// ---------------------------------------------------------------- training

const series = {};
let charts = null;
let bnCharts = [];
let gradChart = null;

function makeCharts() {
  const pct = (v, step) => `${(v * 100).toFixed(step >= 0.01 ? 0 : step >= 0.001 ? 1 : 2)}%`;
  charts = {
    loss: lineChart($('chart-loss'), {
      yLog: true,
      yFormat: (v) => (v >= 1 ? v.toFixed(0) : String(+v.toPrecision(1))),
      series: [
        { label: 'batch', stroke: COLORS.batch, width: 1 },
        { label: 'smoothed', stroke: COLORS.smooth, width: 2 },
        { label: 'epoch (train)', stroke: COLORS.train, width: 2, spanGaps: true, points: { show: true, size: 7, fill: COLORS.train } },
        { label: 'epoch (test)', stroke: COLORS.test, width: 2, spanGaps: true, points: { show: true, size: 7, fill: COLORS.test } },
      ],
    }),
    acc: lineChart($('chart-acc'), {
      yFormat: pct,
      yRange: (_u, min) => [Math.max(0, Math.min(min ?? 0, 0.9) - 0.02), 1],
      series: [
        { label: 'batch', stroke: COLORS.batch, width: 1 },
        { label: 'smoothed', stroke: COLORS.smooth, width: 2 },
        { label: 'epoch (train)', stroke: COLORS.train, width: 2, spanGaps: true, points: { show: true, size: 7, fill: COLORS.train } },
        { label: 'epoch (test)', stroke: COLORS.test, width: 2, spanGaps: true, points: { show: true, size: 7, fill: COLORS.test } },
      ],
    }),
    speed: lineChart($('chart-speed'), {
      height: 170,
      yFormat: (v) => number.format(v),
      yRange: (_u, _min, max) => [0, Math.max(10, (max ?? 0) * 1.15)],
      series: [
        { label: 'per batch', stroke: COLORS.speedLight, width: 1 },
        { label: 'smoothed', stroke: COLORS.speed, width: 2 },
      ],
    }),
  };
}

/** Log-scale ticks: plain figures near 1, powers of ten (1e-5) where zeros would crowd them. */
const logTick = (v) => (v >= 1e4 || v < 0.01 ? v.toExponential(0).replace('+', '') : v >= 1 ? v.toFixed(0) : String(+v.toPrecision(1)));

/**
 * The gradient chart's lines: one per trainable layer, except that the layers of a ResNet's
 * residual block (named after their place by examples/shared/resnet-models.mjs: `stem_conv`,
 * `stage2_block1_bn1`, `stage2_block1_shortcut_conv`, ...) share one line, the L2 norm of all
 * their gradients together. ResNet-20 has 43 trainable layers, too many lines to tell apart;
 * its 11 lines (the stem, nine blocks, the Dense layer) still show how the gradient changes
 * with depth. `{ name, layers: [index in trainable] }`.
 */
function gradientLines(trainable) {
  const lines = [];
  trainable.forEach((l, i) => {
    const name = /^(stem|stage\d+_block\d+)_/.exec(l.name)?.[1] ?? l.name;
    const line = lines.find((x) => x.name === name) ?? lines[lines.push({ name, layers: [] }) - 1];
    line.layers.push(i);
  });
  return lines;
}

const GRAD_CAPTION = {
  layers: "L2 norm of each trainable layer's gradient, per batch (log scale)",
  blocks: "L2 norm of the gradient of each residual block's layers together, and of each other trainable layer, per batch (log scale)",
};

let gradLines = [];

/** The lines depend on the model, so each run makes its own chart. */
function makeGradChart(layers) {
  gradChart?.destroy();
  $('chart-grad').innerHTML = '';
  gradLines = gradientLines(layers);
  $('grad-caption').textContent = GRAD_CAPTION[gradLines.length < layers.length ? 'blocks' : 'layers'];
  gradChart = lineChart($('chart-grad'), {
    height: 260,
    yLog: true,
    yFormat: logTick,
    series: gradLines.map((l, i) => ({ label: l.name, stroke: categoricalColor(i, gradLines.length), width: 1.25 })),
  });
  state.gradients = layers.map((l) => ({ name: l.name, type: l.type, batches: 0, min: Infinity, max: -Infinity, last: null }));
  state.gradientLines = gradLines.map((l) => ({ name: l.name, layers: l.layers.map((i) => layers[i].name) }));
}

function resetRun() {
  for (const chart of Object.values(charts)) {
    for (const column of chart.data) column.length = 0;
    chart.update();
  }
  // Its lines come with the next model (onModel).
  makeGradChart([]);
  series.loss = smoother();
  series.acc = smoother();
  series.speed = smoother(0.1);
  state.step = 0;
  state.losses = [];
  state.epochs = [];
  state.result = null;
  $('epochs').hidden = true;
  $('epochs').tBodies[0].innerHTML = '';
  for (const id of ['stat-step', 'stat-epoch', 'stat-loss', 'stat-acc', 'stat-test', 'stat-speed']) $(id).textContent = '–';
  $('progress-bar').style.width = '0%';
}

function settings() {
  const f = new FormData(form);
  const positive = (name, fallback) => {
    const v = Number(f.get(name));
    return Number.isFinite(v) && v > 0 ? v : fallback;
  };
  return {
    variant: String(f.get('variant')),
    batchSize: Math.max(2, Math.round(positive('batchSize', 128))),
    learningRate: positive('learningRate', 1e-3),
    epochs: Math.max(1, Math.round(positive('epochs', 3))),
    steps: intParam('steps'),
    seed: intParam('seed') ?? 1,
  };
}

function start() {
  if (state.phase !== 'ready' && state.phase !== 'done') return;
  hideError();
  resetRun();
  const s = settings();
  state.settings = s;
  setPhase('starting');
  setStatus(`Building the ${s.variant} model…`);
  worker.postMessage({ type: 'start', ...s });
}

function onModel(info) {
  state.model = info;
  const loaded = /^(saved|files): /.exec(info.source);
  $('model-info').textContent =
    (loaded ? `Loaded (${info.source.slice(loaded[0].length)}). ` : `The ${info.source} model. `) +
    `${number.format(info.params)} parameters, ${info.bn.length} BN layer${info.bn.length === 1 ? '' : 's'}.`;
  const details = $('layers');
  details.hidden = false;
  details.querySelector('summary').textContent = `Layers (${info.layers.length})`;
  details.querySelector('table').replaceChildren(...layerTable(info.layers));
  for (const id of ['download', 'save']) $(id).disabled = false;
  if (state.phase === 'starting') {
    makeBnCharts(info.bn);
    makeGradChart(info.trainable);
  }
  predictDrawing();
}

/**
 * The model summary's rows: name and type, output shape, parameters. When the graph branches
 * (a ResNet's shortcuts and Adds), `model.summary()` adds a "Connected to" column; here, a layer
 * that does not take the output of the row above says what it takes (`← a, b`), which keeps the
 * table narrow enough for its card and shows where the graph branches and joins.
 */
function layerTable(layers) {
  const follows = (l, i) => i > 0 && l.inputs.length === 1 && l.inputs[0] === layers[i - 1].name;
  // A Sequential model's rows start after its input layer, which they do not list.
  const chain = layers.every((l, i) => (i === 0 ? l.inputs.length <= 1 : follows(l, i)));
  const cell = (row, tag, ...content) => {
    const c = document.createElement(tag);
    c.append(...content);
    row.append(c);
    return c;
  };
  const small = (text, className) => Object.assign(document.createElement('small'), { textContent: text, ...(className ? { className } : {}) });
  const head = document.createElement('thead');
  const headRow = head.insertRow();
  for (const title of [chain ? 'Layer' : 'Layer ← connected to', 'Output', 'Params']) cell(headRow, 'th', title);
  const body = document.createElement('tbody');
  layers.forEach((l, i) => {
    const row = body.insertRow();
    row.dataset.layer = l.name;
    const from = !chain && i > 0 && !follows(l, i) ? [small(`← ${l.inputs.join(', ')}`, 'from')] : [];
    cell(row, 'td', l.name, small(l.type), ...from);
    cell(row, 'td', l.outputShape.map((d) => d ?? '·').join('×'));
    cell(row, 'td', number.format(l.params));
  });
  if (chain) return [head, body];
  const caption = document.createElement('caption');
  caption.textContent = 'Each layer takes the output of the row above, unless ← names its inputs.';
  return [caption, head, body];
}

/** Up to this many BN layers get a card each; a model with more gets one, and a choice of layer. */
const BN_CARDS = 4;

/**
 * Each BN layer's statistics as they arrive, kept whether or not they are shown:
 * `{ name, channels, mean, variance }`, the last two being chart data (the steps, shared by
 * all, then one column per channel).
 */
let bnHistory = [];

function makeBnCharts(layers) {
  destroyBnCharts();
  const steps = [];
  bnHistory = layers.map((l) => {
    const columns = () => [steps, ...Array.from({ length: l.channels }, () => [])];
    return { name: l.name, channels: l.channels, mean: columns(), variance: columns() };
  });
  const box = $('bn');
  box.innerHTML = '';
  if (layers.length === 0) {
    box.innerHTML = '<p class="muted">This model has no Batch Normalization layer.</p>';
    return;
  }
  if (layers.length <= BN_CARDS) {
    for (const layer of bnHistory) showBnCard(layer, (card) => box.append(card));
    return;
  }
  // ResNet-20 has 21 BN layers with 16 to 64 channels: one at a time, the first to begin with.
  const picker = document.createElement('label');
  picker.className = 'bn-picker';
  const select = document.createElement('select');
  select.name = 'bnLayer';
  for (const layer of bnHistory) select.add(new Option(`${layer.name} (${layer.channels} channels)`, layer.name));
  picker.append(`Layer (${layers.length} BN layers)`, select);
  box.append(picker);
  showBnCard(bnHistory[0], (card) => box.append(card));
  select.addEventListener('change', () => {
    destroyBnCharts();
    const shown = box.querySelector('.bn-layer');
    showBnCard(bnHistory.find((l) => l.name === select.value), (card) => shown.replaceWith(card));
  });
}

function destroyBnCharts() {
  for (const c of bnCharts) {
    c.mean.destroy();
    c.variance.destroy();
  }
  bnCharts = [];
}

/**
 * A card with a BN layer's two charts, drawn from its history so far and then kept up to date;
 * `place(card)` puts it in the page (before the charts are made, which measure their width).
 */
function showBnCard(layer, place) {
  const card = document.createElement('div');
  card.className = 'card bn-layer';
  card.dataset.layer = layer.name;
  card.innerHTML = `<h3><span></span> <small>${layer.channels} channel${layer.channels === 1 ? '' : 's'}</small></h3>
    <div class="bn-pair"><figure><figcaption>moving mean</figcaption><div class="bn-mean"></div></figure>
    <figure><figcaption>moving variance</figcaption><div class="bn-var"></div></figure></div>`;
  card.querySelector('h3 span').textContent = layer.name;
  const channelSeries = Array.from({ length: layer.channels }, (_, i) => ({
    label: `channel ${i}`,
    stroke: channelColor(i, layer.channels),
    width: layer.channels > 16 ? 1 : 1.75,
  }));
  const format = (v) => String(+v.toPrecision(2));
  place(card);
  const chart = (selector, data) =>
    lineChart(card.querySelector(selector), { height: 160, legend: false, series: channelSeries, yFormat: format, data });
  bnCharts.push({ name: layer.name, mean: chart('.bn-mean', layer.mean), variance: chart('.bn-var', layer.variance) });
}

function onState({ state: s, epochs, batches }) {
  if (epochs) state.plan = { epochs, batches };
  setPhase(s);
  if (s === 'paused') setStatus(`Paused at step ${state.step}.`);
}

let lastPredict = 0;

/** Steps arrive in groups (see train-worker.js): every point goes on the charts, which then
 * redraw, and the figures show the last step, once per group. */
function onBatches(steps) {
  let smooth;
  for (const m of steps) smooth = recordBatch(m);
  const m = steps.at(-1);
  for (const chart of [charts.loss, charts.acc, charts.speed, gradChart]) chart?.update();
  for (const c of bnCharts) {
    c.mean.update();
    c.variance.update();
  }
  const plan = state.plan ?? { epochs: 1, batches: m.batches };
  const total = Math.min(plan.epochs * plan.batches, intParam('steps') ?? Infinity);
  $('progress-bar').style.width = `${((100 * m.step) / total).toFixed(1)}%`;
  $('stat-step').textContent = number.format(m.step);
  $('stat-epoch').textContent = `${m.epoch + 1} / ${plan.epochs}`;
  $('stat-loss').textContent = smooth.loss.toFixed(3);
  $('stat-acc').textContent = `${(smooth.acc * 100).toFixed(1)}%`;
  $('stat-speed').textContent = number.format(Math.round(smooth.speed));
  if (state.phase === 'training') {
    setStatus(`Epoch ${m.epoch + 1}/${plan.epochs}, batch ${m.batch + 1}/${m.batches}: about ${formatSeconds(m.etaSeconds)} left in this epoch.`);
  }
  // Let a drawing's prediction follow the training.
  if (drawing && performance.now() - lastPredict > 1000) predictDrawing();
}

/** Adds one step's points to the charts' data; returns the smoothed loss, accuracy and speed. */
function recordBatch(m) {
  state.step = m.step;
  state.losses.push(m.loss);
  const smooth = { loss: series.loss(m.loss), acc: series.acc(m.acc), speed: series.speed(m.imagesPerSecond) };
  const push = (chart, values) => {
    chart.data[0].push(m.step);
    values.forEach((v, i) => chart.data[i + 1].push(v));
  };
  push(charts.loss, [m.loss, smooth.loss, null, null]);
  push(charts.acc, [m.acc, smooth.acc, null, null]);
  push(charts.speed, [m.imagesPerSecond, smooth.speed]);
  if (m.gradients) {
    const byName = new Map(m.gradients.map((g) => [g.name, g.gradNorm]));
    const norms = state.gradients.map((layer) => {
      const norm = byName.get(layer.name) ?? NaN;
      layer.batches += 1;
      // Math.min and Math.max keep a NaN, so a single bad norm stays visible in state.gradients.
      layer.min = Math.min(layer.min, norm);
      layer.max = Math.max(layer.max, norm);
      layer.last = norm;
      return norm;
    });
    gradChart.data[0].push(m.step);
    gradLines.forEach((line, i) => {
      // The norm of the layers' gradients taken together; a NaN in one stays a NaN.
      const norm = Math.sqrt(line.layers.reduce((sum, j) => sum + norms[j] ** 2, 0));
      // A log scale has no place for zero or a non-finite value: those are gaps.
      gradChart.data[i + 1].push(norm > 0 && Number.isFinite(norm) ? norm : null);
    });
  }
  if (m.bn) {
    // The layers share their steps column.
    bnHistory[0]?.mean[0].push(m.step);
    for (const layer of m.bn) {
      const h = bnHistory.find((b) => b.name === layer.name);
      if (!h) continue;
      for (const [data, values] of [[h.mean, layer.mean], [h.variance, layer.variance]]) values.forEach((v, i) => data[i + 1].push(v));
    }
  }
  return smooth;
}

function onEpoch(m) {
  const index = charts.loss.data[0].lastIndexOf(m.step);
  if (index >= 0) {
    charts.loss.data[3][index] = m.loss;
    charts.loss.data[4][index] = m.valLoss ?? null;
    charts.acc.data[3][index] = m.acc;
    charts.acc.data[4][index] = m.valAcc ?? null;
    charts.loss.update();
    charts.acc.update();
  }
  state.epochs.push(m);
  if (m.valAcc !== undefined) $('stat-test').textContent = `${(m.valAcc * 100).toFixed(2)}%`;
  const table = $('epochs');
  table.hidden = false;
  const row = table.tBodies[0].insertRow();
  for (const text of [
    String(m.epoch + 1),
    m.loss.toFixed(4),
    `${(m.acc * 100).toFixed(2)}%`,
    m.valLoss === undefined ? '–' : m.valLoss.toFixed(4),
    m.valAcc === undefined ? '–' : `${(m.valAcc * 100).toFixed(2)}%`,
    formatSeconds(m.seconds),
  ]) {
    row.insertCell().textContent = text;
  }
}

function onDone(m) {
  state.result = m;
  setPhase('done');
  $('stat-test').textContent = `${(m.testAcc * 100).toFixed(2)}%`;
  $('progress-bar').style.width = '100%';
  setStatus(
    `${m.stoppedEarly ? 'Stopped' : 'Done'} after ${number.format(m.steps)} steps in ${formatSeconds(m.seconds)} ` +
      `(${number.format(Math.round(m.imagesPerSecond))} images/s). ` +
      `Test accuracy ${(m.testAcc * 100).toFixed(2)}% on ${number.format(m.testCount)} images.`,
  );
  predictDrawing();
}

function setPhase(phase) {
  state.phase = phase;
  const busy = phase === 'training' || phase === 'paused' || phase === 'starting';
  $('start').disabled = !(phase === 'ready' || phase === 'done');
  $('start').textContent = phase === 'done' ? 'Train again' : 'Start';
  $('pause').disabled = !(phase === 'training' || phase === 'paused');
  $('pause').textContent = phase === 'paused' ? 'Resume' : 'Pause';
  $('stop').disabled = !busy;
  for (const name of ['variant', 'batchSize', 'epochs', 'threads']) form.elements[name].disabled = busy || phase === 'loading';
  for (const id of ['load-saved', 'load-files']) $(id).disabled = busy || phase === 'loading' || (id === 'load-saved' && !savedRecord);
  document.body.dataset.phase = phase;
}

function setStatus(text) {
  $('status').textContent = text;
}

function showError(text) {
  state.errors.push(text);
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
}

function hideError() {
  $('error').hidden = true;
}

function formatSeconds(s) {
  if (!Number.isFinite(s)) return '?';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 90) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
}

$('start').addEventListener('click', start);
$('pause').addEventListener('click', () => worker.postMessage({ type: state.phase === 'paused' ? 'resume' : 'pause' }));
$('stop').addEventListener('click', () => {
  worker.postMessage({ type: 'stop' });
  setStatus('Stopping after this batch…');
});
form.elements.learningRate.addEventListener('change', () => {
  const lr = Number(form.elements.learningRate.value);
  if (lr > 0 && state.phase !== 'loading') worker.postMessage({ type: 'setLearningRate', learningRate: lr });
});
form.addEventListener('submit', (e) => e.preventDefault());

// ---------------------------------------------------------------- threads

function threadOptions() {
  const select = form.elements.threads;
  const isolated = window.crossOriginIsolated;
  const options = [['auto', isolated ? `one per core (${cores})` : 'auto (1: not isolated)']];
  for (let n = 1; n <= cores; n++) options.push([String(n), n === 1 ? '1 (SIMD-only build)' : String(n)]);
  for (const [value, label] of options) {
    const option = new Option(label, value);
    // Without isolation only the single-threaded build can load.
    if (!isolated && value !== 'auto' && value !== '1') option.disabled = true;
    select.add(option);
  }
  const wanted = params.get('threads');
  select.value = wanted && options.some(([v]) => v === wanted) ? wanted : 'auto';
}

const threadsValue = () => {
  const v = form.elements.threads.value;
  return v === 'auto' ? 'auto' : Number(v);
};

// One WASM instance per worker, with its thread count fixed when it loads: another count
// needs a new worker. A model that exists moves over as files.
form.elements.threads.addEventListener('change', async () => {
  const files = state.model ? await request('exportModel').catch(() => null) : null;
  startWorker(threadsValue());
  setStatus('Restarting the worker with the new thread count…');
  if (files) {
    await waitFor(() => state.phase === 'ready');
    await request('importModel', { modelJson: files.modelJson, weights: files.weights, source: state.model.source }, [files.weights.buffer]);
  }
});

function waitFor(condition) {
  return new Promise((resolve) => {
    const check = () => (condition() ? resolve() : setTimeout(check, 50));
    check();
  });
}

// ---------------------------------------------------------------- drawing

const pad = $('pad');
const padContext = pad.getContext('2d', { willReadFrequently: true });
let drawing = false;
let stroke = null;

function padPoint(event) {
  const r = pad.getBoundingClientRect();
  return [((event.clientX - r.left) * pad.width) / r.width, ((event.clientY - r.top) * pad.height) / r.height];
}

pad.addEventListener('pointerdown', (event) => {
  pad.setPointerCapture(event.pointerId);
  stroke = padPoint(event);
  padContext.lineCap = 'round';
  padContext.lineJoin = 'round';
  padContext.lineWidth = 20;
  padContext.strokeStyle = '#0f172a';
  padContext.fillStyle = '#0f172a';
  padContext.beginPath();
  padContext.arc(stroke[0], stroke[1], padContext.lineWidth / 2, 0, Math.PI * 2);
  padContext.fill();
  drawing = true;
  document.body.dataset.drawn = '';
});
pad.addEventListener('pointermove', (event) => {
  if (!stroke) return;
  const p = padPoint(event);
  padContext.beginPath();
  padContext.moveTo(stroke[0], stroke[1]);
  padContext.lineTo(p[0], p[1]);
  padContext.stroke();
  stroke = p;
  if (performance.now() - lastPredict > 120) predictDrawing();
});
const endStroke = () => {
  if (!stroke) return;
  stroke = null;
  predictDrawing();
};
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);

$('clear').addEventListener('click', () => {
  padContext.clearRect(0, 0, pad.width, pad.height);
  drawing = false;
  delete document.body.dataset.drawn;
  $('seen').getContext('2d').clearRect(0, 0, SIZE, SIZE);
  showProbabilities(null);
});

let predicting = false;
let predictAgain = false;

/** Classifies the drawing; one request at a time, the latest drawing wins. */
async function predictDrawing() {
  if (!drawing || !worker) return;
  if (predicting) {
    predictAgain = true;
    return;
  }
  lastPredict = performance.now();
  const { data } = padContext.getImageData(0, 0, pad.width, pad.height);
  const ink = new Float32Array(pad.width * pad.height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[i * 4 + 3] / 255;
  const pixels = toMnist(ink, pad.width, pad.height);
  if (!pixels) return;
  showSeen(pixels);
  if (!state.model) {
    $('guess-text').textContent = 'Train or load a model first';
    return;
  }
  predicting = true;
  state.predicting = true;
  try {
    const { probs } = await request('predict', { pixels });
    showProbabilities(probs);
  } catch (err) {
    showError(`Prediction failed: ${err.message}`);
  } finally {
    predicting = false;
    if (predictAgain) {
      predictAgain = false;
      predictDrawing();
    }
    state.predicting = predicting;
  }
}

function showSeen(pixels) {
  const seen = $('seen').getContext('2d');
  const image = seen.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = Math.round(255 - pixels[i] * 255);
    image.data.set([v, v, v, 255], i * 4);
  }
  seen.putImageData(image, 0, 0);
}

function buildProbabilityRows() {
  const box = $('probs');
  for (let d = 0; d < 10; d++) {
    const row = document.createElement('div');
    row.className = 'prob';
    row.dataset.digit = String(d);
    row.innerHTML = `<span class="digit">${d}</span><span class="bar"><i></i></span><span class="pct">–</span>`;
    box.append(row);
  }
}

function showProbabilities(probs) {
  state.prediction = probs ? Array.from(probs) : null;
  const rows = $('probs').children;
  const best = probs ? probs.indexOf(Math.max(...probs)) : -1;
  for (let d = 0; d < 10; d++) {
    const row = rows[d];
    const p = probs ? probs[d] : 0;
    row.dataset.p = probs ? String(p) : '';
    row.classList.toggle('best', d === best);
    row.querySelector('i').style.width = `${(p * 100).toFixed(1)}%`;
    row.querySelector('.pct').textContent = probs ? `${(p * 100).toFixed(1)}%` : '–';
  }
  $('guess-digit').textContent = probs ? String(best) : '–';
  $('guess-digit').classList.toggle('none', !probs);
  $('guess-text').textContent = probs ? `${(probs[best] * 100).toFixed(1)}% sure` : 'Draw 0–9';
}

// ---------------------------------------------------------------- saving and loading

let savedRecord = null;

function describeSaved(record) {
  $('saved-info').textContent = record
    ? `Saved in this browser: ${record.description}, ${new Date(record.savedAt).toLocaleString()}.`
    : '';
}

function modelDescription() {
  const r = state.result;
  const variant = state.model?.source ?? 'model';
  return r ? `${variant}, ${(r.testAcc * 100).toFixed(2)}% test accuracy` : variant;
}

$('download').addEventListener('click', async () => {
  try {
    const { modelJson, weights } = await request('exportModel');
    for (const [name, body, type] of [
      ['model.json', modelJson, 'application/json'],
      ['weights.safetensors', weights, 'application/octet-stream'],
    ]) {
      const url = URL.createObjectURL(new Blob([body], { type }));
      const a = Object.assign(document.createElement('a'), { href: url, download: name });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    }
  } catch (err) {
    showError(`Download failed: ${err.message}`);
  }
});

$('save').addEventListener('click', async () => {
  try {
    const { modelJson, weights } = await request('exportModel');
    const record = { modelJson, weights, savedAt: Date.now(), description: modelDescription() };
    await saveModel(record);
    savedRecord = record;
    describeSaved(record);
    setPhase(state.phase);
    state.saved = true;
  } catch (err) {
    showError(`Saving in the browser failed: ${err.message}`);
  }
});

async function importModel(modelJson, weights, source) {
  hideError();
  try {
    // A copy goes to the worker: the record keeps its own bytes for another load.
    const bytes = new Uint8Array(weights);
    await request('importModel', { modelJson, weights: bytes, source }, [bytes.buffer]);
    state.loadedFrom = source;
  } catch (err) {
    showError(`Loading the model failed: ${err.name}: ${err.message}`);
  }
}

$('load-saved').addEventListener('click', async () => {
  const record = await loadSavedModel();
  if (record) await importModel(record.modelJson, record.weights, `saved: ${record.description}`);
});

$('load-files').addEventListener('click', () => $('files').click());
$('files').addEventListener('change', async () => {
  const files = [...$('files').files];
  $('files').value = '';
  const json = files.find((f) => f.name.endsWith('.json'));
  const weights = files.find((f) => f.name.endsWith('.safetensors'));
  if (!json || !weights) {
    showError('Choose both files of a saved model: model.json and weights.safetensors.');
    return;
  }
  await importModel(await json.text(), new Uint8Array(await weights.arrayBuffer()), `files: ${json.name} + ${weights.name}`);
});

// ---------------------------------------------------------------- start-up

for (const [name, param] of [['variant', 'model'], ['batchSize', 'batch'], ['learningRate', 'lr'], ['epochs', 'epochs']]) {
  if (params.has(param)) form.elements[name].value = params.get(param);
}
threadOptions();
buildProbabilityRows();
makeCharts();
resetRun();
setPhase('loading');
startWorker(threadsValue());
loadSavedModel()
  .then((record) => {
    savedRecord = record ?? null;
    describeSaved(savedRecord);
    setPhase(state.phase);
  })
  .catch(() => {});
