// AdamW with torch.optim.AdamW semantics, global-norm gradient clipping as
// torch.nn.utils.clip_grad_norm_, and the learning-rate schedules of transformers' get_scheduler.
// (tfjs has no AdamW and no global-norm clipping.)
import * as tf from '@tensorflow/tfjs-core';
import type { Schedule } from '../core/runConfig';
import { adamWUpdateWebGpu, globalNormWebGpu, packsMomentsWebGpu, SUM_SQUARES, type GradientScaling } from './kernels/webgpu/adamW';
import { useWebGpuKernel } from './kernels/webgpu/program';

export type { GradientScaling } from './kernels/webgpu/adamW';

export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Optimiser state that must survive a resume: step count and both moments of every variable. */
export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

/** A parameter's moments, as tfjs ops use them. */
interface SplitMoments {
  m: tf.Variable;
  v: tf.Variable;
}

/** A parameter's moments in one flat variable [m…, v…]: the fused webgpu update's layout (one dispatch updates both). */
interface PackedMoments {
  mv: tf.Variable;
}

export class AdamW {
  private readonly moments: (SplitMoments | PackedMoments)[];
  step = 0;

  constructor(private readonly params: tf.Variable[], readonly settings: AdamWSettings) {
    // Packed where the fused webgpu kernels run (decided here, for the optimiser's life). In a tidy:
    // the zeros would otherwise stay alive after the first assign.
    this.moments = params.map((p) => tf.tidy(() => (packsMomentsWebGpu(p.size)
      ? { mv: tf.variable(tf.zeros([2 * p.size]), false) }
      : { m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false) })));
  }

  /**
   * One update with learning rate `lr` (already scheduled):
   *   θ ← θ − lr·wd·θ;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
   *   θ ← θ − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
   * With `scaling`, g is (grads[i]·scale)·clip (step.ts's average and clip, folded into the update).
   * On webgpu, 2 fused dispatches per variable (kernels/webgpu/adamW.ts); elsewhere tfjs ops.
   */
  apply(grads: tf.Tensor[], lr: number, scaling?: GradientScaling): void {
    const { beta1, beta2, eps, weightDecay } = this.settings;
    this.step += 1;
    const bc1 = 1 - beta1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.step);
    const scalars = { beta1, beta2, eps, decay: 1 - lr * weightDecay, bc2Sqrt, stepSize: lr / bc1 };
    // One tidy per parameter: the ~10 temporaries of an update are freed before the next one starts.
    // (One tidy around all of them held ~10 copies of every trainable weight at once: 570 MiB for
    // LoRA r 8 on a 3B model, more than its activations.)
    this.params.forEach((p, i) => tf.tidy(() => {
      const state = this.moments[i];
      if ('mv' in state) {
        const next = adamWUpdateWebGpu(p, state.mv, grads[i], scalars, scaling ?? { scale: 1, clip: 1 });
        state.mv.assign(next.mv);
        p.assign(next.p);
        return;
      }
      const g = scaling ? tf.mul(tf.mul(grads[i], scaling.scale), scaling.clip) : grads[i];
      const m = tf.add(tf.mul(state.m, beta1), tf.mul(g, 1 - beta1));
      const v = tf.add(tf.mul(state.v, beta2), tf.mul(tf.square(g), 1 - beta2));
      state.m.assign(m);
      state.v.assign(v);
      const decayed = weightDecay !== 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
      const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
      p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)));
    }));
  }

  async state(): Promise<AdamWState> {
    const data = async (t: tf.Tensor) => (await t.data()) as Float32Array;
    const moments = await Promise.all(this.moments.map(async (s): Promise<[Float32Array, Float32Array]> => {
      if (!('mv' in s)) return [await data(s.m), await data(s.v)];
      const packed = await data(s.mv);
      return [packed.slice(0, packed.length / 2), packed.slice(packed.length / 2)];
    }));
    return { step: this.step, m: moments.map(([m]) => m), v: moments.map(([, v]) => v) };
  }

  restore(state: AdamWState): void {
    if (state.m.length !== this.params.length) throw new Error(`optimizer state has ${state.m.length} moments, the model ${this.params.length} parameters`);
    this.step = state.step;
    tf.tidy(() => {
      this.moments.forEach((s, i) => {
        if ('mv' in s) {
          const packed = new Float32Array(s.mv.size);
          packed.set(state.m[i]);
          packed.set(state.v[i], s.mv.size / 2);
          s.mv.assign(tf.tensor(packed, s.mv.shape));
        } else {
          s.m.assign(tf.tensor(state.m[i], s.m.shape));
          s.v.assign(tf.tensor(state.v[i], s.v.shape));
        }
      });
    });
  }

  dispose(): void {
    for (const s of this.moments) tf.dispose('mv' in s ? [s.mv] : [s.m, s.v]);
  }
}

/**
 * L2 norm over all gradients together (each multiplied by `scale` first), as one scalar tensor. On
 * webgpu a fused sum of squares (kernels/webgpu/adamW.ts); elsewhere tfjs ops.
 */
export function globalNorm(grads: tf.Tensor[], scale = 1): tf.Scalar {
  if (useWebGpuKernel(SUM_SQUARES)) return globalNormWebGpu(grads, scale);
  // Each gradient's sum of squares in its own tidy: one scaled and squared copy alive at a time.
  const sums = grads.map((g) => tf.tidy(() => tf.sum(tf.square(scale === 1 ? g : tf.mul(g, scale)))));
  const norm = tf.tidy(() => tf.sqrt(tf.addN(sums)) as tf.Scalar);
  tf.dispose(sums);
  return norm;
}

/** clip_grad_norm_'s factor: min(1, max_norm / (norm + 1e-6)), 1 when max_norm ≤ 0 (no clipping). */
export function clipCoefficient(norm: number, maxNorm: number): number {
  return maxNorm <= 0 ? 1 : Math.min(1, maxNorm / (norm + 1e-6));
}

/** Learning rate at optimiser step `step` (0-based), as transformers' schedulers compute it. */
export function learningRate(schedule: Schedule, baseLr: number, step: number, totalSteps: number, warmupSteps: number): number {
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  if (schedule === 'constant') return baseLr;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (schedule === 'linear') return baseLr * Math.max(0, 1 - progress);
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
