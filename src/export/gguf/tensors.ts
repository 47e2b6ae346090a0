// Hugging Face tensor names and layouts → llama.cpp's, as convert_hf_to_gguf.py maps them for
// LlamaModel / Qwen2Model / Qwen3Model (gguf-py's tensor_mapping.py for the names).
import type { ModelConfig } from '../../core/modelConfig';
import { ropeInverseFrequencies } from '../../core/modelConfig';
import { canQuantizeQ8_0, type GgmlType } from './quant';

export type GgufArch = 'llama' | 'qwen2' | 'qwen3';

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
    default:
      throw new Error(`GGUF export of ${config.model_type} is not supported yet`);
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
};

/** `model.layers.3.self_attn.q_proj.weight` → `blk.3.attn_q.weight`. */
export function ggufTensorName(hfName: string): string {
  if (hfName === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hfName === 'model.norm.weight') return 'output_norm.weight';
  if (hfName === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  const part = m ? LAYER_PARTS[m[2]] : undefined;
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
