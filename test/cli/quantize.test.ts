// `--quantize none|int8|nf4` end to end through the real CLI (issue 18): train records it in
// run_config.json and trains on that base; eval / generate / serve use the run's value for its adapter
// unless the flag says otherwise, and equal the engine on the base held that way; mistakes are one
// `ftune: error:` line.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { parse, TRAIN_OPTIONS } from '../../src/cli/args';
import { resolveQuantize } from '../../src/cli/modelArgs';
import { resolveTrainConfig } from '../../src/cli/train';
import { loadExamples } from '../../src/core/examples';
import type { ServeRequest, ServeResponse } from '../../src/core/protocol';
import { DEFAULT_RUN_CONFIG, serializeRunConfig, type Quantize } from '../../src/core/runConfig';
import { runConfigOfAdapter } from '../../src/core/runConfigFile';
import { loadTokenizer, type Tokenizer } from '../../src/core/tokenizer';
import { initBackend } from '../../src/engine/backend';
import { evaluateLoss } from '../../src/engine/evaluate';
import { generate } from '../../src/engine/generate';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'ftune.js');
const TINY = path.join(ROOT, 'examples', 'models', 'tiny-gsm8k-base');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-quantize-'));

interface Result { code: number | null; stdout: string; stderr: string }

function ftune(...args: string[]): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertUsageError(r: Result, message: RegExp): void {
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr.split('\n')[0], /^ftune: error: /);
  assert.match(r.stderr.split('\n')[0], message);
}

function json<T>(r: Result): T {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

const DATA = path.join(TMP, 'sums.jsonl');
const PROMPT = 'Sam has 4 pens and finds 3 more. How many pens?\n';
let tokenizer: Tokenizer;
/** a run trained with --quantize nf4 (2 steps) and its adapter. */
let NF4_RUN: string;

before(async () => {
  await initBackend('wasm');
  tokenizer = await loadTokenizer(TINY);
  const rows = Array.from({ length: 8 }, (_, i) => ({ prompt: `Sam has ${i + 3} pens and finds ${i + 1} more. How many pens?\n`, completion: `${i + 3}+${i + 1}=<<${i + 3}+${i + 1}=${2 * i + 4}>>${2 * i + 4}\n#### ${2 * i + 4}` }));
  fs.writeFileSync(DATA, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  NF4_RUN = path.join(TMP, 'run-nf4');
  const r = ftune('train', '--model', TINY, '--data', DATA, '--out', NF4_RUN, '--quantize', 'nf4', '--max-steps', '2', '--batch-size', '4',
    '--lr', '5e-3', '--lora-dropout', '0', '--backend', 'wasm', '--seed', '3');
  assert.equal(r.code, 0, r.stderr);
});

after(() => fs.rmSync(TMP, { recursive: true, force: true }));

describe('mistakes', () => {
  test('an unknown precision, and --quantize with --full (train) or --method full (bench), are one error line', () => {
    assertUsageError(ftune('eval', '--model', TINY, '--data', DATA, '--quantize', 'q4'), /--quantize must be one of none, int8, nf4, got "q4"/);
    assertUsageError(ftune('train', '--model', TINY, '--data', DATA, '--out', path.join(TMP, 'x'), '--full', '--quantize', 'nf4'), /--quantize nf4 quantizes the frozen base of LoRA training; --full trains every weight in float32/);
    assert.equal(fs.existsSync(path.join(TMP, 'x', 'run_config.json')), false, 'nothing was started');
    assertUsageError(ftune('bench', '--shape', 'tiny', '--method', 'full', '--quantize', 'int8'), /--quantize int8 quantizes the frozen base of LoRA/);
  });

  test('--quantize on a backend without packed-weight kernels (cpu) is refused in one line, not run slowly', () => {
    const r = ftune('eval', '--model', TINY, '--data', DATA, '--quantize', 'nf4', '--backend', 'cpu');
    assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
    const line = r.stderr.split('\n').find((l) => l.startsWith('ftune: error: '));
    assert.match(line ?? r.stderr, /--quantize nf4 needs a backend with kernels for packed weights \(wasm or webgpu\); the cpu backend has none/);
  });
});

describe('train', () => {
  test('records quantize in run_config.json, trains a LoRA adapter on that base; --resume keeps it, a flag overrides it', () => {
    const saved = runConfigOfAdapter(path.join(NF4_RUN, 'adapter'));
    assert.equal(saved?.quantize, 'nf4');
    assert.ok(fs.existsSync(path.join(NF4_RUN, 'adapter', 'adapter_model.safetensors')));
    const metrics = fs.readFileSync(path.join(NF4_RUN, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; loss?: number });
    const steps = metrics.filter((m) => m.type === 'step');
    assert.equal(steps.length, 2);
    assert.ok(steps.every((s) => Number.isFinite(s.loss)));
    const values = (...argv: string[]) => parse(argv, TRAIN_OPTIONS, 'usage').values;
    assert.equal(resolveTrainConfig(values('--out', NF4_RUN, '--resume', '--max-steps', '4')).quantize, 'nf4');
    assert.equal(resolveTrainConfig(values('--config', path.join(NF4_RUN, 'run_config.json'), '--quantize', 'int8')).quantize, 'int8');
  });

  test('the run\'s value is found from its adapter, best and checkpoint folders; an adapter outside a run has none', () => {
    const run = path.join(TMP, 'layout');
    for (const dir of ['adapter', 'best', path.join('checkpoints', 'step-2')]) fs.mkdirSync(path.join(run, dir), { recursive: true });
    fs.writeFileSync(path.join(run, 'run_config.json'), serializeRunConfig({ ...DEFAULT_RUN_CONFIG, model: TINY, data: DATA, out: run, quantize: 'int8' }));
    for (const dir of ['adapter', 'best', path.join('checkpoints', 'step-2')]) assert.equal(resolveQuantize(undefined, path.join(run, dir)), 'int8', dir);
    assert.equal(resolveQuantize('nf4', path.join(run, 'adapter')), 'nf4', 'the flag wins');
    const loose = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-loose-adapter-'));
    assert.equal(resolveQuantize(undefined, loose), 'none');
    assert.equal(resolveQuantize(undefined, undefined), 'none');
    fs.writeFileSync(path.join(run, 'run_config.json'), '{"quantize": "q2"}');
    assert.throws(() => resolveQuantize(undefined, path.join(run, 'adapter')), /run_config\.json: quantize: must be one of none, int8, nf4/);
  });
});

/** The engine's own loss for the tiny model at `quantize`, with the nf4 run's adapter or none. */
async function engineLoss(quantize: Quantize, withAdapter: boolean): Promise<number> {
  const model = DecoderModel.load(TINY, { quantize });
  const adapter = withAdapter ? LoraAdapter.load(path.join(NF4_RUN, 'adapter'), model) : undefined;
  try {
    const set = await loadExamples(DATA, tokenizer, { maxLength: 512 });
    return (await evaluateLoss(model, adapter, set.examples, { batchSize: 4, padId: tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0 })).loss;
  } finally {
    adapter?.dispose();
    model.dispose();
  }
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.abs(b);

describe('eval and generate', () => {
  test('eval --quantize equals the engine on the base held that way; the precisions give different losses', async () => {
    const losses: number[] = [];
    for (const q of ['none', 'int8', 'nf4'] as const) {
      const r = json<{ loss: number }>(ftune('eval', '--model', TINY, '--data', DATA, '--json', '--backend', 'wasm', '--quantize', q));
      const expected = await engineLoss(q, false);
      assert.ok(close(r.loss, expected), `${q}: ${r.loss} vs ${expected}`);
      losses.push(r.loss);
    }
    assert.equal(new Set(losses).size, 3, `three different bases: ${losses.join(', ')}`);
  });

  test('eval of an nf4 run\'s adapter uses the nf4 base unless --quantize says otherwise', async () => {
    const adapter = path.join(NF4_RUN, 'adapter');
    const runValue = json<{ loss: number }>(ftune('eval', '--model', TINY, '--adapter', adapter, '--data', DATA, '--json', '--backend', 'wasm'));
    const nf4 = await engineLoss('nf4', true);
    assert.ok(close(runValue.loss, nf4), `${runValue.loss} vs nf4 ${nf4}`);
    const asStored = json<{ loss: number }>(ftune('eval', '--model', TINY, '--adapter', adapter, '--data', DATA, '--json', '--backend', 'wasm', '--quantize', 'none'));
    const sixteen = await engineLoss('none', true);
    assert.ok(close(asStored.loss, sixteen) && !close(asStored.loss, nf4), `${asStored.loss} vs 16-bit ${sixteen}, nf4 ${nf4}`);
  });

  test('generate --quantize int8 gives the engine\'s greedy tokens on the int8 base', async () => {
    const r = json<{ token_ids: number[] }>(ftune('generate', '--model', TINY, '--prompt', PROMPT, '--greedy', '--max-new-tokens', '12', '--json', '--backend', 'wasm', '--quantize', 'int8'));
    const model = DecoderModel.load(TINY, { quantize: 'int8' });
    try {
      const expected = await generate(model, { promptIds: tokenizer.encode(PROMPT), options: { max_new_tokens: 12, greedy: true, stop: true }, eosIds: model.config.eos_token_id });
      assert.deepEqual(r.token_ids, expected.tokenIds);
    } finally {
      model.dispose();
    }
  });
});

describe('serve', () => {
  test('an adapter of an nf4 run answers on the nf4 base, the base itself on 16-bit, in one server', { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--model', TINY, '--backend', 'wasm'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const responses: ServeResponse[] = [];
    const waiters: (() => void)[] = [];
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      responses.push(JSON.parse(line) as ServeResponse);
      waiters.splice(0).forEach((w) => w());
    });
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise<void>((resolve) => waiters.push(resolve));
    };
    const send = (r: ServeRequest) => child.stdin.write(JSON.stringify(r) + '\n');
    const options = { max_new_tokens: 10, greedy: true, stop: true };
    await until(() => responses.some((r) => r.type === 'ready'));
    send({ type: 'generate', id: 'adapter', ref: { model: TINY, adapter: path.join(NF4_RUN, 'adapter') }, prompt: PROMPT, options });
    send({ type: 'generate', id: 'base', ref: { model: TINY }, prompt: PROMPT, options });
    const doneOf = (id: string) => responses.find((r): r is Extract<ServeResponse, { type: 'done' }> => r.type === 'done' && r.id === id);
    await until(() => doneOf('adapter') !== undefined && doneOf('base') !== undefined);
    send({ type: 'shutdown' });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.deepEqual(responses.filter((r) => r.type === 'error'), []);

    const expected = async (quantize: Quantize, withAdapter: boolean) => {
      const model = DecoderModel.load(TINY, { quantize });
      const adapter = withAdapter ? LoraAdapter.load(path.join(NF4_RUN, 'adapter'), model) : undefined;
      try {
        return (await generate(model, { promptIds: tokenizer.encode(PROMPT), options, eosIds: model.config.eos_token_id, adapter })).tokenIds;
      } finally {
        adapter?.dispose();
        model.dispose();
      }
    };
    assert.deepEqual(doneOf('adapter')!.token_ids, await expected('nf4', true));
    assert.deepEqual(doneOf('base')!.token_ids, await expected('none', false));
  });
});
