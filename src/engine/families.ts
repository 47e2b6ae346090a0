// What differs between the decoder families, in one place: which projections and norms a layer has
// (phi3 fuses q/k/v and gate/up; gemma3 adds pre/post feed-forward norms), and gemma3's numerics
// (RMSNorm by 1 + w, embeddings × √hidden_size, GeGLU, soft-capping). model.ts composes them.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../core/modelConfig';

/** One linear layer of a decoder block, by its Hugging Face name under `model.layers.{i}.`. */
export interface Projection {
  /** e.g. `self_attn.q_proj`, `mlp.gate_up_proj`. */
  name: string;
  out: number;
  in: number;
  bias: boolean;
}

/** The linear layers of every decoder block, in PEFT's module order. */
export function layerProjections(c: ModelConfig): Projection[] {
  const hd = c.head_dim, H = c.num_attention_heads, K = c.num_key_value_heads, D = c.hidden_size, I = c.intermediate_size;
  const attention: Projection[] = c.fused_projections
    ? [{ name: 'self_attn.qkv_proj', out: (H + 2 * K) * hd, in: D, bias: c.qkv_bias }]
    : [
        { name: 'self_attn.q_proj', out: H * hd, in: D, bias: c.qkv_bias },
        { name: 'self_attn.k_proj', out: K * hd, in: D, bias: c.qkv_bias },
        { name: 'self_attn.v_proj', out: K * hd, in: D, bias: c.qkv_bias },
      ];
  const mlp: Projection[] = c.fused_projections
    ? [{ name: 'mlp.gate_up_proj', out: 2 * I, in: D, bias: c.mlp_bias }]
    : [
        { name: 'mlp.gate_proj', out: I, in: D, bias: c.mlp_bias },
        { name: 'mlp.up_proj', out: I, in: D, bias: c.mlp_bias },
      ];
  return [
    ...attention,
    { name: 'self_attn.o_proj', out: D, in: H * hd, bias: c.o_bias },
    ...mlp,
    { name: 'mlp.down_proj', out: D, in: I, bias: c.mlp_bias },
  ];
}

/** The RMSNorm weights of every decoder block (under `model.layers.{i}.`) with their length. */
export function layerNorms(c: ModelConfig): { name: string; size: number }[] {
  const norms = [
    { name: 'input_layernorm', size: c.hidden_size },
    { name: 'post_attention_layernorm', size: c.hidden_size },
  ];
  if (c.gemma_norms) norms.push({ name: 'pre_feedforward_layernorm', size: c.hidden_size }, { name: 'post_feedforward_layernorm', size: c.hidden_size });
  if (c.qk_norm) norms.push({ name: 'self_attn.q_norm', size: c.head_dim }, { name: 'self_attn.k_norm', size: c.head_dim });
  return norms;
}

/** The factor RMSNorm multiplies by: the weight, or for Gemma 1 + weight (its weights are offsets from 1). */
export function normScale(c: ModelConfig, weight: tf.Tensor): tf.Tensor {
  return c.gemma_norms ? tf.add(weight, 1) : weight;
}

/** Gemma multiplies the embeddings by √hidden_size, as a float32 scalar here (float32 compute). */
export function embeddingScale(c: ModelConfig): number {
  return c.gemma_norms ? Math.fround(Math.sqrt(c.hidden_size)) : 1;
}

/** gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/**
 * act(gate)·up, the gated MLP's product ([N, intermediate_size] each): silu (SwiGLU) or
 * gelu_pytorch_tanh (GeGLU) of the gate. SwiGLU keeps only gate and up
 * for its backward pass and recomputes sigmoid(gate) there. WHY: autodiff through
 * gate·sigmoid(gate)·up keeps sigmoid(gate) and gate·sigmoid(gate) too, and leaves every gradient
 * between them alive: at 512 tokens of a 3B shape that is ~90 MiB more per recomputed layer. The
 * gradient is computed with the same operations in the same order as tfjs's autodiff, so the
 * numbers are the same.
 */
export function gatedProduct(c: ModelConfig, gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  if (c.hidden_act === 'gelu_pytorch_tanh') return tf.mul(geluTanh(gate), up);
  const swiglu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [g, u, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([g, u]);
    return {
      value: tf.mul(tf.mul(g, tf.sigmoid(g)), u),
      // Each temporary ([N, intermediate_size] apiece) is freed as soon as it is used: at most five alive.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [g0, u0] = saved;
        const sig = tf.sigmoid(g0);
        const silu = tf.mul(g0, sig);
        const dUp = tf.mul(dy, silu);
        silu.dispose();
        const dSilu = tf.mul(dy, u0); // d(silu·up)/dsilu
        const viaGate = tf.mul(dSilu, sig);
        const dSig = tf.mul(dSilu, g0); // d(gate·sig)/dsig; sigmoid's own gradient is y·(1 − y)
        dSilu.dispose();
        const one = tf.scalar(1);
        const oneMinus = tf.sub(one, sig);
        const slope = tf.mul(sig, oneMinus);
        tf.dispose([one, oneMinus, sig]);
        const viaSig = tf.mul(dSig, slope);
        tf.dispose([dSig, slope]);
        const dGate = tf.add(viaGate, viaSig);
        tf.dispose([viaGate, viaSig]);
        return [dGate, dUp];
      },
    };
  });
  return swiglu(gate, up) as tf.Tensor2D;
}

/** tanh(x / cap)·cap (Gemma's soft-capping of attention scores or logits); x itself when cap is null. */
export function softcap<T extends tf.Tensor>(x: T, cap: number | null): T {
  return cap === null ? x : (tf.mul(tf.tanh(tf.div(x, cap)), cap) as T);
}

/** Columns [start, start + size) of a fused projection's output [N, out]. */
export function columns(y: tf.Tensor2D, start: number, size: number): tf.Tensor2D {
  return tf.slice(y, [0, start], [-1, size]);
}
