// A model (base weights, or LoRA already fused in) as one GGUF file llama.cpp / Ollama / LM Studio
// load: llama.cpp's architecture keys and tensor names, the tokenizer and the chat template.
import * as path from 'path';
import { expectedWeightNames, type DecoderModel } from '../../engine/model';
import { f32, str, u32, writeGguf, type GgufTensor, type MetadataValue } from './format';
import type { GgmlType } from './quant';
import { ggufArch, ggufTensorName, ggufTensorType, llama3RopeFactors, needsLlamaPermute, permuteForLlamaRope, type GgufArch } from './tensors';
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

export function architectureMetadata(model: DecoderModel, type: GgmlType, name: string, vocabSize: number): [string, MetadataValue][] {
  const c = model.config;
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
    [`${a}.rope.dimension_count`, u32(c.head_dim)],
    [`${a}.vocab_size`, u32(vocabSize)],
  ];
  if (c.rope_scaling.rope_type === 'linear') {
    kv.push([`${a}.rope.scaling.type`, str('linear')], [`${a}.rope.scaling.factor`, f32(c.rope_scaling.factor)]);
  }
  return kv;
}

/** Tensors in llama.cpp's names, types and layouts, reading the model's weights lazily. */
export function ggufTensors(model: DecoderModel, type: GgmlType): { tensors: GgufTensor[]; hfNames: (string | undefined)[] } {
  const c = model.config;
  const arch = ggufArch(c);
  const tensors: GgufTensor[] = [];
  const hfNames: (string | undefined)[] = [];
  const factors = llama3RopeFactors(c);
  if (factors) {
    if (arch !== 'llama') throw new Error(`llama3 rope scaling on a ${c.model_type} model has no GGUF equivalent`);
    tensors.push({ name: 'rope_freqs.weight', shape: [factors.length], type: 'F32', data: () => factors });
    hfNames.push(undefined);
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
    const t = model.weights.get(hfName);
    if (!t) throw new Error(`missing tensor ${hfName}`);
    const name = ggufTensorName(hfName);
    const permute = needsLlamaPermute(arch, hfName);
    const heads = permute === 'q' ? c.num_attention_heads : c.num_key_value_heads;
    tensors.push({
      name,
      shape: t.shape,
      type: ggufTensorType(name, t.shape, type),
      data: async () => {
        const values = (await t.data()) as Float32Array;
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
  const name = opts.name ?? path.basename(path.resolve(opts.modelDir));
  const metadata = [...architectureMetadata(opts.model, opts.type, name, c.vocab_size), ...vocabMetadata(vocab, opts.chatTemplate)];
  const { tensors, hfNames } = ggufTensors(opts.model, opts.type);
  const written = await writeGguf(opts.file, metadata, tensors);
  const fallbacks = tensors.filter((t) => opts.type === 'Q8_0' && t.type === 'F16').map((t) => t.name);
  if (fallbacks.length) warnings.push(`${fallbacks.length} tensor(s) have rows that are not whole 32-value blocks and were written as F16: ${fallbacks.join(', ')}`);
  return {
    file: opts.file,
    bytes: written.bytes,
    arch: ggufArch(c),
    tensors: tensors.map((t, i) => ({ name: t.name, hfName: hfNames[i], type: t.type, shape: [...t.shape] })),
    vocab,
    warnings,
  };
}
