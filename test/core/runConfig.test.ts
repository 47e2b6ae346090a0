// run_config.json is the train contract: what `ftune train` writes, `ftune train --config` reads and
// the extension launches. Every field survives a write/read, and flags override the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_RUN_CONFIG, parseRunConfig, RUN_CONFIG_FIELDS, serializeRunConfig, type RunConfig } from '../../src/core/runConfig';
import { readRunConfigFile } from '../../src/core/runConfigFile';
import { parse, TRAIN_OPTIONS } from '../../src/cli/args';
import { EVAL_DURING_TRAINING_OPTIONS } from '../../src/cli/evalArgs';
import { resolveTrainConfig } from '../../src/cli/train';

/** A value for every field that differs from its default, so a field dropped on the way cannot pass unnoticed. */
const EVERY_FIELD_SET: RunConfig = {
  method: 'grpo', model: '/models/qwen', data: '/data/gsm8k.jsonl', out: '/runs/r1', eval_data: '/data/eval.jsonl', eval_split: 0.2,
  format: 'prompt-completion', fields: { prompt: 'question', completion: 'answer' }, lora_r: 16, lora_alpha: 32, lora_dropout: 0.1,
  lora_targets: ['q_proj', 'v_proj'], full: true, quantize: 'nf4', init_adapter: '/runs/sft/adapter', epochs: 3, max_steps: 50, batch_size: 2,
  grad_accum: 8, lr: 1e-5, weight_decay: 0.01, adam_beta1: 0.8, adam_beta2: 0.95, adam_eps: 1e-6, max_grad_norm: 0.5,
  schedule: 'cosine', warmup_steps: 10, max_length: 1024, limit: 100, shuffle: false, seed: 7, eval_every: 5, save_every: 10,
  backend: 'wasm', beta: 0.04, neftune_alpha: 5, gradient_checkpointing: true, mix: ['general.jsonl:0.3'], num_generations: 6,
  max_completion_length: 128, temperature: 0.7, reward: 'exact-match+format',
  eval_metrics: ['exact-match', 'bleu'], golden: '/data/gsm8k.golden.jsonl', eval_generate_limit: 32, eval_max_new_tokens: 64,
  best_metric: 'exact_match', early_stopping_patience: 3, early_stopping_threshold: 0.01, report_to: ['tensorboard'],
};

test('every run-config field survives parse(write(c)), and every field is covered', () => {
  assert.deepEqual(Object.keys(EVERY_FIELD_SET).sort(), Object.keys(RUN_CONFIG_FIELDS).sort(), 'the sample sets every field of the contract');
  for (const [key, value] of Object.entries(EVERY_FIELD_SET)) {
    const fallback = (DEFAULT_RUN_CONFIG as Record<string, unknown>)[key];
    assert.notDeepEqual(value, fallback, `${key}: the sample differs from the default`);
    // one field at a time on top of the defaults: a reader that drops or retypes that field fails here
    const one = { ...DEFAULT_RUN_CONFIG, model: '/m', data: '/d', out: '/o', [key]: value } as RunConfig;
    assert.deepEqual(parseRunConfig(JSON.parse(serializeRunConfig(one)), 'x'), one, key);
  }
  assert.deepEqual(parseRunConfig(JSON.parse(serializeRunConfig(EVERY_FIELD_SET)), 'x'), EVERY_FIELD_SET);
});

test('a run_config.json from an older version takes defaults for missing keys; typos and bad values are errors naming the key', () => {
  assert.deepEqual(parseRunConfig({ model: '/m', method: 'dpo' }, 'old.json'), { ...DEFAULT_RUN_CONFIG, model: '/m', data: '', out: '', method: 'dpo' });
  assert.throws(() => parseRunConfig({ lora_rank: 16 }, 'c.json'), /^Error: c\.json: unknown key "lora_rank"$/);
  assert.throws(() => parseRunConfig({ lora_r: 0 }, 'c.json'), /c\.json: lora_r: must be a positive integer, got 0/);
  assert.throws(() => parseRunConfig({ method: 'ppo' }, 'c.json'), /c\.json: method: must be one of sft, cpt, dpo, reward, grpo/);
  assert.throws(() => parseRunConfig({ shuffle: 'yes' }, 'c.json'), /shuffle: must be true or false/);
  assert.throws(() => parseRunConfig({ lora_targets: 'q_proj' }, 'c.json'), /lora_targets: must be "all-linear" or a list/);
  assert.throws(() => parseRunConfig([], 'c.json'), /c\.json: expected a JSON object/);
});

/** The sample as a trainable run: --init-adapter applies to LoRA, not --full. */
const TRAINABLE: RunConfig = { ...EVERY_FIELD_SET, full: false };

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-runconfig-'));
}

test('ftune train --config reads the file; flags given with it override fields', () => {
  const dir = tmp();
  const file = path.join(dir, 'run_config.json');
  fs.writeFileSync(file, serializeRunConfig(TRAINABLE));
  const argv = (...extra: string[]) => parse(['--config', file, ...extra], TRAIN_OPTIONS, 'usage').values;
  assert.deepEqual(resolveTrainConfig(argv()), TRAINABLE);
  const overridden = resolveTrainConfig(argv('--lr', '3e-4', '--num-generations', '8', '--epochs', '2', '--out', dir, '--field', 'prompt=q'));
  assert.deepEqual(overridden, { ...TRAINABLE, lr: 3e-4, num_generations: 8, epochs: 2, max_steps: 0, out: dir, fields: { prompt: 'q' } });
  fs.writeFileSync(file, '{"lr": "fast"}');
  assert.throws(() => resolveTrainConfig(argv()), new RegExp(`${file.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')}: lr: must be a non-negative number`));
  fs.writeFileSync(file, '{ not json');
  assert.throws(() => resolveTrainConfig(argv()), /invalid JSON/);
  assert.throws(() => readRunConfigFile(path.join(dir, 'missing.json')), /missing\.json: not found/);
});

/** `ftune train` flags that give `c` without a config file: `--key-name VALUE` but for the few named here. */
function flagsOf(c: RunConfig): string[] {
  const named: Partial<Record<keyof RunConfig, string>> = { fields: 'field', shuffle: 'no-shuffle', eval_metrics: 'eval-metric' };
  const argv: string[] = [];
  for (const [key, value] of Object.entries(c) as [keyof RunConfig, unknown][]) {
    const flag = `--${named[key] ?? key.replace(/_/g, '-')}`;
    if (key === 'epochs') continue; // --max-steps is given: the two replace each other
    if (typeof value === 'boolean') {
      if (value !== (DEFAULT_RUN_CONFIG as Record<string, unknown>)[key]) argv.push(flag); // a switch: --full, --no-shuffle, --gradient-checkpointing
    } else if (key === 'fields') for (const [field, column] of Object.entries(value as Record<string, string>)) argv.push(flag, `${field}=${column}`);
    else if (key === 'lora_targets') argv.push(flag, (value as string[]).join(','));
    else if (Array.isArray(value)) for (const item of value as string[]) argv.push(flag, item);
    else argv.push(flag, String(value));
  }
  return argv;
}

test('every run setting has a flag of ftune train: the flags alone give the whole sample', () => {
  const values = parse(flagsOf(TRAINABLE), { ...TRAIN_OPTIONS, ...EVAL_DURING_TRAINING_OPTIONS }, 'usage').values;
  assert.deepEqual(resolveTrainConfig(values), { ...TRAINABLE, epochs: DEFAULT_RUN_CONFIG.epochs });
});

test('--resume without --config starts from <out>/run_config.json, flags still override', () => {
  const out = tmp();
  fs.writeFileSync(path.join(out, 'run_config.json'), serializeRunConfig({ ...TRAINABLE, out }));
  const values = parse(['--out', out, '--resume', '--max-steps', '80'], TRAIN_OPTIONS, 'usage').values;
  assert.deepEqual(resolveTrainConfig(values), { ...TRAINABLE, out, max_steps: 80 });
});

test('the method registry is the CLI\'s validation: LoRA-only methods refuse --full before a model is loaded', () => {
  const values = (...argv: string[]) => parse(['--model', 'm', '--data', 'd', '--out', 'o', ...argv], TRAIN_OPTIONS, 'usage').values;
  for (const method of ['dpo', 'reward', 'grpo']) assert.throws(() => resolveTrainConfig(values('--method', method, '--full')), new RegExp(`--method ${method} trains a LoRA adapter.*drop --full`));
  assert.equal(resolveTrainConfig(values('--method', 'sft', '--full')).full, true);
  assert.throws(() => resolveTrainConfig(values('--method', 'ppo')), /--method must be one of sft, cpt, dpo, reward, grpo/);
});
