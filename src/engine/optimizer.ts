// AdamW with torch.optim.AdamW semantics, global-norm gradient clipping as
// torch.nn.utils.clip_grad_norm_, and the learning-rate schedules of transformers' get_scheduler.
// (tfjs has no AdamW and no global-norm clipping.)
import * as tf from '@tensorflow/tfjs-core';
import type { Schedule } from '../core/runConfig';

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

export class AdamW {
  private m: tf.Variable[];
  private v: tf.Variable[];
  step = 0;

  constructor(private readonly params: tf.Variable[], readonly settings: AdamWSettings) {
    this.m = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p), false));
  }

  /**
   * One update with learning rate `lr` (already scheduled):
   *   θ ← θ − lr·wd·θ;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
   *   θ ← θ − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
   */
  apply(grads: tf.Tensor[], lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.settings;
    this.step += 1;
    const bc1 = 1 - beta1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.step);
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const decayed = weightDecay !== 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)));
      });
    });
  }

  async state(): Promise<AdamWState> {
    return {
      step: this.step,
      m: await Promise.all(this.m.map(async (t) => (await t.data()) as Float32Array)),
      v: await Promise.all(this.v.map(async (t) => (await t.data()) as Float32Array)),
    };
  }

  restore(state: AdamWState): void {
    if (state.m.length !== this.m.length) throw new Error(`optimizer state has ${state.m.length} moments, the model ${this.m.length} parameters`);
    this.step = state.step;
    this.m.forEach((t, i) => t.assign(tf.tensor(state.m[i], t.shape)));
    this.v.forEach((t, i) => t.assign(tf.tensor(state.v[i], t.shape)));
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/** L2 norm over all gradients together, as one scalar tensor. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** clip_grad_norm_: scale every gradient by min(1, max_norm / (norm + 1e-6)). Returns new tensors. */
export function clipByGlobalNorm(grads: tf.Tensor[], norm: number, maxNorm: number): tf.Tensor[] {
  if (maxNorm <= 0) return grads;
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  if (coef >= 1) return grads;
  return grads.map((g) => tf.mul(g, coef));
}

/** Learning rate at optimiser step `step` (0-based), as transformers' schedulers compute it. */
export function learningRate(schedule: Schedule, baseLr: number, step: number, totalSteps: number, warmupSteps: number): number {
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  if (schedule === 'constant') return baseLr;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (schedule === 'linear') return baseLr * Math.max(0, 1 - progress);
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
