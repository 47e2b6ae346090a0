// One optimiser step: gradients of every micro-batch added up, divided once by the total weight,
// clipped by global norm, checked for NaN/Inf, then AdamW.
import * as tf from '@tensorflow/tfjs-core';
import type { Objective, StepContext } from './objectives';
import { clipCoefficient, globalNorm, type AdamW } from './optimizer';
import { releaseGradientsOnceUsed } from './recompute';

export interface StepOutcome {
  loss: number;
  gradNorm: number;
  tokens: number;
  weight: number;
  metrics: Record<string, number>;
  /** false when the loss or gradient was not finite: nothing was applied. */
  applied: boolean;
}

export interface StepOptions {
  lr: number;
  maxGradNorm: number;
  /** grad norms above this are treated like NaN (the run stops instead of corrupting the weights). */
  explodeAt?: number;
}

/** Sum of the gradients of `items` split into micro-batches, each `ctxFor(i)` giving its context. */
export async function accumulate<Item, Aux>(
  objective: Objective<Item, Aux>,
  microBatches: readonly (readonly Item[])[],
  vars: tf.Variable[],
  ctxFor: (micro: number) => StepContext,
): Promise<{ grads: tf.Tensor[]; lossSum: number; weight: number; tokens: number; metrics: Record<string, number> }> {
  let grads: tf.Tensor[] | undefined;
  let lossSum = 0, weight = 0, tokens = 0;
  const metrics: Record<string, number> = {};
  for (let i = 0; i < microBatches.length; i++) {
    const ctx = ctxFor(i);
    const aux = objective.prepare ? await objective.prepare(microBatches[i], ctx) : undefined;
    let extra: Record<string, tf.Scalar> = {};
    let w = 0, tok = 0;
    const { value, grads: g } = tf.variableGrads(() => {
      const r = objective.loss(microBatches[i], ctx, aux);
      w = r.weight;
      tok = r.tokens;
      extra = Object.fromEntries(Object.entries(r.metrics ?? {}).map(([k, t]) => [k, tf.keep(t)]));
      releaseGradientsOnceUsed(); // e.g. each checkpointed layer's input gradient, once the layer below has it
      return r.loss;
    }, vars);
    lossSum += (await value.data())[0];
    value.dispose();
    for (const [k, t] of Object.entries(extra)) {
      metrics[k] = (metrics[k] ?? 0) + (await t.data())[0];
      t.dispose();
    }
    weight += w;
    tokens += tok;
    const ordered = vars.map((v) => g[v.name]);
    if (!grads) grads = ordered;
    else {
      // Variable by variable: one sum alive beside the two it adds, not a third copy of every gradient.
      grads = grads.map((p, j) => {
        const sum = tf.add(p, ordered[j]);
        tf.dispose([p, ordered[j]]);
        return sum;
      });
    }
  }
  return { grads: grads ?? [], lossSum, weight, tokens, metrics };
}

/** Accumulates, averages, clips and applies one AdamW update. */
export async function optimizerStep<Item, Aux>(
  objective: Objective<Item, Aux>,
  microBatches: readonly (readonly Item[])[],
  vars: tf.Variable[],
  optimizer: AdamW,
  ctxFor: (micro: number) => StepContext,
  options: StepOptions,
): Promise<StepOutcome> {
  const acc = await accumulate(objective, microBatches, vars, ctxFor);
  const scale = 1 / Math.max(1, acc.weight);
  // The average (× scale) and the clip coefficient are applied where each gradient is read (the norm,
  // AdamW's update; on webgpu inside the fused kernels): no averaged or clipped copy of every
  // gradient is made, which held two more copies of the trainable weights at once.
  const normT = globalNorm(acc.grads, scale);
  const gradNorm = (await normT.data())[0];
  normT.dispose();
  const loss = acc.lossSum * scale;
  const metrics = Object.fromEntries(Object.entries(acc.metrics).map(([k, v]) => [k, v * scale]));
  const finite = Number.isFinite(loss) && Number.isFinite(gradNorm) && gradNorm <= (options.explodeAt ?? Infinity);
  if (finite) optimizer.apply(acc.grads, options.lr, { scale, clip: clipCoefficient(gradNorm, options.maxGradNorm) });
  tf.dispose(acc.grads);
  return { loss, gradNorm, tokens: acc.tokens, weight: acc.weight, metrics, applied: finite };
}
