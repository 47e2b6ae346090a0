// Training objectives. Each returns a SUM of per-item losses for one micro-batch and the count it is
// averaged by, so gradient accumulation is exact: the trainer adds the gradients of all micro-batches
// and divides once by the total count (token-weighted for SFT, as transformers does with
// num_items_in_batch).
import * as tf from '@tensorflow/tfjs-core';
import { collate, idsTensor, type Sequence } from './batch';
import { crossEntropySum } from './loss';
import type { LoraAdapter } from './lora';
import type { DecoderModel } from './model';

export interface StepContext {
  model: DecoderModel;
  adapter?: LoraAdapter;
  padId: number;
  training: boolean;
  /** seeds dropout / NEFTune noise for this micro-batch. */
  seed: number;
  neftuneAlpha: number;
  /** full fine-tuning: the head gets a gradient too. */
  headTrainable: boolean;
}

export interface ObjectiveResult {
  loss: tf.Scalar;
  /** what the loss sum is divided by. */
  weight: number;
  /** real tokens processed (throughput). */
  tokens: number;
  /** extra per-step metrics as sums over items; the step divides them by the total `weight`. */
  metrics?: Record<string, tf.Scalar>;
}

export interface Objective<Item, Aux = undefined> {
  readonly name: string;
  /** work done once per micro-batch outside the gradient tape (e.g. DPO's reference log-probs). */
  prepare?(items: readonly Item[], ctx: StepContext): Promise<Aux>;
  loss(items: readonly Item[], ctx: StepContext, aux?: Aux): ObjectiveResult;
}

/** Masked next-token cross-entropy (SFT and continued pre-training). */
export const causalLmObjective: Objective<Sequence> = {
  name: 'causal-lm',
  loss(items, ctx) {
    const batch = collate(items, ctx.padId);
    const { hidden } = ctx.model.forward(idsTensor(batch), {
      adapter: ctx.adapter,
      training: ctx.training,
      dropoutSeed: ctx.seed,
      neftuneAlpha: ctx.neftuneAlpha,
    });
    return {
      loss: crossEntropySum(hidden, ctx.model.head, batch.positions, ctx.headTrainable),
      weight: batch.positions.rows.length,
      tokens: batch.tokens,
    };
  },
};
