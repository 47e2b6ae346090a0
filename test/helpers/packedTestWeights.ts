// Random packed weights for kernel tests, made by the engine's own packers (packedWeight.ts: pack16 from
// safetensors bytes, quantizeInt8, quantizeNf4) with their values from its definition
// (dequantizeReference): what a kernel must reproduce. 16-bit weights come from random bit patterns
// (in full range: f16 subnormals, signed zeros, the largest finite values); int8 and nf4 from random
// float32 weights with a zero row / zero block.
import { mulberry32 } from '../../src/core/random';
import { dequantizeReference, pack16, quantizeInt8, quantizeNf4, toPackedWeight, type PackedArrays, type PackedKind, type PackedWeight } from '../../src/engine/packedWeight';

export interface PackedTestWeight {
  arrays: PackedArrays;
  shape: [number, number];
  kind: PackedKind;
  /** dequant(W) [N, K], row-major. */
  dense: Float32Array;
}

export interface RandomOptions {
  /** 16-bit: exponents from the whole finite range (f16 subnormals and signed zeros too) instead of values near ±1. */
  fullRange?: boolean;
}

/** A random [N, K] weight of `kind`, packed by the engine, and its values. */
export function randomPacked(kind: PackedKind, N: number, K: number, seed: number, options: RandomOptions = {}): PackedTestWeight {
  const rand = mulberry32(seed);
  const int = (n: number) => Math.floor(rand() * n);
  let arrays: PackedArrays;
  if (kind === 'f16' || kind === 'bf16') {
    const halves = new Uint16Array(N * K);
    for (let i = 0; i < halves.length; i++) {
      // f16: exponent 0..30 (no inf/nan), or 12..16 (|w| in [2^-3, 2^2)). bf16: 1..254 (bf16 subnormals
      // are f32 subnormals, which a GPU may flush in any arithmetic, float32 weights alike), or 124..128.
      const e = kind === 'f16' ? (options.fullRange ? int(31) : 12 + int(5)) : options.fullRange ? 1 + int(254) : 124 + int(5);
      const bits = kind === 'f16' ? (int(2) << 15) | (e << 10) | int(1024) : (int(2) << 15) | (e << 7) | int(128);
      halves[i] = options.fullRange && int(50) === 0 ? bits & 0x8000 : bits; // a few signed zeros
    }
    arrays = pack16(new Uint8Array(halves.buffer), kind === 'f16' ? 'F16' : 'BF16', [N, K]);
  } else {
    const values = Float32Array.from({ length: N * K }, () => rand() * 2 - 1);
    if (kind === 'int8') values.fill(0, K, 2 * K); // row 1: scale 0
    else values.fill(0, 128, Math.min(N * K, 192)); // block 2: absmax 0
    arrays = kind === 'int8' ? quantizeInt8(values, [N, K]) : quantizeNf4(values, [N, K]);
  }
  return { arrays, shape: [N, K], kind, dense: dequantizeReference(arrays) };
}

/** The weight's tensors on the active backend (dispose with disposePacked). */
export function packedTensors(w: PackedTestWeight): PackedWeight {
  return toPackedWeight(w.arrays);
}
