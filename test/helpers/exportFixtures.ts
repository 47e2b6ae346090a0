// Fixtures shared by the export tests: a random-weight qwen3 folder (q/k norms, head_dim != hidden /
// heads, one KV head, F16 storage, a row length Q8_0 cannot block), random LoRA adapters with non-zero
// B, and reference fused weights computed in plain JavaScript (independent of the engine's fuse).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../src/core/random';
import { SafetensorsFile, WeightStore, writeSafetensors } from '../../src/core/safetensors';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel, expectedWeightNames } from '../../src/engine/model';
import { parseModelConfig } from '../../src/core/modelConfig';
import { modelDir } from './conformance';

export const QWEN2 = modelDir('tiny-qwen2');
export const LLAMA = modelDir('tiny-llama');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ftune-${prefix}-`));
}

export const QWEN3_CONFIG = {
  architectures: ['Qwen3ForCausalLM'],
  model_type: 'qwen3',
  hidden_act: 'silu',
  hidden_size: 64,
  num_attention_heads: 4,
  num_key_value_heads: 1,
  head_dim: 32, // != 64 / 4
  intermediate_size: 80, // down_proj rows of 80 are not whole 32-value Q8_0 blocks
  num_hidden_layers: 2,
  max_position_embeddings: 4096,
  rope_theta: 1000000.0,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
  vocab_size: 512,
  eos_token_id: 511,
  bos_token_id: null,
  torch_dtype: 'float16',
};

/** A qwen3 model folder with seeded random weights (stored as F16) and the fixtures' ChatML tokenizer. */
export function makeQwen3Folder(dir: string, seed = 7): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(QWEN3_CONFIG, null, 2));
  fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 511, pad_token_id: 509, do_sample: true, temperature: 0.7, top_p: 0.8, top_k: 20 }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(QWEN2, f), path.join(dir, f));
  const config = parseModelConfig(QWEN3_CONFIG);
  const rand = mulberry32(seed);
  const c = config;
  const shapeOf = (name: string): number[] => {
    const hd = c.head_dim;
    if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') return [c.vocab_size, c.hidden_size];
    if (name.endsWith('norm.weight')) return [name.includes('q_norm') || name.includes('k_norm') ? hd : c.hidden_size];
    if (name.includes('q_proj')) return [c.num_attention_heads * hd, c.hidden_size];
    if (name.includes('k_proj') || name.includes('v_proj')) return [c.num_key_value_heads * hd, c.hidden_size];
    if (name.includes('o_proj')) return [c.hidden_size, c.num_attention_heads * hd];
    if (name.includes('down_proj')) return [c.hidden_size, c.intermediate_size];
    return [c.intermediate_size, c.hidden_size];
  };
  const tensors = expectedWeightNames(config).map((name) => {
    const shape = shapeOf(name);
    const n = shape.reduce((a, b) => a * b, 1);
    const norm = name.endsWith('norm.weight');
    const scale = name.includes('embed') ? 1 : 1 / Math.sqrt(shape[shape.length - 1]);
    const data = Float32Array.from({ length: n }, () => (norm ? 1 + 0.2 * (rand() - 0.5) : scale * 2 * (rand() - 0.5)));
    return { name, shape, data };
  });
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { dtype: 'F16', metadata: { format: 'pt' } });
  return dir;
}

/** A PEFT adapter for `model` with random (non-zero) A and B, saved to `dir`. */
export async function makeRandomAdapter(modelFolder: string, dir: string, seed = 11, targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']): Promise<string> {
  const model = DecoderModel.load(modelFolder);
  const adapter = LoraAdapter.create(model, { r: 4, alpha: 8, dropout: 0, targets }, seed);
  const rand = mulberry32(seed + 1);
  for (const m of adapter.allModules()) m.B.assign(tf.tensor(Float32Array.from({ length: m.B.size }, () => 0.2 * (rand() - 0.5)), m.B.shape));
  await adapter.save(dir, modelFolder);
  adapter.dispose();
  model.dispose();
  return dir;
}

/** Base weights with W + (alpha/r)·B·A applied, in float64 arithmetic, from the files alone. */
export function referenceFusedWeights(modelFolder: string, adapterDir?: string): Map<string, { data: Float32Array; shape: number[] }> {
  const store = WeightStore.openFolder(modelFolder);
  const weights = new Map<string, { data: Float32Array; shape: number[] }>();
  try {
    for (const name of store.names()) weights.set(name, store.read(name));
  } finally {
    store.close();
  }
  if (!adapterDir) return weights;
  const cfg = JSON.parse(fs.readFileSync(path.join(adapterDir, 'adapter_config.json'), 'utf8')) as { r: number; lora_alpha: number };
  const scale = cfg.lora_alpha / cfg.r;
  const file = SafetensorsFile.open(path.join(adapterDir, 'adapter_model.safetensors'));
  try {
    for (const key of file.tensors.keys()) {
      const m = /^base_model\.model\.(.+)\.lora_A\.weight$/.exec(key);
      if (!m) continue;
      const A = file.readFloat32(key);
      const B = file.readFloat32(key.replace('lora_A', 'lora_B'));
      const W = weights.get(`${m[1]}.weight`)!;
      const [out, inp] = W.shape;
      const r = A.shape[0];
      const fused = new Float32Array(W.data.length);
      for (let o = 0; o < out; o++) {
        for (let i = 0; i < inp; i++) {
          let s = 0;
          for (let k = 0; k < r; k++) s += B.data[o * r + k] * A.data[k * inp + i];
          fused[o * inp + i] = W.data[o * inp + i] + scale * s;
        }
      }
      weights.set(`${m[1]}.weight`, { data: fused, shape: W.shape });
    }
  } finally {
    file.close();
  }
  return weights;
}

/** Logits [T, V] of one sequence through our engine, optionally with an adapter applied at run time. */
export async function engineLogits(modelFolder: string, ids: number[], adapterDir?: string): Promise<Float32Array> {
  const model = DecoderModel.load(modelFolder);
  const adapter = adapterDir ? LoraAdapter.load(adapterDir, model) : undefined;
  try {
    const t = tf.tidy(() => model.logits(model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { adapter }).hidden));
    const data = (await t.data()) as Float32Array;
    t.dispose();
    return data;
  } finally {
    adapter?.dispose();
    model.dispose();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** A fixed token sequence that uses the chat special tokens and ordinary ids. */
export const SAMPLE_IDS = [510, 382, 198, 40, 1, 17, 300, 45, 120, 511, 198, 510, 77, 198, 5, 250];
