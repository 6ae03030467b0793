/**
 * Callbacks with Keras' hooks and the standard ones (early stopping, reducing the learning
 * rate on a plateau, checkpoints, a CSV log, the progress line). `fit` awaits every hook; a hook may set
 * `model.stopTraining = true` to end training after the current batch.
 */
import { ArgumentError, StateError } from './errors.js';
import { checkOptions, describeValue } from './options.js';
import { platform } from './runtime.js';
import type { Model } from './model.js';

/** Loss and metrics under Keras' names (`loss`, `accuracy`, `val_loss`, ...), and others fit adds. */
export type Logs = Record<string, number>;

/** The hooks `fit` calls. Batch logs hold this batch's loss and metric values; epoch logs the epoch's. */
export interface CallbackHooks {
  onTrainBegin?: (logs: Logs) => void | Promise<void>;
  onTrainEnd?: (logs: Logs) => void | Promise<void>;
  onEpochBegin?: (epoch: number, logs: Logs) => void | Promise<void>;
  onEpochEnd?: (epoch: number, logs: Logs) => void | Promise<void>;
  onBatchBegin?: (batch: number, logs: Logs) => void | Promise<void>;
  onBatchEnd?: (batch: number, logs: Logs) => void | Promise<void>;
}

/** The parameters of a `fit` call a callback sees. */
export interface TrainParams {
  /** The epoch `fit` stops before. */
  epochs?: number;
  /** Batches per epoch. */
  steps?: number;
  verbose?: number;
}

/** A callback with access to the model it trains (set by `fit` before `onTrainBegin`). */
export class Callback implements CallbackHooks {
  model: Model | null = null;
  /** What `fit` was asked for (Keras' `params`), set before `onTrainBegin`. */
  params: TrainParams = {};
  // Keras' Callback: every hook does nothing until a subclass overrides it.
  onTrainBegin(_logs: Logs): void | Promise<void> {}
  onTrainEnd(_logs: Logs): void | Promise<void> {}
  onEpochBegin(_epoch: number, _logs: Logs): void | Promise<void> {}
  onEpochEnd(_epoch: number, _logs: Logs): void | Promise<void> {}
  onBatchBegin(_batch: number, _logs: Logs): void | Promise<void> {}
  onBatchEnd(_batch: number, _logs: Logs): void | Promise<void> {}
  setModel(model: Model): void {
    this.model = model;
  }
  setParams(params: TrainParams): void {
    this.params = { ...params };
  }
  protected get trained(): Model {
    if (!this.model) throw new StateError(`${this.constructor.name} is used outside fit()`);
    return this.model;
  }
}

type Mode = 'auto' | 'min' | 'max';

/** Keras' 'auto': accuracies and AUC are maximized, everything else minimized. */
function maximizes(monitor: string, mode: Mode): boolean {
  if (mode === 'auto') return /(acc|accuracy|auc)$/.test(monitor);
  return mode === 'max';
}

function nonNegative(what: string, key: string, v: number, integer = false): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new ArgumentError(`${what}: ${key} must be a non-negative ${integer ? 'integer' : 'number'}, got ${describeValue(v)}`);
  }
  return v;
}

function flag(what: string, key: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ArgumentError(`${what}: ${key} must be true or false, got ${describeValue(v)}`);
  return v;
}

function text(what: string, key: string, v: unknown, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || v === '') throw new ArgumentError(`${what}: ${key} must be a non-empty string, got ${describeValue(v)}`);
  return v;
}

function mode(what: string, v: unknown): Mode {
  if (v !== 'auto' && v !== 'min' && v !== 'max') throw new ArgumentError(`${what}: mode must be 'auto', 'min' or 'max', got ${describeValue(v)}`);
  return v;
}

function monitored(what: string, monitor: string, logs: Logs): number | undefined {
  const v = logs[monitor];
  if (v === undefined) {
    console.warn(`${what}: '${monitor}' is not in the logs (available: ${Object.keys(logs).join(', ')})`);
  }
  return v;
}

export interface EarlyStoppingOptions {
  /** Default 'val_loss'. */
  monitor?: string;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Epochs without improvement before stopping. Default 0. */
  patience?: number;
  mode?: Mode;
  /** Stop unless the monitored value beats this. */
  baseline?: number;
  /** On stopping, put back the weights of the best epoch. Default false. */
  restoreBestWeights?: boolean;
  /** Epochs to wait before watching. Default 0. */
  startFromEpoch?: number;
}

/** Keras' EarlyStopping. */
export class EarlyStopping extends Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly baseline: number | undefined;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  readonly #max: boolean;
  #wait = 0;
  #best = NaN;
  #bestWeights: ReturnType<Model['getWeights']> | null = null;
  /** The epoch training stopped at (0 when it ran to the end), and the best epoch. */
  stoppedEpoch = 0;
  bestEpoch = 0;

  constructor(options: EarlyStoppingOptions = {}) {
    super();
    const what = 'earlyStopping';
    checkOptions(what, options, ['monitor', 'minDelta', 'patience', 'mode', 'baseline', 'restoreBestWeights', 'startFromEpoch']);
    this.monitor = text(what, 'monitor', options.monitor, 'val_loss');
    this.minDelta = Math.abs(nonNegative(what, 'minDelta', options.minDelta ?? 0));
    this.patience = nonNegative(what, 'patience', options.patience ?? 0, true);
    this.startFromEpoch = nonNegative(what, 'startFromEpoch', options.startFromEpoch ?? 0, true);
    if (options.baseline !== undefined && !(typeof options.baseline === 'number' && Number.isFinite(options.baseline))) {
      throw new ArgumentError(`${what}: baseline must be a finite number, got ${describeValue(options.baseline)}`);
    }
    this.baseline = options.baseline;
    this.restoreBestWeights = flag(what, 'restoreBestWeights', options.restoreBestWeights, false);
    this.#max = maximizes(this.monitor, mode(what, options.mode ?? 'auto'));
  }

  #improves(value: number, reference: number): boolean {
    if (Number.isNaN(reference)) return true;
    return this.#max ? value - this.minDelta > reference : value + this.minDelta < reference;
  }

  override onTrainBegin(): void {
    this.#wait = 0;
    this.#best = NaN;
    this.#bestWeights = null;
    this.stoppedEpoch = 0;
    this.bestEpoch = 0;
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    const current = monitored('earlyStopping', this.monitor, logs);
    if (current === undefined || epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.#bestWeights === null) this.#bestWeights = this.trained.getWeights();
    this.#wait += 1;
    if (this.#improves(current, this.#best)) {
      this.#best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.#bestWeights = this.trained.getWeights();
      // Keras: an improvement that does not beat the baseline still counts as waiting.
      if (this.baseline === undefined || this.#improves(current, this.baseline)) this.#wait = 0;
      return;
    }
    if (this.#wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.trained.stopTraining = true;
      if (this.restoreBestWeights && this.#bestWeights) this.trained.setWeights(this.#bestWeights);
    }
  }
}

export interface ReduceLROnPlateauOptions {
  /** Default 'val_loss'. */
  monitor?: string;
  /** The rate is multiplied by it; below 1. Default 0.1. */
  factor?: number;
  /** Epochs without improvement before reducing. Default 10. */
  patience?: number;
  mode?: Mode;
  /** Smallest change that counts as an improvement. Default 1e-4. */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
  /** The rate never goes below it. Default 0. */
  minLr?: number;
}

/** Keras' ReduceLROnPlateau. */
export class ReduceLROnPlateau extends Callback {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  readonly #max: boolean;
  #wait = 0;
  #cooldownLeft = 0;
  #best = NaN;

  constructor(options: ReduceLROnPlateauOptions = {}) {
    super();
    const what = 'reduceLROnPlateau';
    checkOptions(what, options, ['monitor', 'factor', 'patience', 'mode', 'minDelta', 'cooldown', 'minLr']);
    this.monitor = text(what, 'monitor', options.monitor, 'val_loss');
    this.factor = options.factor ?? 0.1;
    if (typeof this.factor !== 'number' || !(this.factor > 0 && this.factor < 1)) throw new ArgumentError(`${what}: factor must be in (0, 1), got ${describeValue(options.factor)}`);
    this.patience = nonNegative(what, 'patience', options.patience ?? 10, true);
    this.minDelta = nonNegative(what, 'minDelta', options.minDelta ?? 1e-4);
    this.cooldown = nonNegative(what, 'cooldown', options.cooldown ?? 0, true);
    this.minLr = nonNegative(what, 'minLr', options.minLr ?? 0);
    this.#max = maximizes(this.monitor, mode(what, options.mode ?? 'auto'));
  }

  override onTrainBegin(): void {
    this.#wait = 0;
    this.#cooldownLeft = 0;
    this.#best = NaN;
  }

  override onEpochEnd(_epoch: number, logs: Logs): void {
    const current = monitored('reduceLROnPlateau', this.monitor, logs);
    if (current === undefined) return;
    if (this.#cooldownLeft > 0) {
      this.#cooldownLeft -= 1;
      this.#wait = 0;
    }
    const better = Number.isNaN(this.#best) || (this.#max ? current > this.#best + this.minDelta : current < this.#best - this.minDelta);
    if (better) {
      this.#best = current;
      this.#wait = 0;
    } else if (this.#cooldownLeft === 0) {
      this.#wait += 1;
      if (this.#wait >= this.patience) {
        const lr = this.trained.learningRate;
        if (lr > this.minLr) {
          this.trained.setLearningRate(Math.max(lr * this.factor, this.minLr));
          this.#cooldownLeft = this.cooldown;
          this.#wait = 0;
        }
      }
    }
  }
}

/** Where a checkpoint goes: a directory (Node), or a function given the files (any runtime). */
export type CheckpointTarget = string | ((files: Record<string, Uint8Array | string>, epoch: number, logs: Logs) => void | Promise<void>);

export interface ModelCheckpointOptions {
  /** A directory; `{epoch}` in it becomes the epoch number (1-based, as Keras). */
  filepath: CheckpointTarget;
  /** Default 'val_loss'. */
  monitor?: string;
  /** Save only when the monitored value improves. Default false. */
  saveBestOnly?: boolean;
  mode?: Mode;
  /** Save at the end of every epoch ('epoch', the default) or every this many batches. */
  saveFreq?: 'epoch' | number;
}

/** Keras' ModelCheckpoint: the whole model (`model.json` and weights), loadable with `loadModel`. */
export class ModelCheckpoint extends Callback {
  readonly filepath: CheckpointTarget;
  readonly monitor: string;
  readonly saveBestOnly: boolean;
  readonly saveFreq: 'epoch' | number;
  readonly #max: boolean;
  #best = NaN;
  #epoch = 0;
  #batches = 0;
  /** Where the last checkpoint went (its directory), for Node targets. */
  lastSaved: string | null = null;

  constructor(options: ModelCheckpointOptions) {
    super();
    const what = 'modelCheckpoint';
    checkOptions(what, options, ['filepath', 'monitor', 'saveBestOnly', 'mode', 'saveFreq']);
    if ((typeof options.filepath !== 'string' || options.filepath === '') && typeof options.filepath !== 'function') {
      throw new ArgumentError(`${what}: filepath must be a directory or a function that takes the files`);
    }
    this.filepath = options.filepath;
    this.monitor = text(what, 'monitor', options.monitor, 'val_loss');
    this.saveBestOnly = flag(what, 'saveBestOnly', options.saveBestOnly, false);
    this.saveFreq = options.saveFreq ?? 'epoch';
    if (this.saveFreq !== 'epoch' && !(Number.isInteger(this.saveFreq) && this.saveFreq > 0)) {
      throw new ArgumentError(`${what}: saveFreq must be 'epoch' or a positive number of batches, got ${describeValue(options.saveFreq)}`);
    }
    this.#max = maximizes(this.monitor, mode(what, options.mode ?? 'auto'));
  }

  override onTrainBegin(): void {
    this.#best = NaN;
    this.#batches = 0;
  }

  override onEpochBegin(epoch: number): void {
    this.#epoch = epoch;
  }

  override async onBatchEnd(_batch: number, logs: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') return;
    this.#batches += 1;
    if (this.#batches % this.saveFreq === 0) await this.#save(this.#epoch, logs);
  }

  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.#save(epoch, logs);
  }

  async #save(epoch: number, logs: Logs): Promise<void> {
    if (this.saveBestOnly) {
      const current = monitored('modelCheckpoint', this.monitor, logs);
      if (current === undefined) return;
      const better = Number.isNaN(this.#best) || (this.#max ? current > this.#best : current < this.#best);
      if (!better) return;
      this.#best = current;
    }
    const files = this.trained.toFiles();
    if (typeof this.filepath === 'function') {
      await this.filepath(files, epoch, logs);
      return;
    }
    const dir = this.filepath.replaceAll('{epoch}', String(epoch + 1));
    await platform().writeFiles(dir, files);
    this.lastSaved = dir;
  }
}

export interface CsvLoggerOptions {
  /** The file to write (Node). */
  filename: string;
  /** Default ','. */
  separator?: string;
  /** Add to an existing file instead of replacing it. Default false. */
  append?: boolean;
}

/** Keras' CSVLogger: one row per epoch, `epoch` then the logs' keys in sorted order (Node). */
export class CsvLogger extends Callback {
  readonly filename: string;
  readonly separator: string;
  readonly append: boolean;
  #text = '';
  #keys: string[] | null = null;

  constructor(options: CsvLoggerOptions) {
    super();
    checkOptions('csvLogger', options, ['filename', 'separator', 'append']);
    if (typeof options.filename !== 'string' || options.filename === '') throw new ArgumentError('csvLogger: filename must be a path');
    this.filename = options.filename;
    this.separator = text('csvLogger', 'separator', options.separator, ',');
    this.append = flag('csvLogger', 'append', options.append, false);
  }

  override async onTrainBegin(): Promise<void> {
    this.#keys = null;
    this.#text = '';
    if (this.append) {
      try {
        this.#text = new TextDecoder().decode(await platform().readFile(this.filename));
        // Appending to a file that has a header: keep its columns.
        const header = this.#text.split('\n')[0];
        if (header) this.#keys = header.split(this.separator).slice(1);
      } catch {
        this.#text = '';
      }
    }
  }

  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (!this.#keys) {
      this.#keys = Object.keys(logs).sort();
      this.#text += ['epoch', ...this.#keys].join(this.separator) + '\n';
    }
    this.#text += [epoch, ...this.#keys.map((k) => (logs[k] === undefined ? '' : String(logs[k])))].join(this.separator) + '\n';
    const slash = this.filename.lastIndexOf('/');
    const [dir, name] = slash < 0 ? ['.', this.filename] : [this.filename.slice(0, slash) || '/', this.filename.slice(slash + 1)];
    await platform().writeFiles(dir, { [name]: this.#text });
  }
}

/*
 * Keras' progress line: `fit(..., { verbose })` adds a ProgbarLogger unless one is among
 * the callbacks.
 *
 *     Epoch 1/10
 *     469/469 ━━━━━━━━━━━━━━━━━━━━ 31s 66ms/step - accuracy: 0.9912 - loss: 0.0281 - val_accuracy: 0.9890 - val_loss: 0.0350
 *
 * On a terminal (`isTTY`) the line is redrawn in place, at most ten times a second, with
 * Keras' colours; elsewhere (a log file, a pipe, a browser's console) only the finished line
 * of each epoch is written, so a log gets no carriage returns. `verbose: 2` is Keras' one
 * line per epoch (`469/469 - 31s - 66ms/step - ...`).
 */

/** Where progress goes: `process.stdout` in Node, or anything with `write`. */
export interface ProgressStream {
  write(text: string): unknown;
  /** A terminal: the line is redrawn in place. */
  isTTY?: boolean;
}

/** 0: nothing; 1: the progress bar; 2: one line per epoch. */
export type Verbosity = 0 | 1 | 2;

export interface ProgbarLoggerOptions {
  /** 1 (default): the bar; 2: one line per epoch. */
  verbose?: 1 | 2;
  /** Default: standard output in Node, the console in browsers. */
  stream?: ProgressStream;
}

const WIDTH = 20;
/** The fewest milliseconds between two redraws on a terminal. */
const REDRAW_MS = 100;

const bold = (s: string) => `\x1b[1m${s}\x1b[0m`;

/** Keras' times: `31s`, `2:05`, `1:02:03` for what is left; `66ms/step` per step. */
function eta(seconds: number): string {
  const s = Math.floor(seconds);
  if (s > 3600) return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  if (s > 60) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `${s}s`;
}

function perStep(seconds: number): string {
  if (seconds >= 1 || seconds === 0) return `${seconds.toFixed(0)}s/step`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(0)}ms/step`;
  return `${(seconds * 1e6).toFixed(0)}us/step`;
}

/** Keras' values: four decimals, or Python's exponent notation (`5.0000e-04`) up to 1e-3. */
function value(v: number): string {
  if (Math.abs(v) > 1e-3 || !Number.isFinite(v)) return v.toFixed(4);
  const [mantissa, exponent] = v.toExponential(4).split('e');
  return `${mantissa}e${exponent[0]}${exponent.slice(1).padStart(2, '0')}`;
}

/** Checks `fit`'s `verbose`: 0, 1 or 2. */
export function verbosity(v: unknown): Verbosity {
  if (v !== 0 && v !== 1 && v !== 2) throw new ArgumentError(`fit: verbose must be 0, 1 or 2, got ${describeValue(v)}`);
  return v;
}

/** Keras' ProgbarLogger: the progress of each epoch, with the running loss and metrics. */
export class ProgbarLogger extends Callback {
  readonly verbose: 1 | 2;
  readonly #stream: ProgressStream | undefined;
  #out: ProgressStream | null = null;
  #epochStart = 0;
  #lastDraw = -Infinity;
  #drawn = false;
  #batches = 0;
  /** Whether the epoch's batch count is known (a dataset without batchesPerEpoch: not until it ends). */
  #known = true;
  #seen = 0;
  #examples = 0;
  /** Size-weighted sums of the batch values, for the running means shown during an epoch. */
  #sums = new Map<string, number>();

  constructor(options: ProgbarLoggerOptions = {}) {
    super();
    checkOptions('progbarLogger', options, ['verbose', 'stream']);
    const v = options.verbose ?? 1;
    if (v !== 1 && v !== 2) throw new ArgumentError(`progbarLogger: verbose must be 1 or 2, got ${describeValue(v)}`);
    this.verbose = v;
    if (options.stream !== undefined && (options.stream === null || typeof options.stream.write !== 'function')) {
      throw new ArgumentError(`progbarLogger: stream must have a write(text) method, got ${describeValue(options.stream)}`);
    }
    this.#stream = options.stream;
  }

  get #tty(): boolean {
    return this.verbose === 1 && this.#out?.isTTY === true;
  }

  override onTrainBegin(): void {
    this.#out = this.#stream ?? platform().progressOutput();
  }

  override onEpochBegin(epoch: number): void {
    this.#epochStart = performance.now();
    this.#lastDraw = -Infinity;
    this.#drawn = false;
    this.#batches = 0;
    this.#seen = 0;
    this.#examples = 0;
    this.#sums.clear();
    const epochs = this.params.epochs;
    if (epochs !== undefined && epochs > 1) this.#write(`Epoch ${epoch + 1}/${epochs}\n`);
  }

  override onBatchEnd(batch: number, logs: Logs): void {
    const size = logs.size ?? 1;
    this.#seen = batch + 1;
    this.#known = logs.batches !== undefined;
    this.#batches = logs.batches ?? this.#seen;
    this.#examples += size;
    for (const name of this.#names()) {
      if (logs[name] !== undefined) this.#sums.set(name, (this.#sums.get(name) ?? 0) + logs[name] * size);
    }
    if (!this.#tty) return;
    const now = performance.now();
    if (now - this.#lastDraw < REDRAW_MS && (!this.#known || this.#seen < this.#batches)) return;
    this.#lastDraw = now;
    const running: Logs = {};
    for (const [k, s] of this.#sums) running[k] = s / this.#examples;
    this.#draw(running, now, false);
  }

  override onEpochEnd(_epoch: number, logs: Logs): void {
    if (this.#seen === 0) return;
    const shown: Logs = {};
    for (const name of this.#names()) {
      for (const key of [name, `val_${name}`]) if (logs[key] !== undefined) shown[key] = logs[key];
    }
    this.#draw(shown, performance.now(), true);
  }

  /** The loss and metrics, as the model names them. */
  #names(): string[] {
    return this.model ? this.model.metricsNames : ['loss'];
  }

  #draw(logs: Logs, now: number, finished: boolean): void {
    const elapsed = (now - this.#epochStart) / 1000;
    const step = elapsed / this.#seen;
    const values = Object.keys(logs).sort().map((k) => ` - ${k}: ${value(logs[k])}`).join('');
    if (!finished && !this.#known) {
      // As Keras for a dataset of unknown length: the count so far, no bar.
      // (Only a terminal is redrawn during an epoch.)
      this.#write(`\r${bold(`${this.#seen}/Unknown`)} ${bold(`${elapsed.toFixed(0)}s`)} ${perStep(step)}${values}\x1b[K`);
      this.#drawn = true;
      return;
    }
    const digits = String(this.#batches).length;
    const count = `${String(this.#seen).padStart(digits)}/${this.#batches}`;
    if (this.verbose === 2) {
      this.#write(`${count} - ${elapsed.toFixed(0)}s - ${perStep(step)}${values}\n`);
      return;
    }
    const time = finished || this.#seen >= this.#batches ? `${elapsed.toFixed(0)}s` : eta(step * (this.#batches - this.#seen));
    if (!this.#tty) {
      this.#write(`${count} ${'━'.repeat(WIDTH)} ${time} ${perStep(step)}${values}\n`);
      return;
    }
    const filled = Math.floor((WIDTH * this.#seen) / this.#batches);
    const bar = (filled > 0 ? `\x1b[32m${'━'.repeat(filled)}\x1b[0m` : '') + `\x1b[37m${'━'.repeat(WIDTH - filled)}\x1b[0m`;
    this.#write(`\r${bold(count)} ${bar} ${bold(time)} ${perStep(step)}${values}\x1b[K${finished ? '\n' : ''}`);
    this.#drawn = !finished;
  }

  override onTrainEnd(): void {
    // A bar left unfinished (training stopped mid-epoch) ends its line.
    if (this.#drawn) this.#write('\n');
    this.#drawn = false;
  }

  #write(text: string): void {
    (this.#out ?? this.#stream ?? platform().progressOutput()).write(text);
  }
}

/** Factories in TF.js' style: `callbacks.earlyStopping({ patience: 2 })`. */
export const callbacks = {
  earlyStopping: (options?: EarlyStoppingOptions) => new EarlyStopping(options),
  reduceLROnPlateau: (options?: ReduceLROnPlateauOptions) => new ReduceLROnPlateau(options),
  modelCheckpoint: (options: ModelCheckpointOptions) => new ModelCheckpoint(options),
  csvLogger: (options: CsvLoggerOptions) => new CsvLogger(options),
  progbarLogger: (options?: ProgbarLoggerOptions) => new ProgbarLogger(options),
};
