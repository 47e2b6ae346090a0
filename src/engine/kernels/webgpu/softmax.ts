// Attention probabilities for the webgpu backend: softmax(scores + mask) over the keys, in one kernel,
// and its gradient dS = P∘(dP − rowsum(dP∘P)) in one more.
//
// WHY: tfjs adds the broadcast mask in its own pass ([B, H, T, S] intermediate) before its softmax,
// and softmax's gradient is mul, sum, mul, sub (two more [B, H, T, S] intermediates and a reduction
// kernel). Fused: one workgroup per row of scores reads the row and the mask's row for its (batch,
// query) and writes the probabilities; backward reads P and dP once per row.
//
// scores: [B, H, T, S]; mask: additive, [1 | B, 1, T, S] (causal, plus key padding when given).
// The model uses it where the fused attention (webgpuAttention.ts) does not apply: head_dim not a
// multiple of 4 or above 256.
import * as tf from '@tensorflow/tfjs-core';
import { LOWEST, registerWebGpuKernel, rowProgram, rowsAndCols, rowWorkgroupSize, runKernel, type WebGpuKernelFunc } from './program';

export const MASKED_SOFTMAX = 'FtuneMaskedSoftmax';
const SOFTMAX_GRAD = 'FtuneSoftmaxGrad';

/** True when `mask` has a shape the kernel reads: [1 | B, 1, T, S] for scores [B, H, T, S]. */
export function maskedSoftmaxFits(scores: tf.Tensor, mask: tf.Tensor): boolean {
  if (scores.rank !== 4 || mask.rank !== 4) return false;
  const [B, , T, S] = scores.shape, [mb, mh, mt, ms] = mask.shape;
  return (mb === 1 || mb === B) && mh === 1 && mt === T && ms === S && mask.dtype === 'float32';
}

/** softmax(scores + mask) over the last axis (differentiable with respect to scores and mask). */
export function maskedSoftmaxWebGpu(scores: tf.Tensor4D, mask: tf.Tensor): tf.Tensor4D {
  if (!maskedSoftmaxFits(scores, mask)) throw new Error(`${MASKED_SOFTMAX}: mask [${mask.shape.join(', ')}] does not fit scores [${scores.shape.join(', ')}]`);
  return runKernel<tf.Tensor4D>(MASKED_SOFTMAX, { scores, mask });
}

const forwardKernel: WebGpuKernelFunc = ({ inputs, backend }) => {
  const { scores, mask } = inputs as { scores: tf.TensorInfo; mask: tf.TensorInfo };
  const [B, H, T, S] = scores.shape;
  const rows = B * H * T;
  const wg = rowWorkgroupSize(S);
  const program = rowProgram('ftune_masked_softmax', ['scores', 'mask'], scores.shape, rows, wg,
    'rows : i32, cols : i32, queries : i32, rowsPerBatch : i32, maskBatchStride : i32,', () => `
    fn main(index : i32) {
      let row = workgroupIndex();
      let tid = i32(localId.x);
      let cols = uniforms.cols;
      let valid = row < uniforms.rows;
      let base = row * cols;
      let maskBase = (row / uniforms.rowsPerBatch) * uniforms.maskBatchStride + (row % uniforms.queries) * cols;
      var ms = vec2<f32>(${LOWEST}, 0.0);
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) {
          let v = scores[base + c] + mask[maskBase + c];
          if (v > ms.x) { ms = vec2<f32>(v, ms.y * exp(ms.x - v) + 1.0); } else { ms.y += exp(v - ms.x); }
        }
      }
      let norm = ftMaxSum(ms);
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) {
          result[base + c] = exp(scores[base + c] + mask[maskBase + c] - norm.x) / norm.y;
        }
      }
    }`);
  return backend.runWebGPUProgram(program, [scores, mask], 'float32', [
    { type: 'int32', data: [rows] }, { type: 'int32', data: [S] }, { type: 'int32', data: [T] },
    { type: 'int32', data: [H * T] }, { type: 'int32', data: [mask.shape[0] === 1 ? 0 : T * S] },
  ]);
};

const gradKernel: WebGpuKernelFunc = ({ inputs, backend }) => {
  const { probs, dy } = inputs as { probs: tf.TensorInfo; dy: tf.TensorInfo };
  const [rows, S] = rowsAndCols(probs.shape);
  const wg = rowWorkgroupSize(S);
  const program = rowProgram('ftune_softmax_grad', ['probs', 'dy'], probs.shape, rows, wg, 'rows : i32, cols : i32,', () => `
    fn main(index : i32) {
      let row = workgroupIndex();
      let tid = i32(localId.x);
      let cols = uniforms.cols;
      let valid = row < uniforms.rows;
      let base = row * cols;
      var dot = 0.0;
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) { dot += dy[base + c] * probs[base + c]; }
      }
      let total = ftSum(dot);
      if (valid) {
        for (var c = tid; c < cols; c += ${wg}) { result[base + c] = probs[base + c] * (dy[base + c] - total); }
      }
    }`);
  return backend.runWebGPUProgram(program, [probs, dy], 'float32', [{ type: 'int32', data: [rows] }, { type: 'int32', data: [S] }]);
};

export function installWebGpuSoftmax(): void {
  registerWebGpuKernel(MASKED_SOFTMAX, forwardKernel);
  registerWebGpuKernel(SOFTMAX_GRAD, gradKernel);
  if (!tf.getGradient(MASKED_SOFTMAX)) {
    tf.registerGradient({
      kernelName: MASKED_SOFTMAX,
      inputsToSave: ['mask'],
      outputsToSave: [true],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [mask, probs] = saved;
        const dScores = () => runKernel<tf.Tensor>(SOFTMAX_GRAD, { probs, dy: dy as tf.Tensor });
        return {
          scores: dScores,
          // The mask is a constant in the model; its gradient (dS summed over what it broadcasts over)
          // is computed only if something differentiates with respect to it.
          mask: () => tf.sum(dScores(), mask.shape[0] === 1 ? [0, 1] : [1], true),
        };
      },
    });
  }
}
