// The playground's generation path against the real CLI: ServeClient ↔ `ftune serve` with the tiny
// pretrained model. Greedy answers must equal `ftune generate --greedy --json` for the same input,
// for the base model and for an adapter; the golden-set runner scores real answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readGoldenSet, runGoldenSet } from '../../src/extension/panels/goldenSet';
import { ServeClient } from '../../src/extension/panels/serveClient';
import type { ChatMessage, DecodingOptions, GoldenExampleResult } from '../../src/core/protocol';
import { TINY, GSM8K_TEST, CLI } from '../helpers/sharedFiles';

const greedy: DecodingOptions = { max_new_tokens: 20, greedy: true, stop: true };

function cliGenerate(args: string[]): { text: string; token_ids: number[] } {
  const result = spawnSync(process.execPath, [CLI, 'generate', '--model', TINY, '--greedy', '--json', '--max-new-tokens', '20', '--backend', 'cpu', ...args], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const line = result.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `no JSON in ${result.stdout}`);
  return JSON.parse(line) as { text: string; token_ids: number[] };
}

let client: ServeClient;
let adapterDir: string;

before(() => {
  client = new ServeClient(() => spawn(process.execPath, [CLI, 'serve', '--model', TINY, '--backend', 'cpu'], { stdio: 'pipe' }));
  // a real adapter: one LoRA step at a high learning rate, so it changes the model's answers
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'playground-adapter-'));
  const data = path.join(dir, 'train.jsonl');
  fs.writeFileSync(data, Array.from({ length: 4 }, (_, i) => JSON.stringify({ prompt: `What is ${i} + 2?\n`, completion: `${i} + 2 = ${i + 2}\n#### ${i + 2}` })).join('\n') + '\n');
  const out = path.join(dir, 'run');
  const train = spawnSync(process.execPath, [CLI, 'train', '--model', TINY, '--data', data, '--out', out, '--max-steps', '1', '--batch-size', '4', '--lr', '0.05', '--backend', 'cpu'], { encoding: 'utf8' });
  assert.equal(train.status, 0, train.stderr);
  adapterDir = path.join(out, 'adapter');
  assert.ok(fs.existsSync(path.join(adapterDir, 'adapter_config.json')));
});

after(() => client.dispose());

test('raw prompt: streamed tokens add up to the answer, equal to ftune generate --greedy', async () => {
  const prompt = 'Natalia sold clips to 48 of her friends in April';
  const pieces: string[] = [];
  const done = await client.generate({ id: 'raw', ref: { model: TINY }, prompt, options: greedy }, { onToken: (t) => pieces.push(t) });
  const expected = cliGenerate(['--prompt', prompt]);
  assert.equal(done.cancelled, false);
  assert.deepEqual(done.token_ids, expected.token_ids);
  assert.equal(done.text, expected.text);
  assert.equal(pieces.join(''), done.text);
  assert.equal(pieces.length, done.token_ids.length, 'one token message per generated token');
  assert.ok(done.tokens_per_second > 0);
});

test('chat messages go through the chat template like ftune generate --messages', async () => {
  const messages: ChatMessage[] = [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Tom has 3 apples and buys 4 more. How many?' }];
  const done = await client.generate({ id: 'chat', ref: { model: TINY }, messages, options: greedy });
  assert.deepEqual(done.token_ids, cliGenerate(['--messages', JSON.stringify(messages)]).token_ids);
});

test('a checkpoint column: the adapter is applied per request on the same server', async () => {
  const prompt = 'What is 3 + 2?\n';
  const withAdapter = await client.generate({ id: 'ad', ref: { model: TINY, adapter: adapterDir }, prompt, options: greedy });
  const base = await client.generate({ id: 'base', ref: { model: TINY }, prompt, options: greedy });
  assert.deepEqual(withAdapter.token_ids, cliGenerate(['--prompt', prompt, '--adapter', adapterDir]).token_ids);
  assert.deepEqual(base.token_ids, cliGenerate(['--prompt', prompt]).token_ids);
  assert.notDeepEqual(withAdapter.token_ids, base.token_ids, 'the adapter changes the answer');
});

test('golden set: every column scores every example with the extracted answers', async () => {
  const examples = await readGoldenSet(GSM8K_TEST, 3);
  const results = new Map<string, GoldenExampleResult[]>();
  const summaries = new Map<string, { correct: number; scored: number; cancelled: boolean }>();
  await runGoldenSet(examples, [{ column_id: 'base', ref: { model: TINY } }, { column_id: 'ckpt', ref: { model: TINY, adapter: adapterDir } }], 'raw', '', 'g1', {
    stopped: () => false,
    generate: (column, id, prompt) => client.generate({ id, ref: column.ref, ...prompt, options: { ...greedy, max_new_tokens: 12 } }),
    onExample: (column, result) => results.set(column.column_id, [...(results.get(column.column_id) ?? []), result]),
    onDone: (column, summary) => summaries.set(column.column_id, summary),
    onError: (_column, message) => assert.fail(message),
  });
  for (const column of ['base', 'ckpt']) {
    const scored = results.get(column) ?? [];
    assert.deepEqual(scored.map((r) => r.index), [0, 1, 2]);
    const gsm8kAnswers = examples.map((e) => e.reference.split('####')[1].trim().replace(/,/g, ''));
    assert.deepEqual(scored.map((r) => r.expected), gsm8kAnswers);
    assert.ok(scored.every((r) => r.prediction.length > 0));
    assert.deepEqual(summaries.get(column), { correct: scored.filter((r) => r.pass).length, scored: 3, cancelled: false });
  }
});

test('Stop cancels the running generation', async () => {
  let tokens = 0;
  const running = client.generate({ id: 'long', ref: { model: TINY }, prompt: 'Once upon a time', options: { max_new_tokens: 2000, greedy: true, stop: false } }, {
    onToken: () => {
      tokens += 1;
      if (tokens === 3) client.cancel('long');
    },
  });
  const done = await running;
  assert.equal(done.cancelled, true);
  assert.ok(done.token_ids.length < 2000);
});
