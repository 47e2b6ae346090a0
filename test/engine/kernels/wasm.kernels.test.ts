// The replacement wasm kernels (src/engine/kernels/) against tfjs's plain-JavaScript cpu backend.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { backendHeapBytes, initBackend } from '../../../src/engine/backend';
import { mulberry32 } from '../../../src/core/random';
import { assertClose } from '../../helpers/conformance';
import { execFileSync } from 'node:child_process';
import * as path from 'path';

function randomData(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

/** Runs `f` on fresh tensors of the given backend and returns its result's values. */
async function on(backend: 'wasm' | 'cpu', f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const t = tf.tidy(f);
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

before(async () => {
  await initBackend('cpu');
  await initBackend('wasm'); // installs the replacement kernels
});

describe('wasm BatchMatMul replacement', () => {
  const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean; what: string }[] = [
    { a: [37, 19], b: [19, 23], ta: false, tb: false, what: 'plain 2-D' },
    { a: [37, 19], b: [23, 19], ta: false, tb: true, what: 'x·Wᵀ (linear layer)' },
    { a: [1, 64], b: [300, 64], ta: false, tb: true, what: 'one row against Wᵀ (decoding, swapped form)' },
    { a: [19, 37], b: [19, 23], ta: true, tb: false, what: 'xᵀ·dy (weight gradient)' },
    { a: [19, 37], b: [23, 19], ta: true, tb: true, what: 'both transposed' },
    { a: [2, 3, 17, 8], b: [2, 3, 21, 8], ta: false, tb: true, what: 'batched attention scores' },
    { a: [2, 3, 17, 21], b: [2, 3, 21, 8], ta: false, tb: false, what: 'batched probs·v' },
    { a: [4, 17, 8], b: [1, 8, 5], ta: false, tb: false, what: 'right operand broadcast over the batch' },
    { a: [1, 17, 8], b: [4, 8, 5], ta: false, tb: false, what: 'left operand broadcast over the batch' },
    { a: [3, 70000], b: [70000, 256], ta: false, tb: false, what: 'right operand too large to pack at once (split along K)' },
  ];
  for (const c of cases) {
    test(c.what, async () => {
      const av = randomData(c.a.reduce((x, y) => x * y), 1), bv = randomData(c.b.reduce((x, y) => x * y), 2);
      const f = () => tf.matMul(tf.tensor(av, c.a), tf.tensor(bv, c.b), c.ta, c.tb);
      const got = await on('wasm', f);
      const want = await on('cpu', f);
      // Sums of up to 70000 products in a different order: compare relative to the operands' scale.
      assertClose(got, want, 1e-4, 1e-4 * Math.sqrt(c.a[c.a.length - (c.ta ? 2 : 1)]), c.what);
    });
  }

  test('leaves no tensors or heap views behind', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    tf.tidy(() => {
      tf.matMul(tf.ones([5, 7]), tf.ones([9, 7]), false, true);
      tf.matMul(tf.ones([2, 5, 7]), tf.ones([2, 7, 9]));
      tf.matMul(tf.ones([2, 70000]), tf.ones([70000, 300]));
    });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(backend.numDataIds(), ids);
  });

  test('does not keep XNNPACK packed copies of its operands (the heap stops growing)', async () => {
    await tf.setBackend('wasm');
    const w = tf.randomNormal([1000, 4000]); // 16 MB: a packed copy would be as large
    const x = tf.randomNormal([64, 4000]);
    const heap = () => backendHeapBytes()!;
    const run = () => tf.tidy(() => {
      tf.matMul(x, w, false, true); // direct or swapped: either way operands go through views
      tf.matMul(tf.randomNormal([64, 1000]), w); // w as the right operand, untransposed
    });
    run();
    const after1 = heap();
    for (let i = 0; i < 4; i++) run();
    assert.equal(heap(), after1);
    tf.dispose([w, x]);
  });
});

describe('wasm GatherV2 replacement', () => {
  test('row lookups match, including repeated indices and other axes', async () => {
    const table = randomData(50 * 32, 3);
    const idx = [4, 0, 49, 4, 17];
    for (const [shape, axis] of [[[50, 32], 0], [[5, 10, 32], 1], [[50, 32], 1]] as [number[], number][]) {
      const f = () => tf.gather(tf.tensor(table, shape), tf.tensor1d(idx.map((i) => i % shape[axis]), 'int32'), axis);
      assert.deepEqual(await on('wasm', f), await on('cpu', f), `shape ${shape} axis ${axis}`);
    }
  });

  test('an index out of range still fails', async () => {
    await tf.setBackend('wasm');
    assert.throws(() => tf.tidy(() => tf.gather(tf.ones([4, 32]), tf.tensor1d([1, 4], 'int32'))), /not in \[0, 3\]/);
  });
});

describe('wasm Identity and Cast share memory', () => {
  test('a clone survives its source and keeps its values; casts to another dtype still convert', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor1d([1.5, -2, 3]);
    const bytesBefore = tf.memory().numBytes;
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    x.dispose();
    assert.deepEqual(Array.from(await y.data()), [1.5, -2, 3]);
    assert.deepEqual(Array.from(await z.data()), [1.5, -2, 3]);
    const i = tf.cast(y, 'int32');
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(Array.from(await i.data()), [1, -2, 3]);
    tf.dispose([y, z, i]);
    assert.ok(tf.memory().numBytes <= bytesBefore);
  });
});

describe('wasm heap exhaustion', () => {
  test('is an error that says what to do, not a tensor at address 0', () => {
    // In a child process: a wasm heap never shrinks, and this one ends full.
    const backendJs = path.resolve(__dirname, '..', '..', '..', 'src', 'engine', 'backend.js');
    const script = `
      const tf = require('@tensorflow/tfjs-core');
      require(${JSON.stringify(backendJs)}).initBackend('wasm').then(() => {
        const kept = [];
        try {
          for (let i = 0; i < 40; i++) kept.push(tf.zeros([256, 1024, 1024])); // 1 GiB each
          process.stdout.write('no error');
        } catch (err) {
          process.stdout.write(err.message);
        }
      });`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, FTUNE_WASM_THREADS: '1' } });
    assert.match(out, /^out of memory: the wasm backend's heap \(4 GiB at most\) cannot hold another 1024\.0 MiB \(\[256, 1024, 1024\]\)\. Use --gradient-checkpointing/);
  });
});
