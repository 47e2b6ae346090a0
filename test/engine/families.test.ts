// gemma3_text and phi3 beyond the fixtures' shapes: configurations the conformance folders do not
// cover (layer kinds derived from sliding_window_pattern, soft-capping, linear rope on full layers,
// Gemma3ForConditionalGeneration checkpoints, phi3 longrope past original_max_position_embeddings,
// phi3's own sliding window), judged against the independent float64 reference of
// helpers/referenceDecoder.ts, which is itself first checked against the fixtures' golden logits.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { parseModelConfig, readModelConfig, type ModelConfig } from '../../src/core/modelConfig';
import { writeSafetensors } from '../../src/core/safetensors';
import { initBackend } from '../../src/engine/backend';
import { generate } from '../../src/engine/generate';
import { LoraAdapter, modelTargets } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import { countLoraParameters, countParameters, modelShapeFromConfig } from '../../src/core/estimate';
import { runExport } from '../../src/export';
import { DEFAULT_RUN_CONFIG } from '../../src/core/runConfig';
import { decoderLayerClass, withModelTargets } from '../../src/export/trl/config';
import { makeRandomAdapter, referenceFusedWeights } from '../helpers/exportFixtures';
import { assertClose, modelDir, readCase, readSafetensorsAll } from '../helpers/conformance';
import { referenceLogits, type Weights } from '../helpers/referenceDecoder';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-families-'));
const IDS = [12, 400, 7, 33, 250, 91, 5, 18, 477, 64, 2, 301, 150, 9, 88, 120, 45, 310, 27, 66, 199, 3, 420, 75];

type Raw = Record<string, unknown>;

before(async () => {
  await initBackend('wasm');
});

function fixtureConfig(name: string): Raw {
  return JSON.parse(fs.readFileSync(path.join(modelDir(name), 'config.json'), 'utf8')) as Raw;
}

function fixtureWeights(name: string): Weights {
  return readSafetensorsAll(path.join(modelDir(name), 'model.safetensors'));
}

/** The fixture's weights (their stored shapes) under another config of the same family. */
function fixtureModel(name: string, config: ModelConfig): DecoderModel {
  const shapes = readSafetensorsShapes(path.join(modelDir(name), 'model.safetensors'));
  return new DecoderModel(config, new Map([...fixtureWeights(name)].map(([n, d]) => [n, tf.tensor(d, shapes.get(n))])));
}

function engineLogits(model: DecoderModel, ids: number[]): Float32Array {
  const t = tf.tidy(() => model.logits(model.forward(tf.tensor2d(ids, [1, ids.length], 'int32')).hidden));
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

function flat(rows: Float64Array[]): number[] {
  return rows.flatMap((r) => Array.from(r));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The engine's logits for `raw` on the fixture's weights match the reference's; returns them. */
function assertMatchesReference(fixture: string, raw: Raw, ids: number[], what: string): Float32Array {
  const config = parseModelConfig(raw, `${what}/config.json`);
  const weights = fixtureWeights(fixture);
  const model = fixtureModel(fixture, config);
  try {
    const got = engineLogits(model, ids);
    assertClose(got, flat(referenceLogits(config, weights, ids)), 1e-3, 2e-4, what);
    return got;
  } finally {
    model.dispose();
  }
}

describe('the reference decoder reproduces the fixtures (so it can judge other configs)', () => {
  for (const name of ['tiny-gemma3', 'tiny-phi3']) {
    test(`${name}: golden logits of the first row of logits.json`, () => {
      const c = readCase<{ input_ids: number[][]; attention_mask: number[][]; shape: [number, number, number]; logits: number[] }>(name, 'logits.json');
      const [, , V] = c.shape;
      const n = c.attention_mask[0].reduce((a, b) => a + b, 0);
      const config = parseModelConfig(fixtureConfig(name));
      const ref = flat(referenceLogits(config, fixtureWeights(name), c.input_ids[0].slice(0, n)));
      assertClose(ref, c.logits.slice(0, n * V), 1e-3, 2e-4, `${name} reference`);
    });
  }
});

describe('gemma3_text configurations beyond the fixture', () => {
  test('layer kinds from sliding_window_pattern (no layer_types) give the same model as the list', () => {
    const { layer_types: _, ...rest } = fixtureConfig('tiny-gemma3');
    void _;
    const derived = parseModelConfig({ ...rest, sliding_window_pattern: 3 });
    assert.deepEqual(derived.layer_types, ['sliding_attention', 'sliding_attention', 'full_attention']);
    assert.deepEqual(parseModelConfig({ ...rest }).layer_types, ['sliding_attention', 'sliding_attention', 'sliding_attention'], 'default pattern 6');
    assert.deepEqual(parseModelConfig({ ...rest, num_hidden_layers: 7 }).layer_types.map((t) => t[0]), ['s', 's', 's', 's', 's', 'f', 's']);
    assertMatchesReference('tiny-gemma3', { ...rest, sliding_window_pattern: 2 }, IDS, 'pattern 2');
  });

  test('a small window, linear rope on full layers, another local base and soft-capping match the reference', () => {
    const raw = {
      ...fixtureConfig('tiny-gemma3'), layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'], sliding_window: 5,
      rope_scaling: { rope_type: 'linear', factor: 4 }, rope_local_base_freq: 100, attn_logit_softcapping: 0.5, final_logit_softcapping: 3,
    };
    const got = assertMatchesReference('tiny-gemma3', raw, IDS, 'gemma3 variant');
    // Each feature changes the numbers (so the check above could fail if one were ignored).
    for (const [key, value] of [['attn_logit_softcapping', null], ['final_logit_softcapping', null], ['sliding_window', 50], ['rope_scaling', null], ['rope_local_base_freq', 10000]] as const) {
      const config = parseModelConfig({ ...raw, [key]: value });
      assert.ok(maxAbsDiff(got, flat(referenceLogits(config, fixtureWeights('tiny-gemma3'), IDS))) > 1e-3, `${key} matters`);
    }
  });

  test('final_logit_softcapping: the losses refuse it with the reason (its logits are checked above)', () => {
    const raw = { ...fixtureConfig('tiny-gemma3'), final_logit_softcapping: 30 };
    const config = parseModelConfig(raw);
    const model = fixtureModel('tiny-gemma3', config);
    try {
      assert.throws(() => model.head, /final_logit_softcapping \(30\) is not supported in training or evaluation losses yet/);
    } finally {
      model.dispose();
    }
  });

  test('the KV cache honours the sliding window: cached greedy decoding equals full recompute past the window', async () => {
    const raw = { ...fixtureConfig('tiny-gemma3'), sliding_window: 4 };
    const model = fixtureModel('tiny-gemma3', parseModelConfig(raw));
    try {
      const options = { max_new_tokens: 10, greedy: true, stop: false };
      const full = await generate(model, { promptIds: IDS.slice(0, 6), options, eosIds: [], useCache: false });
      const cached = await generate(model, { promptIds: IDS.slice(0, 6), options, eosIds: [], useCache: true });
      const ambiguous = full.top2Gaps.findIndex((g) => g < 1e-3);
      const n = ambiguous < 0 ? 10 : ambiguous + 1;
      assert.ok(n >= 5, `the continuation is decided clearly for 5+ tokens (gaps ${full.top2Gaps})`);
      assert.deepEqual(cached.tokenIds.slice(0, n), full.tokenIds.slice(0, n));
      // And the last prompt+continuation logits equal the reference with this window.
      assertMatchesReference('tiny-gemma3', raw, [...IDS.slice(0, 6), ...full.tokenIds.slice(0, n)], 'window 4');
    } finally {
      model.dispose();
    }
  });

  for (const layout of ['language_model.model.', 'model.language_model.'] as const) {
    test(`a Gemma3ForConditionalGeneration folder (text_config, weights under ${layout}) loads its text decoder`, async () => {
      const dir = path.join(TMP, `gemma3-cg-${layout.replace(/\./g, '_')}`);
      fs.mkdirSync(dir, { recursive: true });
      const text = fixtureConfig('tiny-gemma3');
      const { eos_token_id, pad_token_id, ...textOnly } = text;
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
        architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', eos_token_id, pad_token_id,
        text_config: { ...textOnly, model_type: 'gemma3_text' }, vision_config: { model_type: 'siglip_vision_model' },
      }));
      const weights = fixtureWeights('tiny-gemma3');
      const src = readSafetensorsShapes(path.join(modelDir('tiny-gemma3'), 'model.safetensors'));
      writeSafetensors(path.join(dir, 'model.safetensors'), [
        ...[...weights].map(([name, data]) => ({ name: layout + name.slice('model.'.length), shape: src.get(name)!, data })),
        { name: 'vision_tower.vision_model.embeddings.patch_embedding.weight', shape: [2, 2], data: new Float32Array(4) },
      ]);
      const config = readModelConfig(dir);
      assert.equal(config.model_type, 'gemma3_text');
      assert.deepEqual(config.eos_token_id, [511]);
      const model = DecoderModel.load(dir);
      try {
        const c = readCase<{ input_ids: number[][]; attention_mask: number[][]; shape: [number, number, number]; logits: number[] }>('tiny-gemma3', 'logits.json');
        const n = c.attention_mask[0].reduce((a, b) => a + b, 0);
        assertClose(engineLogits(model, c.input_ids[0].slice(0, n)), c.logits.slice(0, n * c.shape[2]), 1e-3, 2e-4, 'logits');
      } finally {
        model.dispose();
      }
    });
  }

  test('Gemma3ForConditionalGeneration configs take Gemma3TextConfig defaults for what text_config leaves out', () => {
    const c = parseModelConfig({
      model_type: 'gemma3', eos_token_id: [1, 106],
      text_config: { model_type: 'gemma3_text', hidden_size: 2560, intermediate_size: 10240, num_hidden_layers: 34, num_attention_heads: 8, num_key_value_heads: 4, rope_scaling: { factor: 8.0, rope_type: 'linear' } },
    });
    assert.equal(c.head_dim, 256);
    assert.equal(c.query_pre_attn_scalar, 256);
    assert.equal(c.sliding_window, 4096);
    assert.equal(c.vocab_size, 262208);
    assert.equal(c.tie_word_embeddings, true);
    assert.deepEqual(c.eos_token_id, [1, 106]);
    assert.equal(c.layer_types.filter((t) => t === 'full_attention').length, 5); // layers 5, 11, 17, 23, 29
    assert.deepEqual(c.rope_scaling, { rope_type: 'linear', factor: 8 });
  });
});

describe('phi3 configurations beyond the fixture', () => {
  const longrope = (over: Raw = {}): Raw => ({
    ...fixtureConfig('tiny-phi3'), original_max_position_embeddings: 16, max_position_embeddings: 64, sliding_window: null,
    rope_scaling: { type: 'longrope', short_factor: [1, 1.1, 1.3, 1.6, 2, 2.5], long_factor: [1.5, 2, 3, 5, 8, 12] }, ...over,
  });

  test('longrope: attention_factor from the context ratio, factors checked against the rotary dims', () => {
    const c = parseModelConfig(longrope());
    assert.ok(c.rope_scaling.rope_type === 'longrope');
    assert.ok(Math.abs(c.rope_scaling.attention_factor - Math.sqrt(1 + Math.log(4) / Math.log(16))) < 1e-12);
    // Phi-3-mini-128k: 131072 / 4096 → 1.1902380714238083.
    const mini = parseModelConfig(longrope({ original_max_position_embeddings: 4096, max_position_embeddings: 131072 }));
    assert.ok(mini.rope_scaling.rope_type === 'longrope' && Math.abs(mini.rope_scaling.attention_factor - 1.1902380714238083) < 1e-12);
    assert.throws(() => parseModelConfig(longrope({ rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [1, 1] } }), 'p/config.json'),
      /p\/config.json: rope_scaling.short_factor has 2 factors, the rotary dims need 6/);
    assert.throws(() => parseModelConfig({ ...fixtureConfig('tiny-llama'), rope_scaling: { rope_type: 'longrope', short_factor: [1], long_factor: [1] } }),
      /unsupported rope_scaling type "longrope" for llama \(supported: default, linear, llama3; longrope for phi3\)/);
  });

  test('longrope below and past original_max_position_embeddings matches the reference (short and long factors, attention_factor)', () => {
    const short = assertMatchesReference('tiny-phi3', longrope(), IDS.slice(0, 12), 'longrope, 12 positions (short factors)');
    const long = assertMatchesReference('tiny-phi3', longrope(), IDS, 'longrope, 24 positions (long factors)');
    // The first 12 positions differ between the two calls: the factors follow the call's length.
    assert.ok(maxAbsDiff(short, long.subarray(0, short.length)) > 1e-3, 'long factors apply to the whole call');
  });

  test('phi3 sliding_window masks every layer', () => {
    const got = assertMatchesReference('tiny-phi3', { ...fixtureConfig('tiny-phi3'), sliding_window: 6 }, IDS, 'phi3 window 6');
    const wide = assertMatchesReference('tiny-phi3', fixtureConfig('tiny-phi3'), IDS, 'phi3 window 2047');
    assert.ok(maxAbsDiff(got, wide) > 1e-3, 'the window matters');
  });

  test('LoRA targets: llama-style names select the fused modules, a part alone is refused', () => {
    const model = DecoderModel.load(modelDir('tiny-phi3'));
    try {
      assert.deepEqual(modelTargets(model, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']), ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj']);
      assert.throws(() => modelTargets(model, ['q_proj', 'v_proj']), /LoRA target q_proj: phi3 computes q_proj, k_proj, v_proj in one qkv_proj; target qkv_proj/);
      const adapter = LoraAdapter.create(model, { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj'] }, 0);
      assert.deepEqual(adapter.settings.targets, ['qkv_proj'], 'adapter_config.json names the fused module');
      assert.deepEqual(adapter.allModules().map((m) => [m.prefix, m.B.shape]), [
        ['model.layers.0.self_attn.qkv_proj', [128, 2]], ['model.layers.1.self_attn.qkv_proj', [128, 2]],
      ]);
      adapter.dispose();
    } finally {
      model.dispose();
    }
  });
});

describe('downstream: estimate, merged export, TRL', () => {
  for (const name of ['tiny-gemma3', 'tiny-phi3']) {
    test(`${name}: the estimate counts exactly the stored parameters, and the LoRA parameters of adapter_init`, () => {
      const shape = modelShapeFromConfig(fixtureConfig(name));
      const stored = [...fixtureWeights(name).values()].reduce((n, d) => n + d.length, 0);
      assert.equal(countParameters(shape).total, stored);
      const adapter = [...readSafetensorsAll(path.join(modelDir(name), 'cases', 'adapter_init', 'adapter_model.safetensors')).values()].reduce((n, d) => n + d.length, 0);
      assert.equal(countLoraParameters(shape, 4, 'all-linear'), adapter);
    });
  }

  test('GGUF: a gemma3 config llama.cpp would run differently is refused, naming each difference', async () => {
    // tiny-gemma3's third layer is full (llama.cpp fixes every 6th); see export.llamacpp.test.ts for one it runs.
    await assert.rejects(runExport({ to: 'gguf', model: modelDir('tiny-gemma3'), out: path.join(TMP, 'gemma3-gguf'), type: 'f32', backend: 'wasm' }),
      /this gemma3 model cannot be written as GGUF: llama.cpp would run it differently \(layer_types \[sliding_attention, sliding_attention, full_attention\] differ from llama.cpp's fixed pattern \(every 6th layer full\)\)/);
  });

  test('TRL export names the families\' decoder layer classes for FSDP', () => {
    assert.equal(decoderLayerClass('gemma3_text'), 'Gemma3DecoderLayer');
    assert.equal(decoderLayerClass('phi3'), 'Phi3DecoderLayer');
    const run = { ...DEFAULT_RUN_CONFIG, model: 'm', data: 'd.jsonl', out: 'o' };
    assert.deepEqual(withModelTargets(run, 'phi3').lora_targets, ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj']);
    assert.equal(withModelTargets(run, 'gemma3_text').lora_targets, 'all-linear');
  });

  test('phi3 merged export: fused qkv_proj / gate_up_proj get W + scale·B·A in HF names', async () => {
    const adapterDir = await makeRandomAdapter(modelDir('tiny-phi3'), path.join(TMP, 'phi3-adapter'), 3, ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj']);
    const out = path.join(TMP, 'phi3-merged');
    await runExport({ to: 'merged', model: modelDir('tiny-phi3'), adapter: adapterDir, out, dtype: 'f32', backend: 'wasm' });
    const want = referenceFusedWeights(modelDir('tiny-phi3'), adapterDir);
    const got = readSafetensorsAll(path.join(out, 'model.safetensors'));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const key of ['model.layers.0.self_attn.qkv_proj.weight', 'model.layers.1.mlp.gate_up_proj.weight']) {
      assert.ok(maxAbsDiff(want.get(key)!.data, readSafetensorsAll(path.join(modelDir('tiny-phi3'), 'model.safetensors')).get(key)!) > 1e-3, `${key} changed`);
      assertClose(got.get(key)!, want.get(key)!.data, 1e-5, 1e-6, key);
    }
  });

  test('a Gemma3ForConditionalGeneration base exports as a Gemma3ForCausalLM text model that reloads to the same logits', async () => {
    const src = path.join(TMP, 'gemma3-cg-language_model_model_');
    assert.ok(fs.existsSync(src), 'made by the Gemma3ForConditionalGeneration test above');
    const out = path.join(TMP, 'gemma3-cg-merged');
    await runExport({ to: 'merged', model: src, out, dtype: 'f32', backend: 'wasm' });
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Raw;
    assert.equal(config.model_type, 'gemma3_text');
    assert.deepEqual(config.architectures, ['Gemma3ForCausalLM']);
    assert.equal(config.eos_token_id, 511);
    assert.ok([...readSafetensorsAll(path.join(out, 'model.safetensors')).keys()].every((k) => k.startsWith('model.')));
    const a = DecoderModel.load(src), b = DecoderModel.load(out);
    try {
      assertClose(engineLogits(b, IDS), engineLogits(a, IDS), 0, 0, 'reloaded logits');
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

function readSafetensorsShapes(file: string): Map<string, number[]> {
  const fd = fs.openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, 8, 0);
    const header = Buffer.alloc(Number(len.readBigUInt64LE()));
    fs.readSync(fd, header, 0, header.length, 8);
    const parsed = JSON.parse(header.toString('utf8')) as Record<string, { shape: number[] }>;
    return new Map(Object.entries(parsed).filter(([k]) => k !== '__metadata__').map(([k, v]) => [k, v.shape]));
  } finally {
    fs.closeSync(fd);
  }
}
