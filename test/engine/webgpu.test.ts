// The engine on the webgpu backend (Dawn), against the same golden numbers as the wasm conformance
// test. Without a GPU, Mesa's lavapipe (scripts/setup-webgpu.sh) provides a CPU Vulkan adapter.
// Skipped only where no WebGPU adapter can be created at all; the reason is printed.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useWebGpuBackend } from '../helpers/webgpu';
import { assertLogitsCase, CONFORMANCE_MODELS } from '../helpers/conformance';
import { checkDpo, checkEvalLoss, checkGreedy, checkLoraTraining, checkQuantized } from '../helpers/conformanceCases';

const skipWithoutAdapter = useWebGpuBackend('webgpu tests');

describe('webgpu backend', () => {
  test('addN over more inputs than a shader may bind', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const n = 40;
    const sum = tf.tidy(() => tf.addN(Array.from({ length: n }, (_, i) => tf.fill([3], i + 1))));
    assert.deepEqual(Array.from(await sum.data()), [820, 820, 820]); // 1 + 2 + … + 40
    sum.dispose();
  });

  for (const name of CONFORMANCE_MODELS) {
    test(`${name}: logits of a right-padded batch match at every unpadded position`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      await assertLogitsCase(name);
    });
  }

  test('tiny-qwen2: one LoRA SFT step (loss, step-0 gradients, gradient norm, AdamW update)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    await checkLoraTraining('tiny-qwen2', { trajectory: false, firstUpdate: true });
  });

  // The quantized bases (quant_int8.json / quant_nf4.json) through the WGSL packed kernels
  // (kernels/webgpu/packedMatMul.ts).
  for (const name of ['tiny-qwen2', 'tiny-llama']) {
    for (const kind of ['int8', 'nf4'] as const) {
      test(`${name}: quant_${kind}: eval losses on the ${kind} base and 3 LoRA AdamW steps on it`, async (t) => {
        if (skipWithoutAdapter(t)) return;
        await checkQuantized(name, kind);
      });
    }
  }

  // The two families whose numerics differ most from llama's (Gemma norms, sliding windows, per-layer
  // rope; fused projections, partial rotary): every case, as on wasm.
  for (const name of ['tiny-gemma3', 'tiny-phi3']) {
    test(`${name}: eval losses (sft.jsonl, completion.jsonl)`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      await checkEvalLoss(name);
    });
    test(`${name}: LoRA SFT step-0 loss, gradients and gradient norm`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      await checkLoraTraining(name, { trajectory: false });
    });
    test(`${name}: DPO log-probs, rewards, loss, gradients and 3 steps`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      await checkDpo(name);
    });
    test(`${name}: greedy decoding, base and with adapter, with and without the KV cache`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      await checkGreedy(name);
    });
  }
});
