// `ftune` as the extension and a person use it: exit codes and the one-line `ftune: error: ...` for
// mistakes, every bad data line listed before anything trains, the --json shapes of eval, generate
// and bench, and the serve protocol (generate, cancel, shutdown). Runs the real CLI in child processes.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { loadExamples } from '../../src/core/examples';
import type { ChatMessage, ServeRequest, ServeResponse } from '../../src/core/protocol';
import { loadTokenizer, type Tokenizer } from '../../src/core/tokenizer';
import { initBackend } from '../../src/engine/backend';
import { evaluateLoss } from '../../src/engine/evaluate';
import { generate } from '../../src/engine/generate';
import { DecoderModel } from '../../src/engine/model';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'ftune.js');
const TINY = path.join(ROOT, 'examples', 'models', 'tiny-gsm8k-base');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-cli-'));
const EOS = [511, 509];
/** A GSM8K-style answer about to end: the tiny model's greedy continuation is " 7" then <|endoftext|>. */
const ENDING_PROMPT = 'Tom has 3 apples and buys 4 more. How many apples does he have?\nTom has 3+4=<<3+4=7>>7 apples.\n####';

interface Result { code: number | null; stdout: string; stderr: string }

function ftune(...args: string[]): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 1, nothing on stdout, and a first stderr line `ftune: error: <message>`. */
function assertError(r: Result, message: RegExp): void {
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  // Nothing on stdout, except that `train` also reports the failure in its protocol: one `failed` event.
  if (r.stdout !== '') {
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `stdout: ${r.stdout}`);
    const event = JSON.parse(lines[0]) as { type: string; error: string };
    assert.equal(event.type, 'failed');
    assert.ok(event.error.length > 0);
  }
  const first = r.stderr.split('\n')[0];
  assert.match(first, /^ftune: error: /);
  assert.match(first, message);
}

function json<T>(r: Result): T {
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one JSON line: ${r.stdout}`);
  return JSON.parse(lines[0]) as T;
}

let model: DecoderModel;
let tokenizer: Tokenizer;

before(async () => {
  await initBackend('wasm');
  model = DecoderModel.load(TINY);
  tokenizer = await loadTokenizer(TINY);
});

after(() => model.dispose());

describe('mistakes end with exit 1 and one `ftune: error:` line', () => {
  const data = path.join(TMP, 'ok.jsonl');
  before(() => fs.writeFileSync(data, JSON.stringify({ prompt: 'What is 1 + 1?\n', completion: '2' }) + '\n'));

  const cases: { name: string; args: () => string[]; message: RegExp }[] = [
    { name: 'unknown command', args: () => ['frobnicate'], message: /unknown command "frobnicate"/ },
    { name: 'train without --model', args: () => ['train', '--data', data, '--out', path.join(TMP, 'x')], message: /--model is required$/ },
    { name: 'train without --out', args: () => ['train', '--model', TINY, '--data', data], message: /--out is required$/ },
    { name: 'a bad number', args: () => ['train', '--model', TINY, '--data', data, '--out', path.join(TMP, 'x'), '--lr', 'fast'], message: /--lr must be a non-negative number, got "fast"/ },
    { name: 'a fractional count', args: () => ['train', '--model', TINY, '--data', data, '--out', path.join(TMP, 'x'), '--batch-size', '2.5'], message: /--batch-size must be a positive integer, got "2.5"/ },
    { name: 'an unknown choice', args: () => ['train', '--model', TINY, '--data', data, '--out', path.join(TMP, 'x'), '--schedule', 'exponential'], message: /--schedule must be one of constant, linear, cosine, got "exponential"/ },
    { name: '--epochs with --max-steps', args: () => ['train', '--model', TINY, '--data', data, '--out', path.join(TMP, 'x'), '--epochs', '1', '--max-steps', '3'], message: /give either --epochs or --max-steps, not both/ },
    { name: 'an unknown flag', args: () => ['eval', '--model', TINY, '--data', data, '--frobnicate'], message: /Unknown option '--frobnicate'/ },
    { name: 'a missing model folder (generate)', args: () => ['generate', '--model', path.join(TMP, 'no-such-model'), '--prompt', 'hi'], message: /no-such-model.*not found/ },
    { name: 'a missing model folder (train)', args: () => ['train', '--model', path.join(TMP, 'no-such-model'), '--data', data, '--out', path.join(TMP, 'x')], message: /no-such-model.*not found/ },
    { name: 'generate without a prompt', args: () => ['generate', '--model', TINY], message: /give exactly one of --prompt or --messages/ },
    { name: '--messages that is not JSON', args: () => ['generate', '--model', TINY, '--messages', '[{"role": "user"'], message: /--messages is not valid JSON/ },
    { name: '--messages of the wrong shape', args: () => ['generate', '--model', TINY, '--messages', '[{"role": "user"}]'], message: /--messages must be a JSON list of \{"role": \.\.\., "content": \.\.\.\} objects/ },
    { name: '--greedy with --temperature', args: () => ['generate', '--model', TINY, '--prompt', 'hi', '--greedy', '--temperature', '0.7'], message: /--greedy cannot be combined with --temperature/ },
  ];
  for (const c of cases) test(c.name, () => assertError(ftune(...c.args()), c.message));

  test('no command prints the usage and exits 1; --help exits 0', () => {
    const none = ftune();
    assert.equal(none.code, 1);
    assert.match(none.stdout, /^usage: ftune <command>/);
    const help = ftune('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /train .*\n.*eval/s);
  });

  test('a missing data file is a data problem naming the file', () => {
    const missing = path.join(TMP, 'no-such.jsonl');
    const r = ftune('eval', '--model', TINY, '--data', missing);
    assertError(r, /1 problem in the data; nothing was run/);
    assert.equal(r.stderr.split('\n')[1], `${missing}: cannot read the file: ENOENT: no such file or directory, open '${missing}'`);
  });

  test('bad JSONL: every bad line as file:line: reason, and nothing is trained', () => {
    const bad = path.join(TMP, 'bad.jsonl');
    fs.writeFileSync(bad, [
      JSON.stringify({ prompt: 'What is 1 + 1?\n', completion: '2' }),
      '{"prompt": "What is 2 + 2?", ',
      JSON.stringify({ prompt: 'What is 3 + 3?\n', completion: '6' }),
      JSON.stringify({ prompt: 'What is 4 + 4?\n', completion: 8 }),
      JSON.stringify({ prompt: 'What is 5 + 5?\n' }),
      '',
      JSON.stringify({ prompt: 'What is 6 + 6?\n', completion: '12' }),
    ].join('\n') + '\n');
    const out = path.join(TMP, 'bad-run');
    const r = ftune('train', '--model', TINY, '--data', bad, '--out', out, '--max-steps', '1');
    assertError(r, /3 problems in the data; nothing was run/);
    const lines = r.stderr.trim().split('\n').slice(1);
    assert.equal(lines.length, 3, r.stderr);
    assert.match(lines[0], new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: invalid JSON`));
    assert.match(lines[1], /bad\.jsonl:4: "completion" must be a string, got a number$/);
    assert.match(lines[2], /bad\.jsonl:5: missing field "completion"$/);
    for (const nothing of ['checkpoints', 'adapter', 'metrics.jsonl']) assert.ok(!fs.existsSync(path.join(out, nothing)), `no ${nothing}`);
  });
});

describe('--json outputs', () => {
  test('eval --json: {loss, perplexity, label_tokens, examples, skipped}, equal to the engine\'s evaluateLoss', async () => {
    const data = path.join(TMP, 'eval.jsonl');
    const rows = Array.from({ length: 5 }, (_, i) => ({ prompt: `Sam has ${i + 3} pens and finds ${i + 1} more. How many pens?\n`, completion: `${i + 3}+${i + 1}=<<${i + 3}+${i + 1}=${2 * i + 4}>>${2 * i + 4}\n#### ${2 * i + 4}` }));
    rows.push({ prompt: 'A much longer question that goes on and on about pens, pencils, erasers and rulers in a big box?\n', completion: 'Nobody knows how many there are in the box at the end of the day.\n#### 0' });
    fs.writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const maxLength = 48;
    const set = await loadExamples(data, tokenizer, { maxLength });
    assert.ok(set.skipped_too_long >= 1 && set.examples.length >= 4, 'the long example is dropped, the others kept');
    const expected = await evaluateLoss(model, undefined, set.examples, { batchSize: 4, padId: 509 });

    const r = json<Record<string, number>>(ftune('eval', '--model', TINY, '--data', data, '--max-length', String(maxLength), '--json', '--backend', 'wasm'));
    assert.deepEqual(Object.keys(r).sort(), ['examples', 'label_tokens', 'loss', 'perplexity', 'skipped']);
    assert.ok(Math.abs(r.loss - expected.loss) <= 1e-5 * expected.loss, `loss ${r.loss} vs ${expected.loss}`);
    assert.ok(Math.abs(r.perplexity - Math.exp(r.loss)) <= 1e-9 * r.perplexity);
    assert.equal(r.label_tokens, expected.label_tokens);
    assert.equal(r.examples, set.examples.length);
    assert.equal(r.skipped, set.skipped_too_long);
  });

  test('generate --greedy --json: {text, token_ids, prompt_tokens}, the same tokens as the engine\'s generate()', async () => {
    const prompt = 'Natalia sold clips to 48 of her friends in April';
    const r = json<{ text: string; token_ids: number[]; prompt_tokens: number }>(ftune('generate', '--model', TINY, '--prompt', prompt, '--greedy', '--max-new-tokens', '16', '--json', '--backend', 'wasm'));
    assert.deepEqual(Object.keys(r).sort(), ['prompt_tokens', 'text', 'token_ids']);
    const ids = tokenizer.encode(prompt);
    const engine = await generate(model, { promptIds: ids, options: { max_new_tokens: 16, greedy: true, stop: true }, eosIds: EOS });
    assert.equal(r.prompt_tokens, ids.length);
    assert.deepEqual(r.token_ids, engine.tokenIds);
    assert.equal(r.text, tokenizer.decode(engine.tokenIds, { skipSpecialTokens: true }));
  });

  test('generate --messages applies the chat template (ChatML with the generation prompt)', async () => {
    const messages: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 2 + 3?' }];
    const r = json<{ text: string; token_ids: number[]; prompt_tokens: number }>(ftune('generate', '--model', TINY, '--messages', JSON.stringify(messages), '--max-new-tokens', '8', '--json', '--backend', 'wasm'));
    const templated = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n';
    assert.equal(tokenizer.applyChatTemplate(messages, true), templated, 'the model folder\'s ChatML template');
    const ids = tokenizer.encode(templated);
    assert.equal(r.prompt_tokens, ids.length);
    const engine = await generate(model, { promptIds: ids, options: { max_new_tokens: 8, greedy: true, stop: true }, eosIds: EOS });
    assert.deepEqual(r.token_ids, engine.tokenIds);
  });

  test('generation stops at eos unless --no-stop', () => {
    const stopped = json<{ token_ids: number[] }>(ftune('generate', '--model', TINY, '--prompt', ENDING_PROMPT, '--max-new-tokens', '12', '--json', '--backend', 'wasm'));
    assert.ok(stopped.token_ids.length < 12, `stopped early: ${stopped.token_ids}`);
    assert.ok(EOS.includes(stopped.token_ids.at(-1)!), 'the last token is an eos id');
    assert.ok(stopped.token_ids.slice(0, -1).every((t) => !EOS.includes(t)));
    const all = json<{ token_ids: number[] }>(ftune('generate', '--model', TINY, '--prompt', ENDING_PROMPT, '--max-new-tokens', '12', '--no-stop', '--json', '--backend', 'wasm'));
    assert.equal(all.token_ids.length, 12);
    assert.deepEqual(all.token_ids.slice(0, stopped.token_ids.length), stopped.token_ids);
  });

  test('bench --shape tiny --batch 1 --seq 16 --steps 1 --json', () => {
    const r = json<Record<string, unknown>>(ftune('bench', '--shape', 'tiny', '--batch', '1', '--seq', '16', '--steps', '1', '--decode-tokens', '4', '--json', '--backend', 'wasm'));
    const positive = ['train_tokens_per_second', 'seconds_per_step', 'peak_memory_bytes', 'max_rss_bytes', 'prefill_tokens_per_second', 'decode_tokens_per_second', 'flops_per_second'];
    for (const k of positive) assert.ok(typeof r[k] === 'number' && Number.isFinite(r[k]) && (r[k] as number) > 0, `${k}: ${r[k]}`);
    assert.equal(r.backend, 'wasm');
    assert.equal(r.shape, 'tiny');
    assert.equal(r.batch, 1);
    assert.equal(r.seq, 16);
    assert.equal(r.method, 'lora');
    // tiny: llama, hidden 256, 4 layers, 4 heads (4 KV), intermediate 688, vocab 2000, tied; LoRA r 8 on all 7 projections
    const [D, I, L, V] = [256, 688, 4, 2000];
    assert.equal(r.parameters, V * D + D + L * (4 * D * D + 3 * D * I + 2 * D));
    assert.equal(r.trainable_parameters, L * 8 * (4 * (D + D) + 2 * (D + I) + (I + D)));
    assert.ok(Math.abs((r.train_tokens_per_second as number) * (r.seconds_per_step as number) - 16) < 1e-6, 'tokens/s = batch·seq / s-per-step');
    // on wasm the peak is the heap's own allocations: the weights (BF16 as held, 2 bytes each; the tiny
    // shape's norms are float32) at least, and never more than the heap itself
    assert.ok((r.peak_memory_bytes as number) >= 2 * (r.parameters as number), `peak ${r.peak_memory_bytes} holds the weights`);
    assert.ok((r.peak_memory_bytes as number) <= (r.wasm_heap_bytes as number), `peak ${r.peak_memory_bytes} ≤ heap ${r.wasm_heap_bytes}`);
  });
});

describe('serve', () => {
  test('answers generate requests, cancels a running and a queued one, and exits 0 on shutdown', { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--model', TINY, '--backend', 'wasm'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const responses: ServeResponse[] = [];
    const waiters: { match: (r: ServeResponse) => boolean; resolve: (r: ServeResponse) => void }[] = [];
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const r = JSON.parse(line) as ServeResponse;
      responses.push(r);
      for (const w of waiters.filter((w) => w.match(r))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(r);
      }
    });
    const next = (match: (r: ServeResponse) => boolean) =>
      new Promise<ServeResponse>((resolve) => {
        const seen = responses.find(match);
        if (seen) resolve(seen);
        else waiters.push({ match, resolve });
      });
    const send = (req: ServeRequest | string) => child.stdin.write((typeof req === 'string' ? req : JSON.stringify(req)) + '\n');
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const doneOf = (id: string) => next((r) => r.type === 'done' && r.id === id) as Promise<Extract<ServeResponse, { type: 'done' }>>;

    const ready = await next((r) => r.type === 'ready');
    assert.match((ready as Extract<ServeResponse, { type: 'ready' }>).backend, /^wasm/);

    // 1. a greedy generation: streamed tokens, then done, equal to the engine's
    const prompt = 'Natalia sold clips to 48 of her friends in April';
    send({ type: 'generate', id: 'g1', ref: { model: TINY }, prompt, options: { max_new_tokens: 10, greedy: true, stop: true } });
    const g1 = await doneOf('g1');
    const engine = await generate(model, { promptIds: tokenizer.encode(prompt), options: { max_new_tokens: 10, greedy: true, stop: true }, eosIds: EOS });
    assert.deepEqual(g1.token_ids, engine.tokenIds);
    assert.equal(g1.cancelled, false);
    assert.equal(g1.prompt_tokens, tokenizer.encode(prompt).length);
    const streamed = responses.filter((r): r is Extract<ServeResponse, { type: 'token' }> => r.type === 'token' && r.id === 'g1');
    assert.deepEqual(streamed.map((t) => t.token_id), g1.token_ids);
    assert.equal(streamed.map((t) => t.text).join(''), g1.text);

    // 2. a long generation cancelled while it runs, and one cancelled while it waits in the queue
    send({ type: 'generate', id: 'long', ref: { model: TINY }, prompt, options: { max_new_tokens: 2000, greedy: true, stop: false } });
    send({ type: 'generate', id: 'queued', ref: { model: TINY }, messages: [{ role: 'user', content: 'hi' }], options: { max_new_tokens: 5, greedy: true, stop: true } });
    await next((r) => r.type === 'token' && r.id === 'long');
    send({ type: 'cancel', id: 'queued' });
    const queued = await doneOf('queued');
    assert.equal(queued.cancelled, true);
    assert.deepEqual(queued.token_ids, []);
    send({ type: 'cancel', id: 'long' });
    const long = await doneOf('long');
    assert.equal(long.cancelled, true);
    assert.ok(long.token_ids.length >= 1 && long.token_ids.length < 2000, `cancelled after ${long.token_ids.length} tokens`);

    // 3. bad input gets an error response and the server keeps serving
    send('this is not json');
    await next((r) => r.type === 'error' && r.id === undefined && /not a JSON request/.test(r.message));
    send({ type: 'generate', id: 'other', ref: { model: path.join(TMP, 'another-model') }, prompt, options: { max_new_tokens: 3, greedy: true, stop: true } });
    const other = await next((r) => r.type === 'error' && r.id === 'other');
    assert.match((other as Extract<ServeResponse, { type: 'error' }>).message, /this server holds .*tiny-gsm8k-base, not .*another-model/);
    send({ type: 'generate', id: 'g2', ref: { model: TINY }, prompt, options: { max_new_tokens: 10, greedy: true, stop: true } });
    assert.deepEqual((await doneOf('g2')).token_ids, g1.token_ids, 'still serving, same answer');

    // 4. shutdown: exit 0
    send({ type: 'shutdown' });
    assert.equal(await exited, 0, stderr);
  });
});
