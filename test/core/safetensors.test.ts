// The safetensors reader/writer: dtype round trips (BF16 and F16 rounded to nearest even, as torch
// does), sharded model folders, a corpus of hostile files each refused with its own reason, and a
// seeded fuzz test (mutated files end in a SafetensorsError or a clean load, nothing else).
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../src/core/random';
import { fromFloat32, MAX_HEADER_BYTES, SafetensorsError, SafetensorsFile, toFloat32, WeightStore, writeSafetensors } from '../../src/core/safetensors';
import { initBackend } from '../../src/engine/backend';
import { DecoderModel } from '../../src/engine/model';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TINY = path.join(ROOT, 'examples', 'models', 'tiny-gsm8k-base');
const CORPUS = path.join(ROOT, 'test', 'fixtures', 'safetensors');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-safetensors-'));

// ---------------------------------------------------------------- independent references

const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
const f32FromBits = (u: number) => new Float32Array(Uint32Array.of(u >>> 0).buffer)[0];
const bf16Of = (x: number) => fromFloat32(Float32Array.of(x), 'BF16').readUInt16LE(0);
const f16Of = (x: number) => fromFloat32(Float32Array.of(x), 'F16').readUInt16LE(0);

/** IEEE half → number, from the definition (not the engine's table). */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return e === 0 ? sign * m * 2 ** -24 : sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Nearest of two candidate encodings by value distance; a tie goes to the even encoding. */
function nearest(x: number, lo: { bits: number; value: number }, hi: { bits: number; value: number }): number {
  const dLo = Math.abs(x - lo.value), dHi = Math.abs(hi.value - x);
  if (dLo !== dHi) return dLo < dHi ? lo.bits : hi.bits;
  return (lo.bits & 1) === 0 ? lo.bits : hi.bits;
}

/** bfloat16 by value: the two neighbours of x (the one above 0x7F7F is 2^128, i.e. inf) and the nearer. */
function referenceBf16(x: number): number {
  const u = f32Bits(x);
  const sign = (u >>> 16) & 0x8000;
  const mag = Math.abs(x);
  const loBits = (u >>> 16) & 0x7fff;
  const lo = { bits: loBits, value: Math.abs(f32FromBits(loBits << 16)) };
  const hiBits = loBits + 1;
  const hi = { bits: hiBits, value: hiBits === 0x7f80 ? 2 ** 128 : Math.abs(f32FromBits(hiBits << 16)) };
  return sign | nearest(mag, lo, hi);
}

/** Every non-negative half magnitude, 0x0000..0x7C00, with 0x7C00 standing for 2^16 (where overflow rounds). */
const HALF_MAGNITUDES = Array.from({ length: 0x7c01 }, (_, h) => (h === 0x7c00 ? 65536 : halfValue(h)));

function referenceF16(x: number): number {
  const sign = f32Bits(x) & 0x80000000 ? 0x8000 : 0;
  const mag = Math.abs(x);
  if (mag >= 65520) return sign | 0x7c00;
  let lo = 0, hi = 0x7c00; // HALF_MAGNITUDES[lo] <= mag < HALF_MAGNITUDES[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (HALF_MAGNITUDES[mid] <= mag) lo = mid;
    else hi = mid;
  }
  return sign | nearest(mag, { bits: lo, value: HALF_MAGNITUDES[lo] }, { bits: hi, value: HALF_MAGNITUDES[hi] });
}

/** Random float32 values whose exponents span half/bfloat16's subnormals to overflow, plus exact ties. */
function sweep(seed: number, n: number, expLo: number, expHi: number): number[] {
  const rand = mulberry32(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const exp = expLo + Math.floor(rand() * (expHi - expLo + 1));
    const mant = Math.floor(rand() * 0x800000);
    const sign = rand() < 0.5 ? 0x80000000 : 0;
    out.push(f32FromBits(sign | (exp << 23) | mant));
  }
  return out;
}

// ---------------------------------------------------------------- dtypes

describe('dtype conversion', () => {
  test('F32 survives a write/read round trip bit for bit (NaN, ±0, ±inf, subnormals)', () => {
    const values = Float32Array.from([0, -0, 1, -1.5, Math.PI, 3.4028234663852886e38, 1.401298464324817e-45, 1e-40, Infinity, -Infinity, NaN]);
    const file = path.join(TMP, 'f32.safetensors');
    writeSafetensors(file, [{ name: 'x', shape: [values.length], data: values }]);
    const f = SafetensorsFile.open(file);
    try {
      const back = f.readFloat32('x');
      assert.deepEqual(back.shape, [values.length]);
      assert.deepEqual(new Uint32Array(back.data.buffer, back.data.byteOffset, back.data.length), new Uint32Array(values.buffer));
    } finally {
      f.close();
    }
  });

  test('BF16 rounds to nearest, ties to even (as torch), with inf, NaN and overflow', () => {
    assert.equal(bf16Of(1), 0x3f80);
    assert.equal(bf16Of(f32FromBits(0x3f808000)), 0x3f80, 'tie between 0x3F80 and 0x3F81 goes to the even one');
    assert.equal(bf16Of(f32FromBits(0x3f818000)), 0x3f82, 'tie between 0x3F81 and 0x3F82 goes to the even one');
    assert.equal(bf16Of(f32FromBits(0x3f808001)), 0x3f81, 'just above the tie rounds up');
    assert.equal(bf16Of(f32FromBits(0x3f807fff)), 0x3f80, 'just below the tie rounds down');
    assert.equal(bf16Of(-0), 0x8000);
    assert.equal(bf16Of(Infinity), 0x7f80);
    assert.equal(bf16Of(-Infinity), 0xff80);
    assert.equal(bf16Of(f32FromBits(0x7f7fffff)), 0x7f80, 'the largest float32 rounds up to inf');
    const nan = bf16Of(NaN);
    assert.equal(nan & 0x7f80, 0x7f80);
    assert.notEqual(nan & 0x7f, 0, 'NaN stays NaN (not inf)');
    for (const x of [...sweep(1, 20000, 0, 254), ...sweep(2, 2000, 0, 3)]) {
      assert.equal(bf16Of(x), referenceBf16(x), `bf16(${x}) (bits ${f32Bits(x).toString(16)})`);
    }
  });

  test('BF16 decodes as the top half of a float32, and re-encodes exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = toFloat32(Buffer.from(all.buffer), 'BF16');
    for (let h = 0; h < 65536; h++) {
      const expected = f32FromBits(h << 16);
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(decoded[h]));
      else {
        assert.equal(decoded[h], expected);
        assert.equal(bf16Of(decoded[h]), h, `bits ${h.toString(16)}`);
      }
    }
  });

  test('F16 rounds to nearest, ties to even: subnormals, the normal boundary, overflow to inf', () => {
    const cases: [number, number, string][] = [
      [1, 0x3c00, 'one'],
      [1 + 2 ** -11, 0x3c00, 'tie 1 | 1+2^-10 → even'],
      [1 + 3 * 2 ** -11, 0x3c02, 'tie 1+2^-10 | 1+2^-9 → even'],
      [2 ** -24, 0x0001, 'smallest subnormal'],
      [2 ** -25, 0x0000, 'half the smallest subnormal: tie → 0'],
      [1.5 * 2 ** -25, 0x0001, 'above the tie rounds up'],
      [3 * 2 ** -25, 0x0002, 'tie 1 | 2 subnormal ulps → even'],
      [5 * 2 ** -25, 0x0002, 'tie 2 | 3 subnormal ulps → even'],
      [2 ** -14, 0x0400, 'smallest normal'],
      [2 ** -14 - 2 ** -25, 0x0400, 'tie between the largest subnormal and the smallest normal → even (normal)'],
      [2 ** -14 - 2 ** -24, 0x03ff, 'largest subnormal'],
      [1e-10, 0x0000, 'far below: zero'],
      [-1e-10, 0x8000, 'far below, negative: -0'],
      [65504, 0x7bff, 'largest half'],
      [65519, 0x7bff, 'below the overflow threshold'],
      [65520, 0x7c00, 'the threshold rounds to inf'],
      [1e6, 0x7c00, 'overflow'],
      [-1e6, 0xfc00, 'negative overflow'],
      [Infinity, 0x7c00, 'inf'],
      [-Infinity, 0xfc00, '-inf'],
      [-0, 0x8000, '-0'],
    ];
    for (const [x, bits, what] of cases) assert.equal(f16Of(x), bits, `${what}: f16(${x})`);
    const nan = f16Of(NaN);
    assert.equal(nan & 0x7c00, 0x7c00);
    assert.notEqual(nan & 0x3ff, 0, 'NaN stays NaN');
    for (const x of sweep(3, 20000, 100, 145)) assert.equal(f16Of(x), referenceF16(x), `f16(${x})`);
    // exact midpoints between neighbouring halves: where round-half-up and ties-to-even differ
    const rand = mulberry32(4);
    for (let i = 0; i < 5000; i++) {
      const h = Math.floor(rand() * 0x7bff);
      const mid = (halfValue(h) + halfValue(h + 1)) / 2;
      assert.equal(f16Of(mid), h % 2 === 0 ? h : h + 1, `midpoint of ${h.toString(16)} and ${(h + 1).toString(16)}`);
    }
  });

  test('F16: every one of the 65536 encodings decodes by the IEEE definition and re-encodes to itself', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = toFloat32(Buffer.from(all.buffer), 'F16');
    for (let h = 0; h < 65536; h++) {
      const expected = halfValue(h);
      if (Number.isNaN(expected)) {
        assert.ok(Number.isNaN(decoded[h]), `NaN ${h.toString(16)}`);
        continue;
      }
      assert.equal(decoded[h], expected, `decode ${h.toString(16)}`);
      assert.equal(f16Of(decoded[h]), h, `re-encode ${h.toString(16)}`);
    }
  });

  test('the writer: 8-byte aligned data, metadata kept, names sorted, F16 stored as F16', () => {
    const file = path.join(TMP, 'layout.safetensors');
    writeSafetensors(file, [
      { name: 'z', shape: [3], data: Float32Array.from([1, 2, 3]) },
      { name: 'a', shape: [1, 2], data: Float32Array.from([0.5, -0.25]) },
    ], { dtype: 'F16', metadata: { format: 'pt', note: 'x' } });
    const bytes = fs.readFileSync(file);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + headerLen) % 8, 0, 'data section starts 8-aligned');
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; data_offsets: number[] }>;
    assert.deepEqual(header.__metadata__, { format: 'pt', note: 'x' });
    assert.deepEqual(Object.keys(header).filter((k) => k !== '__metadata__'), ['a', 'z']);
    assert.equal(header.a.dtype, 'F16');
    assert.deepEqual(header.a.data_offsets, [0, 4]);
    assert.deepEqual(header.z.data_offsets, [4, 10]);
    assert.equal(bytes.length, 8 + headerLen + 10);
    const f = SafetensorsFile.open(file);
    try {
      assert.deepEqual(f.metadata, { format: 'pt', note: 'x' });
      assert.deepEqual(Array.from(f.readFloat32('z').data), [1, 2, 3]);
      assert.deepEqual(Array.from(f.readFloat32('a').data), [0.5, -0.25]);
      assert.throws(() => f.readFloat32('nope'), /missing tensor nope/);
    } finally {
      f.close();
    }
    assert.deepEqual(fs.readdirSync(TMP).filter((n) => n.includes('.tmp-')), [], 'no temp file left behind');
  });
});

// ---------------------------------------------------------------- sharded folders

describe('sharded model folders', () => {
  before(async () => {
    await initBackend('wasm');
  });

  /** Splits the tiny model's tensors over two shards (one BF16 as stored, one F32) with an index. */
  function writeSharded(dir: string, index?: (weightMap: Record<string, string>) => unknown): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'generation_config.json']) fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
    const src = SafetensorsFile.open(path.join(TINY, 'model.safetensors'));
    const names = [...src.tensors.keys()].sort();
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    let total = 0;
    shards.forEach((group, i) => {
      const shardName = `model-0000${i + 1}-of-00002.safetensors`;
      const tensors = group.map((name) => ({ name, ...src.readFloat32(name) }));
      writeSafetensors(path.join(dir, shardName), tensors, { dtype: i === 0 ? 'BF16' : 'F32', metadata: { format: 'pt' } });
      for (const t of tensors) {
        weightMap[t.name] = shardName;
        total += t.data.length * (i === 0 ? 2 : 4);
      }
    });
    src.close();
    const content = index ? index(weightMap) : { metadata: { total_size: total }, weight_map: weightMap };
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }

  test('model-0000N-of-00002 + index.json loads with logits identical to the single file', () => {
    const dir = path.join(TMP, 'sharded');
    writeSharded(dir);
    assert.ok(!fs.existsSync(path.join(dir, 'model.safetensors')));
    const single = DecoderModel.load(TINY);
    const sharded = DecoderModel.load(dir);
    try {
      const store = WeightStore.openFolder(dir);
      const original = SafetensorsFile.open(path.join(TINY, 'model.safetensors'));
      assert.deepEqual(store.names().sort(), [...original.tensors.keys()].sort(), 'every tensor found through the index');
      original.close();
      store.close();
      const ids = tf.tensor2d([[12, 200, 45, 7, 301, 99, 5, 17], [1, 2, 3, 4, 5, 6, 7, 8]], [2, 8], 'int32');
      const a = tf.tidy(() => single.logits(single.forward(ids).hidden));
      const b = tf.tidy(() => sharded.logits(sharded.forward(ids).hidden));
      assert.deepEqual(b.dataSync(), a.dataSync());
      tf.dispose([ids, a, b]);
    } finally {
      single.dispose();
      sharded.dispose();
    }
  });

  test('a broken index is refused with the file and the reason', () => {
    const missing = path.join(TMP, 'shard-missing');
    writeSharded(missing);
    fs.rmSync(path.join(missing, 'model-00002-of-00002.safetensors'));
    assert.throws(() => WeightStore.openFolder(missing), /ENOENT.*model-00002-of-00002\.safetensors/);

    const traversal = path.join(TMP, 'shard-traversal');
    writeSharded(traversal, (map) => ({ weight_map: { ...map, 'model.norm.weight': '../../etc/passwd' } }));
    assert.throws(() => WeightStore.openFolder(traversal), (err: Error) => err instanceof SafetensorsError && /shard name \.\.\/\.\.\/etc\/passwd is not a plain file name/.test(err.message));

    const notJson = path.join(TMP, 'shard-not-json');
    writeSharded(notJson, () => '{"weight_map": ');
    assert.throws(() => WeightStore.openFolder(notJson), /model\.safetensors\.index\.json: not valid JSON/);

    const noMap = path.join(TMP, 'shard-no-map');
    writeSharded(noMap, () => ({ metadata: {} }));
    assert.throws(() => WeightStore.openFolder(noMap), /model\.safetensors\.index\.json: no weight_map/);
  });
});

// ---------------------------------------------------------------- hostile files

/** Every file of the committed corpus and the message fragment its refusal must contain. */
const HOSTILE: { file: string; message: RegExp; when?: 'read' }[] = [
  { file: 'too_short.safetensors', message: /file is 4 bytes, too short for a safetensors header/ },
  { file: 'header_past_eof.safetensors', message: /header length 4096 runs past the end of the 81-byte file/ },
  { file: 'header_gigantic.safetensors', message: new RegExp(`header length \\d+ exceeds the ${MAX_HEADER_BYTES}-byte limit`) },
  { file: 'header_not_json.safetensors', message: /header is not valid JSON/ },
  { file: 'header_not_object.safetensors', message: /header is not a JSON object/ },
  { file: 'header_string.safetensors', message: /header is not a JSON object/ },
  { file: 'entry_not_object.safetensors', message: /tensor w: entry is not an object/ },
  { file: 'unknown_dtype.safetensors', message: /tensor w: unknown dtype "Q4_K"/ },
  { file: 'shape_bytes_mismatch.safetensors', message: /tensor w: shape \[2, 3\] of F32 needs 24 bytes but data_offsets span 16/ },
  { file: 'shape_negative.safetensors', message: /tensor w: shape \[-2,-2\] is not a list of non-negative integers/ },
  { file: 'shape_fractional.safetensors', message: /tensor w: shape \[2.5,2\] is not a list of non-negative integers/ },
  { file: 'offsets_out_of_range.safetensors', message: /tensor w: data_offsets \[0, 400\] out of range \(data section is 16 bytes\)/ },
  { file: 'offsets_reversed.safetensors', message: /tensor w: data_offsets \[12, 4\] out of range/ },
  { file: 'offsets_not_integers.safetensors', message: /tensor w: data_offsets \[0,"16"\] are not two non-negative integers/ },
  { file: 'offsets_overlap.safetensors', message: /tensors a and b overlap/ },
  { file: 'metadata_not_strings.safetensors', message: /__metadata__ is not an object of strings/ },
  { file: 'integer_dtype.safetensors', message: /tensor w has dtype I64; only F32, F16 and BF16 are supported/, when: 'read' },
];

describe('hostile files are refused with a clear reason', () => {
  test('the table covers the whole corpus', () => {
    const files = fs.readdirSync(CORPUS).filter((f) => f.endsWith('.safetensors')).sort();
    assert.deepEqual(HOSTILE.map((h) => h.file).sort(), files);
  });

  for (const h of HOSTILE) {
    test(h.file, () => {
      const file = path.join(CORPUS, h.file);
      const check = (err: unknown) => {
        assert.ok(err instanceof SafetensorsError, `a SafetensorsError, got ${String(err)}`);
        assert.ok(err.message.startsWith(file + ': '), `names the file: ${err.message}`);
        assert.match(err.message, h.message);
        return true;
      };
      if (h.when === 'read') {
        const f = SafetensorsFile.open(file);
        try {
          assert.throws(() => f.readFloat32('w'), check);
        } finally {
          f.close();
        }
      } else {
        assert.throws(() => SafetensorsFile.open(file), check);
      }
    });
  }
});

// ---------------------------------------------------------------- fuzz

/** A small valid file with F32, F16 and BF16 tensors and metadata, written by hand (not by the writer under test). */
function validFile(): Buffer {
  const parts = [
    { name: 'embed', dtype: 'F32', shape: [3, 4], bytes: Buffer.from(new Float32Array(12).map((_, i) => i / 7 - 0.5).buffer) },
    { name: 'half', dtype: 'F16', shape: [5], bytes: Buffer.from(Uint16Array.from([0x3c00, 0xbc00, 0x0001, 0x7bff, 0x3555]).buffer) },
    { name: 'brain', dtype: 'BF16', shape: [2, 3], bytes: Buffer.from(Uint16Array.from([0x3f80, 0x4000, 0xbf80, 0x0000, 0x7f7f, 0x3e80]).buffer) },
  ];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const p of parts) {
    header[p.name] = { dtype: p.dtype, shape: p.shape, data_offsets: [offset, offset + p.bytes.length] };
    offset += p.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...parts.map((p) => p.bytes)]);
}

const STRUCTURAL = Buffer.from('{}[]":,0123456789-.eE \\', 'utf8');

function mutate(base: Buffer, rand: () => number): Buffer {
  const headerEnd = 8 + Number(base.readBigUInt64LE(0));
  const pick = (n: number) => Math.floor(rand() * n);
  let buf = Buffer.from(base);
  const kind = pick(5);
  if (kind === 0) {
    for (let i = 1 + pick(4); i > 0; i--) buf[pick(buf.length)] = pick(256);
  } else if (kind === 1) {
    for (let i = 1 + pick(3); i > 0; i--) buf[8 + pick(headerEnd - 8)] = STRUCTURAL[pick(STRUCTURAL.length)];
  } else if (kind === 2) {
    buf = buf.subarray(0, pick(buf.length));
  } else if (kind === 3) {
    // a different header length: slightly off, or anything up to 2^64
    const len = rand() < 0.5 ? BigInt(Math.max(0, headerEnd - 8 + pick(41) - 20)) : BigInt(pick(2 ** 32)) * BigInt(pick(2 ** 32));
    buf.writeBigUInt64LE(len, 0);
  } else {
    // rewrite a digit of some offset or shape
    const text = buf.subarray(8, headerEnd).toString('latin1');
    const digits = [...text.matchAll(/\d/g)].map((m) => m.index!);
    if (digits.length) buf[8 + digits[pick(digits.length)]] = 0x30 + pick(10);
  }
  return buf;
}

test('fuzz: 600 mutated files give a SafetensorsError or a clean load, never another error or a large allocation', { timeout: 60_000 }, (t) => {
  const base = validFile();
  const rand = mulberry32(20240611);
  const file = path.join(TMP, 'fuzz.safetensors');
  const outcomes = { refused: 0, loaded: 0 };
  const originalAlloc = Buffer.alloc, originalAllocUnsafe = Buffer.allocUnsafe;
  let largest = 0;
  const spy = <F extends (size: number, ...rest: never[]) => Buffer>(f: F) =>
    ((size: number, ...rest: never[]) => {
      largest = Math.max(largest, size);
      return f.call(Buffer, size, ...rest);
    }) as unknown as F;
  for (let i = 0; i < 600; i++) {
    const bytes = mutate(base, rand);
    fs.writeFileSync(file, bytes);
    largest = 0;
    Buffer.alloc = spy(originalAlloc);
    Buffer.allocUnsafe = spy(originalAllocUnsafe);
    try {
      const f = SafetensorsFile.open(file);
      try {
        for (const [name, info] of f.tensors) {
          const { data, shape } = f.readFloat32(name);
          assert.equal(data.length, shape.reduce((a, b) => a * b, 1), `iteration ${i}: ${name} length`);
          assert.deepEqual(shape, info.shape);
        }
        outcomes.loaded++;
      } finally {
        f.close();
      }
    } catch (err) {
      if (!(err instanceof SafetensorsError)) assert.fail(`iteration ${i}: ${String(err)}\n${(err as Error).stack}`);
      outcomes.refused++;
    } finally {
      Buffer.alloc = originalAlloc;
      Buffer.allocUnsafe = originalAllocUnsafe;
    }
    assert.ok(largest <= bytes.length, `iteration ${i}: allocated ${largest} bytes for a ${bytes.length}-byte file`);
  }
  t.diagnostic(`refused ${outcomes.refused}, loaded ${outcomes.loaded}`);
  // both outcomes must really occur, or the mutations test nothing
  assert.ok(outcomes.refused > 100, `refused ${outcomes.refused}`);
  assert.ok(outcomes.loaded > 20, `loaded ${outcomes.loaded}`);
});
