// Fused RMSNorm for the webgpu backend: y = x·rsqrt(mean(x²) + eps)·w over the last axis, any rank.
//
// WHY: the composite (square, mean, add, rsqrt, mul, mul) is 6 dispatches and 4 [rows, D]-sized
// intermediates forward, and its gradient about a dozen more (broadcast gradients reduce over rows).
// Fused: 1 dispatch forward (one workgroup per row, one reduction); backward 1 dispatch for dx (one
// workgroup per row, both row sums in one reduction) and, only when the weight needs a gradient (full
// fine-tuning), 2 for dw (partial column sums per block of rows, then their sum).
//
//   r = rsqrt(mean(x²) + eps)
//   dx_j = r·w_j·dy_j − x_j·r³·mean_k(dy_k·w_k·x_k)
//   dw_j = Σ_rows dy_j·x_j·r
import * as tf from '@tensorflow/tfjs-core';
import {
  elementwiseProgram, registerWebGpuKernel, reshapeInfo, rowProgram, rowsAndCols, rowWorkgroupSize, runKernel, viewAs,
  type WebGpuKernelFunc,
} from './program';

export const RMS_NORM = 'FtuneRmsNorm';
const RMS_NORM_GRAD_X = 'FtuneRmsNormGradX';
const RMS_NORM_GRAD_W = 'FtuneRmsNormGradW';

/** Rows of one dw partial sum (one workgroup each). */
const DW_BLOCK_ROWS = 32;

/** RMSNorm over the last axis of `x` with weight `weight` [D], on the webgpu kernels (differentiable in both). */
export function rmsNormWebGpu<T extends tf.Tensor>(x: T, weight: tf.Tensor, eps: number): T {
  const y = runKernel<T>(RMS_NORM, { x, weight }, { eps });
  // Test-only: FTUNE_TEST_BREAK_WEBGPU=rms_norm makes this kernel wrong on purpose, so that a test can
  // show the GPU self-check (gpuSelfCheck.ts) stopping a run. Never set outside tests.
  if (process.env.FTUNE_TEST_BREAK_WEBGPU === 'rms_norm') return tf.tidy(() => tf.mul(y, 1.5) as T);
  return y;
}

const forwardKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { x, weight } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo };
  const eps = (attrs as { eps: number }).eps;
  const [rows, cols] = rowsAndCols(x.shape);
  checkWeight(weight, cols);
  const wg = rowWorkgroupSize(cols);
  const program = rowProgram('ftune_rmsnorm', ['x', 'w'], x.shape, rows, wg, 'rows : i32, cols : i32, eps : f32,', () => `
    fn main(index : i32) {
      let row = workgroupIndex();
      let tid = i32(localId.x);
      let cols = uniforms.cols;
      let valid = row < uniforms.rows;
      let base = row * cols;
      var ss = 0.0;
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) { let v = x[base + c]; ss += v * v; }
      }
      let r = inverseSqrt(ftSum(ss) / f32(cols) + uniforms.eps);
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) { result[base + c] = (x[base + c] * r) * w[c]; }
      }
    }`);
  return backend.runWebGPUProgram(program, [x, weight], 'float32', uniforms(rows, cols, eps));
};

const gradXKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { x, weight, dy } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo; dy: tf.TensorInfo };
  const eps = (attrs as { eps: number }).eps;
  const [rows, cols] = rowsAndCols(x.shape);
  const wg = rowWorkgroupSize(cols);
  const program = rowProgram('ftune_rmsnorm_dx', ['x', 'w', 'dy'], x.shape, rows, wg, 'rows : i32, cols : i32, eps : f32,', () => `
    fn main(index : i32) {
      let row = workgroupIndex();
      let tid = i32(localId.x);
      let cols = uniforms.cols;
      let valid = row < uniforms.rows;
      let base = row * cols;
      var acc = vec2<f32>(0.0, 0.0); // Σ x², Σ dy·w·x
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) {
          let v = x[base + c];
          acc += vec2<f32>(v * v, dy[base + c] * w[c] * v);
        }
      }
      let sums = ftSum2(acc);
      let n = f32(cols);
      let r = inverseSqrt(sums.x / n + uniforms.eps);
      let k = r * r * r * (sums.y / n);
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) {
          result[base + c] = r * w[c] * dy[base + c] - x[base + c] * k;
        }
      }
    }`);
  return backend.runWebGPUProgram(program, [x, weight, dy], 'float32', uniforms(rows, cols, eps));
};

const gradWKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const eps = (attrs as { eps: number }).eps;
  const [rows, cols] = rowsAndCols(x.shape);
  const blocks = Math.max(1, Math.ceil(rows / DW_BLOCK_ROWS));
  const wg = rowWorkgroupSize(cols);
  // Workgroup b: the rms of each of its rows (one reduction each), then Σ over its rows of dy·x·r for
  // every column: partial [blocks, D].
  const partialProgram = rowProgram('ftune_rmsnorm_dw_partial', ['x', 'dy'], [blocks, cols], blocks, wg, 'rows : i32, cols : i32, eps : f32,', () => `
    var<workgroup> rms : array<f32, ${DW_BLOCK_ROWS}>;
    fn main(index : i32) {
      let block = workgroupIndex();
      let tid = i32(localId.x);
      let cols = uniforms.cols;
      let first = block * ${DW_BLOCK_ROWS};
      for (var i = 0; i < ${DW_BLOCK_ROWS}; i++) {
        let row = first + i;
        var ss = 0.0;
        if (row < uniforms.rows) {
          for (var c = tid; c < cols; c += ${wg}) { let v = x[row * cols + c]; ss += v * v; }
        }
        let r = inverseSqrt(ftSum(ss) / f32(cols) + uniforms.eps);
        if (tid == 0) { rms[i] = r; }
      }
      workgroupBarrier();
      let last = min(first + ${DW_BLOCK_ROWS}, uniforms.rows);
      for (var c = tid; c < cols; c += ${wg}) {
        var acc = 0.0;
        for (var row = first; row < last; row++) { acc += dy[row * cols + c] * x[row * cols + c] * rms[row - first]; }
        if (block * ${DW_BLOCK_ROWS} < uniforms.rows) { result[block * cols + c] = acc; }
      }
    }`);
  const flatX = viewAs(x, [rows, cols]), flatDy = viewAs(dy, [rows, cols]);
  const partial = backend.runWebGPUProgram(partialProgram, [flatX, flatDy], 'float32', uniforms(rows, cols, eps));
  try {
    if (blocks === 1) return reshapeInfo(backend, partial, [cols]);
    const sumProgram = elementwiseProgram('ftune_column_sum', ['partial'], [cols], cols, 'rows : i32, cols : i32,', `
      fn main(index : i32) {
        if (index < uniforms.cols) {
          var acc = 0.0;
          for (var r = 0; r < uniforms.rows; r++) { acc += partial[r * uniforms.cols + index]; }
          result[index] = acc;
        }
      }`);
    return backend.runWebGPUProgram(sumProgram, [partial], 'float32', [
      { type: 'int32', data: [blocks] }, { type: 'int32', data: [cols] },
    ]);
  } finally {
    backend.disposeData(partial.dataId);
  }
};

function uniforms(rows: number, cols: number, eps: number) {
  return [
    { type: 'int32' as const, data: [rows] },
    { type: 'int32' as const, data: [cols] },
    { type: 'float32' as const, data: [eps] },
  ];
}

function checkWeight(weight: tf.TensorInfo, cols: number): void {
  if (weight.shape.length !== 1 || weight.shape[0] !== cols) {
    throw new Error(`${RMS_NORM}: weight of shape [${weight.shape.join(', ')}] for rows of ${cols}`);
  }
}

export function installWebGpuRmsNorm(): void {
  registerWebGpuKernel(RMS_NORM, forwardKernel);
  registerWebGpuKernel(RMS_NORM_GRAD_X, gradXKernel);
  registerWebGpuKernel(RMS_NORM_GRAD_W, gradWKernel);
  if (!tf.getGradient(RMS_NORM)) {
    tf.registerGradient({
      kernelName: RMS_NORM,
      inputsToSave: ['x', 'weight'],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const [x, weight] = saved;
        const g = dy as tf.Tensor;
        const eps = attrs.eps as number;
        // Only the closures of inputs on the path to what is differentiated are called: LoRA never
        // computes dw.
        return {
          x: () => runKernel<tf.Tensor>(RMS_NORM_GRAD_X, { x, weight, dy: g }, { eps }),
          weight: () => runKernel<tf.Tensor>(RMS_NORM_GRAD_W, { x, dy: g }, { eps }),
        };
      },
    });
  }
}
