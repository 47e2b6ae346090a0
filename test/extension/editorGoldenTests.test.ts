// Golden sets as tests (src/extension/testing/goldenCases.ts): discovery, labels and lines, scoring, and
// the Testing view's counts against `ftune eval --metric exact-match` on the same file and checkpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { caseRequest, evalFieldArgs, isGoldenFile, passRate, readGoldenFile, scoreCase } from '../../src/extension/testing/goldenCases';
import { writeProvenance } from '../../src/core/datasets/provenance';
import { extractAnswer } from '../../src/core/answer';
import { ServeClient } from '../../src/extension/panels/serveClient';
import type { ModelRef } from '../../src/core/protocol';
import { TINY, GSM8K_TEST, CLI } from '../helpers/sharedFiles';

const TOKENS = 24;

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'golden-tests-'));
});

test('golden files: *.golden.jsonl, or marked golden by Split Dataset provenance; nothing else', () => {
  const named = path.join(dir, 'gsm8k.golden.jsonl');
  const split = path.join(dir, 'held-out.jsonl');
  const train = path.join(dir, 'train.jsonl');
  for (const f of [named, split, train]) fs.writeFileSync(f, '{"prompt":"a","completion":"b"}\n');
  writeProvenance(split, { source: 'split', role: 'golden', records: 1, created_at: new Date().toISOString() });
  writeProvenance(train, { source: 'split', role: 'train', records: 1, created_at: new Date().toISOString() });
  assert.deepEqual([named, split, train, path.join(dir, 'x.golden.json')].map(isGoldenFile), [true, true, false, false]);
});

test('cases: question/answer rows (mapped like --field prompt=question), conversations, labels and lines', async () => {
  const file = path.join(dir, 'mixed.golden.jsonl');
  const rows = fs.readFileSync(GSM8K_TEST, 'utf8').split('\n').slice(0, 3);
  fs.writeFileSync(file, [rows[0], '', rows[1], rows[2]].join('\n') + '\n');
  const golden = await readGoldenFile(file);
  assert.deepEqual(golden.fields, { prompt: 'question', completion: 'answer' });
  assert.deepEqual(evalFieldArgs(golden.fields), ['--field', 'prompt=question', '--field', 'completion=answer']);
  assert.deepEqual(golden.cases.map((c) => c.line), [1, 3, 4]);
  assert.equal(golden.cases[0].label, 'Janet’s ducks lay 16 eggs per day. She…');
  assert.equal(golden.cases[0].reference.split('####')[1].trim(), '18');
  assert.equal(golden.problems.length, 0);

  const chat = path.join(dir, 'chat.golden.jsonl');
  fs.writeFileSync(chat, JSON.stringify({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 2 + 3?' }, { role: 'assistant', content: '#### 5' }] }) + '\n{"messages": "broken"}\n');
  const conversation = await readGoldenFile(chat);
  assert.deepEqual(conversation.cases[0].messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 2 + 3?' }]);
  assert.equal(conversation.cases[0].label, 'What is 2 + 3?');
  assert.equal(conversation.problems[0].line, 2, 'a bad row is reported at its line');
});

test('scoring: GSM8K #### extraction as exact-match; plain-text references by normalised text; pass rate line', () => {
  assert.deepEqual(scoreCase('so 72 clips\n#### 72', 'She sold 72 clips.'), { pass: true, expected: '72', got: '72', summary: 'expected 72, got 72' });
  assert.equal(scoreCase('#### 1,000', 'the answer is 999').summary, 'expected 1000, got 999');
  assert.equal(scoreCase('#### 5', 'no idea').summary, 'expected 5, got no answer');
  assert.equal(scoreCase('Paris', 'paris.').pass, true);
  assert.equal(passRate(7, 10, 'Qwen + run (step 600)'), '7/10 passed (70%) on Qwen + run (step 600)');
});

let client: ServeClient | undefined;
after(() => client?.dispose());

test('counts equal ftune eval --metric exact-match on the same file, for the base and a checkpoint', async () => {
  // a real adapter (one LoRA step at a high learning rate, so it answers differently)
  const data = path.join(dir, 'train.jsonl');
  fs.writeFileSync(data, Array.from({ length: 4 }, (_, i) => JSON.stringify({ prompt: `What is ${i} + 2?\n`, completion: `${i} + 2 = ${i + 2}\n#### ${i + 2}` })).join('\n') + '\n');
  const out = path.join(dir, 'run');
  const train = spawnSync(process.execPath, [CLI, 'train', '--model', TINY, '--data', data, '--out', out, '--max-steps', '1', '--batch-size', '4', '--lr', '0.05', '--backend', 'cpu'], { encoding: 'utf8' });
  assert.equal(train.status, 0, train.stderr);
  const adapter = path.join(out, 'adapter');

  client = new ServeClient(() => spawn(process.execPath, [CLI, 'serve', '--model', TINY, '--backend', 'cpu'], { stdio: 'pipe' }));
  const serve = client;
  const answers = async (file: string, ref: ModelRef) => {
    const golden = await readGoldenFile(file);
    const texts: string[] = [];
    for (const [i, c] of golden.cases.entries()) texts.push((await serve.generate(caseRequest(`g${i}`, c, ref, TOKENS))).text);
    return { golden, texts };
  };
  // a golden file where the base passes some examples and fails others: two references are the base's own
  // answers (whatever number it says), two keep GSM8K's answers
  const source = path.join(dir, 'source.jsonl');
  fs.writeFileSync(source, fs.readFileSync(GSM8K_TEST, 'utf8').split('\n').slice(0, 4).join('\n') + '\n');
  const base = await answers(source, { model: TINY });
  const rows = fs.readFileSync(source, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question: string; answer: string });
  const own = base.texts.map((t) => extractAnswer(t));
  assert.ok(own[0] !== undefined && own[1] !== undefined, `the base's answers contain numbers: ${base.texts.join(' | ')}`);
  rows[0].answer = `#### ${own[0]}`;
  rows[1].answer = `#### ${own[1]}`;
  const file = path.join(dir, 'eval.golden.jsonl');
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

  for (const ref of [{ model: TINY }, { model: TINY, adapter }] as ModelRef[]) {
    const { golden, texts } = await answers(file, ref);
    const passed = golden.cases.filter((c, i) => scoreCase(c.reference, texts[i]).pass).length;
    const cli = spawnSync(process.execPath, [
      CLI, 'eval', '--model', TINY, ...(ref.adapter ? ['--adapter', ref.adapter] : []), '--data', file, ...evalFieldArgs(golden.fields),
      '--metric', 'exact-match', '--max-new-tokens', String(TOKENS), '--json', '--backend', 'cpu',
    ], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    const result = JSON.parse(cli.stdout.split('\n').find((l) => l.startsWith('{')) as string) as { 'exact-match': number; examples: number };
    assert.equal(result.examples, golden.cases.length);
    assert.equal(passed, Math.round(result['exact-match'] * result.examples), `${ref.adapter ? 'checkpoint' : 'base'}: Testing view ${passed} vs ftune eval`);
    if (!ref.adapter) assert.ok(passed >= 2 && passed < 4 + 1, 'the base passes the two examples built from its own answers');
  }
});
