// The threaded wasm backend (src/engine/kernels/wasm/threads.ts): how many threads it picks, that it
// computes exactly what the single-threaded binary computes, and that a process using it still exits.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'path';
import { wasmThreadsWanted } from '../../../src/engine/kernels/wasm/threads';

const BACKEND_JS = path.resolve(__dirname, '..', '..', '..', 'src', 'engine', 'backend.js');

describe('wasm thread count', () => {
  test('one thread per physical core (half the logical ones) from 4 logical cores, at most 8', () => {
    assert.equal(wasmThreadsWanted({}, 1), 1);
    assert.equal(wasmThreadsWanted({}, 2), 1);
    assert.equal(wasmThreadsWanted({}, 4), 2);
    assert.equal(wasmThreadsWanted({}, 12), 6);
    assert.equal(wasmThreadsWanted({}, 64), 8);
  });

  test('FTUNE_WASM_THREADS overrides it, capped at 8, and rejects nonsense', () => {
    assert.equal(wasmThreadsWanted({ FTUNE_WASM_THREADS: '1' }, 16), 1);
    assert.equal(wasmThreadsWanted({ FTUNE_WASM_THREADS: '3' }, 2), 3);
    assert.equal(wasmThreadsWanted({ FTUNE_WASM_THREADS: '20' }, 2), 8);
    assert.equal(wasmThreadsWanted({ FTUNE_WASM_THREADS: ' ' }, 2), 1);
    assert.throws(() => wasmThreadsWanted({ FTUNE_WASM_THREADS: '0' }), /positive integer/);
    assert.throws(() => wasmThreadsWanted({ FTUNE_WASM_THREADS: 'two' }), /positive integer/);
  });
});

/** In a child process with FTUNE_WASM_THREADS=threads: the device string and a few results. Fails if it does not exit. */
function runChild(threads: number): { device: string; sums: number[] } {
  const script = `
    const tf = require('@tensorflow/tfjs-core');
    require(${JSON.stringify(BACKEND_JS)}).initBackend('wasm').then(async (b) => {
      const a = tf.randomNormal([300, 256], 0, 1, 'float32', 1), w = tf.randomNormal([700, 256], 0, 1, 'float32', 2);
      const sums = [];
      for (const t of [tf.matMul(a, w, false, true), tf.matMul(tf.matMul(a, w, false, true), w), tf.softmax(tf.matMul(a, a, false, true))]) {
        sums.push((await tf.sum(tf.abs(t)).data())[0]);
      }
      process.stdout.write(JSON.stringify({ device: b.device, sums }));
    });`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: path.resolve(__dirname, '..', '..', '..', '..'),
    env: { ...process.env, FTUNE_WASM_THREADS: String(threads) },
    encoding: 'utf8',
    timeout: 120_000, // a process kept alive by idle pool threads would hit this
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(out) as { device: string; sums: number[] };
}

describe('threaded wasm backend', () => {
  test('2 threads: same numbers as 1 thread, and the process exits on its own', () => {
    const one = runChild(1);
    const two = runChild(2);
    assert.match(one.device, /wasm SIMD, 1 thread\)/);
    assert.match(two.device, /wasm SIMD, 2 threads\)/);
    assert.deepEqual(two.sums, one.sums);
  });
});
