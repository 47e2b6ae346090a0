// Named model shapes for benchmarks (random weights, no download): the same as
// ../shared/bench/torch_lora_step.py, so both engines time the same step.
import { parseModelConfig, type ModelConfig } from '../core/modelConfig';
import { mulberry32 } from '../core/random';
import { fromFloat32 } from '../core/safetensors';
import { DecoderModel, expectedWeightNames, type LoadOptions } from './model';
import { packedKernelsAvailable } from './packedMatMul';

export const SHAPES: Record<string, Record<string, unknown>> = {
  tiny: { model_type: 'llama', hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 4, intermediate_size: 688, vocab_size: 2000, tie_word_embeddings: true },
  'qwen2.5-0.5b': { model_type: 'qwen2', hidden_size: 896, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, intermediate_size: 4864, vocab_size: 151936, tie_word_embeddings: true },
  // Qwen/Qwen2.5-3B's config.json: 36 layers, 16 heads over 2 KV heads (head_dim 128), tied head.
  'qwen2.5-3b': { model_type: 'qwen2', hidden_size: 2048, num_hidden_layers: 36, num_attention_heads: 16, num_key_value_heads: 2, intermediate_size: 11008, vocab_size: 151936, tie_word_embeddings: true, rope_theta: 1000000 },
  'llama-3.2-1b': { model_type: 'llama', hidden_size: 2048, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 8192, vocab_size: 128256, tie_word_embeddings: true },
};

export function shapeConfig(name: string): ModelConfig {
  const raw = SHAPES[name];
  if (!raw) throw new Error(`unknown shape ${JSON.stringify(name)} (known: ${Object.keys(SHAPES).join(', ')})`);
  return parseModelConfig({ rms_norm_eps: 1e-6, rope_theta: 10000, ...raw }, `shape ${name}`);
}

/** One weight of a random model: norms 1, biases 0, matrices N(0, 0.02²) drawn from their own seed. */
export interface RandomWeight {
  name: string;
  shape: number[];
  init: 'ones' | 'zeros' | { seed: number };
}

/**
 * The weights of a random model of `config`, in expectedWeightNames order: the matrices take seeds
 * seed, seed + 1, … in that order, so randomModel and a GGUF written from randomWeightValues (bench
 * --llama-cpp) hold the same numbers.
 */
export function randomWeights(config: ModelConfig, seed = 0): RandomWeight[] {
  const c = config, hd = c.head_dim;
  const shapeOf = (name: string): number[] => {
    if (name.endsWith('norm.weight')) return name.includes('q_norm') || name.includes('k_norm') ? [hd] : [c.hidden_size];
    if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') return [c.vocab_size, c.hidden_size];
    const proj = /\.(\w+_proj)\.(weight|bias)$/.exec(name);
    if (!proj) throw new Error(`no shape rule for ${name}`);
    const out: Record<string, number> = {
      q_proj: c.num_attention_heads * hd, k_proj: c.num_key_value_heads * hd, v_proj: c.num_key_value_heads * hd,
      o_proj: c.hidden_size, gate_proj: c.intermediate_size, up_proj: c.intermediate_size, down_proj: c.hidden_size,
    };
    const inp: Record<string, number> = { o_proj: c.num_attention_heads * hd, down_proj: c.intermediate_size };
    return proj[2] === 'bias' ? [out[proj[1]]] : [out[proj[1]], inp[proj[1]] ?? c.hidden_size];
  };
  let s = seed;
  return expectedWeightNames(config).map((name) => ({
    name,
    shape: shapeOf(name),
    init: name.endsWith('norm.weight') ? 'ones' : name.endsWith('.bias') ? 'zeros' : { seed: s++ },
  }));
}

/** The float32 values of one random weight (row-major). */
export function randomWeightValues(w: RandomWeight): Float32Array {
  const n = w.shape.reduce((a, b) => a * b, 1);
  if (w.init === 'ones') return new Float32Array(n).fill(1);
  if (w.init === 'zeros') return new Float32Array(n);
  return normal(n, 0.02, w.init.seed);
}

/**
 * A model of `config` with weights ~ N(0, 0.02), norms 1, biases 0 (as the PyTorch reference). Without
 * `held`, every weight is float32. With it, the matrices are held as DecoderModel.load holds a BF16
 * checkpoint (16-bit, or `quantize`d projections; float32 when `float32` or without packed kernels), one
 * matrix at a time, so a 3B shape never exists in float32 as a whole.
 */
export function randomModel(config: ModelConfig, seed = 0, held?: LoadOptions): DecoderModel {
  const options: LoadOptions = held ?? { float32: true };
  // float32 matrices get the drawn values exactly (no copy); held ones are drawn, then stored as BF16
  const matrixDtype = (options.float32 ?? !packedKernelsAvailable()) ? 'F32' : 'BF16';
  const byName = new Map(randomWeights(config, seed).map((w) => [w.name, w]));
  return DecoderModel.fromStored(config, (name) => {
    const w = byName.get(name);
    if (!w) throw new Error(`randomModel: no random weight named ${name}`);
    const dtype = typeof w.init === 'object' ? matrixDtype : 'F32';
    return { bytes: fromFloat32(randomWeightValues(w), dtype), dtype, shape: w.shape };
  }, options);
}

/**
 * n samples of N(0, std²) by Box–Muller over mulberry32. WHY not tf.randomNormal: its seeded
 * generator draws ~20x slower, minutes for the 494M weights of a 0.5B shape.
 */
function normal(n: number, std: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - rand())); // 1 − u ∈ (0, 1]: log is finite
    const theta = 2 * Math.PI * rand();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}
