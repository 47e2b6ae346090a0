// Packed frozen weights on wasm (issue 18): the quantizers follow the definitions of
// ../shared/conformance/README.md; the wasm kernels (packedKernels.wat: tile dequantization, one-row
// products that widen in registers) and packedMatMulT / its input gradient equal the composite
// (the JavaScript reference dequantization, then tf.matMul) for every precision, at awkward sizes
// (rows not multiples of 4 or 64, odd K, K not a multiple of 64) and at Qwen2.5-0.5B's MLP shapes.
// On a runtime without relaxed SIMD (Node 20) the int8 / nf4 cases run again in a child process
// that has it, so both module variants (packedKernels.ts) are tested.
import { execFileSync } from 'node:child_process';
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../src/engine/backend';
import { mulberry32 } from '../../../src/core/random';
import { dequantize, dequantizeRows, packedMatMulT, gatherPackedRows, TILE_FLOATS } from '../../../src/engine/packedMatMul';
import { packedKernelVariant } from '../../../src/engine/kernels/wasm/packedKernels';
import {
  NF4_LEVELS, dequantizeReference, pack16, packedBytes, quantizeInt8, quantizeNf4, toPackedWeight, disposePacked,
  type PackedArrays, type PackedKind,
} from '../../../src/engine/packedWeight';
import { packedLayoutBytes, packedScaleShape } from '../../../src/core/packedLayout';
import { packedLinearBytes } from '../../../src/core/estimate';
import { fromFloat32 } from '../../../src/core/safetensors';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
/** Set in the child process that reruns the int8 / nf4 cases with relaxed SIMD. */
const RELAXED_CHILD = 'FTUNE_TEST_RELAXED_SIMD_CHILD';

before(async () => {
  await initBackend('wasm');
});

function normal(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => {
    const u = Math.max(rand(), 1e-9), v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v) * 0.05;
  });
}

/** Random finite 16-bit patterns (subnormals and zeros included) as stored F16 / BF16 bytes. */
function random16(kind: 'f16' | 'bf16', n: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const halves = new Uint16Array(n);
  const expMask = kind === 'f16' ? 0x7c00 : 0x7f80;
  for (let i = 0; i < n; i++) {
    let h: number;
    do h = Math.floor(rand() * 65536); while ((h & expMask) === expMask);
    // keep magnitudes moderate for bf16 (its exponent range would overflow float32 products)
    if (kind === 'bf16') h = (h & 0x807f) | ((0x3a + (h >> 7) % 12) << 7);
    halves[i] = h;
  }
  return new Uint8Array(halves.buffer);
}

function packed(kind: PackedKind, N: number, K: number, seed: number): PackedArrays {
  if (kind === 'f16' || kind === 'bf16') return pack16(random16(kind, N * K, seed), kind === 'f16' ? 'F16' : 'BF16', [N, K]);
  const values = normal(N * K, seed);
  return kind === 'int8' ? quantizeInt8(values, [N, K]) : quantizeNf4(values, [N, K]);
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

/** |a − b| ≤ 1e-5·Σ_k |w||x| per output (sums in another order). */
function closeToScale(a: Float32Array, b: Float32Array, scale: Float32Array, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 1e-5 * scale[i] + 1e-30)) assert.fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]} (scale ${scale[i]})`);
  }
}

const KINDS: PackedKind[] = ['f16', 'bf16', 'int8', 'nf4'];
/** [N, K]: awkward sizes, the nf4 fast path (K % 64 == 0) with N mod 4 ≠ 0, and Qwen2.5-0.5B's MLP. */
const SHAPES: [number, number][] = [[67, 37], [130, 100], [5, 128], [1, 1], [3, 9], [4864, 896], [896, 4864]];

describe('packed weights: quantizers follow the definitions', () => {
  test('int8: scale = absmax/127, round half to even, a zero row stays 0', () => {
    // absmax 127 makes the scale exactly 1: w/scale = w, so the ties are exact.
    const row = [127, 2.5, 3.5, -2.5, -0.5, 0.5, 1.5, -127, 0];
    const a = quantizeInt8(Float32Array.from([...row, ...row.map(() => 0)]), [2, row.length]);
    assert.deepEqual([...a.scales!], [1, 0]);
    assert.deepEqual([...dequantizeReference(a)], [127, 2, 4, -2, 0, 0, 2, -127, 0, ...row.map(() => 0)]);
    // a general row: q = round(w / (absmax/127)) in float32
    const w = normal(37, 3);
    const q = quantizeInt8(w, [1, 37]);
    const scale = Math.fround(Math.max(...w.map(Math.abs)) / 127);
    const values = dequantizeReference(q);
    for (let c = 0; c < 37; c++) {
      const expected = Math.fround(Math.round(Math.fround(w[c] / scale)) * scale);
      assert.ok(Math.abs(values[c] - expected) <= scale * 1e-6 || Math.abs(Math.fround(w[c] / scale) % 1) === 0.5, `element ${c}`);
      assert.ok(Math.abs(values[c] - w[c]) <= scale / 2 + 1e-9);
    }
  });

  test('nf4: nearest level × block absmax, ties to the lower code, blocks span rows, a zero block stays 0', () => {
    // One block: absmax 1 (its first value), then every level and every float32 midpoint between neighbours.
    const block: number[] = [1];
    for (let j = 0; j < 16; j++) block.push(NF4_LEVELS[j]);
    const mids: number[] = [];
    for (let j = 0; j < 15; j++) mids.push(Math.fround((NF4_LEVELS[j] + NF4_LEVELS[j + 1]) / 2));
    block.push(...mids);
    while (block.length < 64) block.push(0);
    // [3, 43]: 129 values = two blocks of 64 (the second spans rows 1 and 2) and a last partial block of 1.
    const values = new Float32Array(129);
    values.set(block);
    values[128] = -0.25; // alone in its block: absmax 0.25, value −1·0.25
    const q = quantizeNf4(values, [3, 43]);
    assert.deepEqual([...q.scales!], [1, 0, 0.25]);
    const d = dequantizeReference(q);
    for (let j = 0; j < 16; j++) assert.equal(d[1 + j], NF4_LEVELS[j], `level ${j}`);
    for (let j = 0; j < 15; j++) {
      const m = mids[j];
      const dLo = Math.fround(m - NF4_LEVELS[j]), dHi = Math.fround(NF4_LEVELS[j + 1] - m);
      const expected = dHi < dLo ? NF4_LEVELS[j + 1] : NF4_LEVELS[j]; // ties → the lower level
      assert.equal(d[17 + j], expected, `midpoint ${j}`);
    }
    for (let i = 64; i < 128; i++) assert.equal(d[i], 0, `zero block element ${i}`);
    assert.equal(d[128], -0.25);
  });

  test('16-bit words are the stored bytes (even K) or padded rows (odd K)', () => {
    const bytes = random16('bf16', 6, 1);
    assert.deepEqual(new Uint8Array(pack16(bytes, 'BF16', [2, 3]).words.buffer).slice(0, 6), bytes.slice(0, 6));
    const even = pack16(bytes, 'BF16', [3, 2]);
    assert.deepEqual(new Uint8Array(even.words.buffer), bytes);
    const odd = pack16(bytes, 'BF16', [2, 3]);
    assert.equal(odd.words.length, 4);
    const halves = new Uint16Array(odd.words.buffer);
    assert.equal(halves[3], 0, 'pad half of row 0');
  });

  test('what the packers make has the sizes of core/packedLayout.ts (what the estimate and the kernels count), at awkward shapes', () => {
    for (const [N, K] of [[3, 5], [7, 100], [65, 9], [2, 64], [1, 1]] as const) {
      const values = normal(N * K, N * K);
      const made: PackedArrays[] = [
        pack16(fromFloat32(values, 'F16'), 'F16', [N, K]), pack16(fromFloat32(values, 'BF16'), 'BF16', [N, K]),
        quantizeInt8(values, [N, K]), quantizeNf4(values, [N, K]),
      ];
      for (const a of made) {
        const w = toPackedWeight(a); // checks the words against packedWordShape
        assert.deepEqual(w.scales?.shape, packedScaleShape(a.kind, N, K), `${a.kind} [${N}, ${K}] scales`);
        assert.equal(packedBytes(w), packedLayoutBytes(a.kind, N, K), `${a.kind} [${N}, ${K}] bytes`);
        disposePacked(w);
      }
      assert.equal(packedLinearBytes(N, K, 'nf4', 2), packedLayoutBytes('nf4', N, K));
    }
  });
});

describe('packed weights: wasm kernels equal the composite', () => {
  test('the committed packedKernelsBinary.ts is packedKernels.wat assembled', async () => {
    const script = pathToFileURL(path.join(ROOT, 'scripts', 'build-wasm-kernels.mjs')).href;
    const { generatePackedKernelsSource } = (await import(script)) as { generatePackedKernelsSource(): Promise<string> };
    const committed = fs.readFileSync(path.join(ROOT, 'src', 'engine', 'kernels', 'wasm', 'packedKernelsBinary.ts'), 'utf8');
    assert.equal(committed, await generatePackedKernelsSource());
  });

  test('f16 infinities, subnormals and signed zeros widen exactly', () => {
    const halves = Uint16Array.from([0x7c00, 0xfc00, 0x0001, 0x83ff, 0x8000, 0x0000, 0x3c00, 0x7bff]);
    const a = pack16(new Uint8Array(halves.buffer), 'F16', [2, 4]);
    const w = toPackedWeight(a);
    const got = dequantize(w);
    sameBits(got.dataSync() as Float32Array, dequantizeReference(a), 'f16 specials');
    got.dispose();
    disposePacked(w);
  });

  test('int8 and nf4 kernels: the relaxed-SIMD variant where the runtime validates it (and in the child)', () => {
    if (process.env[RELAXED_CHILD] === '1') assert.equal(packedKernelVariant(), 'relaxed-simd');
    const relaxed = WebAssembly.validate(Buffer.from('0061736d0100000001070160027b7b017b030201000a0b01090020002001fd80020b', 'hex'));
    assert.equal(packedKernelVariant(), relaxed ? 'relaxed-simd' : 'simd128');
  });

  if (packedKernelVariant() === 'simd128' && process.env[RELAXED_CHILD] !== '1') {
    test('the int8 and nf4 cases pass with the relaxed-SIMD variant too (child process)', () => {
      // execFileSync throws (failing this test) with the child's output when any of its tests fails
      execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--test-name-pattern=^(int8|nf4)', __filename], {
        env: { ...process.env, [RELAXED_CHILD]: '1' }, encoding: 'utf8', stdio: 'pipe',
      });
    });
  }

  test('int8 one-row product: huge and subnormal x stay finite and exact (the kernel scales weights by 2^24, x by 2^-24)', () => {
    const [N, K] = [3, 40]; // 32 in the vector loop, 8 in the tail
    const arrays = quantizeInt8(normal(N * K, 11), [N, K]);
    const w = toPackedWeight(arrays);
    const xs = normal(K, 12);
    for (const [i, v] of [[0, 1e30], [5, -2e36], [17, 1e-39], [33, 3e30], [21, -1e-42]] as const) xs[i] = v;
    const [got, expected, scale] = tf.tidy(() => {
      const x = tf.tensor2d(xs, [1, K]);
      const W = tf.tensor2d(dequantizeReference(arrays), [N, K]);
      return [packedMatMulT(x, w), tf.matMul(x, W, false, true), tf.matMul(tf.abs(x), tf.abs(W), false, true)].map((t) => t.dataSync() as Float32Array);
    });
    for (const v of got) assert.ok(Number.isFinite(v), `finite: ${v}`);
    closeToScale(got, expected, scale, 'int8 extremes');
    disposePacked(w);
  });

  for (const kind of KINDS) {
    test(`${kind}: row tiles that start and end inside nf4 blocks and packed words dequantize exactly`, () => {
      const [N, K] = [67, 37];
      const arrays = packed(kind, N, K, 5);
      const w = toPackedWeight(arrays);
      try {
        for (const [start, rows] of [[3, 5], [1, 66], [0, 2], [40, 27]]) {
          const got = dequantizeRows(w, start, rows);
          sameBits(got.dataSync() as Float32Array, dequantizeReference(arrays, start, rows), `rows ${start}..${start + rows}`);
          got.dispose();
        }
      } finally {
        disposePacked(w);
      }
    });

    for (const [N, K] of SHAPES) {
      test(`${kind} [${N}, ${K}]: dequantization, one-row and 5-row products and the input gradient`, () => {
        const arrays = packed(kind, N, K, N * 31 + K);
        const w = toPackedWeight(arrays);
        const reference = dequantizeReference(arrays);
        try {
          const deq = dequantize(w);
          sameBits(deq.dataSync() as Float32Array, reference, 'dequantize');
          deq.dispose();
          const W = tf.tensor2d(reference, [N, K]);
          const absW = tf.abs(W);
          for (const M of [1, 5]) {
            const x = tf.tensor2d(normal(M * K, M + K), [M, K]);
            const got = packedMatMulT(x, w);
            const expected = tf.matMul(x, W, false, true);
            const oneTile = N * K <= TILE_FLOATS;
            // 16-bit widening is exact and the products run in the float32 path's order: the same bits.
            // int8 / nf4 one-row products scale each row's (block's) sum once: within float32 rounding.
            if ((kind === 'f16' || kind === 'bf16' || M > 1) && oneTile) sameBits(got.dataSync() as Float32Array, expected.dataSync() as Float32Array, `M=${M}`);
            else {
              const scale = tf.matMul(tf.abs(x), absW, false, true);
              closeToScale(got.dataSync() as Float32Array, expected.dataSync() as Float32Array, scale.dataSync() as Float32Array, `M=${M}`);
              scale.dispose();
            }
            const g = tf.tensor2d(normal(M * N, 7 * M + N), [M, N]);
            const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(packedMatMulT(xi as tf.Tensor2D, w), g)))(x);
            const dxExpected = tf.matMul(g, W);
            if (oneTile) sameBits(dx.dataSync() as Float32Array, dxExpected.dataSync() as Float32Array, `dx M=${M}`);
            else {
              const scale = tf.matMul(tf.abs(g), absW);
              closeToScale(dx.dataSync() as Float32Array, dxExpected.dataSync() as Float32Array, scale.dataSync() as Float32Array, `dx M=${M}`);
              scale.dispose();
            }
            for (const t of [x, got, expected, g, dx, dxExpected]) t.dispose();
          }
          W.dispose();
          absW.dispose();
        } finally {
          disposePacked(w);
        }
      });
    }
  }

  test('rows of a 16-bit table gathered and widened (embedding lookup) equal the composite', () => {
    for (const kind of ['f16', 'bf16'] as const) {
      const arrays = packed(kind, 50, 33, 9);
      const w = toPackedWeight(arrays);
      const ids = tf.tensor1d([3, 49, 0, 3, 17], 'int32');
      const got = gatherPackedRows(w, ids);
      const expected = tf.gather(tf.tensor2d(dequantizeReference(arrays), [50, 33]), ids);
      sameBits(got.dataSync() as Float32Array, expected.dataSync() as Float32Array, kind);
      for (const t of [ids, got, expected]) t.dispose();
      disposePacked(w);
    }
  });
});
