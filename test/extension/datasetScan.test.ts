import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeMapping, scanJsonlFile } from '../../src/extension/datasetScan';
import { detectColumnMapping as detectFormat } from '../../src/core/columnAliases';

const GSM8K = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'data', 'gsm8k', 'test.jsonl');

function tempFile(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-ds-')), 'data.jsonl');
  fs.writeFileSync(file, text);
  return file;
}

test('GSM8K is prompt → completion with question→prompt, answer→completion', async () => {
  const scan = await scanJsonlFile(GSM8K);
  assert.equal(scan.rows, 1319);
  assert.equal(scan.format, 'prompt-completion');
  assert.deepEqual(scan.fields, { prompt: 'question', completion: 'answer' });
  assert.deepEqual(scan.columns, ['question', 'answer']);
  assert.equal(describeMapping(scan.fields), 'question→prompt, answer→completion');
  assert.equal(scan.issueCount, 0);
});

test('format detection covers messages, text, preference and already-named prompt/completion', () => {
  assert.equal(detectFormat({ messages: [{ role: 'user', content: 'hi' }] })?.format, 'messages');
  assert.deepEqual(detectFormat({ conversations: [] }), { format: 'messages', fields: { messages: 'conversations' } });
  assert.deepEqual(detectFormat({ prompt: 'a', completion: 'b' }), { format: 'prompt-completion', fields: {} });
  assert.deepEqual(detectFormat({ instruction: 'a', output: 'b' }), { format: 'prompt-completion', fields: { prompt: 'instruction', completion: 'output' } });
  assert.equal(detectFormat({ prompt: 'p', chosen: 'a', rejected: 'b' })?.format, 'preference');
  assert.equal(detectFormat({ text: 'x' })?.format, 'text');
  assert.equal(detectFormat({ foo: 1 }), undefined);
});

test('a malformed file reports its bad lines with reasons, in line order', async () => {
  const file = tempFile([
    '{"question": "1+1?", "answer": "#### 2"}',
    '{"question": "2+2?", "answer": ',
    '',
    '[1, 2]',
    '{"question": "3+3?"}',
    '{"question": "4+4?", "answer": "#### 8"}',
  ].join('\n') + '\n');
  const scan = await scanJsonlFile(file);
  assert.equal(scan.rows, 5, 'blank lines are not rows');
  assert.equal(scan.format, 'prompt-completion');
  assert.deepEqual(scan.issues.map((i) => i.line), [2, 4, 5]);
  assert.match(scan.issues[0].reason, /JSON/i);
  assert.match(scan.issues[1].reason, /object/);
  assert.match(scan.issues[2].reason, /answer/);
  assert.equal(scan.issueCount, 3);
});

test('issues are capped but counted', async () => {
  const rows = ['{"text": "fine"}'];
  for (let i = 0; i < 30; i++) rows.push('{"text": 42}');
  const scan = await scanJsonlFile(tempFile(rows.join('\n')), 5);
  assert.equal(scan.format, 'text');
  assert.equal(scan.issueCount, 30);
  assert.equal(scan.issues.length, 5);
  assert.equal(scan.issues[0].line, 2);
});

test('a file with no known fields says which fields it found', async () => {
  const scan = await scanJsonlFile(tempFile('{"a": 1, "b": 2}\n'));
  assert.equal(scan.format, 'unknown');
  assert.deepEqual(scan.columns, ['a', 'b']);
  assert.equal(scan.issues[0].line, 1);
  assert.match(scan.issues[0].reason, /"a", "b"/);
});
