// x·Wᵀ on webgpu for a few rows and a long inner dimension (src/engine/kernels/webgpu/matMul.ts):
// tfjs-backend-webgpu's split-K program returned garbage there for a transposed B, which made the GPU
// self-check stop Llama-3.2-1B (hidden 2048: k_proj/v_proj [512, 2048] for 6 tokens) — a true alarm,
// not a false one. Lavapipe stands in for a GPU (skipped only where no WebGPU adapter exists).
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { runGpuSelfCheck } from '../../../src/engine/gpuSelfCheck';
import { tfjsPicksSplitK } from '../../../src/engine/kernels/webgpu/matMul';
import { DecoderModel } from '../../../src/engine/model';
import { useWebGpuBackend } from '../../helpers/webgpu';
import { LLAMA32_1B, writeRealShapeModel } from '../../helpers/realShapes';

const skipWithoutAdapter = useWebGpuBackend('webgpu matMul tests');

/** Deterministic values of a size that makes errors visible (sums of ~2000 terms). */
function values(n: number, step: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * step) * scale);
}

/** max |webgpu − cpu| / max |cpu| of f(), computed on both backends. */
async function gpuVsCpu(f: () => tf.Tensor): Promise<number> {
  const run = async () => {
    const t = tf.tidy(f);
    const d = (await t.data()) as Float32Array;
    t.dispose();
    return d;
  };
  const gpu = await run();
  await tf.setBackend('cpu');
  let cpu: Float32Array;
  try {
    cpu = await run();
  } finally {
    await tf.setBackend('webgpu');
  }
  let diff = 0, scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    diff = Math.max(diff, Math.abs(gpu[i] - cpu[i]));
    scale = Math.max(scale, Math.abs(cpu[i]));
  }
  return diff / scale;
}

describe('webgpu matMul with a transposed B, few rows and a long inner dimension', () => {
  test('x [M, 2048] · W[512, 2048]ᵀ equals the CPU for 1 to 9 rows (the shapes tfjs sends to split-K included)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const threshold = (tf.backend() as unknown as { thresholdToIncreaseWorkgroups: number }).thresholdToIncreaseWorkgroups;
    // the test is only worth something if these products are the ones tfjs would give its split-K program
    assert.ok(tfjsPicksSplitK([6, 2048], [512, 2048], false, true, threshold), `threshold ${threshold}: 6×512 is not split-K here`);
    const w = values(512 * 2048, 0.11, 0.05);
    for (const M of [1, 6, 8, 9]) {
      const x = values(M * 2048, 0.37, 1);
      const err = await gpuVsCpu(() => tf.matMul(tf.tensor2d(x, [M, 2048]), tf.tensor2d(w, [512, 2048]), false, true));
      assert.ok(err < 1e-5, `${M} rows: max |webgpu − cpu| / max |cpu| = ${err}`);
    }
    // the fused op (matMul + bias) goes through the same tfjs program choice
    const x = values(6 * 3000, 0.37, 1), w3 = values(100 * 3000, 0.11, 0.05), bias = values(100, 0.5, 1);
    const err = await gpuVsCpu(() => tf.fused.matMul({ a: tf.tensor2d(x, [6, 3000]), b: tf.tensor2d(w3, [100, 3000]), transposeB: true, bias: tf.tensor1d(bias) }));
    assert.ok(err < 1e-5, `fused: ${err}`);
  });

  test('the GPU self-check passes at Llama-3.2-1B\'s attention shape (hidden 2048, 32 heads over 8 KV heads, llama3 rope)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    // the real checkpoint's config with a smaller vocabulary and MLP (they are not part of the cause): seconds, not minutes
    const shape = { ...LLAMA32_1B, config: { ...LLAMA32_1B.config, vocab_size: 4096, intermediate_size: 1024, bos_token_id: 1, eos_token_id: 2 } };
    const dir = writeRealShapeModel(shape);
    const model = DecoderModel.load(dir);
    try {
      const r = await runGpuSelfCheck(model);
      assert.ok(r.ok, JSON.stringify(r));
      assert.ok(r.maxDiff < 1e-4 * r.scale, `max difference ${r.maxDiff} for logits up to ${r.scale}`);
    } finally {
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
