// A model (base weights, or LoRA already fused in) as one GGUF file llama.cpp / Ollama / LM Studio
// load: llama.cpp's architecture keys and tensor names, the tokenizer and the chat template.
import * as path from 'path';
import type { ModelConfig } from '../../core/modelConfig';
import { expectedWeightNames, type DecoderModel } from '../../engine/model';
import { f32, str, u32, writeGguf, type GgufTensor, type MetadataValue } from './format';
import type { GgmlType } from './quant';
import {
  gemma3GgufProblems, ggufArch, ggufTensorName, ggufTensorType, llama3RopeFactors, longropeFactorTensors, needsLlamaPermute,
  permuteForLlamaRope, ropeDimensionCount, storesNormPlusOne, type GgufArch,
} from './tensors';
import { readGgufVocab, vocabMetadata, type GgufVocab } from './vocab';

/** gguf-py's GGML_QUANT_VERSION, written by convert whatever the types. */
const QUANTIZATION_VERSION = 2;
/** general.file_type (llama_ftype) for the type most tensors have. */
const FILE_TYPE: Record<GgmlType, number> = { F32: 0, F16: 1, Q8_0: 7 };

export interface GgufExportOptions {
  /** folder with config.json and the tokenizer files. */
  modelDir: string;
  /** the weights to write (an adapter already fused into them). */
  model: DecoderModel;
  file: string;
  type: GgmlType;
  chatTemplate?: string;
  name?: string;
}

export interface GgufExportResult {
  file: string;
  bytes: number;
  arch: GgufArch;
  tensors: { name: string; hfName?: string; type: GgmlType; shape: number[] }[];
  vocab: GgufVocab;
  warnings: string[];
}

/**
 * What a GGUF file is written from: a config and float32 weights by Hugging Face name, read one at a
 * time (a loaded model, or bench's random weights that never exist as a whole).
 */
export interface GgufWeights {
  config: ModelConfig;
  weight(hfName: string): { shape: readonly number[]; data(): Promise<Float32Array> | Float32Array } | undefined;
}

/** A loaded model's float32 weights (the adapter already fused in, nothing held packed). */
export function modelWeights(model: DecoderModel): GgufWeights {
  return {
    config: model.config,
    weight: (hfName) => {
      const t = model.weights.get(hfName);
      return t && { shape: t.shape, data: async () => (await t.data()) as Float32Array };
    },
  };
}

export function architectureMetadata(c: ModelConfig, type: GgmlType, name: string, vocabSize: number): [string, MetadataValue][] {
  const a = ggufArch(c);
  const kv: [string, MetadataValue][] = [
    ['general.architecture', str(a)],
    ['general.type', str('model')],
    ['general.name', str(name)],
    ['general.quantization_version', u32(QUANTIZATION_VERSION)],
    ['general.alignment', u32(32)],
    ['general.file_type', u32(FILE_TYPE[type])],
    [`${a}.block_count`, u32(c.num_hidden_layers)],
    [`${a}.context_length`, u32(c.max_position_embeddings)],
    [`${a}.embedding_length`, u32(c.hidden_size)],
    [`${a}.feed_forward_length`, u32(c.intermediate_size)],
    [`${a}.attention.head_count`, u32(c.num_attention_heads)],
    [`${a}.attention.head_count_kv`, u32(c.num_key_value_heads)],
    [`${a}.rope.freq_base`, f32(c.rope_theta)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32(c.rms_norm_eps)],
    // llama.cpp assumes hidden_size / heads unless told; qwen3 (and some llamas) have their own head_dim.
    [`${a}.attention.key_length`, u32(c.head_dim)],
    [`${a}.attention.value_length`, u32(c.head_dim)],
    [`${a}.rope.dimension_count`, u32(ropeDimensionCount(c))],
    [`${a}.vocab_size`, u32(vocabSize)],
  ];
  if (c.rope_scaling.rope_type === 'linear') {
    kv.push([`${a}.rope.scaling.type`, str('linear')], [`${a}.rope.scaling.factor`, f32(c.rope_scaling.factor)]);
  }
  if (a === 'gemma3') {
    const problems = gemma3GgufProblems(c);
    if (problems.length) throw new Error(`this gemma3 model cannot be written as GGUF: llama.cpp would run it differently (${problems.join('; ')})`);
    kv.push([`${a}.attention.sliding_window`, u32(c.sliding_window ?? 0)]);
    if (c.final_logit_softcapping !== null) kv.push([`${a}.final_logit_softcapping`, f32(c.final_logit_softcapping)]);
  }
  if (a === 'phi3') {
    // convert writes 0 for "no window" (Phi-4-mini); llama.cpp then runs full attention.
    kv.push([`${a}.attention.sliding_window`, u32(c.sliding_window ?? 0)]);
    const s = c.rope_scaling;
    if (s.rope_type === 'longrope') {
      // llama.cpp picks the factors by its context size (not by position) and takes this attention factor.
      kv.push([`${a}.rope.scaling.original_context_length`, u32(s.original_max_position_embeddings)]);
      kv.push([`${a}.rope.scaling.attn_factor`, f32(s.attention_factor)]);
    } else {
      kv.push([`${a}.rope.scaling.original_context_length`, u32(c.max_position_embeddings)]);
    }
  }
  return kv;
}

/** Tensors in llama.cpp's names, types and layouts, reading the weights lazily. */
export function ggufTensors(weights: GgufWeights, type: GgmlType): { tensors: GgufTensor[]; hfNames: (string | undefined)[] } {
  const c = weights.config;
  const arch = ggufArch(c);
  const tensors: GgufTensor[] = [];
  const hfNames: (string | undefined)[] = [];
  const factors = llama3RopeFactors(c);
  if (factors) {
    if (arch !== 'llama') throw new Error(`llama3 rope scaling on a ${c.model_type} model has no GGUF equivalent`);
    tensors.push({ name: 'rope_freqs.weight', shape: [factors.length], type: 'F32', data: () => factors });
    hfNames.push(undefined);
  }
  const longrope = longropeFactorTensors(c);
  if (longrope) {
    tensors.push({ name: 'rope_factors_long.weight', shape: [longrope.long.length], type: 'F32', data: () => longrope.long });
    tensors.push({ name: 'rope_factors_short.weight', shape: [longrope.short.length], type: 'F32', data: () => longrope.short });
    hfNames.push(undefined, undefined);
  }
  // llama.cpp's usual order: embeddings, blocks, final norm, head.
  const names = expectedWeightNames(c);
  const ordered = [
    'model.embed_tokens.weight',
    ...names.filter((n) => n.startsWith('model.layers.')),
    'model.norm.weight',
    ...(c.tie_word_embeddings ? [] : ['lm_head.weight']), // tied: llama.cpp reuses token_embd
  ];
  for (const hfName of ordered) {
    const t = weights.weight(hfName);
    if (!t) throw new Error(`missing tensor ${hfName}`);
    const name = ggufTensorName(hfName, arch);
    const permute = needsLlamaPermute(arch, hfName);
    const plusOne = storesNormPlusOne(c, hfName);
    const heads = permute === 'q' ? c.num_attention_heads : c.num_key_value_heads;
    tensors.push({
      name,
      shape: t.shape,
      type: ggufTensorType(name, t.shape, type),
      data: async () => {
        const values = await t.data();
        if (plusOne) return values.map((v) => v + 1);
        return permute ? permuteForLlamaRope(values, t.shape, heads) : values;
      },
    });
    hfNames.push(hfName);
  }
  return { tensors, hfNames };
}

export async function exportGguf(opts: GgufExportOptions): Promise<GgufExportResult> {
  const c = opts.model.config;
  const { vocab, warnings } = readGgufVocab(opts.modelDir, c.vocab_size);
  const name = llamaCppSafeName(opts.name ?? path.basename(path.resolve(opts.modelDir)), vocab.tokens, warnings);
  const written = await writeGgufModel(opts.file, modelWeights(opts.model), vocab, { type: opts.type, name, chatTemplate: opts.chatTemplate });
  return { ...written, warnings: [...warnings, ...written.warnings] };
}

/** Writes `weights` with `vocab` as one GGUF file of `type` (Q8_0 falls back to F16 for rows that are not whole blocks). */
export async function writeGgufModel(
  file: string, weights: GgufWeights, vocab: GgufVocab, opts: { type: GgmlType; name: string; chatTemplate?: string },
): Promise<GgufExportResult> {
  const c = weights.config;
  const metadata = [...architectureMetadata(c, opts.type, opts.name, c.vocab_size), ...vocabMetadata(vocab, opts.chatTemplate)];
  const { tensors, hfNames } = ggufTensors(weights, opts.type);
  const written = await writeGguf(file, metadata, tensors);
  const warnings: string[] = [];
  const fallbacks = tensors.filter((t) => opts.type === 'Q8_0' && t.type === 'F16').map((t) => t.name);
  if (fallbacks.length) warnings.push(`${fallbacks.length} tensor(s) have rows that are not whole 32-value blocks and were written as F16: ${fallbacks.join(', ')}`);
  return {
    file,
    bytes: written.bytes,
    arch: ggufArch(c),
    tensors: tensors.map((t, i) => ({ name: t.name, hfName: hfNames[i], type: t.type, shape: [...t.shape] })),
    vocab,
    warnings,
  };
}

/** Tokens llama.cpp's vocabulary loader sets Phi-3 attributes on when general.name says phi-3 (it throws if one is missing). */
const PHI3_NAMED_TOKENS = ['</s>', '<unk>', '<s>', '<|endoftext|>'];

/**
 * llama.cpp (llama-vocab.cpp) applies Phi-3's special-token attributes to a model whose lower-cased
 * general.name contains "phi-3" or "phi3", looking up </s>, <unk>, <s> and <|endoftext|>: with a
 * vocabulary that lacks one (a GPT-2-style tokenizer) loading fails. Such a name is written with "phi 3".
 */
export function llamaCppSafeName(name: string, tokens: readonly string[], warnings: string[]): string {
  if (!/phi-?3/i.test(name)) return name;
  const have = new Set(tokens);
  const missing = PHI3_NAMED_TOKENS.filter((t) => !have.has(t));
  if (missing.length === 0) return name;
  const safe = name.replace(/phi-?3/gi, (m) => `${m.slice(0, 3)} 3`);
  warnings.push(`general.name "${name}" written as "${safe}": llama.cpp treats names containing phi3 as Phi-3 and needs ${missing.join(', ')} in the vocabulary`);
  return safe;
}
