// Packed weights for kernel tests, made from random codes (every bit pattern a checkpoint can hold:
// f16 subnormals and signed zeros, all 16 nf4 codes, ±127, zero scales) together with their float32
// values per the layout's definitions (packed-layout.md): the reference a kernel must reproduce.
import * as tf from '@tensorflow/tfjs-core';
import { NF4_LEVELS, type PackedKindName } from '../../src/engine/kernels/webgpu/packedDecode';

export interface PackedTestWeight {
  kind: PackedKindName;
  shape: [number, number];
  words: Int32Array;
  scales?: Float32Array;
  /** dequant(W) [N, K], row-major. */
  dense: Float32Array;
}

/** A seeded uniform [0, 1) generator (mulberry32). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32 value of half-precision bits (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export interface RandomOptions {
  /** f16 / bf16: exponents drawn from the full finite range (subnormals and zeros too) instead of values near ±1. */
  fullRange?: boolean;
}

/** A random [N, K] weight of `kind`, its words and its values. */
export function randomPacked(kind: PackedKindName, N: number, K: number, seed: number, options: RandomOptions = {}): PackedTestWeight {
  const rand = seeded(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const dense = new Float32Array(N * K);
  if (kind === 'f16' || kind === 'bf16') {
    const wordsPerRow = Math.ceil(K / 2);
    const words = new Int32Array(N * wordsPerRow);
    const bits32 = new Uint32Array(1), asFloat = new Float32Array(bits32.buffer);
    for (let r = 0; r < N; r++) {
      for (let c = 0; c < K; c++) {
        let bits: number;
        if (kind === 'f16') {
          // exponent 0..30 (no inf/nan) in full range, else 12..16 (|w| in [2^-3, 2^2))
          const e = options.fullRange ? int(31) : 12 + int(5);
          bits = (int(2) << 15) | (e << 10) | int(1024);
          dense[r * K + c] = halfToFloat(bits);
        } else {
          // exponent 1..254 in full range (bf16 subnormals are f32 subnormals, which GPUs may flush in arithmetic), else 124..128
          const e = options.fullRange ? 1 + int(254) : 124 + int(5);
          bits = (int(2) << 15) | (e << 7) | int(128);
          if (options.fullRange && int(50) === 0) bits &= 0x8000; // signed zeros
          bits32[0] = bits << 16;
          dense[r * K + c] = asFloat[0];
        }
        words[r * wordsPerRow + (c >> 1)] |= bits << ((c & 1) * 16);
      }
    }
    return { kind, shape: [N, K], words, dense };
  }
  if (kind === 'int8') {
    const wordsPerRow = Math.ceil(K / 4);
    const words = new Int32Array(N * wordsPerRow);
    const scales = new Float32Array(N);
    for (let r = 0; r < N; r++) {
      scales[r] = r === 1 ? 0 : Math.fround((0.5 + rand()) / 127); // row 1: a zero row
      for (let c = 0; c < K; c++) {
        const q = int(255) - 127;
        words[r * wordsPerRow + (c >> 2)] |= (q & 0xff) << ((c & 3) * 8);
        dense[r * K + c] = Math.fround(q * scales[r]);
      }
    }
    return { kind, shape: [N, K], words, scales, dense };
  }
  const total = N * K;
  const words = new Int32Array(Math.ceil(total / 8));
  const scales = new Float32Array(Math.ceil(total / 64));
  for (let b = 0; b < scales.length; b++) scales[b] = b === 2 ? 0 : Math.fround(0.05 + rand()); // block 2: absmax 0
  for (let i = 0; i < total; i++) {
    const code = scales[i >> 6] === 0 ? 7 : int(16);
    words[i >> 3] |= code << ((i & 7) * 4);
    dense[i] = Math.fround(Math.fround(NF4_LEVELS[code]) * scales[i >> 6]);
  }
  return { kind, shape: [N, K], words, scales, dense };
}

/** The packed weight's tensors on the active backend (the caller disposes data and scales). */
export function packedTensors(w: PackedTestWeight): { kind: PackedKindName; shape: [number, number]; data: tf.Tensor; scales?: tf.Tensor } {
  const [N, K] = w.shape;
  const data = w.kind === 'nf4' ? tf.tensor1d(w.words, 'int32') : tf.tensor2d(w.words, [N, w.words.length / N], 'int32');
  return { kind: w.kind, shape: [N, K], data, scales: w.scales ? tf.tensor1d(w.scales) : undefined };
}
