// Tensor encodings we write into GGUF: F32, F16 and Q8_0.
// Q8_0 (ggml-common.h block_q8_0): blocks of 32 consecutive values along a row, each stored as an
// f16 scale d = max|x| / 127 followed by 32 int8 q = round(x / d); x ≈ d·q. Computed as gguf-py's
// quants.py does (float32 arithmetic, round half away from zero) so our files match llama.cpp's.
import { fromFloat32, toFloat32 } from '../../core/safetensors';

export type GgmlType = 'F32' | 'F16' | 'Q8_0';

export const Q8_0_BLOCK = 32;
/** 2-byte f16 scale + 32 int8 values. */
export const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK;

export function tensorByteSize(type: GgmlType, shape: readonly number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (type) {
    case 'F32': return 4 * n;
    case 'F16': return 2 * n;
    case 'Q8_0':
      checkQ8Shape(shape);
      return (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
  }
}

/** Q8_0 needs rows (the last, contiguous dimension) made of whole blocks. */
export function canQuantizeQ8_0(shape: readonly number[]): boolean {
  return shape.length > 0 && shape[shape.length - 1] % Q8_0_BLOCK === 0;
}

function checkQ8Shape(shape: readonly number[]): void {
  if (!canQuantizeQ8_0(shape)) throw new Error(`Q8_0 needs a row length divisible by ${Q8_0_BLOCK}, got shape [${shape.join(', ')}]`);
}

export function encodeTensor(data: Float32Array, type: GgmlType, shape: readonly number[]): Buffer {
  switch (type) {
    case 'F32': return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    case 'F16': return fromFloat32(data, 'F16');
    case 'Q8_0':
      checkQ8Shape(shape);
      return quantizeQ8_0(data);
  }
}

/** numpy's np_roundf in gguf-py: round half away from zero. */
function roundHalfAway(x: number): number {
  const a = Math.abs(x);
  const floored = Math.floor(a);
  const b = floored + Math.floor(2 * (a - floored));
  return x < 0 ? -b : b;
}

export function quantizeQ8_0(data: Float32Array): Buffer {
  if (data.length % Q8_0_BLOCK !== 0) throw new Error(`Q8_0: ${data.length} values is not a whole number of ${Q8_0_BLOCK}-value blocks`);
  const blocks = data.length / Q8_0_BLOCK;
  const out = Buffer.alloc(blocks * Q8_0_BLOCK_BYTES);
  const scale = new Float32Array(1);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(data[base + i]));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    scale[0] = d;
    const o = b * Q8_0_BLOCK_BYTES;
    fromFloat32(scale, 'F16').copy(out, o);
    for (let i = 0; i < Q8_0_BLOCK; i++) out.writeInt8(roundHalfAway(Math.fround(data[base + i] * id)), o + 2 + i);
  }
  return out;
}

/** Inverse of quantizeQ8_0 (as ggml's dequantize_row_q8_0): x = f16(d) · q. */
export function dequantizeQ8_0(bytes: Uint8Array): { values: Float32Array; scales: Float32Array } {
  if (bytes.length % Q8_0_BLOCK_BYTES !== 0) throw new Error(`Q8_0: ${bytes.length} bytes is not a whole number of blocks`);
  const blocks = bytes.length / Q8_0_BLOCK_BYTES;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float32Array(blocks * Q8_0_BLOCK);
  const scales = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = toFloat32(buf.subarray(o, o + 2), 'F16')[0];
    scales[b] = d;
    for (let i = 0; i < Q8_0_BLOCK; i++) values[b * Q8_0_BLOCK + i] = d * buf.readInt8(o + 2 + i);
  }
  return { values, scales };
}

/** Decodes tensor bytes of any type we write back to float32 (tests, round-trip checks). */
export function decodeTensor(bytes: Uint8Array, type: GgmlType): Float32Array {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 'F32': return toFloat32(buf, 'F32');
    case 'F16': return toFloat32(buf, 'F16');
    case 'Q8_0': return dequantizeQ8_0(bytes).values;
  }
}
