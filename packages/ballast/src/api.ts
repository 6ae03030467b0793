/** The public API, the same from every entry point. */
export { BallastError, ShapeError, ArgumentError, DataError, NumericError, StateError } from './errors.js';
export { Tensor, matmul, tidy, type MatmulOptions, type Scaling, type Storage } from './tensor.js';
export { tensor, byteTensor, oneHot, type TensorLike, type NestedNumbers, type TypedNumbers, type ShapedValues } from './inputs.js';
export type { Env, ReadyOptions, BuildName } from './runtime.js';
export { layers, Layer, SymbolicTensor } from './layers.js';
export type * from './layers.js';
export { optimizers, schedules, type OptimizerConfig, type Clipping, type CommonOptions, type ScheduleConfig } from './optimizers.js';
export { Model, loadModel, modelFromFiles } from './model.js';
export { Sequential } from './sequential.js';
export type { CompileOptions, FitOptions, FitDatasetOptions, EvaluateOptions, PredictOptions, History, Callbacks, BatchInfo, WeightInfo, SummaryRow, LayerGradientHealth, LayerTime } from './model.js';
export { losses, type LossSpec, type LossObject, type CrossentropyOptions } from './losses.js';
export { metrics, type MetricSpec, type MetricObject } from './metrics.js';
export { callbacks, Callback, EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, CsvLogger, ProgbarLogger, type Logs, type CallbackHooks, type TrainParams, type ProgressStream, type ProgbarLoggerOptions } from './callbacks.js';
export { datasets, type LabelledData } from './datasets.js';
export { Dataset, RowBatch, ExampleRow, type Batch, type Values } from './dataset.js';
export { encodeSafetensors, decodeSafetensors, type NamedTensor } from './safetensors.js';
export { valueAndGrads, ops, Variable, type ValueAndGrads } from './autodiff.js';
export * as diagnostics from './diagnostics.js';
