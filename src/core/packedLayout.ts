// The sizes of the packed layout of frozen weights (issue 18; the layout itself is described in
// engine/packedWeight.ts): how many int32 words and float32 scales a packed [N, K] matrix holds.
// One place for the packing (engine/packedWeight.ts), the kernels that read the words (wasm and
// webgpu) and the memory estimate (core/estimate.ts, which may not import the engine).

export type PackedKind = 'f16' | 'bf16' | 'int8' | 'nf4';

/** Values in one int32 word. */
export const ELEMENTS_PER_WORD: Readonly<Record<PackedKind, number>> = { f16: 2, bf16: 2, int8: 4, nf4: 8 };

/** nf4 quantizes the flattened weight in blocks of this many values, one absmax each. */
export const NF4_BLOCK = 64;

/** Words of one row of a row-wise kind (16-bit, int8): a row starts on a word, its last one padded. */
export function wordsPerRow(kind: Exclude<PackedKind, 'nf4'>, K: number): number {
  return Math.ceil(K / ELEMENTS_PER_WORD[kind]);
}

/** Shape of the int32 words: [N, words per row] for the row-wise kinds, [words] for nf4 (flat). */
export function packedWordShape(kind: PackedKind, N: number, K: number): number[] {
  return kind === 'nf4' ? [Math.ceil((N * K) / ELEMENTS_PER_WORD.nf4)] : [N, wordsPerRow(kind, K)];
}

/** Shape of the float32 scales: int8 one per row, nf4 one per block of 64; none for 16-bit. */
export function packedScaleShape(kind: PackedKind, N: number, K: number): number[] | undefined {
  if (kind === 'int8') return [N];
  if (kind === 'nf4') return [Math.ceil((N * K) / NF4_BLOCK)];
  return undefined;
}

/** Bytes a packed [N, K] matrix holds: its words and its scales. */
export function packedLayoutBytes(kind: PackedKind, N: number, K: number): number {
  const count = (shape: number[] | undefined) => (shape ?? [0]).reduce((a, b) => a * b, 1);
  return 4 * (count(packedWordShape(kind, N, K)) + count(packedScaleShape(kind, N, K)));
}
