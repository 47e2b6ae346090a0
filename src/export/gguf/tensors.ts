// Hugging Face tensor names and layouts → llama.cpp's, as convert_hf_to_gguf.py maps them for
// LlamaModel / Qwen2Model / Qwen3Model / Gemma3Model / Phi3MiniModel (gguf-py's tensor_mapping.py
// for the names, llama-arch.cpp for each architecture's tensors).
import type { ModelConfig } from '../../core/modelConfig';
import { ropeInverseFrequencies, rotaryDimension } from '../../core/modelConfig';
import { canQuantizeQ8_0, type GgmlType } from './quant';

export type GgufArch = 'llama' | 'qwen2' | 'qwen3' | 'gemma3' | 'phi3';

/** general.architecture for our model types (mistral is llama's graph, and convert maps it so). */
export function ggufArch(config: ModelConfig): GgufArch {
  switch (config.model_type) {
    case 'llama':
    case 'mistral':
      return 'llama';
    case 'qwen2':
      return 'qwen2';
    case 'qwen3':
      return 'qwen3';
    case 'gemma3_text':
      return 'gemma3';
    case 'phi3':
      return 'phi3';
  }
}

const LAYER_PARTS: Record<string, string> = {
  'input_layernorm': 'attn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  'post_attention_layernorm': 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
  // phi3's fused projections: llama.cpp splits attn_qkv as [q; k; v] and ffn_up as [gate; up] itself.
  'self_attn.qkv_proj': 'attn_qkv',
  'mlp.gate_up_proj': 'ffn_up',
};

/** gemma3 normalises each branch's output too; its pre-feed-forward norm takes llama's ffn_norm name. */
const GEMMA3_PARTS: Record<string, string> = {
  'post_attention_layernorm': 'post_attention_norm',
  'pre_feedforward_layernorm': 'ffn_norm',
  'post_feedforward_layernorm': 'post_ffw_norm',
};

/** `model.layers.3.self_attn.q_proj.weight` → `blk.3.attn_q.weight`. */
export function ggufTensorName(hfName: string, arch: GgufArch = 'llama'): string {
  if (hfName === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hfName === 'model.norm.weight') return 'output_norm.weight';
  if (hfName === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  const part = m ? (arch === 'gemma3' ? GEMMA3_PARTS[m[2]] : undefined) ?? LAYER_PARTS[m[2]] : undefined;
  if (!m || !part) throw new Error(`no GGUF name for tensor ${hfName}`);
  return `blk.${m[1]}.${part}.${m[3]}`;
}

/**
 * llama.cpp's llama graph applies RoPE to interleaved pairs (2i, 2i+1) while transformers rotates
 * halves (i, i + head_dim/2); convert_hf_to_gguf.py's LlamaModel.permute reorders the rows of q/k
 * (weights and biases) within each head so that the pairs line up:
 *   w.reshape(n_head, 2, rows/n_head/2, ...).swapaxes(1, 2).reshape(w.shape)
 * qwen2/qwen3 use llama.cpp's NEOX rope (halves) and are written unpermuted.
 */
export function permuteForLlamaRope(data: Float32Array, shape: readonly number[], nHead: number): Float32Array {
  const rows = shape[0];
  const cols = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  if (rows % (2 * nHead) !== 0) throw new Error(`cannot permute ${rows} rows into ${nHead} heads of (2, n) pairs`);
  const half = rows / nHead / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < nHead; h++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < half; j++) {
        const from = h * 2 * half + s * half + j; // [h, s, j]
        const to = h * 2 * half + j * 2 + s; // [h, j, s]
        out.set(data.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/** The permutation (if any) a tensor needs on its way into GGUF, as convert's modify_tensors. */
export function needsLlamaPermute(arch: GgufArch, hfName: string): 'q' | 'k' | undefined {
  if (arch !== 'llama') return undefined;
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return 'q';
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return 'k';
  return undefined;
}

/**
 * The stored type of a tensor, as convert's prepare_tensors decides: 1-D tensors, norms and
 * biases stay F32; matrices take the requested type, and Q8_0 falls back to F16 for rows that are
 * not whole 32-value blocks (gguf-py raises QuantError and convert falls back the same way).
 */
export function ggufTensorType(ggufName: string, shape: readonly number[], requested: GgmlType): GgmlType {
  if (shape.length <= 1 || ggufName.endsWith('_norm.weight') || !ggufName.endsWith('.weight')) return 'F32';
  if (requested === 'Q8_0' && !canQuantizeQ8_0(shape)) return 'F16';
  return requested;
}

/**
 * llama3 rope scaling: llama.cpp takes the per-frequency divisors as a `rope_freqs.weight` tensor
 * (convert's LlamaModel.generate_extra_tensors): factor_i = inv_freq_unscaled_i / inv_freq_scaled_i.
 */
export function llama3RopeFactors(config: ModelConfig): Float32Array | undefined {
  if (config.rope_scaling.rope_type !== 'llama3') return undefined;
  const scaled = ropeInverseFrequencies(config);
  const plain = ropeInverseFrequencies({ ...config, rope_scaling: { rope_type: 'default' } });
  return Float32Array.from(scaled, (s, i) => plain[i] / s);
}

/** Gemma's RMSNorm weights are offsets from 1; llama.cpp multiplies by the stored weight, so convert stores 1 + w. */
export function storesNormPlusOne(config: ModelConfig, hfName: string): boolean {
  return config.gemma_norms && hfName.endsWith('norm.weight');
}

/** phi3 longrope: the per-frequency factors llama.cpp divides by, as convert's Phi3MiniModel writes them. */
export function longropeFactorTensors(config: ModelConfig): { long: Float32Array; short: Float32Array } | undefined {
  const s = config.rope_scaling;
  if (s.rope_type !== 'longrope') return undefined;
  return { long: Float32Array.from(s.long_factor), short: Float32Array.from(s.short_factor) };
}

/**
 * What llama.cpp's gemma3 graph assumes and cannot be told (llama-model.cpp): sliding layers every
 * layer but each 6th, a local rope base of 10000, scores scaled by head_dim^-0.5 (27B: by
 * (hidden/heads)^-0.5), no attention soft-capping. A config that differs would run differently there.
 */
export function gemma3GgufProblems(c: ModelConfig): string[] {
  const problems: string[] = [];
  const pattern6 = c.layer_types.every((t, i) => t === ((i + 1) % 6 === 0 ? 'full_attention' : 'sliding_attention'));
  if (!pattern6) problems.push(`layer_types [${c.layer_types.join(', ')}] differ from llama.cpp's fixed pattern (every 6th layer full)`);
  if (c.rope_local_base_freq !== 10000) problems.push(`rope_local_base_freq ${c.rope_local_base_freq} (llama.cpp uses 10000)`);
  const llamaCppScalar = c.num_hidden_layers === 62 ? c.hidden_size / c.num_attention_heads : c.head_dim;
  if (c.query_pre_attn_scalar !== llamaCppScalar) problems.push(`query_pre_attn_scalar ${c.query_pre_attn_scalar} (llama.cpp scales by ${llamaCppScalar}^-0.5)`);
  if (c.attn_logit_softcapping !== null) problems.push('attn_logit_softcapping (llama.cpp has none for gemma3)');
  return problems;
}

/** The rotary dims llama.cpp turns (rope.dimension_count). */
export function ropeDimensionCount(c: ModelConfig): number {
  return rotaryDimension(c);
}
