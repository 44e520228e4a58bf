import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeNative } from '../src/index.js';
import { gpuName, withoutLoadNoise, withStderrFiltered } from '../src/native.js';

// What libtensorflow 2.21 (pip's tensorflow-cpu wheel, under tfjs-node 4.22) prints on every load.
const LOAD_OUTPUT = [
  'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
  'I0000 00:00:1796605224.552856    9324 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.',
  'I0000 00:00:1796605224.625192    9324 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.',
  'To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.',
  'Platform node has already been set. Overwriting the platform with node.',
].join('\n');

const dir = mkdtempSync(join(tmpdir(), 'sparsify-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the native library’s load output', () => {
  it('drops the known notices and keeps everything else, in order', () => {
    expect(withoutLoadNoise(`${LOAD_OUTPUT}\n`)).toBe('');
    const warning = "W0000 00:00:1.0 1 dso_loader.cc:64] Could not load dynamic library 'libcudart.so.11.0'";
    expect(withoutLoadNoise(`${warning}\n${LOAD_OUTPUT}\nE0000 real error\n`)).toBe(`${warning}\nE0000 real error\n`);
  });

  it('is captured from file descriptor 2 (what native code writes to) and filtered, then stderr is restored', async () => {
    // vitest's fork hands this process a socket as stderr, which cannot be reopened once closed: the load
    // then runs unfiltered. Each test file has its own process, so this one then points fd 2 at a file
    // (the shell's case; a terminal or a pipe is reopened the same way).
    const socket = fstatSync(2).isSocket();
    if (socket) expect(await withStderrFiltered(async () => 42)).toBe(42);
    const original = socket ? undefined : openSync('/proc/self/fd/2', 'a');
    closeSync(2);
    expect(openSync(join(dir, 'stderr'), 'w')).toBe(2);
    const before = fstatSync(2);
    const result = await withStderrFiltered(async () => {
      writeSync(2, `${LOAD_OUTPUT}\nE0000 something that failed\n`);
      return 'loaded';
    });
    expect(result).toBe('loaded');
    const after = fstatSync(2);
    expect([after.dev, after.ino]).toEqual([before.dev, before.ino]);
    writeSync(2, 'after the load\n');
    await expect(withStderrFiltered(async () => Promise.reject(new Error('no addon')))).rejects.toThrow('no addon');
    writeSync(2, 'after a failed load\n');
    expect(readFileSync(join(dir, 'stderr'), 'utf8')).toBe('E0000 something that failed\nafter the load\nafter a failed load\n');
    if (original !== undefined) {
      closeSync(2);
      openSync(`/proc/self/fd/${original}`, 'a');
      closeSync(original);
    }
  });
});

describe('what tfjs-node runs on', () => {
  it('names the GPU nvidia-smi reports for the first device CUDA exposes', () => {
    const calls: string[][] = [];
    const run = (args: string[]) => {
      calls.push(args);
      return 'NVIDIA H100 80GB HBM3\n';
    };
    expect(gpuName({ CUDA_VISIBLE_DEVICES: '1,0' }, run)).toBe('NVIDIA H100 80GB HBM3');
    expect(calls[0]).toEqual(['--query-gpu=name', '--format=csv,noheader', '-i', '1']);
    expect(gpuName({}, run)).toBe('NVIDIA H100 80GB HBM3');
    expect(calls[1]).toEqual(['--query-gpu=name', '--format=csv,noheader']);
    expect(gpuName({}, () => undefined)).toBeUndefined();
  });

  it('describes the library and devices in the selection line', () => {
    expect(describeNative({ package: '@tensorflow/tfjs-node', libtensorflow: '2.21.0', devices: ['CPU'] })).toBe(
      'libtensorflow 2.21.0; CPU',
    );
    expect(
      describeNative({ package: '@tensorflow/tfjs-node-gpu', libtensorflow: '2.9.1', devices: ['CPU', 'GPU NVIDIA H100 80GB HBM3'] }),
    ).toBe('tfjs-node-gpu, libtensorflow 2.9.1; CPU, GPU NVIDIA H100 80GB HBM3');
    expect(
      describeNative({ package: '@tensorflow/tfjs-node-gpu', libtensorflow: '2.9.1', devices: ['CPU'], note: 'no GPU in use: x' }),
    ).toBe('tfjs-node-gpu, libtensorflow 2.9.1; CPU; no GPU in use: x');
  });
});
