// A LoRA step at Qwen2.5-0.5B's real shape (config.json values, 2 layers, vocabulary 151,936, BF16
// weights) on webgpu equals the same step on wasm with the projections quantized to nf4: the WGSL
// packed kernels (kernels/webgpu/packedMatMul.ts, packedGather.ts) against wasm's. The same step on
// the 16-bit base (the default) is the real-shape matrix's (webgpu.realShapes.test.ts: its models load
// BF16 checkpoints 16-bit on both backends, and the gradient of the first layer's adapter goes back
// through every bf16 projection of the second), so it is not repeated here. Lavapipe stands in for a GPU (the webgpu half is skipped, with the
// reason, only where no WebGPU adapter exists).
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../src/core/random';
import { initBackend } from '../../src/engine/backend';
import { IGNORE_INDEX } from '../../src/engine/loss';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import type { QuantizeKind } from '../../src/engine/packedWeight';
import { webGpuUnavailableReason } from '../../src/engine/webgpu';
import { assertClose } from '../helpers/conformance';
import { oneLoraStep, type LoraStepResult } from '../helpers/loraStep';
import { QWEN25_05B, writeRealShapeModel } from '../helpers/realShapes';

interface StepResult extends LoraStepResult { kinds: Record<string, string> }

/** One LoRA step (q/k/v/o/gate/up/down, seeded non-zero A and B) on `backend` with the base held as `quantize` says. */
async function loraStep(backend: 'wasm' | 'webgpu', dir: string, quantize: QuantizeKind): Promise<StepResult> {
  await initBackend(backend);
  const model = DecoderModel.load(dir, { quantize });
  const adapter = LoraAdapter.create(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 3);
  try {
    const rand = mulberry32(11);
    for (const v of adapter.variables()) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => (2 * rand() - 1) * 0.05), v.shape));
    const V = QWEN25_05B.config.vocab_size as number;
    const ids = [V - 1, ...Array.from({ length: 20 }, () => Math.floor(rand() * V)), 151643];
    const seqs = [ids, ids.slice(5, 17)].map((s) => ({ input_ids: s, labels: s.map((id, i) => (i < 2 ? IGNORE_INDEX : id)) }));
    const step = await oneLoraStep(model, adapter, seqs, 151643);
    return { kinds: Object.fromEntries([...model.packed].map(([n, w]) => [n, w.kind])), ...step };
  } finally {
    adapter.dispose();
    model.dispose();
  }
}

describe(`${QWEN25_05B.name} shape: a LoRA step with a packed base on webgpu equals wasm`, () => {
  let dir = '';
  let skip: string | undefined;
  before(async () => {
    dir = writeRealShapeModel(QWEN25_05B);
    skip = await webGpuUnavailableReason();
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  {
    const quantize = 'nf4';
    test('frozen projections nf4: loss, gradient norm and the adapter after one AdamW step', async (t) => {
      if (skip) return t.skip(skip);
      const started = Date.now();
      const wasm = await loraStep('wasm', dir, quantize);
      const gpu = await loraStep('webgpu', dir, quantize);
      process.stdout.write(`${quantize}: wasm and webgpu steps in ${((Date.now() - started) / 1000).toFixed(1)} s; loss ${gpu.loss} / ${wasm.loss}\n`);
      // the same weights held the same way on both backends: projections nf4, embedding bf16
      assert.deepEqual(gpu.kinds, wasm.kinds);
      assert.equal(gpu.kinds['model.layers.1.mlp.down_proj.weight'], 'nf4');
      assert.equal(gpu.kinds['model.embed_tokens.weight'], 'bf16');
      assert.ok(Math.abs(gpu.loss - wasm.loss) < 1e-4 * wasm.loss, `loss ${gpu.loss} on webgpu, ${wasm.loss} on wasm`);
      assert.ok(Math.abs(gpu.gradNorm - wasm.gradNorm) < 1e-3 * wasm.gradNorm, `gradient norm ${gpu.gradNorm} on webgpu, ${wasm.gradNorm} on wasm`);
      // the conformance tolerance of an adapter trajectory: Adam's first step is ±lr for every element
      // whose gradient is not ~0, and an element whose gradient is ~0 may flip its step's sign (≤ 0.1%)
      assertClose(gpu.adapter, wasm.adapter, 2e-3, 1e-5, 'adapter after the step', 0.001);
    });
  }
});
