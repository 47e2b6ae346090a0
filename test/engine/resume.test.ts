// Robustness of `ftune train` runs, through the real CLI in child processes: a run stopped with
// SIGTERM and resumed ends exactly where an uninterrupted run ends; so does a run killed with SIGKILL
// at several points (some inside checkpoint writes) and resumed each time; a diverging run fails
// cleanly with advice and a loadable checkpoint.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TrainerEvent } from '../../src/core/protocol';
import { mulberry32 } from '../../src/core/random';
import { SafetensorsFile } from '../../src/core/safetensors';
import { initBackend } from '../../src/engine/backend';
import { listCheckpoints, readTrainerState } from '../../src/engine/checkpoint';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'ftune.js');
const TINY = path.join(ROOT, 'examples', 'models', 'tiny-gsm8k-base');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-resume-'));
const DATA = path.join(TMP, 'sums.jsonl');
// 6 examples, batch 2: 3 steps per epoch, so 6 steps cross an epoch boundary (a new shuffle), with
// LoRA dropout on: everything a resume has to reproduce.
const COMMON = ['--model', TINY, '--data', DATA, '--max-steps', '6', '--batch-size', '2', '--lr', '0.01', '--lora-dropout', '0.1', '--seed', '7', '--backend', 'wasm'];

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: TrainerEvent[];
  stderr: string;
}

/** Runs `ftune train`; `watch` sees each event as it arrives and may signal the child. */
function train(out: string, extra: string[], options: { env?: Record<string, string>; watch?: (e: TrainerEvent, child: ChildProcess) => void; onSpawn?: (child: ChildProcess) => void } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'train', ...COMMON, '--out', out, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env },
    });
    const events: TrainerEvent[] = [];
    let stdout = '', stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
      let nl: number;
      while ((nl = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const event = JSON.parse(line) as TrainerEvent;
        events.push(event);
        options.watch?.(event, child);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, events, stderr }));
    options.onSpawn?.(child);
  });
}

const ofType = <T extends TrainerEvent['type']>(events: TrainerEvent[], type: T) =>
  events.filter((e): e is Extract<TrainerEvent, { type: T }> => e.type === type);

/** (step, loss, lr) of every step line in <out>/metrics.jsonl, in file order. */
function curve(out: string): { step: number; loss: number; lr: number }[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as TrainerEvent)
    .filter((e): e is Extract<TrainerEvent, { type: 'step' }> => e.type === 'step')
    .map((e) => ({ step: e.step, loss: e.loss, lr: e.lr }));
}

function readAdapter(dir: string): Map<string, Float32Array> {
  const f = SafetensorsFile.open(path.join(dir, 'adapter_model.safetensors'));
  try {
    return new Map([...f.tensors.keys()].map((k) => [k, f.readFloat32(k).data]));
  } finally {
    f.close();
  }
}

/** Same tensors; identical bytes is what a deterministic resume gives, 1e-6 is what we accept. */
function assertSameAdapter(actual: string, expected: string): { identicalBytes: boolean } {
  const a = readAdapter(actual), e = readAdapter(expected);
  assert.deepEqual([...a.keys()].sort(), [...e.keys()].sort());
  for (const [name, want] of e) {
    const got = a.get(name)!;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    assert.ok(worst <= 1e-6, `${name}: max difference ${worst}`);
  }
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(actual, 'adapter_config.json'), 'utf8')), JSON.parse(fs.readFileSync(path.join(expected, 'adapter_config.json'), 'utf8')));
  const file = 'adapter_model.safetensors';
  return { identicalBytes: fs.readFileSync(path.join(actual, file)).equals(fs.readFileSync(path.join(expected, file))) };
}

/** Every checkpoint that counts as complete must be whole: state, adapter and optimizer all readable. */
function assertCheckpointsWhole(out: string, model: DecoderModel): void {
  for (const { step, dir } of listCheckpoints(out)) {
    const state = readTrainerState(dir);
    assert.equal(state.global_step, step, `${dir}: trainer_state.json`);
    const adapter = LoraAdapter.load(dir, model);
    adapter.dispose();
    const opt = SafetensorsFile.open(path.join(dir, 'optimizer.safetensors'));
    for (const name of opt.tensors.keys()) opt.readFloat32(name);
    opt.close();
  }
}

let reference: { out: string; curve: { step: number; loss: number; lr: number }[] };

before(async () => {
  await initBackend('wasm');
  const rows = Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `What is ${i + 2} + ${(i % 3) + 1}?\n`, completion: `${i + 2} + ${(i % 3) + 1} = ${i + 3 + (i % 3)}\n#### ${i + 3 + (i % 3)}` }));
  fs.writeFileSync(DATA, rows.join('\n') + '\n');
  // The uninterrupted run every interrupted one is compared with.
  const out = path.join(TMP, 'reference');
  const r = await train(out, ['--save-every', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.events.at(-1)?.type, 'done');
  reference = { out, curve: curve(out) };
  assert.deepEqual(reference.curve.map((c) => c.step), [1, 2, 3, 4, 5, 6]);
});

describe('resume', () => {
  test('SIGTERM after step 3 → checkpoint, "stopped", exit 0; --resume ends with the same adapter and loss curve', async (t) => {
    const out = path.join(TMP, 'stopped');
    let signalled = false;
    // A slow checkpoint write makes the event loop turn while step 3 is saved, so the signal lands there.
    const first = await train(out, ['--save-every', '3'], {
      env: { FTUNE_TEST_SLOW_CHECKPOINT_MS: '200' },
      watch: (e, child) => {
        if (e.type === 'step' && e.step === 3 && !signalled) {
          signalled = true;
          child.kill('SIGTERM');
        }
      },
    });
    assert.equal(first.code, 0, `exit 0 after SIGTERM; stderr: ${first.stderr}`);
    const stopped = first.events.at(-1);
    assert.ok(stopped && stopped.type === 'stopped', `last event: ${JSON.stringify(stopped)}`);
    assert.ok(stopped.step >= 3 && stopped.step < 6, `stopped at step ${stopped.step}`);
    t.diagnostic(`stopped at step ${stopped.step}`);
    assert.ok(ofType(first.events, 'checkpoint').some((c) => c.step === stopped.step && c.path === stopped.checkpoint));
    assert.equal(readTrainerState(stopped.checkpoint!).global_step, stopped.step);
    assert.ok(!fs.existsSync(path.join(out, 'adapter')), 'no final adapter for a stopped run');

    const second = await train(out, ['--save-every', '3', '--resume']);
    assert.equal(second.code, 0, second.stderr);
    const started = ofType(second.events, 'started')[0];
    assert.equal(started.resumed_from_step, stopped.step);
    assert.deepEqual(ofType(second.events, 'step').map((s) => s.step), Array.from({ length: 6 - stopped.step }, (_, i) => stopped.step + i + 1));
    assert.equal(second.events.at(-1)?.type, 'done');

    const { identicalBytes } = assertSameAdapter(path.join(out, 'adapter'), path.join(reference.out, 'adapter'));
    t.diagnostic(`adapter bytes identical: ${identicalBytes}`);
    assert.deepEqual(curve(out), reference.curve, 'metrics.jsonl holds each step once, with the same loss and lr');
  });

  test('kill -9 at random points (some inside checkpoint writes), resumed each time: same final adapter and curve', { timeout: 240_000 }, async (t) => {
    const out = path.join(TMP, 'killed');
    const rand = mulberry32(99);
    const slow = { FTUNE_TEST_SLOW_CHECKPOINT_MS: '120' };
    const model = DecoderModel.load(TINY);
    const log: string[] = [];
    let killsInsideWrites = 0;
    const root = path.join(out, 'checkpoints');
    const writing = (step: number) => fs.existsSync(root) && fs.readdirSync(root).some((n) => n.startsWith(`step-${step}.tmp-`));
    const kill = (child: ChildProcess) => {
      if (fs.existsSync(root) && fs.readdirSync(root).some((n) => n.includes('.tmp-'))) killsInsideWrites++;
      child.kill('SIGKILL');
    };
    /** SIGKILL `delay` ms after the checkpoint of `step` starts being written (its temp folder appears). */
    const killDuringCheckpoint = (step: number, delay: number) => (child: ChildProcess) => {
      const timer = setInterval(() => {
        if (!writing(step)) return;
        clearInterval(timer);
        setTimeout(() => kill(child), delay);
      }, 5);
      child.on('close', () => clearInterval(timer));
    };
    /** SIGKILL `delay` ms after the event `when` (the next step may be computing or being saved). */
    const killAfter = (when: (e: TrainerEvent) => boolean, delay: number) => (e: TrainerEvent, child: ChildProcess) => {
      if (when(e)) setTimeout(() => kill(child), delay);
    };
    const resumedFrom: number[] = [];
    try {
      // Each attempt gets past the previous one's last checkpoint (every checkpoint takes ≥ 360 ms to write).
      const attempts: { name: string; args: string[]; env?: Record<string, string>; onSpawn?: (c: ChildProcess) => void; watch?: (e: TrainerEvent, c: ChildProcess) => void }[] = [
        // before any checkpoint is complete: the resume starts over and must drop the old step lines
        { name: 'inside the first checkpoint write', args: [], env: { FTUNE_TEST_SLOW_CHECKPOINT_MS: '400' }, watch: killAfter((e) => e.type === 'step', 0) },
        { name: 'inside the step-2 checkpoint write', args: ['--resume'], onSpawn: killDuringCheckpoint(2, Math.floor(rand() * 250)) },
        { name: 'at a random time after the first step', args: ['--resume'], watch: killAfter((e) => e.type === 'step', Math.floor(rand() * 400)) },
        { name: 'as the step-4 checkpoint write begins', args: ['--resume'], onSpawn: killDuringCheckpoint(4, 0) },
        { name: 'at a random time after checkpoint 5 (final step, final save, adapter copy)', args: ['--resume'], watch: killAfter((e) => e.type === 'checkpoint' && e.step === 5, Math.floor(rand() * 500)) },
      ];
      for (const attempt of attempts) {
        const r = await train(out, ['--save-every', '1', ...attempt.args], { env: attempt.env ?? slow, onSpawn: attempt.onSpawn, watch: attempt.watch });
        const started = ofType(r.events, 'started')[0];
        if (started && attempt.args.includes('--resume')) resumedFrom.push(started.resumed_from_step);
        const last = listCheckpoints(out).at(-1)?.step ?? 0;
        log.push(`${attempt.name}: ${r.signal ?? `exit ${r.code}`}, resumed from ${started?.resumed_from_step ?? '-'}, last complete checkpoint ${last}`);
        if (r.signal !== 'SIGKILL') assert.equal(r.code, 0, r.stderr); // finished before the kill: fine
        assertCheckpointsWhole(out, model);
      }
      const final = await train(out, ['--save-every', '1', '--resume']);
      assert.equal(final.code, 0, final.stderr);
      assert.equal(final.events.at(-1)?.type, 'done');
      assertCheckpointsWhole(out, model);
      assert.deepEqual(fs.readdirSync(path.join(out, 'checkpoints')).filter((n) => n.includes('.tmp-')), [], 'partial checkpoints cleaned');
      const { identicalBytes } = assertSameAdapter(path.join(out, 'adapter'), path.join(reference.out, 'adapter'));
      assert.deepEqual(curve(out), reference.curve, 'each step once in metrics.jsonl, same losses');
      t.diagnostic(`${log.join('; ')}; kills inside a checkpoint write: ${killsInsideWrites}; adapter bytes identical: ${identicalBytes}`);
      assert.ok(log.filter((l) => l.includes('SIGKILL')).length >= 4, `the kills landed: ${log.join('; ')}`);
      assert.ok(killsInsideWrites >= 1, 'at least one kill hit a checkpoint being written');
      assert.equal(resumedFrom[0], 0, 'the first kill left no complete checkpoint');
      assert.ok(resumedFrom.filter((s) => s > 0).length >= 2, `resumed from real checkpoints: ${resumedFrom}`);
    } finally {
      model.dispose();
    }
  });
});

describe('divergence', () => {
  for (const [lr, kind] of [['1e20', /training diverged at step \d+: loss NaN/], ['1e6', /training stalled at step \d+: the gradient is exactly zero/]] as const) {
    test(`--lr ${lr}: the run ends 'failed' (exit 1) with advice to lower the lr, and the checkpoint it names loads`, async () => {
      const out = path.join(TMP, `diverge-${lr}`);
      const r = await train(out, ['--lr', lr, '--lora-dropout', '0']);
      assert.equal(r.code, 1);
      const failed = r.events.at(-1);
      assert.ok(failed && failed.type === 'failed', JSON.stringify(failed));
      assert.match(failed.error, kind);
      assert.match(failed.error, /try a lower learning rate \(--lr 1e(19|5)\)/);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.equal(lines[0], `ftune: error: ${failed.error}`);
      assert.ok(failed.checkpoint && failed.error.includes(failed.checkpoint));
      const model = DecoderModel.load(TINY);
      try {
        const adapter = LoraAdapter.load(failed.checkpoint, model);
        const values = adapter.variables().flatMap((v) => Array.from(v.dataSync()));
        assert.ok(values.every(Number.isFinite), 'the saved weights are finite numbers');
        adapter.dispose();
        assert.equal(readTrainerState(failed.checkpoint).global_step, failed.step);
      } finally {
        model.dispose();
      }
      assert.ok(!fs.existsSync(path.join(out, 'adapter')), 'no final adapter for a failed run');
    });
  }
});
