// Rows of a packed table widened on webgpu (src/engine/kernels/webgpu/packedGather.ts): the embedding
// lookup of a 16-bit table, bit for bit the layout's values, at an awkward size, split into row blocks,
// and at Qwen2.5-0.5B's real [151936, 896] table (over one 128 MiB binding in 16 bits). Lavapipe stands
// in for a GPU (skipped only where no WebGPU adapter exists).
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { packedBlocks } from '../../../src/engine/kernels/webgpu/packedBlocks';
import { gatherPackedRowsWebGpu } from '../../../src/engine/kernels/webgpu/packedGather';
import { disposePacked, type PackedKind } from '../../../src/engine/packedWeight';
import { packedTensors, randomPacked, type PackedTestWeight } from '../../helpers/packedTestWeights';
import { useWebGpuBackend } from '../../helpers/webgpu';

const skipWithoutAdapter = useWebGpuBackend('webgpu packed gather tests');
const KINDS: PackedKind[] = ['f16', 'bf16', 'int8', 'nf4'];

/** Gathers `ids` on webgpu and compares every bit with the layout's values (a zero row for an id out of range). */
async function checkGather(w: PackedTestWeight, ids: number[], minBlocks: number): Promise<void> {
  const [N, K] = w.shape;
  const packed = packedTensors(w);
  const idsT = tf.tensor1d(ids, 'int32');
  try {
    assert.ok(packedBlocks(packed).length >= minBlocks, `${w.kind}: ${packedBlocks(packed).length} blocks`);
    const rows = gatherPackedRowsWebGpu(packed, idsT);
    assert.deepEqual(rows.shape, [ids.length, K]);
    const got = new Uint32Array(((await rows.data()) as Float32Array).buffer);
    rows.dispose();
    const want = new Uint32Array(w.dense.buffer);
    ids.forEach((id, i) => {
      for (let k = 0; k < K; k++) {
        const expected = id >= 0 && id < N ? want[id * K + k] : 0;
        if (got[i * K + k] !== expected) assert.fail(`${w.kind} [${N}, ${K}]: id ${id}, column ${k}: 0x${got[i * K + k].toString(16)}, definition 0x${expected.toString(16)}`);
      }
    });
  } finally {
    idsT.dispose();
    disposePacked(packed);
  }
}

describe('packed rows gathered on webgpu', () => {
  test('every precision, an odd width, repeated ids, an id out of range: the layout\'s values bit for bit', async (t) => {
    if (skipWithoutAdapter(t)) return;
    for (const kind of KINDS) await checkGather(randomPacked(kind, 130, 67, 21, { fullRange: true }), [0, 129, 5, 5, 64, 130, 77], 1);
  });

  test('a table larger than one binding gathers from each row block (nf4 blocks starting inside a word)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const saved = process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES;
    process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES = '4096';
    try {
      for (const kind of KINDS) await checkGather(randomPacked(kind, 300, 67, 22, { fullRange: true }), [299, 0, 150, 31, 29, 30, 241, 121, 119], 3);
    } finally {
      if (saved === undefined) delete process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES;
      else process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES = saved;
    }
  });

  test('Qwen2.5-0.5B\'s bf16 embedding [151936, 896] (260 MiB: over the device\'s binding, split by its real limit)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    await checkGather(randomPacked('bf16', 151936, 896, 23), [151935, 0, 151643, 75000, 37983, 113952], 3);
  });
});
