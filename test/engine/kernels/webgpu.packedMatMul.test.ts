// x · dequant(W)ᵀ on webgpu with W packed (src/engine/kernels/webgpu/packedMatMul.ts) against the
// composite: the weight's float32 values, then tf.matMul on the cpu backend. Forward (both programs:
// matrix-vector for M ≤ 8, tiled above) and the gradient with respect to x, for every precision, at
// awkward sizes and at real projection shapes; the widening itself bit for bit; weights split into row
// blocks. Lavapipe stands in for a GPU (skipped only where no WebGPU adapter exists).
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../../src/core/random';
import { packedBlocks } from '../../../src/engine/kernels/webgpu/packedBlocks';
import { packedMatMulTWebGpu, packedMatMulWebGpu } from '../../../src/engine/kernels/webgpu/packedMatMul';
import { disposePacked, type PackedKind } from '../../../src/engine/packedWeight';
import { packedTensors, randomPacked, type PackedTestWeight } from '../../helpers/packedTestWeights';
import { useWebGpuBackend } from '../../helpers/webgpu';

const skipWithoutAdapter = useWebGpuBackend('webgpu packed matMul tests');
const KINDS: PackedKind[] = ['f16', 'bf16', 'int8', 'nf4'];

function randomValues(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

/** y = x · Wᵀ and dx = dy · W on webgpu with the packed weight. */
async function onWebGpu(w: PackedTestWeight, x: Float32Array, M: number, dy: Float32Array): Promise<{ y: Float32Array; dx: Float32Array }> {
  const [N, K] = w.shape;
  const packed = packedTensors(w);
  try {
    const xt = tf.tensor2d(x, [M, K]), dyt = tf.tensor2d(dy, [M, N]);
    const y = packedMatMulTWebGpu(xt, packed);
    // d/dx of Σ y ⊙ dy is dy · W
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(packedMatMulTWebGpu(input as tf.Tensor2D, packed), dyt)))(xt);
    const out = { y: (await y.data()) as Float32Array, dx: (await dx.data()) as Float32Array };
    tf.dispose([xt, dyt, y, dx]);
    return out;
  } finally {
    disposePacked(packed);
  }
}

/** The composite on the cpu backend: y, dx and the magnitudes |x|·|W|ᵀ, |dy|·|W| that bound their rounding. */
async function onCpu(w: PackedTestWeight, x: Float32Array, M: number, dy: Float32Array) {
  const [N, K] = w.shape;
  await tf.setBackend('cpu');
  try {
    return tf.tidy(() => {
      const W = tf.tensor2d(w.dense, [N, K]), xt = tf.tensor2d(x, [M, K]), dyt = tf.tensor2d(dy, [M, N]);
      return {
        y: tf.matMul(xt, W, false, true).dataSync() as Float32Array,
        yScale: tf.matMul(tf.abs(xt), tf.abs(W), false, true).dataSync() as Float32Array,
        dx: tf.matMul(dyt, W).dataSync() as Float32Array,
        dxScale: tf.matMul(tf.abs(dyt), tf.abs(W)).dataSync() as Float32Array,
      };
    });
  } finally {
    await tf.setBackend('webgpu');
  }
}

/** Every element within float32 rounding of a sum of products: |a − b| ≤ 1e-5 · Σ|terms|. */
function assertClose(got: Float32Array, want: Float32Array, scale: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - 1e-5 * scale[i];
    if (!(excess <= worst)) { worst = excess; at = i; } // NaN counts as a failure
  }
  assert.ok(at < 0, `${what}: element ${at}: webgpu ${got[at]}, composite ${want[at]} (magnitude ${scale[at]})`);
}

async function checkAgainstComposite(kind: PackedKind, N: number, K: number, M: number, seed: number): Promise<void> {
  const w = randomPacked(kind, N, K, seed);
  const x = randomValues(M * K, seed + 1), dy = randomValues(M * N, seed + 2);
  const gpu = await onWebGpu(w, x, M, dy);
  const cpu = await onCpu(w, x, M, dy);
  assertClose(gpu.y, cpu.y, cpu.yScale, `${kind} [${N}, ${K}], ${M} rows: y`);
  assertClose(gpu.dx, cpu.dx, cpu.dxScale, `${kind} [${N}, ${K}], ${M} rows: dx`);
}

/** One-hot rows: products that are single weights, so the kernel's widened values can be compared bit for bit. */
function oneHot(rows: number[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((col, r) => { out[r * width + col] = 1; });
  return out;
}

/** Bit equality; a sum's zero is +0, so a signed zero of the weight is compared as +0. */
function assertBitExact(got: Float32Array, want: (i: number) => number, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Float32Array(1), wb = new Uint32Array(w.buffer);
  for (let i = 0; i < got.length; i++) {
    w[0] = want(i);
    if (g[i] !== wb[0]) assert.fail(`${what}: element ${i}: webgpu ${got[i]} (0x${g[i].toString(16)}), definition ${w[0]} (0x${wb[0].toString(16)})`);
  }
}

describe('packed x·Wᵀ on webgpu', () => {
  test('the widened weights are the layout\'s values bit for bit (f16 subnormals and signed zeros too), forward and in dx', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const N = 70, K = 67;
    for (const kind of KINDS) {
      const w = randomPacked(kind, N, K, 11, { fullRange: true });
      const columns = [0, 33, 66]; // matrix-vector program: y[m, n] = W[n, columns[m]]
      const tiled = Array.from({ length: K }, (_, k) => k); // tiled program: y = Wᵀ
      for (const cols of [columns, tiled]) {
        const { y } = await onWebGpu(w, oneHot(cols, K), cols.length, new Float32Array(cols.length * N));
        assertBitExact(y, (i) => w.dense[(i % N) * K + cols[Math.floor(i / N)]] + 0, `${kind} y, ${cols.length} rows`);
      }
      // dy = I: dx = W
      const { dx } = await onWebGpu(w, new Float32Array(N * K), N, oneHot(Array.from({ length: N }, (_, n) => n), N));
      assertBitExact(dx, (i) => w.dense[i] + 0, `${kind} dx`);
    }
  });

  for (const kind of KINDS) {
    test(`${kind}: awkward sizes (N, K not multiples of 64, odd K), 1, 3, 8 and 37 rows, equal the composite`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      for (const [N, K] of [[130, 67], [100, 190], [65, 9]] as const) {
        for (const M of [1, 3, 8, 37]) await checkAgainstComposite(kind, N, K, M, N * 1000 + K + M);
      }
    });
  }

  for (const kind of KINDS) {
    test(`${kind}: real projection shapes (Qwen2.5-0.5B up/down 896↔4864, Llama-3.2-1B up 2048→8192) equal the composite`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      await checkAgainstComposite(kind, 4864, 896, 1, 1);
      await checkAgainstComposite(kind, 896, 4864, 37, 2);
      await checkAgainstComposite(kind, 8192, 2048, 5, 3);
    });
  }

  test('more output columns than one dispatch dimension holds (a vocabulary: 70,000 workgroups, folded by the backend)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    await checkAgainstComposite('bf16', 70000, 9, 1, 7);
    await checkAgainstComposite('nf4', 70000, 9, 3, 8);
  });

  test('a weight larger than one binding runs as row blocks (nf4 blocks starting inside a word and an absmax block)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const saved = process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES;
    // The guard holds every tensor to the lowered limit, activations too: x [9, 999] (35 KiB) and y [9, 300]
    // fit in 40 KiB, the weight does not.
    process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES = String(40 * 1024);
    try {
      // 300 rows of 999: f16 500 words a row (20 rows a block), int8 250, nf4 124.875 (rows start inside a word)
      for (const kind of KINDS) {
        const packed = packedTensors(randomPacked(kind, 300, 999, 1));
        const blocks = packedBlocks(packed).length;
        disposePacked(packed);
        assert.ok(blocks >= 3, `${kind}: ${blocks} blocks`);
        for (const M of [2, 9]) await checkAgainstComposite(kind, 300, 999, M, 500 + M); // one-row program, tiles
      }
    } finally {
      if (saved === undefined) delete process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES;
      else process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES = saved;
    }
  });

  test('d · W of a weight in row blocks, outside any tidy, leaves only its result: the blocks\' products are freed', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const saved = process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES;
    process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES = String(40 * 1024);
    const packed = packedTensors(randomPacked('nf4', 300, 999, 2));
    const d = tf.tensor2d(randomValues(2 * 300, 3), [2, 300]);
    try {
      assert.ok(packedBlocks(packed).length >= 3); // the blocks are made (and kept with the weight) here
      const before = tf.memory().numTensors;
      const product = packedMatMulWebGpu(d, packed);
      assert.equal(tf.memory().numTensors, before + 1, 'one new tensor: the product');
      assert.deepEqual(product.shape, [2, 999]);
      product.dispose();
    } finally {
      if (saved === undefined) delete process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES;
      else process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES = saved;
      d.dispose();
      disposePacked(packed);
    }
  });

  test('words of the wrong shape are refused with what the layout needs', (t) => {
    if (skipWithoutAdapter(t)) return;
    const data = tf.zeros([10, 4], 'int32'); // f16 [10, 9] needs [10, 5]
    const x = tf.zeros([1, 9]);
    try {
      assert.throws(() => packedMatMulTWebGpu(x as tf.Tensor2D, { kind: 'f16', shape: [10, 9], data }), /the layout needs int32 \[10, 5\] and no scales/);
    } finally {
      tf.dispose([data, x]);
    }
  });
});
