import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../src/core/runConfig';
import { applyPreset, EDITABLE_FIELDS, parseFieldValue, PRESETS, presetFields } from '../../src/extension/presets';
import { trainArgs } from '../../src/extension/trainArgs';
import { RunQueue } from '../../src/extension/runQueue';
import { cliInvocation, locateCli } from '../../src/extension/cliInvocation';
import { METHODS } from '../../src/core/methods';

function config(patch: Partial<RunConfig> = {}): RunConfig {
  return { ...DEFAULT_RUN_CONFIG, model: '/m', data: '/d.jsonl', out: '/runs/x', ...patch };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

test('presets fill the five knobs and scale up with the hardware', () => {
  const [cpu, gpu8, gpu24] = PRESETS.map((p) => presetFields(p.id, false));
  assert.ok(cpu.max_length < gpu8.max_length && gpu8.max_length < gpu24.max_length);
  assert.ok(cpu.batch_size <= gpu8.batch_size && gpu8.batch_size < gpu24.batch_size);
  assert.equal(presetFields('gpu-8gb', true).lr, presetFields('gpu-8gb', false).lr * 0.1);
  const applied = applyPreset(config({ seed: 7 }), 'cpu-small');
  assert.equal(applied.batch_size, 1);
  assert.equal(applied.grad_accum, 8);
  assert.equal(applied.max_length, 256);
  assert.equal(applied.seed, 7, 'other fields untouched');
});

test('editable preset fields validate what is typed', () => {
  const byKey = (k: string) => EDITABLE_FIELDS.find((f) => f.key === k)!;
  assert.equal(parseFieldValue(byKey('batch_size'), '8'), 8);
  assert.match(String(parseFieldValue(byKey('batch_size'), '2.5')), /whole number/);
  assert.match(String(parseFieldValue(byKey('batch_size'), '0')), /at least 1/);
  assert.match(String(parseFieldValue(byKey('lr'), 'fast')), /enter a number/);
  assert.match(String(parseFieldValue(byKey('lr'), '0')), /greater than 0/);
  assert.equal(parseFieldValue(byKey('lr'), '1e-4'), 1e-4);
  assert.equal(parseFieldValue(byKey('eval_split'), '0.1'), 0.1);
  assert.match(String(parseFieldValue(byKey('eval_split'), '1')), /below 1/);
});

test('trainArgs launches the run folder\'s run_config.json; resume appends --resume', () => {
  assert.deepEqual(trainArgs('/runs/x'), ['train', '--config', path.join('/runs/x', 'run_config.json'), '--out', '/runs/x']);
  const resumed = trainArgs('/runs/x', { resume: true });
  assert.equal(flag(resumed, '--config'), path.join('/runs/x', 'run_config.json'));
  assert.equal(resumed[resumed.length - 1], '--resume');
});

test('method registry: every method names its data formats; LoRA-only methods are the ones with a reference model', () => {
  for (const m of METHODS) assert.ok(m.formats.length > 0, m.id);
  assert.deepEqual(METHODS.filter((m) => m.lora_only).map((m) => m.id), ['dpo', 'reward', 'grpo']);
  assert.deepEqual(METHODS.filter((m) => m.uses_generation).map((m) => m.id), ['grpo']);
  // the run config's defaults for a method's knobs come from the registry
  const grpo = METHODS.find((m) => m.id === 'grpo')!;
  for (const [key, value] of Object.entries(grpo.defaults)) assert.equal((DEFAULT_RUN_CONFIG as Record<string, unknown>)[key], value, key);
});

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('RunQueue runs one at a time in order and starts the next when one ends', async () => {
  const started: string[] = [];
  const ends = new Map<string, ReturnType<typeof deferred>>();
  const queue = new RunQueue((id) => {
    started.push(id);
    const d = deferred();
    ends.set(id, d);
    return d.promise;
  });
  queue.enqueue('a');
  queue.enqueue('b');
  queue.enqueue('c');
  queue.enqueue('b'); // duplicates are ignored
  assert.deepEqual(started, ['a']);
  assert.deepEqual(queue.queued, ['b', 'c']);
  assert.equal(queue.position('c'), 2);
  ends.get('a')!.resolve();
  await tick();
  assert.deepEqual(started, ['a', 'b']);
  assert.ok(queue.remove('c'));
  ends.get('b')!.reject(new Error('crashed'));
  await tick();
  assert.deepEqual(started, ['a', 'b'], 'a removed run never starts');
  assert.deepEqual(queue.running, []);
});

test('RunQueue honours a higher concurrency limit', async () => {
  const started: string[] = [];
  const queue = new RunQueue((id) => (started.push(id), deferred().promise), 1);
  ['a', 'b', 'c'].forEach((id) => queue.enqueue(id));
  assert.deepEqual(started, ['a']);
  queue.setMaxConcurrent(2);
  assert.deepEqual(started, ['a', 'b']);
  assert.deepEqual(queue.queued, ['c']);
});

test('cliInvocation: Electron runs as node unless a node path is configured', () => {
  const inv = cliInvocation('/ext/dist/ftune.js', ['train', '--help'], { execPath: '/opt/Code/code', env: { PATH: '/bin' } });
  assert.equal(inv.command, '/opt/Code/code');
  assert.equal(inv.env.ELECTRON_RUN_AS_NODE, '1');
  assert.equal(inv.env.PATH, '/bin');
  assert.deepEqual(inv.args.slice(2), ['/ext/dist/ftune.js', 'train', '--help']);
  const custom = cliInvocation('/ext/dist/ftune.js', ['x'], { nodePath: '/usr/local/bin/node', env: {} });
  assert.equal(custom.command, '/usr/local/bin/node');
  assert.equal(custom.env.ELECTRON_RUN_AS_NODE, undefined);
});

test('cliInvocation’s loader calls main(argv) of the CLI module', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-cli-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  const cli = path.join(dir, 'bin', 'ftune.js');
  fs.writeFileSync(cli, 'exports.main = (argv) => process.stdout.write(JSON.stringify(argv));');
  assert.equal(locateCli(dir), cli);
  const inv = cliInvocation(locateCli(dir), ['train', '--out', 'a b'], { execPath: process.execPath });
  const { execFileSync } = await import('child_process');
  const out = execFileSync(inv.command, inv.args, { env: inv.env, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), ['train', '--out', 'a b']);
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.writeFileSync(path.join(dir, 'dist', 'ftune.js'), '');
  assert.equal(locateCli(dir), path.join(dir, 'dist', 'ftune.js'), 'the bundle wins when packaged');
  assert.throws(() => locateCli(path.join(dir, 'nowhere')), /missing/);
});
