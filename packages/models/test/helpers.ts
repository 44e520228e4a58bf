import * as tf from '@tensorflow/tfjs';

export async function useCpu(): Promise<void> {
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error('cpu backend failed to initialise');
  await tf.ready();
}

/** The weight `layer/role` of a model (by layer name, so TF.js's unique-name suffixes do not matter). */
export function weight(model: tf.LayersModel, layer: string, role: string): tf.Tensor {
  const w = model.getLayer(layer).weights.find((v) => v.originalName.endsWith(`/${role}`));
  if (!w) throw new Error(`no ${layer}/${role}`);
  return w.read();
}

export function stats(t: tf.Tensor): { mean: number; std: number; maxAbs: number; n: number } {
  const v = t.dataSync();
  let sum = 0;
  let maxAbs = 0;
  for (const x of v) {
    sum += x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const mean = sum / v.length;
  let sq = 0;
  for (const x of v) sq += (x - mean) ** 2;
  return { mean, std: Math.sqrt(sq / v.length), maxAbs, n: v.length };
}
