// A small reader/writer for the safetensors format (https://huggingface.co/docs/safetensors):
//   [8 bytes: little-endian u64 header length N][N bytes: JSON header][data]
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} relative to the data
// section; "__metadata__" holds string pairs. Tensors are read one at a time straight from the file
// (never the whole file in memory) and converted to float32.

import * as fs from 'fs';
import * as path from 'path';

export type StDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES_PER_ELEMENT: Record<StDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};
const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16']);

/** A header larger than this is refused before it is read: real headers are a few MB at most. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** absolute byte offsets in the file. */
  begin: number;
  end: number;
}

export class SafetensorsError extends Error {
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'SafetensorsError';
  }
}

/** An open safetensors file whose header has been read and checked. */
export class SafetensorsFile {
  private constructor(
    readonly file: string,
    private readonly fd: number,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  static open(file: string): SafetensorsFile {
    const fd = fs.openSync(file, 'r');
    try {
      const { tensors, metadata } = readHeader(file, fd);
      return new SafetensorsFile(file, fd, tensors, metadata);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(this.file, `missing tensor ${name}`);
    return info;
  }

  /** Reads one tensor and converts F32 / F16 / BF16 to float32. */
  readFloat32(name: string): { data: Float32Array; shape: number[] } {
    const { bytes, dtype, shape } = this.readBytes(name);
    return { data: toFloat32(bytes, dtype), shape };
  }

  /**
   * Reads one float tensor's stored bytes as they are (F32 / F16 / BF16, little-endian) into a
   * buffer of its own (offset 0, so typed-array views over it are aligned): 16-bit weights can stay
   * 16-bit without a float32 copy.
   */
  readBytes(name: string): { bytes: Buffer; dtype: StDtype; shape: number[] } {
    const info = this.info(name);
    if (!FLOAT_DTYPES.has(info.dtype)) {
      throw new SafetensorsError(this.file, `tensor ${name} has dtype ${info.dtype}; only F32, F16 and BF16 are supported`);
    }
    const bytes = Buffer.alloc(info.end - info.begin);
    let read = 0;
    while (read < bytes.length) {
      const n = fs.readSync(this.fd, bytes, read, bytes.length - read, info.begin + read);
      if (n === 0) throw new SafetensorsError(this.file, `unexpected end of file in tensor ${name}`);
      read += n;
    }
    return { bytes, dtype: info.dtype, shape: info.shape };
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function readHeader(file: string, fd: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const size = fs.fstatSync(fd).size;
  if (size < 8) throw new SafetensorsError(file, `file is ${size} bytes, too short for a safetensors header`);
  const lenBuf = Buffer.alloc(8);
  fs.readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen > MAX_HEADER_BYTES) {
    throw new SafetensorsError(file, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (8 + headerLen > size) {
    throw new SafetensorsError(file, `header length ${headerLen} runs past the end of the ${size}-byte file`);
  }
  const headerBuf = Buffer.alloc(headerLen);
  fs.readSync(fd, headerBuf, 0, headerLen, 8);
  let header: unknown;
  try {
    header = JSON.parse(headerBuf.toString('utf8'));
  } catch (err) {
    throw new SafetensorsError(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError(file, 'header is not a JSON object');
  }
  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      // As the reference implementation: a map of strings, so that callers can trust its type.
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        throw new SafetensorsError(file, '__metadata__ is not an object of strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    tensors.set(name, checkEntry(file, name, raw, dataLen, dataStart));
  }
  checkNoOverlap(file, [...tensors.values()]);
  return { tensors, metadata };
}

function checkEntry(file: string, name: string, raw: unknown, dataLen: number, dataStart: number): TensorInfo {
  const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof entry !== 'object' || entry === null) throw new SafetensorsError(file, `tensor ${name}: entry is not an object`);
  const dtype = entry.dtype;
  if (typeof dtype !== 'string' || !(dtype in BYTES_PER_ELEMENT)) {
    throw new SafetensorsError(file, `tensor ${name}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(file, `tensor ${name}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new SafetensorsError(file, `tensor ${name}: data_offsets ${JSON.stringify(offsets)} are not two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLen) {
    throw new SafetensorsError(file, `tensor ${name}: data_offsets [${begin}, ${end}] out of range (data section is ${dataLen} bytes)`);
  }
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = elements * BYTES_PER_ELEMENT[dtype as StDtype];
  if (expected !== end - begin) {
    throw new SafetensorsError(file, `tensor ${name}: shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype: dtype as StDtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end };
}

function checkNoOverlap(file: string, infos: TensorInfo[]): void {
  const sorted = infos.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new SafetensorsError(file, `tensors ${sorted[i - 1].name} and ${sorted[i].name} overlap`);
    }
  }
}

// ---------------------------------------------------------------- dtype conversion

let halfTable: Float32Array | undefined;

/** float16 → float32 by table lookup: the float32 value of every IEEE half-precision bit pattern (65536 entries, built once). */
export function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) halfTable[h] = sign * frac * 2 ** -24;
    else if (exp === 31) halfTable[h] = frac ? NaN : sign * Infinity;
    else halfTable[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return halfTable;
}

export function toFloat32(bytes: Buffer, dtype: StDtype): Float32Array {
  const n = bytes.length / BYTES_PER_ELEMENT[dtype];
  // Copy into an aligned buffer so typed-array views are legal whatever the file offset was.
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  if (dtype === 'F32') return new Float32Array(aligned.buffer, 0, n);
  const src = new Uint16Array(aligned.buffer, 0, n);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = src[i] << 16;
    return new Float32Array(out.buffer);
  }
  const table = halfToFloatTable();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = table[src[i]];
  return out;
}

export function fromFloat32(data: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Buffer {
  if (dtype === 'F32') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  if (dtype === 'BF16') {
    // Round to nearest even, as torch does.
    for (let i = 0; i < data.length; i++) {
      const x = bits[i];
      if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = 0x7fc0;
      else out[i] = (x + 0x7fff + ((x >> 16) & 1)) >>> 16;
    }
  } else {
    for (let i = 0; i < data.length; i++) out[i] = floatToHalf(data[i]);
  }
  return Buffer.from(out.buffer);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 → float16 bits, rounding to nearest, ties to even (as torch's `.half()`); overflow → ±inf. */
function floatToHalf(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Half subnormal: value = q · 2^-24 with q = significand / 2^shift, rounded to nearest even.
    const shift = 126 - exp;
    if (shift > 25) return sign; // below half the smallest subnormal (float32 subnormals included)
    const sig = mant | 0x800000;
    let q = sig >>> shift;
    const rem = sig & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (q & 1) === 1)) q += 1;
    return sign | q; // q may reach 0x400: the smallest normal, which is exactly its encoding
  }
  let q = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1)) q += 1;
  // A carry out of the mantissa bumps the exponent (and turns 65520 and above into inf), as it should.
  return sign | ((e << 10) + q);
}

// ---------------------------------------------------------------- writing

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Writes tensors atomically: a temp file next to the target, fsync, then rename. */
export function writeSafetensors(
  file: string,
  tensors: readonly TensorToWrite[],
  options: { dtype?: 'F32' | 'F16' | 'BF16'; metadata?: Record<string, string> } = {},
): void {
  const dtype = options.dtype ?? 'F32';
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  const buffers: Buffer[] = [];
  let offset = 0;
  for (const t of [...tensors].sort((a, b) => a.name.localeCompare(b.name))) {
    const buf = fromFloat32(t.data, dtype);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + buf.length] };
    buffers.push(buf);
    offset += buf.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data section to 8 bytes, as the reference writer does
  const headerBuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBuf.length));
  writeFileAtomic(file, [len, headerBuf, ...buffers]);
}

export function writeFileAtomic(file: string, chunks: readonly (Buffer | string)[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const c of chunks) fs.writeSync(fd, typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------- model folders (single or sharded)

/** Opens every weight file of a model folder; maps each tensor name to the file that holds it. */
export class WeightStore {
  private constructor(private readonly files: SafetensorsFile[], private readonly byName: Map<string, SafetensorsFile>) {}

  static openFolder(dir: string): WeightStore {
    const single = path.join(dir, 'model.safetensors');
    const index = path.join(dir, 'model.safetensors.index.json');
    let names: string[];
    if (fs.existsSync(index)) {
      let parsed: { weight_map?: Record<string, string> };
      try {
        parsed = JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> };
      } catch (err) {
        throw new SafetensorsError(index, `not valid JSON (${(err as Error).message})`);
      }
      if (!parsed.weight_map) throw new SafetensorsError(index, 'no weight_map');
      names = [...new Set(Object.values(parsed.weight_map))];
      for (const n of names) {
        if (n.includes('/') || n.includes('\\') || n.startsWith('.')) throw new SafetensorsError(index, `shard name ${n} is not a plain file name`);
      }
    } else if (fs.existsSync(single)) {
      names = ['model.safetensors'];
    } else {
      throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json (only safetensors weights are supported)`);
    }
    const files: SafetensorsFile[] = [];
    const byName = new Map<string, SafetensorsFile>();
    try {
      for (const n of names) {
        const f = SafetensorsFile.open(path.join(dir, n));
        files.push(f);
        for (const t of f.tensors.keys()) byName.set(t, f);
      }
    } catch (err) {
      for (const f of files) f.close();
      throw err;
    }
    return new WeightStore(files, byName);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  read(name: string): { data: Float32Array; shape: number[] } {
    return this.file(name).readFloat32(name);
  }

  /** The stored bytes of a float tensor (see SafetensorsFile.readBytes). */
  readBytes(name: string): { bytes: Buffer; dtype: StDtype; shape: number[] } {
    return this.file(name).readBytes(name);
  }

  private file(name: string): SafetensorsFile {
    const f = this.byName.get(name);
    if (!f) throw new Error(`missing tensor ${name} in the model's weights`);
    return f;
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}
