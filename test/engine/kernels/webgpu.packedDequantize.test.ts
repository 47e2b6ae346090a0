// FtunePackedDequantize on webgpu (src/engine/kernels/webgpu/packedDequantize.ts): rows of a packed
// weight widened into a float32 tensor, bit for bit the layout's values, for every precision, from a
// row that starts inside an nf4 word and absmax block. Lavapipe stands in for a GPU.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { PACKED_DEQUANTIZE } from '../../../src/engine/kernels/webgpu/packedDequantize';
import { disposePacked, type PackedKind } from '../../../src/engine/packedWeight';
import { packedTensors, randomPacked } from '../../helpers/packedTestWeights';
import { useWebGpuBackend } from '../../helpers/webgpu';

const skipWithoutAdapter = useWebGpuBackend('webgpu packed dequantize tests');
const KINDS: PackedKind[] = ['f16', 'bf16', 'int8', 'nf4'];

describe('packed weights dequantized on webgpu', () => {
  test('rows [3, 101) of a [130, 67] weight of every precision are the layout\'s values bit for bit', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const [N, K, rowStart, rows] = [130, 67, 3, 98];
    for (const kind of KINDS) {
      const w = randomPacked(kind, N, K, 31, { fullRange: true });
      const packed = packedTensors(w);
      const inputs: tf.NamedTensorMap = packed.scales ? { data: packed.data, scales: packed.scales } : { data: packed.data };
      const out = tf.engine().runKernel(PACKED_DEQUANTIZE, inputs, { kind, N, K, rowStart, rows }) as tf.Tensor;
      assert.deepEqual(out.shape, [rows, K]);
      const got = new Uint32Array(((await out.data()) as Float32Array).buffer);
      const want = new Uint32Array(w.dense.buffer, rowStart * K * 4, rows * K);
      out.dispose();
      disposePacked(packed);
      const bad = want.findIndex((v, i) => got[i] !== v);
      assert.equal(bad, -1, `${kind}: element ${bad}: 0x${got[bad]?.toString(16)}, definition 0x${want[bad]?.toString(16)}`);
    }
  });
});
