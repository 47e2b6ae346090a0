// RunManager against a fake `ftune train`: a small script that follows the CLI contract (events on
// stdout and in metrics.jsonl, checkpoint + `stopped` on SIGTERM, `ftune: error:` on failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_RUN_CONFIG } from '../../src/core/runConfig';
import { RunManager, type RunFinished } from '../../src/extension/runManager';
import { cliInvocation } from '../../src/extension/cliInvocation';
import { readRun, readStatus } from '../../src/core/runStore';
import type { TrainerEvent } from '../../src/core/protocol';

const FAKE_TRAINER = String.raw`
const fs = require('fs');
const path = require('path');
exports.main = (argv) => {
  const get = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  const out = get('--out');
  const config = JSON.parse(fs.readFileSync(get('--config'), 'utf8'));
  const total = config.max_steps || 3;
  const resume = argv.includes('--resume');
  fs.writeFileSync(path.join(out, 'argv.json'), JSON.stringify(argv));
  const mode = fs.readFileSync(path.join(out, '..', 'mode'), 'utf8').trim();
  if (mode === 'error') { process.stderr.write('ftune: error: data.jsonl: line 3: invalid JSON\n'); process.exit(1); }
  let step = 0;
  if (resume) {
    const dirs = fs.existsSync(path.join(out, 'checkpoints')) ? fs.readdirSync(path.join(out, 'checkpoints')) : [];
    step = Math.max(0, ...dirs.map((d) => Number(d.slice(5))));
  }
  const emit = (e) => { const line = JSON.stringify(e) + '\n'; fs.appendFileSync(path.join(out, 'metrics.jsonl'), line); process.stdout.write(line); };
  const checkpoint = () => {
    const dir = path.join(out, 'checkpoints', 'step-' + step);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'trainer_state.json'), JSON.stringify({ step }));
    emit({ type: 'checkpoint', step, path: dir });
  };
  process.on('SIGTERM', () => { checkpoint(); emit({ type: 'stopped', step, checkpoint: 'x' }); process.exit(0); });
  emit({ type: 'started', run_id: 'x', method: 'sft', model: 'm', backend: 'cpu', total_steps: total, examples: 30, skipped: 0, trainable_parameters: 1, config: {}, resumed_from_step: step, time: '' });
  console.log('plain log line');
  const tick = () => {
    step++;
    emit({ type: 'step', step, total_steps: total, epoch: 0, loss: 3 - step * 0.1, lr: 1e-4, grad_norm: 1, tokens_per_second: 10, tokens_seen: step, elapsed: step });
    if (mode === 'hang' || (mode === 'slow' && !resume)) { setTimeout(() => {}, 1e9); return; }
    if (step < total) { setImmediate(tick); return; }
    checkpoint();
    fs.mkdirSync(path.join(out, 'adapter'), { recursive: true });
    emit({ type: 'done', step, adapter_path: path.join(out, 'adapter'), elapsed: step });
  };
  tick();
};
`;

interface Harness {
  manager: RunManager;
  root: string;
  setMode(mode: 'ok' | 'error' | 'slow' | 'hang'): void;
  finished: RunFinished[];
  events: TrainerEvent[];
  output: string[];
  nextFinish(): Promise<RunFinished>;
}

function harness(stopTimeoutMs = 10_000): Harness {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-manager-'));
  const cli = path.join(root, 'fake-ftune.js');
  fs.writeFileSync(cli, FAKE_TRAINER);
  const runsDir = path.join(root, 'runs');
  fs.mkdirSync(runsDir);
  const manager = new RunManager({ runsDir, invocation: (args) => cliInvocation(cli, args, { execPath: process.execPath }), stopTimeoutMs });
  const finished: RunFinished[] = [];
  const events: TrainerEvent[] = [];
  const output: string[] = [];
  const waiters: ((f: RunFinished) => void)[] = [];
  manager.onFinished.on((f) => { finished.push(f); waiters.shift()?.(f); });
  manager.onEvent.on(({ event }) => events.push(event));
  manager.onOutput.on(({ line }) => output.push(line));
  return {
    manager, root, finished, events, output,
    setMode: (mode) => fs.writeFileSync(path.join(runsDir, 'mode'), mode),
    nextFinish: () => new Promise((resolve) => waiters.push(resolve)),
  };
}

const cfg = { ...DEFAULT_RUN_CONFIG, model: '/m', data: '/d.jsonl', max_steps: 3 };

function firstStep(h: Harness): Promise<void> {
  return new Promise((resolve) => {
    const sub = h.manager.onEvent.on(({ event }) => { if (event.type === 'step') { sub.dispose(); resolve(); } });
  });
}

test('a run trains to completion: events, status, checkpoints and output', async () => {
  const h = harness();
  h.setMode('ok');
  const done = h.nextFinish();
  const id = h.manager.start('tiny sft', cfg);
  assert.equal(h.manager.get(id)?.status === 'queued' || h.manager.get(id)?.status === 'running', true);
  assert.deepEqual(await done, { runId: id, status: 'completed', error: undefined });
  const run = h.manager.get(id)!;
  assert.equal(run.status, 'completed');
  assert.equal(run.step, 3);
  assert.equal(run.total_steps, 3);
  assert.deepEqual(run.checkpoints.map((c) => c.step), [3]);
  assert.ok(run.adapter);
  assert.deepEqual(h.events.map((e) => e.type), ['started', 'step', 'step', 'step', 'checkpoint', 'done']);
  assert.ok(h.output.includes('plain log line'));
  assert.match(fs.readFileSync(path.join(run.dir, 'trainer.log'), 'utf8'), /plain log line/);
  assert.equal(readStatus(run.dir)?.pid, undefined);
});

test('a failing trainer marks the run failed with its error line', async () => {
  const h = harness();
  h.setMode('error');
  const done = h.nextFinish();
  const id = h.manager.start('bad', cfg);
  const result = await done;
  assert.equal(result.status, 'failed');
  assert.equal(result.error, 'data.jsonl: line 3: invalid JSON');
  assert.equal(h.manager.get(id)?.status, 'failed');
  assert.equal(h.manager.get(id)?.resumable, true);
});

test('Stop sends SIGTERM: the run saves a checkpoint, is stopped, and Resume continues from it', async () => {
  const h = harness();
  h.setMode('slow');
  const id = h.manager.start('stoppable', { ...cfg, max_steps: 5 });
  await firstStep(h);
  assert.equal(h.manager.get(id)?.status, 'running');
  assert.ok(h.manager.isOwned(id));
  const stopped = h.nextFinish();
  await h.manager.stop(id);
  assert.equal((await stopped).status, 'stopped');
  const run = h.manager.get(id)!;
  assert.equal(run.status, 'stopped');
  assert.equal(run.resumable, true);
  assert.deepEqual(run.checkpoints.map((c) => c.step), [1]);

  const completed = h.nextFinish();
  h.manager.resume(id);
  assert.equal((await completed).status, 'completed');
  const argv = JSON.parse(fs.readFileSync(path.join(run.dir, 'argv.json'), 'utf8')) as string[];
  assert.equal(argv[argv.length - 1], '--resume');
  const after = h.manager.get(id)!;
  assert.equal(after.status, 'completed');
  assert.equal(after.step, 5);
});

test('a trainer that ignores SIGTERM is killed after the timeout and shows stopped', async () => {
  const h = harness(300);
  h.setMode('hang');
  fs.writeFileSync(path.join(h.root, 'fake-ftune.js'), FAKE_TRAINER.replace("process.on('SIGTERM'", "process.on('SIGTERM', () => {}); process.on('SIGUSR2'"));
  const id = h.manager.start('stubborn', cfg);
  await firstStep(h);
  const stopped = h.nextFinish();
  await h.manager.stop(id);
  assert.equal((await stopped).status, 'stopped');
  assert.equal(h.manager.get(id)?.status, 'stopped');
});

test('runs queue behind each other; stopping a queued run never starts it', async () => {
  const h = harness();
  h.setMode('slow');
  const first = h.manager.start('first', cfg);
  const second = h.manager.start('second', cfg);
  const third = h.manager.start('third', cfg);
  await firstStep(h);
  assert.equal(h.manager.get(first)?.status, 'running');
  assert.equal(h.manager.get(second)?.status, 'queued');
  assert.equal(h.manager.queuePosition(third), 2);
  await h.manager.stop(third);
  assert.equal(h.manager.get(third)?.status, 'stopped');
  const secondStep = firstStep(h);
  await h.manager.stop(first);
  await secondStep;
  assert.equal(h.manager.get(second)?.status, 'running');
  await h.manager.dispose();
  assert.equal(h.manager.get(second)?.status, 'stopped');
  assert.equal(fs.existsSync(path.join(h.manager.dirOf(third), 'argv.json')), false, 'the stopped queued run never started');
});

test('delete stops a running run and removes its folder', async () => {
  const h = harness();
  h.setMode('slow');
  const id = h.manager.start('doomed', cfg);
  await firstStep(h);
  const dir = h.manager.dirOf(id);
  await h.manager.delete(id);
  assert.equal(fs.existsSync(dir), false);
  assert.equal(h.manager.list().length, 0);
});

test('after a reload, a run whose trainer died shows stopped and resumable', async () => {
  const h = harness();
  h.setMode('slow');
  const id = h.manager.start('orphan', cfg);
  await firstStep(h);
  const dir = h.manager.dirOf(id);
  const pid = readStatus(dir)!.pid!;
  const stopped = h.nextFinish();
  process.kill(pid, 'SIGKILL');
  await stopped;
  // A new manager (the window reloaded) sees the folder as the previous one left it: rewrite status to
  // what a crashed host leaves behind — running with that (now dead) pid.
  fs.writeFileSync(path.join(dir, 'status.json'), JSON.stringify({ status: 'running', name: 'orphan', created: new Date().toISOString(), pid }));
  const reloaded = new RunManager({ runsDir: h.manager.runsDir, invocation: () => { throw new Error('not used'); } });
  const run = reloaded.get(id)!;
  assert.equal(run.status, 'stopped');
  assert.equal(run.resumable, true);
  assert.equal(run.step, 1);
  assert.equal(readRun(dir)?.status, 'stopped');
});
