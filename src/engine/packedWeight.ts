// Frozen weights held smaller than float32 (issue 18): 16-bit as stored in the checkpoint (f16 /
// bf16), or quantized (int8 per output row, bitsandbytes nf4 in blocks of 64). The layout is shared
// with the webgpu kernels and written down in docs of the issue (packed-layout.md):
//  - f16 / bf16: data int32 [N, ceil(K/2)], element 2j of a row in bits 0–15 of word j, 2j+1 in bits
//    16–31 (for even K exactly the safetensors bytes of the row); an odd K pads the last high half with 0.
//  - int8: data int32 [N, ceil(K/4)], byte b of word j is q[r, 4j+b] (two's complement); scales [N].
//  - nf4: the weight flattened row-major in blocks of 64 (blocks may span rows); data int32
//    [ceil(N·K/8)], the code of flat element i is the nibble at bits 4·(i%8) of word i/8; scales
//    [ceil(N·K/64)] = the absmax of each block.
// tfjs has no 8- or 16-bit dtypes: the bytes live in int32 words. Widening happens inside the kernels
// that use a weight (packedMatMul.ts); `dequantizeReference` is the definition they are tested against.
import * as tf from '@tensorflow/tfjs-core';
import type { Quantize } from '../core/runConfig';
import { halfToFloatTable, toFloat32, type StDtype } from '../core/safetensors';
import { NF4_BLOCK, packedScaleShape, packedWordShape, wordsPerRow, type PackedKind } from '../core/packedLayout';

export type { PackedKind };

/** What `--quantize` asks of the frozen projection weights (the names are the run setting's: core/runConfig.ts). */
export type QuantizeKind = Quantize;

export interface PackedWeight {
  readonly kind: PackedKind;
  /** [N, K] logical, Hugging Face orientation ([out_features, in_features]). */
  readonly shape: readonly [number, number];
  /** int32 words, layout above. */
  readonly data: tf.Tensor;
  /** float32: int8 → [N] row scales; nf4 → [ceil(N·K/64)] block absmax. */
  readonly scales?: tf.Tensor;
}

/** A frozen matrix as a kernel may receive it: float32, or packed. */
export type FrozenMatrix = tf.Tensor2D | PackedWeight;

/** bitsandbytes' NF4 levels, ascending (index = code). */
export const NF4_LEVELS = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

export function isPacked(w: FrozenMatrix | tf.Tensor): w is PackedWeight {
  return !(w instanceof tf.Tensor);
}

/** Bytes a packed weight holds (data and scales). */
export function packedBytes(w: PackedWeight): number {
  return w.data.size * 4 + (w.scales?.size ?? 0) * 4;
}

export function disposePacked(w: PackedWeight): void {
  w.data.dispose();
  w.scales?.dispose();
}

/** Host-side packed words and scales, before they become tensors. */
export interface PackedArrays {
  kind: PackedKind;
  shape: [number, number];
  words: Int32Array;
  scales?: Float32Array;
}

export function toPackedWeight(a: PackedArrays): PackedWeight {
  const [N, K] = a.shape;
  const data = tf.tensor(a.words, packedWordShape(a.kind, N, K), 'int32');
  const scales = a.scales ? tf.tensor1d(a.scales, 'float32') : undefined;
  return { kind: a.kind, shape: [N, K], data, scales };
}

/**
 * A stored F16 / BF16 matrix [N, K] as packed 16-bit words, from its safetensors bytes with no
 * float32 copy: for even K the bytes are the words; an odd K gets each row copied with a pad half.
 */
export function pack16(bytes: Uint8Array, dtype: StDtype, shape: readonly number[]): PackedArrays {
  if (dtype !== 'F16' && dtype !== 'BF16') throw new Error(`pack16: dtype ${dtype} is not 16-bit`);
  if (shape.length !== 2) throw new Error(`pack16: shape [${shape.join(', ')}] is not a matrix`);
  const [N, K] = shape;
  if (bytes.length !== N * K * 2) throw new Error(`pack16: ${bytes.length} bytes for [${N}, ${K}] 16-bit values`);
  const kind: PackedKind = dtype === 'F16' ? 'f16' : 'bf16';
  const W = wordsPerRow(kind, K);
  if (K % 2 === 0) {
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : Uint8Array.from(bytes);
    return { kind, shape: [N, K], words: new Int32Array(aligned.buffer, aligned.byteOffset, N * W) };
  }
  const halves = new Uint16Array(N * W * 2);
  const src = new Uint16Array(Uint8Array.from(bytes).buffer);
  for (let r = 0; r < N; r++) halves.set(src.subarray(r * K, (r + 1) * K), r * W * 2);
  return { kind, shape: [N, K], words: new Int32Array(halves.buffer) };
}

/** round-half-to-even of a float (torch.round). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** int8 per output row: scale = absmax/127, q = round-half-to-even(w/scale) clamped to ±127 (float32 arithmetic). */
export function quantizeInt8(values: Float32Array, shape: readonly [number, number]): PackedArrays {
  const [N, K] = shape;
  const W = wordsPerRow('int8', K);
  const bytes = new Int8Array(N * W * 4);
  const scales = new Float32Array(N);
  for (let r = 0; r < N; r++) {
    let absmax = 0;
    for (let c = 0; c < K; c++) absmax = Math.max(absmax, Math.abs(values[r * K + c]));
    const scale = Math.fround(absmax / 127);
    scales[r] = scale;
    if (scale === 0) continue;
    for (let c = 0; c < K; c++) {
      // float32 division of float32 operands is the double quotient rounded once (exactly as torch).
      const q = roundHalfEven(Math.fround(values[r * K + c] / scale));
      bytes[r * W * 4 + c] = Math.max(-127, Math.min(127, q));
    }
  }
  return { kind: 'int8', shape: [N, K], words: new Int32Array(bytes.buffer), scales };
}

/** nf4: blocks of 64 flat values, code = argmin |w/absmax − level| (ties → the lower code). */
export function quantizeNf4(values: Float32Array, shape: readonly [number, number]): PackedArrays {
  const [N, K] = shape;
  const total = N * K;
  const blocks = packedScaleShape('nf4', N, K)![0];
  const words = new Int32Array(packedWordShape('nf4', N, K)[0]);
  const scales = new Float32Array(blocks);
  const ZERO_CODE = 7;
  for (let b = 0; b < blocks; b++) {
    const from = b * NF4_BLOCK, to = Math.min(total, from + NF4_BLOCK);
    let absmax = 0;
    for (let i = from; i < to; i++) absmax = Math.max(absmax, Math.abs(values[i]));
    scales[b] = absmax;
    for (let i = from; i < to; i++) {
      const code = absmax === 0 ? ZERO_CODE : nearestNf4(Math.fround(values[i] / absmax));
      words[i >> 3] |= code << (4 * (i & 7));
    }
  }
  return { kind: 'nf4', shape: [N, K], words, scales };
}

/** The code of the nearest NF4 level to v (float32 distances; a tie goes to the lower code). */
function nearestNf4(v: number): number {
  let hi = 1;
  while (hi < 15 && NF4_LEVELS[hi] < v) hi++;
  const lo = hi - 1;
  return Math.fround(NF4_LEVELS[hi] - v) < Math.fround(v - NF4_LEVELS[lo]) ? hi : lo;
}

/** Float32 values of a host-side matrix stored as `dtype` (the quantizers start from these). */
export function storedToFloat32(bytes: Uint8Array, dtype: StDtype, count: number): Float32Array {
  if (!FLOAT_STORED.has(dtype)) throw new Error(`dtype ${dtype} is not a float type`);
  return toFloat32(Buffer.from(bytes.buffer, bytes.byteOffset, count * (dtype === 'F32' ? 4 : 2)), dtype);
}

const FLOAT_STORED: ReadonlySet<StDtype> = new Set<StDtype>(['F32', 'F16', 'BF16']);

/**
 * Rows [rowStart, rowStart + rows) of a packed matrix as float32 values: the definition of every
 * kind, in plain JavaScript (the kernels are tested against it; backends without kernels use it).
 */
export function dequantizeReference(a: PackedArrays, rowStart = 0, rows = a.shape[0] - rowStart): Float32Array {
  const [, K] = a.shape;
  const out = new Float32Array(rows * K);
  const w = a.words;
  if (a.kind === 'f16' || a.kind === 'bf16') {
    const W = wordsPerRow(a.kind, K);
    const halves = new Uint16Array(w.buffer, w.byteOffset, w.length * 2);
    const table = a.kind === 'f16' ? halfToFloatTable() : undefined;
    const bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < K; c++) {
        const h = halves[(rowStart + r) * W * 2 + c];
        if (table) out[r * K + c] = table[h];
        else {
          bits[0] = h << 16;
          out[r * K + c] = f[0];
        }
      }
    }
    return out;
  }
  const scales = a.scales!;
  if (a.kind === 'int8') {
    const W = wordsPerRow('int8', K);
    const q = new Int8Array(w.buffer, w.byteOffset, w.length * 4);
    for (let r = 0; r < rows; r++) {
      const s = scales[rowStart + r];
      for (let c = 0; c < K; c++) out[r * K + c] = Math.fround(q[(rowStart + r) * W * 4 + c] * s);
    }
    return out;
  }
  const from = rowStart * K;
  for (let j = 0; j < rows * K; j++) {
    const i = from + j;
    const code = (w[i >> 3] >>> (4 * (i & 7))) & 15;
    out[j] = Math.fround(NF4_LEVELS[code] * scales[i >> 6]);
  }
  return out;
}

/** Reads a packed weight's tensors back to the host (tests and the reference path of other backends). */
export function packedArrays(w: PackedWeight): PackedArrays {
  return {
    kind: w.kind,
    shape: [w.shape[0], w.shape[1]],
    words: w.data.dataSync() as Int32Array,
    scales: w.scales ? (w.scales.dataSync() as Float32Array) : undefined,
  };
}

/**
 * A tensor as a checkpoint stores it: its bytes (F32, F16 or BF16), dtype and shape. The bytes are
 * handed over: a float32 tensor made from aligned F32 bytes views them instead of copying them.
 */
export interface StoredTensor {
  bytes: Uint8Array;
  dtype: StDtype;
  shape: number[];
}

/**
 * The frozen matrix `name` of a checkpoint as it will be held: a 16-bit stored matrix stays 16-bit
 * (unless `widen`), `quantize` int8/nf4 quantizes it from its float32 values; anything else is a
 * float32 tensor as before.
 */
export function frozenFromStored(
  stored: StoredTensor,
  how: { quantize: QuantizeKind; widen: boolean },
): FrozenMatrix | tf.Tensor {
  const { bytes, dtype, shape } = stored;
  const count = shape.reduce((n, d) => n * d, 1);
  if (shape.length === 2 && how.quantize !== 'none') {
    const values = storedToFloat32(bytes, dtype, count);
    const matrix: [number, number] = [shape[0], shape[1]];
    return toPackedWeight(how.quantize === 'int8' ? quantizeInt8(values, matrix) : quantizeNf4(values, matrix));
  }
  if (shape.length === 2 && !how.widen && (dtype === 'F16' || dtype === 'BF16')) return toPackedWeight(pack16(bytes, dtype, shape));
  const aligned = dtype === 'F32' && bytes.byteOffset % 4 === 0;
  return tf.tensor(aligned ? new Float32Array(bytes.buffer, bytes.byteOffset, count) : storedToFloat32(bytes, dtype, count), shape, 'float32');
}
