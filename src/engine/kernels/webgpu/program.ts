// What our own WGSL kernels for tfjs-backend-webgpu (4.x) share: the slice of its WebGPUProgram
// interface and backend that they use (typed here so that nothing imports the backend package, which
// registers itself on import), workgroup reductions, and the switch between fused and composite ops.
//
// A program's shader gets, from the backend: `result` (the output, array<f32>), one read-only array per
// name in `variableNames`, and `uniforms` with each input's and the output's shape plus the fields
// declared in `uniforms` (passed at run time, so one compiled pipeline serves every size). The backend
// compiles one pipeline per `shaderKey` + input ranks and dtypes, so a shader's text may depend only on
// what its key says (here: the workgroup size). Dispatches past 65535 workgroups are folded into two or
// three dimensions by the backend: `workgroupIndex()` undoes that.
import * as tf from '@tensorflow/tfjs-core';
import { fusedKernelAllowed } from '../fusedSetting';

export interface WebGpuProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms?: string;
  /** per input, 4 to bind it as array<vec4<f32>> (its rows must then be multiples of 4 floats). */
  variableComponents?: number[];
  /** 4 to bind the output as array<vec4<f32>>. */
  outputComponent?: number;
  getUserCode(): string;
}

export interface ProgramUniform {
  type: 'int32' | 'float32' | 'uint32';
  data: number[];
}

export interface WebGpuBackend {
  runWebGPUProgram(program: WebGpuProgram, inputs: tf.TensorInfo[], outputDtype: tf.DataType, uniforms?: ProgramUniform[]): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  incRef(dataId: tf.DataId): void;
}

/** The kernel function type tfjs registers, with the backend typed as ours. */
export type WebGpuKernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: WebGpuBackend; attrs?: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];

/** Registers kernel `name` for the webgpu backend (once per process). */
export function registerWebGpuKernel(name: string, kernelFunc: WebGpuKernelFunc): void {
  if (tf.getKernel(name, 'webgpu')) return;
  tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

/**
 * True when `kernel` should run instead of the composite tfjs ops: the active backend is webgpu, the
 * kernel is registered (installWebGpuKernels) and FTUNE_WEBGPU_FUSED allows it. For A/B comparisons:
 * FTUNE_WEBGPU_FUSED=0 turns every fused kernel off, a comma-separated list of kernel names
 * (FtuneRmsNorm, FtuneCrossEntropy, FtuneMaskedSoftmax, FtuneRope, FtuneAttention, FtuneAdamW,
 * FtuneSumSquares, FtuneWebGpuPackedMatMulT, FtuneWebGpuPackedGather) keeps only those.
 */
export function useWebGpuKernel(kernel: string): boolean {
  if (tf.getBackend() !== 'webgpu' || tf.getKernel(kernel, 'webgpu') === undefined) return false;
  return fusedKernelAllowed(process.env.FTUNE_WEBGPU_FUSED, kernel);
}

/** Runs a registered kernel outside of any tape bookkeeping the caller has not asked for. */
export function runKernel<T extends tf.Tensor | tf.Tensor[]>(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): T {
  return tf.engine().runKernel(name, inputs, attrs) as T;
}

/** `info` seen with another shape (no copy; the caller disposes `info` as usual). */
export function reshapeInfo(backend: WebGpuBackend, info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  backend.incRef(info.dataId);
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** A view of `info` with another shape, for binding only (not returned, not disposed). */
export function viewAs(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** Workgroup size of a row kernel: a power of two, enough threads for `cols` but not idle ones. */
export function rowWorkgroupSize(cols: number): number {
  if (cols >= 2048) return 256;
  if (cols >= 512) return 128;
  return 64;
}

/** One workgroup per row; `workgroupIndex()` in the shader is the row. */
export function rowProgram(name: string, variableNames: string[], outputShape: number[], rows: number, workgroupSize: number, uniforms: string, userCode: (wg: number) => string): WebGpuProgram {
  return {
    variableNames,
    outputShape,
    shaderKey: `${name}_${workgroupSize}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [rows, 1, 1],
    workgroupSize: [workgroupSize, 1, 1],
    uniforms,
    getUserCode: () => `${HELPERS}\n${reductions(workgroupSize)}\n${userCode(workgroupSize)}`,
  };
}

export const ELEMENTWISE_WORKGROUP = 64;

/** One thread per element of `count` (`index` in `fn main(index : i32)` is the element). */
export function elementwiseProgram(name: string, variableNames: string[], outputShape: number[], count: number, uniforms: string, userCode: string): WebGpuProgram {
  return {
    variableNames,
    outputShape,
    shaderKey: name,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(count / ELEMENTWISE_WORKGROUP), 1, 1],
    workgroupSize: [ELEMENTWISE_WORKGROUP, 1, 1],
    uniforms,
    getUserCode: () => `${HELPERS}\n${userCode}`,
  };
}

const HELPERS = `
  // The workgroup's number in a dispatch the backend may have folded into 2 or 3 dimensions.
  fn workgroupIndex() -> i32 {
    return i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x);
  }
`;

/**
 * Tree reductions over the workgroup. Each must be called by every thread of the workgroup (uniform
 * control flow) and returns the same value to all; the trailing barrier lets the scratch be reused.
 */
function reductions(wg: number): string {
  return `
  const FT_WG : u32 = ${wg}u;
  var<workgroup> ftRedA : array<f32, ${wg}>;
  var<workgroup> ftRedB : array<f32, ${wg}>;

  fn ftSum(v : f32) -> f32 {
    let tid = localId.x;
    ftRedA[tid] = v;
    workgroupBarrier();
    for (var s = FT_WG / 2u; s > 0u; s = s / 2u) {
      if (tid < s) { ftRedA[tid] = ftRedA[tid] + ftRedA[tid + s]; }
      workgroupBarrier();
    }
    let total = ftRedA[0];
    workgroupBarrier();
    return total;
  }

  fn ftSum2(v : vec2<f32>) -> vec2<f32> {
    let tid = localId.x;
    ftRedA[tid] = v.x;
    ftRedB[tid] = v.y;
    workgroupBarrier();
    for (var s = FT_WG / 2u; s > 0u; s = s / 2u) {
      if (tid < s) {
        ftRedA[tid] = ftRedA[tid] + ftRedA[tid + s];
        ftRedB[tid] = ftRedB[tid] + ftRedB[tid + s];
      }
      workgroupBarrier();
    }
    let total = vec2<f32>(ftRedA[0], ftRedB[0]);
    workgroupBarrier();
    return total;
  }

  // Online softmax normaliser: (m, s) stands for s·exp(m), merged without overflow.
  fn ftMergeMaxSum(a : vec2<f32>, b : vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
  }

  fn ftMaxSum(v : vec2<f32>) -> vec2<f32> {
    let tid = localId.x;
    ftRedA[tid] = v.x;
    ftRedB[tid] = v.y;
    workgroupBarrier();
    for (var s = FT_WG / 2u; s > 0u; s = s / 2u) {
      if (tid < s) {
        let merged = ftMergeMaxSum(vec2<f32>(ftRedA[tid], ftRedB[tid]), vec2<f32>(ftRedA[tid + s], ftRedB[tid + s]));
        ftRedA[tid] = merged.x;
        ftRedB[tid] = merged.y;
      }
      workgroupBarrier();
    }
    let total = vec2<f32>(ftRedA[0], ftRedB[0]);
    workgroupBarrier();
    return total;
  }
`;
}

/** The lowest f32: the identity of max that stays finite (exp(LOWEST - m) is 0, never NaN). */
export const LOWEST = '-3.402823e+38';

/** A tensor as [rows, cols] over its last axis (the layout of the per-row kernels). */
export function rowsAndCols(shape: readonly number[]): [number, number] {
  const cols = shape[shape.length - 1];
  return [cols === 0 ? 0 : shape.reduce((a, b) => a * b, 1) / cols, cols];
}
