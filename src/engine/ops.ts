// The decoder's operations, each choosing its implementation for the active backend: a fused WGSL
// kernel on webgpu (src/engine/kernels/webgpu/) where one exists and takes the shapes, the composite
// tfjs ops everywhere else (wasm, cpu, and webgpu with FTUNE_WEBGPU_FUSED turning a kernel off).
// model.ts calls only these, so it reads as the transformer's math.
//
// Shapes: B batch, T new tokens, S = P + T keys, H heads, K kv heads, hd head_dim, R = H / K.
import * as tf from '@tensorflow/tfjs-core';
import { softcap } from './families';
import { isPacked, type FrozenMatrix } from './packedWeight';
import { ATTENTION, attentionFits, attentionWebGpu } from './kernels/webgpu/attention';
import { useWebGpuKernel } from './kernels/webgpu/program';
import { RMS_NORM, rmsNormWebGpu } from './kernels/webgpu/rmsNorm';
import { ROPE, ropeWebGpu } from './kernels/webgpu/rope';
import { MASKED_SOFTMAX, maskedSoftmaxFits, maskedSoftmaxWebGpu } from './kernels/webgpu/softmax';
// Matrices over one GPU binding (vocabularies, big projections) are used block by block there.
import { gatherRows, matMulRowsT } from './rowBlocks';

/**
 * A projection's weight [out, in] as linear() takes it: float32, or a frozen weight held packed
 * (16-bit, int8, nf4: packedWeight.ts) that linear() multiplies with kernels of its own
 * (packedMatMul.ts, through rowBlocks.ts).
 */
export type Weight = FrozenMatrix;

/** x·Wᵀ (+ bias): x [N, in], weight [out, in] (Hugging Face layout) → [N, out]. */
export function linear(x: tf.Tensor2D, weight: Weight, bias?: tf.Tensor1D): tf.Tensor2D {
  const y = matMulRowsT(x, weight);
  return bias ? tf.add(y, bias) : y;
}

/** Rows `ids` (int32, any shape, flattened) of `table` [V, D] → [N, D]; differentiable when `table` is trainable. */
export function embedding(table: Weight, ids: tf.Tensor): tf.Tensor2D {
  const flat = tf.reshape(ids, [-1]) as tf.Tensor1D;
  if (isPacked(table) || !(table instanceof tf.Variable && table.trainable)) return gatherRows(table, flat); // packed: widened rows
  // Full fine-tuning: gather's own gradient needs UnsortedSegmentSum, which the wasm backend lacks;
  // a scatter (duplicates summed) computes the same gradient.
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [tableIn, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([flat]); // kept alive until the backward pass
    return {
      value: tf.gather(tableIn, flat) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => tf.scatterND(tf.reshape(saved[0], [-1, 1]), dy, tableIn.shape),
    };
  });
  return lookup(table);
}

/** RMSNorm over the last axis: one fused kernel on webgpu, tfjs ops elsewhere. */
export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor, eps: number): T {
  if (useWebGpuKernel(RMS_NORM)) return rmsNormWebGpu(x, weight, eps);
  return rmsNormComposite(x, weight, eps);
}

/** RMSNorm with tfjs ops: what every backend but webgpu runs, and the reference of the fused kernel. */
export function rmsNormComposite<T extends tf.Tensor>(x: T, weight: tf.Tensor, eps: number): T {
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), weight) as T;
}

/** Rope tables of one forward pass: cos/sin [T, hd] and how many dims of hd turn. */
export interface RopeTables {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  /** rotary_dim: all of head_dim but for phi3's partial_rotary_factor. */
  rotaryDim: number;
  /** the rotate_half matrix [hd, hd] the composite multiplies by (made on first use). */
  rotation(): tf.Tensor2D;
}

/** Rotates x [B, T, heads, hd] by position and transposes it to [B, heads, T, hd]. */
export function rope(x: tf.Tensor4D, tables: RopeTables): tf.Tensor4D {
  // The kernel turns all of head_dim, so phi3's partial rotary takes the composite.
  if (useWebGpuKernel(ROPE) && tables.rotaryDim === x.shape[3]) return ropeWebGpu(x, tables.cos, tables.sin);
  return applyRope(tf.transpose(x, [0, 2, 1, 3]), tables.cos, tables.sin, tables.rotation());
}

/** x·cos + rotate_half(x)·sin with rotate_half(x) = [-x2, x1] = x·R (transformers' convention). */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, rotation: tf.Tensor2D): tf.Tensor4D {
  const hd = x.shape[3];
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [-1, hd]), rotation), x.shape);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
}

export interface AttentionOptions {
  /** scores are q·k times this. */
  scale: number;
  /** Gemma's attn_logit_softcapping (null: none). */
  softcap: number | null;
  /** the mask is the causal one without key padding: the fused kernel skips the future keys. */
  causal: boolean;
}

/**
 * softmax(scale·q·kᵀ + mask)·v for rotated q [B, H, T, hd] over k, v [B, K, S, hd] (grouped-query)
 * with an additive mask [1 | B, 1, T, S]: [B·T, H·hd]. On webgpu one flash-style kernel when it takes
 * the shapes (soft-capped scores take the composite).
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor, options: AttentionOptions): tf.Tensor2D {
  const [B, H, T, hd] = q.shape;
  if (useWebGpuKernel(ATTENTION) && options.softcap === null && attentionFits(q, k, v, mask)) {
    return tf.reshape(attentionWebGpu(q, k, v, mask, options.scale, options.causal), [B * T, H * hd]);
  }
  return attentionComposite(q, k, v, mask, options);
}

/** Attention with tfjs ops (and the masked-softmax kernel on webgpu). */
function attentionComposite(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor, options: AttentionOptions): tf.Tensor2D {
  const [B, H, T, hd] = q.shape, K = k.shape[1], S = k.shape[2], R = H / K;
  // Grouped-query attention without copying k/v: the R query heads sharing a kv head are stacked
  // along the time axis, [B, K, R·T, hd] against [B, K, S, hd].
  const qg = tf.reshape(tf.mul(q, options.scale), [B, K, R * T, hd]);
  const scores = softcap(tf.reshape(tf.matMul(qg, k, false, true), [B, H, T, S]), options.softcap) as tf.Tensor4D;
  const probs = maskedSoftmax(scores, mask);
  const out = tf.matMul(tf.reshape(probs, [B, K, R * T, S]), v); // [B, K, R·T, hd]
  return tf.reshape(tf.transpose(tf.reshape(out, [B, H, T, hd]), [0, 2, 1, 3]), [B * T, H * hd]) as tf.Tensor2D;
}

/** softmax(scores + mask) over the last axis: one kernel for both on webgpu. */
export function maskedSoftmax(scores: tf.Tensor4D, mask: tf.Tensor): tf.Tensor4D {
  if (useWebGpuKernel(MASKED_SOFTMAX) && maskedSoftmaxFits(scores, mask)) return maskedSoftmaxWebGpu(scores, mask);
  return tf.softmax(tf.add(scores, mask)) as tf.Tensor4D;
}
