// Every case of ../shared/conformance against the engine on wasm, for every fixture model
// (the checks themselves are in helpers/conformanceCases.ts, shared with the webgpu suite). Models
// stored as BF16 (tiny-llama, tiny-gemma3) run with their frozen weights held 16-bit, the default.
import { before, describe, test } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { assertLogitsCase, CONFORMANCE_MODELS } from '../helpers/conformance';
import { checkEvalLoss, checkGreedy, checkLoraTraining, checkNoLeak, checkQuantized, checkSixteenBitIdentical } from '../helpers/conformanceCases';

before(async () => {
  await initBackend('wasm');
});

for (const name of CONFORMANCE_MODELS) {
  describe(`conformance: ${name}`, () => {
    test('logits of a right-padded batch match at every unpadded position', async () => {
      await assertLogitsCase(name);
    });

    test('eval loss over sft.jsonl and completion.jsonl is token-weighted and matches', async () => {
      await checkEvalLoss(name);
    });

    test('LoRA SFT: step-0 gradients, 3 AdamW steps (losses, grad norms) and the adapter after them', async () => {
      await checkLoraTraining(name);
    });

    test('greedy decoding, base and with adapter, with and without the KV cache', async () => {
      await checkGreedy(name);
    });

    test('no tensors leak across a forward + backward + update', async () => {
      await checkNoLeak(name);
    });

    if (name === 'tiny-llama' || name === 'tiny-gemma3') {
      test('16-bit frozen weights: logits, decoding, eval loss and a LoRA step are bit-identical to float32 weights', async () => {
        await checkSixteenBitIdentical(name);
      });
    }

    if (name === 'tiny-qwen2' || name === 'tiny-llama') {
      for (const kind of ['int8', 'nf4'] as const) {
        test(`quant_${kind}: eval losses on the ${kind} base and 3 LoRA AdamW steps on it`, async () => {
          await checkQuantized(name, kind);
        });
      }
    }
  });
}
