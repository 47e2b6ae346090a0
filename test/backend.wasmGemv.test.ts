// Matrix-vector products of the wasm backend (src/engine/kernels/wasmGemv.ts, used for one row of
// activations: decoding): the committed binary is the assembled .wat, and the products equal the
// cpu backend's on the single-threaded (ordinary memory) and threaded (shared memory) wasm builds.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';

const ROOT = path.resolve(__dirname, '..', '..');
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
function worstErrors(threads: number): { device: string; errors: number[] } {
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
      process.stdout.write(JSON.stringify({ device: b.device, errors }));
    });`;
  const out = execFileSync(process.execPath, ['-e', script], {
    env: { ...process.env, FTUNE_WASM_THREADS: String(threads), NODE_PATH: path.join(ROOT, 'node_modules') },
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000,
  });
  return JSON.parse(out) as { device: string; errors: number[] };
}

describe('wasm matrix-vector products', () => {
  test('the committed wasmGemvBinary.ts is wasmGemv.wat assembled (run node scripts/build-wasm-kernels.mjs after editing the .wat)', async () => {
    const script = pathToFileURL(path.join(ROOT, 'scripts', 'build-wasm-kernels.mjs')).href;
    const { generateGemvSource } = (await import(script)) as { generateGemvSource(): Promise<string> };
    const committed = fs.readFileSync(path.join(ROOT, 'src', 'engine', 'kernels', 'wasmGemvBinary.ts'), 'utf8');
    assert.equal(committed, await generateGemvSource());
  });

  for (const threads of [1, 2]) {
    test(`one row times a matrix equals the cpu backend (${threads} thread${threads > 1 ? 's' : ''}, every shape and transpose)`, () => {
      const { device, errors } = worstErrors(threads);
      assert.match(device, new RegExp(`wasm SIMD, ${threads} thread`));
      errors.forEach((e, i) => assert.ok(e < 1e-5, `case ${JSON.stringify(CASES[i])}: error ${e} of √K`));
    });
  }
});
