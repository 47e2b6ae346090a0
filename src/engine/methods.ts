// One plan per training method: its data, its objective and its evaluation. The trainer's loop is
// the same for all of them.
//   sft     masked cross-entropy on chats / prompt+completion (+ --mix general data, --neftune-alpha)
//   cpt     cross-entropy on every token of packed text blocks
//   dpo     preference pairs, sigmoid DPO loss against the adapter-off base
//   reward  preference pairs, Bradley–Terry loss on a scalar head (RLHF step 1)
//   grpo    prompts with reference answers, sampled completions scored by a reward (RLHF step 2)
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import { readRecords } from '../core/formats';
import { loadPreferencePairs, type PreferencePair } from '../core/preferences';
import { promptAndReference } from '../core/prompts';
import { mixSeed } from '../core/random';
import { selectExamples } from '../core/selectExamples';
import { describeMapping } from '../core/columnAliases';
import type { RunConfig } from '../core/runConfig';
import type { Tokenizer } from '../core/tokenizer';
import type { Sequence } from './batch';
import { dpoObjective, dpoTerms, preferenceBatch, referenceLogps, sequenceLogps } from './dpo';
import { evaluateLoss } from './evaluate';
import { generate } from './generate';
import { exactMatchReward, formatReward, grpoObjective, rewardModelReward, type RewardFunction, type RlPrompt } from './grpo';
import { LoraAdapter } from './lora';
import type { DecoderModel } from './model';
import type { Objective, StepContext } from './objectives';
import { causalLmObjective } from './objectives';
import { ensureScoreHead, rewardObjective } from './reward';
import { loadTrainingData } from './trainingData';

export interface EvalOutcome {
  eval_loss: number;
  extra?: Record<string, number>;
}

export interface MethodPlan<Item = unknown, Aux = unknown> {
  train: Item[];
  eval: Item[];
  skipped: number;
  notes: string[];
  objective: Objective<Item, Aux>;
  evaluate(items: Item[]): Promise<EvalOutcome>;
  dispose?(): void;
}

interface PlanInputs {
  config: RunConfig;
  tokenizer: Tokenizer;
  model: DecoderModel;
  adapter?: LoraAdapter;
  padId: number;
}

export async function planMethod(inputs: PlanInputs): Promise<MethodPlan> {
  switch (inputs.config.method) {
    case 'sft':
    case 'cpt':
      return (await causalLmPlan(inputs)) as MethodPlan;
    case 'dpo':
    case 'reward':
      return (await preferencePlan(inputs)) as MethodPlan;
    case 'grpo':
      return (await grpoPlan(inputs)) as MethodPlan;
  }
}

async function causalLmPlan({ config, tokenizer, model, adapter, padId }: PlanInputs): Promise<MethodPlan<Sequence>> {
  const data = await loadTrainingData(config, tokenizer);
  return {
    train: data.train, eval: data.eval, skipped: data.skipped, notes: data.notes, objective: causalLmObjective,
    async evaluate(items) {
      const r = await evaluateLoss(model, adapter, items, { batchSize: config.batch_size, padId });
      return { eval_loss: r.loss, extra: { perplexity: r.perplexity } };
    },
  };
}

async function preferencePlan({ config, tokenizer, model, adapter, padId }: PlanInputs): Promise<MethodPlan<PreferencePair>> {
  if (!adapter) throw new Error(`--method ${config.method} trains a LoRA adapter (the reference is the adapter-off base); drop --full`);
  const load = (file: string) => loadPreferencePairs(file, tokenizer, { fields: config.fields, maxLength: config.max_length });
  const main = await load(config.data);
  const ev = config.eval_data ? await load(config.eval_data) : undefined;
  const { train, eval: evalSet, notes } = selectExamples(main.pairs, config, ev?.pairs);
  notes.unshift(`${config.data}: ${main.pairs.length} preference pairs, ${main.skipped_too_long} dropped as longer than ${config.max_length} tokens`);
  if (config.method === 'reward') {
    ensureScoreHead(adapter, model.config.hidden_size, mixSeed(config.seed, 0x5c0e));
    return {
      train, eval: evalSet, skipped: main.skipped_too_long, notes, objective: rewardObjective,
      async evaluate(items) {
        return evaluatePreferences(items, config.batch_size, (batch) =>
          tf.tidy(() => {
            const r = rewardObjective.loss(batch, evalContext(model, adapter, padId));
            return [r.loss, r.metrics!.accuracy];
          }),
        );
      },
    };
  }
  const objective = dpoObjective(config.beta);
  return {
    train, eval: evalSet, skipped: main.skipped_too_long, notes, objective,
    async evaluate(items) {
      let lossSum = 0, correct = 0;
      for (let i = 0; i < items.length; i += config.batch_size) {
        const pairs = items.slice(i, i + config.batch_size);
        const batch = preferenceBatch(pairs, padId);
        const reference = await referenceLogps(model, adapter, batch);
        const [loss, margins] = tf.tidy(() => {
          const t = dpoTerms(sequenceLogps(model, adapter, batch, false), reference, config.beta);
          return [t.loss, tf.sub(t.chosenRewards, t.rejectedRewards)];
        });
        lossSum += (await loss.data())[0];
        correct += Array.from((await margins.data()) as Float32Array).filter((m) => m > 0).length;
        tf.dispose([loss, margins]);
      }
      return { eval_loss: lossSum / Math.max(1, items.length), extra: { 'rewards/accuracies': correct / Math.max(1, items.length) } };
    },
  };
}

async function evaluatePreferences(items: PreferencePair[], batchSize: number, run: (batch: PreferencePair[]) => tf.Tensor[]): Promise<EvalOutcome> {
  let lossSum = 0, correct = 0;
  for (let i = 0; i < items.length; i += batchSize) {
    const [loss, accuracy] = run(items.slice(i, i + batchSize));
    lossSum += (await loss.data())[0];
    correct += (await accuracy.data())[0];
    tf.dispose([loss, accuracy]);
  }
  return { eval_loss: lossSum / Math.max(1, items.length), extra: { accuracy: correct / Math.max(1, items.length) } };
}

function evalContext(model: DecoderModel, adapter: LoraAdapter | undefined, padId: number): StepContext {
  return { model, adapter, padId, training: false, seed: 0, neftuneAlpha: 0, headTrainable: false };
}

async function grpoPlan({ config, tokenizer, model, adapter, padId }: PlanInputs): Promise<MethodPlan<RlPrompt>> {
  if (!adapter) throw new Error('--method grpo trains a LoRA adapter (the KL reference is the adapter-off base); drop --full');
  const mappings: string[] = [];
  const load = async (file: string): Promise<RlPrompt[]> => {
    const { records, mapped } = await readRecords(file, { format: config.format, fields: config.fields });
    if (mapped) mappings.push(`${file}: columns ${describeMapping(mapped)}`);
    const prompts: RlPrompt[] = [];
    for (const r of records) {
      const pair = promptAndReference(r.record, tokenizer);
      if (!pair) continue;
      const promptIds = tokenizer.encode(pair.prompt);
      if (promptIds.length + config.max_completion_length <= config.max_length) prompts.push({ promptIds, reference: pair.reference, line: r.line });
    }
    return prompts;
  };
  const all = await load(config.data);
  const { train, eval: evalSet, notes } = selectExamples(all, config, config.eval_data ? await load(config.eval_data) : undefined);
  notes.unshift(`${config.data}: ${all.length} prompts with reference answers`, ...mappings);
  const eosIds = model.config.eos_token_id;
  let reward: RewardFunction;
  let rewardAdapter: LoraAdapter | undefined;
  if (config.reward === 'exact-match') reward = exactMatchReward;
  else if (config.reward === 'format') reward = (c) => formatReward(c);
  else if (config.reward === 'exact-match+format') reward = (c, p) => exactMatchReward(c, p).map((r, i) => r + 0.5 * formatReward(c)[i]);
  else if (fs.existsSync(config.reward)) {
    rewardAdapter = LoraAdapter.load(config.reward, model);
    reward = rewardModelReward(model, rewardAdapter, padId);
    notes.push(`rewards from the reward model in ${config.reward} (same base weights, its own adapter)`);
  } else {
    throw new Error(`--reward must be exact-match, format, exact-match+format or a reward adapter folder; ${config.reward} is none of these`);
  }
  const objective = grpoObjective(
    { numGenerations: config.num_generations, maxNewTokens: config.max_completion_length, temperature: config.temperature, beta: config.beta, epsilon: 0.2, eosIds },
    tokenizer, reward,
  );
  return {
    train, eval: evalSet, skipped: 0, notes, objective,
    async evaluate(items) {
      // Greedy completions scored by the same reward: mean reward is the number to watch.
      let total = 0;
      for (const p of items) {
        const out = await generate(model, { promptIds: p.promptIds, adapter, eosIds, options: { max_new_tokens: config.max_completion_length, greedy: true, stop: true } });
        const text = tokenizer.decode(out.tokenIds, { skipSpecialTokens: true });
        const ids = [...p.promptIds, ...out.tokenIds];
        total += (await reward([text], p, [{ input_ids: ids, labels: ids }]))[0];
      }
      const mean = total / Math.max(1, items.length);
      return { eval_loss: -mean, extra: { reward: mean } };
    },
    dispose: () => rewardAdapter?.dispose(),
  };
}
