/**
 * Turning symbolic tensors into a graph: from the outputs back to the inputs, the layers in
 * topological order (every layer after the ones it reads), as Keras' and TF.js's functional
 * models do, with the checks that make a graph a model.
 */
import { ArgumentError } from './errors.js';
import { SymbolicTensor, type Layer } from './layers.js';

/** The nodes of a graph in the order the core adds them, each with its inputs' indices. */
export interface GraphPlan {
  layers: Layer[];
  inputs: number[][];
  outputs: number[];
}

const label = (t: SymbolicTensor) => (t.layer.name ? `'${t.layer.name}' (${t.layer.className})` : `a ${t.layer.className} layer`);

/** Plans the graph from `inputs` to `outputs`; throws an ArgumentError naming what is wrong. */
export function planGraph(inputs: SymbolicTensor[], outputs: SymbolicTensor[]): GraphPlan {
  for (const [what, list] of [['inputs', inputs], ['outputs', outputs]] as const) {
    if (list.length === 0) throw new ArgumentError(`a model needs ${what}`);
    list.forEach((t, i) => {
      if (!(t instanceof SymbolicTensor)) throw new ArgumentError(`${what}[${i}] is not a symbolic tensor (from layers.input() or layer.apply())`);
    });
  }
  inputs.forEach((t) => {
    if (t.layer.className !== 'InputLayer') throw new ArgumentError(`model inputs must come from layers.input(), got the output of ${label(t)}`);
  });
  const order: SymbolicTensor[] = [];
  const index = new Map<SymbolicTensor, number>();
  // Depth-first from each output; a tensor is placed after all of its parents. (A tensor's
  // parents exist before it, so there is no cycle to find; names, unused inputs and shapes
  // are the core's to check.)
  const visit = (t: SymbolicTensor) => {
    if (index.has(t)) return;
    if (t.layer.className === 'InputLayer' && !inputs.includes(t)) {
      throw new ArgumentError(`graph disconnected: the outputs need the input ${label(t)}, which is not among the model's inputs`);
    }
    t.parents.forEach(visit);
    index.set(t, order.length);
    order.push(t);
  };
  outputs.forEach(visit);
  return {
    layers: order.map((t) => t.layer),
    inputs: order.map((t) => t.parents.map((p) => index.get(p)!)),
    outputs: outputs.map((t) => index.get(t)!),
  };
}
