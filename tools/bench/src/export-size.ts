import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Workload } from './models.js';

export interface ExportRow {
  workload: string;
  sparsity: number;
  /** What model.save writes: topology + manifest JSON plus float32 weights. */
  denseBytes: number;
  /** The same JSON plus gzip -6 of the dense weights file (the baseline any web server gives for free). */
  gzipDenseBytes: number;
  /** @sparsify/layers saveSparse, per variant (bitmask, csr, quantized), when available. */
  sparse: Record<string, { bytes: number; ratio: number }>;
}

export interface ExportResult {
  rows: ExportRow[];
  note?: string;
}

type SaveSparse = (model: tf.LayersModel, dir: string, options?: Record<string, unknown>) => Promise<{ bytes: number; denseBytes: number }>;

async function denseArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return captured!;
}

/** Zeroes the smallest-magnitude `sparsity` fraction of every kernel (rank ≥ 2 weights), per layer. */
function pruneKernels(model: tf.LayersModel, sparsity: number): void {
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const pruned = weights.map((w) => {
      if (w.rank < 2 || sparsity === 0) return w.clone();
      const values = w.dataSync().slice();
      const mags = Float32Array.from(values, Math.abs).sort();
      const k = Math.floor(sparsity * values.length);
      const threshold = k > 0 ? mags[k - 1] : -1;
      let zeroed = 0;
      for (let i = 0; i < values.length && zeroed < k; i++) {
        if (Math.abs(values[i]) <= threshold) {
          values[i] = 0;
          zeroed++;
        }
      }
      return tf.tensor(values, w.shape, w.dtype);
    });
    layer.setWeights(pruned);
    tf.dispose(pruned);
  }
}

export async function exportSizes(workloads: Workload[], sparsities: number[]): Promise<ExportResult> {
  let saveSparse: SaveSparse | undefined;
  let note: string | undefined;
  try {
    const specifier = '@sparsify/layers';
    const mod = (await import(specifier)) as { saveSparse?: SaveSparse };
    saveSparse = mod.saveSparse;
    if (!saveSparse) note = '@sparsify/layers has no saveSparse export: sparse sizes skipped';
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    note = `@sparsify/layers ${/Cannot find|ERR_MODULE_NOT_FOUND/.test(message) ? 'not built or not installed (npm run build)' : message.split('\n')[0]}: sparse sizes skipped`;
  }
  const variants: [string, Record<string, unknown>][] = [
    ['bitmask', { encoding: 'bitmask' }],
    ['csr', { encoding: 'csr' }],
    ['bitmask+float16', { encoding: 'bitmask', quantize: 'float16' }],
    ['bitmask+int8', { encoding: 'bitmask', quantize: 'int8' }],
  ];
  const rows: ExportRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'sparsify-bench-'));
  try {
    for (const workload of workloads) {
      for (const sparsity of sparsities) {
        const model = workload.build(1);
        pruneKernels(model, sparsity);
        const artifacts = await denseArtifacts(model);
        const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData!));
        const json = JSON.stringify({
          modelTopology: artifacts.modelTopology,
          format: artifacts.format,
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        });
        const denseBytes = Buffer.byteLength(json) + weights.byteLength;
        const row: ExportRow = {
          workload: workload.name,
          sparsity,
          denseBytes,
          gzipDenseBytes: gzipSync(weights).byteLength + Buffer.byteLength(json),
          sparse: {},
        };
        if (saveSparse) {
          for (const [name, options] of variants) {
            try {
              const r = await saveSparse(model, join(dir, `${workload.name}-${sparsity}-${name}`), options);
              row.sparse[name] = { bytes: r.bytes, ratio: denseBytes / r.bytes };
            } catch (e) {
              note = `saveSparse(${name}) failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
            }
          }
        }
        rows.push(row);
        model.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, note };
}
