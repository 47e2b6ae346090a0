// RunEvents: the live events a panel gets for a run folder — this window's trainer's stdout, or the new
// complete lines of metrics.jsonl for a run trained elsewhere. Events are the trainer's JSON lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TrainerEvent } from '../../src/core/protocol';
import { METRICS_FILE } from '../../src/core/runStore';
import { RunEvents } from '../../src/extension/runEvents';

const stepLine = (step: number): string =>
  JSON.stringify({ type: 'step', step, total_steps: 10, epoch: step / 10, loss: 2 - step / 10, lr: 2e-4, grad_norm: 0.8, tokens_per_second: 310.5, tokens_seen: 512 * step, elapsed: step * 1.5 }) + '\n';

/** the step numbers among the events . */
const stepsOf = (events: readonly TrainerEvent[]): number[] => events.flatMap((e) => (e.type === 'step' ? [e.step] : []));

function runDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-runevents-'));
  fs.writeFileSync(path.join(dir, METRICS_FILE), stepLine(1) + stepLine(2));
  return dir;
}

test('a run trained elsewhere: only lines written after subscribing, each complete line once', () => {
  const dir = runDir();
  const events = new RunEvents(() => false);
  const got: TrainerEvent[] = [];
  events.subscribe(dir, (e) => got.push(e));
  events.fileChanged(dir);
  assert.deepEqual(got, [], 'the history (steps 1 and 2) is read separately');
  // step 3 complete, step 4 half-written: only step 3 now
  const four = stepLine(4);
  fs.appendFileSync(path.join(dir, METRICS_FILE), stepLine(3) + four.slice(0, 20));
  events.fileChanged(dir);
  assert.deepEqual(stepsOf(got), [3]);
  fs.appendFileSync(path.join(dir, METRICS_FILE), four.slice(20) + 'not an event\n{"type":"step","step":"five"}\n');
  events.fileChanged(dir);
  events.fileChanged(dir);
  assert.deepEqual(stepsOf(got), [3, 4], 'the rest of step 4, once; plain and invalid lines are left out');
  const last = got[1] as Extract<TrainerEvent, { type: 'step' }>;
  assert.equal(last.loss, 1.6);
  assert.equal(last.tokens_seen, 2048);
});

test('a multi-byte character split across two writes is delivered whole', () => {
  const dir = runDir();
  const events = new RunEvents(() => false);
  const got: TrainerEvent[] = [];
  events.subscribe(dir, (e) => got.push(e));
  const line = Buffer.from(JSON.stringify({ type: 'log', level: 'warn', message: 'données ✓' }) + '\n');
  const cut = line.indexOf(Buffer.from('✓')) + 1;
  fs.appendFileSync(path.join(dir, METRICS_FILE), line.subarray(0, cut));
  events.fileChanged(dir);
  fs.appendFileSync(path.join(dir, METRICS_FILE), line.subarray(cut));
  events.fileChanged(dir);
  assert.deepEqual(got, [{ type: 'log', level: 'warn', message: 'données ✓' }]);
});

test('a run this window trains: the file is not re-read, its stdout events are delivered', () => {
  const dir = runDir();
  let owned = true;
  const events = new RunEvents((d) => owned && d === path.resolve(dir));
  const got: TrainerEvent[] = [];
  events.subscribe(dir, (e) => got.push(e));
  fs.appendFileSync(path.join(dir, METRICS_FILE), stepLine(3));
  events.fileChanged(dir);
  assert.deepEqual(got, [], 'stdout already delivered step 3');
  events.deliver(dir, { type: 'checkpoint', step: 3, path: path.join(dir, 'checkpoints', 'step-3') });
  assert.equal(got.length, 1);
  // the trainer exits and another window resumes it: from here on the file is followed, from step 4
  owned = false;
  fs.appendFileSync(path.join(dir, METRICS_FILE), stepLine(4));
  events.fileChanged(dir);
  assert.deepEqual(got.map((e: TrainerEvent) => e.type), ['checkpoint', 'step']);
  assert.deepEqual(stepsOf(got), [4]);
});

test('a run restarted elsewhere rewrites metrics.jsonl: its new lines are followed from the start', () => {
  const dir = runDir();
  const events = new RunEvents(() => false);
  const got: TrainerEvent[] = [];
  events.subscribe(dir, (e) => got.push(e));
  fs.writeFileSync(path.join(dir, METRICS_FILE), '');
  events.fileChanged(dir);
  fs.appendFileSync(path.join(dir, METRICS_FILE), stepLine(1));
  events.fileChanged(dir);
  assert.deepEqual(stepsOf(got), [1]);
});

test('a rewritten metrics.jsonl that already holds lines when the change is seen: they are delivered from its start', () => {
  const dir = runDir();
  const events = new RunEvents(() => false);
  const got: TrainerEvent[] = [];
  events.subscribe(dir, (e) => got.push(e));
  fs.appendFileSync(path.join(dir, METRICS_FILE), stepLine(3)); // runDir wrote steps 1 and 2 before subscribing
  events.fileChanged(dir);
  fs.writeFileSync(path.join(dir, METRICS_FILE), stepLine(1)); // restarted: shorter than what was read
  events.fileChanged(dir);
  assert.deepEqual(stepsOf(got), [3, 1]);
});

test('listeners per folder: the same folder by another spelling, several listeners, dispose stops one', () => {
  const dir = runDir();
  const events = new RunEvents(() => false);
  const a: TrainerEvent[] = [];
  const b: TrainerEvent[] = [];
  const subA = events.subscribe(path.join(dir, '.'), (e) => a.push(e));
  const subB = events.subscribe(dir, (e) => b.push(e));
  const other = runDir();
  events.deliver(other, { type: 'log', level: 'info', message: 'other run' });
  events.deliver(dir + path.sep, { type: 'log', level: 'info', message: 'this run' });
  assert.equal(a.length, 1);
  assert.equal(b.length, 1);
  subA.dispose();
  fs.appendFileSync(path.join(dir, METRICS_FILE), stepLine(3));
  events.fileChanged(dir);
  assert.equal(a.length, 1, 'a disposed listener gets nothing');
  assert.equal(b.length, 2);
  subB.dispose();
  fs.appendFileSync(path.join(dir, METRICS_FILE), stepLine(4));
  events.fileChanged(dir);
  assert.equal(b.length, 2);
  // a new subscriber starts at the current end, not where the last one stopped
  const c: TrainerEvent[] = [];
  events.subscribe(dir, (e) => c.push(e));
  events.fileChanged(dir);
  assert.deepEqual(c, []);
});
