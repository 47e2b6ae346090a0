// Issue 14, extension half: process ownership (Stop / Delete signal only our own trainer), queued runs
// launched once and only when offered, a queue that never wedges on a status.json that cannot be
// written, and run folders with malformed files that never break a view. Real child processes
// throughout: the trainer is a small script that follows the `ftune train` contract.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isOurProcess, matchProcess, readProcessIdentity, signalOurProcess } from '../../src/core/processIdentity';
import { DEFAULT_RUN_CONFIG } from '../../src/core/runConfig';
import { readRunLock, RUN_LOCK_FILE } from '../../src/core/runLock';
import { createRun, isProcessAlive, listRuns, readRun, readStatus, updateStatus } from '../../src/core/runStore';
import { cliInvocation } from '../../src/extension/cliInvocation';
import { RunManager, type RunFinished } from '../../src/extension/runManager';
import { queuedRunsQuestion } from '../../src/extension/runQueue';

// Appends its pid to <out>/launches (so a test counts how often a run was started), emits `started`
// and one step, then either finishes or (mode "hang") trains until SIGTERM, which it answers like the
// real trainer: a `stopped` event and exit 0.
const FAKE_TRAINER = String.raw`
const fs = require('fs');
const path = require('path');
exports.main = (argv) => {
  const out = argv[argv.indexOf('--out') + 1];
  fs.appendFileSync(path.join(out, 'launches'), process.pid + '\n');
  const mode = fs.readFileSync(path.join(out, '..', 'mode'), 'utf8').trim();
  const emit = (e) => { const line = JSON.stringify(e) + '\n'; fs.appendFileSync(path.join(out, 'metrics.jsonl'), line); process.stdout.write(line); };
  process.on('SIGTERM', () => { emit({ type: 'stopped', step: 1 }); process.exit(0); });
  emit({ type: 'started', run_id: 'x', method: 'sft', model: 'm', backend: 'cpu', total_steps: 2, examples: 1, skipped: 0, trainable_parameters: 1, config: {}, resumed_from_step: 0, time: '' });
  emit({ type: 'step', step: 1, total_steps: 2, epoch: 0, loss: 2, lr: 1e-4, grad_norm: 1, tokens_per_second: 1, tokens_seen: 1, elapsed: 1 });
  if (mode === 'hang') { setInterval(() => {}, 1000); return; }
  setTimeout(() => emit({ type: 'done', step: 2, adapter_path: 'adapter', elapsed: 2 }), 50);
};
`;

const cfg = { ...DEFAULT_RUN_CONFIG, model: '/m', data: '/d.jsonl', max_steps: 2 };
const children: ChildProcess[] = [];

function workspace(mode: 'ok' | 'hang' = 'ok'): { runsDir: string; cli: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-safety-'));
  const cli = path.join(root, 'fake-ftune.js');
  fs.writeFileSync(cli, FAKE_TRAINER);
  const runsDir = path.join(root, 'runs');
  fs.mkdirSync(runsDir);
  fs.writeFileSync(path.join(runsDir, 'mode'), mode);
  return { runsDir, cli };
}

function manager(runsDir: string, cli: string, extra: Partial<ConstructorParameters<typeof RunManager>[0]> = {}): RunManager {
  return new RunManager({ runsDir, invocation: (args) => cliInvocation(cli, args, { execPath: process.execPath }), stopTimeoutMs: 5000, ...extra });
}

/** An unrelated, long-lived process: what a stale or hostile status.json might name. */
async function bystander(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

function nextFinish(m: RunManager): Promise<RunFinished> {
  return new Promise((resolve) => {
    const sub = m.onFinished.on((f) => { sub.dispose(); resolve(f); });
  });
}

function firstStep(m: RunManager): Promise<void> {
  return new Promise((resolve) => {
    const sub = m.onEvent.on(({ event }) => { if (event.type === 'step') { sub.dispose(); resolve(); } });
  });
}

const launches = (dir: string): number => (fs.existsSync(path.join(dir, 'launches')) ? fs.readFileSync(path.join(dir, 'launches'), 'utf8').trim().split('\n').length : 0);
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Records process.kill calls instead of delivering them (signal 0, the existence probe, still goes through). */
async function withKillSpy<T>(body: (calls: [number, string | number | undefined][]) => Promise<T>): Promise<T> {
  const calls: [number, string | number | undefined][] = [];
  const real = process.kill;
  process.kill = ((pid: number, signal?: string | number) => {
    if (signal === 0) return real.call(process, pid, 0);
    calls.push([pid, signal]);
    return true;
  }) as typeof process.kill;
  try {
    return await body(calls);
  } finally {
    process.kill = real;
  }
}

test.after(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('issue 14: Stop never signals a process that is not our trainer', () => {
  test('the identity of a real child process: pid, start time and command line; it matches until the process ends', async () => {
    const child = await bystander();
    const identity = readProcessIdentity(child.pid!);
    assert.ok(identity, 'the identity of a live child is readable');
    assert.equal(identity.pid, child.pid);
    assert.ok(identity.startTime.length > 0);
    assert.match(identity.cmdline, /setInterval/);
    assert.equal(matchProcess(identity), 'ours');
    // the same pid with another start time (the pid was reused) or another command line is someone else
    assert.equal(matchProcess({ ...identity, startTime: `${identity.startTime}0` }), 'other');
    assert.equal(matchProcess({ ...identity, cmdline: 'vim notes.txt' }), 'other');
    assert.equal(signalOurProcess({ ...identity, startTime: 'then' }, 'SIGTERM'), 'other');
    assert.equal(readProcessIdentity(child.pid!)?.startTime, identity.startTime, 'a mismatched identity is never signalled: the child still lives');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    assert.equal(signalOurProcess(identity, 'SIGTERM'), 'ours');
    await exited;
    assert.equal(matchProcess(identity), 'gone');
    assert.equal(isOurProcess(identity), false);
  });

  test('pid 1, 0 and negative pids are never ours, never alive and never signalled; EPERM is not alive', () => {
    for (const pid of [1, 0, -1]) {
      assert.equal(readProcessIdentity(pid), undefined);
      assert.equal(isProcessAlive(pid), false);
      assert.equal(matchProcess({ pid, startTime: 'x', cmdline: 'x' }), 'other');
    }
  });

  test('a status.json naming pid 1 shows the run stopped, and Stop / Delete send it nothing', async () => {
    const { runsDir, cli } = workspace();
    const { id, dir } = createRun(runsDir, 'committed', cfg);
    updateStatus(dir, { status: 'running', pid: 1 });
    const m = manager(runsDir, cli);
    assert.equal(m.get(id)?.status, 'stopped');
    await withKillSpy(async (calls) => {
      await m.stop(id);
      await m.delete(id);
      assert.deepEqual(calls, [], 'no signal was sent');
    });
    assert.equal(fs.existsSync(dir), false);
  });

  test('a stale pid (no recorded identity) or a mismatched identity is never signalled and marks the run stopped', async () => {
    const { runsDir, cli } = workspace();
    const victim = await bystander();
    const identity = readProcessIdentity(victim.pid!)!;
    const m = manager(runsDir, cli);
    const cases: Record<string, object> = {
      'bare pid': { pid: victim.pid },
      'pid reused by another process': { pid: victim.pid, process: { ...identity, startTime: 'before the reboot' } },
      'another command line': { pid: victim.pid, process: { ...identity, cmdline: '/usr/bin/ftune train' } },
    };
    for (const [name, fields] of Object.entries(cases)) {
      const { id, dir } = createRun(runsDir, name, cfg);
      fs.writeFileSync(path.join(dir, 'status.json'), JSON.stringify({ status: 'running', name, created: new Date().toISOString(), ...fields }));
      assert.equal(m.get(id)?.status, 'stopped', `${name}: shown stopped`);
      await m.stop(id);
      assert.equal(readStatus(dir)?.status, 'stopped', `${name}: status.json now says stopped`);
      assert.equal(readStatus(dir)?.pid, undefined);
      assert.equal(victim.exitCode, null, `${name}: the unrelated process was not signalled`);
      assert.equal(isProcessAlive(victim.pid!), true);
    }
  });

  test('our own trainer, started by another window, is stopped through its recorded identity', async () => {
    const { runsDir, cli } = workspace('hang');
    const owner = manager(runsDir, cli);
    const id = owner.start('mine', cfg);
    await firstStep(owner);
    const status = readStatus(owner.dirOf(id))!;
    assert.equal(status.process?.pid, status.pid);
    assert.match(status.process!.cmdline, /fake-ftune\.js/);
    const finished = nextFinish(owner);
    const otherWindow = manager(runsDir, cli);
    assert.equal(otherWindow.get(id)?.status, 'running');
    await otherWindow.stop(id);
    assert.equal((await finished).status, 'stopped');
  });
});

describe('issue 14: a queued run is launched once, and only when the user accepts the offer', () => {
  test('runs queued by another window or an earlier session are offered, never started by a new window', async () => {
    const { runsDir, cli } = workspace();
    const a = createRun(runsDir, 'first', cfg, new Date('2026-01-01T00:00:00Z'));
    const b = createRun(runsDir, 'second', cfg, new Date('2026-01-02T00:00:00Z'));
    const m = manager(runsDir, cli);
    assert.deepEqual(m.queuedElsewhere().map((r) => r.id), [a.id, b.id]);
    assert.match(queuedRunsQuestion(['first', 'second']), /Resume 2 queued runs \(first, second\)\?/);
    await delay(300);
    assert.equal(launches(a.dir) + launches(b.dir), 0, 'nothing started silently');
    assert.equal(readStatus(a.dir)?.status, 'queued');
    // declining is possible too: Stop on such a run marks it stopped, so no window launches it later
    await m.stop(b.id);
    assert.equal(readStatus(b.dir)?.status, 'stopped');
    m.enqueueQueued([b.id]);
    await delay(200);
    assert.equal(launches(b.dir), 0, 'a stopped run is not launched even if a stale queue still names it');
  });

  test('two windows accepting the same queued run start one trainer', async () => {
    const { runsDir, cli } = workspace('hang');
    const { id, dir } = createRun(runsDir, 'contended', cfg);
    const one = manager(runsDir, cli);
    const two = manager(runsDir, cli);
    const started = firstStep(one);
    one.enqueueQueued([id]);
    two.enqueueQueued([id]);
    await started;
    await delay(200);
    assert.equal(launches(dir), 1, 'one trainer for the run');
    assert.ok(one.isOwned(id));
    assert.equal(two.isOwned(id), false);
    const finished = nextFinish(one);
    await one.stop(id);
    await finished;
  });

  test('a run folder held by a live trainer (the trainer\'s .ftune-lock, runLock.ts) is not spawned into again', async () => {
    const { runsDir, cli } = workspace();
    const { id, dir } = createRun(runsDir, 'locked', cfg);
    const holder = await bystander();
    const lockFile = path.join(dir, RUN_LOCK_FILE);
    // what `ftune train` writes (acquireRunLock): the holder's identity, its host and when it took the lock
    const identity = { ...readProcessIdentity(holder.pid!), host: os.hostname(), created_at: new Date().toISOString() };
    fs.writeFileSync(lockFile, JSON.stringify(identity));
    assert.equal(readRunLock(dir)?.pid, holder.pid);
    const m = manager(runsDir, cli);
    const warnings: string[] = [];
    m.onWarning.on(({ message }) => warnings.push(message));
    m.enqueueQueued([id]);
    await delay(300);
    assert.equal(launches(dir), 0);
    assert.match(warnings.join('\n'), new RegExp(`process ${holder.pid} on .* is already training`));
    // a stale lock (the pid is another process now) holds nothing
    fs.writeFileSync(lockFile, JSON.stringify({ ...identity, startTime: 'long ago' }));
    assert.equal(readRunLock(dir), undefined);
  });
});

describe('issue 14: the run queue never wedges when status.json cannot be written', () => {
  test('a run whose final status write fails still frees its slot: the next run starts and a warning is logged', async () => {
    const { runsDir, cli } = workspace();
    const m = manager(runsDir, cli);
    const warnings: string[] = [];
    m.onWarning.on(({ message }) => warnings.push(message));
    const firstFinished = nextFinish(m);
    const first = m.start('unlucky', cfg);
    await firstStep(m);
    // From now on every status.json write in this run folder fails (as on a full disk): the atomic
    // write's temporary name is taken by a directory. Root ignores a read-only folder, this does not.
    fs.mkdirSync(path.join(m.dirOf(first), `status.json.${process.pid}.tmp`));
    const second = m.start('next', cfg);
    assert.equal((await firstFinished).status, 'completed');
    const secondFinished = await nextFinish(m);
    assert.deepEqual([secondFinished.runId, secondFinished.status], [second, 'completed']);
    assert.match(warnings.join('\n'), /could not write .*status\.json/);
  });
});

describe('issue 14: malformed run files never break the Runs view or the status bar', () => {
  test('"loss":"x" in metrics.jsonl plus pid 1 in status.json: the run is listed, not running, with the reason', () => {
    const { runsDir } = workspace();
    const { dir } = createRun(runsDir, 'hostile', cfg);
    updateStatus(dir, { status: 'running', pid: 1 });
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), [
      JSON.stringify({ type: 'step', step: 1, total_steps: 2, epoch: 0, loss: 'x', lr: 1, grad_norm: 1, tokens_per_second: 1, tokens_seen: 1, elapsed: 1 }),
      JSON.stringify({ type: 'step', step: 2, total_steps: 2, epoch: 0, loss: 1.5, lr: 1, grad_norm: 1, tokens_per_second: 1, tokens_seen: 1, elapsed: 2 }),
      '',
    ].join('\n'));
    const [run] = listRuns(runsDir);
    assert.equal(run.status, 'stopped');
    assert.equal(run.loss, 1.5, 'the valid line still counts');
    assert.equal(typeof run.loss, 'number');
    assert.deepEqual(run.problems, ['metrics.jsonl:1: loss: expected a number']);
  });

  test('a status.json, run_config.json or metrics line of the wrong shape is a problem of that run, not an exception', () => {
    const { runsDir } = workspace();
    const bad = (name: string, files: Record<string, string>): string => {
      const dir = path.join(runsDir, name);
      fs.mkdirSync(dir);
      for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text);
      return dir;
    };
    bad('status-shape', { 'status.json': JSON.stringify({ status: 'running', pid: 'one', name: 7 }) });
    bad('status-json', { 'status.json': '{"status": "run' });
    bad('config-shape', { 'run_config.json': JSON.stringify({ model: ['x'], data: 3 }), 'status.json': JSON.stringify({ status: 'stopped' }) });
    bad('event-shape', { 'metrics.jsonl': '{"type":"started","model":"m","backend":"cpu","total_steps":"many","resumed_from_step":0}\n{"type":"done","step":null}\n' });
    const runs = new Map(listRuns(runsDir).map((r) => [r.id, r]));
    assert.match(runs.get('status-shape')!.problems![0], /^status\.json: /);
    assert.match(runs.get('status-json')!.problems![0], /^status\.json: not valid JSON/);
    assert.match(runs.get('config-shape')!.problems![0], /^run_config\.json: model: /);
    assert.equal(runs.get('config-shape')!.resumable, false, 'an invalid config is never used to resume');
    assert.deepEqual(runs.get('event-shape')!.problems!.map((p) => p.split(': ')[0]), ['metrics.jsonl:1', 'metrics.jsonl:2']);
    for (const run of runs.values()) assert.notEqual(run.status, 'running');
    assert.equal(readRun(path.join(runsDir, 'status-shape'))?.name, 'status-shape');
  });
});

