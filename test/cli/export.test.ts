// `ftune export` as a command: --to peft copies the adapter with a model card; usage errors exit 1
// with one `ftune: error:` line; --json prints the result.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseSize } from '../../src/cli/export';
import { LLAMA, tempDir } from '../helpers/exportFixtures';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'ftune.js');
const ADAPTER = path.join(LLAMA, 'cases', 'gen_adapter');

let root: string;
before(() => {
  root = tempDir('export-cli');
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

function ftune(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('export --to peft: the adapter files unchanged, plus a model card with the run\'s settings and losses', () => {
  const run = path.join(root, 'run');
  fs.mkdirSync(run);
  fs.writeFileSync(path.join(run, 'run_config.json'), JSON.stringify({ model: 'Qwen/Qwen2.5-0.5B', data: 'gsm8k.jsonl', lora_r: 4, lora_alpha: 8, lr: 0.0003, max_steps: 30 }));
  fs.writeFileSync(path.join(run, 'metrics.jsonl'), [
    { type: 'step', step: 29, loss: 1.25 }, { type: 'eval', step: 30, eval_loss: 1.5 }, { type: 'step', step: 30, loss: 1.125 },
  ].map((e) => JSON.stringify(e)).join('\n') + '\n{"type":"step","ste'); // a torn last line
  const out = path.join(root, 'peft');
  const r = ftune('export', '--to', 'peft', '--adapter', ADAPTER, '--run', run, '--out', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { files: string[]; details: Record<string, unknown> };
  assert.deepEqual(result.files, ['adapter_config.json', 'adapter_model.safetensors', 'README.md']);
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) assert.deepEqual(fs.readFileSync(path.join(out, f)), fs.readFileSync(path.join(ADAPTER, f)), f);
  const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  assert.match(card, /^---\n/);
  assert.match(card, /library_name: "peft"/);
  // the adapter names its base "tiny-llama", a valid Hub-style id
  assert.match(card, /base_model: "tiny-llama"/);
  assert.match(card, /\| 4 \| 8 \| 0 \| down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj \|/);
  assert.match(card, /\| learning rate \| 0\.0003 /);
  assert.match(card, /\| max steps \| 30 \|/);
  assert.match(card, /\| final training loss \| 1\.1250 \(step 30\) \|/);
  assert.match(card, /\| final eval loss \| 1\.5000 \|/);
});

test('a local path as base model stays out of the card\'s base_model field', () => {
  const adapter = path.join(root, 'local-base-adapter');
  fs.mkdirSync(adapter);
  const config = JSON.parse(fs.readFileSync(path.join(ADAPTER, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(adapter, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: '/home/me/models/base' }));
  fs.copyFileSync(path.join(ADAPTER, 'adapter_model.safetensors'), path.join(adapter, 'adapter_model.safetensors'));
  const out = path.join(root, 'peft-local');
  assert.equal(ftune('export', '--to', 'peft', '--adapter', adapter, '--out', out).status, 0);
  const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  assert.doesNotMatch(card, /base_model:/);
  assert.match(card, /A LoRA adapter for `\/home\/me\/models\/base`/);
});

test('usage errors exit 1 with one ftune: error line; export is listed in the help', () => {
  const cases: [string[], RegExp][] = [
    [['export', '--out', root], /ftune: error: --to is required/],
    [['export', '--to', 'onnx', '--out', root], /ftune: error: --to must be one of peft, merged, gguf, trl/],
    [['export', '--to', 'gguf', '--model', LLAMA, '--type', 'q4_0', '--out', root], /ftune: error: --type must be one of f16, q8_0, f32/],
    [['export', '--to', 'peft', '--out', root], /ftune: error: --to peft needs --adapter/],
    [['export', '--to', 'merged', '--model', LLAMA, '--max-shard-size', 'lots', '--out', root], /ftune: error: --max-shard-size/],
    [['export', '--to', 'peft', '--adapter', path.join(root, 'missing'), '--out', path.join(root, 'x')], /ftune: error: .*adapter_config\.json: not found/],
  ];
  for (const [args, message] of cases) {
    const r = ftune(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, message);
  }
  assert.match(ftune('--help').stdout, /\n {2}export +take the model anywhere/);
});

test('parseSize: byte counts and binary units', () => {
  assert.equal(parseSize('2GB'), 2 * 1024 ** 3);
  assert.equal(parseSize('500MB'), 500 * 1024 ** 2);
  assert.equal(parseSize('1.5G'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('64KiB'), 64 * 1024);
  assert.equal(parseSize('123456'), 123456);
  assert.throws(() => parseSize('2 parsecs'), /--max-shard-size/);
});
