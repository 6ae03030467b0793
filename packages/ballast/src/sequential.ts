/**
 * `Sequential`: a model that is a chain of layers, built by the same core graph as any
 * `Model` (one node after another).
 */
import { checkOptions } from './options.js';
import type { Model as WasmModel } from '../wasm/threads/ballast_wasm.js';
import { ArgumentError } from './errors.js';
import { Layer, SymbolicTensor } from './layers.js';
import { Model, registerModelClass, type LayerTime, type SummaryRow } from './model.js';

export class Sequential extends Model {
  /**
   * The first entry must be `layers.input({ shape })`. `seed` fixes the initial weights and
   * the dropout masks (with the same thread count, a run repeats exactly).
   */
  constructor(layerList: Array<Layer | SymbolicTensor>, options?: { seed?: number });
  /** @internal */
  constructor(layerList: { handle: WasmModel }, options?: { seed?: number });
  constructor(layerList: Array<Layer | SymbolicTensor> | { handle: WasmModel }, options: { seed?: number } = {}) {
    checkOptions('new Sequential', options, ['seed']);
    if (!Array.isArray(layerList)) {
      if (layerList === null || typeof layerList !== 'object' || !('handle' in layerList)) {
        throw new ArgumentError('new Sequential([...]) takes a list of layers, starting with layers.input({ shape })');
      }
      super({ handle: layerList.handle, seed: options.seed });
      return;
    }
    const [input, ...rest] = layerList;
    if (!(input instanceof SymbolicTensor) || input.layer.className !== 'InputLayer' || input.parents.length) {
      throw new ArgumentError('the first layer of a Sequential model must be layers.input({ shape })');
    }
    rest.forEach((layer, i) => {
      if (layer instanceof SymbolicTensor) throw new ArgumentError('only the first layer may be an input layer');
      if (!(layer instanceof Layer)) throw new ArgumentError(`entry ${i + 1} of the layer list is not a layer (from the layers.* factories)`);
      if (layer.output || rest.indexOf(layer) !== i) {
        throw new ArgumentError(`${layer.name ? `layer '${layer.name}'` : `a ${layer.className} layer`} is already in a graph; a layer is used once (shared layers are not supported)`);
      }
    });
    // The chain goes to the core as it is, which names each layer and infers its shape in
    // order, so errors name the layer as the model will call it.
    const chain = [input.layer, ...(rest as Layer[])];
    super({ plan: { layers: chain, inputs: chain.map((_, i) => (i ? [i - 1] : [])), outputs: [chain.length - 1] }, seed: options.seed });
  }

  /** The layers after the input, in order (read-only), as Keras' `Sequential.layers`. */
  override get layers(): readonly Layer[] {
    return Object.freeze(super.layers.slice(1));
  }

  // As in Keras, a Sequential model's layers, summary and timings leave out its input layer.
  override summaryRows(): SummaryRow[] {
    return super.summaryRows().slice(1);
  }

  override lastForwardMs(): number[] {
    return super.lastForwardMs().slice(1);
  }

  override lastStepProfile(): LayerTime[] {
    return super.lastStepProfile().filter((row) => row.type !== 'InputLayer');
  }

  protected override get modelClass(): string {
    return 'Sequential';
  }
}

registerModelClass('Sequential', (handle, seed) => new Sequential({ handle }, { seed }));
