// issue 14 (CLI / engine / core half): nothing lost, nothing hangs. Each describe block names the
// item of issue 14 it covers; every test runs the real `ftune` (bin/ftune.js → out/) in a child
// process or the real core function, against files written here.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cleanPartialFolders, installFolder } from '../../src/core/installFolder';
import { readJsonl } from '../../src/core/jsonl';
import { openForAppendNoFollow } from '../../src/core/noFollow';
import { isSameFile, isSameOrInside } from '../../src/core/pathGuard';
import { currentProcessIdentity } from '../../src/core/processIdentity';
import { DEFAULT_RUN_CONFIG } from '../../src/core/runConfig';
import { acquireRunLock, isRunLocked, readRunLock, RUN_LOCK_FILE } from '../../src/core/runLock';
import { readStatus } from '../../src/core/runStore';
import { copyWritable } from '../../src/engine/export';
import { cliInvocation } from '../../src/extension/cliInvocation';
import { RunManager, type RunFinished } from '../../src/extension/runManager';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend';
import { readTrainerState, saveCheckpoint } from '../../src/engine/checkpoint';
import { AdamW } from '../../src/engine/optimizer';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'ftune.js');
const TINY = path.join(ROOT, 'examples', 'models', 'tiny-gsm8k-base');

interface Result { code: number | null; stdout: string; stderr: string }

function ftune(args: string[], env: Record<string, string> = {}, timeout = 120_000): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const created: string[] = [];
function tmp(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ftune-safety-${prefix}-`));
  created.push(dir);
  return dir;
}
after(() => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** Exit 1 and exactly one `ftune: error:` line on stderr, matching `message`. */
function assertOneLineError(r: Result, message: RegExp): void {
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ftune: error:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0], message);
}

/** A line 100 000 arrays deep: JSON.parse copes, every recursive step after it did not. */
function deepLine(): string {
  const depth = 100_000;
  return `{"text":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

describe('issue 14: JSONL nesting depth (ftune data split and every JSONL reader)', () => {
  test('ftune data split on a deeply nested line reports file:line: nesting too deep', () => {
    const dir = tmp('deep');
    const file = path.join(dir, 'data.jsonl');
    fs.writeFileSync(file, `{"text":"a"}\n{"text":"b"}\n${deepLine()}\n{"text":"c"}\n`);
    const r = ftune(['data', 'split', file]);
    assertOneLineError(r, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: nesting too deep`));
    assert.deepEqual(fs.readdirSync(dir), ['data.jsonl'], 'nothing written');
  });

  test('the streaming reader (validate, preview, train) reports the same line as a bad line', async () => {
    const dir = tmp('deep-stream');
    const file = path.join(dir, 'data.jsonl');
    fs.writeFileSync(file, `{"text":"a"}\n${deepLine()}\n{"text":"[[[[\\"]]]"}\n`);
    const entries = [];
    for await (const e of readJsonl(file)) entries.push(e);
    assert.equal(entries.length, 3);
    assert.equal(entries[1].line, 2);
    assert.match(entries[1].error ?? '', /nesting too deep/);
    assert.equal(entries[2].error, undefined, 'brackets inside strings do not count');
  });
});

describe('issue 14: from-files writes atomically (ftune data from-files and the core function)', () => {
  test('no text found: the previous output file is kept; a later success replaces it in one rename', () => {
    const dir = tmp('fromfiles');
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const out = path.join(src, 'corpus.jsonl');
    const previous = '{"text":"the dataset made yesterday"}\n';
    fs.writeFileSync(out, previous);
    // Only the output itself lies in the folder, and it must not be read back in as text.
    const empty = ftune(['data', 'from-files', src, '--out', out]);
    assertOneLineError(empty, /no text found/);
    assert.equal(fs.readFileSync(out, 'utf8'), previous, 'the old file is untouched');

    fs.writeFileSync(path.join(src, 'notes.md'), 'Some notes about sheep.\n');
    const ok = ftune(['data', 'from-files', src, '--out', out]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).text as string), ['Some notes about sheep.']);
    assert.deepEqual(fs.readdirSync(src).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
  });
});

/** A copy of the tiny model folder whose tokenizer files are edited by `edit` (weights linked, not copied). */
function hostileModel(name: string, edit: (tokenizer: Record<string, unknown>, config: Record<string, unknown>) => void): string {
  const dir = path.join(tmp(name), 'model');
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(TINY)) fs.symlinkSync(path.join(TINY, f), path.join(dir, f));
  const tokenizer = JSON.parse(fs.readFileSync(path.join(TINY, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const config = JSON.parse(fs.readFileSync(path.join(TINY, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  edit(tokenizer, config);
  for (const [f, v] of [['tokenizer.json', tokenizer], ['tokenizer_config.json', config]] as const) {
    fs.rmSync(path.join(dir, f));
    fs.writeFileSync(path.join(dir, f), JSON.stringify(v));
  }
  return dir;
}

function conversationFile(dir: string, lines: number): string {
  const file = path.join(dir, 'chat.jsonl');
  const row = { messages: [{ role: 'user', content: 'How many sheep?' }, { role: 'assistant', content: '#### 7' }] };
  fs.writeFileSync(file, Array.from({ length: lines }, () => JSON.stringify(row)).join('\n') + '\n');
  return file;
}

describe('issue 14: hostile chat templates and tokenizers run under a time budget (preview, train, serve, export)', () => {
  // 1 s instead of the default 10 s keeps the test short; the code path is the same.
  const BUDGET = { FTUNE_TOKENIZER_BUDGET_MS: '1000' };
  const loopTemplate = (_t: Record<string, unknown>, config: Record<string, unknown>) => {
    config.chat_template = '{% for i in range(100000000) %}{{ i }}{% endfor %}';
  };

  test('ftune preview: a template with a huge loop fails as file:line within seconds', () => {
    const model = hostileModel('loop', loopTemplate);
    const data = conversationFile(path.dirname(model), 3);
    const started = Date.now();
    const r = ftune(['preview', data, '--model', model], BUDGET, 60_000);
    assert.ok(Date.now() - started < 30_000, 'ends within seconds of the budget');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: the chat template did not finish within 1 s`));
  });

  test('ftune train: the same template stops the run before any step, one problem reported', () => {
    const model = hostileModel('loop-train', loopTemplate);
    const data = conversationFile(path.dirname(model), 20);
    const out = path.join(path.dirname(model), 'run');
    const started = Date.now();
    const r = ftune(['train', '--model', model, '--data', data, '--out', out, '--max-steps', '1', '--backend', 'cpu'], BUDGET, 60_000);
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.equal(r.code, 1, r.stderr);
    // Only the first example waits the budget out: the run stops there.
    assert.match(r.stderr, /chat\.jsonl:1: the chat template did not finish within 1 s/);
    assert.doesNotMatch(r.stderr, /chat\.jsonl:2:/);
  });

  test('a pre-tokenizer regex that backtracks catastrophically: the tokenizer did not finish, file:line', () => {
    const model = hostileModel('regex', (tokenizer) => {
      tokenizer.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false };
    });
    const file = path.join(path.dirname(model), 'text.jsonl');
    fs.writeFileSync(file, `{"text":"fine"}\n{"text":"${'a'.repeat(40)}b"}\n`);
    const started = Date.now();
    const r = ftune(['preview', file, '--model', model, '--n', '2'], BUDGET, 60_000);
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /text\.jsonl:2: the tokenizer did not finish within 1 s/);
  });

  test('ftune export --to gguf: the Modelfile gets no TEMPLATE (with the reason) instead of the export hanging', () => {
    const model = hostileModel('loop-export', loopTemplate);
    const out = path.join(path.dirname(model), 'gguf');
    const started = Date.now();
    const r = ftune(['export', '--to', 'gguf', '--model', model, '--out', out, '--backend', 'cpu'], BUDGET, 60_000);
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Modelfile has no TEMPLATE: .*the chat template did not finish within 1 s/);
    assert.doesNotMatch(fs.readFileSync(path.join(out, 'Modelfile'), 'utf8'), /^TEMPLATE/m);
  });

  test('ftune serve: a request with the hostile template fails, the server keeps answering', async () => {
    const model = hostileModel('loop-serve', loopTemplate);
    const { spawn } = await import('child_process');
    const child = spawn(process.execPath, [CLI, 'serve', '--model', model, '--backend', 'cpu'], { env: { ...process.env, ...BUDGET } });
    const lines: string[] = [];
    let buffer = '';
    const waitFor = (predicate: (l: string) => boolean) => new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching line; got ${lines.join('\n')}`)), 60_000);
      const check = () => {
        const hit = lines.find(predicate);
        if (hit) { clearTimeout(timer); child.stdout.off('data', onData); resolve(hit); }
      };
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString();
        const parts = buffer.split('\n');
        buffer = parts.pop() ?? '';
        lines.push(...parts);
        check();
      };
      child.stdout.on('data', onData);
      check();
    });
    try {
      const options = { max_new_tokens: 2, greedy: true, stop: true };
      child.stdin.write(JSON.stringify({ type: 'generate', id: 'a', ref: { model }, messages: [{ role: 'user', content: 'hi' }], options }) + '\n');
      const failed = await waitFor((l) => l.includes('"a"') && /did not finish within 1 s/.test(l));
      assert.match(failed, /the chat template did not finish within 1 s/);
      child.stdin.write(JSON.stringify({ type: 'generate', id: 'b', ref: { model }, prompt: 'Tom has', options }) + '\n');
      const answered = JSON.parse(await waitFor((l) => l.includes('"b"') && l.includes('"done"'))) as { token_ids: number[]; cancelled: boolean };
      assert.equal(answered.cancelled, false);
      assert.ok(answered.token_ids.length >= 1);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

// ------------------------------------------------------------------------------------ training runs

const TRAIN_DIR = tmp('train');
const SUMS = path.join(TRAIN_DIR, 'sums.jsonl');
fs.writeFileSync(SUMS, Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `${i} + ${i} =`, completion: ` ${2 * i}` })).join('\n') + '\n');

function train(out: string, extra: string[], env: Record<string, string> = {}): Result {
  return ftune(['train', '--model', TINY, '--data', SUMS, '--out', out, '--batch-size', '2', '--backend', 'wasm', ...extra], env);
}

/** Every file under `dir` with its bytes, so a test can say "nothing was touched". */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) visit(path.join(d, e.name), r);
      else out[r] = fs.readFileSync(path.join(d, e.name)).toString('base64');
    }
  };
  visit(dir, '');
  return out;
}

function startedEvents(out: string): { resumed_from_step: number }[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; resumed_from_step: number }).filter((e) => e.type === 'started');
}

describe('issue 14: train --out safety', () => {
  test('a non-empty --out that is not a run folder is refused with one line, nothing touched', () => {
    const out = path.join(tmp('foreign'), 'mine');
    fs.mkdirSync(path.join(out, 'adapter'), { recursive: true });
    fs.writeFileSync(path.join(out, 'adapter', 'notes.txt'), 'my notes');
    fs.writeFileSync(path.join(out, 'metrics.jsonl'), 'my own metrics\n');
    fs.writeFileSync(path.join(out, 'thesis.tex'), '\\documentclass{article}');
    const before = snapshot(out);
    const r = train(out, ['--max-steps', '1']);
    assertOneLineError(r, /is not empty and is not a run folder \(it holds thesis\.tex\)/);
    assert.deepEqual(snapshot(out), before);
  });

  test('an existing run is refused without --resume; --overwrite empties it first (no old checkpoint survives)', () => {
    const out = path.join(tmp('rerun'), 'run');
    const first = train(out, ['--max-steps', '3', '--save-every', '1']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(fs.readdirSync(path.join(out, 'checkpoints')).sort(), ['step-1', 'step-2', 'step-3']);
    const before = snapshot(out);

    const again = train(out, ['--max-steps', '1']);
    assertOneLineError(again, /already holds a run; continue it with --resume, or replace it with --overwrite/);
    assert.deepEqual(snapshot(out), before, 'the refused run touched nothing');

    const replaced = train(out, ['--max-steps', '1', '--overwrite']);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.deepEqual(fs.readdirSync(path.join(out, 'checkpoints')), ['step-1']);
    assert.equal(startedEvents(out).length, 1, 'metrics of the old run are gone');
    // A later --resume continues the new run, not the old run's step 3.
    const resumed = train(out, ['--max-steps', '2', '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(startedEvents(out).at(-1)?.resumed_from_step, 1);
    assert.ok(!fs.readdirSync(out).some((f) => f.includes('.tmp-')), 'the final adapter was renamed into place, no temporary folder left');
  });

  test('a folder the extension created for a new run (run_config.json, status.json) trains without flags', () => {
    const out = path.join(tmp('newrun'), 'run');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'run_config.json'), JSON.stringify({ model: TINY, data: SUMS }));
    fs.writeFileSync(path.join(out, 'status.json'), JSON.stringify({ status: 'queued', name: 'n', created: '' }));
    const r = train(out, ['--max-steps', '1']);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('issue 14: final adapter written under a temporary name and renamed into place', () => {
  test('installFolder: a failed write keeps the old folder whole; a good one replaces it completely', () => {
    const dir = tmp('install');
    const dest = path.join(dir, 'adapter');
    fs.mkdirSync(dest);
    fs.writeFileSync(path.join(dest, 'adapter_model.safetensors'), 'old weights');
    fs.writeFileSync(path.join(dest, 'stale.txt'), 'from an older run');
    assert.throws(() => installFolder(dest, (tmpDir) => {
      fs.mkdirSync(tmpDir);
      fs.writeFileSync(path.join(tmpDir, 'adapter_model.safetensors'), 'half');
      throw new Error('disk full');
    }), /disk full/);
    assert.deepEqual(snapshot(dest), { 'adapter_model.safetensors': Buffer.from('old weights').toString('base64'), 'stale.txt': Buffer.from('from an older run').toString('base64') });
    installFolder(dest, (tmpDir) => {
      fs.mkdirSync(tmpDir);
      fs.writeFileSync(path.join(tmpDir, 'adapter_model.safetensors'), 'new weights');
    });
    assert.deepEqual(snapshot(dest), { 'adapter_model.safetensors': Buffer.from('new weights').toString('base64') });
    assert.deepEqual(fs.readdirSync(dir), ['adapter']);
  });

  test('cleanPartialFolders: an old folder moved aside by a killed install is put back; a half-new one removed', () => {
    const dir = tmp('install-killed');
    fs.mkdirSync(path.join(dir, 'adapter.old.tmp-4242'));
    fs.writeFileSync(path.join(dir, 'adapter.old.tmp-4242', 'adapter_model.safetensors'), 'old');
    fs.mkdirSync(path.join(dir, 'adapter.tmp-4242'));
    cleanPartialFolders(dir);
    assert.deepEqual(snapshot(dir), { 'adapter/adapter_model.safetensors': Buffer.from('old').toString('base64') });
  });
});

describe('issue 14: checkpoint saved twice at one step / complete temporary checkpoint promoted', () => {
  test('saving the same step again keeps the checkpoint on disk as it is (never deleted and rewritten)', async () => {
    await initBackend('cpu');
    const out = tmp('dup');
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const optimizer = new AdamW([v], { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    const state = { global_step: 4, epoch: 1, data_position: 0, total_steps: 10, seed: 1, tokens_seen: 10, log_history: [], weights: 'full' as const };
    const dir = await saveCheckpoint({ out, state, optimizer, vars: [v], baseModel: TINY });
    const before = fs.statSync(path.join(dir, 'trainer_state.json')).ino;
    const again = await saveCheckpoint({ out, state: { ...state, tokens_seen: 99 }, optimizer, vars: [v], baseModel: TINY });
    assert.equal(again, dir);
    assert.equal(fs.statSync(path.join(dir, 'trainer_state.json')).ino, before, 'the same file: not deleted and written again');
    assert.equal(readTrainerState(dir).tokens_seen, 10);
    assert.deepEqual(fs.readdirSync(path.join(out, 'checkpoints')), ['step-4']);
    optimizer.dispose();
    v.dispose();
  });

  test('ftune train --resume promotes a complete step-N.tmp-PID (killed between write and rename) instead of deleting it', () => {
    const out = path.join(tmp('promote'), 'run');
    const first = train(out, ['--max-steps', '2', '--save-every', '1']);
    assert.equal(first.code, 0, first.stderr);
    const checkpoints = path.join(out, 'checkpoints');
    // The kill the issue describes: step-2 written completely under its temporary name, not yet renamed.
    fs.renameSync(path.join(checkpoints, 'step-2'), path.join(checkpoints, 'step-2.tmp-999999'));
    // An incomplete one (no trainer_state.json) is still removed.
    fs.mkdirSync(path.join(checkpoints, 'step-3.tmp-999999'));
    const resumed = train(out, ['--max-steps', '3', '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(startedEvents(out).at(-1)?.resumed_from_step, 2);
    assert.deepEqual(fs.readdirSync(checkpoints).sort(), ['step-1', 'step-2', 'step-3']);
  });
});

describe('issue 14: export path guard (real paths, device + inode)', () => {
  /** A private copy of a folder, so a test that fails (on older code) destroys only the copy. */
  function copyOf(src: string, name: string): string {
    const dest = path.join(tmp(name), path.basename(src));
    fs.cpSync(src, dest, { recursive: true });
    return dest;
  }

  test('--out as a symbolic link to the base model folder is refused; the model is untouched', () => {
    const model = copyOf(TINY, 'export-link');
    const link = path.join(path.dirname(model), 'merged-out');
    fs.symlinkSync(model, link);
    const before = snapshot(model);
    const r = ftune(['export', '--to', 'merged', '--model', model, '--out', link, '--backend', 'cpu']);
    assertOneLineError(r, /refusing to overwrite the base model folder .*: --out .*merged-out is that folder or inside it; choose another output folder/);
    assert.deepEqual(snapshot(model), before);
  });

  test('--out inside the base model folder (spelled through a link) is refused', () => {
    const model = copyOf(TINY, 'export-inside');
    const link = path.join(path.dirname(model), 'Model-Link');
    fs.symlinkSync(model, link);
    const before = snapshot(model);
    const r = ftune(['export', '--to', 'merged', '--model', model, '--out', path.join(link, 'sub', 'merged'), '--backend', 'cpu']);
    assertOneLineError(r, /refusing to overwrite the base model folder .*: --out .* is that folder or inside it/);
    assert.deepEqual(snapshot(model), before);
    assert.ok(!fs.existsSync(path.join(model, 'sub')), 'no folder created inside the model');
  });

  test('--to peft with --out as a link to the adapter folder is refused; the adapter is untouched', () => {
    const adapter = copyOf(path.join(ROOT, '..', 'shared', 'conformance', 'tiny-llama', 'cases', 'gen_adapter'), 'export-adapter');
    const link = path.join(path.dirname(adapter), 'peft-out');
    fs.symlinkSync(adapter, link);
    const before = snapshot(adapter);
    const r = ftune(['export', '--to', 'peft', '--adapter', adapter, '--out', link]);
    assertOneLineError(r, /refusing to overwrite the adapter folder .*: --out .*peft-out is that folder or inside it/);
    assert.deepEqual(snapshot(adapter), before);
  });

  test('a run folder: --out inside it is refused except under its exports/ folder', () => {
    const run = tmp('export-run');
    fs.writeFileSync(path.join(run, 'run_config.json'), JSON.stringify({ model: TINY, data: SUMS }));
    const inside = ftune(['export', '--to', 'merged', '--run', run, '--out', path.join(run, 'checkpoints', 'step-1'), '--backend', 'cpu']);
    assertOneLineError(inside, /is inside the run folder/);
    const exports = ftune(['export', '--to', 'merged', '--run', run, '--out', path.join(run, 'exports', 'merged'), '--backend', 'cpu']);
    assert.equal(exports.code, 0, exports.stderr);
  });

  test('copyWritable never deletes a destination that is the source itself', () => {
    const dir = tmp('same-file');
    fs.writeFileSync(path.join(dir, 'config.json'), '{"a":1}');
    fs.symlinkSync(dir, path.join(path.dirname(dir), `${path.basename(dir)}-alias`));
    const alias = path.join(path.dirname(dir), `${path.basename(dir)}-alias`, 'config.json');
    assert.throws(() => copyWritable(path.join(dir, 'config.json'), alias), /same file/);
    assert.equal(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'), '{"a":1}');
    assert.ok(isSameOrInside(dir, alias) && isSameFile(path.join(dir, 'config.json'), alias));
  });
});

// ------------------------------------------------------------------------------- run lock, trainer.log

describe('issue 14: one trainer per run folder (run lock)', () => {
  test('a second trainer in a running run folder exits 1 and touches nothing; a killed trainer\'s lock is taken over', async () => {
    const { spawn } = await import('child_process');
    const out = path.join(tmp('lock'), 'run');
    // A long run (slow checkpoints) that is still running when the second trainer starts.
    const first = spawn(process.execPath, [CLI, 'train', '--model', TINY, '--data', SUMS, '--out', out, '--batch-size', '2', '--backend', 'wasm', '--max-steps', '200', '--save-every', '1'], {
      env: { ...process.env, FTUNE_TEST_SLOW_CHECKPOINT_MS: '300' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => first.on('close', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error('the first trainer never stepped')), 90_000);
        first.stdout.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('"type":"step"')) { clearTimeout(timer); resolve(); }
        });
      });
      assert.ok(isRunLocked(out));
      assert.equal(readRunLock(out)?.pid, first.pid);
      const metricsBefore = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8');
      const second = train(out, ['--max-steps', '1', '--resume']);
      assertOneLineError(second, /is in use by another trainer \(pid \d+/);
      assert.ok(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').startsWith(metricsBefore), 'the first run\'s metrics are intact');
      const third = train(out, ['--max-steps', '1', '--overwrite']);
      assertOneLineError(third, /is in use by another trainer/);
      assert.ok(fs.existsSync(path.join(out, 'metrics.jsonl')), '--overwrite did not empty a running run');
    } finally {
      first.kill('SIGKILL');
      await exited;
    }
    // Killed: the lock file is still there but its process is gone, so it is stale.
    assert.ok(fs.existsSync(path.join(out, RUN_LOCK_FILE)));
    assert.equal(isRunLocked(out), false);
    const resumed = train(out, ['--max-steps', '1', '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(!fs.existsSync(path.join(out, RUN_LOCK_FILE)), 'released at the end');
  });

  test('a lock naming a live pid with another start time (pid reuse, a committed lock file) is stale', () => {
    const dir = tmp('lock-identity');
    const me = currentProcessIdentity();
    const write = (info: object) => fs.writeFileSync(path.join(dir, RUN_LOCK_FILE), JSON.stringify({ created_at: '', ...info }));
    write({ ...me });
    assert.equal(isRunLocked(dir), true, 'this very process holds it');
    write({ ...me, startTime: `${me.startTime}0` });
    assert.equal(isRunLocked(dir), false, 'same pid, another start time: not the same process');
    write({ ...me, cmdline: `${me.cmdline} --other` });
    assert.equal(isRunLocked(dir), false, 'same pid and start, another command line: not the same process');
    write({ pid: 1, startTime: 'boot:1', cmdline: '/sbin/init', host: me.host });
    assert.equal(isRunLocked(dir), false, 'pid 1 never holds a lock');
    write({ ...me, host: `${me.host}-elsewhere` });
    assert.equal(isRunLocked(dir), true, "another host's lock cannot be checked from here: respected");
    assert.throws(() => acquireRunLock(dir), /is in use by another trainer .* on .*-elsewhere/);
    write({ pid: process.pid, start: 'boot:1', host: me.host, command: 'ftune train' });
    assert.equal(readRunLock(dir), undefined, 'a lock file of the wrong shape holds nothing');
    const lock = acquireRunLock(dir);
    assert.equal(readRunLock(dir)?.pid, process.pid);
    lock.release();
    assert.ok(!fs.existsSync(path.join(dir, RUN_LOCK_FILE)));
  });
});

describe('issue 14: trainer.log never opened through a symbolic link', () => {
  test('openForAppendNoFollow refuses a link (the target is unchanged) and appends to a plain file', () => {
    const dir = tmp('log');
    const target = path.join(dir, 'bashrc');
    fs.writeFileSync(target, 'export PATH=/usr/bin\n');
    fs.symlinkSync(target, path.join(dir, 'trainer.log'));
    assert.throws(() => openForAppendNoFollow(path.join(dir, 'trainer.log')), /is a symbolic link; refusing to write through it/);
    assert.equal(fs.readFileSync(target, 'utf8'), 'export PATH=/usr/bin\n');
    const plain = path.join(dir, 'plain.log');
    fs.writeFileSync(plain, 'a\n');
    const fd = openForAppendNoFollow(plain);
    fs.writeSync(fd, 'b\n');
    fs.closeSync(fd);
    assert.equal(fs.readFileSync(plain, 'utf8'), 'a\nb\n');
  });

  test('RunManager: a run whose trainer.log is a link fails with that reason and writes nothing through it', async () => {
    const root = tmp('log-manager');
    const runsDir = path.join(root, 'runs');
    fs.mkdirSync(runsDir);
    const cli = path.join(root, 'fake-ftune.js');
    fs.writeFileSync(cli, 'exports.main = () => { process.stdout.write("written by the trainer\\n"); };\n');
    const manager = new RunManager({ runsDir, invocation: (args) => cliInvocation(cli, args, { execPath: process.execPath }), stopTimeoutMs: 5000 });
    const target = path.join(root, 'settings.json');
    fs.writeFileSync(target, '{}');
    const finishes: RunFinished[] = [];
    let wake: (() => void) | undefined;
    manager.onFinished.on((f) => { finishes.push(f); wake?.(); });
    const nextFinish = async (n: number) => { while (finishes.length < n) await new Promise<void>((r) => (wake = r)); return finishes[n - 1]; };
    // The queue launches at once, so the first launch writes a real trainer.log; the link is planted
    // before the run is launched again (Resume), as a cloned repository could ship it.
    const id = manager.start('linked', { ...DEFAULT_RUN_CONFIG, model: '/m', data: '/d.jsonl', max_steps: 1 });
    await nextFinish(1);
    // The queue frees the run's slot just after the finish event.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const dir = path.join(runsDir, id);
    assert.match(fs.readFileSync(path.join(dir, 'trainer.log'), 'utf8'), /written by the trainer/);
    fs.rmSync(path.join(dir, 'trainer.log'));
    fs.symlinkSync(target, path.join(dir, 'trainer.log'));
    manager.resume(id);
    const result = await nextFinish(2);
    assert.equal(result.status, 'failed');
    assert.match(result.error ?? '', /trainer\.log is a symbolic link/);
    assert.equal(fs.readFileSync(target, 'utf8'), '{}');
    // The run was claimed (status running) before the log was opened: the failure releases the claim
    // and the queue slot, so the run can be started again once the link is gone.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(readStatus(dir)?.status, 'failed');
    fs.rmSync(path.join(dir, 'trainer.log'));
    manager.resume(id);
    await nextFinish(3);
    assert.match(fs.readFileSync(path.join(dir, 'trainer.log'), 'utf8'), /written by the trainer/, 'the trainer ran again');
  });
});
