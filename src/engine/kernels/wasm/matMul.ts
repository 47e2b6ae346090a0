// A faster BatchMatMul for tfjs-backend-wasm 4.x.
//
// WHY: the stock wasm kernel sends a product to XNNPACK (SIMD, ~10-15 GFLOP/s on one core) only when
// neither operand is transposed AND both have batch size 1; everything else — every x·Wᵀ of a linear
// layer, every gradient, every attention product — falls back to a scalar loop at ~1.3 GFLOP/s.
// This kernel materialises transposed operands with the (cheap, memory-bound) Transpose kernel, or
// computes the transposed product when that copies less, and runs each batch entry as a batch-1
// XNNPACK product on views into the operands' heap memory. Threaded builds (kernels/wasm/threads.ts)
// parallelise these products too.
//
// Memory: XNNPACK caches a packed copy of its right operand per tensor id until that id is disposed.
// Passing the stock kernel a long-lived weight would keep a second copy of every weight alive (2 GB
// more for a 0.5B model, past the 4 GiB wasm heap), so the right operand always goes in as a
// short-lived view id that is disposed right after the call: the packing is redone per call, which
// costs O(K·N) against the product's O(M·K·N).
import * as tf from '@tensorflow/tfjs-core';
import { replaceKernel } from '../replace';
import { heapKernels, type HeapKernels } from './heapKernels';

interface WasmTensorData {
  id: number;
  memoryOffset: number;
}

type CFunction = (...args: (number | Uint8Array | boolean)[]) => void;

/** The parts of tfjs-backend-wasm's BackendWasm (4.x) this kernel relies on. */
interface WasmBackend {
  wasm: {
    cwrap(name: string, returnType: null, argTypes: string[]): CFunction;
    tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void };
    HEAPU8: Uint8Array;
  };
  dataIdMap: { get(dataId: tf.DataId): WasmTensorData };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

const BYTES = 4; // float32
/** Most floats of a right operand handed to XNNPACK at once (its packed copy is as large). */
const PACK_LIMIT = 1 << 24;

let original: tf.KernelFunc | undefined;
const cMatMul = new WeakMap<object, CFunction>();

/** Replaces the wasm backend's BatchMatMul; idempotent. Call before or after tf.setBackend('wasm'). */
export function installWasmMatMul(): void {
  replaceKernel('BatchMatMul', 'wasm', (stock) => {
    original = stock;
    return batchMatMul as unknown as tf.KernelFunc;
  });
}

function matMulFunction(backend: WasmBackend): CFunction {
  let f = cMatMul.get(backend);
  if (!f) {
    // Same C entry point and signature as the stock kernel: ids, shapes, transposes, output id.
    f = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    cMatMul.set(backend, f);
  }
  return f;
}

function batchMatMul(args: { inputs: { a: tf.TensorInfo; b: tf.TensorInfo }; backend: WasmBackend; attrs: MatMulAttrs }): tf.TensorInfo {
  const { inputs: { a, b }, backend, attrs: { transposeA, transposeB } } = args;
  const fallback = () => (original as unknown as (x: typeof args) => tf.TensorInfo)(args);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback();

  const ra = a.shape.length, rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = size(outerA), batchB = size(outerB);
  if (K !== Kb) return fallback(); // let the stock kernel raise its usual error
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = size(outer);
  // Only "same batch" or "one side has batch 1" broadcasting maps onto a loop of batch-1 products.
  if (!(batchA === batch || batchA === 1) || !(batchB === batch || batchB === 1)) return fallback();
  if (M === 0 || N === 0 || K === 0) return fallback();
  // One row of activations (decoding): loops that read each weight once, in place (heapKernels.ts).
  if (M === 1) {
    const kernels = heapKernels(backend.wasm);
    if (kernels) return matrixVector(kernels, a, b, backend, { batch, batchA, batchB, M, K, N }, transposeB, outer);
  }

  // Two ways to get C = op(A)·op(B) from row-major products: directly, or as Cᵀ = op(B)ᵀ·op(A)ᵀ
  // transposed back. Each costs a different set of memory-bound copies (transposes, and XNNPACK's
  // packing of the right operand); pick the cheaper. For x·Wᵀ with few rows (decoding) the swapped
  // form never touches W's layout: W is read in place as the left operand.
  const direct = (transposeA ? M * K : 0) + (transposeB ? K * N : 0) + K * N;
  const swapped = (transposeB ? 0 : K * N) + (transposeA ? 0 : M * K) + K * M + M * N;
  const temps: tf.TensorInfo[] = [];
  try {
    if (direct <= swapped) {
      const A = rowMajor(a, batchA, M, K, transposeA, backend, temps);
      const B = rowMajor(b, batchB, K, N, transposeB, backend, temps);
      const out = backend.makeOutput([...outer, M, N], 'float32');
      temps.push(out); // until it is complete
      products(backend, A, B, out, { batch, batchA, batchB, M, K, N });
      temps.pop();
      return out;
    }
    // op(B)ᵀ is [N, K] row-major: stored as is when transposeB, else transposed; likewise op(A)ᵀ.
    const Bt = rowMajor(b, batchB, N, K, !transposeB, backend, temps);
    const At = rowMajor(a, batchA, K, M, !transposeA, backend, temps);
    const outT = backend.makeOutput([batch, N, M], 'float32');
    temps.push(outT);
    products(backend, Bt, At, outT, { batch, batchA: batchB, batchB: batchA, M: N, K, N: M });
    const out = transpose(outT, backend, temps);
    temps.pop();
    return { ...out, shape: [...outer, M, N] };
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

interface Dims {
  batch: number;
  batchA: number;
  batchB: number;
  M: number;
  K: number;
  N: number;
}

/** out[i] = A[i]·B[i] for row-major A [batchA, M, K], B [batchB, K, N] (batch 1 broadcasts). */
function products(backend: WasmBackend, A: tf.TensorInfo, B: tf.TensorInfo, out: tf.TensorInfo, d: Dims): void {
  const { batch, batchA, batchB, M, K, N } = d;
  const aOffset = backend.dataIdMap.get(A.dataId).memoryOffset;
  const bOffset = backend.dataIdMap.get(B.dataId).memoryOffset;
  const outOffset = backend.dataIdMap.get(out.dataId).memoryOffset;
  const run = matMulFunction(backend);
  const multiply = (aAt: number, rows: number, k: number, bAt: number, outAt: number) => {
    const aView = view(backend, aAt, rows * k), bView = view(backend, bAt, k * N), outView = view(backend, outAt, rows * N);
    try {
      run(aView, shapeBytes(1, rows, k), 3, bView, shapeBytes(1, k, N), 3, false, false, outView);
    } finally {
      for (const id of [aView, bView, outView]) backend.wasm.tfjs.disposeData(id);
    }
  };
  const product = (aAt: number, rows: number, bAt: number, outAt: number) => {
    if (K * N <= PACK_LIMIT || K === 1) return multiply(aAt, rows, K, bAt, outAt);
    // XNNPACK packs the whole right operand first (a copy); for a huge one (the cross-entropy's
    // dlogits·head with 150k vocabulary rows) sum products over blocks of K instead.
    const kc = Math.max(1, Math.floor(PACK_LIMIT / N));
    const aBlock = backend.makeOutput([rows, kc], 'float32');
    const partial = backend.makeOutput([rows, N], 'float32');
    try {
      const aBlockAt = backend.dataIdMap.get(aBlock.dataId).memoryOffset;
      const partialAt = backend.dataIdMap.get(partial.dataId).memoryOffset;
      for (let k0 = 0; k0 < K; k0 += kc) {
        const k = Math.min(kc, K - k0);
        const heap = backend.wasm.HEAPU8;
        for (let r = 0; r < rows; r++) {
          const from = aAt + (r * K + k0) * BYTES;
          heap.copyWithin(aBlockAt + r * k * BYTES, from, from + k * BYTES);
        }
        multiply(aBlockAt, rows, k, bAt + k0 * N * BYTES, k0 === 0 ? outAt : partialAt);
        if (k0 > 0) sumInto(backend, outAt, partialAt, rows * N);
      }
    } finally {
      backend.disposeData(aBlock.dataId);
      backend.disposeData(partial.dataId);
    }
  };
  if (batchB === 1 && batchA === batch) {
    // One right operand for every batch entry: the left rows are contiguous, so one product does it.
    product(aOffset, batch * M, bOffset, outOffset);
    return;
  }
  for (let i = 0; i < batch; i++) {
    product(aOffset + (batchA === 1 ? 0 : i * M * K * BYTES), M, bOffset + (batchB === 1 ? 0 : i * K * N * BYTES), outOffset + i * M * N * BYTES);
  }
}

/** heap[acc..] += heap[x..] over n floats. */
function sumInto(backend: WasmBackend, acc: number, x: number, n: number): void {
  const kernels = heapKernels(backend.wasm);
  if (kernels) return kernels.addInPlace(acc, x, n);
  const heap = backend.wasm.HEAPU8.buffer;
  const a = new Float32Array(heap, acc, n), b = new Float32Array(heap, x, n);
  for (let i = 0; i < n; i++) a[i] += b[i]; // only where our wasm module cannot load
}

/** C = a·op(b) for a single row of a ([1, K] and [K, 1] are the same floats): batch by batch. */
function matrixVector(kernels: HeapKernels, a: tf.TensorInfo, b: tf.TensorInfo, backend: WasmBackend, d: Dims, transposeB: boolean, outer: number[]): tf.TensorInfo {
  const { batch, batchA, batchB, K, N } = d;
  const out = backend.makeOutput([...outer, 1, N], 'float32');
  const aOffset = backend.dataIdMap.get(a.dataId).memoryOffset;
  const bOffset = backend.dataIdMap.get(b.dataId).memoryOffset;
  const outOffset = backend.dataIdMap.get(out.dataId).memoryOffset;
  for (let i = 0; i < batch; i++) {
    const x = aOffset + (batchA === 1 ? 0 : i * K * BYTES);
    const w = bOffset + (batchB === 1 ? 0 : i * K * N * BYTES);
    const y = outOffset + i * N * BYTES;
    if (transposeB) kernels.gemv(w, x, y, N, K); // b is [N, K]: rows of b dotted with x
    else kernels.vecmat(x, w, y, K, N); // b is [K, N]
  }
  return out;
}

/** `x` as row-major [n, rows, cols]: itself, or (when stored as [n, cols, rows]) a transposed copy. */
function rowMajor(x: tf.TensorInfo, n: number, rows: number, cols: number, storedTransposed: boolean, backend: WasmBackend, temps: tf.TensorInfo[]): tf.TensorInfo {
  if (!storedTransposed) return x;
  return transpose({ dataId: x.dataId, shape: [n, cols, rows], dtype: x.dtype }, backend, temps);
}

/** Swaps the last two axes of a rank-3 tensor into a new tensor, recorded in `temps` for disposal. */
function transpose(x: tf.TensorInfo, backend: WasmBackend, temps: tf.TensorInfo[]): tf.TensorInfo {
  const kernel = tf.getKernel('Transpose', 'wasm');
  if (!kernel) throw new Error('tfjs-backend-wasm has no Transpose kernel');
  const f = kernel.kernelFunc as unknown as (args: { inputs: { x: tf.TensorInfo }; backend: WasmBackend; attrs: { perm: number[] } }) => tf.TensorInfo;
  const t = f({ inputs: { x }, backend, attrs: { perm: [0, 2, 1] } });
  temps.push(t);
  return t;
}

/** Registers `count` floats at `offset` under a fresh id (no allocation; the caller disposes the id, never frees). */
function view(backend: WasmBackend, offset: number, count: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, count, offset);
  return id;
}

function shapeBytes(...dims: number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(dims).buffer);
}

function size(shape: number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}
