// Loops of our own for tfjs-backend-wasm, working in place on its heap: matrix-vector products, the
// transpose of two adjacent axes, and an in-place add. Source: heapKernels.wat (WebAssembly text,
// 128-bit SIMD), assembled into heapKernelsBinary.ts by scripts/build-wasm-kernels.mjs; the
// module imports tfjs's own memory, so it reads and writes tensors where they are.
//
// WHY each:
//  - XNNPACK computes products in tiles of 8 output columns. A single row of activations against a
//    weight (decoding) is either x·Wᵀ with W packed first (a copy of the whole weight per call: weights
//    are not cached, see wasmMatMul.ts) or W·xᵀ with one useful column per tile of 8; both reach ~3 GB/s
//    of weight, and decoding reads every weight once per token. `gemv` reads each weight once.
//  - tfjs-wasm's Transpose is a plain strided loop (~0.35 GB/s for a [512, 256] matrix): every
//    transposed matmul operand and every attention-head reshuffle paid for it. `swapAxes` works in
//    cache-sized tiles, or moves whole rows when the swapped axes are followed by others.
//  - Products over a huge K are summed block by block; `addInPlace` does that sum without a JS loop.
import * as tf from '@tensorflow/tfjs-core';
import { replaceKernel } from '../replace';
import { HEAP_KERNELS_WASM_BASE64, HEAP_KERNELS_WASM_SHARED_BASE64 } from './heapKernelsBinary';

/** Arguments are byte offsets into the tfjs heap and sizes in floats. */
export interface HeapKernels {
  /** y[n] = Σ_k w[n·K + k]·x[k], n < N (w: [N, K] row-major). */
  gemv(w: number, x: number, y: number, N: number, K: number): void;
  /** y[n] = Σ_k x[k]·b[k·N + n], n < N (b: [K, N] row-major). */
  vecmat(x: number, b: number, y: number, K: number, N: number): void;
  /** dst[b, c, r, :] = src[b, r, c, :] for src [batch, rows, cols, inner]. */
  swapAxes(src: number, dst: number, batch: number, rows: number, cols: number, inner: number): void;
  /** acc[i] += x[i], i < n. */
  addInPlace(acc: number, x: number, n: number): void;
  /** y = RMSNorm(x)·w over rows of D floats (inferenceKernels.ts). */
  rmsNorm(x: number, w: number, y: number, rows: number, D: number, eps: number): void;
  /** dst [B, H, T, hd] = rope(src [B, T, H, hd]) with cos, sin [T, hd], the first `rot` dims turning. */
  rope(src: number, cos: number, sin: number, dst: number, B: number, T: number, H: number, hd: number, rot: number): void;
  /** out[i] = y[i] + out[i]·s, i < n. */
  scaleAdd(out: number, y: number, s: number, n: number): void;
}

/** The parts of the tfjs wasm module that hold its memory (4.x: single-threaded and threaded builds). */
interface WasmModuleMemory {
  asm?: { memory?: WebAssembly.Memory };
  wasmMemory?: WebAssembly.Memory;
}

const instances = new WeakMap<object, HeapKernels | null>();

/** The kernels bound to this tfjs wasm module's memory, or undefined where they cannot be set up. */
export function heapKernels(wasmModule: object): HeapKernels | undefined {
  let kernels = instances.get(wasmModule);
  if (kernels === undefined) {
    kernels = instantiate(wasmModule as WasmModuleMemory);
    instances.set(wasmModule, kernels);
  }
  return kernels ?? undefined;
}

function instantiate(m: WasmModuleMemory): HeapKernels | null {
  const memory = m.wasmMemory ?? m.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  try {
    const module = new WebAssembly.Module(Buffer.from(shared ? HEAP_KERNELS_WASM_SHARED_BASE64 : HEAP_KERNELS_WASM_BASE64, 'base64'));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    return instance.exports as unknown as HeapKernels;
  } catch {
    return null; // the stock kernels still work
  }
}

/** The parts of tfjs-backend-wasm's BackendWasm (4.x) the Transpose replacement uses. */
interface WasmBackend {
  wasm: object;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/**
 * How `perm` moves the data when it swaps two adjacent axes i, i+1 and keeps the others in place:
 * [batch, rows, cols, inner] sizes, or undefined for any other permutation.
 */
export function adjacentSwap(shape: readonly number[], perm: readonly number[]): [number, number, number, number] | undefined {
  const moved = perm.map((p, i) => (p === i ? -1 : i)).filter((i) => i >= 0);
  if (moved.length !== 2 || moved[1] !== moved[0] + 1 || perm[moved[0]] !== moved[1]) return undefined;
  const i = moved[0];
  const product = (dims: readonly number[]) => dims.reduce((n, d) => n * d, 1);
  return [product(shape.slice(0, i)), shape[i], shape[i + 1], product(shape.slice(i + 2))];
}

/** Replaces the wasm backend's Transpose for float32 swaps of two adjacent axes; idempotent. */
export function installWasmTranspose(): void {
  replaceKernel('Transpose', 'wasm', (original) => (args) => {
    const { inputs, backend, attrs } = args as unknown as { inputs: { x: tf.TensorInfo }; backend: WasmBackend; attrs: { perm: number[] } };
    const x = inputs.x;
    const swap = x.dtype === 'float32' ? adjacentSwap(x.shape, attrs.perm) : undefined;
    const kernels = swap ? heapKernels(backend.wasm) : undefined;
    if (!swap || !kernels || x.shape.some((d) => d === 0)) return original(args);
    const out = backend.makeOutput(attrs.perm.map((p) => x.shape[p]), 'float32');
    const src = backend.dataIdMap.get(x.dataId).memoryOffset;
    kernels.swapAxes(src, backend.dataIdMap.get(out.dataId).memoryOffset, ...swap);
    return out;
  });
}
