// Matrices larger than one GPU binding, split into blocks of rows.
//
// A WebGPU kernel can only bind maxStorageBufferBindingSize bytes of a buffer (128 MiB on lavapipe
// and on many drivers; the WebGPU default). A vocabulary matrix is larger from small models on:
// Qwen2.5-0.5B's [151936, 896] embedding is 519 MiB, Llama-3.2-1B's [128256, 2048] 1 GiB. Such a
// matrix is used here as blocks of whole rows that each fit: the embedding lookup gathers from every
// block, a product with the matrix (lm_head, cross-entropy, big projections) runs block by block.
//
// Off webgpu (and on webgpu when the matrix fits) a matrix is one block, itself, and every function
// below is exactly the tfjs op it replaces: wasm and cpu numerics do not change.
import * as tf from '@tensorflow/tfjs-core';
import { registerWebGpuKernel, type WebGpuKernelFunc } from './kernels/webgpu/program';
import { gatherPackedRows, packedMatMul, packedMatMulT } from './packedMatMul';
import { isPacked, type FrozenMatrix } from './packedWeight';
import { bindingLimitOf, webGpuLimits } from './webgpu';

export interface RowBlock {
  /** first row of the matrix in this block. */
  start: number;
  rows: number;
  weight: tf.Tensor2D;
}

const ROW_SLICE = 'FtuneRowSlice';
const CONCAT_COLUMNS = 'FtuneConcatColumns';
const blocksOf = new Map<tf.Tensor, RowBlock[]>();

/** Bytes one kernel may bind on the active backend (Infinity off webgpu). */
export function bindingLimitBytes(): number {
  if (tf.getBackend() !== 'webgpu') return Infinity;
  const limits = webGpuLimits();
  return limits ? bindingLimitOf(limits) : Infinity;
}

/**
 * `w` [R, C] as blocks of rows that each fit one binding: `[w]` itself when it fits. The blocks of a
 * large matrix are made once and kept while `w` lives (a copy on the GPU, or from the values still on
 * the CPU: then the whole matrix is never uploaded at all).
 */
export function rowBlocks(w: tf.Tensor2D): RowBlock[] {
  const [R, C] = w.shape;
  const limit = bindingLimitBytes();
  if (R * C * 4 <= limit) return [{ start: 0, rows: R, weight: w }];
  forgetDisposed();
  const cached = blocksOf.get(w);
  if (cached) return cached;
  if (w instanceof tf.Variable && w.trainable) {
    // Blocks are copies: an optimizer step would update the matrix and leave them stale.
    throw new Error(
      `webgpu: the trainable ${w.name.replace(/#\d+$/, '')} [${R}, ${C}] (${(R * C * 4 / 2 ** 20).toFixed(0)} MiB) is larger than this GPU binds at once ` +
      `(${(limit / 2 ** 20).toFixed(0)} MiB): full fine-tuning of it is not supported on webgpu; use LoRA or --backend wasm`,
    );
  }
  const perBlock = Math.max(1, Math.floor(limit / (C * 4)));
  const blocks: RowBlock[] = [];
  for (let start = 0; start < R; start += perBlock) {
    const rows = Math.min(perBlock, R - start);
    const weight = tf.keep(sliceRowsByCopy(w, start, rows));
    blocks.push({ start, rows, weight });
  }
  blocksOf.set(w, blocks);
  return blocks;
}

/** How a matrix of this shape would be split on the active backend: rows per block and block count. */
export function splitPlan(rows: number, cols: number): { perBlock: number; blocks: number } {
  const limit = bindingLimitBytes();
  if (rows * cols * 4 <= limit) return { perBlock: rows, blocks: 1 };
  const perBlock = Math.max(1, Math.floor(limit / (cols * 4)));
  return { perBlock, blocks: Math.ceil(rows / perBlock) };
}

/** Drops the blocks of matrices that have been disposed. */
function forgetDisposed(): void {
  for (const [w, blocks] of blocksOf) {
    if (!w.isDisposed) continue;
    for (const b of blocks) b.weight.dispose();
    blocksOf.delete(w);
  }
}

/**
 * x [N, C] · wᵀ → [N, R] (tf.matMul(x, w, false, true)), block by block when w is split; a packed
 * frozen w (16-bit or quantized) goes to its own kernels (packedMatMul.ts).
 */
export function matMulRowsT(x: tf.Tensor2D, w: FrozenMatrix): tf.Tensor2D {
  if (isPacked(w)) return packedMatMulT(x, w);
  const blocks = rowBlocks(w);
  if (blocks.length === 1) return tf.matMul(x, w, false, true);
  return tf.concat(blocks.map((b) => tf.matMul(x, b.weight, false, true)), 1) as tf.Tensor2D;
}

/** d [N, R] · w → [N, C] (tf.matMul(d, w)), as a sum over blocks when w is split. */
export function matMulRows(d: tf.Tensor2D, w: FrozenMatrix): tf.Tensor2D {
  if (isPacked(w)) return packedMatMul(d, w);
  const blocks = rowBlocks(w);
  if (blocks.length === 1) return tf.matMul(d, w);
  return tf.addN(blocks.map((b) => tf.matMul(tf.slice(d, [0, b.start], [-1, b.rows]), b.weight))) as tf.Tensor2D;
}

/** Rows `ids` of w (tf.gather(w, ids)): each block serves the ids it holds, the others add exact zeros. */
export function gatherRows(w: FrozenMatrix, ids: tf.Tensor1D): tf.Tensor2D {
  if (isPacked(w)) return gatherPackedRows(w, ids);
  const blocks = rowBlocks(w);
  if (blocks.length === 1) return tf.gather(w, ids) as tf.Tensor2D;
  return tf.tidy(() => {
    const parts = blocks.map((b) => {
      const int = (v: number) => tf.scalar(v, 'int32'); // plain numbers would turn the ids into floats
      const local = tf.sub(tf.cast(ids, 'int32'), int(b.start));
      const inside = tf.logicalAnd(tf.greaterEqual(local, int(0)), tf.less(local, int(b.rows)));
      const rows = tf.gather(b.weight, tf.maximum(tf.minimum(local, int(b.rows - 1)), int(0)));
      return tf.mul(rows, tf.expandDims(tf.cast(inside, 'float32'), 1));
    });
    return tf.addN(parts) as tf.Tensor2D;
  });
}

/** Internals of tfjs-backend-webgpu 4.x that a buffer-to-buffer copy needs. */
interface WebGpuInternals {
  tensorMap: { get(dataId: tf.DataId): { values: Float32Array | Int32Array | null; resource?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array | Int32Array): tf.TensorInfo;
  uploadToGPU(dataId: tf.DataId): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  commandEncoder: { copyBufferToBuffer(src: unknown, srcOffset: number, dst: unknown, dstOffset: number, size: number): void };
}

/**
 * Rows [start, start + rows) of a 2-D tensor (4-byte elements: float32, or the int32 words of a packed
 * weight) as a new tensor, without binding the source:
 * from its CPU values when it has not been uploaded, else by a buffer-to-buffer copy on the GPU
 * (copies have no binding limit).
 */
const rowSlice: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const { start, rows } = attrs as { start: number; rows: number };
  const cols = x.shape[1];
  const gpu = backend as unknown as WebGpuInternals;
  const source = gpu.tensorMap.get(x.dataId);
  if (source.values) return gpu.makeTensorInfo([rows, cols], x.dtype, source.values.subarray(start * cols, (start + rows) * cols));
  const out = gpu.makeTensorInfo([rows, cols], x.dtype);
  gpu.uploadToGPU(out.dataId);
  gpu.ensureCommandEncoderReady();
  gpu.endComputePassEncoder();
  gpu.commandEncoder.copyBufferToBuffer(source.resource, start * cols * 4, gpu.tensorMap.get(out.dataId).resource, 0, rows * cols * 4);
  return out;
};

/**
 * [x0 | x1 | …] along axis 1 of 2-D float32 tensors with the same rows, by buffer copies (one per
 * input and row): the result may be larger than one binding (a KV cache growing while decoding,
 * logits of many rows). No gradient.
 */
const concatColumns: WebGpuKernelFunc = ({ inputs, backend }) => {
  const parts = Object.keys(inputs).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))).map((name) => inputs[name] as tf.TensorInfo);
  const R = parts[0].shape[0], C = parts.reduce((n, p) => n + p.shape[1], 0);
  const gpu = backend as unknown as WebGpuInternals;
  for (const p of parts) gpu.uploadToGPU(p.dataId);
  const out = gpu.makeTensorInfo([R, C], 'float32');
  gpu.uploadToGPU(out.dataId);
  gpu.ensureCommandEncoderReady();
  gpu.endComputePassEncoder();
  const dst = gpu.tensorMap.get(out.dataId).resource;
  let offset = 0;
  for (const p of parts) {
    const src = gpu.tensorMap.get(p.dataId).resource, width = p.shape[1];
    for (let r = 0; r < R && width > 0; r++) gpu.commandEncoder.copyBufferToBuffer(src, r * width * 4, dst, (r * C + offset) * 4, width * 4);
    offset += width;
  }
  return out;
};

/**
 * Rows [start, start + rows) of x [R, C] (float32 or int32) as a new tensor: on webgpu a copy that
 * binds nothing (rowSlice above: from the CPU values or buffer to buffer), tf.slice elsewhere. The
 * caller owns the result.
 */
export function sliceRowsByCopy<T extends tf.Tensor2D>(x: T, start: number, rows: number): T {
  if (tf.getBackend() !== 'webgpu') return tf.slice(x, [start, 0], [rows, -1]);
  return tf.engine().runKernel(ROW_SLICE, { x }, { start, rows }) as T;
}

/** [x0 | x1 | …] along axis 1: copies that bind nothing on webgpu (no gradient), tf.concat elsewhere. */
export function concatColumnsByCopy(parts: tf.Tensor2D[]): tf.Tensor2D {
  if (tf.getBackend() !== 'webgpu') return tf.concat(parts, 1);
  return tf.engine().runKernel(CONCAT_COLUMNS, Object.fromEntries(parts.map((p, i) => [`x${i}`, p]))) as tf.Tensor2D;
}

/** The rows of every part, in order (tf.concat(parts, 0)), by copies on webgpu: the result may exceed a binding. */
export function concatRowsByCopy(parts: tf.Tensor2D[]): tf.Tensor2D {
  if (tf.getBackend() !== 'webgpu') return tf.concat(parts, 0);
  const C = parts[0].shape[1], rows = parts.reduce((n, p) => n + p.shape[0], 0);
  return tf.reshape(concatColumnsByCopy(parts.map((p) => tf.reshape(p, [1, p.size]) as tf.Tensor2D)), [rows, C]);
}

export function installWebGpuRowSlice(): void {
  registerWebGpuKernel(ROW_SLICE, rowSlice);
  registerWebGpuKernel(CONCAT_COLUMNS, concatColumns);
}
