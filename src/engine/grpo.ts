// Group Relative Policy Optimisation (Shao et al. 2024, DeepSeekMath), as TRL's GRPOTrainer with one
// update per generation: for each prompt, sample G completions from the current policy, score them
// (a verifiable reward or a reward model), normalise the rewards within the group into advantages,
// and maximise  Σ_t min(ρ_t·A, clip(ρ_t, 1±ε)·A) − β·KL_t  per completion (mean over its tokens),
// with ρ_t = πθ/πθ_old and the k3 estimator KL_t = e^(ref−logp) − (ref−logp) − 1 against the base.
import * as tf from '@tensorflow/tfjs-core';
import { answersMatch } from '../core/answer';
import { mixSeed } from '../core/random';
import type { Tokenizer } from '../core/tokenizer';
import { collate, idsTensor, type Batch, type Sequence } from './batch';
import { generate } from './generate';
import { IGNORE_INDEX } from './loss';
import { tokenLogProbs } from './logprobs';
import type { LoraAdapter } from './lora';
import type { DecoderModel } from './model';
import type { Objective, StepContext } from './objectives';
import { scoreSequences } from './reward';

export interface RlPrompt {
  promptIds: number[];
  /** the reference answer, for verifiable rewards. */
  reference: string;
  line: number;
}

export type RewardFunction = (completions: string[], prompt: RlPrompt, sequences: Sequence[]) => Promise<number[]> | number[];

export interface GrpoSettings {
  numGenerations: number;
  maxNewTokens: number;
  temperature: number;
  beta: number;
  epsilon: number;
  eosIds: number[];
}

/** Group-normalised advantages: (r − mean) / (std + 1e-4), std unbiased as torch.std (TRL). */
export function groupAdvantages(rewards: readonly number[], groupSize: number): number[] {
  const out: number[] = [];
  for (let g = 0; g < rewards.length; g += groupSize) {
    const group = rewards.slice(g, g + groupSize);
    const mean = group.reduce((a, b) => a + b, 0) / group.length;
    const variance = group.length > 1 ? group.reduce((a, r) => a + (r - mean) ** 2, 0) / (group.length - 1) : 0;
    const std = Math.sqrt(variance);
    for (const r of group) out.push((r - mean) / (std + 1e-4));
  }
  return out;
}

/** 1 when the completion's final answer (#### n, else last number) equals the reference's. */
export function exactMatchReward(completions: string[], prompt: RlPrompt): number[] {
  return completions.map((c) => (answersMatch(c, prompt.reference) ? 1 : 0));
}

/** 1 when the completion ends its reasoning with a GSM8K-style `#### <number>` line. */
export function formatReward(completions: string[]): number[] {
  return completions.map((c) => (/####\s*-?[\d,.]+\s*$/.test(c.trim()) ? 1 : 0));
}

export function rewardModelReward(model: DecoderModel, rewardAdapter: LoraAdapter, padId: number): RewardFunction {
  return async (_completions, _prompt, sequences) => {
    const t = tf.tidy(() => scoreSequences(model, rewardAdapter, sequences, padId));
    const values = Array.from(await t.data());
    t.dispose();
    return values;
  };
}

export interface GrpoAux {
  batch: Batch;
  advantages: Float32Array; // per labelled token
  tokenWeights: Float32Array; // 1/|completion| per labelled token
  oldLogps: Float32Array;
  refLogps: Float32Array;
  rewardSum: number;
  lengthSum: number;
}

async function tokenLogpsNoGrad(model: DecoderModel, adapter: LoraAdapter | undefined, batch: Batch): Promise<Float32Array> {
  const t = tf.tidy(() => tokenLogProbs(model.forward(idsTensor(batch), { adapter }).hidden, model.head, batch.positions));
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

export function grpoObjective(settings: GrpoSettings, tokenizer: Tokenizer, reward: RewardFunction): Objective<RlPrompt, GrpoAux> {
  return {
    name: 'grpo',
    async prepare(prompts, ctx: StepContext) {
      const sequences: Sequence[] = [];
      const rewards: number[] = [];
      let lengthSum = 0;
      for (let p = 0; p < prompts.length; p++) {
        const prompt = prompts[p];
        const completions: string[] = [];
        const group: Sequence[] = [];
        for (let g = 0; g < settings.numGenerations; g++) {
          const out = await generate(ctx.model, {
            promptIds: prompt.promptIds, adapter: ctx.adapter, eosIds: settings.eosIds,
            options: { max_new_tokens: settings.maxNewTokens, greedy: false, temperature: settings.temperature, stop: true, seed: mixSeed(ctx.seed, p, g) },
          });
          completions.push(tokenizer.decode(out.tokenIds, { skipSpecialTokens: true }));
          lengthSum += out.tokenIds.length;
          const ids = [...prompt.promptIds, ...out.tokenIds];
          // Labels are the unshifted targets: the completion's tokens (the loss shifts them).
          group.push({ input_ids: ids, labels: ids.map((id, i) => (i < prompt.promptIds.length ? IGNORE_INDEX : id)) });
        }
        rewards.push(...(await reward(completions, prompt, group)));
        sequences.push(...group);
      }
      const batch = collate(sequences, ctx.padId);
      const perSequence = groupAdvantages(rewards, settings.numGenerations);
      const n = batch.positions.rows.length;
      const advantages = new Float32Array(n), tokenWeights = new Float32Array(n);
      const counts = new Map<number, number>();
      for (const row of batch.positions.rows) counts.set(Math.floor(row / batch.T), (counts.get(Math.floor(row / batch.T)) ?? 0) + 1);
      batch.positions.rows.forEach((row, i) => {
        const s = Math.floor(row / batch.T);
        advantages[i] = perSequence[s];
        tokenWeights[i] = 1 / counts.get(s)!;
      });
      const oldLogps = await tokenLogpsNoGrad(ctx.model, ctx.adapter, batch);
      const wasEnabled = ctx.adapter?.enabled ?? false;
      if (ctx.adapter) ctx.adapter.enabled = false;
      const refLogps = await tokenLogpsNoGrad(ctx.model, ctx.adapter, batch);
      if (ctx.adapter) ctx.adapter.enabled = wasEnabled;
      return { batch, advantages, tokenWeights, oldLogps, refLogps, rewardSum: rewards.reduce((a, b) => a + b, 0), lengthSum };
    },
    loss(prompts, ctx, aux) {
      const a = aux!;
      const sequences = prompts.length * settings.numGenerations;
      const n = a.batch.positions.rows.length;
      if (n === 0) {
        // Every completion was empty: nothing to learn from this batch.
        return { loss: tf.scalar(0), weight: sequences, tokens: a.batch.tokens };
      }
      const { hidden } = ctx.model.forward(idsTensor(a.batch), { adapter: ctx.adapter, training: ctx.training, dropoutSeed: ctx.seed });
      const logp = tokenLogProbs(hidden, ctx.model.head, a.batch.positions);
      const adv = tf.tensor1d(a.advantages);
      const ratio = tf.exp(tf.sub(logp, tf.tensor1d(a.oldLogps)));
      const surrogate = tf.minimum(tf.mul(ratio, adv), tf.mul(tf.clipByValue(ratio, 1 - settings.epsilon, 1 + settings.epsilon), adv));
      const delta = tf.sub(tf.tensor1d(a.refLogps), logp);
      const kl = tf.sub(tf.sub(tf.exp(delta), delta), 1);
      const perToken = tf.sub(tf.mul(kl, settings.beta), surrogate);
      const weights = tf.tensor1d(a.tokenWeights);
      return {
        loss: tf.sum(tf.mul(perToken, weights)) as tf.Scalar, // Σ over completions of their token-mean loss
        weight: sequences,
        tokens: a.batch.tokens,
        metrics: {
          reward: tf.scalar(a.rewardSum),
          kl: tf.sum(tf.mul(kl, weights)) as tf.Scalar,
          completion_length: tf.scalar(a.lengthSum),
        },
      };
    },
  };
}
