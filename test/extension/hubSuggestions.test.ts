// The wizard's Hub suggestions: a pure list with sizes, licenses and a memory fit per preset budget.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatParams, loraMemoryNeed, SUGGESTED_HUB_MODELS, suggestHubModels } from '../../src/core/hubSuggestions';
import { parseModelConfig } from '../../src/core/modelConfig';
import { presetMemory } from '../../src/extension/wizard';

test('every suggested model is one the engine supports, with its size and license', () => {
  const ids = SUGGESTED_HUB_MODELS.map((m) => m.id);
  for (const id of ['Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen3-0.6B', 'google/gemma-3-270m-it', 'meta-llama/Llama-3.2-1B-Instruct', 'HuggingFaceTB/SmolLM2-360M-Instruct', 'microsoft/Phi-4-mini-instruct']) {
    assert.ok(ids.includes(id), id);
  }
  for (const m of SUGGESTED_HUB_MODELS) {
    assert.ok(m.license.length > 0 && m.params > 1e8);
    // The model_type parses (a tiny config of that type): the suggestion can be trained once downloaded.
    assert.equal(parseModelConfig({ model_type: m.modelType, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 10 }).model_type, m.modelType);
  }
});

test('fit by memory budget: those that fit first, smallest first; the rest after', () => {
  const budget = loraMemoryNeed(600e6); // Qwen3-0.6B (596M) fits, Llama-3.2-1B does not
  const s = suggestHubModels(budget);
  assert.deepEqual(s.filter((m) => m.fits).map((m) => m.id), ['google/gemma-3-270m-it', 'HuggingFaceTB/SmolLM2-360M-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen3-0.6B']);
  assert.deepEqual(s.slice(4).map((m) => [m.id, m.fits]), [['meta-llama/Llama-3.2-1B-Instruct', false], ['microsoft/Phi-4-mini-instruct', false]]);
  assert.ok(suggestHubModels(presetMemory('gpu-24gb', 0)).every((m) => m.fits), 'a 24 GB card fits all (Phi-4-mini needs ~19 GB)');
  assert.equal(suggestHubModels(presetMemory('gpu-8gb', 0)).find((m) => m.id === 'microsoft/Phi-4-mini-instruct')!.fits, false);
  assert.equal(presetMemory('cpu-small', 123), 123);
});

test('formatParams', () => {
  assert.equal(formatParams(494e6), '494M');
  assert.equal(formatParams(1.24e9), '1.2B');
  assert.equal(formatParams(3.84e9), '3.8B');
});
