// The methods beyond SFT: reward model, GRPO pieces, continued pre-training, data mixing.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../src/core/runConfig';
import type { TrainerEvent } from '../../src/core/protocol';
import { initBackend } from '../../src/engine/backend';
import { exactMatchReward, formatReward, groupAdvantages } from '../../src/engine/grpo';
import { LoraAdapter, SCORE_HEAD } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import type { StepContext } from '../../src/engine/objectives';
import { ensureScoreHead, rewardObjective, scoreSequences } from '../../src/engine/reward';
import { accumulate } from '../../src/engine/step';
import { runTraining } from '../../src/engine/trainer';
import { mixCount, parseMix } from '../../src/engine/trainingData';
import { TINY_BASE } from '../helpers/conformance';
import { selectExamples } from '../../src/core/selectExamples';

const MODEL = path.resolve(__dirname, '..', '..', '..', 'examples', 'models', 'tiny-gsm8k-base');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-methods-'));

function writeJsonl(file: string, rows: unknown[]): string {
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

async function train(config: Partial<RunConfig> & Pick<RunConfig, 'data' | 'out'>): Promise<TrainerEvent[]> {
  const events: TrainerEvent[] = [];
  const outcome = await runTraining({
    config: { ...DEFAULT_RUN_CONFIG, model: MODEL, backend: 'wasm', seed: 1, ...config },
    resume: false,
    emit: (e) => events.push(e),
  });
  assert.equal(outcome, 'done', JSON.stringify(events.filter((e) => e.type === 'failed')));
  return events;
}

before(async () => {
  await initBackend('wasm');
  assert.ok(fs.existsSync(path.join(MODEL, 'model.safetensors')) || fs.existsSync(TINY_BASE));
});

describe('GRPO pieces', () => {
  test('group advantages are (r − mean) / (unbiased std + 1e-4) within each group', () => {
    const a = groupAdvantages([1, 0, 0, 1, 2, 2, 2, 2], 4);
    const std = Math.sqrt((4 * 0.25) / 3); // group [1,0,0,1]: mean 0.5, Σ(r−m)² = 1
    assert.deepEqual(a.slice(0, 4).map((x) => +x.toFixed(6)), [0.5, -0.5, -0.5, 0.5].map((x) => +(x / (std + 1e-4)).toFixed(6)));
    assert.deepEqual(a.slice(4), [0, 0, 0, 0], 'a group with equal rewards carries no signal');
  });

  test('verifiable rewards: exact answer match and the #### format', () => {
    const prompt = { promptIds: [1], reference: 'so 3 + 4 = 7\n#### 7', line: 1 };
    assert.deepEqual(exactMatchReward(['3 + 4 = 7\n#### 7', '#### 8', 'it is 7', 'nothing'], prompt), [1, 0, 1, 0]);
    assert.deepEqual(formatReward(['3 + 4 = 7\n#### 7', 'it is 7', '#### 1,000']), [1, 0, 1]);
  });
});

describe('reward model', () => {
  test('Bradley–Terry loss equals softplus(−(r_chosen − r_rejected)) and trains the head and LoRA', async () => {
    const model = DecoderModel.load(MODEL);
    const adapter = LoraAdapter.create(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] }, 1);
    ensureScoreHead(adapter, model.config.hidden_size, 7);
    try {
      const chosen = { input_ids: [510, 40, 41, 42, 511], labels: [-100, -100, -100, -100, -100] };
      const rejected = { input_ids: [510, 40, 43, 511], labels: [-100, -100, -100, -100] };
      const pair = { chosen: { ...chosen, line: 1 }, rejected: { ...rejected, line: 1 }, line: 1 };
      const rewards = tf.tidy(() => scoreSequences(model, adapter, [chosen, rejected], 509));
      const [rc, rr] = Array.from(await rewards.data());
      rewards.dispose();
      const ctx: StepContext = { model, adapter, padId: 509, training: false, seed: 0, neftuneAlpha: 0, headTrainable: false };
      const lossT = tf.tidy(() => rewardObjective.loss([pair], ctx).loss);
      const expected = Math.log1p(Math.exp(-(rc - rr)));
      assert.ok(Math.abs((await lossT.data())[0] - expected) < 1e-5);
      lossT.dispose();
      // A reward read at the last real token does not depend on padding.
      const padded = tf.tidy(() => scoreSequences(model, adapter, [rejected, chosen], 509));
      assert.ok(Math.abs((await padded.data())[0] - rr) < 1e-4);
      padded.dispose();
      const vars = adapter.variables();
      const acc = await accumulate(rewardObjective, [[pair]], vars, () => ctx);
      const headGrad = acc.grads[vars.indexOf(adapter.extras.get(SCORE_HEAD)!)];
      assert.ok((await tf.sum(tf.abs(headGrad)).data())[0] > 0, 'the score head gets a gradient');
      const bGrad = acc.grads[1];
      assert.ok((await tf.sum(tf.abs(bGrad)).data())[0] > 0, 'LoRA B gets a gradient');
      tf.dispose(acc.grads);
    } finally {
      adapter.dispose();
      model.dispose();
    }
  });

  test('the head is saved with the adapter (PEFT SEQ_CLS) and loads back', async () => {
    const dir = tmp();
    const model = DecoderModel.load(MODEL);
    const adapter = LoraAdapter.create(model, { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'] }, 1);
    ensureScoreHead(adapter, model.config.hidden_size, 3);
    try {
      await adapter.save(dir, MODEL);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
      assert.equal(config.task_type, 'SEQ_CLS');
      assert.deepEqual(config.modules_to_save, ['score']);
      const back = LoraAdapter.load(dir, model);
      assert.deepEqual(Array.from(await back.extras.get(SCORE_HEAD)!.data()), Array.from(await adapter.extras.get(SCORE_HEAD)!.data()));
      back.dispose();
    } finally {
      adapter.dispose();
      model.dispose();
    }
  });
});

describe('continued pre-training and mixing', () => {
  test('--mix adds general examples making up the given share of the training mix', () => {
    assert.deepEqual(parseMix('general.jsonl:0.2'), { file: 'general.jsonl', ratio: 0.2 });
    assert.deepEqual(parseMix('C:\\data\\g.jsonl:0.5'), { file: 'C:\\data\\g.jsonl', ratio: 0.5 });
    assert.throws(() => parseMix('general.jsonl:1.5'), /RATIO/);
    assert.equal(mixCount(80, 0.2), 20); // 20 / (80 + 20) = 20%
    assert.equal(mixCount(100, 0), 0);
  });

  test('cpt packs text into blocks and lowers the loss; sft with --mix trains on both files', async () => {
    const dir = tmp();
    const text = writeJsonl(path.join(dir, 'text.jsonl'), Array.from({ length: 12 }, (_, i) => ({ text: `Lena has ${i} red marbles and ${i + 2} blue marbles. In all she has ${2 * i + 2} marbles.` })));
    const events = await train({ method: 'cpt', data: text, out: path.join(dir, 'cpt'), max_length: 64, batch_size: 4, max_steps: 8, lr: 3e-3, schedule: 'constant', lora_dropout: 0 });
    const losses = events.filter((e): e is Extract<TrainerEvent, { type: 'step' }> => e.type === 'step').map((e) => e.loss);
    assert.ok(losses[losses.length - 1] < losses[0], `CPT loss should fall: ${losses.join(', ')}`);

    const task = writeJsonl(path.join(dir, 'task.jsonl'), Array.from({ length: 8 }, (_, i) => ({ prompt: `What is ${i} plus 1?`, completion: ` ${i + 1}` })));
    const mixed = await train({ data: task, out: path.join(dir, 'mix'), mix: [`${text}:0.5`], format: 'auto', max_steps: 1, batch_size: 2 });
    const started = mixed.find((e): e is Extract<TrainerEvent, { type: 'started' }> => e.type === 'started')!;
    assert.equal(started.examples, 16, '8 task examples + 8 general ones (50%)');
    assert.ok(mixed.some((e) => e.type === 'log' && /mixed in 8 general examples/.test(e.message)));
  });
});

test('selectExamples: one order for every method — seeded shuffle, the last eval_split held out, then limit', () => {
  const items = Array.from({ length: 20 }, (_, i) => i);
  const base = { shuffle: true, seed: 42, eval_split: 0.25, limit: 0 };
  const a = selectExamples(items, base);
  assert.equal(a.eval.length, 5);
  assert.equal(a.train.length, 15);
  assert.deepEqual([...a.train, ...a.eval].sort((x, y) => x - y), items, 'nothing lost or repeated');
  assert.notDeepEqual(a.train, items.slice(0, 15), 'shuffled');
  assert.deepEqual(selectExamples(items, base), a, 'the same seed gives the same split');
  const limited = selectExamples(items, { ...base, limit: 4 });
  assert.deepEqual(limited.train, a.train.slice(0, 4), 'limit takes the first of the same shuffled pool');
  assert.deepEqual(limited.eval, a.eval, 'limit does not change the held-out set');
  assert.deepEqual(selectExamples(items, { ...base, shuffle: false, eval_split: 0 }).train, items);
  const given = selectExamples(items, base, [100, 101]);
  assert.deepEqual(given.eval, [100, 101], 'an eval file replaces the split');
  assert.equal(given.train.length, 20);
  assert.throws(() => selectExamples(items, { ...base, eval_split: 1 }), /--eval-split must be a fraction below 1/);
});
