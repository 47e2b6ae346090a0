// GGUF exports run in real llama.cpp (node-llama-cpp's prebuilt CPU binaries, installed from npm with
// NODE_LLAMA_CPP_SKIP_DOWNLOAD=true): for llama, qwen2, gemma3 and phi3, a LoRA adapter trained here
// for a few AdamW steps is merged and written as F32 GGUF, and llama.cpp's greedy continuation of the
// fixture prompt equals the engine's (what `ftune generate` runs: base + adapter at run time, KV cache).
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { readModelConfig } from '../../src/core/modelConfig';
import { writeSafetensors } from '../../src/core/safetensors';
import { initBackend } from '../../src/engine/backend';
import { generate } from '../../src/engine/generate';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import { causalLmObjective, type StepContext } from '../../src/engine/objectives';
import { AdamW } from '../../src/engine/optimizer';
import { optimizerStep } from '../../src/engine/step';
import { runExport } from '../../src/export';
import { modelDir, readCase, readSafetensorsAll } from '../helpers/conformance';
import { tempDir } from '../helpers/exportFixtures';

const PAD = 509;
const NEW_TOKENS = 12;
let root: string;

before(async () => {
  await initBackend('wasm');
  root = tempDir('llamacpp');
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

/**
 * tiny-gemma3 grown to 6 layers (layers 3-5 copy 0-2) with layer kinds from sliding_window_pattern 6:
 * llama.cpp's gemma3 graph fixes that pattern (and rope_local_base_freq 10000), so the 3-layer fixture
 * with a full third layer cannot be run there as transformers runs it (the exporter refuses it).
 */
function gemma3SixLayers(dir: string): string {
  const src = modelDir('tiny-gemma3');
  fs.mkdirSync(dir, { recursive: true });
  const { layer_types: _, ...config } = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  void _;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 6, sliding_window_pattern: 6, torch_dtype: 'float32' }));
  for (const f of ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const base = readModelConfig(src);
  const weights = readSafetensorsAll(path.join(src, 'model.safetensors'));
  const shapeOf = (name: string, n: number): number[] => {
    if (name.includes('embed_tokens')) return [base.vocab_size, base.hidden_size];
    if (!name.endsWith('_proj.weight')) return [n];
    const inp = name.includes('o_proj') ? base.num_attention_heads * base.head_dim : name.includes('down_proj') ? base.intermediate_size : base.hidden_size;
    return [n / inp, inp];
  };
  const tensors = [];
  for (const [name, data] of weights) {
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
    const copies = m ? [name, `model.layers.${Number(m[1]) + 3}.${m[2]}`] : [name];
    for (const n of copies) tensors.push({ name: n, shape: shapeOf(name, data.length), data });
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  return dir;
}

/** A fresh LoRA on every linear layer, trained for 3 AdamW steps on the fixture's short conversations. */
async function trainAdapter(folder: string, fixture: string, out: string): Promise<string> {
  const model = DecoderModel.load(folder);
  const adapter = LoraAdapter.create(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 5);
  const vars = adapter.variables();
  const optimizer = new AdamW(vars, { lr: 2e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const data = readCase<{ token_ids: number[][]; labels: number[][] }>(fixture, 'eval_loss.json');
  const batch = data.token_ids.map((ids, i) => ({ input_ids: ids, labels: data.labels[i] })).filter((e) => e.input_ids.length < 200);
  const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
  try {
    for (let s = 0; s < 3; s++) await optimizerStep(causalLmObjective, [batch], vars, optimizer, ctx, { lr: 2e-2, maxGradNorm: 0 });
    await adapter.save(out, folder);
  } finally {
    optimizer.dispose();
    adapter.dispose();
    model.dispose();
  }
  return out;
}

async function engineGreedy(folder: string, adapterDir: string, prompt: number[]): Promise<{ tokens: number[]; gaps: number[] }> {
  const model = DecoderModel.load(folder);
  const adapter = LoraAdapter.load(adapterDir, model);
  try {
    const r = await generate(model, { promptIds: prompt, options: { max_new_tokens: NEW_TOKENS, greedy: true, stop: false }, eosIds: [], adapter, useCache: true });
    return { tokens: r.tokenIds, gaps: r.top2Gaps };
  } finally {
    adapter.dispose();
    model.dispose();
  }
}

/** Greedy continuation by llama.cpp (temperature 0 = argmax), CPU only, no binary build or download. */
async function llamaCppGreedy(gguf: string, prompt: number[]): Promise<number[]> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: gguf });
  const context = await model.createContext({ contextSize: 256, batchSize: 256 });
  try {
    const out: number[] = [];
    const tokens = prompt as unknown as Parameters<ReturnType<typeof context.getSequence>['evaluate']>[0];
    for await (const token of context.getSequence().evaluate(tokens, { temperature: 0 })) {
      out.push(token as unknown as number);
      if (out.length >= NEW_TOKENS) break;
    }
    return out;
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

const CASES = [
  { name: 'llama', fixture: 'tiny-llama', folder: () => modelDir('tiny-llama') },
  { name: 'qwen2', fixture: 'tiny-qwen2', folder: () => modelDir('tiny-qwen2') },
  { name: 'gemma3', fixture: 'tiny-gemma3', folder: () => gemma3SixLayers(path.join(root, 'gemma3-6')) },
  { name: 'phi3', fixture: 'tiny-phi3', folder: () => modelDir('tiny-phi3') },
];

describe('GGUF exports decode in real llama.cpp as the engine does', () => {
  for (const c of CASES) {
    test(`${c.name}: trained adapter merged into F32 GGUF, llama.cpp's greedy tokens = the engine's`, async () => {
      const folder = c.folder();
      const adapterDir = await trainAdapter(folder, c.fixture, path.join(root, `${c.name}-adapter`));
      const out = path.join(root, `${c.name}-gguf`);
      const result = await runExport({ to: 'gguf', model: folder, adapter: adapterDir, out, type: 'f32' });
      const gguf = path.join(out, result.files.find((f) => f.endsWith('.gguf'))!);
      const prompt = readCase<{ prompt_ids: number[] }>(c.fixture, 'greedy.json').prompt_ids;
      const engine = await engineGreedy(folder, adapterDir, prompt);
      const cpp = await llamaCppGreedy(gguf, prompt);
      // Tokens must agree up to the first near-tie (top-2 margin below 1e-3), where F32 rounding may pick either.
      const tie = engine.gaps.findIndex((g) => g < 1e-3);
      const n = tie < 0 ? NEW_TOKENS : tie + 1;
      assert.ok(n >= 6, `${c.name}: the engine decides at least 6 tokens clearly (gaps ${engine.gaps.map((g) => g.toFixed(4))})`);
      assert.deepEqual(cpp.slice(0, n), engine.tokens.slice(0, n), `${c.name}: llama.cpp vs engine`);
      process.stdout.write(`${c.name}: ${n}/${NEW_TOKENS} tokens compared, engine ${engine.tokens.join(' ')}, llama.cpp ${cpp.join(' ')}\n`);
    });
  }
});
