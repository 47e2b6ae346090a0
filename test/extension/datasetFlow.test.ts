// The decisions behind the extension's dataset commands (datasetFlow.ts): output paths, the field
// mappings offered after a Hub pull, the mapped copy of a pulled split, progress over several files,
// error actions, Split Dataset… input checks and the provenance line of the Datasets view.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { DatasetProvenance } from '../../src/core/datasets';
import {
  checkCount, checkEvalShare, checkSeed, describeFiles, describeProvenance, describeSplitResult, DownloadTally, hubErrorActions, hubErrorMessage, hubOutputPath,
  isDatasetId, mapJsonlFile, mappingChoices, previewRow,
} from '../../src/extension/datasetFlow';

const GSM8K_ROW = { question: 'Natalia sold clips to 48 of her friends in April. How many?', answer: 'Natalia sold 48/2 = 24 clips in May.\n#### 72' };

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-flows-'));
}

test('dataset ids and where a pulled split lands in the workspace', () => {
  assert.ok(isDatasetId('openai/gsm8k'));
  assert.ok(isDatasetId(' squad '));
  assert.ok(!isDatasetId('openai/gsm8k/main'));
  assert.ok(!isDatasetId('../etc'));
  assert.ok(!isDatasetId('a/..b'));
  assert.ok(!isDatasetId(''));
  assert.equal(hubOutputPath('openai/gsm8k', 'main', 'train'), 'data/gsm8k-main-train.jsonl');
  assert.equal(hubOutputPath('acme/chat', 'default', 'test'), 'data/chat-test.jsonl');
  assert.equal(hubOutputPath('acme/x', 'en fr', 'train'), 'data/x-en_fr-train.jsonl');
  assert.equal(describeFiles([{ size: 1024 }, { size: 2048 }]), '2 files · 3.0 KB');
  assert.equal(describeFiles([{ size: 10 }]), '1 file · 10 B');
});

test('GSM8K columns get the question→prompt, answer→completion mapping first', () => {
  const choices = mappingChoices(GSM8K_ROW);
  assert.equal(choices.length, 2);
  assert.deepEqual(choices[0].fields, { prompt: 'question', completion: 'answer' });
  assert.match(choices[0].label, /question→prompt, answer→completion/);
  assert.deepEqual(choices[1].fields, {}, 'keeping the columns is always offered');
  // extra columns are dropped by a mapping, and the choice says so
  const withId = mappingChoices({ ...GSM8K_ROW, id: 7 });
  assert.equal(withId[0].description, 'drops id');
});

test('data already in the trainer format needs no mapping; unknown columns can only be kept', () => {
  const chat = mappingChoices({ messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(chat.length, 1);
  assert.deepEqual(chat[0].fields, {});
  assert.match(chat[0].description, /chat messages/);
  const chatWithSource = mappingChoices({ messages: [{ role: 'user', content: 'hi' }], source: 'x' });
  assert.deepEqual(chatWithSource[0].fields, { messages: 'messages' });
  const unknown = mappingChoices({ a: 1, b: 2 });
  assert.deepEqual(unknown.map((c) => c.fields), [{}]);
  assert.equal(unknown[0].description, 'a, b');
  assert.deepEqual(mappingChoices(undefined).map((c) => c.fields), [{}]);
});

test('previewRow is one line, truncated', () => {
  assert.equal(previewRow({ q: 'a\nb', n: 3 }), 'q: "a\\nb" · n: 3');
  const long = previewRow({ text: 'x'.repeat(500) }, 40);
  assert.equal(long.length, 40);
  assert.ok(long.endsWith('…'));
});

test('mapJsonlFile copies through the mapping and leaves nothing behind on a bad row', async () => {
  const dir = tempDir();
  const source = path.join(dir, 'pulled.jsonl');
  fs.writeFileSync(source, [JSON.stringify({ ...GSM8K_ROW, id: 1 }), '', JSON.stringify({ question: 'q2', answer: 'a2', id: 2 })].join('\n') + '\n');
  const target = path.join(dir, 'data', 'gsm8k-main-train.jsonl');
  const count = await mapJsonlFile(source, target, { prompt: 'question', completion: 'answer' });
  assert.equal(count, 2);
  const lines = fs.readFileSync(target, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines, [{ prompt: GSM8K_ROW.question, completion: GSM8K_ROW.answer }, { prompt: 'q2', completion: 'a2' }]);
  // no mapping: the rows are copied as they are
  const copy = path.join(dir, 'copy.jsonl');
  assert.equal(await mapJsonlFile(source, copy, {}), 2);
  assert.deepEqual(JSON.parse(fs.readFileSync(copy, 'utf8').split('\n')[0]), { ...GSM8K_ROW, id: 1 });

  fs.appendFileSync(source, JSON.stringify({ question: 'no answer' }) + '\n');
  const broken = path.join(dir, 'broken.jsonl');
  await assert.rejects(mapJsonlFile(source, broken, { prompt: 'question', completion: 'answer' }), /row 4: no column "answer"/);
  assert.ok(!fs.existsSync(broken));
  assert.ok(!fs.existsSync(`${broken}.part`));
});

test('progress over several files sums the latest count of each', () => {
  const tally = new DownloadTally(1000);
  assert.equal(tally.update('a', 250), 25);
  assert.equal(tally.update('a', 500), 50);
  assert.equal(tally.update('b', 250), 75);
  assert.equal(tally.update('a', 100), 35, 'a retried file may start over');
  assert.equal(tally.update('b', 5000), 100, 'never above 100');
  assert.equal(new DownloadTally(0).update('a', 10), 0);
});

test('each Hub failure offers the action that fixes it', () => {
  assert.deepEqual(hubErrorActions('unauthorized'), ['Set Hugging Face Token', 'Open Dataset Page']);
  assert.deepEqual(hubErrorActions('bad-token'), ['Set Hugging Face Token']);
  assert.deepEqual(hubErrorActions('not-found'), ['Try Another Id']);
  assert.deepEqual(hubErrorActions('offline'), ['Retry', 'Open Endpoint Setting']);
  assert.deepEqual(hubErrorActions('cancelled'), []);
});

test('gated and bad-token errors are worded for the extension, not the CLI', () => {
  const gated = { kind: 'unauthorized' as const, message: 'dataset "a/b" is gated or private (HTTP 401): pass a Hugging Face token with --token hf_...', status: 401 };
  const withoutToken = hubErrorMessage(gated, 'a/b', false);
  assert.match(withoutToken, /^dataset "a\/b" is gated or private \(HTTP 401\): set a Hugging Face token/);
  assert.ok(!withoutToken.includes('--token'));
  assert.match(hubErrorMessage(gated, 'a/b', true), /the saved Hugging Face token was refused/);
  assert.match(hubErrorMessage({ kind: 'bad-token', message: 'x' }, 'a/b', true), /tokens start with "hf_"/);
  assert.equal(hubErrorMessage({ kind: 'offline', message: 'cannot reach http://h (ECONNREFUSED)' }, 'a/b', false), 'cannot reach http://h (ECONNREFUSED)');
});

test('Split Dataset… inputs', () => {
  for (const ok of ['0.1', '0', '50', ' 0.25 ']) assert.equal(checkEvalShare(ok), undefined, ok);
  for (const bad of ['', '-1', '1.5', 'ten', 'NaN']) assert.ok(checkEvalShare(bad), bad);
  assert.equal(checkCount('0'), undefined);
  assert.equal(checkCount('20'), undefined);
  for (const bad of ['', '-2', '0.5', 'x']) assert.ok(checkCount(bad), bad);
  assert.equal(checkSeed('42'), undefined);
  for (const bad of ['', '-1', '1.5', String(2 ** 33)]) assert.ok(checkSeed(bad), bad);
  assert.equal(describeSplitResult({ train: 40, eval: 5, golden: 0, duplicates: 0 }), '40 train · 5 eval');
  assert.equal(describeSplitResult({ train: 40, eval: 5, golden: 3, duplicates: 1 }), '40 train · 5 eval · 3 golden (1 duplicate dropped)');
});

test('provenance in the Datasets view: Hub id and revision, source folders, split of a file', () => {
  const hub: DatasetProvenance = {
    source: 'hub', role: 'train', records: 7473, created_at: '2026-11-24T10:00:00.000Z', hub_id: 'openai/gsm8k', revision: 'e53f048856ff4f594e959d75785d2c2d37b678ee',
    config: 'main', split: 'train', endpoint: 'https://huggingface.co', field_map: { prompt: 'question', completion: 'answer' },
  };
  const shown = describeProvenance(hub);
  assert.equal(shown.description, 'train · hub openai/gsm8k@e53f048');
  assert.deepEqual(shown.tooltip, [
    'From the Hugging Face Hub: openai/gsm8k (config main), split train',
    'Revision: e53f048856ff4f594e959d75785d2c2d37b678ee',
    'Role: training split',
    'Field mapping: question→prompt, answer→completion',
    'Created: 2026-11-24 10:00:00Z',
  ]);
  const mirror = describeProvenance({ ...hub, endpoint: 'http://127.0.0.1:9999', revision: 'v1.0' });
  assert.equal(mirror.description, 'train · hub openai/gsm8k@v1.0');
  assert.ok(mirror.tooltip.includes('Endpoint: http://127.0.0.1:9999'));

  const files: DatasetProvenance = { source: 'files', role: 'train', records: 12, created_at: '2026-11-24T10:00:00Z', folders: ['/ws/docs', '/ws/src'], globs: ['**/*.md'], chunk_chars: 2000 };
  const relative = (f: string): string => path.relative('/ws', f);
  assert.equal(describeProvenance(files, relative).description, 'train · files docs, src');
  assert.ok(describeProvenance(files, relative).tooltip.includes('Patterns: **/*.md'));

  const split: DatasetProvenance = { source: 'split', role: 'eval', records: 5, created_at: '2026-11-24T10:00:00Z', source_file: '/ws/data/gsm8k-main-train.jsonl', seed: 42, parent: hub };
  const splitShown = describeProvenance(split, relative);
  assert.equal(splitShown.description, 'eval · split of gsm8k-main-train.jsonl');
  assert.equal(splitShown.tooltip[0], 'Split from data/gsm8k-main-train.jsonl (seed 42)');
  assert.equal(splitShown.tooltip[1], '  From the Hugging Face Hub: openai/gsm8k (config main), split train', 'the origin of the split file is carried along');
  assert.ok(splitShown.tooltip.includes('Role: evaluation split'));
});
