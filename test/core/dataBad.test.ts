// Bad data: a corpus of broken JSONL files, each with the exact problems it must produce, and a
// seeded fuzz test: mutated valid files either load or fail with a DataFileError — nothing else.

import { mulberry32 } from '../../src/core/random';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadTokenizer, type Tokenizer } from '../../src/core/tokenizer';
import { DataFileError, IGNORE_INDEX, loadExamples, type TokenizedExample } from '../../src/core/examples';
import { loadPreferencePairs } from '../../src/core/preferences';
import { formatProblem, type Problem } from '../../src/core/formats';
import { validateDataFile } from '../../src/core/validate';
import type { DataFormat } from '../../src/core/runConfig';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BAD = path.join(ROOT, 'test', 'fixtures', 'bad');
const GOOD = path.join(ROOT, 'test', 'fixtures', 'data');
const SHARED = [process.env.FTUNE_SHARED, path.join(ROOT, 'shared'), path.join(ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'conformance'))) ?? path.join(ROOT, '..', 'shared');
const QWEN = path.join(SHARED, 'conformance', 'tiny-qwen2');

interface BadCase {
  file: string;
  format?: DataFormat;
  fields?: Record<string, string>;
  /** every problem, in order: [line, pattern the reason must match]. */
  expected: [number, RegExp][];
}

const CASES: BadCase[] = [
  { file: 'invalid_json.jsonl', expected: [[2, /^invalid JSON: .+/], [3, /^invalid JSON: .+/]] },
  {
    file: 'not_object.jsonl',
    expected: [[2, /^not a JSON object \(got an array\)$/], [3, /^not a JSON object \(got a string\)$/],
      [4, /^not a JSON object \(got a number\)$/], [5, /^not a JSON object \(got null\)$/]],
  },
  { file: 'invalid_utf8.jsonl', expected: [[2, /^invalid UTF-8 at byte 47 of the line$/], [3, /^invalid UTF-8 at byte 46 of the line$/]] },
  { file: 'bom_middle.jsonl', expected: [[2, /^byte order mark in the middle of the file/]] },
  { file: 'missing_field.jsonl', expected: [[2, /^missing field "messages"$/]] },
  {
    file: 'wrong_type.jsonl',
    expected: [
      [2, /^"messages" must be a list of \{role, content\} messages, got a string$/],
      [3, /^"messages"\[1\]: "content" must be a string, got a number$/],
      [4, /^"messages"\[0\]: "role" must be a string, got null$/],
      [5, /^"messages"\[0\] must be an object with "role" and "content", got a string$/],
      [6, /^"messages" is an empty list$/],
    ],
  },
  { file: 'unknown_role.jsonl', expected: [[1, /^"messages"\[1\]: unknown role "bot" \(allowed: system, user, assistant, tool\)$/], [2, /unknown role "human"/]] },
  { file: 'no_assistant.jsonl', expected: [[1, /^the conversation has no assistant turn/]] },
  { file: 'empty_assistant.jsonl', expected: [[1, /^message 1 is an assistant turn with empty content$/], [2, /^message 3 is an assistant turn with empty content$/]] },
  {
    file: 'non_alternating.jsonl',
    expected: [
      [1, /^turns do not alternate: message 1 \("user"\) follows "user"$/],
      [2, /^the conversation starts with "assistant"/],
      [3, /^message 2 is a system message/],
      [4, /^turns do not alternate: message 1 \("tool"\) follows "user"$/],
      [5, /^turns do not alternate: message 2 \("assistant"\) follows "assistant"$/],
    ],
  },
  {
    file: 'prompt_completion_bad.jsonl',
    format: 'prompt-completion',
    expected: [[2, /^missing field "completion"$/], [3, /^"completion" must be a string, got a number$/],
      [4, /^"completion" is empty$/], [5, /^"prompt" must be a string, got null$/]],
  },
  {
    file: 'gsm8k_mapped_bad.jsonl',
    fields: { prompt: 'question', completion: 'answer' },
    expected: [[2, /^missing field "answer" \(--field completion=answer\)$/]],
  },
  {
    file: 'text_bad.jsonl',
    format: 'text',
    expected: [[2, /^"text" is empty$/], [3, /^"text" must be a string, got an array$/], [4, /^missing field "text"$/]],
  },
  {
    file: 'preference_bad.jsonl',
    format: 'preference',
    expected: [
      [2, /^missing field "rejected"$/],
      [3, /^chosen and rejected are identical/],
      [4, /^"chosen" must be a string or a list of messages, got a number$/],
      [5, /^chosen: turns do not alternate: message 1 \("user"\) follows "user"$/],
      [6, /^missing field "prompt"$/],
      [7, /^chosen: turns do not alternate: message 2 \("assistant"\) follows "assistant"$/],
    ],
  },
  // columns that match neither our names nor an alias (GSM8K's question/answer are aliases: data.test.ts)
  { file: 'undetectable.jsonl', expected: [[0, /^cannot tell the data format.*"q", "a".*pass --format and --field KEY=COLUMN$/]] },
  { file: 'blank_only.jsonl', expected: [[0, /^no records/]] },
  { file: 'crlf_mixed.jsonl', expected: [[3, /^invalid JSON: /], [6, /^not a JSON object \(got a boolean\)$/]] },
];

async function load(file: string, tokenizer: Tokenizer, format: DataFormat | undefined, fields?: Record<string, string>): Promise<TokenizedExample[]> {
  if (format === 'preference') {
    const set = await loadPreferencePairs(file, tokenizer, { fields });
    return set.pairs.flatMap((p) => [p.chosen, p.rejected]);
  }
  return (await loadExamples(file, tokenizer, { format, fields })).examples;
}

test('every bad file in test/fixtures/bad has a case in the table', () => {
  const files = fs.readdirSync(BAD).filter((f) => f.endsWith('.jsonl')).sort();
  assert.deepEqual(files, CASES.map((c) => c.file).sort());
});

for (const c of CASES) {
  test(`bad data: ${c.file}`, async () => {
    const tokenizer = await loadTokenizer(QWEN);
    const file = path.join(BAD, c.file);
    let problems: Problem[] | undefined;
    await assert.rejects(load(file, tokenizer, c.format, c.fields), (err: unknown) => {
      assert.ok(err instanceof DataFileError, `expected a DataFileError, got ${String(err)}`);
      problems = err.problems;
      return true;
    });
    assert.ok(problems);
    assert.deepEqual(problems.map((p) => p.line), c.expected.map(([line]) => line), problems.map(formatProblem).join('\n'));
    problems.forEach((p, i) => {
      assert.equal(p.file, file);
      assert.match(p.reason, c.expected[i][1]);
    });
    // `ftune validate` reports exactly the same problems
    const report = await validateDataFile(file, { format: c.format, fields: c.fields, tokenizer });
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems, problems.map(formatProblem));
  });
}

// ---------------------------------------------------------------- fuzz

/** mulberry32: small, seedable, good enough to pick mutations reproducibly. */
const prng = mulberry32;

const NASTY_BYTES = [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x3a, 0x2c, 0x0a, 0x0d, 0x5c, 0x20, 0x00, 0xff, 0xc3, 0xe2, 0xef, 0xbb, 0xbf, 0x30, 0x6e];
const NASTY_VALUES: unknown[] = [null, 0, -1.5, true, '', '   ', 'x', [], {}, [{}], [{ role: 'user' }], 'assistant', 'bot', '<|im_end|>', { role: 'assistant', content: '' }];

function mutateBytes(input: Buffer, random: () => number): Buffer {
  const bytes = [...input];
  const at = (): number => Math.floor(random() * (bytes.length + 1));
  const kind = Math.floor(random() * 6);
  if (kind === 0 && bytes.length) bytes[Math.min(at(), bytes.length - 1)] = NASTY_BYTES[Math.floor(random() * NASTY_BYTES.length)];
  else if (kind === 1) bytes.splice(at(), 0, ...Array.from({ length: 1 + Math.floor(random() * 4) }, () => NASTY_BYTES[Math.floor(random() * NASTY_BYTES.length)]));
  else if (kind === 2) { const start = at(); bytes.splice(start, 1 + Math.floor(random() * 20)); }
  else if (kind === 3) bytes.length = at();
  else if (kind === 4) bytes.splice(0, 0, 0xef, 0xbb, 0xbf);
  else bytes.splice(at(), 0, ...Buffer.from('\r\n\n'));
  return Buffer.from(bytes);
}

/** Structure-aware: replaces, deletes or retypes a value somewhere inside one row. */
function mutateJson(input: Buffer, random: () => number): Buffer {
  const lines = input.toString('utf8').split('\n');
  const index = Math.floor(random() * lines.length);
  let row: unknown;
  try { row = JSON.parse(lines[index]); } catch { return mutateBytes(input, random); }
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const walk = (v: unknown): void => {
    if (v && typeof v === 'object') { containers.push(v as Record<string, unknown>); Object.values(v).forEach(walk); }
  };
  walk(row);
  if (!containers.length) return mutateBytes(input, random);
  const target = containers[Math.floor(random() * containers.length)];
  const keys = Object.keys(target);
  const value = NASTY_VALUES[Math.floor(random() * NASTY_VALUES.length)];
  if (!keys.length || random() < 0.2) {
    if (Array.isArray(target)) target.push(value); else target[`k${Math.floor(random() * 3)}`] = value;
  } else {
    const key = keys[Math.floor(random() * keys.length)];
    if (random() < 0.3) { if (Array.isArray(target)) target.splice(Number(key), 1); else delete target[key]; }
    else if (Array.isArray(target)) target[Number(key)] = value; else target[key] = value;
  }
  lines[index] = JSON.stringify(row);
  if (random() < 0.2) lines.splice(Math.floor(random() * lines.length), 0, lines[index]);
  return Buffer.from(lines.join('\n'));
}

function checkExample(e: TokenizedExample): void {
  assert.equal(e.labels.length, e.input_ids.length);
  assert.ok(e.labels.every((l, t) => l === IGNORE_INDEX || l === e.input_ids[t]), 'labels are -100 or the token itself');
  assert.ok(e.labels.some((l) => l !== IGNORE_INDEX), 'every example trains something');
  assert.ok(e.line >= 1);
}

test('fuzz: mutated valid files load or fail with a DataFileError, and validate agrees', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const sources: { file: string; format?: DataFormat; fields?: Record<string, string> }[] = [
    { file: path.join(QWEN, 'cases', 'sft.jsonl') },
    { file: path.join(GOOD, 'messages.jsonl'), format: 'messages' },
    { file: path.join(QWEN, 'cases', 'completion.jsonl'), fields: { prompt: 'question', completion: 'answer' } },
    { file: path.join(GOOD, 'conversational_pc.jsonl') },
    { file: path.join(GOOD, 'text.jsonl'), format: 'text' },
    { file: path.join(QWEN, 'cases', 'prefs.jsonl'), format: 'preference' },
    { file: path.join(GOOD, 'prefs_strings.jsonl'), format: 'preference' },
    { file: path.join(GOOD, 'sharegpt.jsonl'), fields: { messages: 'conversations', role: 'from', content: 'value' } },
  ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-fuzz-'));
  const random = prng(20240611);
  let loaded = 0;
  let rejected = 0;
  try {
    for (let iteration = 0; iteration < 240; iteration++) {
      const source = sources[iteration % sources.length];
      let bytes: Buffer = fs.readFileSync(source.file);
      const mutations = 1 + Math.floor(random() * 3);
      for (let m = 0; m < mutations; m++) bytes = random() < 0.5 ? mutateBytes(bytes, random) : mutateJson(bytes, random);
      const file = path.join(dir, `case-${iteration}.jsonl`);
      fs.writeFileSync(file, bytes);
      const physicalLines = bytes.toString('latin1').split('\n').length;
      let ok: boolean;
      try {
        const examples = await load(file, tokenizer, source.format, source.fields);
        examples.forEach(checkExample);
        ok = true;
        loaded++;
      } catch (err) {
        if (!(err instanceof DataFileError)) {
          fs.copyFileSync(file, path.join(os.tmpdir(), 'ftune-fuzz-failure.jsonl'));
          assert.fail(`iteration ${iteration} (${path.basename(source.file)}) threw ${String(err)}; input kept at ${path.join(os.tmpdir(), 'ftune-fuzz-failure.jsonl')}`);
        }
        assert.ok(err.problems.length > 0);
        for (const p of err.problems) {
          assert.ok(p.line >= 0 && p.line <= physicalLines, `line ${p.line} within the file`);
          assert.ok(p.reason.length > 0);
        }
        ok = false;
        rejected++;
      }
      const report = await validateDataFile(file, { format: source.format, fields: source.fields, tokenizer });
      assert.equal(report.ok, ok, `validate and load disagree on iteration ${iteration}: ${report.problems.join('; ')}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // the mutations must exercise both outcomes, or the test proves little
  assert.ok(loaded > 10, `only ${loaded} mutated files loaded`);
  assert.ok(rejected > 10, `only ${rejected} mutated files were rejected`);
});
