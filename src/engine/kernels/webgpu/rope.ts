// Rotary position embedding for the webgpu backend, folded with the [B, T, H, hd] → [B, H, T, hd]
// transpose: y = x·cos + rotate_half(x)·sin with rotate_half(x) = [−x2, x1] (transformers' convention).
//
// WHY: the composite is a transpose, a [hd, hd] rotation matmul, two muls and an add (four full-size
// intermediates per q and per k), and as many again backward. Fused: one element-wise dispatch each
// way, no intermediate. The backward pass is the inverse rotation, transposed back:
//   dx_j = dy_j·cos_j + dy_{j+h}·sin_{j+h}   (j < h = hd/2)
//   dx_j = dy_j·cos_j − dy_{j−h}·sin_{j−h}   (j ≥ h)
import * as tf from '@tensorflow/tfjs-core';
import { elementwiseProgram, registerWebGpuKernel, runKernel, type WebGpuKernelFunc } from './program';

export const ROPE = 'FtuneRope';
const ROPE_GRAD = 'FtuneRopeGrad';

/** x [B, T, H, hd] rotated by the tables cos, sin [T, hd] and transposed to [B, H, T, hd]. */
export function ropeWebGpu(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const [, T, , hd] = x.shape;
  if (hd % 2 !== 0 || cos.shape[0] !== T || cos.shape[1] !== hd || sin.shape.join() !== cos.shape.join()) {
    throw new Error(`${ROPE}: tables [${cos.shape.join(', ')}] do not fit x [${x.shape.join(', ')}]`);
  }
  return runKernel<tf.Tensor4D>(ROPE, { x, cosT: cos, sinT: sin });
}

const UNIFORMS = 'total : i32, queries : i32, heads : i32, hd : i32,';

const forwardKernel: WebGpuKernelFunc = ({ inputs, backend }) => {
  const { x, cosT, sinT } = inputs as { x: tf.TensorInfo; cosT: tf.TensorInfo; sinT: tf.TensorInfo };
  const [B, T, H, hd] = x.shape;
  const total = B * T * H * hd;
  // Thread = output element (b, h, t, j).
  const program = elementwiseProgram('ftune_rope', ['x', 'cosT', 'sinT'], [B, H, T, hd], total, UNIFORMS, `
    fn main(index : i32) {
      if (index < uniforms.total) {
        let hd = uniforms.hd;
        let half = hd / 2;
        let j = index % hd;
        let bht = index / hd;
        let t = bht % uniforms.queries;
        let bh = bht / uniforms.queries;
        let h = bh % uniforms.heads;
        let b = bh / uniforms.heads;
        let src = ((b * uniforms.queries + t) * uniforms.heads + h) * hd;
        var rotated : f32;
        if (j < half) { rotated = -x[src + j + half]; } else { rotated = x[src + j - half]; }
        let k = t * hd + j;
        result[index] = x[src + j] * cosT[k] + rotated * sinT[k];
      }
    }`);
  return backend.runWebGPUProgram(program, [x, cosT, sinT], 'float32', uniforms(total, T, H, hd));
};

const gradKernel: WebGpuKernelFunc = ({ inputs, backend }) => {
  const { dy, cosT, sinT } = inputs as { dy: tf.TensorInfo; cosT: tf.TensorInfo; sinT: tf.TensorInfo };
  const [B, H, T, hd] = dy.shape;
  const total = B * T * H * hd;
  // Thread = input element (b, t, h, j).
  const program = elementwiseProgram('ftune_rope_grad', ['dy', 'cosT', 'sinT'], [B, T, H, hd], total, UNIFORMS, `
    fn main(index : i32) {
      if (index < uniforms.total) {
        let hd = uniforms.hd;
        let half = hd / 2;
        let j = index % hd;
        let bth = index / hd;
        let h = bth % uniforms.heads;
        let bt = bth / uniforms.heads;
        let t = bt % uniforms.queries;
        let b = bt / uniforms.queries;
        let src = ((b * uniforms.heads + h) * uniforms.queries + t) * hd;
        let k = t * hd;
        var other : f32;
        if (j < half) { other = dy[src + j + half] * sinT[k + j + half]; } else { other = -(dy[src + j - half] * sinT[k + j - half]); }
        result[index] = dy[src + j] * cosT[k + j] + other;
      }
    }`);
  return backend.runWebGPUProgram(program, [dy, cosT, sinT], 'float32', uniforms(total, T, H, hd));
};

function noTableGradient(): never {
  throw new Error(`${ROPE}: no gradient with respect to the cos/sin tables`);
}

function uniforms(total: number, T: number, H: number, hd: number) {
  return [total, T, H, hd].map((v) => ({ type: 'int32' as const, data: [v] }));
}

export function installWebGpuRope(): void {
  registerWebGpuKernel(ROPE, forwardKernel);
  registerWebGpuKernel(ROPE_GRAD, gradKernel);
  if (!tf.getGradient(ROPE)) {
    tf.registerGradient({
      kernelName: ROPE,
      inputsToSave: ['cosT', 'sinT'],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [cosT, sinT] = saved;
        return {
          x: () => runKernel<tf.Tensor>(ROPE_GRAD, { dy: dy as tf.Tensor, cosT, sinT }),
          // The tables are constants (positions): asked only if something differentiates with respect
          // to them, which would need x saved for every layer.
          cosT: () => noTableGradient(),
          sinT: () => noTableGradient(),
        };
      },
    });
  }
}
