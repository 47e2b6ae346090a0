// `ftune export --to merged`: the adapter fused into the base weights must give the same logits as
// base + adapter applied at run time, for qwen2, llama and a qwen3 random-weight folder; sharding,
// dtype, config.json and the run's chat template.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsFile, WeightStore } from '../../src/core/safetensors';
import { initBackend } from '../../src/engine/backend';
import { planShards } from '../../src/engine/export';
import { runExport } from '../../src/export';
import { engineLogits, LLAMA, makeQwen3Folder, makeRandomAdapter, maxAbs, maxAbsDiff, QWEN2, referenceFusedWeights, SAMPLE_IDS, tempDir } from '../helpers/exportFixtures';

let root: string;
let QWEN3: string;
let QWEN3_ADAPTER: string;

before(async () => {
  await initBackend('wasm');
  root = tempDir('merged');
  QWEN3 = makeQwen3Folder(path.join(root, 'tiny-qwen3'));
  QWEN3_ADAPTER = await makeRandomAdapter(QWEN3, path.join(root, 'qwen3-adapter'));
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

function cases(): { name: string; model: string; adapter: string }[] {
  return [
    { name: 'qwen2', model: QWEN2, adapter: path.join(QWEN2, 'cases', 'gen_adapter') },
    { name: 'llama', model: LLAMA, adapter: path.join(LLAMA, 'cases', 'gen_adapter') },
    { name: 'qwen3', model: QWEN3, adapter: QWEN3_ADAPTER },
  ];
}

describe('merged export: logits equal base + adapter', () => {
  for (const name of ['qwen2', 'llama', 'qwen3']) {
    test(`${name}: f32 merged folder (forced into shards) reproduces base + adapter`, async (t) => {
      const c = cases().find((x) => x.name === name)!;
      const out = path.join(root, `${name}-f32`);
      const result = await runExport({ to: 'merged', model: c.model, adapter: c.adapter, out, dtype: 'f32', maxShardBytes: 64 * 1024, backend: 'wasm' });
      // Sharded: an index naming every tensor, several shard files.
      const index = JSON.parse(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
      const shards = new Set(Object.values(index.weight_map));
      assert.ok(shards.size > 1, `expected several shards, got ${shards.size}`);
      assert.equal(result.details.shards, shards.size);
      assert.ok(!fs.existsSync(path.join(out, 'model.safetensors')));
      let dataBytes = 0;
      for (const shard of shards) {
        const f = SafetensorsFile.open(path.join(out, shard));
        let shardBytes = 0;
        for (const info of f.tensors.values()) {
          assert.equal(info.dtype, 'F32');
          shardBytes += info.end - info.begin;
        }
        assert.ok(shardBytes <= 64 * 1024 || f.tensors.size === 1, `${shard} holds ${shardBytes} bytes, over the limit`);
        dataBytes += shardBytes;
        f.close();
      }
      assert.equal(index.metadata.total_size, dataBytes);

      const merged = await engineLogits(out, SAMPLE_IDS);
      const reference = await engineLogits(c.model, SAMPLE_IDS, c.adapter);
      const base = await engineLogits(c.model, SAMPLE_IDS);
      const diff = maxAbsDiff(merged, reference);
      // The adapter really changes the model, and the merge keeps that change.
      assert.ok(maxAbsDiff(base, reference) > 1e-2, `${name}: the adapter barely changes the logits`);
      assert.ok(diff <= 1e-4 * Math.max(1, maxAbs(reference)), `${name}: max |logit diff| merged vs base+adapter = ${diff}`);
      t.diagnostic(`${name} f32 merged: max |logit diff| vs base+adapter = ${diff.toExponential(2)} (logits up to ${maxAbs(reference).toFixed(2)})`);

      // The weights themselves equal W + (alpha/r)·B·A computed independently.
      const want = referenceFusedWeights(c.model, c.adapter);
      const store = WeightStore.openFolder(out);
      try {
        for (const [tensor, ref] of want) {
          const got = store.read(tensor);
          assert.deepEqual(got.shape, ref.shape, tensor);
          assert.ok(maxAbsDiff(got.data, ref.data) <= 1e-5, `${tensor} differs from W + BA·scale by ${maxAbsDiff(got.data, ref.data)}`);
        }
      } finally {
        store.close();
      }
    });
  }

  test('bf16 merged folder: BF16 tensors, torch_dtype bfloat16, logits within bf16 rounding', async (t) => {
    const c = cases().find((x) => x.name === 'qwen3')!;
    const out = path.join(root, 'qwen3-bf16');
    const result = await runExport({ to: 'merged', model: c.model, adapter: c.adapter, out, dtype: 'bf16', backend: 'wasm' });
    assert.deepEqual(result.files.filter((f) => f.endsWith('.safetensors')), ['model.safetensors']);
    assert.ok(!fs.existsSync(path.join(out, 'model.safetensors.index.json')), 'a small model is one file');
    const f = SafetensorsFile.open(path.join(out, 'model.safetensors'));
    assert.ok([...f.tensors.values()].every((t) => t.dtype === 'BF16'));
    f.close();
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.torch_dtype, 'bfloat16');
    assert.equal(config.head_dim, 32, 'the rest of config.json is kept');
    const merged = await engineLogits(out, SAMPLE_IDS);
    const reference = await engineLogits(c.model, SAMPLE_IDS, c.adapter);
    const diff = maxAbsDiff(merged, reference);
    // bf16 keeps 8 bits of mantissa: a relative error of ~2^-9 per weight.
    assert.ok(diff < 0.05 * maxAbs(reference), `bf16 merged logits differ by ${diff}`);
    assert.ok(diff > 0, 'bf16 rounding should change something');
    t.diagnostic(`qwen3 bf16 merged: max |logit diff| vs base+adapter = ${diff.toExponential(2)}`);
  });

  test('default dtype is the base model\'s, and the run\'s chat template lands in tokenizer_config.json', async () => {
    const run = path.join(root, 'run-llama');
    fs.mkdirSync(path.join(run, 'adapter'), { recursive: true });
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) fs.copyFileSync(path.join(LLAMA, 'cases', 'gen_adapter', f), path.join(run, 'adapter', f));
    const template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    fs.writeFileSync(path.join(run, 'chat_template.jinja'), template);
    fs.writeFileSync(path.join(run, 'run_config.json'), JSON.stringify({ model: LLAMA, full: false, method: 'sft' }));
    const out = path.join(root, 'llama-from-run');
    // --run alone: the model and the final adapter come from the run folder.
    const result = await runExport({ to: 'merged', run, out, backend: 'wasm' });
    assert.equal(result.model, LLAMA);
    assert.equal(result.adapter, path.join(run, 'adapter'));
    assert.equal(result.details.dtype, 'BF16', 'tiny-llama is stored as bfloat16');
    const tokConfig = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(tokConfig.chat_template, template);
    assert.equal(tokConfig.eos_token, '<|im_end|>', 'the rest of tokenizer_config.json is kept');
    for (const f of ['tokenizer.json', 'generation_config.json', 'README.md']) assert.ok(fs.existsSync(path.join(out, f)), f);
    assert.match(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), /library_name: "transformers"/);
    // Exporting again over the same folder works (copied files are writable) and drops stale shards.
    await runExport({ to: 'merged', run, out, backend: 'wasm', maxShardBytes: 64 * 1024 });
    assert.ok(fs.existsSync(path.join(out, 'model.safetensors.index.json')));
    assert.ok(!fs.existsSync(path.join(out, 'model.safetensors')), 'the single-file weights of the first export are gone');
  });

  test('a full fine-tuning run: --run picks <run>/model and exports it without an adapter', async () => {
    const run = path.join(root, 'run-full');
    fs.cpSync(QWEN3, path.join(run, 'model'), { recursive: true });
    fs.writeFileSync(path.join(run, 'run_config.json'), JSON.stringify({ model: '/elsewhere/base', full: true, method: 'sft' }));
    const out = path.join(root, 'full-out');
    const result = await runExport({ to: 'merged', run, out, dtype: 'f32', backend: 'wasm' });
    assert.equal(result.model, path.join(run, 'model'));
    assert.equal(result.adapter, undefined);
    assert.equal(maxAbsDiff(await engineLogits(out, SAMPLE_IDS), await engineLogits(QWEN3, SAMPLE_IDS)), 0, 'f16 weights widened to f32 are exact');
  });

  test('refuses to write into the base model folder', async () => {
    await assert.rejects(runExport({ to: 'merged', model: QWEN3, adapter: QWEN3_ADAPTER, out: QWEN3, backend: 'wasm' }), /refusing to overwrite the base model folder/);
  });
});

test('planShards: greedy in-order packing under the limit; an oversized tensor gets a shard of its own', () => {
  const t = (name: string, bytes: number) => ({ name, bytes });
  const shards = planShards([t('a', 40), t('b', 50), t('c', 30), t('d', 200), t('e', 10)], 100);
  assert.deepEqual(shards.map((s) => s.map((x) => x.name)), [['a', 'b'], ['c'], ['d'], ['e']]);
  assert.deepEqual(planShards([t('a', 1), t('b', 1)], 2).map((s) => s.length), [2]);
  assert.throws(() => planShards([t('a', 1)], 0), /positive/);
});
