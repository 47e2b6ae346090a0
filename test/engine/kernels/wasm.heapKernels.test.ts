// Our own loops on the wasm backend's heap (src/engine/kernels/wasm/heapKernels.ts): the committed
// binary is the assembled .wat; one-row products (decoding) and transposes equal the cpu backend's on
// the single-threaded (ordinary memory) and threaded (shared memory) wasm builds; a product over a
// huge K (summed block by block) is right.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { adjacentSwap } from '../../../src/engine/kernels/wasm/heapKernels';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const BACKEND_JS = path.join(ROOT, 'out', 'src', 'engine', 'backend.js');

/** [batchA, batchB, K, N, transposeA, transposeB] */
const CASES: [number, number, number, number, boolean, boolean][] = [
  [1, 1, 896, 4864, false, true], // a decoder projection x·Wᵀ
  [1, 1, 7, 5, false, true], // K and N not multiples of 4
  [1, 1, 1, 1, false, true],
  [1, 1, 33, 19, false, false], // x·B with B [K, N]: the N mod 16 tail
  [1, 1, 64, 130, true, false], // [K, 1] stored transposed: the same floats as [1, K]
  [3, 3, 64, 17, false, false], // batched (attention probabilities · v while decoding)
  [4, 4, 64, 129, false, true], // batched q·kᵀ
  [2, 1, 13, 31, false, true], // a batch of rows against one broadcast matrix
  [1, 3, 24, 40, false, true], // one row broadcast against a batch of matrices
];

/**
 * In a child process: wasm (with `threads`) products of seeded N(0, 1) operands vs the cpu backend's: per case the worst
 * error relative to the entries' typical size √K (float32 sums in another order differ by a few ulps of that).
 */
function worstErrors(threads: number): { device: string; errors: number[]; transposes: boolean[]; bigError: number } {
  const script = `
    const tf = require('@tensorflow/tfjs-core');
    require(${JSON.stringify(BACKEND_JS)}).initBackend('wasm').then(async (b) => {
      const errors = [];
      for (const [bA, bB, K, N, tA, tB] of ${JSON.stringify(CASES)}) {
        const aShape = tA ? [bA, K, 1] : [bA, 1, K], bShape = tB ? [bB, N, K] : [bB, K, N];
        const a = tf.randomNormal(aShape, 0, 1, 'float32', K), w = tf.randomNormal(bShape, 0, 1, 'float32', N);
        const av = await a.data(), wv = await w.data();
        const got = await tf.matMul(a, w, tA, tB).data();
        await tf.setBackend('cpu');
        const want = await tf.matMul(tf.tensor(av, aShape), tf.tensor(wv, bShape), tA, tB).data();
        await tf.setBackend('wasm');
        if (got.length !== Math.max(bA, bB) * N) throw new Error('wrong output size ' + got.length);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.sqrt(K));
        errors.push(worst);
      }
      const transposes = [];
      for (const [shape, perm] of ${JSON.stringify([[[512,256],[1,0]],[[3,37,70],[0,2,1]],[[2,5,3,64],[0,2,1,3]],[[2,3,4,5,6],[0,1,3,2,4]],[[4,33,1],[0,2,1]],[[2,3,4],[2,1,0]]])}) {
        const x = tf.randomNormal(shape, 0, 1, 'float32', 7), xv = await x.data();
        const got = await tf.transpose(x, perm).data();
        await tf.setBackend('cpu');
        const want = await tf.transpose(tf.tensor(xv, shape), perm).data();
        await tf.setBackend('wasm');
        transposes.push(got.length === want.length && got.every((v, i) => v === want[i]));
      }
      // K = 2^24 / N + 1 rows of b: products over K are summed in two blocks (wasmMatMul.ts PACK_LIMIT).
      const N = 64, K = (1 << 24) / N + 1;
      const big = tf.tidy(() => tf.sum(tf.sub(tf.matMul(tf.ones([2, K]), tf.ones([K, N])), K)));
      const bigError = (await big.data())[0];
      process.stdout.write(JSON.stringify({ device: b.device, errors, transposes, bigError }));
    });`;
  const out = execFileSync(process.execPath, ['-e', script], {
    env: { ...process.env, FTUNE_WASM_THREADS: String(threads), NODE_PATH: path.join(ROOT, 'node_modules') },
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000,
  });
  return JSON.parse(out) as { device: string; errors: number[]; transposes: boolean[]; bigError: number };
}

describe('wasm matrix-vector products', () => {
  test('the committed heapKernelsBinary.ts is heapKernels.wat assembled (run node scripts/build-wasm-kernels.mjs after editing the .wat)', async () => {
    const script = pathToFileURL(path.join(ROOT, 'scripts', 'build-wasm-kernels.mjs')).href;
    const { generateHeapKernelsSource } = (await import(script)) as { generateHeapKernelsSource(): Promise<string> };
    const committed = fs.readFileSync(path.join(ROOT, 'src', 'engine', 'kernels', 'wasm', 'heapKernelsBinary.ts'), 'utf8');
    assert.equal(committed, await generateHeapKernelsSource());
  });

  for (const threads of [1, 2]) {
    test(`one-row products, transposes and a product over a huge K equal the cpu backend (${threads} thread${threads > 1 ? 's' : ''})`, () => {
      const { device, errors, transposes, bigError } = worstErrors(threads);
      assert.match(device, new RegExp(`wasm SIMD, ${threads} thread`));
      errors.forEach((e, i) => assert.ok(e < 1e-5, `case ${JSON.stringify(CASES[i])}: error ${e} of √K`));
      assert.deepEqual(transposes, [true, true, true, true, true, true], 'transposes are exact');
      assert.equal(bigError, 0, 'ones·ones over K = 2^18 + 1 is exactly K everywhere');
    });
  }
});

describe('adjacentSwap: which transposes the heap kernel takes', () => {
  test('two adjacent axes swapped, the rest in place: [batch, rows, cols, inner]', () => {
    assert.deepEqual(adjacentSwap([512, 256], [1, 0]), [1, 512, 256, 1]);
    assert.deepEqual(adjacentSwap([4, 128, 14, 64], [0, 2, 1, 3]), [4, 128, 14, 64]);
    assert.deepEqual(adjacentSwap([3, 7, 9], [0, 2, 1]), [3, 7, 9, 1]);
  });

  test('anything else goes to the stock kernel', () => {
    assert.equal(adjacentSwap([2, 3, 4], [2, 1, 0]), undefined);
    assert.equal(adjacentSwap([2, 3, 4], [1, 2, 0]), undefined);
    assert.equal(adjacentSwap([2, 3, 4], [0, 1, 2]), undefined);
  });
});
