import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { goldenExampleFromRow, goldenPrompt, readGoldenSet, scoreGoldenExample } from '../../src/extension/panels/goldenSet';

const ROOT = path.resolve(__dirname, '..', '..', '..');
/** shared/ sits beside the checkout (or inside it on CI machines). */
const SHARED = [process.env.FTUNE_SHARED, path.join(ROOT, 'shared'), path.join(ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'data', 'gsm8k'))) ?? path.join(ROOT, '..', 'shared');
const GSM8K_TEST = path.join(SHARED, 'data', 'gsm8k', 'test.jsonl');

test('question/answer, prompt/completion and messages rows become examples', () => {
  assert.deepEqual(goldenExampleFromRow({ question: 'Q?', answer: 'A #### 3' }), { question: 'Q?', reference: 'A #### 3' });
  assert.deepEqual(goldenExampleFromRow({ prompt: 'P', completion: 'C' }), { question: 'P', reference: 'C' });
  assert.deepEqual(
    goldenExampleFromRow({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'U1' }, { role: 'assistant', content: 'A1' }, { role: 'user', content: 'U2' }, { role: 'assistant', content: 'A2' }] }),
    { question: 'U2', reference: 'A2' },
  );
  assert.equal(goldenExampleFromRow({ text: 'just text' }), undefined);
  assert.equal(goldenExampleFromRow({ messages: [{ role: 'user', content: 'no answer' }] }), undefined);
});

test('readGoldenSet reads the first N usable rows of GSM8K test', async () => {
  const examples = await readGoldenSet(GSM8K_TEST, 3);
  assert.equal(examples.length, 3);
  const firstLine = JSON.parse(fs.readFileSync(GSM8K_TEST, 'utf8').split('\n')[0]) as { question: string; answer: string };
  assert.equal(examples[0].question, firstLine.question);
  assert.match(examples[0].reference, /#### /);
});

test('readGoldenSet skips unusable rows and fails clearly on a file without examples', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'golden-'));
  const mixed = path.join(dir, 'mixed.jsonl');
  fs.writeFileSync(mixed, '{"text":"x"}\nnot json\n{"question":"1+1?","answer":"#### 2"}\n');
  assert.deepEqual(await readGoldenSet(mixed, 5), [{ question: '1+1?', reference: '#### 2' }]);
  const none = path.join(dir, 'none.jsonl');
  fs.writeFileSync(none, '{"text":"x"}\n');
  await assert.rejects(readGoldenSet(none, 5), /no question\/answer examples/);
});

test('prompts: chat puts the question in a user turn after the system prompt; raw appends a newline', () => {
  const example = { question: 'How many?', reference: '#### 4' };
  assert.deepEqual(goldenPrompt(example, 'chat', 'Be brief.'), { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'How many?' }] });
  assert.deepEqual(goldenPrompt(example, 'chat', '  '), { messages: [{ role: 'user', content: 'How many?' }] });
  assert.deepEqual(goldenPrompt(example, 'raw', 'ignored'), { prompt: 'How many?\n' });
});

test('scoring uses the GSM8K final-answer exact match', () => {
  const example = { question: 'q', reference: 'She has 3 + 4 = 7 apples.\n#### 7' };
  const pass = scoreGoldenExample(0, example, 'So 3+4=<<3+4=7>>7\n#### 7');
  assert.equal(pass.pass, true);
  assert.equal(pass.expected, '7');
  assert.equal(pass.got, '7');
  const lastNumber = scoreGoldenExample(1, example, 'The answer is 7.');
  assert.equal(lastNumber.pass, true, 'no marker: the last number counts');
  const fail = scoreGoldenExample(2, example, '#### 8');
  assert.equal(fail.pass, false);
  assert.equal(fail.got, '8');
  assert.equal(fail.index, 2);
  const nothing = scoreGoldenExample(3, example, 'no idea');
  assert.equal(nothing.pass, false);
  assert.equal(nothing.got, undefined);
});
