// A packed frozen weight larger than one storage binding, cut into blocks of whole rows.
//
// WHY: a kernel binds at most maxStorageBufferBindingSize bytes of a buffer (128 MiB on lavapipe and
// by default; rowBlocks.ts). A 16-bit lm_head reaches that from small models on (Qwen2.5-0.5B's
// [151936, 896] is 260 MiB in 16 bits). The blocks are copies made once and kept while the weight's
// words live, like rowBlocks.ts does for float32 matrices (from the CPU values when the words were
// never uploaded, so the whole weight is never on the GPU at all).
//
// nf4 is flat: a block of rows starts inside a word (8 codes) and inside an absmax block (64 values)
// when K is not a multiple of those; flatBase and scaleBase say where, in elements.
import * as tf from '@tensorflow/tfjs-core';
import { bindingLimitBytes, sliceRowsByCopy } from '../../rowBlocks';
import { ELEMENTS_PER_WORD, NF4_BLOCK, packedScaleShape, packedWordShape, wordsPerRow, type PackedKind } from '../../../core/packedLayout';
import type { PackedWeight } from '../../packedWeight';

export interface PackedBlock {
  /** first row of W in this block. */
  start: number;
  rows: number;
  data: tf.Tensor;
  scales?: tf.Tensor;
  /** nf4: flat index of the block's first element, counted from its first word. */
  flatBase: number;
  /** nf4: flat index of the block's first element, counted from its first absmax block. */
  scaleBase: number;
}

const blocksOf = new Map<tf.Tensor, PackedBlock[]>();

/** The weight as blocks of rows that each bind within the device's limit: one block, itself, when it fits. */
export function packedBlocks(w: PackedWeight): PackedBlock[] {
  checkLayout(w);
  const [N, K] = w.shape;
  const perBlock = rowsPerBlock(w.kind, K, bindingLimitBytes());
  if (perBlock >= N) return [{ start: 0, rows: N, data: w.data, scales: w.scales, flatBase: 0, scaleBase: 0 }];
  if (perBlock < 1) throw new Error(`webgpu: one row of a ${w.kind} weight [${N}, ${K}] is larger than this GPU binds at once (${bindingLimitBytes()} bytes)`);
  forgetDisposed();
  const cached = blocksOf.get(w.data);
  if (cached) return cached;
  const blocks: PackedBlock[] = [];
  for (let start = 0; start < N; start += perBlock) blocks.push(sliceBlock(w, start, Math.min(perBlock, N - start)));
  blocksOf.set(w.data, blocks);
  return blocks;
}

/** Rows of W per block under `limit` bytes per binding (Infinity: no limit). */
export function rowsPerBlock(kind: PackedKind, K: number, limit: number): number {
  if (!Number.isFinite(limit)) return Infinity;
  const words = Math.floor(limit / 4);
  if (kind === 'nf4') return Math.floor(((words - 2) * ELEMENTS_PER_WORD.nf4) / K); // a block may straddle a word at each end
  return Math.floor(words / wordsPerRow(kind, K));
}

function sliceBlock(w: PackedWeight, start: number, rows: number): PackedBlock {
  const K = w.shape[1];
  if (w.kind !== 'nf4') {
    return {
      start, rows, flatBase: 0, scaleBase: 0,
      data: tf.keep(sliceRowsByCopy(w.data as tf.Tensor2D, start, rows)),
      scales: w.scales ? sliceFlat(w.scales, start, rows) : undefined,
    };
  }
  const first = start * K, end = (start + rows) * K;
  const word0 = Math.floor(first / ELEMENTS_PER_WORD.nf4), scale0 = Math.floor(first / NF4_BLOCK);
  return {
    start, rows,
    data: sliceFlat(w.data, word0, Math.ceil(end / ELEMENTS_PER_WORD.nf4) - word0),
    scales: sliceFlat(w.scales as tf.Tensor, scale0, Math.ceil(end / NF4_BLOCK) - scale0),
    flatBase: first - word0 * ELEMENTS_PER_WORD.nf4,
    scaleBase: first - scale0 * NF4_BLOCK,
  };
}

/** Elements [start, start + count) of a 1-D tensor, kept. */
function sliceFlat(t: tf.Tensor, start: number, count: number): tf.Tensor {
  return tf.keep(tf.tidy(() => tf.reshape(sliceRowsByCopy(tf.reshape(t, [t.size, 1]) as tf.Tensor2D, start, count), [count])));
}

/** The tensors have the layout's shapes and dtypes for `shape` (a mismatch would read wrong words). */
function checkLayout(w: PackedWeight): void {
  const [N, K] = w.shape;
  const expected = { data: packedWordShape(w.kind, N, K), scales: packedScaleShape(w.kind, N, K) };
  const same = (t: tf.Tensor | undefined, shape: number[] | undefined) => (t === undefined || shape === undefined ? t === undefined && shape === undefined : t.shape.join() === shape.join());
  if (w.data.dtype !== 'int32' || !same(w.data, expected.data) || !same(w.scales, expected.scales) || (w.scales !== undefined && w.scales.dtype !== 'float32')) {
    const describe = (t: tf.Tensor | undefined) => (t ? `${t.dtype} [${t.shape.join(', ')}]` : 'none');
    throw new Error(
      `packed ${w.kind} weight [${N}, ${K}]: words ${describe(w.data)}, scales ${describe(w.scales)}; ` +
      `the layout needs int32 [${expected.data.join(', ')}]${expected.scales ? ` and float32 [${expected.scales.join(', ')}]` : ' and no scales'}`,
    );
  }
}

/** Drops the blocks of weights whose words have been disposed. */
function forgetDisposed(): void {
  for (const [data, blocks] of blocksOf) {
    if (!data.isDisposed) continue;
    for (const b of blocks) {
      b.data.dispose();
      b.scales?.dispose();
    }
    blocksOf.delete(data);
  }
}
