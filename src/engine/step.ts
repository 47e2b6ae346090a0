// One optimiser step: gradients of every micro-batch added up, divided once by the total weight,
// clipped by global norm, checked for NaN/Inf, then AdamW.
import * as tf from '@tensorflow/tfjs-core';
import type { Objective, StepContext } from './objectives';
import { clipByGlobalNorm, clipCoefficient, foldsGradientScaling, globalNorm, type AdamW } from './optimizer';

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
      const prev = grads;
      grads = prev.map((p, j) => tf.add(p, ordered[j]));
      tf.dispose([...prev, ...ordered]);
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
  // On webgpu the fused norm and AdamW kernels multiply each gradient by `scale` (and the clip
  // coefficient) as they read it: the same products, without a dispatch and a copy per variable each.
  const fold = foldsGradientScaling();
  const averaged = fold ? acc.grads : acc.grads.map((g) => tf.mul(g, scale));
  if (!fold) tf.dispose(acc.grads);
  const normT = fold ? globalNorm(averaged, scale) : globalNorm(averaged);
  const gradNorm = (await normT.data())[0];
  normT.dispose();
  const loss = acc.lossSum * scale;
  const metrics = Object.fromEntries(Object.entries(acc.metrics).map(([k, v]) => [k, v * scale]));
  const finite = Number.isFinite(loss) && Number.isFinite(gradNorm) && gradNorm <= (options.explodeAt ?? Infinity);
  if (finite && fold) {
    optimizer.apply(averaged, options.lr, { scale, clip: clipCoefficient(gradNorm, options.maxGradNorm) });
  } else if (finite) {
    const clipped = clipByGlobalNorm(averaged, gradNorm, options.maxGradNorm);
    optimizer.apply(clipped, options.lr);
    if (clipped !== averaged) tf.dispose(clipped);
  }
  tf.dispose(averaged);
  return { loss, gradNorm, tokens: acc.tokens, weight: acc.weight, metrics, applied: finite };
}
