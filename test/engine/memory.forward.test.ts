// Inference-time memory: a forward pass under the caller's tf.tidy (as generation and evaluation run
// it) holds one layer's intermediates at a time, not every layer's.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { parseModelConfig } from '../../src/core/modelConfig';
import { initBackend } from '../../src/engine/backend';
import { randomModel } from '../../src/engine/shapes';

before(async () => {
  await initBackend('wasm');
});

/** Peak tensor bytes of tidy(forward) beyond what was allocated before it (the weights). */
async function forwardPeak(layers: number): Promise<number> {
  const config = parseModelConfig({
    model_type: 'llama', hidden_size: 64, intermediate_size: 256, num_hidden_layers: layers, num_attention_heads: 4,
    num_key_value_heads: 4, vocab_size: 128, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true,
  }, 'test');
  const model = randomModel(config);
  try {
    const ids = tf.tensor2d(Array.from({ length: 2 * 96 }, (_, i) => i % 128), [2, 96], 'int32');
    const base = tf.memory().numBytes;
    const info = await tf.profile(() => tf.tidy(() => tf.sum(model.forward(ids).hidden)));
    (info.result as tf.Tensor).dispose();
    ids.dispose();
    return info.peakBytes - base;
  } finally {
    model.dispose();
  }
}

test('peak memory of a forward pass does not grow with the number of layers', async () => {
  const two = await forwardPeak(2);
  const eight = await forwardPeak(8);
  assert.ok(eight < 1.5 * two, `8 layers peak ${eight} bytes, 2 layers ${two} bytes`);
});
