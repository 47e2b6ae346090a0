// The decoder's operations, each choosing its implementation for the active backend: a fused WGSL
// kernel on webgpu (src/engine/kernels/webgpu/) where one exists and takes the shapes, the composite
// tfjs ops everywhere else (wasm, cpu, and webgpu with FTUNE_WEBGPU_FUSED turning a kernel off).
// model.ts calls only these, so it reads as the transformer's math.
//
// They also keep every kernel within one GPU binding (maxStorageBufferBindingSize, 128 MiB on many
// drivers): attention runs in chunks of batch rows or query rows when its scores, queries or mask
// would be larger, byRows() runs a row-wise computation (the MLP) over chunks of rows, and a KV cache
// over one binding grows and is read by buffer copies. Off webgpu the limit is Infinity: nothing splits.
//
// Shapes: B batch, T new tokens, S = P + T keys, H heads, K kv heads, hd head_dim, R = H / K.
import * as tf from '@tensorflow/tfjs-core';
import { softcap } from './families';
import { isPacked, type FrozenMatrix } from './packedWeight';
import { ATTENTION, attentionFits, attentionWebGpu } from './kernels/webgpu/attention';
import { useWebGpuKernel } from './kernels/webgpu/program';
import { rmsNormWasm, ropeWasm, useWasmInferenceKernel, WASM_RMS_NORM, WASM_ROPE } from './kernels/wasm/inferenceKernels';
import { checkFitsBinding } from './webgpu';
import { RMS_NORM, rmsNormWebGpu } from './kernels/webgpu/rmsNorm';
import { ROPE, ropeWebGpu } from './kernels/webgpu/rope';
import { MASKED_SOFTMAX, maskedSoftmaxFits, maskedSoftmaxWebGpu } from './kernels/webgpu/softmax';
// Matrices over one GPU binding (vocabularies, big projections) are used block by block there.
import { bindingLimitBytes, concatColumnsByCopy, concatRowsByCopy, gatherRows, matMulRowsT, sliceRowsByCopy } from './rowBlocks';

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

/**
 * fn over chunks of the rows of x [N, C] such that fn's widest tensor (`floatsPerRow` floats a row of
 * x) stays within one GPU binding, concatenated in order; fn(x, 0) itself when it fits (always off
 * webgpu). fn gets each chunk and the index of its first row. An output over one binding (logits of
 * many rows) is put together by buffer copies: readable, but no kernel can take it whole.
 */
export function byRows(x: tf.Tensor2D, floatsPerRow: number, fn: (rows: tf.Tensor2D, start: number) => tf.Tensor2D[]): tf.Tensor2D[] {
  const N = x.shape[0];
  const perChunk = Math.max(1, Math.floor(bindingLimitBytes() / (4 * floatsPerRow)));
  if (perChunk >= N) return fn(x, 0);
  const chunks: tf.Tensor2D[][] = [];
  for (let start = 0; start < N; start += perChunk) chunks.push(fn(tf.slice(x, [start, 0], [Math.min(perChunk, N - start), -1]), start));
  return chunks[0].map((_, i) => {
    const parts = chunks.map((c) => c[i]);
    return parts.reduce((n, p) => n + p.size, 0) * 4 <= bindingLimitBytes() ? (tf.concat(parts, 0) as tf.Tensor2D) : concatRowsByCopy(parts);
  });
}

/**
 * Refuses a tensor of `shape` that the kernels after it must bind whole, before it is computed, when
 * it is over one GPU binding (nothing off webgpu): splitting the rows that make it would only
 * postpone the guard's error. `what` names it for the user and says who binds it.
 */
export function requireOneBinding(shape: number[], what: string, boundBy: string): void {
  checkFitsBinding(shape, bindingLimitBytes(), `${what} would be a`, `, which ${boundBy} bind whole`);
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

/** RMSNorm over the last axis: one fused kernel on webgpu (and on wasm without gradients), tfjs ops elsewhere. */
export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor, eps: number): T {
  if (useWebGpuKernel(RMS_NORM)) return rmsNormWebGpu(x, weight, eps);
  if (useWasmInferenceKernel(WASM_RMS_NORM)) return rmsNormWasm(x, weight, eps);
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
  if (useWasmInferenceKernel(WASM_ROPE)) return ropeWasm(x, tables.cos, tables.sin, tables.rotaryDim);
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
 * The additive attention mask [1 | B, 1, T, S] in two factors, added per chunk of attention: the
 * [B, 1, T, S] sum may be larger than one binding where its factors are not.
 */
export interface AttentionMask {
  /** causal (and sliding-window) bias [1, 1, T, S]. */
  bias: tf.Tensor4D;
  /** key padding [B, 1, 1, S] (0 or MASKED), when the batch has any. */
  keys?: tf.Tensor4D;
}

/** The mask as one tensor [1 | B, 1, T, S]. */
export function combinedMask(mask: AttentionMask): tf.Tensor4D {
  return mask.keys ? tf.add(mask.bias, mask.keys) : mask.bias;
}

/**
 * softmax(scale·q·kᵀ + mask)·v for rotated q [B, H, T, hd] over k, v [B, K, S, hd] (grouped-query):
 * [B·T, H·hd]. On webgpu one flash-style kernel when it takes the shapes (soft-capped scores take the
 * composite), run in chunks of batch rows or of query rows when a chunk's tensors would not fit one
 * binding: the scores and probabilities [B, H, T, S] (composite), q and the output [B, T, H, hd], the
 * mask [B, 1, T, S], k and v [B, K, S, hd] (only batch chunks help there).
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: AttentionMask, options: AttentionOptions): tf.Tensor2D {
  const [B, H, T, hd] = q.shape, K = k.shape[1], S = k.shape[2];
  const fused = useWebGpuKernel(ATTENTION) && options.softcap === null && attentionFits(q, k, v, mask.bias);
  const limit = bindingLimitBytes() / 4; // floats
  // floats a chunk binds per query row (batch element × position) and per batch element (k or v)
  const perQuery = Math.max(H * hd, S, fused ? 0 : H * S);
  const perElement = K * S * hd;
  if (B * T * perQuery <= limit && B * perElement <= limit) return attentionWhole(q, k, v, combinedMask(mask), options, fused);
  const queriesPerChunk = Math.max(1, Math.floor(limit / perQuery));
  const elementsPerChunk = Math.max(1, Math.min(Math.floor(queriesPerChunk / T), Math.floor(limit / perElement)));
  const rowsPerChunk = Math.min(T, queriesPerChunk);
  const parts: tf.Tensor2D[] = [];
  for (let b0 = 0; b0 < B; b0 += elementsPerChunk) {
    const bc = Math.min(elementsPerChunk, B - b0);
    for (let t0 = 0; t0 < T; t0 += rowsPerChunk) {
      const tc = Math.min(rowsPerChunk, T - t0);
      parts.push(tf.tidy(() => {
        // Causal: the chunk's queries see no key past S − T + t0 + tc; cut those off (when k can be
        // sliced in place) so that the chunk's own causal bookkeeping (past = keys − queries) holds.
        const fits = bc * perElement <= limit && k.size <= limit;
        const keyEnd = options.causal && fits ? S - T + t0 + tc : S;
        const kc = batchSlice(k, b0, bc, keyEnd), vc = batchSlice(v, b0, bc, keyEnd);
        const maskc = combinedMask({
          bias: tf.slice(mask.bias, [0, 0, t0, 0], [1, 1, tc, keyEnd]),
          keys: mask.keys && tf.slice(mask.keys, [mask.keys.shape[0] === 1 ? 0 : b0, 0, 0, 0], [mask.keys.shape[0] === 1 ? 1 : bc, 1, 1, keyEnd]),
        });
        const qc = tf.slice(q, [b0, 0, t0, 0], [bc, H, tc, hd]);
        const causal = options.causal && keyEnd - tc === S - T + t0;
        const out = attentionWhole(qc, kc, vc, maskc, { ...options, causal }, fused); // [bc·tc, H·hd]
        // rows (b, t) of this chunk go back in (b, t) order below
        return tf.reshape(out, [bc, tc, H * hd]) as unknown as tf.Tensor2D;
      }));
    }
  }
  // parts are ordered by batch chunk, then query chunk: concat the query chunks of each batch chunk along t
  const perBatchChunk = Math.ceil(T / rowsPerChunk);
  const byBatch: tf.Tensor[] = [];
  for (let i = 0; i < parts.length; i += perBatchChunk) byBatch.push(tf.concat(parts.slice(i, i + perBatchChunk), 1));
  return tf.reshape(tf.concat(byBatch, 0), [B * T, H * hd]);
}

/** Batch elements [b0, b0 + count) and keys [0, keyEnd) of k or v [B, K, S, hd]; by copy when k is over a binding. */
function batchSlice(x: tf.Tensor4D, b0: number, count: number, keyEnd: number): tf.Tensor4D {
  const [B, K, S, hd] = x.shape;
  if (b0 === 0 && count === B && keyEnd === S) return x;
  if (x.size <= bindingLimitBytes() / 4) return tf.slice(x, [b0, 0, 0, 0], [count, K, keyEnd, hd]);
  // a KV cache larger than one binding: whole batch elements are contiguous rows of [B, K·S·hd]
  const rows = sliceRowsByCopy(tf.reshape(x, [B, K * S * hd]) as tf.Tensor2D, b0, count);
  return tf.reshape(rows, [count, K, S, hd]);
}

/**
 * The KV cache of a layer grown by this step's keys or values: [B, K, P, hd] and [B, K, T, hd] →
 * [B, K, P + T, hd]; by buffer copies on webgpu when the result is larger than one binding.
 */
export function appendToCache(cached: tf.Tensor4D, fresh: tf.Tensor4D): tf.Tensor4D {
  const [B, K, P, hd] = cached.shape, T = fresh.shape[2];
  if (B * K * (P + T) * hd <= bindingLimitBytes() / 4) return tf.concat([cached, fresh], 2);
  const grown = concatColumnsByCopy([tf.reshape(cached, [B * K, P * hd]), tf.reshape(fresh, [B * K, T * hd])]);
  return tf.reshape(grown, [B, K, P + T, hd]);
}

/** Attention over all of q, k, v at once (fused kernel or composite). */
function attentionWhole(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor4D, options: AttentionOptions, fused: boolean): tf.Tensor2D {
  const [B, H, T, hd] = q.shape;
  if (fused) return tf.reshape(attentionWebGpu(q, k, v, mask, options.scale, options.causal), [B * T, H * hd]);
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
