import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  createRun, deleteRun, isProcessAlive, isValidRunId, listCheckpoints, listRuns, readRun, runDirOf,
  headlineMetric, sanitizeRunName, summarizeEvents, updateStatus, type PidProbe,
} from '../../src/core/runStore';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../src/core/runConfig';
import type { TrainerEvent } from '../../src/core/protocol';

function tempRunsDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-runs-'));
}

function config(): Omit<RunConfig, 'out'> {
  return { ...DEFAULT_RUN_CONFIG, model: '/models/tiny', data: '/data/train.jsonl' };
}

function appendEvents(dir: string, events: TrainerEvent[]): void {
  fs.appendFileSync(path.join(dir, 'metrics.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
}

const started = (total: number, resumed = 0): TrainerEvent => ({
  type: 'started', run_id: 'r', method: 'sft', model: '/models/tiny', backend: 'cpu', total_steps: total, examples: 30,
  skipped: 0, trainable_parameters: 1000, config: { ...DEFAULT_RUN_CONFIG, model: '/models/tiny', data: 'd', out: 'o' },
  resumed_from_step: resumed, time: '2026-01-01T00:00:00Z',
});
const step = (n: number, loss: number, elapsed: number, total = 10): TrainerEvent => ({
  type: 'step', step: n, total_steps: total, epoch: 0, loss, lr: 1e-4, grad_norm: 1, tokens_per_second: 100, tokens_seen: n * 10, elapsed,
});

function writeCheckpoint(dir: string, n: number, state: object = { step: n }): void {
  const ckpt = path.join(dir, 'checkpoints', `step-${n}`);
  fs.mkdirSync(ckpt, { recursive: true });
  fs.writeFileSync(path.join(ckpt, 'trainer_state.json'), JSON.stringify(state));
}

const alive: PidProbe = () => true;
const dead: PidProbe = () => false;

test('sanitizeRunName keeps safe characters and never yields a path', () => {
  assert.equal(sanitizeRunName('tiny model / sft: run #1'), 'tiny-model-sft-run-1');
  assert.equal(sanitizeRunName('../../etc/passwd'), 'etc-passwd');
  assert.equal(sanitizeRunName('..'), 'run');
  assert.equal(sanitizeRunName(''), 'run');
  assert.equal(sanitizeRunName('.hidden'), 'hidden');
  assert.equal(sanitizeRunName('a'.repeat(300)).length, 100);
  for (const nasty of ['..', '../x', 'a/../../b', '/abs', 'C:\\win', '\u0000x', 'a\nb']) {
    assert.ok(isValidRunId(sanitizeRunName(nasty)), nasty);
  }
});

test('runDirOf refuses ids that escape the runs directory', () => {
  const root = tempRunsDir();
  assert.equal(runDirOf(root, 'ok-run'), path.join(root, 'ok-run'));
  for (const bad of ['..', '../x', 'a/b', '/etc', '.hidden', 'x..y', '', 'a\\b']) {
    assert.throws(() => runDirOf(root, bad), /invalid run id|escapes/, bad);
  }
  assert.throws(() => deleteRun(root, '..'));
  assert.ok(fs.existsSync(root));
});

test('createRun writes config and queued status, ids stay unique', () => {
  const root = tempRunsDir();
  const a = createRun(root, 'my run', config());
  const b = createRun(root, 'my run', config());
  assert.equal(a.id, 'my-run');
  assert.equal(b.id, 'my-run-2');
  const run = readRun(a.dir, dead);
  assert.ok(run);
  assert.equal(run.status, 'queued');
  assert.equal(run.name, 'my run');
  assert.equal(run.config?.out, a.dir);
  assert.equal(run.model, '/models/tiny');
});

test('a completed run reconstructs progress, loss, checkpoints with eval loss and the adapter', () => {
  const root = tempRunsDir();
  const { dir } = createRun(root, 'done', config());
  updateStatus(dir, { status: 'running', pid: 4242 });
  appendEvents(dir, [
    started(4), step(1, 3.0, 1, 4), step(2, 2.5, 2, 4),
    { type: 'eval', step: 2, eval_loss: 2.7, perplexity: 14.9 },
    { type: 'checkpoint', step: 2, path: 'checkpoints/step-2' },
    step(3, 2.2, 3, 4), step(4, 2.0, 4, 4),
    { type: 'checkpoint', step: 4, path: 'checkpoints/step-4', eval_loss: 2.4 },
    { type: 'done', step: 4, adapter_path: 'adapter', elapsed: 4 },
  ]);
  writeCheckpoint(dir, 2);
  writeCheckpoint(dir, 4);
  fs.mkdirSync(path.join(dir, 'adapter'));
  const run = readRun(dir, dead);
  assert.ok(run);
  assert.equal(run.status, 'completed');
  assert.equal(run.step, 4);
  assert.equal(run.total_steps, 4);
  assert.equal(run.loss, 2.0);
  assert.equal(run.eval_loss, 2.4);
  assert.deepEqual(run.checkpoints.map((c) => [c.step, c.eval_loss]), [[2, 2.7], [4, 2.4]]);
  assert.equal(run.adapter, path.join(dir, 'adapter'));
  assert.equal(run.resumable, false);
  assert.equal(run.pid, undefined);
});

test('a run marked running with a dead pid and no terminal event shows stopped and resumable', () => {
  const root = tempRunsDir();
  const { dir } = createRun(root, 'crashed', config());
  updateStatus(dir, { status: 'running', pid: 999999, process: { pid: 999999, startTime: 'boot:1', cmdline: 'ftune train' } });
  appendEvents(dir, [started(10), step(1, 3, 1), step(2, 2.9, 2)]);
  writeCheckpoint(dir, 2);
  assert.equal(readRun(dir, alive)?.status, 'running');
  const run = readRun(dir, dead);
  assert.ok(run);
  assert.equal(run.status, 'stopped');
  assert.equal(run.resumable, true);
  assert.equal(run.step, 2);
  assert.equal(run.eta_seconds, undefined);
});

test('a dead running run takes the trainer’s last word: failed with its error', () => {
  const root = tempRunsDir();
  const { dir } = createRun(root, 'f', config());
  updateStatus(dir, { status: 'running', pid: 1 });
  appendEvents(dir, [started(10), { type: 'failed', error: 'out of memory', step: 3 }]);
  const run = readRun(dir, dead);
  assert.equal(run?.status, 'failed');
  assert.equal(run?.error, 'out of memory');
  assert.equal(run?.resumable, true);
});

test('a resumed run is running again after its earlier stopped event', () => {
  const root = tempRunsDir();
  const { dir } = createRun(root, 'r', config());
  updateStatus(dir, { status: 'running', pid: 7, process: { pid: 7, startTime: 'boot:1', cmdline: 'ftune train' } });
  appendEvents(dir, [started(10), step(1, 3, 1), step(2, 2.9, 2), { type: 'stopped', step: 2 }, started(10, 2), step(3, 2.5, 0.5), step(5, 2.1, 1.5)]);
  const run = readRun(dir, alive);
  assert.equal(run?.status, 'running');
  assert.equal(run?.step, 5);
  // 2 steps took 1 s in this session → 5 remaining steps ≈ 2.5 s
  assert.equal(run?.eta_seconds, 2.5);
});

test('listRuns finds every run newest first and ignores stray folders and files', () => {
  const root = tempRunsDir();
  createRun(root, 'old', config(), new Date('2026-01-01T00:00:00Z'));
  createRun(root, 'new', config(), new Date('2026-02-01T00:00:00Z'));
  fs.mkdirSync(path.join(root, 'not-a-run'));
  fs.writeFileSync(path.join(root, 'notes.txt'), 'x');
  // a run started from the CLI by hand: metrics only
  const manual = path.join(root, 'manual');
  fs.mkdirSync(manual);
  appendEvents(manual, [started(3), step(1, 1, 1), { type: 'stopped', step: 1 }]);
  const runs = listRuns(root, dead);
  assert.deepEqual(runs.filter((r) => r.id !== 'manual').map((r) => r.id), ['new', 'old']);
  assert.ok(runs.some((r) => r.id === 'manual' && r.status === 'stopped'));
  assert.ok(!runs.some((r) => r.id === 'not-a-run'));
  assert.deepEqual(listRuns(path.join(root, 'missing'), dead), []);
});

test('readEvents skips a half-written last line', () => {
  const root = tempRunsDir();
  const { dir } = createRun(root, 'partial', config());
  appendEvents(dir, [started(10), step(1, 3, 1)]);
  fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"type":"step","step":2,"lo');
  assert.equal(readRun(dir, dead)?.step, 1);
});

test('listCheckpoints reads the step from trainer_state.json and eval loss from log_history', () => {
  const root = tempRunsDir();
  const dir = path.join(root, 'x');
  writeCheckpoint(dir, 10, { global_step: 10, log_history: [{ step: 10, eval_loss: 1.25 }] });
  writeCheckpoint(dir, 5);
  fs.mkdirSync(path.join(dir, 'checkpoints', 'garbage'));
  assert.deepEqual(listCheckpoints(dir), [
    { step: 5, path: path.join(dir, 'checkpoints', 'step-5') },
    { step: 10, path: path.join(dir, 'checkpoints', 'step-10'), eval_loss: 1.25 },
  ]);
});

test('summarizeEvents gives no ETA before any step', () => {
  const s = summarizeEvents([started(10)]);
  assert.equal(s.total_steps, 10);
  assert.equal(s.eta_seconds, undefined);
});

test('deleteRun removes only that run', () => {
  const root = tempRunsDir();
  const a = createRun(root, 'a', config());
  const b = createRun(root, 'b', config());
  deleteRun(root, a.id);
  assert.ok(!fs.existsSync(a.dir));
  assert.ok(fs.existsSync(b.dir));
});

test('isProcessAlive: this process is alive, an exited child is not', async () => {
  assert.equal(isProcessAlive(process.pid), true);
  const { spawn } = await import('child_process');
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(isProcessAlive(pid), false);
  assert.equal(isProcessAlive(-1), false);
});

test('a run keeps its method metrics; the Runs view headline prefers the eval value', () => {
  const dpoStep = { ...step(1, 0.6, 1), extra: { 'rewards/accuracies': 0.5, 'rewards/margins': 0.1 } } as TrainerEvent;
  const summary = summarizeEvents([started(2), dpoStep]);
  assert.deepEqual(summary.metrics, { 'rewards/accuracies': 0.5, 'rewards/margins': 0.1 });
  assert.equal(headlineMetric({ method: 'dpo', metrics: summary.metrics }), 'reward acc 0.500');
  const withEval = summarizeEvents([started(2), dpoStep, { type: 'eval', step: 1, eval_loss: 0.5, perplexity: 1.6, extra: { 'rewards/accuracies': 0.75 } }]);
  assert.equal(headlineMetric({ method: 'dpo', metrics: withEval.metrics }), 'reward acc 0.750');
  assert.equal(headlineMetric({ method: 'grpo', metrics: { reward: 0.25, kl: 0.01 } }), 'reward 0.250');
  assert.equal(headlineMetric({ method: 'sft', metrics: undefined }), undefined, 'SFT shows its loss only');
});
