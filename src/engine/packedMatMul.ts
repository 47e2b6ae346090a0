// Products with packed frozen weights (packedWeight.ts), on any backend.
//
//  packedMatMulT(x [M, K], W) = x·dequant(W)ᵀ → [M, N], differentiable with respect to x only
//  (dx = dy·dequant(W); W is frozen). packedMatMul(d [M, N], W) = d·dequant(W) → [M, K].
//  gatherPackedRows(W, ids) = dequant(W)[ids] (embedding lookup of a 16-bit table).
//
// How each runs, by what the active backend registers:
//  - on webgpu, WGSL kernels that widen the packed words in the shader, row block by row block where
//    a weight is over one binding (kernels/webgpu/packedMatMul.ts, packedGather.ts);
//  - FtunePackedMatMulT / FtunePackedMatMul (a backend's own full products);
//  - one row of x (decoding) with FtunePackedMatVec: reads the packed weight in place (wasm);
//  - else tiles of W rows dequantized by FtunePackedDequantize (wasm) into float32 scratch, each
//    multiplied with the backend's own matMul and freed: memory holds one tile (≤ 16 MiB) beyond the
//    packed weight. A matrix that is one tile gives the same numbers as its float32 twin;
//  - a backend with none of these dequantizes with the JavaScript reference (slow; tests).
import * as tf from '@tensorflow/tfjs-core';
import { PACKED_DEQUANTIZE, PACKED_MATVEC } from './kernels/wasm/packedKernels';
import { gatherPackedRowsWebGpu, WEBGPU_PACKED_GATHER } from './kernels/webgpu/packedGather';
import { packedMatMulTWebGpu, packedMatMulWebGpu, WEBGPU_PACKED_MATMUL_T } from './kernels/webgpu/packedMatMul';
import { useWebGpuKernel } from './kernels/webgpu/program';
import { recordingGradients } from './tape';
import { dequantizeReference, packedArrays, type PackedWeight } from './packedWeight';

export const PACKED_MATMUL_T = 'FtunePackedMatMulT';
export const PACKED_MATMUL = 'FtunePackedMatMul';
export { PACKED_DEQUANTIZE, PACKED_MATVEC };

/** Most float32 values of W dequantized at once. */
export const TILE_FLOATS = 1 << 22;

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Whether the active backend runs packed weights with kernels of its own (not the JavaScript reference). */
export function packedKernelsAvailable(): boolean {
  return hasKernel(PACKED_MATMUL_T) || hasKernel(PACKED_DEQUANTIZE);
}

function packedInputs(w: PackedWeight): tf.NamedTensorMap {
  return w.scales ? { data: w.data, scales: w.scales } : { data: w.data };
}

function attrsOf(w: PackedWeight): { kind: string; N: number; K: number } {
  return { kind: w.kind, N: w.shape[0], K: w.shape[1] };
}

/** Rows [rowStart, rowStart + rows) of dequant(W) as a float32 tensor. */
export function dequantizeRows(w: PackedWeight, rowStart: number, rows: number): tf.Tensor2D {
  const K = w.shape[1];
  if (hasKernel(PACKED_DEQUANTIZE)) {
    return tf.engine().runKernel(PACKED_DEQUANTIZE, packedInputs(w), { ...attrsOf(w), rowStart, rows }) as tf.Tensor2D;
  }
  return tf.tensor2d(dequantizeReference(packedArrays(w), rowStart, rows), [rows, K]);
}

/** dequant(W) as a float32 [N, K] tensor (tests, exports). */
export function dequantize(w: PackedWeight): tf.Tensor2D {
  return dequantizeRows(w, 0, w.shape[0]);
}

/** Tiles of W's rows, each at most TILE_FLOATS values. */
function tiles(w: PackedWeight): { start: number; rows: number }[] {
  const [N, K] = w.shape;
  const per = Math.max(1, Math.floor(TILE_FLOATS / Math.max(1, K)));
  const out: { start: number; rows: number }[] = [];
  for (let start = 0; start < N; start += per) out.push({ start, rows: Math.min(per, N - start) });
  return out.length > 0 ? out : [{ start: 0, rows: 0 }];
}

function forwardT(x: tf.Tensor2D, w: PackedWeight): tf.Tensor2D {
  const [M] = x.shape;
  const K = w.shape[1];
  if (hasKernel(PACKED_MATMUL_T)) return tf.engine().runKernel(PACKED_MATMUL_T, { x, ...packedInputs(w) }, attrsOf(w)) as tf.Tensor2D;
  if (M === 1 && hasKernel(PACKED_MATVEC) && (w.kind !== 'nf4' || K % 64 === 0)) {
    return tf.engine().runKernel(PACKED_MATVEC, { x, ...packedInputs(w) }, attrsOf(w)) as tf.Tensor2D;
  }
  return tf.tidy((): tf.Tensor2D => {
    const parts = tiles(w).map(({ start, rows }) => {
      const tile = dequantizeRows(w, start, rows);
      const y: tf.Tensor2D = tf.matMul(x, tile, false, true);
      tile.dispose(); // before the next tile is made
      return y;
    });
    return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
  });
}

/** d [M, N] · dequant(W) → [M, K]: the input gradient of packedMatMulT, and products such as probs·head. */
export function packedMatMul(d: tf.Tensor2D, w: PackedWeight): tf.Tensor2D {
  if (useWebGpuKernel(WEBGPU_PACKED_MATMUL_T)) return packedMatMulWebGpu(d, w);
  if (hasKernel(PACKED_MATMUL)) return tf.engine().runKernel(PACKED_MATMUL, { x: d, ...packedInputs(w) }, attrsOf(w)) as tf.Tensor2D;
  return tf.tidy((): tf.Tensor2D => {
    const all = tiles(w);
    let sum: tf.Tensor2D | undefined;
    for (const { start, rows } of all) {
      const tile = dequantizeRows(w, start, rows);
      const part: tf.Tensor2D = tf.matMul(all.length === 1 ? d : (tf.slice(d, [0, start], [-1, rows]) as tf.Tensor2D), tile);
      tile.dispose();
      const next: tf.Tensor2D = sum ? tf.add(sum, part) : part;
      if (sum) {
        sum.dispose();
        part.dispose();
      }
      sum = next;
    }
    return sum!;
  });
}

/** x [M, K] · dequant(W)ᵀ → [M, N], with the gradient for x (none for the frozen W). */
export function packedMatMulT(x: tf.Tensor2D, w: PackedWeight): tf.Tensor2D {
  if (x.shape[1] !== w.shape[1]) throw new Error(`packedMatMulT: x is [${x.shape.join(', ')}], W is [${w.shape.join(', ')}]`);
  if (useWebGpuKernel(WEBGPU_PACKED_MATMUL_T)) return packedMatMulTWebGpu(x, w);
  // No gradient wanted (decoding, evaluation): the gradient wrapper would only cost time.
  if (!recordingGradients()) return forwardT(x, w);
  const product = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor2D;
    return {
      value: forwardT(input, w),
      gradFunc: (dy: tf.Tensor) => packedMatMul(dy as tf.Tensor2D, w),
    };
  });
  return product(x) as tf.Tensor2D;
}

/** Rows `ids` of a 16-bit or int8 packed matrix, widened: [ids, K]. */
export function gatherPackedRows(w: PackedWeight, ids: tf.Tensor1D): tf.Tensor2D {
  if (useWebGpuKernel(WEBGPU_PACKED_GATHER)) return gatherPackedRowsWebGpu(w, ids);
  if (w.kind === 'nf4') throw new Error('gatherPackedRows: nf4 blocks span rows; embeddings are never nf4');
  return tf.tidy(() => {
    const rows: PackedWeight = {
      kind: w.kind,
      shape: [ids.shape[0], w.shape[1]],
      data: tf.gather(w.data, ids),
      scales: w.scales ? tf.gather(w.scales, ids) : undefined,
    };
    return dequantizeRows(rows, 0, ids.shape[0]);
  });
}
