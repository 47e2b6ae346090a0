// Reward model (RLHF step 1): the base + LoRA with a scalar head `score` [1, D] read at the last real
// token of prompt+response, trained with the Bradley–Terry loss −log σ(r(chosen) − r(rejected)),
// as TRL's RewardTrainer on AutoModelForSequenceClassification(num_labels=1).
import * as tf from '@tensorflow/tfjs-core';
import type { PreferencePair } from '../core/preferences';
import { collate, idsTensor, type Batch, type Sequence } from './batch';
import { SCORE_HEAD, trainable, type LoraAdapter } from './lora';
import type { DecoderModel } from './model';
import type { Objective } from './objectives';

/** Adds a fresh score head (N(0, 0.02), as transformers initialises it) unless the adapter has one. */
export function ensureScoreHead(adapter: LoraAdapter, hiddenSize: number, seed: number): void {
  if (adapter.extras.has(SCORE_HEAD)) return;
  adapter.extras.set(SCORE_HEAD, trainable(() => tf.randomNormal([1, hiddenSize], 0, 0.02, 'float32', seed), `score#${seed}`));
}

/** Rewards [B] of each sequence of `batch`, read at its last real token. */
export function sequenceRewards(model: DecoderModel, adapter: LoraAdapter, batch: Batch, lengths: readonly number[], training: boolean, seed?: number): tf.Tensor1D {
  const head = adapter.extras.get(SCORE_HEAD);
  if (!head) throw new Error('this adapter has no reward head (train it with --method reward)');
  const { hidden } = model.forward(idsTensor(batch), { adapter, training, dropoutSeed: seed });
  // A one-hot selection matrix picks each sequence's last token with an ordinary (differentiable) matmul.
  const select = new Float32Array(batch.B * batch.B * batch.T);
  lengths.forEach((len, b) => (select[b * batch.B * batch.T + b * batch.T + len - 1] = 1));
  const last = tf.matMul(tf.tensor2d(select, [batch.B, batch.B * batch.T]), hidden);
  return tf.reshape(tf.matMul(last, head, false, true), [batch.B]) as tf.Tensor1D;
}

export function scoreSequences(model: DecoderModel, adapter: LoraAdapter, sequences: readonly Sequence[], padId: number): tf.Tensor1D {
  return sequenceRewards(model, adapter, collate(sequences, padId), sequences.map((s) => s.input_ids.length), false);
}

export const rewardObjective: Objective<PreferencePair> = {
  name: 'reward',
  loss(pairs, ctx) {
    if (!ctx.adapter) throw new Error('reward model training needs LoRA (not --full)');
    const sequences = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
    const batch = collate(sequences, ctx.padId);
    const rewards = sequenceRewards(ctx.model, ctx.adapter, batch, sequences.map((s) => s.input_ids.length), ctx.training, ctx.seed);
    const P = pairs.length;
    const margin = tf.sub(tf.slice(rewards, 0, P), tf.slice(rewards, P, P));
    return {
      loss: tf.sum(tf.softplus(tf.neg(margin))) as tf.Scalar, // −log σ(margin), summed over pairs
      weight: P,
      tokens: batch.tokens,
      metrics: {
        accuracy: tf.sum(tf.cast(tf.greater(margin, 0), 'float32')) as tf.Scalar,
        margin: tf.sum(margin) as tf.Scalar,
      },
    };
  },
};
