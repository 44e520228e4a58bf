import { ModelFileError } from './errors.js';

/** Model classes whose config holds layers (nested models included). */
const CONTAINERS = ['Sequential', 'Model', 'Functional'];
/** Nesting deeper than this is refused (no model needs it; it bounds the recursion). */
const MAX_DEPTH = 32;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** A layer reference in node data or input/output lists: [layer name, node index, tensor index, kwargs?]. */
function checkReference(ref: unknown, file: string, field: string): [string, number] {
  if (!Array.isArray(ref) || ref.length < 3 || ref.length > 4 || typeof ref[0] !== 'string' || !isIndex(ref[1]) || !isIndex(ref[2])) {
    throw new ModelFileError(
      file,
      field,
      `must be [layer name, node index, tensor index] (and optional kwargs); got ${JSON.stringify(ref)?.slice(0, 120)}`,
    );
  }
  if (ref.length === 4 && ref[3] != null && !isObject(ref[3]))
    throw new ModelFileError(file, `${field}[3]`, 'must be an object of call arguments');
  return [ref[0], ref[1]];
}

/** Checks one container (`{ class_name, config }`) and the containers nested in it. */
function checkContainer(container: unknown, file: string, field: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new ModelFileError(file, field, `nests models more than ${MAX_DEPTH} deep`);
  if (!isObject(container)) throw new ModelFileError(file, field, 'must be an object ({ class_name, config })');
  const className = container.class_name;
  if (!CONTAINERS.includes(className as string)) {
    throw new ModelFileError(
      file,
      `${field}.class_name`,
      `must be one of ${CONTAINERS.join(', ')} (a LayersModel); got ${JSON.stringify(className)}`,
    );
  }
  const config = container.config;
  const layersField = Array.isArray(config) ? `${field}.config` : `${field}.config.layers`;
  const layers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(layers)) throw new ModelFileError(file, layersField, 'must be an array of layers');
  const names = new Map<string, number>();
  layers.forEach((layer, i) => {
    const at = `${layersField}[${i}]`;
    if (!isObject(layer) || typeof layer.class_name !== 'string' || !isObject(layer.config)) {
      throw new ModelFileError(file, at, 'must be a layer ({ class_name, config })');
    }
    if (CONTAINERS.includes(layer.class_name)) checkContainer(layer, file, at, depth + 1);
    if (className === 'Sequential') return;
    const name = layer.name;
    if (typeof name !== 'string' || name.length === 0) throw new ModelFileError(file, `${at}.name`, 'must be a non-empty string');
    if (layer.config.name !== undefined && layer.config.name !== name) {
      throw new ModelFileError(
        file,
        `${at}.config.name`,
        `must equal the layer's name ${JSON.stringify(name)}; got ${JSON.stringify(layer.config.name)}`,
      );
    }
    if (names.has(name))
      throw new ModelFileError(file, `${at}.name`, `repeats the name of layer ${names.get(name)} (${JSON.stringify(name)})`);
    names.set(name, i);
  });
  if (className !== 'Sequential') checkGraph(config as Json, layers as Json[], names, file, `${field}.config`);
}

/**
 * The functional graph, replayed as tfjs's `Container.fromConfig` replays it: every node's inputs must
 * be nodes that exist by then. tfjs re-queues a node whose inputs are missing and loops until the
 * queue is empty, forever when a layer is missing, an index points past a layer's nodes, or nodes
 * form a cycle; here that is an error naming the node.
 */
function checkGraph(config: Json, layers: Json[], names: Map<string, number>, file: string, field: string): void {
  const pending: { layer: number; node: number; inputs: [string, number][] }[][] = layers.map((layer, i) => {
    const nodes = layer.inbound_nodes;
    const at = `${field}.layers[${i}].inbound_nodes`;
    if (!Array.isArray(nodes)) throw new ModelFileError(file, at, 'must be an array of nodes');
    return nodes.map((node, j) => {
      if (!Array.isArray(node)) throw new ModelFileError(file, `${at}[${j}]`, 'must be an array of layer references');
      return { layer: i, node: j, inputs: node.map((ref, k) => checkReference(ref, file, `${at}[${j}][${k}]`)) };
    });
  });
  // Input layers and models start with one node of their own; every processed node adds one.
  const nodeCount = layers.map((layer) => (layer.class_name === 'InputLayer' || CONTAINERS.includes(layer.class_name as string) ? 1 : 0));
  let left = pending.reduce((n, p) => n + p.length, 0);
  while (left > 0) {
    let progress = false;
    pending.forEach((queue, i) => {
      const still = queue.filter(({ inputs }) => {
        const ready = inputs.every(([name, node]) => names.has(name) && node < nodeCount[names.get(name)!]);
        if (ready && inputs.length > 0) nodeCount[i]++;
        return !ready;
      });
      if (still.length < queue.length) progress = true;
      pending[i] = still;
    });
    left = pending.reduce((n, p) => n + p.length, 0);
    if (left > 0 && !progress) {
      const stuck = pending.flat()[0];
      const missing = stuck.inputs.find(([name, node]) => !names.has(name) || node >= nodeCount[names.get(name)!])!;
      const problem = names.has(missing[0])
        ? `refers to node ${missing[1]} of layer ${JSON.stringify(missing[0])}, which never exists (it has ${nodeCount[names.get(missing[0])!]}, or the nodes form a cycle)`
        : `refers to layer ${JSON.stringify(missing[0])}, which is not in the model`;
      throw new ModelFileError(file, `${field}.layers[${stuck.layer}].inbound_nodes[${stuck.node}]`, problem);
    }
  }
  for (const key of ['input_layers', 'output_layers']) {
    const refs = config[key];
    if (!Array.isArray(refs) || refs.length === 0)
      throw new ModelFileError(file, `${field}.${key}`, 'must be a non-empty array of layer references');
    refs.forEach((ref, i) => {
      const [name, node] = checkReference(ref, file, `${field}.${key}[${i}]`);
      if (!names.has(name))
        throw new ModelFileError(file, `${field}.${key}[${i}]`, `refers to layer ${JSON.stringify(name)}, which is not in the model`);
      if (node >= nodeCount[names.get(name)!])
        throw new ModelFileError(
          file,
          `${field}.${key}[${i}]`,
          `refers to node ${node} of layer ${JSON.stringify(name)}, which has ${nodeCount[names.get(name)!]}`,
        );
    });
  }
}

/**
 * Checks a LayersModel topology (`model.json`'s `modelTopology`) before tfjs builds it: containers,
 * layer entries and names, and the functional graph (see `checkGraph`). tfjs itself checks the layer
 * configs when it builds the model, and the weights against the layers when it loads them.
 */
export function checkTopology(topology: unknown, file: string, field = 'modelTopology'): void {
  if (!isObject(topology)) throw new ModelFileError(file, field, 'must be an object (a LayersModel topology)');
  // model.json holds { class_name, config, keras_version, backend }; some writers nest it in model_config.
  checkContainer(
    isObject(topology.model_config) ? topology.model_config : topology,
    file,
    isObject(topology.model_config) ? `${field}.model_config` : field,
    0,
  );
}
