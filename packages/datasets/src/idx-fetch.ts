// Portable IDX readers: bytes from a URL, a fetch Response, a Blob or memory, gunzipped through the
// runtime's DecompressionStream (browsers, Node ≥ 18). The same checks and limits as the file readers:
// a size cap on what is read and on what it decompresses to, and errors naming the source.
import type { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import {
  type IdxDatasetOptions,
  type IdxImages,
  type IdxSplit,
  MAX_DATASET_FILE_BYTES,
  idxDatasets,
  idxFileNames,
  idxImagesFromBytes,
  idxLabelsFromBytes,
} from './idx-dataset.js';

/** Where a dataset file's bytes come from: a URL (fetched), a Response, a Blob, or the bytes themselves. */
export type ByteSource = string | URL | Response | Blob | ArrayBuffer | ArrayBufferView;

export interface ByteSourceOptions {
  /** The most bytes read, and the most a gzip stream may decompress to (default 1 GiB, `MAX_DATASET_FILE_BYTES`). */
  maxBytes?: number;
  /** Aborts fetches and reads. */
  signal?: AbortSignal;
  /** The fetch used for URLs (default `globalThis.fetch`). */
  fetch?: typeof globalThis.fetch;
  /** Names the source in errors (default: its URL, or `(bytes)`). */
  name?: string;
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

function sourceName(source: ByteSource, options: ByteSourceOptions): string {
  if (options.name !== undefined) return options.name;
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  if (typeof Response !== 'undefined' && source instanceof Response) return source.url || '(response)';
  return typeof Blob !== 'undefined' && source instanceof Blob ? '(blob)' : '(bytes)';
}

function tooLarge(name: string, what: string, max: number): DatasetError {
  return new DatasetError(`${name}: ${what} more than the ${max} bytes a dataset file may have (maxBytes)`, name, '(length)');
}

/** Reads a stream to its end, refusing (and cancelling it) past `max` bytes. */
async function readStream(stream: ReadableStream<Uint8Array>, name: string, max: number, what: string): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(name, what, max);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Gunzips `bytes` with the runtime's DecompressionStream, to at most `max` bytes. */
export async function gunzip(bytes: Uint8Array, name: string, max = MAX_DATASET_FILE_BYTES): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') {
    throw new DatasetError(
      `${name}: is gzip-compressed, and this runtime has no DecompressionStream; serve the file uncompressed or gunzip it first`,
      name,
      'gzip',
    );
  }
  const input = new ReadableStream<BufferSource>({
    start(controller) {
      controller.enqueue(bytes as Uint8Array<ArrayBuffer>);
      controller.close();
    },
  });
  try {
    return await readStream(input.pipeThrough<Uint8Array>(new DecompressionStream('gzip')), name, max, 'decompresses to');
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw new DatasetError(`${name}: not a valid gzip stream, probably truncated (${(error as Error).message})`, name, 'gzip');
  }
}

async function fetchResponse(url: string | URL, name: string, options: ByteSourceOptions): Promise<Response> {
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function')
    throw new DatasetError(`${name}: this runtime has no fetch; pass the bytes or a Response`, name, '(url)');
  try {
    return await fetchFn(url, { signal: options.signal });
  } catch (error) {
    throw new DatasetError(`${name}: cannot fetch (${(error as Error).message})`, name, '(url)');
  }
}

async function responseBytes(response: Response, name: string, max: number): Promise<Uint8Array> {
  if (!response.ok)
    throw new DatasetError(`${name}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, name, '(url)');
  if (response.bodyUsed) throw new DatasetError(`${name}: the response body was read already`, name, '(response)');
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  if (length > max) throw tooLarge(name, `is ${length} bytes,`, max);
  if (!response.body) return new Uint8Array(0);
  try {
    return await readStream(response.body, name, max, 'is');
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw new DatasetError(`${name}: reading the response failed (${(error as Error).message})`, name, '(response)');
  }
}

/**
 * A dataset file's bytes from a URL, a Response, a Blob or memory, gunzipped when they start with the
 * gzip magic (whatever the name), to at most `maxBytes` either way. Errors are DatasetErrors naming
 * the source: an HTTP error status, a file too large, a damaged gzip stream.
 */
export async function readDatasetBytes(source: ByteSource, options: ByteSourceOptions = {}): Promise<Uint8Array> {
  const name = sourceName(source, options);
  const max = options.maxBytes ?? MAX_DATASET_FILE_BYTES;
  if (!(Number.isSafeInteger(max) && max > 0)) throw new DatasetError(`maxBytes must be an integer > 0; got ${String(max)}`);
  let bytes: Uint8Array;
  if (typeof source === 'string' || source instanceof URL) {
    bytes = await responseBytes(await fetchResponse(source, name, options), name, max);
  } else if (typeof Response !== 'undefined' && source instanceof Response) {
    bytes = await responseBytes(source, name, max);
  } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
    if (source.size > max) throw tooLarge(name, `is ${source.size} bytes,`, max);
    bytes = new Uint8Array(await source.arrayBuffer());
  } else if (source instanceof ArrayBuffer) {
    bytes = new Uint8Array(source);
  } else if (ArrayBuffer.isView(source)) {
    bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  } else {
    throw new DatasetError(`${name}: a dataset source must be a URL, Response, Blob, ArrayBuffer or typed array; got ${typeof source}`);
  }
  if (bytes.byteLength > max) throw tooLarge(name, `is ${bytes.byteLength} bytes,`, max);
  return isGzip(bytes) ? gunzip(bytes, name, max) : bytes;
}

/** An IDX images file (gzipped or raw) from a URL, Response, Blob or memory: `{count, rows, cols, pixels}`. */
export async function readIdxImagesFrom(source: ByteSource, options: ByteSourceOptions = {}): Promise<IdxImages> {
  return idxImagesFromBytes(await readDatasetBytes(source, options), sourceName(source, options));
}

/** An IDX labels file (gzipped or raw) from a URL, Response, Blob or memory. */
export async function readIdxLabelsFrom(source: ByteSource, options: ByteSourceOptions = {}): Promise<Uint8Array> {
  return idxLabelsFromBytes(await readDatasetBytes(source, options), sourceName(source, options));
}

/** The four files of an MNIST-format dataset, each a URL, Response, Blob or bytes. */
export interface IdxSources {
  trainImages: ByteSource;
  trainLabels: ByteSource;
  testImages: ByteSource;
  testLabels: ByteSource;
}

export type IdxLoadOptions = IdxDatasetOptions & Omit<ByteSourceOptions, 'name'>;

/**
 * An MNIST-format dataset from four sources (see `loadIdxDirectory` for the checks): samples are
 * `[rows, cols, 1]` uint8 images.
 */
export async function loadIdx(sources: IdxSources, options: IdxLoadOptions = {}): Promise<{ train: Dataset; test: Dataset }> {
  const split = async (images: ByteSource, labels: ByteSource, label: string) => {
    // A source without a URL is named by its role: "training images".
    const named = (source: ByteSource, role: string) => {
      const name = sourceName(source, {});
      return name.startsWith('(') ? `${label} ${role}` : name;
    };
    const imagesFile = named(images, 'images');
    const labelsFile = named(labels, 'labels');
    const [i, l] = await Promise.all([
      readIdxImagesFrom(images, { ...options, name: imagesFile }),
      readIdxLabelsFrom(labels, { ...options, name: labelsFile }),
    ]);
    return { images: i, labels: l, imagesFile, labelsFile };
  };
  const [train, test] = await Promise.all([
    split(sources.trainImages, sources.trainLabels, 'training'),
    split(sources.testImages, sources.testLabels, 'test'),
  ]);
  return idxDatasets(train, test, '(idx sources)', options);
}

/** The URL of a split's file under `base`: the first of `idxFileNames` (`.gz` first) that is not a 404. */
async function findIdxUrl(base: URL, split: IdxSplit, kind: 'images' | 'labels', options: IdxLoadOptions): Promise<Response> {
  const names = idxFileNames(split, kind, true);
  for (const file of names) {
    const url = new URL(file, base);
    const response = await fetchResponse(url, url.href, options);
    if (response.status === 404) {
      await response.body?.cancel().catch(() => undefined);
      continue;
    }
    return response;
  }
  throw new DatasetError(
    `${base.href}: no ${split === 'train' ? 'training' : 'test'} ${kind} file; looked for ${names.join(', ')}`,
    base.href,
    '(url)',
  );
}

/**
 * An MNIST-format dataset served under `baseUrl` (a directory URL, relative to the page in a browser):
 * `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`,
 * `t10k-labels-idx1-ubyte[.gz]` (and the `.idx3-ubyte` spelling), the `.gz` names tried first.
 */
export async function loadIdxFromUrl(baseUrl: string | URL, options: IdxLoadOptions = {}): Promise<{ train: Dataset; test: Dataset }> {
  const href = String(baseUrl);
  const dir = href.endsWith('/') ? href : `${href}/`;
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let base: URL;
  try {
    base = new URL(dir, page);
  } catch {
    throw new DatasetError(`baseUrl must be an absolute URL here (no page to resolve it against); got ${JSON.stringify(href)}`);
  }
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    (['train', 't10k'] as const).flatMap((split) => (['images', 'labels'] as const).map((kind) => findIdxUrl(base, split, kind, options))),
  );
  return loadIdx({ trainImages, trainLabels, testImages, testLabels }, options);
}
