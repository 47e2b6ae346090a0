// The parts of evaluate-while-training that need no training run: judging evaluations (best, early
// stopping), the CLI flags and their persistence in run_config.json, the best/ folder on resume, and
// TensorBoard records against an independent reader.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { evalDuringTrainingFromArgs, EVAL_DURING_TRAINING_OPTIONS } from '../../src/cli/evalArgs';
import { parse, UsageError } from '../../src/cli/args';
import { judgeEvaluation, greaterIsBetter, type BestRecord } from '../../src/core/bestMetric';
import { demoHeldOutSet, demoTrainSet } from '../../src/core/demoData';
import type { TrainerEvent } from '../../src/core/protocol';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../src/core/runConfig';
import { EventFileWriter } from '../../src/core/tensorboard/eventFile';
import { ProtoWriter } from '../../src/core/tensorboard/protobuf';
import { saveBest } from '../../src/engine/bestCheckpoint';
import type { TrainerState } from '../../src/engine/checkpoint';
import { BestKeeper } from '../../src/engine/earlyStopping';
import { crc32cBitwise, readEventFile } from '../helpers/tfevents';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-best-'));
const CLI = path.join(__dirname, '..', '..', '..', 'bin', 'ftune.js');
const MODEL = path.join(__dirname, '..', '..', '..', 'examples', 'models', 'tiny-gsm8k-base');

/** Feeds a sequence of evaluations through judgeEvaluation as the trainer does; returns each verdict. */
function judgeAll(metric: Parameters<typeof judgeEvaluation>[0], values: number[], patience: number, threshold = 0) {
  let best: number | undefined;
  let counter = 0;
  return values.map((v) => {
    const verdict = judgeEvaluation(metric, v, best, counter, { patience, threshold });
    if (verdict.improved) best = v;
    counter = verdict.evaluationsWithoutImprovement;
    return verdict;
  });
}

test('eval_loss is better lower, generation metrics higher; the first evaluation is always the best so far', () => {
  assert.equal(greaterIsBetter('eval_loss'), false);
  for (const m of ['exact_match', 'bleu', 'rouge_l', 'f1'] as const) assert.equal(greaterIsBetter(m), true);
  assert.deepEqual(judgeAll('eval_loss', [2, 1.5, 1.7, 1.2], 0).map((v) => v.improved), [true, true, false, true]);
  assert.deepEqual(judgeAll('exact_match', [0, 0.5, 0.25, 0.75], 0).map((v) => v.improved), [true, true, false, true]);
});

test('early stopping: N evaluations in a row without improvement stop; an improvement restarts the count', () => {
  const verdicts = judgeAll('exact_match', [0.1, 0.3, 0.3, 0.2, 0.4, 0.4, 0.35], 2);
  assert.deepEqual(verdicts.map((v) => v.evaluationsWithoutImprovement), [0, 0, 1, 2, 0, 1, 2]);
  assert.deepEqual(verdicts.map((v) => v.stopReason !== undefined), [false, false, false, true, false, false, true]);
  assert.match(verdicts[3].stopReason!, /exact_match did not improve for 2 evaluations \(--early-stopping-patience 2\); the best exact_match is 0\.3$/);
  // patience 0: never stops.
  assert.ok(judgeAll('eval_loss', [1, 2, 3, 4, 5], 0).every((v) => v.stopReason === undefined));
});

test('early stopping threshold: small improvements still become best but do not restart the count (transformers semantics)', () => {
  const verdicts = judgeAll('eval_loss', [1.0, 0.995, 0.99, 0.5], 2, 0.01);
  assert.deepEqual(verdicts.map((v) => v.improved), [true, true, true, true]);
  assert.deepEqual(verdicts.map((v) => v.evaluationsWithoutImprovement), [0, 1, 2, 0]);
  assert.match(verdicts[2].stopReason!, /by more than 0\.01/);
  // A NaN loss never becomes best and counts against patience.
  const nan = judgeAll('eval_loss', [1, NaN], 1);
  assert.deepEqual(nan.map((v) => v.improved), [true, false]);
  assert.ok(nan[1].stopReason);
});

const flags = (argv: string[]) => parse(argv, EVAL_DURING_TRAINING_OPTIONS, 'usage').values;

test('train flags: repeatable and comma-separated --eval-metric, validation, and the saved config as fallback', () => {
  const f = evalDuringTrainingFromArgs(flags(['--eval-metric', 'exact-match,bleu', '--eval-metric', 'rouge', '--golden', 'g.jsonl',
    '--best-metric', 'rouge_l', '--early-stopping-patience', '3', '--early-stopping-threshold', '0.01', '--report-to', 'tensorboard']), {});
  assert.deepEqual(f, {
    eval_metrics: ['exact-match', 'bleu', 'rouge'], golden: 'g.jsonl', best_metric: 'rouge_l', early_stopping_patience: 3,
    early_stopping_threshold: 0.01, report_to: ['tensorboard'],
  });
  // Nothing given: nothing added (run_config.json stays as before for runs that do not use it).
  assert.deepEqual(evalDuringTrainingFromArgs(flags([]), {}), {});
  // Resume: the saved values unless given again.
  assert.deepEqual(evalDuringTrainingFromArgs(flags(['--early-stopping-patience', '5']), f), { ...f, early_stopping_patience: 5 });
  assert.throws(() => evalDuringTrainingFromArgs(flags(['--eval-metric', 'accuracy']), {}), (e: Error) => e instanceof UsageError && /--eval-metric must be one of/.test(e.message));
  assert.throws(() => evalDuringTrainingFromArgs(flags(['--best-metric', 'bleu']), {}), /--best-metric bleu needs the matching --eval-metric/);
  assert.throws(() => evalDuringTrainingFromArgs(flags(['--best-metric', 'exact-match']), {}), /--best-metric must be one of eval_loss, exact_match/);
  assert.throws(() => evalDuringTrainingFromArgs(flags(['--golden', 'g.jsonl']), {}), /--golden is scored by --eval-metric/);
  assert.throws(() => evalDuringTrainingFromArgs(flags(['--report-to', 'wandb']), {}), /--report-to must be one of tensorboard/);
  assert.throws(() => evalDuringTrainingFromArgs(flags(['--eval-generate-limit', '0']), {}), /--eval-generate-limit must be a positive integer/);
});

test('ftune train: the flags land in run_config.json and a resume uses them', () => {
  const data = path.join(root, 'train.jsonl'), golden = path.join(root, 'golden.jsonl'), out = path.join(root, 'cli-run');
  fs.writeFileSync(data, demoTrainSet(32).map((e) => JSON.stringify(e)).join('\n') + '\n');
  fs.writeFileSync(golden, demoHeldOutSet(8).map((e) => JSON.stringify(e)).join('\n') + '\n');
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'train', '--model', MODEL, '--data', data, '--out', out, '--batch-size', '8', ...args], { encoding: 'utf8', timeout: 120_000 });
  const first = run(['--max-steps', '1', '--golden', golden, '--eval-metric', 'exact-match', '--eval-metric', 'f1', '--eval-generate-limit', '3',
    '--eval-max-new-tokens', '4', '--best-metric', 'f1', '--early-stopping-patience', '4', '--report-to', 'tensorboard']);
  assert.equal(first.status, 0, first.stderr);
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'run_config.json'), 'utf8')) as RunConfig;
  assert.deepEqual([saved.eval_metrics, saved.golden, saved.eval_generate_limit, saved.eval_max_new_tokens, saved.best_metric, saved.early_stopping_patience, saved.report_to],
    [['exact-match', 'f1'], golden, 3, 4, 'f1', 4, ['tensorboard']]);
  const second = run(['--resume', '--max-steps', '2']);
  assert.equal(second.status, 0, second.stderr);
  const events = second.stdout.trim().split('\n').map((l) => JSON.parse(l) as TrainerEvent);
  const evals = events.filter((e) => e.type === 'eval');
  assert.equal(evals.length, 1, 'the resumed run evaluates at its end only (step 0 was evaluated before)');
  assert.ok(evals[0].type === 'eval' && evals[0].generation_examples === 3 && evals[0].f1 !== undefined && evals[0].exact_match !== undefined);
  const done = events.find((e) => e.type === 'done');
  assert.ok(done?.type === 'done' && done.best?.metric === 'f1');
  const files = fs.readdirSync(path.join(out, 'tensorboard')).map((f) => readEventFile(path.join(out, 'tensorboard', f)));
  assert.equal(files.length, 2, 'one event file per (re)start');
  // The resumed run's file starts a session at step 2 (TensorBoard drops older points from step 2 on) and logs step 2.
  const resumedFile = files.find((events) => events.some((e) => e.sessionStart));
  assert.ok(resumedFile);
  assert.deepEqual(resumedFile.filter((e) => e.sessionStart).map((e) => e.step), [2]);
  assert.deepEqual(resumedFile.filter((e) => 'train/loss' in e.scalars).map((e) => e.step), [2]);
  const bad = spawnSync(process.execPath, [CLI, 'train', '--model', MODEL, '--data', data, '--out', path.join(root, 'bad'), '--eval-metric', 'exact-match'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^ftune: error: --eval-metric needs examples to generate from: give --golden FILE, --eval-data FILE or --eval-split F\n$/);
});

test('resume: best/ written after the checkpoint the run resumes from is replaced by the checkpoint\'s best', async () => {
  const out = path.join(root, 'reconcile');
  const step2 = path.join(out, 'checkpoints', 'step-2');
  fs.mkdirSync(step2, { recursive: true });
  fs.writeFileSync(path.join(step2, 'adapter_model.safetensors'), 'weights at step 2');
  fs.writeFileSync(path.join(step2, 'adapter_config.json'), '{}');
  fs.writeFileSync(path.join(step2, 'optimizer.safetensors'), 'moments');
  fs.writeFileSync(path.join(step2, 'trainer_state.json'), '{}');
  const later: BestRecord = { metric: 'eval_loss', value: 0.5, step: 4, path: path.join(out, 'best') };
  await saveBest(out, later, async (dir) => fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), 'weights at step 4'));
  const config: RunConfig = { ...DEFAULT_RUN_CONFIG, model: 'm', data: 'd', out };
  const keeper = new BestKeeper(config, async () => assert.fail('reconcile copies, it does not write the live weights'));
  const state = { best: { ...later, step: 2, value: 0.7 }, evaluations_without_improvement: 1 } as TrainerState;
  assert.equal(await keeper.reconcile(state), undefined);
  assert.equal(fs.readFileSync(path.join(out, 'best', 'adapter_model.safetensors'), 'utf8'), 'weights at step 2');
  assert.deepEqual(fs.readdirSync(path.join(out, 'best')).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'best.json']);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'best', 'best.json'), 'utf8')), state.best);
  assert.deepEqual(fs.readdirSync(out).sort(), ['best', 'checkpoints'], 'no temp folders left');
  // Its checkpoint gone: a warning, best/ left as it is.
  fs.rmSync(step2, { recursive: true });
  await saveBest(out, later, async (dir) => fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), 'weights at step 4'));
  assert.match((await keeper.reconcile(state)) ?? '', /the best evaluation \(step 2\) is not in .*best and its checkpoint is gone/);
  assert.equal(fs.readFileSync(path.join(out, 'best', 'adapter_model.safetensors'), 'utf8'), 'weights at step 4');
});

test('TensorBoard records: varints past 32 bits, floats and text read back by the independent reader with their CRCs', () => {
  assert.equal(crc32cBitwise(Buffer.from('123456789')), 0xe3069283, 'the CRC-32C check value');
  const dir = path.join(root, 'tb');
  const w = new EventFileWriter(dir, 1_700_000_000_000);
  w.scalars(5_000_000_000, { 'train/loss': 1.25, 'eval/exact_match': 0.5 }, 1_700_000_001);
  w.text(7, 'notes', 'héllo *world*');
  w.sessionStart(3);
  w.close();
  const events = readEventFile(path.join(dir, fs.readdirSync(dir)[0]));
  assert.deepEqual(events.map((e) => [e.step, e.fileVersion, e.scalars, e.texts, e.sessionStart]), [
    [0, 'brain.Event:2', {}, {}, false],
    [5_000_000_000, undefined, { 'train/loss': 1.25, 'eval/exact_match': 0.5 }, {}, false],
    [7, undefined, {}, { notes: { plugin: 'text', text: 'héllo *world*' } }, false],
    [3, undefined, {}, {}, true],
  ]);
  assert.equal(events[0].wallTime, 1_700_000_000);
  assert.equal(events[1].wallTime, 1_700_000_001);
  // A flipped byte is caught by the reader's CRC check.
  const file = path.join(dir, fs.readdirSync(dir)[0]);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 6] ^= 0xff;
  fs.writeFileSync(file, bytes);
  assert.throws(() => readEventFile(file), /bad data CRC/);
  assert.throws(() => new ProtoWriter().varint(1, -1), /not a non-negative safe integer/);
});
