// Random-weight Hugging Face model folders (config.json + model.safetensors) for the architectures
// and config layouts the engine supports, written in milliseconds. Weights are scaled so that logits
// are decisive (greedy decoding is then stable against float rounding), not like a real init.
import * as fs from 'fs';
import * as path from 'path';
import { parseModelConfig, type ModelConfig } from '../../src/core/modelConfig';
import { mulberry32 } from '../../src/core/random';
import { writeSafetensors, type TensorToWrite } from '../../src/core/safetensors';
import { expectedWeightNames } from '../../src/engine/model';
import { layerProjections } from '../../src/engine/families';

export type RawConfig = Record<string, unknown>;

/** qwen3: q_norm/k_norm, explicit head_dim (16) ≠ hidden/heads (8), a single KV head. Stored F16. */
export const QWEN3_CONFIG: RawConfig = {
  architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 1, head_dim: 16, vocab_size: 64, rms_norm_eps: 1e-6, rope_theta: 1000000,
  max_position_embeddings: 512, tie_word_embeddings: true, hidden_act: 'silu', eos_token_id: 63,
};

/**
 * llama with Llama 3.x rope scaling. head_dim 16 and rope_theta 500000 put the 8 frequencies' wavelengths
 * at 6, 32, 167, 863, 4453, ... so original_max_position_embeddings 2048 (bands at 512 and 2048) has
 * frequencies kept, smoothed and divided.
 */
export const LLAMA3_CONFIG: RawConfig = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64, rms_norm_eps: 1e-5, rope_theta: 500000,
  rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 2048 },
  max_position_embeddings: 8192, tie_word_embeddings: false, hidden_act: 'silu', eos_token_id: [62, 63],
};

/** The same model in the newer transformers layout: rope_theta and the scaling nested in rope_parameters. */
export const LLAMA3_ROPE_PARAMETERS_CONFIG: RawConfig = (() => {
  const { rope_theta, rope_scaling, ...rest } = LLAMA3_CONFIG;
  return { ...rest, rope_parameters: { ...(rope_scaling as RawConfig), rope_theta } };
})();

export interface TinyModelOptions {
  dtype?: 'F32' | 'F16' | 'BF16';
  seed?: number;
  /** tensors left out of the file (to test the missing-tensor error). */
  omit?: readonly string[];
  /** replaces the value of every tensor whose name matches. */
  override?: (name: string, data: Float32Array) => void;
}

/** [out, in] (or [n] for norms and biases) of every weight, as transformers lays them out. */
export function weightShape(c: ModelConfig, name: string): number[] {
  const hd = c.head_dim;
  if (name.endsWith('q_norm.weight') || name.endsWith('k_norm.weight')) return [hd];
  if (name.endsWith('norm.weight')) return [c.hidden_size];
  if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') return [c.vocab_size, c.hidden_size];
  // projections (phi3's fused qkv_proj and gate_up_proj included) as families.ts lays them out
  const proj = layerProjections(c).find((p) => name.endsWith(`.${p.name}.weight`) || name.endsWith(`.${p.name}.bias`));
  if (!proj) throw new Error(`no shape rule for ${name}`);
  return name.endsWith('.bias') ? [proj.out] : [proj.out, proj.in];
}

/** Random weights for `raw` (uniform, ±√(3/fan_in) for projections; norms near 1). */
export function tinyWeights(raw: RawConfig, options: TinyModelOptions = {}): TensorToWrite[] {
  const config = parseModelConfig(raw);
  const rand = mulberry32(options.seed ?? 1);
  const tensors: TensorToWrite[] = [];
  for (const name of expectedWeightNames(config)) {
    if (options.omit?.includes(name)) continue;
    const shape = weightShape(config, name);
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const isNorm = name.endsWith('norm.weight');
    const bound = isNorm ? 0.2 : shape.length === 1 ? 0.1 : name.includes('embed_tokens') ? 1 : Math.sqrt(3 / shape[1]);
    for (let i = 0; i < size; i++) data[i] = (isNorm ? 1 : 0) + (2 * rand() - 1) * bound;
    options.override?.(name, data);
    tensors.push({ name, shape, data });
  }
  return tensors;
}

/** Writes config.json + model.safetensors into `dir` and returns `dir`. */
export function writeTinyModel(dir: string, raw: RawConfig, options: TinyModelOptions = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw, null, 2));
  writeSafetensors(path.join(dir, 'model.safetensors'), tinyWeights(raw, options), { dtype: options.dtype ?? 'F32', metadata: { format: 'pt' } });
  return dir;
}
