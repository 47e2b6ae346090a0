// A GGUF v3 writer (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), little-endian:
//   header      "GGUF", u32 version 3, u64 tensor_count, u64 metadata_kv_count
//   metadata    key (u64 length + UTF-8) · u32 value type · value
//   tensor info name · u32 n_dims · u64 dims (ggml order: fastest-varying first) · u32 ggml type · u64 offset
//   padding     to general.alignment, then the tensor data, each tensor starting at an aligned offset
// Tensor data is written one tensor at a time, so a model never has to fit in memory twice.
import * as fs from 'fs';
import * as path from 'path';
import { encodeTensor, tensorByteSize, type GgmlType } from './quant';

export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** gguf_metadata_value_type */
export const ValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9,
  UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;

type ScalarKind = 'u32' | 'i32' | 'f32' | 'u64' | 'bool' | 'string';

export type MetadataValue =
  | { kind: ScalarKind; value: number | boolean | string }
  | { kind: 'array'; of: 'string'; values: readonly string[] }
  | { kind: 'array'; of: 'i32' | 'u32' | 'f32'; values: readonly number[] };

export const u32 = (value: number): MetadataValue => ({ kind: 'u32', value });
export const i32 = (value: number): MetadataValue => ({ kind: 'i32', value });
export const f32 = (value: number): MetadataValue => ({ kind: 'f32', value });
export const bool = (value: boolean): MetadataValue => ({ kind: 'bool', value });
export const str = (value: string): MetadataValue => ({ kind: 'string', value });
export const strArray = (values: readonly string[]): MetadataValue => ({ kind: 'array', of: 'string', values });
export const i32Array = (values: readonly number[]): MetadataValue => ({ kind: 'array', of: 'i32', values });

export interface GgufTensor {
  name: string;
  /** row-major shape as Hugging Face / numpy write it, e.g. [out, in]; reversed into ggml order on write. */
  shape: readonly number[];
  type: GgmlType;
  /** the float32 values in row-major order; called once, while the tensor is written. */
  data: () => Promise<Float32Array> | Float32Array;
}

const SCALAR_TYPE: Record<ScalarKind, number> = {
  u32: ValueType.UINT32, i32: ValueType.INT32, f32: ValueType.FLOAT32, u64: ValueType.UINT64, bool: ValueType.BOOL, string: ValueType.STRING,
};

/** Growable little-endian byte buffer for the header part of the file. */
class ByteWriter {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void { this.reserve(4); this.buf.writeUInt32LE(v >>> 0, this.length); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.buf.writeInt32LE(v | 0, this.length); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
  u64(v: number | bigint): void { this.reserve(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
  u8(v: number): void { this.reserve(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function checkKey(key: string): void {
  // The spec: ASCII, lower_snake_case segments separated by dots.
  if (!/^[a-z0-9_]+(\.[a-z0-9_]+)*$/.test(key)) throw new Error(`invalid GGUF metadata key ${JSON.stringify(key)}`);
}

function writeValue(w: ByteWriter, v: MetadataValue): void {
  if (v.kind === 'array') {
    w.u32(ValueType.ARRAY);
    w.u32(SCALAR_TYPE[v.of]);
    w.u64(v.values.length);
    for (const x of v.values) writeScalar(w, v.of, x);
    return;
  }
  w.u32(SCALAR_TYPE[v.kind]);
  writeScalar(w, v.kind, v.value);
}

function writeScalar(w: ByteWriter, kind: ScalarKind, x: number | boolean | string): void {
  switch (kind) {
    case 'u32':
      w.u32(checkInt(x, 0, 0xffffffff, kind));
      return;
    case 'i32':
      w.i32(checkInt(x, -0x80000000, 0x7fffffff, kind));
      return;
    case 'u64':
      w.u64(checkInt(x, 0, Number.MAX_SAFE_INTEGER, kind));
      return;
    case 'f32':
      w.f32(x as number);
      return;
    case 'bool':
      w.u8(x ? 1 : 0);
      return;
    case 'string':
      w.string(x as string);
      return;
  }
}

function checkInt(x: unknown, min: number, max: number, kind: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw new Error(`GGUF ${kind} value out of range: ${String(x)}`);
  return x;
}

export interface GgufWriteResult {
  file: string;
  bytes: number;
  /** absolute file offset where the tensor data section starts. */
  dataOffset: number;
}

/** Writes a complete GGUF file (atomically: a temp file renamed into place). */
export async function writeGguf(
  file: string, metadata: ReadonlyArray<readonly [string, MetadataValue]>, tensors: readonly GgufTensor[], alignment = GGUF_ALIGNMENT,
): Promise<GgufWriteResult> {
  const seen = new Set<string>();
  for (const [key] of metadata) {
    checkKey(key);
    if (seen.has(key)) throw new Error(`duplicate GGUF metadata key ${key}`);
    seen.add(key);
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (Buffer.byteLength(t.name, 'utf8') > 64) throw new Error(`GGUF tensor name longer than 64 bytes: ${t.name}`);
    if (names.has(t.name)) throw new Error(`duplicate GGUF tensor ${t.name}`);
    names.add(t.name);
  }

  const w = new ByteWriter();
  w.u8(0x47); w.u8(0x47); w.u8(0x55); w.u8(0x46); // "GGUF"
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }
  const sizes = tensors.map((t) => tensorByteSize(t.type, t.shape));
  let offset = 0;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d);
    w.u32(typeId(t.type));
    w.u64(offset);
    offset += sizes[i] + padding(sizes[i], alignment);
  }
  w.pad(alignment);
  const dataOffset = w.length;

  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  let written = 0;
  try {
    written += writeAll(fd, w.bytes());
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i];
      const data = await t.data();
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (data.length !== count) throw new Error(`tensor ${t.name}: ${data.length} values for shape [${t.shape.join(', ')}]`);
      const encoded = encodeTensor(data, t.type, t.shape);
      if (encoded.length !== sizes[i]) throw new Error(`tensor ${t.name}: encoded ${encoded.length} bytes, expected ${sizes[i]}`);
      written += writeAll(fd, encoded);
      written += writeAll(fd, Buffer.alloc(padding(encoded.length, alignment)));
    }
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  return { file, bytes: written, dataOffset };
}

function padding(n: number, alignment: number): number {
  return (alignment - (n % alignment)) % alignment;
}

function writeAll(fd: number, buf: Buffer): number {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done);
  return buf.length;
}

/** ggml_type ids of the types we write. */
export function typeId(type: GgmlType): number {
  switch (type) {
    case 'F32': return 0;
    case 'F16': return 1;
    case 'Q8_0': return 8;
  }
}
