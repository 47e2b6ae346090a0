// WGSL that reads one element of a packed frozen weight (the layout of packedWeight.ts, issue 18) and
// widens it to f32 in the shader: `fn wAt(n : i32, k : i32) -> f32` is W[n, k] of the block bound as
// `wd` (int32 words) and `ws` (float32 scales, int8 and nf4 only), n counted from the block's first row.
//
// Uniforms it reads: kCols (K), wordsPerRow (f16/bf16/int8: words of one row), flatBase and scaleBase
// (nf4: where the block's first row starts inside its first word and its first absmax block, in elements).
//
// f16 and bf16 widen exactly; int8 and nf4 compute q·scale and level·absmax in f32, as the definitions do.
import { NF4_BLOCK, wordsPerRow, type PackedKind } from '../../../core/packedLayout';
import { NF4_LEVELS } from '../../packedWeight';

/** The shader's input names for a kind: the words, and the scales where the kind has them. */
export function packedInputNames(kind: PackedKind): string[] {
  return kind === 'int8' || kind === 'nf4' ? ['wd', 'ws'] : ['wd'];
}

/** `fn wAt(n, k) -> f32` (and what it needs) for one kind. */
export function weightReader(kind: PackedKind): string {
  switch (kind) {
    case 'f16':
      return `
  // unpack2x16float is core WGSL (no shader-f16 needed). A device may flush subnormal halves to zero
  // there, so those (exponent 0) are rebuilt from their bits: mantissa · 2^-24, exact in f32.
  fn halfToF32(h : u32) -> f32 {
    let v = unpack2x16float(h).x;
    let sub = f32(h & 1023u) * 5.9604644775390625e-8;
    let signed = select(sub, -sub, (h & 0x8000u) != 0u);
    return select(v, signed, ((h >> 10u) & 31u) == 0u);
  }
  fn wAt(n : i32, k : i32) -> f32 {
    let word = u32(wd[n * uniforms.wordsPerRow + (k >> 1)]);
    return halfToF32((word >> (u32(k & 1) * 16u)) & 0xffffu);
  }`;
    case 'bf16':
      return `
  fn wAt(n : i32, k : i32) -> f32 {
    let word = u32(wd[n * uniforms.wordsPerRow + (k >> 1)]);
    return bitcast<f32>(((word >> (u32(k & 1) * 16u)) & 0xffffu) << 16u);
  }`;
    case 'int8':
      return `
  fn wAt(n : i32, k : i32) -> f32 {
    let word = wd[n * uniforms.wordsPerRow + (k >> 2)];
    // byte k%4 to the top, then an arithmetic shift back: the sign-extended int8
    let q = (word << (24u - 8u * u32(k & 3))) >> 24u;
    return f32(q) * ws[n];
  }`;
    case 'nf4':
      return `
  var<private> NF4 : array<f32, 16> = array<f32, 16>(${Array.from(NF4_LEVELS, f32Literal).join(', ')});
  fn wAt(n : i32, k : i32) -> f32 {
    let flat = n * uniforms.kCols + k;
    let i = uniforms.flatBase + flat;
    let code = (u32(wd[i >> 3u]) >> (u32(i & 7) * 4u)) & 15u;
    return NF4[code] * ws[(uniforms.scaleBase + flat) / ${NF4_BLOCK}];
  }`;
  }
}

/** A WGSL literal that parses to exactly the float32 nearest `v` (the value the composite uses). */
function f32Literal(v: number): string {
  const f = Math.fround(v);
  const text = String(f);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** The uniforms wAt reads, declared last, in this order, by every packed program. */
export const PACKED_UNIFORMS = 'kCols : i32, wordsPerRow : i32, flatBase : i32, scaleBase : i32,';

/** Values of PACKED_UNIFORMS for a block of a [N, K] weight of `kind`. */
export function packedUniformValues(kind: PackedKind, kCols: number, flatBase: number, scaleBase: number): { type: 'int32'; data: number[] }[] {
  const rowWords = kind === 'nf4' ? 0 : wordsPerRow(kind, kCols);
  return [kCols, rowWords, flatBase, scaleBase].map((v) => ({ type: 'int32' as const, data: [v] }));
}
