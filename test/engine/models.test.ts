// Model configs the engine must load: qwen3 (q_norm/k_norm, explicit head_dim, one KV head, F16
// storage), llama with Llama 3 rope scaling, the newer `rope_parameters` layout; and the configs it
// must refuse with an error that names what is wrong, before anything large is allocated.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { MAX_DIMENSION, parseModelConfig, readModelConfig, ropeInverseFrequencies, type ModelConfig } from '../../src/core/modelConfig';
import { initBackend } from '../../src/engine/backend';
import { generate } from '../../src/engine/generate';
import { DecoderModel } from '../../src/engine/model';
import { LLAMA3_CONFIG, LLAMA3_ROPE_PARAMETERS_CONFIG, QWEN3_CONFIG, tinyWeights, writeTinyModel, type RawConfig } from '../helpers/tinyModels';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-models-'));
const PROMPT = [3, 17, 42, 5, 9, 28];

before(async () => {
  await initBackend('wasm');
});

/** Logits [T, V] of one sequence, as nested arrays. */
function logitsOf(model: DecoderModel, ids: number[]): number[][] {
  const t = tf.tidy(() => model.logits(model.forward(tf.tensor2d(ids, [1, ids.length], 'int32')).hidden));
  const rows = t.arraySync() as number[][];
  t.dispose();
  return rows;
}

function maxAbsDiff(a: number[], b: number[]): number {
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

/** Greedy decoding with and without the KV cache must pick the same tokens while the choice is clear. */
async function assertCacheAgrees(model: DecoderModel, what: string): Promise<void> {
  const options = { max_new_tokens: 12, greedy: true, stop: false };
  const reference = await generate(model, { promptIds: PROMPT, options, eosIds: [], useCache: false });
  const cached = await generate(model, { promptIds: PROMPT, options, eosIds: [], useCache: true });
  assert.equal(reference.tokenIds.length, 12, `${what}: stop is off, so every token is generated`);
  const ambiguous = reference.top2Gaps.findIndex((g) => g < 1e-3);
  const n = ambiguous < 0 ? 12 : ambiguous + 1;
  assert.ok(n >= 6, `${what}: the random model should decide at least 6 tokens clearly (gaps ${reference.top2Gaps})`);
  assert.deepEqual(cached.tokenIds.slice(0, n), reference.tokenIds.slice(0, n), `${what}: KV cache vs full recompute`);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(cached.top2Gaps[i] - reference.top2Gaps[i]) < 1e-3, `${what}: top-2 gap at step ${i}`);
}

describe('supported architectures load, run and decode', () => {
  const cases: { name: string; raw: RawConfig; dtype: 'F32' | 'F16' | 'BF16' }[] = [
    { name: 'qwen3 (q/k norm, head_dim 16 ≠ 32/4, 1 KV head, F16)', raw: QWEN3_CONFIG, dtype: 'F16' },
    { name: 'llama + rope_scaling llama3 (BF16)', raw: LLAMA3_CONFIG, dtype: 'BF16' },
    { name: 'llama with rope_parameters (F32)', raw: LLAMA3_ROPE_PARAMETERS_CONFIG, dtype: 'F32' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const dir = writeTinyModel(path.join(TMP, c.name.replace(/\W+/g, '-')), c.raw, { dtype: c.dtype, seed: 7 });
      const model = DecoderModel.load(dir);
      try {
        const cfg = model.config;
        assert.equal(cfg.model_type, c.raw.model_type);
        const logits = logitsOf(model, PROMPT);
        assert.equal(logits.length, PROMPT.length);
        assert.equal(logits[0].length, cfg.vocab_size);
        assert.ok(logits.flat().every(Number.isFinite), 'finite logits');
        await assertCacheAgrees(model, c.name);
      } finally {
        model.dispose();
      }
    });
  }

  test('qwen3: stored F16 weights are read back as their F16 values, and head_dim comes from config.json', () => {
    const dir = path.join(TMP, 'qwen3-f16');
    writeTinyModel(dir, QWEN3_CONFIG, { dtype: 'F16', seed: 3 });
    const model = DecoderModel.load(dir, { float32: true });
    try {
      assert.equal(model.config.head_dim, 16);
      assert.equal(model.config.qk_norm, true);
      assert.deepEqual(model.weights.get('model.layers.0.self_attn.q_proj.weight')!.shape, [64, 32]);
      assert.deepEqual(model.weights.get('model.layers.0.self_attn.k_proj.weight')!.shape, [16, 32]);
      const original = tinyWeights(QWEN3_CONFIG, { seed: 3 }).find((t) => t.name === 'model.layers.1.mlp.up_proj.weight')!.data;
      const loaded = model.weights.get('model.layers.1.mlp.up_proj.weight')!.dataSync();
      // F16 keeps 11 significant bits: every value within half an ulp (2^-11 relative), none exactly equal by chance en masse.
      let exact = 0;
      for (let i = 0; i < original.length; i++) {
        assert.ok(Math.abs(loaded[i] - original[i]) <= Math.abs(original[i]) * 2 ** -11 + 2 ** -25, `element ${i}`);
        if (loaded[i] === original[i]) exact++;
      }
      assert.ok(exact < original.length / 10, 'the values were really rounded to F16');
    } finally {
      model.dispose();
    }
  });

  test('qwen3: q_norm / k_norm are applied (they change attention from the second position on)', () => {
    const a = writeTinyModel(path.join(TMP, 'qwen3-norm-a'), QWEN3_CONFIG, { seed: 5 });
    const b = writeTinyModel(path.join(TMP, 'qwen3-norm-b'), QWEN3_CONFIG, {
      seed: 5,
      override: (name, data) => {
        if (/\.(q|k)_norm\.weight$/.test(name)) data.forEach((_, i) => (data[i] = 1 + 0.8 * Math.sin(3 * i + name.length)));
      },
    });
    const ma = DecoderModel.load(a), mb = DecoderModel.load(b);
    try {
      const la = logitsOf(ma, PROMPT), lb = logitsOf(mb, PROMPT);
      // One key: softmax is 1 whatever q and k are, so position 0 cannot depend on them.
      assert.ok(maxAbsDiff(la[0], lb[0]) < 1e-5, 'position 0 is independent of q/k');
      assert.ok(maxAbsDiff(la[4], lb[4]) > 1e-3, 'later positions depend on the q/k norm weights');
    } finally {
      ma.dispose();
      mb.dispose();
    }
  });
});

describe('rope', () => {
  /** transformers' _compute_default_rope_parameters + _compute_llama3_parameters, written as there (vectorised, float32 inv_freq). */
  function transformersLlama3InvFreq(c: { base: number; dim: number; factor: number; low: number; high: number; oldContext: number }): number[] {
    const invFreq = Array.from({ length: c.dim / 2 }, (_, k) => Math.fround(1 / Math.fround(c.base ** Math.fround((2 * k) / c.dim))));
    const lowFreqWavelen = c.oldContext / c.low;
    const highFreqWavelen = c.oldContext / c.high;
    const wavelen = invFreq.map((f) => (2 * Math.PI) / f);
    const invFreqLlama = invFreq.map((f, i) => (wavelen[i] > lowFreqWavelen ? f / c.factor : f));
    const smoothFactor = wavelen.map((w) => (c.oldContext / w - c.low) / (c.high - c.low));
    const smoothed = invFreqLlama.map((f, i) => (1 - smoothFactor[i]) * f / c.factor + smoothFactor[i] * f);
    const isMedium = wavelen.map((w) => !(w < highFreqWavelen) && !(w > lowFreqWavelen));
    return invFreqLlama.map((f, i) => (isMedium[i] ? smoothed[i] : f));
  }

  test('llama3 inverse frequencies equal transformers\' formula (kept, smoothed and divided bands)', () => {
    const config = parseModelConfig(LLAMA3_CONFIG);
    const got = Array.from(ropeInverseFrequencies(config));
    const want = transformersLlama3InvFreq({ base: 500000, dim: 16, factor: 8, low: 1, high: 4, oldContext: 2048 });
    assert.equal(got.length, 8);
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 * want[i], `inv_freq[${i}]: ${got[i]} vs ${want[i]}`);
    // the test really covers all three regimes
    const plain = Array.from({ length: 8 }, (_, k) => 1 / 500000 ** ((2 * k) / 16));
    const ratio = got.map((g, i) => g / plain[i]);
    assert.ok(ratio.some((r) => Math.abs(r - 1) < 1e-6), 'a high-frequency band kept');
    assert.ok(ratio.some((r) => Math.abs(r - 1 / 8) < 1e-6), 'a low-frequency band divided by factor');
    assert.ok(ratio.some((r) => r > 1 / 8 + 1e-3 && r < 1 - 1e-3), 'a medium band smoothed');
  });

  test('rope_parameters (newer transformers) parses to the same config and the same logits as rope_scaling', () => {
    const legacy = parseModelConfig(LLAMA3_CONFIG);
    const nested = parseModelConfig(LLAMA3_ROPE_PARAMETERS_CONFIG);
    assert.equal(nested.rope_theta, 500000);
    assert.deepEqual(nested.rope_scaling, legacy.rope_scaling);
    const a = DecoderModel.load(writeTinyModel(path.join(TMP, 'rope-legacy'), LLAMA3_CONFIG, { seed: 11 }));
    const b = DecoderModel.load(writeTinyModel(path.join(TMP, 'rope-nested'), LLAMA3_ROPE_PARAMETERS_CONFIG, { seed: 11 }));
    try {
      assert.deepEqual(logitsOf(b, PROMPT), logitsOf(a, PROMPT));
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('the forward pass uses the scaled frequencies (identical at position 0, different after)', () => {
    const { rope_scaling: _dropped, ...unscaled } = LLAMA3_CONFIG;
    const a = DecoderModel.load(writeTinyModel(path.join(TMP, 'rope-scaled'), LLAMA3_CONFIG, { seed: 13 }));
    const b = DecoderModel.load(writeTinyModel(path.join(TMP, 'rope-unscaled'), unscaled, { seed: 13 }));
    try {
      const la = logitsOf(a, PROMPT), lb = logitsOf(b, PROMPT);
      assert.ok(maxAbsDiff(la[0], lb[0]) < 1e-5, 'rotation by angle 0 is the identity');
      assert.ok(maxAbsDiff(la[5], lb[5]) > 1e-4, 'position 5 sees the scaled low frequencies');
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('rope_theta nested in rope_parameters is used (not the 10000 default)', () => {
    const base = { ...QWEN3_CONFIG };
    delete base.rope_theta;
    const nested = parseModelConfig({ ...base, rope_parameters: { rope_type: 'default', rope_theta: 1234 } });
    assert.equal(nested.rope_theta, 1234);
    assert.deepEqual(nested.rope_scaling, { rope_type: 'default' });
    assert.equal(parseModelConfig(base).rope_theta, 10000);
  });
});

describe('configs and folders that are refused, with the reason named', () => {
  const refused = (raw: RawConfig, pattern: RegExp) => assert.throws(() => parseModelConfig(raw, 'x/config.json'), pattern);

  test('unsupported model_type names the type and what is supported', () => {
    refused({ ...QWEN3_CONFIG, model_type: 'gpt2' }, /x\/config\.json: unsupported model_type "gpt2" \(supported: llama, mistral, qwen2, qwen3, gemma3_text, phi3\)/);
    refused({ ...QWEN3_CONFIG, model_type: undefined }, /unsupported model_type undefined/);
  });

  test('unsupported rope type names it, in either layout', () => {
    refused({ ...LLAMA3_CONFIG, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /unsupported rope_scaling type "yarn"/);
    refused({ ...LLAMA3_ROPE_PARAMETERS_CONFIG, rope_parameters: { rope_type: 'dynamic', rope_theta: 1e4, factor: 2 } }, /unsupported rope_scaling type "dynamic"/);
    refused({ ...LLAMA3_CONFIG, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /missing "low_freq_factor"/);
  });

  test('a missing tensor is named, with the folder', () => {
    const dir = writeTinyModel(path.join(TMP, 'missing-k-norm'), QWEN3_CONFIG, { omit: ['model.layers.1.self_attn.k_norm.weight'] });
    assert.throws(() => DecoderModel.load(dir), (err: Error) => {
      assert.match(err.message, /missing tensor model\.layers\.1\.self_attn\.k_norm\.weight/);
      assert.ok(err.message.includes(dir), err.message);
      return true;
    });
  });

  test('a tensor whose shape disagrees with config.json is named with both shapes', () => {
    const dir = path.join(TMP, 'wrong-vocab');
    writeTinyModel(dir, QWEN3_CONFIG);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...QWEN3_CONFIG, vocab_size: 65 }));
    assert.throws(() => DecoderModel.load(dir), /model\.embed_tokens\.weight has shape \[64, 32\], config\.json implies \[65, 32\]/);
  });

  test('absurd sizes are refused while reading config.json, before any weight is allocated', () => {
    // A real weight file next to a config that claims a 10^12-token vocabulary: the error must be the
    // config's, not a shape mismatch found after reading (and allocating) the weights.
    const dir = path.join(TMP, 'absurd');
    writeTinyModel(dir, QWEN3_CONFIG);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...QWEN3_CONFIG, vocab_size: 1e12 }));
    const message = /"vocab_size" is 1000000000000, above the 1000000 this engine accepts/;
    assert.throws(() => readModelConfig(dir), message);
    assert.throws(() => DecoderModel.load(dir), message);
    for (const key of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'head_dim']) {
      refused({ ...QWEN3_CONFIG, [key]: MAX_DIMENSION * 2 }, new RegExp(`"${key}" is ${MAX_DIMENSION * 2}, above`));
    }
    // Every dimension plausible on its own, the whole far too large: 1000 layers of width 32768.
    refused(
      { ...LLAMA3_CONFIG, hidden_size: 32768, intermediate_size: 131072, num_hidden_layers: 1000, num_attention_heads: 256, num_key_value_heads: 256 },
      /parameters need \d+ GiB as float32, above the 64 GiB this engine can hold/,
    );
    // A real 8B shape stays accepted.
    const llama8b: ModelConfig = parseModelConfig({ ...LLAMA3_CONFIG, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 128256 });
    assert.equal(llama8b.head_dim, 128);
  });

  test('non-numbers, fractions and zero heads are refused with the key named', () => {
    refused({ ...QWEN3_CONFIG, hidden_size: '32' }, /"hidden_size" must be a number, got "32"/);
    refused({ ...QWEN3_CONFIG, num_hidden_layers: 1.5 }, /"num_hidden_layers" must be a positive integer, got 1.5/);
    refused({ ...QWEN3_CONFIG, num_key_value_heads: 3 }, /num_attention_heads 4 is not a multiple of num_key_value_heads 3/);
    refused({ ...QWEN3_CONFIG, hidden_act: 'gelu' }, /unsupported hidden_act "gelu"/);
  });

  test('a folder without weights or config says what it expected', () => {
    const empty = fs.mkdtempSync(path.join(TMP, 'empty-'));
    assert.throws(() => DecoderModel.load(empty), /config\.json: not found \(is .* a Hugging Face model folder\?\)/);
    fs.writeFileSync(path.join(empty, 'config.json'), JSON.stringify(QWEN3_CONFIG));
    assert.throws(() => DecoderModel.load(empty), /no model\.safetensors or model\.safetensors\.index\.json/);
    fs.writeFileSync(path.join(empty, 'config.json'), '{"model_type": "qwen3",');
    assert.throws(() => DecoderModel.load(empty), /config\.json: not valid JSON/);
  });
});
