// Softmax cross-entropy over a chunk of vocabulary logits, for the webgpu backend (loss.ts keeps the
// chunking and its custom gradient; these replace the per-chunk element-wise work).
//
// WHY: tfjs's logSumExp is max, sub, exp, sum, log, add over [rows, V] (three [rows, V] intermediates
// for a vocabulary of 150k), plus a gather and a row-wise dot product for the target logit; the
// backward pass adds softmax (3 passes), a gather, a sub, a mul and, for a trainable head, a scatter.
// Fused: one dispatch per direction, one workgroup per row with an online max/sum-exp reduction.
//   forward:  loss_i = logsumexp(logits_i) − logits_i[target_i]                    → [rows]
//   backward: dlogits_i = (softmax(logits_i) − onehot(target_i))·dy                → [rows, V]
// (then dx = dlogits·w and dw = dlogitsᵀ·x are two matmuls.)
import * as tf from '@tensorflow/tfjs-core';
import { LOWEST, registerWebGpuKernel, rowProgram, rowWorkgroupSize, runKernel, type WebGpuKernelFunc } from './program';

export const CROSS_ENTROPY = 'FtuneCrossEntropy';
const CROSS_ENTROPY_GRAD = 'FtuneCrossEntropyGrad';

/** −log softmax(logits)[target] for each row: logits [rows, V], targets [rows] int32 → [rows]. */
export function crossEntropyRowsWebGpu(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  return runKernel<tf.Tensor1D>(CROSS_ENTROPY, { logits, targets });
}

/** (softmax(logits) − onehot(targets))·dy: the gradient of Σ rows' losses times the scalar dy. */
export function crossEntropyGradWebGpu(logits: tf.Tensor2D, targets: tf.Tensor1D, dy: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => runKernel<tf.Tensor2D>(CROSS_ENTROPY_GRAD, { logits, targets, dy: tf.reshape(dy, [1]) }));
}

/** Each thread's running (max, Σ exp(v − max)) over its columns of the row, then the workgroup's. */
function rowNormaliser(wg: number): string {
  return `
      var ms = vec2<f32>(${LOWEST}, 0.0);
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) {
          let v = logits[base + c];
          if (v > ms.x) { ms = vec2<f32>(v, ms.y * exp(ms.x - v) + 1.0); } else { ms.y += exp(v - ms.x); }
        }
      }
      let norm = ftMaxSum(ms);`;
}

const PROLOGUE = `
      let row = workgroupIndex();
      let tid = i32(localId.x);
      let cols = uniforms.cols;
      let valid = row < uniforms.rows;
      let base = row * cols;`;

const forwardKernel: WebGpuKernelFunc = ({ inputs, backend }) => {
  const { logits, targets } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
  const [rows, cols] = check(logits, targets);
  const wg = rowWorkgroupSize(cols);
  const program = rowProgram('ftune_xent', ['logits', 'targets'], [rows], rows, wg, 'rows : i32, cols : i32,', () => `
    fn main(index : i32) {
      ${PROLOGUE}
      ${rowNormaliser(wg)}
      if (valid && tid == 0) {
        let t = targets[row];
        var picked = 0.0;
        if (t >= 0 && t < cols) { picked = logits[base + t]; }
        result[row] = norm.x + log(norm.y) - picked;
      }
    }`);
  return backend.runWebGPUProgram(program, [logits, targets], 'float32', sizes(rows, cols));
};

const gradKernel: WebGpuKernelFunc = ({ inputs, backend }) => {
  const { logits, targets, dy } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo; dy: tf.TensorInfo };
  const [rows, cols] = check(logits, targets);
  const wg = rowWorkgroupSize(cols);
  const program = rowProgram('ftune_xent_grad', ['logits', 'targets', 'dy'], [rows, cols], rows, wg, 'rows : i32, cols : i32,', () => `
    fn main(index : i32) {
      ${PROLOGUE}
      ${rowNormaliser(wg)}
      if (valid) {
        let g = dy[0];
        let t = targets[row];
        for (var c = tid; c < cols; c += ${wg}) {
          var p = exp(logits[base + c] - norm.x) / norm.y;
          if (c == t) { p = p - 1.0; }
          result[base + c] = p * g;
        }
      }
    }`);
  return backend.runWebGPUProgram(program, [logits, targets, dy], 'float32', sizes(rows, cols));
};

function check(logits: tf.TensorInfo, targets: tf.TensorInfo): [number, number] {
  if (logits.shape.length !== 2 || targets.shape.length !== 1 || targets.shape[0] !== logits.shape[0] || targets.dtype !== 'int32') {
    throw new Error(`${CROSS_ENTROPY}: logits [rows, V] and int32 targets [rows] expected, got [${logits.shape.join(', ')}] and ${targets.dtype} [${targets.shape.join(', ')}]`);
  }
  return [logits.shape[0], logits.shape[1]];
}

function sizes(rows: number, cols: number) {
  return [{ type: 'int32' as const, data: [rows] }, { type: 'int32' as const, data: [cols] }];
}

export function installWebGpuCrossEntropy(): void {
  registerWebGpuKernel(CROSS_ENTROPY, forwardKernel);
  registerWebGpuKernel(CROSS_ENTROPY_GRAD, gradKernel);
}
