// `ftune validate` and `ftune preview`: exit codes, reports and previews, run in a child process
// (the commands write to process.stdout, which the test runner itself uses).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadTokenizer } from '../../src/core/tokenizer';
import { loadExamples } from '../../src/core/examples';
import { previewExamples, renderPreview, type PreviewExample, type ValidationReport } from '../../src/core/validate';
import { DataFileError } from '../../src/core/formats';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SHARED = [process.env.FTUNE_SHARED, path.join(ROOT, 'shared'), path.join(ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'conformance'))) ?? path.join(ROOT, '..', 'shared');
const QWEN = path.join(SHARED, 'conformance', 'tiny-qwen2');
const SFT = path.join(QWEN, 'cases', 'sft.jsonl');
const BAD = path.join(ROOT, 'test', 'fixtures', 'bad');
const GOOD = path.join(ROOT, 'test', 'fixtures', 'data');

interface CliResult { status: number | null; stdout: string; stderr: string }

function runCli(command: 'validate' | 'preview', args: string[]): CliResult {
  const modulePath = path.join(__dirname, '..', '..', 'src', 'cli', `${command}.js`);
  const fn = command === 'validate' ? 'validateCommand' : 'previewCommand';
  const script = `require(${JSON.stringify(modulePath)}).${fn}(JSON.parse(process.argv[1])).then((code) => { process.exitCode = code; })`;
  const result = spawnSync(process.execPath, ['-e', script, JSON.stringify(args)], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function percentileNearestRank(sorted: number[], p: number): number {
  return sorted[Math.ceil(p * sorted.length) - 1];
}

test('validate --json: counts and token-length statistics of a good file, exit 0', () => {
  const expected = JSON.parse(fs.readFileSync(path.join(QWEN, 'cases', 'eval_loss.json'), 'utf8')) as { token_ids: number[][]; label_tokens: number };
  const lengths = expected.token_ids.map((ids) => ids.length).sort((a, b) => a - b);
  const rows = fs.readFileSync(SFT, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { messages: { role: string }[] });
  const result = runCli('validate', [SFT, '--model', QWEN, '--json', '--max-length', '100']);
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as ValidationReport;
  assert.equal(report.ok, true);
  assert.equal(report.format, 'messages');
  assert.equal(report.rows, rows.length);
  assert.equal(report.counts.conversations, rows.length);
  assert.equal(report.counts.assistant_turns, rows.flatMap((r) => r.messages).filter((m) => m.role === 'assistant').length);
  assert.ok(report.tokens);
  assert.equal(report.tokens.min, lengths[0]);
  assert.equal(report.tokens.max, lengths[lengths.length - 1]);
  assert.equal(report.tokens.median, (lengths[1] + lengths[2]) / 2);
  assert.equal(report.tokens.p95, percentileNearestRank(lengths, 0.95));
  assert.equal(report.tokens.over_max_length, lengths.filter((l) => l > 100).length);
  assert.equal(report.tokens.trained_tokens, expected.label_tokens);
  assert.ok(report.notes.some((n) => /longer than --max-length 100/.test(n)));
});

test('validate: every bad line as file:line: reason, exit 1', () => {
  const file = path.join(BAD, 'non_alternating.jsonl');
  const result = runCli('validate', [file]);
  assert.equal(result.status, 1);
  const lines = result.stdout.split('\n');
  for (const n of [1, 2, 3, 4, 5]) assert.ok(lines.some((l) => l.startsWith(`${file}:${n}: `)), `line ${n} reported`);
  assert.match(result.stdout, /5 problem\(s\)/);
  assert.doesNotMatch(result.stdout, /tokens per example/, 'no token statistics without --model');
});

test('validate: notes for BOM, CRLF and blank lines; field mapping; plain text', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-cli-'));
  try {
    const rows = fs.readFileSync(path.join(QWEN, 'cases', 'completion.jsonl'), 'utf8').trim().split('\n');
    const file = path.join(dir, 'messy.jsonl');
    fs.writeFileSync(file, '\uFEFF' + rows.join('\r\n\r\n') + '\r\n');
    const result = runCli('validate', [file, '--field', 'prompt=question', '--field=completion=answer']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /note: the file starts with a UTF-8 byte order mark \(accepted\)/);
    assert.match(result.stdout, /note: 3 line\(s\) end with CRLF \(accepted\)/);
    assert.match(result.stdout, /note: 1 blank line\(s\) \(skipped\)/);
    assert.match(result.stdout, /counts: examples 2/);
    // without --field, question/answer are mapped by the column aliases, as in the wizard
    const unmapped = runCli('validate', [file]);
    assert.equal(unmapped.status, 0, unmapped.stdout + unmapped.stderr);
    assert.match(unmapped.stdout, /counts: examples 2/);
    assert.match(unmapped.stdout, /note: format detected from the first rows: prompt-completion, columns question→prompt, answer→completion/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const markdown = runCli('validate', [path.join(GOOD, 'corpus.md'), '--model', QWEN, '--json']);
  assert.equal(markdown.status, 0, markdown.stderr);
  const report = JSON.parse(markdown.stdout) as ValidationReport;
  assert.equal(report.format, 'text');
  assert.equal(report.counts.blocks, 1);
});

test('validate: usage mistakes and unreadable files exit 1 with one ftune: error line', () => {
  const unknown = runCli('validate', [SFT, '--bogus']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /^ftune: error: unknown option --bogus\n/);
  const badField = runCli('validate', [SFT, '--field', 'answer']);
  assert.equal(badField.status, 1);
  assert.match(badField.stderr, /^ftune: error: --field answer: expected KEY=COLUMN/);
  const unknownField = runCli('validate', [SFT, '--field', 'question=prompt']);
  assert.match(unknownField.stderr, /unknown field "question"/);
  assert.equal(runCli('validate', []).status, 1);
  const missing = runCli('validate', [path.join(GOOD, 'nope.jsonl')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stdout, /nope\.jsonl: cannot read the file/);
  const noModel = runCli('preview', [SFT]);
  assert.equal(noModel.status, 1);
  assert.match(noModel.stderr, /--model DIR is required/);
});

test('preview --json: tokens and trained flags are exactly what training uses', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const set = await loadExamples(SFT, tokenizer, { maxLength: 1024 });
  const result = runCli('preview', [SFT, '--model', QWEN, '--json', '--n', '2']);
  assert.equal(result.status, 0, result.stderr);
  const previews = JSON.parse(result.stdout) as PreviewExample[];
  assert.equal(previews.length, 2);
  previews.forEach((p, k) => {
    assert.equal(p.line, set.examples[k].line);
    assert.deepEqual(p.tokens.map((t) => t.id), set.examples[k].input_ids);
    assert.deepEqual(p.tokens.map((t) => t.trained), set.examples[k].labels.map((l) => l !== -100));
    assert.equal(p.tokens.map((t) => t.text).join(''), tokenizer.decode(set.examples[k].input_ids));
  });
  const pairs = JSON.parse(runCli('preview', [path.join(QWEN, 'cases', 'prefs.jsonl'), '--model', QWEN, '--json', '--n', '1']).stdout) as PreviewExample[];
  assert.deepEqual(pairs.map((p) => [p.line, p.side]), [[1, 'chosen'], [1, 'rejected']]);
});

test('preview text: boundaries and trained spans without colour; ANSI highlighting with colour', async () => {
  const result = runCli('preview', [path.join(GOOD, 'prompt_completion.jsonl'), '--model', QWEN, '--n', '1']);
  assert.equal(result.status, 0, result.stderr);
  assert.doesNotMatch(result.stdout, /\x1b\[/, 'no escape codes when stdout is not a terminal');
  assert.match(result.stdout, /^legend: /);
  assert.match(result.stdout, /line 1: \d+ tokens, 2 trained/); // " 8" + eos
  assert.match(result.stdout, /«.* 8\|<\|im_end\|>»/);
  const example: PreviewExample = { line: 7, tokens: [{ id: 1, text: 'a', trained: false }, { id: 2, text: 'b\n', trained: true }] };
  const colored = renderPreview([example], { color: true });
  assert.match(colored, /\x1b\[30;48;5;150mb\\n\x1b\[0m\n/, 'a trained token on green, its newline made visible');
  assert.match(colored, /\x1b\[37;48;5;236ma\x1b\[0m/, 'context on grey');
  assert.match(renderPreview([example], { color: false }), /a\|«b\\n»/);
});

test('previewExamples reads only as far as the examples it shows', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-preview-'));
  try {
    const good = fs.readFileSync(path.join(GOOD, 'messages.jsonl'), 'utf8').trim().split('\n');
    const file = path.join(dir, 'tail-broken.jsonl');
    fs.writeFileSync(file, [...good, '{"messages": oops'].join('\n') + '\n');
    const previews = await previewExamples(file, { tokenizer, n: 2 });
    assert.deepEqual(previews.map((p) => p.line), [1, 2]);
    await assert.rejects(previewExamples(file, { tokenizer, n: 10 }), (err: unknown) =>
      err instanceof DataFileError && err.problems.length === 1 && err.problems[0].line === 4);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
