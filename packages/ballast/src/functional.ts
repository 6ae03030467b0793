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
  const onPath = new Set<SymbolicTensor>();
  // Depth-first from each output; a tensor is placed after all of its parents.
  const visit = (t: SymbolicTensor) => {
    if (index.has(t)) return;
    if (onPath.has(t)) throw new ArgumentError(`the graph has a cycle through ${label(t)}`);
    if (t.layer.className === 'InputLayer' && !inputs.includes(t)) {
      throw new ArgumentError(`graph disconnected: the outputs need the input ${label(t)}, which is not among the model's inputs`);
    }
    onPath.add(t);
    t.parents.forEach(visit);
    onPath.delete(t);
    index.set(t, order.length);
    order.push(t);
  };
  outputs.forEach(visit);
  const unused = inputs.find((t) => !index.has(t));
  if (unused) throw new ArgumentError(`no output depends on the input ${label(unused)}`);
  const names = new Map<string, SymbolicTensor>();
  for (const t of order) {
    const name = t.layer.name;
    if (name === undefined) continue;
    if (names.has(name)) throw new ArgumentError(`two layers are named '${name}' (${names.get(name)!.layer.className} and ${t.layer.className}); names must be unique in a model`);
    names.set(name, t);
  }
  return {
    layers: order.map((t) => t.layer),
    inputs: order.map((t) => t.parents.map((p) => index.get(p)!)),
    outputs: outputs.map((t) => index.get(t)!),
  };
}
