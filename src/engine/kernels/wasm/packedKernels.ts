// Kernels for packed frozen weights (issue 18) on tfjs-backend-wasm, working in place on its heap.
// Source: packedKernels.wat (128-bit SIMD), assembled into packedKernelsBinary.ts by
// scripts/build-wasm-kernels.mjs; the module imports tfjs's memory like heapKernels.ts. Where the
// runtime has relaxed SIMD (Node 22+, Electron; Node 20 with --experimental-wasm-relaxed-simd) the
// relaxed variant of the same source runs: one pshufb per lookup and fused multiply-adds make the
// int8 / nf4 one-row products faster (packedKernelVariant() says which one is in use).
//
// Two kernels, both registered for 'wasm' (packedMatMul.ts decides when to use which):
//  - FtunePackedMatVec: y = x·dequant(W)ᵀ for one row of x (decoding). It reads each packed weight
//    once and widens it in registers: decoding is memory-bound, so fewer bytes per weight is the
//    speed-up. 16-bit rows follow the float32 gemv's order of operations exactly (bit-identical).
//  - FtunePackedDequantize: rows of W (a tile) widened to float32 in a scratch tensor. Products with
//    many rows (training, prefill) multiply such tiles with XNNPACK (matMul.ts, threaded): its SIMD
//    microkernels are ~10× faster than anything that widens inside the inner loop, and the
//    dequantization (one pass over the tile) costs O(N·K) against the product's O(M·N·K).
// Both run on the calling thread; XNNPACK's products are the threaded part.
import * as tf from '@tensorflow/tfjs-core';
import { wordsPerRow, type PackedKind } from '../../../core/packedLayout';
import { NF4_LEVELS } from '../../packedWeight';
import {
  PACKED_KERNELS_WASM_BASE64, PACKED_KERNELS_WASM_RELAXED_BASE64, PACKED_KERNELS_WASM_RELAXED_SHARED_BASE64,
  PACKED_KERNELS_WASM_SHARED_BASE64,
} from './packedKernelsBinary';

export const PACKED_DEQUANTIZE = 'FtunePackedDequantize';
export const PACKED_MATVEC = 'FtunePackedMatVec';

/** Pointers are byte offsets into the tfjs heap, sizes in elements (packedKernels.wat). */
interface PackedWasm {
  gemv_bf16(w: number, x: number, y: number, N: number, K: number, rowBytes: number): void;
  gemv_f16(w: number, x: number, y: number, N: number, K: number, rowBytes: number): void;
  /** xs: scratch for K floats (x permuted into the order the weights are unpacked in). */
  gemv_int8(w: number, scales: number, x: number, xs: number, y: number, N: number, K: number, rowBytes: number): void;
  gemv_nf4(w: number, scales: number, x: number, xs: number, y: number, N: number, K: number): void;
  dequant_16(src: number, dst: number, rows: number, K: number, rowBytes: number, f16: number): void;
  dequant_int8(src: number, scales: number, dst: number, rows: number, K: number, rowBytes: number): void;
  dequant_nf4(src: number, scales: number, levels: number, dst: number, start: number, count: number): void;
}

interface WasmModule {
  asm?: { memory?: WebAssembly.Memory };
  wasmMemory?: WebAssembly.Memory;
  HEAPU8: Uint8Array;
}

/** The parts of tfjs-backend-wasm's BackendWasm (4.x) these kernels use. */
interface WasmBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

/**
 * The module bound to one tfjs heap, the NF4 levels placed in that heap (for dequant_nf4), and the
 * one-row products' scratch for the permuted x (grown to the largest K seen, kept like the levels:
 * a tensor made and freed at every product would cost a malloc, a free and two calls into tfjs).
 */
interface Bound {
  k: PackedWasm;
  levels: number;
  scratch?: { info: tf.TensorInfo; at: number; floats: number };
}

/** A heap offset with room for `floats` float32 values, owned by `b` (gemv_int8 / gemv_nf4's xs). */
function scratchFor(b: Bound, backend: WasmBackend, floats: number): number {
  if (!b.scratch || b.scratch.floats < floats) {
    if (b.scratch) backend.disposeData(b.scratch.info.dataId);
    const info = backend.makeOutput([floats], 'float32');
    b.scratch = { info, at: backend.dataIdMap.get(info.dataId).memoryOffset, floats };
  }
  return b.scratch.at;
}

const bound = new WeakMap<object, Bound | null>();

function bind(backend: WasmBackend): Bound | undefined {
  let b = bound.get(backend.wasm);
  if (b === undefined) {
    b = instantiate(backend);
    bound.set(backend.wasm, b);
  }
  return b ?? undefined;
}

export type PackedKernelVariant = 'relaxed-simd' | 'simd128';

/** The module variant this runtime runs: relaxed SIMD where it validates, else SIMD128. */
export function packedKernelVariant(): PackedKernelVariant {
  return WebAssembly.validate(Buffer.from(PACKED_KERNELS_WASM_RELAXED_BASE64, 'base64')) ? 'relaxed-simd' : 'simd128';
}

function instantiate(backend: WasmBackend): Bound | null {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const relaxed = packedKernelVariant() === 'relaxed-simd';
  const base64 = relaxed
    ? (shared ? PACKED_KERNELS_WASM_RELAXED_SHARED_BASE64 : PACKED_KERNELS_WASM_RELAXED_BASE64)
    : (shared ? PACKED_KERNELS_WASM_SHARED_BASE64 : PACKED_KERNELS_WASM_BASE64);
  let k: PackedWasm;
  try {
    const module = new WebAssembly.Module(Buffer.from(base64, 'base64'));
    k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as PackedWasm;
  } catch {
    return null;
  }
  // The levels live in the heap for as long as the backend (never disposed: 64 bytes).
  const place = (values: Float32Array) => {
    const t = backend.makeOutput([values.length], 'float32');
    const at = backend.dataIdMap.get(t.dataId).memoryOffset;
    new Float32Array(backend.wasm.HEAPU8.buffer, at, values.length).set(values);
    return at;
  };
  return { k, levels: place(NF4_LEVELS) };
}

interface PackedAttrs {
  kind: PackedKind;
  N: number;
  K: number;
}

function rowBytes(kind: PackedKind, K: number): number {
  return kind === 'nf4' ? 0 : wordsPerRow(kind, K) * 4; // nf4 is flat: no rows of its own
}

type KernelArgs<I, A> = { inputs: I; backend: WasmBackend; attrs: A };
type PackedInputs = { data: tf.TensorInfo; scales?: tf.TensorInfo };

/** Rows [rowStart, rowStart + rows) of the packed weight as float32 [rows, K]. */
function dequantizeKernel({ inputs, backend, attrs }: KernelArgs<PackedInputs, PackedAttrs & { rowStart: number; rows: number }>): tf.TensorInfo {
  const { kind, K, rowStart, rows } = attrs;
  const b = bind(backend);
  if (!b) throw new Error('wasm: the packed-weight kernels could not be instantiated on this heap');
  const out = backend.makeOutput([rows, K], 'float32');
  if (rows === 0 || K === 0) return out;
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
  const data = at(inputs.data), dst = at(out);
  const bytes = rowBytes(kind, K);
  if (kind === 'f16' || kind === 'bf16') b.k.dequant_16(data + rowStart * bytes, dst, rows, K, bytes, kind === 'f16' ? 1 : 0);
  else if (kind === 'int8') b.k.dequant_int8(data + rowStart * bytes, at(inputs.scales!) + rowStart * 4, dst, rows, K, bytes);
  else b.k.dequant_nf4(data, at(inputs.scales!), b.levels, dst, rowStart * K, rows * K);
  return out;
}

/** x [1, K] · dequant(W)ᵀ → [1, N]; nf4 needs K to be a multiple of 64 (packedMatMul.ts checks). */
function matVecKernel({ inputs, backend, attrs }: KernelArgs<PackedInputs & { x: tf.TensorInfo }, PackedAttrs>): tf.TensorInfo {
  const { kind, N, K } = attrs;
  const b = bind(backend);
  if (!b) throw new Error('wasm: the packed-weight kernels could not be instantiated on this heap');
  if (kind === 'nf4' && K % 64 !== 0) throw new Error(`${PACKED_MATVEC}: nf4 needs K % 64 == 0, got K = ${K}`);
  const out = backend.makeOutput([1, N], 'float32');
  if (N === 0) return out;
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
  const w = at(inputs.data), x = at(inputs.x), y = at(out);
  if (K === 0) {
    new Float32Array(backend.wasm.HEAPU8.buffer, y, N).fill(0);
    return out;
  }
  const bytes = rowBytes(kind, K);
  if (kind === 'bf16') b.k.gemv_bf16(w, x, y, N, K, bytes);
  else if (kind === 'f16') b.k.gemv_f16(w, x, y, N, K, bytes);
  else {
    // x permuted into the order the kernel unpacks weights in (once per call, shared by all N rows)
    const xs = scratchFor(b, backend, K);
    if (kind === 'int8') b.k.gemv_int8(w, at(inputs.scales!), x, xs, y, N, K, bytes);
    else b.k.gemv_nf4(w, at(inputs.scales!), x, xs, y, N, K);
  }
  return out;
}

/** Registers both kernels for the wasm backend; idempotent. */
export function installWasmPackedKernels(): void {
  for (const [kernelName, kernelFunc] of [[PACKED_DEQUANTIZE, dequantizeKernel], [PACKED_MATVEC, matVecKernel]] as const) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}
