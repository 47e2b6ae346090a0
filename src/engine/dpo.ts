// Direct Preference Optimisation (Rafailov et al. 2023), sigmoid loss as TRL's DPOTrainer:
//   loss = −log σ(β·[(log πθ(c) − log πref(c)) − (log πθ(r) − log πref(r))])
// The reference model is the same base with the LoRA adapter switched off (no second weight copy);
// its log-probs are computed once per batch, outside the gradient tape.
import * as tf from '@tensorflow/tfjs-core';
import type { PreferencePair } from '../core/preferences';
import { collate, idsTensor, type Batch } from './batch';
import { sumPerSequence, tokenLogProbs } from './logprobs';
import type { DecoderModel } from './model';
import type { LoraAdapter } from './lora';
import type { Objective, StepContext } from './objectives';

/** Chosen sequences first, then rejected: [c0..cP-1, r0..rP-1]. */
export function preferenceBatch(pairs: readonly PreferencePair[], padId: number): Batch {
  return collate([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], padId);
}

/** Σ log p(completion) per sequence of the batch: [2P]. */
export function sequenceLogps(model: DecoderModel, adapter: LoraAdapter | undefined, batch: Batch, training: boolean, seed?: number): tf.Tensor1D {
  const { hidden } = model.forward(idsTensor(batch), { adapter, training, dropoutSeed: seed });
  return sumPerSequence(tokenLogProbs(hidden, model.head, batch.positions), batch.positions, batch.B, batch.T);
}

/** Reference log-probs (adapter off), plain numbers: computed once, never differentiated. */
export async function referenceLogps(model: DecoderModel, adapter: LoraAdapter | undefined, batch: Batch): Promise<Float32Array> {
  const wasEnabled = adapter?.enabled ?? false;
  if (adapter) adapter.enabled = false;
  try {
    const t = tf.tidy(() => sequenceLogps(model, adapter, batch, false));
    const values = (await t.data()) as Float32Array;
    t.dispose();
    return values;
  } finally {
    if (adapter) adapter.enabled = wasEnabled;
  }
}

export interface DpoTerms {
  loss: tf.Scalar;
  chosenRewards: tf.Tensor1D;
  rejectedRewards: tf.Tensor1D;
}

/** Per-pair DPO terms from policy log-probs [2P] and reference log-probs [2P]; loss is the SUM over pairs. */
export function dpoTerms(policy: tf.Tensor1D, reference: Float32Array, beta: number): DpoTerms {
  const P = policy.shape[0] / 2;
  const ref = tf.tensor1d(reference);
  const logRatio = tf.sub(policy, ref);
  const chosenRewards = tf.mul(tf.slice(logRatio, 0, P), beta) as tf.Tensor1D;
  const rejectedRewards = tf.mul(tf.slice(logRatio, P, P), beta) as tf.Tensor1D;
  // −log σ(z) = softplus(−z). (tf.logSigmoid's own gradient reads its input after the engine has
  // disposed it, so it cannot be differentiated inside variableGrads.)
  const loss = tf.sum(tf.softplus(tf.neg(tf.sub(chosenRewards, rejectedRewards)))) as tf.Scalar;
  return { loss, chosenRewards, rejectedRewards };
}

export interface DpoAux {
  batch: Batch;
  reference: Float32Array;
}

export function dpoObjective(beta: number): Objective<PreferencePair, DpoAux> {
  return {
    name: 'dpo',
    async prepare(pairs, ctx) {
      const batch = preferenceBatch(pairs, ctx.padId);
      return { batch, reference: await referenceLogps(ctx.model, ctx.adapter, batch) };
    },
    loss(pairs, ctx: StepContext, aux) {
      const policy = sequenceLogps(ctx.model, ctx.adapter, aux!.batch, ctx.training, ctx.seed);
      const { loss, chosenRewards, rejectedRewards } = dpoTerms(policy, aux!.reference, beta);
      const margins = tf.sub(chosenRewards, rejectedRewards);
      return {
        loss,
        weight: pairs.length,
        tokens: aux!.batch.tokens,
        // Sums over pairs; the step divides by the number of pairs (TRL logs the means).
        metrics: {
          'rewards/chosen': tf.sum(chosenRewards) as tf.Scalar,
          'rewards/rejected': tf.sum(rejectedRewards) as tf.Scalar,
          'rewards/margins': tf.sum(margins) as tf.Scalar,
          'rewards/accuracies': tf.sum(tf.cast(tf.greater(margins, 0), 'float32')) as tf.Scalar,
        },
      };
    },
  };
}
