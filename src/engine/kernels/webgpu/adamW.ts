// The optimiser's element-wise work for the webgpu backend: the AdamW update and the gradients' sum of
// squares (global-norm clipping), with the gradient averaging and clip scales folded in.
//
// WHY: with tfjs ops, AdamW.apply is ~13 element-wise dispatches per variable, the global norm a square
// and a sum per variable plus an addN and a sqrt, and step.ts multiplies every gradient by 1/weight
// (and by the clip coefficient) first: ~900 of a LoRA step's ~1400 dispatches, for tiny tensors.
// Fused, with m and v of a parameter kept in one flat variable mv = [m…, v…] (AdamW does that on
// webgpu where 2× the parameter fits one storage binding; a tfjs program has a single output), 2
// dispatches per variable:
//   FtuneAdamWMoments  mv' = [m·β1 + t·(1−β1), v·β2 + t²·(1−β2)],   t = (g·scale)·clip
//   FtuneAdamW         θ'  = θ·(1 − lr·wd) − (m' / (√v' / √(1−β2ᵗ) + ε))·(lr / (1−β1ᵗ))
// the same f32 products in the same order as AdamW.apply's tfjs ops (bit-identical on lavapipe).
// Hyper-parameters, the step's lr and bias corrections are uniforms: one compiled pipeline per kernel
// (and per vec4 / scalar binding), whatever the step.
//   FtuneSumSquares    acc + Σ_i Σ (g_i·scale)², optionally √ of it, over as many gradients as one
// shader may bind (maxStorageBuffersPerShaderStage − 2: the output and the running total), in one
// workgroup: a chain of ~n/6 dispatches for n gradients on lavapipe instead of 2n + addN + sqrt.
// Gradients too large for one workgroup (full fine-tuning's embeddings) keep tfjs's parallel sum.
import * as tf from '@tensorflow/tfjs-core';
import { elementwiseProgram, registerWebGpuKernel, reshapeInfo, rowProgram, runKernel, useWebGpuKernel, viewAs, type ProgramUniform, type WebGpuBackend, type WebGpuKernelFunc, type WebGpuProgram } from './program';
import { bindingLimitOf } from '../../webgpu';

export const ADAMW = 'FtuneAdamW';
const ADAMW_MOMENTS = 'FtuneAdamWMoments';
export const SUM_SQUARES = 'FtuneSumSquares';

/** Multipliers applied to a gradient as it is read: (g·scale)·clip, as step.ts's average then clip. */
export interface GradientScaling {
  scale: number;
  clip: number;
}

/** The scalars of one AdamW step, computed in f64 as AdamW.apply computes them for its tfjs ops. */
export interface AdamWStepScalars {
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 − lr·wd */
  decay: number;
  /** √(1 − β2ᵗ) */
  bc2Sqrt: number;
  /** lr / (1 − β1ᵗ) */
  stepSize: number;
}

/**
 * True when a parameter of `size` elements gets packed moments and the fused update: the fused
 * kernels are on and the packed moments fit one storage binding (else tfjs ops, as elsewhere).
 */
export function packsMomentsWebGpu(size: number): boolean {
  return useWebGpuKernel(ADAMW) && 2 * size * 4 <= bindingLimitOf(deviceLimits());
}

/** One AdamW update of θ with packed moments mv = [m…, v…] and gradient g: the new θ and mv (2 dispatches). */
export function adamWUpdateWebGpu(p: tf.Tensor, mv: tf.Tensor, g: tf.Tensor, s: AdamWStepScalars, scaling: GradientScaling): { p: tf.Tensor; mv: tf.Tensor } {
  if (mv.size !== 2 * p.size || g.size !== p.size) throw new Error(`${ADAMW}: moments of ${mv.size} and a gradient of ${g.size} for a parameter of ${p.size}`);
  const mv2 = runKernel<tf.Tensor>(ADAMW_MOMENTS, { mv, g }, { beta1: s.beta1, beta2: s.beta2, scale: scaling.scale, clip: scaling.clip });
  const p2 = runKernel<tf.Tensor>(ADAMW, { p, mv: mv2 }, { decay: s.decay, bc2Sqrt: s.bc2Sqrt, eps: s.eps, stepSize: s.stepSize });
  return { p: p2, mv: mv2 };
}

/** Elements above which a gradient's sum of squares is left to tfjs's parallel reduction. */
const ONE_WORKGROUP_LIMIT = 1 << 20;
const SUM_WORKGROUP = 256;

/** √(Σ over every gradient of Σ (g·scale)²) as a scalar tensor. */
export function globalNormWebGpu(grads: tf.Tensor[], scale: number): tf.Scalar {
  return tf.tidy(() => {
    const small = grads.filter((g) => g.size > 0 && g.size <= ONE_WORKGROUP_LIMIT);
    const large = grads.filter((g) => g.size > ONE_WORKGROUP_LIMIT);
    let acc: tf.Tensor | undefined = large.length
      ? tf.reshape(tf.addN(large.map((g) => tf.sum(tf.square(scale === 1 ? g : tf.mul(g, scale))))), [1])
      : undefined;
    if (small.length === 0) return tf.sqrt(tf.reshape(acc ?? tf.zeros([1]), [])) as tf.Scalar;
    const perCall = Math.max(1, deviceLimits().maxStorageBuffersPerShaderStage - 2);
    for (let i = 0; i < small.length; ) {
      const part = small.slice(i, i + (acc ? perCall : perCall + 1));
      i += part.length;
      const inputs: tf.NamedTensorMap = acc ? { acc } : {};
      part.forEach((g, j) => (inputs[`g${j}`] = g));
      acc = runKernel<tf.Tensor>(SUM_SQUARES, inputs, { scale, finish: i >= small.length ? 1 : 0 });
    }
    return tf.reshape(acc as tf.Tensor, []) as tf.Scalar;
  });
}

function deviceLimits(): { maxStorageBuffersPerShaderStage: number; maxStorageBufferBindingSize: number } {
  const backend = tf.backend() as unknown as { device?: { limits: { maxStorageBuffersPerShaderStage: number; maxStorageBufferBindingSize: number } } };
  // WebGPU's default limits where the backend does not say.
  return backend.device?.limits ?? { maxStorageBuffersPerShaderStage: 8, maxStorageBufferBindingSize: 2 ** 27 };
}

/**
 * A thread per element of the output, every input and the output bound as 1-D: one pipeline for every
 * shape. As vec4 when the parameter's size is a multiple of 4 (then `index` and `uniforms.n`, the
 * parameter's size, count vec4s).
 */
function flatProgram(name: string, variableNames: string[], vec4: boolean, outSize: number, uniforms: string, body: string): WebGpuProgram {
  const c = vec4 ? 4 : 1;
  const program = elementwiseProgram(`${name}_${c}`, variableNames, [outSize], outSize / c, `count : i32, n : i32, ${uniforms}`, `
    fn main(index : i32) {
      if (index < uniforms.count) {
        let n = uniforms.n;${body}
      }
    }`);
  if (vec4) {
    program.variableComponents = variableNames.map(() => 4);
    program.outputComponent = 4;
  }
  return program;
}

/** Runs `program` over `inputs` seen as 1-D, for a parameter of `size` elements; the output is [outSize] seen as `outShape`. */
function runFlat(backend: WebGpuBackend, program: WebGpuProgram, inputs: tf.TensorInfo[], size: number, outShape: number[], uniforms: ProgramUniform[]): tf.TensorInfo {
  if (inputs.some((t) => t.dtype !== 'float32')) throw new Error(`${program.shaderKey}: float32 inputs expected`);
  const c = program.outputComponent ?? 1;
  const outSize = tf.util.sizeFromShape(outShape);
  const sizes: ProgramUniform[] = [{ type: 'int32', data: [outSize / c] }, { type: 'int32', data: [size / c] }];
  const out = backend.runWebGPUProgram(program, inputs.map((t) => viewAs(t, [tf.util.sizeFromShape(t.shape)])), 'float32', [...sizes, ...uniforms]);
  const shaped = reshapeInfo(backend, out, outShape);
  backend.disposeData(out.dataId);
  return shaped;
}

const f32 = (v: number): ProgramUniform => ({ type: 'float32', data: [v] });

const momentsKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { mv, g } = inputs as { mv: tf.TensorInfo; g: tf.TensorInfo };
  const a = attrs as { beta1: number; beta2: number; scale: number; clip: number };
  const size = tf.util.sizeFromShape(g.shape);
  const program = flatProgram('ftune_adamw_moments', ['mv', 'g'], size % 4 === 0, 2 * size, 'beta1 : f32, oneMinusBeta1 : f32, beta2 : f32, oneMinusBeta2 : f32, scale : f32, clip : f32,', `
        if (index < n) {
          let t = (g[index] * uniforms.scale) * uniforms.clip;
          result[index] = mv[index] * uniforms.beta1 + t * uniforms.oneMinusBeta1;
        } else {
          let t = (g[index - n] * uniforms.scale) * uniforms.clip;
          result[index] = mv[index] * uniforms.beta2 + (t * t) * uniforms.oneMinusBeta2;
        }`);
  return runFlat(backend, program, [mv, g], size, mv.shape, [f32(a.beta1), f32(1 - a.beta1), f32(a.beta2), f32(1 - a.beta2), f32(a.scale), f32(a.clip)]);
};

const paramKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { p, mv } = inputs as { p: tf.TensorInfo; mv: tf.TensorInfo };
  const a = attrs as { decay: number; bc2Sqrt: number; eps: number; stepSize: number };
  const size = tf.util.sizeFromShape(p.shape);
  const program = flatProgram('ftune_adamw', ['p', 'mv'], size % 4 === 0, size, 'decay : f32, bc2Sqrt : f32, eps : f32, stepSize : f32,', `
        let denom = sqrt(mv[index + n]) / uniforms.bc2Sqrt + uniforms.eps;
        result[index] = p[index] * uniforms.decay - (mv[index] / denom) * uniforms.stepSize;`);
  return runFlat(backend, program, [p, mv], size, p.shape, [f32(a.decay), f32(a.bc2Sqrt), f32(a.eps), f32(a.stepSize)]);
};

const sumSquaresKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const named = inputs as Record<string, tf.TensorInfo>;
  const acc = named.acc as tf.TensorInfo | undefined;
  const grads: tf.TensorInfo[] = [];
  while (named[`g${grads.length}`]) grads.push(named[`g${grads.length}`]);
  const a = attrs as { scale: number; finish: number };
  const sizes = grads.map((g) => tf.util.sizeFromShape(g.shape));
  const names = [...(acc ? ['acc'] : []), ...grads.map((_, j) => `g${j}`)];
  const loops = grads.map((_, j) => `
      for (var e = tid; e < uniforms.n${j}; e += ${SUM_WORKGROUP}) { let t = g${j}[e] * s; total += t * t; }`).join('');
  const program = rowProgram(`ftune_sumsq_${grads.length}${acc ? 'a' : ''}`, names, [1], 1, SUM_WORKGROUP, `scale : f32, finish : i32, ${sizes.map((_, j) => `n${j} : i32,`).join(' ')}`, () => `
    fn main(index : i32) {
      let tid = i32(localId.x);
      let s = uniforms.scale;
      var total = 0.0;
      ${loops}
      let sum = ftSum(total);
      if (tid == 0) {
        var r = sum${acc ? ' + acc[0]' : ''};
        if (uniforms.finish == 1) { r = sqrt(r); }
        result[0] = r;
      }
    }`);
  const bound = [...(acc ? [viewAs(acc, [1])] : []), ...grads.map((g, j) => viewAs(g, [sizes[j]]))];
  const uniforms: ProgramUniform[] = [f32(a.scale), { type: 'int32', data: [a.finish] }, ...sizes.map((n): ProgramUniform => ({ type: 'int32', data: [n] }))];
  return backend.runWebGPUProgram(program, bound, 'float32', uniforms);
};

export function installWebGpuAdamW(): void {
  registerWebGpuKernel(ADAMW, paramKernel);
  registerWebGpuKernel(ADAMW_MOMENTS, momentsKernel);
  registerWebGpuKernel(SUM_SQUARES, sumSquaresKernel);
}
