// Evaluate while training (issue 19) on the embedded tiny base model with the learning demo's
// arithmetic chats: exact match from the base model (step 0) upwards, the best evaluation kept as
// best/, early stopping, resume keeping the best and the patience counter, and TensorBoard event
// files read back with an independent reader (test/helpers/tfevents.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEMO_MODEL } from '../../src/cli/demo';
import { loadModel } from '../../src/cli/modelArgs';
import { demoHeldOutSet, demoTrainSet } from '../../src/core/demoData';
import type { TrainerEvent } from '../../src/core/protocol';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../src/core/runConfig';
import { readTrainerState } from '../../src/engine/checkpoint';
import { generate } from '../../src/engine/generate';
import { generateGreedyBatch } from '../../src/engine/generateBatch';
import { runTraining } from '../../src/engine/trainer';
import { readEventFile } from '../helpers/tfevents';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-eval19-'));
const trainFile = path.join(root, 'train.jsonl');
const goldenFile = path.join(root, 'golden.jsonl');
fs.writeFileSync(trainFile, demoTrainSet().map((e) => JSON.stringify(e)).join('\n') + '\n');
fs.writeFileSync(goldenFile, demoHeldOutSet().map((e) => JSON.stringify(e)).join('\n') + '\n');

/** The demo's recipe (the model card's): LoRA r16/α32, lr 2e-3 constant, batch 16. */
function config(out: string, extra: Partial<RunConfig>): RunConfig {
  return {
    ...DEFAULT_RUN_CONFIG, model: DEMO_MODEL, data: trainFile, out: path.join(root, out),
    lora_r: 16, lora_alpha: 32, lora_dropout: 0, lr: 2e-3, schedule: 'constant', batch_size: 16, seed: 0, ...extra,
  };
}

async function train(c: RunConfig, resume = false): Promise<{ outcome: string; events: TrainerEvent[] }> {
  const events: TrainerEvent[] = [];
  const outcome = await runTraining({ config: c, resume, emit: (e) => events.push(e) });
  return { outcome, events };
}

function metricsFile(out: string): TrainerEvent[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TrainerEvent);
}

const evalsOf = (events: TrainerEvent[]) => events.filter((e): e is Extract<TrainerEvent, { type: 'eval' }> => e.type === 'eval');
const ADAPTER_FILES = ['adapter_model.safetensors', 'adapter_config.json'];

test('batched greedy decoding (left padding, KV cache) gives each prompt what generate() gives it alone', async () => {
  const loaded = await loadModel(DEMO_MODEL, undefined, 'auto');
  try {
    const questions = ['What is 2 plus 3?', 'Tom has 4 apples and buys 5 more. How many apples does Tom have?', 'Add 7 and 1.'];
    const prompts = questions.map((q) => loaded.tokenizer.encode(loaded.tokenizer.applyChatTemplate([{ role: 'user', content: q }], true)));
    assert.ok(new Set(prompts.map((p) => p.length)).size === 3, 'prompts of different lengths exercise the left padding');
    const eosIds = loaded.model.config.eos_token_id;
    const batched = await generateGreedyBatch(loaded.model, { prompts, maxNewTokens: 12, eosIds, padId: loaded.tokenizer.padTokenId! });
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(loaded.model, { promptIds: prompts[i], eosIds, options: { max_new_tokens: 12, greedy: true, stop: true } });
      assert.deepEqual(batched[i], alone.tokenIds, `prompt ${i}`);
    }
  } finally {
    loaded.dispose();
  }
});

test('exact match on a golden set at every evaluation rises from the base model; best/ is the best evaluation\'s checkpoint; TensorBoard has every scalar', async () => {
  const c = config('learn', {
    max_steps: 60, eval_every: 20, save_every: 20, golden: goldenFile, eval_metrics: ['exact-match'],
    eval_generate_limit: 16, eval_max_new_tokens: 20, best_metric: 'exact_match', report_to: ['tensorboard'],
  });
  const { outcome, events } = await train(c);
  assert.equal(outcome, 'done');
  const evals = evalsOf(metricsFile(c.out));
  assert.deepEqual(evals.map((e) => e.step), [0, 20, 40, 60]);
  for (const e of evals) {
    assert.equal(e.generation_examples, 16);
    assert.ok(typeof e.generation_seconds === 'number' && e.generation_seconds >= 0);
    assert.ok(typeof e.exact_match === 'number' && Number.isFinite(e.eval_loss), 'eval loss on the golden set too (no eval set given)');
  }
  const em = evals.map((e) => e.exact_match!);
  assert.ok(em[0] <= 0.1, `the base model is rarely right: ${em[0]}`);
  assert.ok(Math.max(...em.slice(1)) >= em[0] + 0.25, `exact match ${em.join(' → ')}`);

  // The best evaluation: the first with the highest exact match.
  const bestStep = evals[em.indexOf(Math.max(...em))].step;
  const done = events.find((e) => e.type === 'done');
  assert.ok(done?.type === 'done' && done.best, 'the done event names the best evaluation');
  assert.deepEqual({ metric: done.best.metric, step: done.best.step, value: done.best.value }, { metric: 'exact_match', step: bestStep, value: Math.max(...em) });
  assert.equal(done.best.path, path.join(c.out, 'best'));
  for (const f of ADAPTER_FILES) {
    assert.ok(fs.readFileSync(path.join(c.out, 'best', f)).equals(fs.readFileSync(path.join(c.out, 'checkpoints', `step-${bestStep}`, f))), `best/${f} = step-${bestStep}/${f}`);
  }
  assert.deepEqual(readTrainerState(path.join(c.out, 'checkpoints', 'step-60')).best, done.best);

  // TensorBoard: every number of every step and eval event, at its step; the run config as text.
  const tbDir = path.join(c.out, 'tensorboard');
  const files = fs.readdirSync(tbDir);
  assert.equal(files.length, 1);
  const tb = readEventFile(path.join(tbDir, files[0]));
  assert.equal(tb[0].fileVersion, 'brain.Event:2');
  const configText = tb.flatMap((e) => Object.entries(e.texts)).find(([tag]) => tag === 'run_config');
  assert.ok(configText && configText[1].plugin === 'text');
  assert.deepEqual(JSON.parse(configText[1].text.replace(/^```json\n|\n```$/g, '')), JSON.parse(fs.readFileSync(path.join(c.out, 'run_config.json'), 'utf8')));
  const at = (prefix: string, step: number) => Object.assign({}, ...tb.filter((e) => e.step === step && Object.keys(e.scalars).some((k) => k.startsWith(prefix))).map((e) => e.scalars)) as Record<string, number>;
  const f32 = (x: number) => Math.fround(x);
  const steps = events.filter((e): e is Extract<TrainerEvent, { type: 'step' }> => e.type === 'step');
  assert.equal(steps.length, 60);
  for (const s of steps) {
    const got = at('train/', s.step);
    assert.deepEqual(got, {
      'train/loss': f32(s.loss), 'train/learning_rate': f32(s.lr), 'train/grad_norm': f32(s.grad_norm), 'train/epoch': f32(s.epoch),
      'train/tokens_per_second': f32(s.tokens_per_second), 'train/tokens_seen': f32(s.tokens_seen), 'train/elapsed': f32(s.elapsed),
    }, `step ${s.step}`);
  }
  for (const e of evals) {
    assert.deepEqual(at('eval/', e.step), {
      'eval/loss': f32(e.eval_loss), 'eval/perplexity': f32(e.perplexity), 'eval/exact_match': f32(e.exact_match!),
      'eval/generation_examples': 16, 'eval/generation_seconds': f32(e.generation_seconds!),
    }, `eval at step ${e.step}`);
  }
});

test('early stopping stops after --early-stopping-patience evaluations without improvement; resume keeps the best and the counter', async () => {
  // lr 0: the weights never change, so no evaluation after step 0 improves eval_loss.
  const first = config('patience', { lr: 0, max_steps: 4, eval_every: 2, save_every: 2, early_stopping_patience: 3 });
  await train({ ...first, golden: goldenFile, eval_metrics: ['exact-match'], eval_generate_limit: 4, eval_max_new_tokens: 4 });
  // Evaluations at 0 (best), 2 and 4 (the final one): two without improvement, not yet three.
  const state = readTrainerState(path.join(first.out, 'checkpoints', 'step-4'));
  assert.equal(state.best?.step, 0);
  assert.equal(state.evaluations_without_improvement, 2);
  const bestBefore = fs.readFileSync(path.join(first.out, 'best', 'adapter_model.safetensors'));

  // Resumed for 4 more steps: the third evaluation without improvement (step 6) stops it.
  const resumed = await train({ ...first, max_steps: 8, golden: goldenFile, eval_metrics: ['exact-match'], eval_generate_limit: 4, eval_max_new_tokens: 4 }, true);
  assert.equal(resumed.outcome, 'stopped');
  const stopped = resumed.events.find((e) => e.type === 'stopped');
  assert.ok(stopped?.type === 'stopped');
  assert.equal(stopped.step, 6);
  assert.match(stopped.reason ?? '', /early stopping: eval_loss did not improve for 3 evaluations \(--early-stopping-patience 3\).*step 0/);
  assert.equal(stopped.best?.step, 0);
  assert.ok(fs.readFileSync(path.join(first.out, 'best', 'adapter_model.safetensors')).equals(bestBefore), 'best/ kept across the resume');
  assert.ok(fs.existsSync(path.join(first.out, 'checkpoints', 'step-6', 'trainer_state.json')), 'the stop saves a checkpoint');
  assert.equal(evalsOf(metricsFile(first.out)).filter((e) => e.step === 0).length, 1, 'step 0 is not evaluated again on resume');

  // Without the resume the same patience stops a fresh run at its third evaluation after step 0.
  const fresh = await train(config('patience-fresh', { lr: 0, eval_split: 0.05, max_steps: 20, eval_every: 2, early_stopping_patience: 2, early_stopping_threshold: 0.01 }));
  assert.equal(fresh.outcome, 'stopped');
  const s = fresh.events.find((e) => e.type === 'stopped');
  assert.ok(s?.type === 'stopped');
  // No eval at step 0 without generation metrics: evaluations at 2 (best), 4, 6 → stops at 6.
  assert.equal(s.step, 6);
  assert.match(s.reason ?? '', /by more than 0\.01 for 2 evaluations/);
});

test('without --golden, generation metrics use the held-out rows of --eval-split (the same rows as the eval loss)', async () => {
  const small = path.join(root, 'small.jsonl');
  fs.writeFileSync(small, demoTrainSet(30, 7).map((e) => JSON.stringify(e)).join('\n') + '\n');
  const c = { ...config('split', { max_steps: 1, eval_split: 0.2, eval_metrics: ['exact-match', 'rouge'], eval_generate_limit: 100, eval_max_new_tokens: 4 }), data: small };
  const { outcome, events } = await train(c);
  assert.equal(outcome, 'done');
  const evals = evalsOf(events);
  assert.deepEqual(evals.map((e) => e.step), [0, 1]);
  // 20 % of 30 rows held out: 6 examples generated, scored by both metrics.
  for (const e of evals) {
    assert.equal(e.generation_examples, 6);
    assert.ok(e.exact_match !== undefined && e.rouge_l !== undefined && e.bleu === undefined);
  }
});
