// config.json of a Hugging Face decoder, normalised. Field names are Hugging Face's.
// Supported: llama (Llama 3.x, SmolLM2; mistral is the same graph), qwen2 (q/k/v bias), qwen3
// (q_norm / k_norm before RoPE, explicit head_dim).

import * as fs from 'fs';
import * as path from 'path';
import { countParameters } from './estimate';

export type ModelType = 'llama' | 'mistral' | 'qwen2' | 'qwen3';
const SUPPORTED: readonly ModelType[] = ['llama', 'mistral', 'qwen2', 'qwen3'];

export type RopeScaling =
  | { rope_type: 'default' }
  | { rope_type: 'linear'; factor: number }
  | {
      rope_type: 'llama3';
      factor: number;
      low_freq_factor: number;
      high_freq_factor: number;
      original_max_position_embeddings: number;
    };

export interface ModelConfig {
  model_type: ModelType;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: RopeScaling;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  /** bias on q/k/v projections (qwen2 always; llama/qwen3 when attention_bias). */
  qkv_bias: boolean;
  /** bias on o_proj (llama/qwen3 attention_bias). */
  o_bias: boolean;
  mlp_bias: boolean;
  /** qwen3: RMSNorm over head_dim on q and k before RoPE. */
  qk_norm: boolean;
  hidden_act: 'silu';
  eos_token_id: number[];
  pad_token_id?: number;
  bos_token_id?: number;
}

export class ModelConfigError extends Error {}

type Raw = Record<string, unknown>;

function num(raw: Raw, key: string, file: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelConfigError(`${file}: missing "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelConfigError(`${file}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function posInt(raw: Raw, key: string, file: string, fallback?: number): number {
  const v = num(raw, key, file, fallback);
  if (!Number.isSafeInteger(v) || v <= 0) throw new ModelConfigError(`${file}: "${key}" must be a positive integer, got ${v}`);
  return v;
}

/**
 * A width, count or vocabulary above this is refused: no real decoder comes near it, and a corrupt or
 * hostile config.json must fail here, before anything sized from it is allocated.
 */
export const MAX_DIMENSION = 1_000_000;
/** float32 weights beyond this (16B parameters) cannot be held by this engine, which trains in float32. */
export const MAX_FLOAT32_WEIGHT_BYTES = 64 * 2 ** 30;

function dim(raw: Raw, key: string, file: string, fallback?: number): number {
  const v = posInt(raw, key, file, fallback);
  if (v > MAX_DIMENSION) throw new ModelConfigError(`${file}: "${key}" is ${v}, above the ${MAX_DIMENSION} this engine accepts (is config.json corrupt?)`);
  return v;
}

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

export function parseModelConfig(raw: Raw, file = 'config.json'): ModelConfig {
  const modelType = raw.model_type;
  if (typeof modelType !== 'string' || !(SUPPORTED as readonly string[]).includes(modelType)) {
    throw new ModelConfigError(`${file}: unsupported model_type ${JSON.stringify(modelType)} (supported: ${SUPPORTED.join(', ')})`);
  }
  const type = modelType as ModelType;
  const hidden = dim(raw, 'hidden_size', file);
  const heads = dim(raw, 'num_attention_heads', file);
  const kvHeads = dim(raw, 'num_key_value_heads', file, heads);
  if (heads % kvHeads !== 0) throw new ModelConfigError(`${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const headDim = raw.head_dim === undefined || raw.head_dim === null ? hidden / heads : dim(raw, 'head_dim', file);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new ModelConfigError(`${file}: head_dim ${headDim} must be an even integer`);
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') throw new ModelConfigError(`${file}: unsupported hidden_act ${JSON.stringify(act)} (only silu)`);
  // Newer transformers nest rope_theta and the scaling in `rope_parameters`.
  const ropeParams = (raw.rope_parameters ?? undefined) as Raw | undefined;
  const ropeTheta = ropeParams && typeof ropeParams.rope_theta === 'number' ? ropeParams.rope_theta : num(raw, 'rope_theta', file, 10000);
  const attentionBias = raw.attention_bias === true;
  const config: ModelConfig = {
    model_type: type,
    hidden_size: hidden,
    intermediate_size: dim(raw, 'intermediate_size', file),
    num_hidden_layers: dim(raw, 'num_hidden_layers', file),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    vocab_size: dim(raw, 'vocab_size', file),
    rms_norm_eps: num(raw, 'rms_norm_eps', file, 1e-6),
    rope_theta: ropeTheta,
    rope_scaling: parseRopeScaling((raw.rope_scaling ?? ropeParams ?? null) as Raw | null, file),
    max_position_embeddings: posInt(raw, 'max_position_embeddings', file, 32768),
    // transformers' Llama/Qwen configs default to untied heads.
    tie_word_embeddings: raw.tie_word_embeddings === true,
    qkv_bias: type === 'qwen2' ? true : attentionBias,
    o_bias: type === 'qwen2' ? false : attentionBias,
    mlp_bias: raw.mlp_bias === true,
    qk_norm: type === 'qwen3',
    hidden_act: 'silu',
    eos_token_id: ids(raw.eos_token_id),
    pad_token_id: typeof raw.pad_token_id === 'number' ? raw.pad_token_id : undefined,
    bos_token_id: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : undefined,
  };
  checkModelSize(config, file);
  return config;
}

/** Refuses a model whose float32 weights could not be allocated, before any weight is read. */
function checkModelSize(c: ModelConfig, file: string): void {
  const { total } = countParameters({
    model_type: c.model_type, vocab_size: c.vocab_size, hidden_size: c.hidden_size, intermediate_size: c.intermediate_size,
    num_hidden_layers: c.num_hidden_layers, num_attention_heads: c.num_attention_heads, num_key_value_heads: c.num_key_value_heads,
    head_dim: c.head_dim, tie_word_embeddings: c.tie_word_embeddings, attention_bias: c.qkv_bias,
  });
  const bytes = total * 4;
  if (bytes > MAX_FLOAT32_WEIGHT_BYTES) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(0)} GiB`;
    throw new ModelConfigError(
      `${file}: ${total.toExponential(2)} parameters need ${gib(bytes)} as float32, above the ${gib(MAX_FLOAT32_WEIGHT_BYTES)} this engine can hold`,
    );
  }
}

function parseRopeScaling(raw: Raw | null, file: string): RopeScaling {
  if (!raw) return { rope_type: 'default' };
  const type = raw.rope_type ?? raw.type ?? 'default';
  switch (type) {
    case 'default':
      return { rope_type: 'default' };
    case 'linear':
      return { rope_type: 'linear', factor: num(raw, 'factor', file) };
    case 'llama3':
      return {
        rope_type: 'llama3',
        factor: num(raw, 'factor', file),
        low_freq_factor: num(raw, 'low_freq_factor', file),
        high_freq_factor: num(raw, 'high_freq_factor', file),
        original_max_position_embeddings: posInt(raw, 'original_max_position_embeddings', file),
      };
    default:
      throw new ModelConfigError(`${file}: unsupported rope_scaling type ${JSON.stringify(type)} (supported: default, linear, llama3)`);
  }
}

export function readModelConfig(modelDir: string): ModelConfig {
  const file = path.join(modelDir, 'config.json');
  if (!fs.existsSync(file)) throw new ModelConfigError(`${file}: not found (is ${modelDir} a Hugging Face model folder?)`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelConfigError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) throw new ModelConfigError(`${file}: not a JSON object`);
  const config = parseModelConfig(raw as Raw, file);
  // generation_config.json's eos ids take precedence for stopping.
  const genFile = path.join(modelDir, 'generation_config.json');
  if (fs.existsSync(genFile)) {
    try {
      const gen = JSON.parse(fs.readFileSync(genFile, 'utf8')) as Raw;
      const eos = ids(gen.eos_token_id);
      if (eos.length > 0) config.eos_token_id = eos;
      if (typeof gen.pad_token_id === 'number') config.pad_token_id = gen.pad_token_id;
    } catch (err) {
      throw new ModelConfigError(`${genFile}: not valid JSON (${(err as Error).message})`);
    }
  }
  return config;
}

/** Inverse frequencies of RoPE for each of head_dim/2 pairs, with rope_scaling applied. */
export function ropeInverseFrequencies(config: ModelConfig): Float64Array {
  const half = config.head_dim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / config.rope_theta ** ((2 * i) / config.head_dim);
  const s = config.rope_scaling;
  if (s.rope_type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] /= s.factor;
  } else if (s.rope_type === 'llama3') {
    // As transformers' _compute_llama3_parameters: long wavelengths are divided by `factor`, short ones
    // kept, and the band in between interpolated smoothly.
    const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
    const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen) inv[i] = inv[i] / s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}
