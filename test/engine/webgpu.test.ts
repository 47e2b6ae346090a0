// The engine on the webgpu backend (Dawn), against the same golden numbers as the wasm conformance
// test. Without a GPU, Mesa's lavapipe (scripts/setup-webgpu.sh) provides a CPU Vulkan adapter.
// Skipped only where no WebGPU adapter can be created at all; the reason is printed.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import { causalLmObjective, type StepContext } from '../../src/engine/objectives';
import { AdamW, globalNorm } from '../../src/engine/optimizer';
import { accumulate } from '../../src/engine/step';
import { useWebGpuBackend } from '../helpers/webgpu';
import { assertClose, assertLogitsCase, CONFORMANCE_MODELS, modelDir, readCase, readSafetensorsAll } from '../helpers/conformance';
import { checkDpo, checkEvalLoss, checkGreedy, checkLoraTraining, checkQuantized } from '../helpers/conformanceCases';

interface EvalCase { token_ids: number[][]; labels: number[][] }
interface TrainCase { losses: number[]; grad_norms: number[]; rtol: number; atol: number; hyper: { lr: number; weight_decay: number; betas: [number, number]; eps: number } }

const PAD = 509;
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
    const name = 'tiny-qwen2';
    const dir = modelDir(name);
    const c = readCase<TrainCase>(name, 'train_sft_lora.json');
    const data = readCase<EvalCase>(name, 'eval_loss.json');
    const batch = data.token_ids.map((ids, i) => ({ input_ids: ids, labels: data.labels[i] }));
    const model = DecoderModel.load(dir);
    const adapter = LoraAdapter.load(path.join(dir, 'cases', 'adapter_init'), model);
    const vars = adapter.variables();
    const optimizer = new AdamW(vars, { lr: c.hyper.lr, beta1: c.hyper.betas[0], beta2: c.hyper.betas[1], eps: c.hyper.eps, weightDecay: c.hyper.weight_decay });
    const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
    try {
      // One forward + backward over the batch, checked against the reference, then one AdamW update.
      const acc = await accumulate(causalLmObjective, [batch], vars, ctx);
      assertClose([acc.lossSum / acc.weight], [c.losses[0]], 1e-4, 0, 'loss');
      const averaged = acc.grads.map((g) => tf.div(g, acc.weight));
      tf.dispose(acc.grads);
      const expected = readSafetensorsAll(path.join(dir, 'cases', 'lora_grads_step0.safetensors'));
      const modules = adapter.allModules();
      for (let i = 0; i < modules.length; i++) {
        for (const [which, g] of [['A', averaged[2 * i]], ['B', averaged[2 * i + 1]]] as const) {
          const key = `base_model.model.${modules[i].prefix}.lora_${which}.weight`;
          assertClose((await g.data()) as Float32Array, expected.get(key)!, c.rtol, c.atol, key);
        }
      }
      const norm = globalNorm(averaged); // addN over every LoRA matrix: more inputs than one shader binds
      assertClose([(await norm.data())[0]], [c.grad_norms[0]], c.rtol, c.atol, 'grad norm');
      norm.dispose();
      const before = (await vars[1].data()).slice();
      optimizer.apply(averaged, c.hyper.lr);
      tf.dispose(averaged);
      const after = await vars[1].data();
      // AdamW's first step moves every element with a non-zero gradient by about lr.
      const moved = after.map((v, i) => Math.abs(v - before[i]));
      assert.ok(moved.every((d) => d < 2 * c.hyper.lr) && moved.some((d) => d > 0.5 * c.hyper.lr), 'the update reached the adapter');
    } finally {
      optimizer.dispose();
      adapter.dispose();
      model.dispose();
    }
  });

  // The two families whose numerics differ most from llama's (Gemma norms, sliding windows, per-layer
  // rope; fused projections, partial rotary): every case, as on wasm.
  // The quantized bases through the WGSL packed kernels (kernels/webgpu/packedMatMul.ts).
  for (const name of ['tiny-qwen2', 'tiny-llama']) {
    for (const kind of ['int8', 'nf4'] as const) {
      test(`${name}: quant_${kind}: eval losses on the ${kind} base and 3 LoRA AdamW steps on it`, async (t) => {
        if (skipWithoutAdapter(t)) return;
        await checkQuantized(name, kind);
      });
    }
  }

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
