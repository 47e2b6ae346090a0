// Fused kernels for inference on tfjs-backend-wasm: RMSNorm, rotary embedding (with its transpose)
// and a one-row LoRA delta added to its projection, each one kernel instead of 4–7 tfjs ops.
//
// WHY: decoding one token of a 0.5B model runs ~2,300 tfjs kernels, and each costs ~6–10 µs in the
// engine (tensor bookkeeping, scopes) besides its work: 15–25 ms a token that every precision pays,
// while the products themselves take 60–150 ms. These three replace ~1,200 of those kernels.
//
// Forward only: ops.ts uses them where no gradient is being recorded (generation, evaluation,
// prefill) and the composites everywhere else, so training and its gradients never see them. Each
// loop (heapKernels.wat) performs the composite's float operations in the composite's order, so
// results match it (tests: wasm.inferenceKernels).
import * as tf from '@tensorflow/tfjs-core';
import { recordingGradients } from '../../tape';
import { fusedKernelAllowed } from '../fusedSetting';
import { heapKernels, type HeapKernels } from './heapKernels';

export const WASM_RMS_NORM = 'FtuneWasmRmsNorm';
export const WASM_ROPE = 'FtuneWasmRope';
export const WASM_LORA_ADD = 'FtuneWasmLoraAdd';

/** The parts of tfjs-backend-wasm's BackendWasm (4.x) these kernels use. */
interface WasmBackend {
  wasm: object;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

type KernelArgs<I, A> = { inputs: I; backend: WasmBackend; attrs: A };

function kernelsOf(backend: WasmBackend): HeapKernels {
  const k = heapKernels(backend.wasm);
  if (!k) throw new Error('wasm: the heap kernels could not be instantiated on this heap');
  return k;
}

function at(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

function rmsNormKernel({ inputs: { x, weight }, backend, attrs: { eps } }: KernelArgs<{ x: tf.TensorInfo; weight: tf.TensorInfo }, { eps: number }>): tf.TensorInfo {
  const D = x.shape[x.shape.length - 1];
  if (tf.util.sizeFromShape(weight.shape) !== D) throw new Error(`${WASM_RMS_NORM}: weight [${weight.shape}] for rows of ${D}`);
  const k = kernelsOf(backend);
  const out = backend.makeOutput(x.shape, 'float32');
  const rows = D === 0 ? 0 : tf.util.sizeFromShape(x.shape) / D;
  if (rows > 0) k.rmsNorm(at(backend, x), at(backend, weight), at(backend, out), rows, D, eps);
  return out;
}

function ropeKernel({ inputs: { x, cos, sin }, backend, attrs: { rotaryDim } }: KernelArgs<{ x: tf.TensorInfo; cos: tf.TensorInfo; sin: tf.TensorInfo }, { rotaryDim: number }>): tf.TensorInfo {
  const [B, T, H, hd] = x.shape;
  // the loop reads row t of each table for every (b, h): tables of another size would be read out of bounds
  if (cos.shape.join() !== `${T},${hd}` || sin.shape.join() !== `${T},${hd}`) throw new Error(`${WASM_ROPE}: tables [${cos.shape}] / [${sin.shape}] for x [${x.shape}], expected [${T}, ${hd}]`);
  if (rotaryDim % 2 !== 0 || rotaryDim > hd) throw new Error(`${WASM_ROPE}: rotary_dim ${rotaryDim} must be even and at most head_dim ${hd}`);
  const k = kernelsOf(backend);
  const out = backend.makeOutput([B, H, T, hd], 'float32');
  if (B * T * H * hd > 0) k.rope(at(backend, x), at(backend, cos), at(backend, sin), at(backend, out), B, T, H, hd, rotaryDim);
  return out;
}

/** y [1, N] + scale·((x [1, K]·Aᵀ)·Bᵀ) for A [r, K], B [N, r]: the same two gemv calls as the composite's products. */
function loraAddKernel({ inputs: { y, x, A, B }, backend, attrs: { scale } }: KernelArgs<{ y: tf.TensorInfo; x: tf.TensorInfo; A: tf.TensorInfo; B: tf.TensorInfo }, { scale: number }>): tf.TensorInfo {
  const [r, K] = A.shape, N = B.shape[0];
  if (x.shape.join() !== `1,${K}` || B.shape[1] !== r || y.shape.join() !== `1,${N}`) {
    throw new Error(`${WASM_LORA_ADD}: x [${x.shape}], A [${A.shape}], B [${B.shape}], y [${y.shape}] do not chain`);
  }
  const k = kernelsOf(backend);
  const t = backend.makeOutput([1, r], 'float32');
  const out = backend.makeOutput([1, N], 'float32');
  try {
    k.gemv(at(backend, A), at(backend, x), at(backend, t), r, K);
    k.gemv(at(backend, B), at(backend, t), at(backend, out), N, r);
    k.scaleAdd(at(backend, out), at(backend, y), scale, N);
  } finally {
    backend.disposeData(t.dataId);
  }
  return out;
}

/** Registers the three kernels for the wasm backend; idempotent. */
export function installWasmInferenceKernels(): void {
  const kernels: [string, unknown][] = [[WASM_RMS_NORM, rmsNormKernel], [WASM_ROPE, ropeKernel], [WASM_LORA_ADD, loraAddKernel]];
  for (const [kernelName, kernelFunc] of kernels) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  }
}

/**
 * True when `kernel` should run instead of the composite: the active backend is wasm, the kernel is
 * registered, no gradient is being recorded (tf.grads / variableGrads / a checkpointed layer's
 * recompute raise the engine's gradient depth) and FTUNE_WASM_FUSED allows it. For A/B comparisons:
 * FTUNE_WASM_FUSED=0 turns all three off, a comma-separated list of kernel names keeps only those.
 */
export function useWasmInferenceKernel(kernel: string): boolean {
  if (tf.getBackend() !== 'wasm' || tf.getKernel(kernel, 'wasm') === undefined || recordingGradients()) return false;
  // a runtime where our module cannot be instantiated on tfjs's heap keeps the tfjs ops
  if (!heapKernels((tf.backend() as unknown as WasmBackend).wasm)) return false;
  return fusedKernelAllowed(process.env.FTUNE_WASM_FUSED, kernel);
}

export function rmsNormWasm<T extends tf.Tensor>(x: T, weight: tf.Tensor, eps: number): T {
  return tf.engine().runKernel(WASM_RMS_NORM, { x, weight }, { eps }) as T;
}

/** x [B, T, H, hd] rotated by cos / sin [T, hd] (first rotaryDim dims) → [B, H, T, hd]. */
export function ropeWasm(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, rotaryDim: number): tf.Tensor4D {
  return tf.engine().runKernel(WASM_ROPE, { x, cos, sin }, { rotaryDim }) as tf.Tensor4D;
}

/** y + scale·(x·Aᵀ)·Bᵀ for one row x [1, K]. */
export function loraAddWasm(y: tf.Tensor2D, x: tf.Tensor2D, A: tf.Tensor2D, B: tf.Tensor2D, scale: number): tf.Tensor2D {
  return tf.engine().runKernel(WASM_LORA_ADD, { y, x, A, B }, { scale }) as tf.Tensor2D;
}
