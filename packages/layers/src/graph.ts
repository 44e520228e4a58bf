import * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;
type SymbolicTensor = tf.SymbolicTensor;

/** One call of a layer inside a model: the symbolic tensors it reads and writes. */
export interface LayerCall {
  readonly layer: Layer;
  readonly className: string;
  readonly inputs: readonly SymbolicTensor[];
  readonly outputs: readonly SymbolicTensor[];
}

/** A model as its layer calls in topological order (input layers left out), with its inputs and outputs. */
export interface ModelGraph {
  readonly calls: readonly LayerCall[];
  readonly inputs: readonly SymbolicTensor[];
  readonly outputs: readonly SymbolicTensor[];
  /** Layers called more than once inside the model (shared weights): their calls are all listed. */
  readonly shared: ReadonlySet<Layer>;
}

interface ContainerLike {
  containerNodes?: Set<string>;
}

/**
 * The calls of `model`'s layers, Sequential or functional, in an order where every call comes after the
 * calls that make its inputs. Only the nodes that belong to this model count (a layer may also be used
 * elsewhere).
 */
export function modelGraph(model: tf.LayersModel): ModelGraph {
  // An unbuilt Sequential has no container nodes yet: each of its layers has one node, its own.
  const nodesOfModel = (model as unknown as ContainerLike).containerNodes;
  const own = nodesOfModel && nodesOfModel.size > 0 ? nodesOfModel : undefined;
  const calls: LayerCall[] = [];
  const shared = new Set<Layer>();
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    const nodes = layer.inboundNodes.filter((_, i) => !own || own.has(`${layer.name}_ib-${i}`));
    if (nodes.length > 1) shared.add(layer);
    for (const node of nodes) calls.push({ layer, className, inputs: node.inputTensors, outputs: node.outputTensors });
  }
  // model.layers is sorted by depth, but a shared layer's calls are listed together: order by data flow.
  const ready = new Set(model.inputs.map((t) => t.id));
  const ordered: LayerCall[] = [];
  let pending = calls;
  while (pending.length > 0) {
    const next = pending.filter((c) => !c.inputs.every((t) => ready.has(t.id)));
    if (next.length === pending.length)
      throw new Error(`model ${model.name}: layers ${next.map((c) => c.layer.name).join(', ')} have inputs no layer makes`);
    for (const c of pending) {
      if (next.includes(c)) continue;
      ordered.push(c);
      for (const t of c.outputs) ready.add(t.id);
    }
    pending = next;
  }
  return { calls: ordered, inputs: model.inputs, outputs: model.outputs, shared };
}

/** The channel count (last dimension) of a symbolic tensor. */
export function channels(t: SymbolicTensor): number {
  return t.shape[t.shape.length - 1] as number;
}
