// config.json of a Hugging Face decoder, normalised. Field names are Hugging Face's.
// Supported: llama (Llama 3.x, SmolLM2; mistral is the same graph), qwen2 (q/k/v bias), qwen3
// (q_norm / k_norm before RoPE, explicit head_dim), gemma3_text (Gemma 3 270M / 1B, and the text
// decoder of Gemma3ForConditionalGeneration's `text_config`), phi3 (Phi-3 / 3.5 / Phi-4-mini).

import * as fs from 'fs';
import * as path from 'path';
import { countParameters } from './estimate';

export type ModelType = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma3_text' | 'phi3';
const SUPPORTED: readonly ModelType[] = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma3_text', 'phi3'];

/** gemma3_text: each layer's attention kind (config.json `layer_types`). */
export type LayerType = 'sliding_attention' | 'full_attention';

export type RopeScaling =
  | { rope_type: 'default' }
  | { rope_type: 'linear'; factor: number }
  | {
      rope_type: 'llama3';
      factor: number;
      low_freq_factor: number;
      high_freq_factor: number;
      original_max_position_embeddings: number;
    }
  | {
      /** phi3 (legacy names "su", "yarn"): per-frequency factors, short below the original context, long past it. */
      rope_type: 'longrope';
      short_factor: number[];
      long_factor: number[];
      original_max_position_embeddings: number;
      /** multiplies cos and sin. */
      attention_factor: number;
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
  /** MLP activation: silu (SwiGLU) or gelu_pytorch_tanh (Gemma's GeGLU; config key hidden_activation). */
  hidden_act: 'silu' | 'gelu_pytorch_tanh';
  /** Gemma: RMSNorm scales by (1 + weight), embeddings by √hidden_size, pre/post feed-forward norms. */
  gemma_norms: boolean;
  /** attention scores are scaled by query_pre_attn_scalar^-0.5 (head_dim unless Gemma sets it). */
  query_pre_attn_scalar: number;
  /** attention kind of each layer; all full_attention unless the model has sliding layers. */
  layer_types: LayerType[];
  /** window of sliding layers (query q sees key k iff q − k < sliding_window), null when none. */
  sliding_window: number | null;
  /** RoPE base of sliding layers (gemma3: rope_local_base_freq, never scaled). */
  rope_local_base_freq: number;
  /** tanh(s/cap)·cap on attention scores / on the final logits, when not null. */
  attn_logit_softcapping: number | null;
  final_logit_softcapping: number | null;
  /** phi3: RoPE turns only the first int(head_dim·factor) dims of each head. */
  partial_rotary_factor: number;
  /** phi3: q/k/v in one `qkv_proj`, gate/up in one `gate_up_proj`. */
  fused_projections: boolean;
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

export function parseModelConfig(outer: Raw, file = 'config.json'): ModelConfig {
  const raw = textDecoderConfig(outer, file);
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
  const gemma = type === 'gemma3_text';
  // Gemma names it hidden_activation (hidden_act is its legacy key).
  const act = (gemma ? raw.hidden_activation ?? raw.hidden_act ?? 'gelu_pytorch_tanh' : raw.hidden_act) ?? 'silu';
  if (act !== 'silu' && act !== 'gelu_pytorch_tanh') {
    throw new ModelConfigError(`${file}: unsupported hidden_act ${JSON.stringify(act)} (supported: silu, gelu_pytorch_tanh)`);
  }
  const layers = dim(raw, 'num_hidden_layers', file);
  const partialRotary = num(raw, 'partial_rotary_factor', file, 1);
  const rotaryDim = Math.floor(headDim * partialRotary);
  if (!(partialRotary > 0 && partialRotary <= 1) || rotaryDim % 2 !== 0) {
    throw new ModelConfigError(`${file}: partial_rotary_factor ${partialRotary} gives ${rotaryDim} rotary dims of head_dim ${headDim}; must be even and > 0`);
  }
  // Newer transformers nest rope_theta and the scaling in `rope_parameters`.
  // Newer transformers nest them per attention kind for gemma3 (full_attention / sliding_attention).
  const nested = (raw.rope_parameters ?? undefined) as Raw | undefined;
  const perKind = nested && typeof nested.full_attention === 'object';
  const ropeParams = (perKind ? nested.full_attention : nested) as Raw | undefined;
  const localParams = (perKind ? nested.sliding_attention : undefined) as Raw | undefined;
  const ropeTheta = ropeParams && typeof ropeParams.rope_theta === 'number' ? ropeParams.rope_theta : num(raw, 'rope_theta', file, gemma ? 1_000_000 : 10000);
  const localBase = localParams && typeof localParams.rope_theta === 'number' ? localParams.rope_theta : num(raw, 'rope_local_base_freq', file, 10000);
  // The window is honoured where transformers applies it to this family (qwen2/qwen3 configs carry an
  // unused sliding_window with use_sliding_window false).
  const windowed = (gemma || type === 'phi3' || type === 'mistral') && raw.sliding_window !== undefined && raw.sliding_window !== null;
  const attentionBias = raw.attention_bias === true;
  const config: ModelConfig = {
    model_type: type,
    hidden_size: hidden,
    intermediate_size: dim(raw, 'intermediate_size', file),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    vocab_size: dim(raw, 'vocab_size', file),
    rms_norm_eps: num(raw, 'rms_norm_eps', file, 1e-6),
    rope_theta: ropeTheta,
    rope_scaling: parseRopeScaling((raw.rope_scaling ?? ropeParams ?? null) as Raw | null, file, raw),
    max_position_embeddings: posInt(raw, 'max_position_embeddings', file, 32768),
    // transformers' Llama/Qwen configs default to untied heads, Gemma's to tied ones.
    tie_word_embeddings: gemma ? raw.tie_word_embeddings !== false : raw.tie_word_embeddings === true,
    qkv_bias: type === 'qwen2' ? true : attentionBias,
    o_bias: type === 'qwen2' ? false : attentionBias,
    mlp_bias: raw.mlp_bias === true,
    qk_norm: type === 'qwen3' || gemma,
    hidden_act: act,
    gemma_norms: gemma,
    query_pre_attn_scalar: gemma ? num(raw, 'query_pre_attn_scalar', file, headDim) : headDim,
    layer_types: layerTypes(raw, layers, file),
    // Gemma3TextConfig's default window is 4096 when config.json leaves it out.
    sliding_window: windowed ? dim(raw, 'sliding_window', file) : gemma && raw.sliding_window === undefined ? 4096 : null,
    rope_local_base_freq: localBase,
    attn_logit_softcapping: optionalPositive(raw, 'attn_logit_softcapping', file),
    final_logit_softcapping: optionalPositive(raw, 'final_logit_softcapping', file),
    partial_rotary_factor: partialRotary,
    fused_projections: type === 'phi3',
    eos_token_id: ids(raw.eos_token_id),
    pad_token_id: typeof raw.pad_token_id === 'number' ? raw.pad_token_id : undefined,
    bos_token_id: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : undefined,
  };
  if (config.rope_scaling.rope_type === 'longrope') {
    const n = rotaryDimension(config) / 2;
    for (const key of ['short_factor', 'long_factor'] as const) {
      if (config.rope_scaling[key].length !== n) throw new ModelConfigError(`${file}: rope_scaling.${key} has ${config.rope_scaling[key].length} factors, the rotary dims need ${n}`);
    }
  }
  if (config.layer_types.includes('sliding_attention') && config.sliding_window === null) {
    throw new ModelConfigError(`${file}: layer_types has sliding_attention layers but sliding_window is null`);
  }
  checkModelSize(config, file);
  return config;
}

/** Dims of each head that RoPE turns (phi3's partial_rotary_factor; all of head_dim elsewhere). */
export function rotaryDimension(c: ModelConfig): number {
  return Math.floor(c.head_dim * c.partial_rotary_factor);
}

/**
 * A Gemma3ForConditionalGeneration (model_type "gemma3") config holds its text decoder in
 * `text_config`; the vision tower is not used. Gemma3TextConfig's defaults fill what that nested
 * config leaves out (the 4B-27B configs list only what differs from them).
 */
function textDecoderConfig(raw: Raw, file: string): Raw {
  if (raw.model_type !== 'gemma3') return raw;
  const text = raw.text_config;
  if (typeof text !== 'object' || text === null) throw new ModelConfigError(`${file}: model_type "gemma3" without a "text_config" object`);
  const defaults: Raw = {
    vocab_size: 262208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8,
    num_key_value_heads: 4, head_dim: 256, hidden_activation: 'gelu_pytorch_tanh', max_position_embeddings: 131072,
    rms_norm_eps: 1e-6, rope_theta: 1_000_000, query_pre_attn_scalar: 256, sliding_window: 4096, rope_local_base_freq: 10000,
    sliding_window_pattern: 6,
  };
  const merged: Raw = { ...defaults, ...(text as Raw), model_type: 'gemma3_text' };
  for (const key of ['eos_token_id', 'pad_token_id', 'bos_token_id', 'tie_word_embeddings']) {
    if (merged[key] === undefined && raw[key] !== undefined) merged[key] = raw[key];
  }
  return merged;
}

/**
 * `layer_types`, or as transformers derives it for gemma3 from `sliding_window_pattern` (default 6):
 * layer i is full iff (i + 1) % pattern == 0. Other families: all full (phi3's and mistral's
 * sliding_window applies to every layer, see slidingWindowOf).
 */
function layerTypes(raw: Raw, layers: number, file: string): LayerType[] {
  const given = raw.layer_types;
  if (Array.isArray(given)) {
    if (given.length !== layers) throw new ModelConfigError(`${file}: layer_types has ${given.length} entries for ${layers} layers`);
    return given.map((t, i) => {
      if (t !== 'sliding_attention' && t !== 'full_attention') throw new ModelConfigError(`${file}: layer_types[${i}] is ${JSON.stringify(t)} (expected sliding_attention or full_attention)`);
      return t;
    });
  }
  if (raw.model_type === 'gemma3_text') {
    const pattern = posInt(raw, 'sliding_window_pattern', file, 6);
    return Array.from({ length: layers }, (_, i) => ((i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention'));
  }
  return Array.from({ length: layers }, () => 'full_attention');
}

/**
 * The window layer i attends within, or null for unlimited: gemma3's sliding layers, and every layer of
 * a phi3 / mistral config with a sliding_window.
 */
export function slidingWindowOf(c: ModelConfig, layer: number): number | null {
  if (c.sliding_window === null) return null;
  if (c.model_type === 'gemma3_text') return c.layer_types[layer] === 'sliding_attention' ? c.sliding_window : null;
  return c.sliding_window;
}

function optionalPositive(raw: Raw, key: string, file: string): number | null {
  if (raw[key] === undefined || raw[key] === null) return null;
  const v = num(raw, key, file);
  if (!(v > 0)) throw new ModelConfigError(`${file}: "${key}" must be positive or null, got ${v}`);
  return v;
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

function parseRopeScaling(raw: Raw | null, file: string, model: Raw): RopeScaling {
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
    case 'longrope':
    case 'su':
    case 'yarn': {
      if (model.model_type !== 'phi3') {
        throw new ModelConfigError(`${file}: unsupported rope_scaling type ${JSON.stringify(type)} for ${String(model.model_type)} (supported: default, linear, llama3; longrope for phi3)`);
      }
      const factors = (key: string): number[] => {
        const v = raw[key];
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && x > 0)) throw new ModelConfigError(`${file}: rope_scaling.${key} must be a list of positive numbers`);
        return v as number[];
      };
      // phi3 keeps original_max_position_embeddings at the top level; newer configs nest it.
      const original = posInt(raw.original_max_position_embeddings !== undefined ? raw : model, 'original_max_position_embeddings', file);
      const max = posInt(model, 'max_position_embeddings', file, 32768);
      const s = max / original;
      const fallback = s <= 1 ? 1 : Math.sqrt(1 + Math.log(s) / Math.log(original));
      return {
        rope_type: 'longrope', short_factor: factors('short_factor'), long_factor: factors('long_factor'),
        original_max_position_embeddings: original, attention_factor: num(raw, 'attention_factor', file, fallback),
      };
    }
    default:
      throw new ModelConfigError(`${file}: unsupported rope_scaling type ${JSON.stringify(type)} (supported: default, linear, llama3, longrope)`);
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

/**
 * Inverse frequencies of RoPE for each of rotary_dim/2 pairs, with rope_scaling applied.
 * `local`: gemma3's sliding layers (rope_local_base_freq, never scaled). `positions`: how many
 * positions the forward call spans (largest position id + 1), which picks longrope's factors.
 */
export function ropeInverseFrequencies(config: ModelConfig, options: { local?: boolean; positions?: number } = {}): Float64Array {
  const dim = rotaryDimension(config);
  const half = dim / 2;
  const base = options.local ? config.rope_local_base_freq : config.rope_theta;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / base ** ((2 * i) / dim);
  if (options.local) return inv;
  const s = config.rope_scaling;
  if (s.rope_type === 'longrope') {
    const ext = (options.positions ?? 0) > s.original_max_position_embeddings ? s.long_factor : s.short_factor;
    for (let i = 0; i < half; i++) inv[i] /= ext[i];
  } else if (s.rope_type === 'linear') {
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
