// The wizard's fit check is honest: core/estimate.ts's total for a LoRA step is at least what the wasm
// heap really holds for tensors at the peak of that step (weights, adapter, AdamW state, activations,
// loss), and not far above it, with gradient checkpointing as the 4 GiB heap needs it. Two peaks:
//  - a recomputed decoder layer: Qwen2.5-3B's layer shape (hidden 2048, intermediate 11,008, 16 heads
//    over 2 KV heads of 128), nf4 base, 128 tokens (a 32,000-token vocabulary keeps it to seconds);
//  - the chunked loss: Qwen2.5-0.5B's real shape with its 151,936-token vocabulary, 16-bit base, 64 tokens.
// One layer each keeps the test to seconds; more layers add exactly counted weights and inputs.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { estimateTraining, modelShapeFromConfig } from '../../src/core/estimate';
import { parseModelConfig } from '../../src/core/modelConfig';
import { ALL_LINEAR_TARGETS } from '../../src/core/runConfig';
import { initBackend } from '../../src/engine/backend';
import { LoraAdapter } from '../../src/engine/lora';
import { causalLmObjective, type StepContext } from '../../src/engine/objectives';
import { AdamW } from '../../src/engine/optimizer';
import { randomModel } from '../../src/engine/shapes';
import { optimizerStep } from '../../src/engine/step';
import { QWEN25_05B, QWEN25_3B } from '../helpers/realShapes';
import { trackWasmAllocations } from '../../src/engine/wasmAllocations';

before(async () => {
  await initBackend('wasm');
});

const CASES = [
  { what: 'a Qwen2.5-3B layer, nf4 base, 128 tokens', raw: { ...QWEN25_3B.config, num_hidden_layers: 1, vocab_size: 32000 }, quantize: 'nf4', tokens: 128 },
  { what: 'Qwen2.5-0.5B with its vocabulary, 16-bit base, 64 tokens', raw: { ...QWEN25_05B.config, num_hidden_layers: 1 }, quantize: 'none', tokens: 64 },
] as const;

for (const { what: shape, raw, quantize, tokens } of CASES) {
  test(`estimate ≥ the tensor bytes the wasm heap holds at the peak of a LoRA step, and < 1.3× them: ${shape}`, async (t) => {
    const track = trackWasmAllocations();
    const model = randomModel(parseModelConfig(raw, 'test'), 0, { quantize });
    model.gradientCheckpointing = true;
    const adapter = LoraAdapter.create(model, { r: 8, alpha: 16, dropout: 0, targets: [...ALL_LINEAR_TARGETS] }, 0);
    const vars = adapter.variables();
    const optimizer = new AdamW(vars, { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    const vocab = model.config.vocab_size;
    const ids = Array.from({ length: tokens }, (_, t) => (t * 7919) % vocab);
    const ctx = (): StepContext => ({ model, adapter, padId: 0, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
    try {
      const outcome = await optimizerStep(causalLmObjective, [[{ input_ids: ids, labels: ids }]], vars, optimizer, ctx, { lr: 1e-4, maxGradNorm: 1 });
      assert.ok(outcome.applied && Number.isFinite(outcome.loss));
      const held = track.peak();
      const estimate = estimateTraining({
        shape: modelShapeFromConfig(raw), full: false, lora_r: 8, lora_targets: 'all-linear', batch_size: 1, grad_accum: 1,
        max_length: tokens, steps: 1, backend: 'wasm', gradient_checkpointing: true, quantize,
      });
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
      // the tensors' part of the estimate (the allocator's overhead on top is the heap's, not the tensors')
      const tensors = estimate.total_bytes - estimate.heap_overhead_bytes;
      const what = `estimate ${mib(tensors)} of tensors (weights ${mib(estimate.weights_bytes)}, optimizer ${mib(estimate.optimizer_bytes)}, activations ${mib(estimate.activation_bytes)}), held at the peak ${mib(held)}`;
      t.diagnostic(what);
      assert.ok(estimate.heap_overhead_bytes > 0.05 * tensors, 'the wasm heap overhead is counted on top');
      assert.ok(tensors >= held, what);
      assert.ok(tensors < 1.3 * held, what);
    } finally {
      track.stop();
      optimizer.dispose();
      adapter.dispose();
      model.dispose();
    }
  });
}
