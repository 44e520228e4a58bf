import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, loadIdx, loadIdxFromUrl, readDatasetBytes, readIdxImagesFrom, readIdxLabelsFrom } from '../src/index.js';
import { idxBytes, useCpu } from './helpers.js';

beforeAll(() => useCpu());

/** The files of a split as `writeIdxSplit` makes them: pixel (n, i, j) = (n·7 + i·3 + j) mod 256, labels n mod 10. */
function split(count: number, rows = 4, cols = 5): { images: Uint8Array; labels: Uint8Array; pixels: Uint8Array; y: Uint8Array } {
  const pixels = new Uint8Array(count * rows * cols);
  for (let n = 0; n < count; n++)
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) pixels[(n * rows + i) * cols + j] = (n * 7 + i * 3 + j) % 256;
  const y = Uint8Array.from({ length: count }, (_, n) => n % 10);
  return { images: idxBytes([count, rows, cols], pixels), labels: idxBytes([count], y), pixels, y };
}

/** A fetch serving `files` under http://data.test/mnist/ (404 for anything else), recording what was asked. */
function server(files: Record<string, Uint8Array | number>) {
  const asked: string[] = [];
  const fetch = (async (input: string | URL | Request) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    asked.push(url.pathname);
    const body = files[url.pathname.replace('/mnist/', '')];
    if (typeof body === 'number') return new Response('error', { status: body, statusText: 'Internal Server Error' });
    return body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response('not found', { status: 404 });
  }) as typeof globalThis.fetch;
  return { fetch, asked };
}

describe('IDX from URLs, Responses and bytes (portable)', () => {
  it('reads a gzipped IDX served through a Response, the same as the raw bytes', async () => {
    const train = split(12);
    const gz = gzipSync(train.images);
    expect(gz[0]).toBe(0x1f);
    const fromResponse = await readIdxImagesFrom(new Response(gz));
    expect([fromResponse.count, fromResponse.rows, fromResponse.cols]).toEqual([12, 4, 5]);
    expect(fromResponse.pixels).toEqual(train.pixels);
    expect(await readIdxImagesFrom(train.images.buffer as ArrayBuffer)).toEqual(fromResponse);
    expect(await readIdxLabelsFrom(new Blob([gzipSync(train.labels)]))).toEqual(train.y);
  });

  it('loadIdxFromUrl finds .gz and raw files under a base URL and makes the datasets', async () => {
    const train = split(12);
    const test = split(5);
    const { fetch, asked } = server({
      'train-images-idx3-ubyte.gz': gzipSync(train.images),
      'train-labels-idx1-ubyte.gz': gzipSync(train.labels),
      't10k-images.idx3-ubyte': test.images,
      't10k-labels-idx1-ubyte': test.labels,
    });
    const { train: a, test: b } = await loadIdxFromUrl('http://data.test/mnist', { fetch, name: 'web' });
    expect([a.size, b.size, a.numClasses]).toEqual([12, 5, 10]);
    expect(a.name).toBe('web/train');
    expect(a.sampleShape).toEqual([4, 5, 1]);
    const batch = b.batch(Int32Array.from([0, 1, 2, 3, 4]));
    expect(Array.from(await batch.y.data())).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from((await batch.x.data()).slice(0, 5))).toEqual(Array.from(test.pixels.slice(0, 5), (v) => Math.fround(v / 255)));
    for (const t of [batch.x, batch.y]) t.dispose();
    // `.gz` first; the dotted spelling after the dashed one.
    expect(asked.filter((p) => p.includes('t10k-images'))).toEqual([
      '/mnist/t10k-images-idx3-ubyte.gz',
      '/mnist/t10k-images-idx3-ubyte',
      '/mnist/t10k-images.idx3-ubyte.gz',
      '/mnist/t10k-images.idx3-ubyte',
    ]);
  });

  it('a missing file lists the names tried; an HTTP error names the URL and status', async () => {
    const train = split(3);
    const { fetch } = server({ 'train-images-idx3-ubyte': train.images, 'train-labels-idx1-ubyte': 500 });
    const error = await loadIdxFromUrl('http://data.test/mnist/', { fetch }).catch((e) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toMatch(
      /^http:\/\/data\.test\/mnist\/(train-labels-idx1-ubyte\.gz: HTTP 500 Internal Server Error|: no test (images|labels) file; looked for t10k-)/,
    );
    await expect(readDatasetBytes('http://data.test/mnist/train-labels-idx1-ubyte', { fetch })).rejects.toThrow(
      'http://data.test/mnist/train-labels-idx1-ubyte: HTTP 500 Internal Server Error',
    );
    await expect(loadIdxFromUrl('http://data.test/mnist/', { fetch: server({}).fetch })).rejects.toThrow(
      /: no training images file; looked for train-images-idx3-ubyte\.gz, train-images-idx3-ubyte, train-images\.idx3-ubyte\.gz, train-images\.idx3-ubyte$/,
    );
  });

  it('a truncated gzip stream, a gzip bomb and an oversized response are clear errors, read no further', async () => {
    const big = split(50);
    const gz = gzipSync(big.images);
    await expect(readIdxImagesFrom(new Response(gz.subarray(0, gz.length - 12)), { name: 'cut.gz' })).rejects.toThrow(
      /^cut\.gz: not a valid gzip stream, probably truncated/,
    );
    // 100 kB of zeros in a few hundred bytes of gzip: refused while decompressing, past the 5,000-byte limit.
    const zeros = gzipSync(idxBytes([1000, 10, 10], new Uint8Array(100_000)));
    expect(zeros.length).toBeLessThan(5000);
    const bomb = await readIdxImagesFrom(new Response(zeros), { maxBytes: 5000, name: 'bomb.gz' }).catch((e) => e);
    expect(bomb).toBeInstanceOf(DatasetError);
    expect(bomb.message).toBe('bomb.gz: decompresses to more than the 5000 bytes a dataset file may have (maxBytes)');
    const declared = new Response(big.images as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(big.images.length) } });
    await expect(readDatasetBytes(declared, { maxBytes: 100, name: 'raw' })).rejects.toThrow(
      'raw: is 1016 bytes, more than the 100 bytes a dataset file may have (maxBytes)',
    );
    // A stream with no length header is cut off as it passes the limit.
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64));
      },
    });
    await expect(readDatasetBytes(new Response(endless), { maxBytes: 1000, name: 'endless' })).rejects.toThrow(
      'endless: is more than the 1000 bytes',
    );
    expect(pulled).toBeLessThan(20);
    await expect(readDatasetBytes(new Uint8Array(4), { maxBytes: 0 })).rejects.toThrow('maxBytes must be an integer > 0; got 0');
  });

  it('shares the directory reader checks: label counts, image sizes, a label past a gap', async () => {
    const train = split(12);
    const test = split(5);
    const sources = { trainImages: train.images, trainLabels: train.labels, testImages: test.images, testLabels: split(4).labels };
    await expect(loadIdx(sources)).rejects.toThrow('test labels: 4 labels, but test images has 5 images');
    await expect(loadIdx({ ...sources, testLabels: test.labels, testImages: split(5, 5, 5).images })).rejects.toThrow(
      '(idx sources): training images are 4×5 but test images are 5×5',
    );
    const labels = train.y.slice();
    labels[7] = 200;
    await expect(loadIdx({ ...sources, testLabels: test.labels, trainLabels: idxBytes([12], labels) })).rejects.toThrow(
      'training labels: labels[7] is 200, which would make 201 classes, but class 7 has no training example',
    );
    await expect(readIdxLabelsFrom(train.images, { name: 'swapped' })).rejects.toThrow(
      'swapped: expected IDX labels (magic 0x00000801), found magic 0x00000803 (an unsigned-byte IDX file of rank 3)',
    );
    const { train: ok } = await loadIdx({ ...sources, testLabels: test.labels });
    expect(ok.size).toBe(12);
  });
});
