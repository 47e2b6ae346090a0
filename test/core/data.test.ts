// The data pipeline against the conformance fixtures (token ids and labels computed independently)
// and its own rules: formats, field mapping, masking, length limits, layout tolerance, packing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadTokenizer, type Tokenizer } from '../../src/core/tokenizer';
import { DataFileError, IGNORE_INDEX, countTrainedTokens, loadExamples } from '../../src/core/examples';
import { loadPreferencePairs } from '../../src/core/preferences';
import { createJsonlStats, readJsonl, type JsonlEntry } from '../../src/core/jsonl';
import { BlockPacker, packTextBlocks, splitPlainText } from '../../src/core/packing';
import { trainedRuns } from '../helpers/masks';
import { scanJsonlFile } from '../../src/extension/datasetScan';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'data');
/** shared/ sits beside the checkout (or inside it on CI machines). */
const SHARED = [process.env.FTUNE_SHARED, path.join(ROOT, 'shared'), path.join(ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'conformance'))) ?? path.join(ROOT, '..', 'shared');
const CONFORMANCE = path.join(SHARED, 'conformance');
const MODELS = ['tiny-qwen2', 'tiny-llama'];
const QWEN = path.join(CONFORMANCE, 'tiny-qwen2');

interface EvalLossCase {
  token_ids: number[][];
  labels: number[][];
  label_tokens?: number;
  completion_fields: Record<string, string>;
  completion_token_ids: number[][];
  completion_labels: number[][];
}

function readCase(model: string): EvalLossCase {
  return JSON.parse(fs.readFileSync(path.join(CONFORMANCE, model, 'cases', 'eval_loss.json'), 'utf8')) as EvalLossCase;
}

let tmpDir: string | undefined;
function tmpFile(name: string, content: string | Buffer): string {
  tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-data-'));
  const file = path.join(tmpDir, name);
  fs.writeFileSync(file, content);
  return file;
}
test.after(() => { if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true }); });

// ---------------------------------------------------------------- conformance

for (const model of MODELS) {
  test(`${model}: sft.jsonl gives the conformance token ids and labels`, async () => {
    const tokenizer = await loadTokenizer(path.join(CONFORMANCE, model));
    const expected = readCase(model);
    const set = await loadExamples(path.join(CONFORMANCE, model, 'cases', 'sft.jsonl'), tokenizer, { format: 'messages', maxLength: 1024 });
    assert.equal(set.format, 'messages');
    assert.equal(set.skipped_too_long, 0);
    assert.equal(set.rows, expected.token_ids.length);
    assert.deepEqual(set.examples.map((e) => e.input_ids), expected.token_ids);
    assert.deepEqual(set.examples.map((e) => e.labels), expected.labels);
    assert.deepEqual(set.examples.map((e) => e.line), [1, 2, 3, 4]);
    if (expected.label_tokens !== undefined) {
      assert.equal(set.examples.reduce((n, e) => n + countTrainedTokens(e), 0), expected.label_tokens);
    }
  });

  test(`${model}: completion.jsonl with prompt=question, completion=answer gives the conformance ids and labels`, async () => {
    const tokenizer = await loadTokenizer(path.join(CONFORMANCE, model));
    const expected = readCase(model);
    const set = await loadExamples(path.join(CONFORMANCE, model, 'cases', 'completion.jsonl'), tokenizer, { fields: expected.completion_fields, maxLength: 1024 });
    assert.equal(set.format, 'prompt-completion');
    assert.deepEqual(set.examples.map((e) => e.input_ids), expected.completion_token_ids);
    assert.deepEqual(set.examples.map((e) => e.labels), expected.completion_labels);
  });

  test(`${model}: preference pairs train exactly the response turn`, async () => {
    const tokenizer = await loadTokenizer(path.join(CONFORMANCE, model));
    const file = path.join(CONFORMANCE, model, 'cases', 'prefs.jsonl');
    const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {
      prompt: { role: string; content: string }[]; chosen: { role: string; content: string }[]; rejected: { role: string; content: string }[];
    });
    const set = await loadPreferencePairs(file, tokenizer, { maxLength: 1024 });
    assert.equal(set.pairs.length, rows.length);
    set.pairs.forEach((pair, k) => {
      assert.equal(pair.line, k + 1);
      for (const side of ['chosen', 'rejected'] as const) {
        const example = pair[side];
        const conversation = [...rows[k].prompt, ...rows[k][side]];
        // the whole sequence is the rendered conversation; the trained span is the response turn only
        assert.deepEqual(example.input_ids, tokenizer.encode(tokenizer.applyChatTemplate(conversation, false)));
        assert.deepEqual(trainedRuns(example, tokenizer), [`${rows[k][side][0].content}<|im_end|>\n`]);
        const promptIds = tokenizer.encode(tokenizer.applyChatTemplate(rows[k].prompt, true));
        assert.deepEqual(example.labels.slice(0, promptIds.length), promptIds.map(() => IGNORE_INDEX));
        assert.notEqual(example.labels[promptIds.length], IGNORE_INDEX, 'training starts right after the generation prompt');
      }
    });
  });
}

// ---------------------------------------------------------------- formats and masking

test('maxLength drops (never truncates) long examples and counts them', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const expected = readCase('tiny-qwen2');
  const file = path.join(QWEN, 'cases', 'sft.jsonl');
  const lengths = expected.token_ids.map((ids) => ids.length);
  const limit = 512;
  const set = await loadExamples(file, tokenizer, { format: 'messages', maxLength: limit });
  assert.equal(set.skipped_too_long, lengths.filter((l) => l > limit).length);
  assert.ok(set.skipped_too_long > 0, 'the fixture has an example longer than 512 tokens');
  assert.deepEqual(set.examples.map((e) => e.input_ids), expected.token_ids.filter((ids) => ids.length <= limit));
  const exact = await loadExamples(file, tokenizer, { format: 'messages', maxLength: Math.max(...lengths) });
  assert.equal(exact.skipped_too_long, 0, 'an example exactly maxLength long is kept');
});

test('auto-detection and every row of a messages file: each assistant turn is trained, nothing else', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const set = await loadExamples(path.join(FIXTURES, 'messages.jsonl'), tokenizer);
  assert.equal(set.format, 'messages');
  assert.deepEqual(set.examples.map((e) => trainedRuns(e, tokenizer)), [
    ['4<|im_end|>\n'],
    ['Blue.<|im_end|>\n', 'Red.<|im_end|>\n'],
    ['Which city?<|im_end|>\n', 'It is clear.<|im_end|>\n'],
  ]);
});

test('ShareGPT data maps with --field messages/role/content and matches the messages form', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const plain = await loadExamples(path.join(FIXTURES, 'messages.jsonl'), tokenizer);
  const shareGpt = await loadExamples(path.join(FIXTURES, 'sharegpt.jsonl'), tokenizer, {
    fields: { messages: 'conversations', role: 'from', content: 'value' },
  });
  assert.equal(shareGpt.format, 'messages');
  assert.deepEqual(shareGpt.examples.map((e) => e.input_ids), plain.examples.slice(0, 2).map((e) => e.input_ids));
  assert.deepEqual(shareGpt.examples.map((e) => e.labels), plain.examples.slice(0, 2).map((e) => e.labels));
});

test('conversational prompt/completion trains only the completion turn', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const set = await loadExamples(path.join(FIXTURES, 'conversational_pc.jsonl'), tokenizer);
  assert.equal(set.format, 'prompt-completion');
  const whole = await loadExamples(path.join(FIXTURES, 'messages.jsonl'), tokenizer);
  assert.deepEqual(set.examples[0].input_ids, whole.examples[0].input_ids, 'same conversation as messages.jsonl line 1');
  assert.deepEqual(set.examples[0].labels, whole.examples[0].labels);
});

test('plain prompt/completion: no template, prompt untrained, completion + eos trained', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const set = await loadExamples(path.join(FIXTURES, 'prompt_completion.jsonl'), tokenizer);
  const rows = [['Q: 3 + 5 =', ' 8'], ['Q: 10 - 7 =', ' 3']];
  assert.equal(set.format, 'prompt-completion');
  set.examples.forEach((e, k) => {
    const prompt = tokenizer.encode(rows[k][0]);
    const completion = tokenizer.encode(rows[k][1]);
    assert.deepEqual(e.input_ids, [...prompt, ...completion, tokenizer.eosTokenId]);
    assert.deepEqual(e.labels, [...prompt.map(() => IGNORE_INDEX), ...completion, tokenizer.eosTokenId]);
  });
});

test('text records: labels = ids, ending with eos', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const set = await loadExamples(path.join(FIXTURES, 'text.jsonl'), tokenizer);
  assert.equal(set.format, 'text');
  assert.equal(set.examples.length, 3);
  for (const e of set.examples) {
    assert.deepEqual(e.labels, e.input_ids);
    assert.equal(e.input_ids[e.input_ids.length - 1], tokenizer.eosTokenId);
  }
  assert.equal(tokenizer.decode(set.examples[1].input_ids), 'Weng earns $12 an hour for babysitting.<|im_end|>');
});

test('GSM8K rows: --field prompt=question completion=answer; with another field given, a hint names the mapping', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const lines = fs.readFileSync(path.join(SHARED, 'data', 'gsm8k', 'train.jsonl'), 'utf8').split('\n').slice(0, 5);
  const file = tmpFile('gsm8k-head.jsonl', lines.join('\n') + '\n');
  const set = await loadExamples(file, tokenizer, { fields: { prompt: 'question', completion: 'answer' } });
  assert.equal(set.format, 'prompt-completion');
  assert.equal(set.examples.length, 5);
  set.examples.forEach((e, k) => {
    const row = JSON.parse(lines[k]) as { question: string; answer: string };
    assert.deepEqual(trainedRuns(e, tokenizer), [`${row.answer}<|im_end|>`]);
    assert.equal(tokenizer.decode(e.input_ids), `${row.question}${row.answer}<|im_end|>`);
  });
  // an explicit --field turns the column aliases off: the hint names the rest of the mapping
  await assert.rejects(loadExamples(file, tokenizer, { fields: { role: 'from' } }), (err: unknown) => {
    assert.ok(err instanceof DataFileError);
    assert.equal(err.problems.length, 1);
    assert.equal(err.problems[0].line, 0);
    assert.match(err.message, /--field prompt=question --field completion=answer/);
    return true;
  });
});

test('preference rows: string, message-list and implicit-prompt forms tokenize identically', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const lists = await loadPreferencePairs(path.join(QWEN, 'cases', 'prefs.jsonl'), tokenizer);
  const strings = await loadPreferencePairs(path.join(FIXTURES, 'prefs_strings.jsonl'), tokenizer);
  const implicit = await loadPreferencePairs(path.join(FIXTURES, 'prefs_implicit.jsonl'), tokenizer);
  assert.equal(lists.pairs.length, 2);
  for (const other of [strings, implicit]) {
    assert.deepEqual(other.pairs.map((p) => [p.chosen.input_ids, p.chosen.labels, p.rejected.input_ids, p.rejected.labels]),
      lists.pairs.map((p) => [p.chosen.input_ids, p.chosen.labels, p.rejected.input_ids, p.rejected.labels]));
  }
  const short = await loadPreferencePairs(path.join(QWEN, 'cases', 'prefs.jsonl'), tokenizer, { maxLength: 33 });
  assert.equal(short.skipped_too_long + short.pairs.length, 2);
  assert.ok(short.pairs.every((p) => p.chosen.input_ids.length <= 33 && p.rejected.input_ids.length <= 33));
  assert.ok(short.skipped_too_long >= 1, 'a pair is dropped when either side is too long');
});

test('preference data is refused by loadExamples with a pointer to DPO', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  await assert.rejects(loadExamples(path.join(QWEN, 'cases', 'prefs.jsonl'), tokenizer), (err: unknown) =>
    err instanceof DataFileError && /DPO/.test(err.message));
});

// ---------------------------------------------------------------- file layout and errors

test('BOM, CRLF endings and blank lines are accepted; line numbers stay physical', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const original = path.join(QWEN, 'cases', 'sft.jsonl');
  const rows = fs.readFileSync(original, 'utf8').trim().split('\n');
  const messy = '\uFEFF' + rows[0] + '\r\n\r\n' + rows[1] + '\r\n   \r\n\t\n' + rows[2] + '\n' + rows[3]; // no final newline
  const file = tmpFile('messy.jsonl', messy);
  const stats = createJsonlStats();
  const entries: JsonlEntry[] = [];
  for await (const entry of readJsonl(file, { stats })) entries.push(entry);
  assert.deepEqual(entries.map((e) => [e.line, e.error]), [[1, undefined], [3, undefined], [6, undefined], [7, undefined]]);
  assert.deepEqual(stats, { lines: 7, blank_lines: 3, crlf_lines: 4, bom: true });
  const clean = await loadExamples(original, tokenizer, { maxLength: 1024 });
  const set = await loadExamples(file, tokenizer, { maxLength: 1024 });
  assert.deepEqual(set.examples.map((e) => e.input_ids), clean.examples.map((e) => e.input_ids));
  assert.deepEqual(set.examples.map((e) => e.labels), clean.examples.map((e) => e.labels));
  assert.deepEqual(set.examples.map((e) => e.line), [1, 3, 6, 7]);
});

test('the reader handles lines longer than a read chunk and bounds a runaway line', async () => {
  const long = JSON.stringify({ text: 'x'.repeat(300_000) });
  const file = tmpFile('long.jsonl', `${long}\n${long}\n{"text": "short"}\n`);
  const entries: JsonlEntry[] = [];
  for await (const entry of readJsonl(file)) entries.push(entry);
  assert.deepEqual(entries.map((e) => (e.value?.text as string | undefined)?.length), [300_000, 300_000, 5]);
  const bounded: JsonlEntry[] = [];
  for await (const entry of readJsonl(file, { maxLineBytes: 100_000 })) bounded.push(entry);
  assert.deepEqual(bounded.map((e) => [e.line, e.error ?? 'ok']), [
    [1, 'line is longer than 100000 bytes'], [2, 'line is longer than 100000 bytes'], [3, 'ok'],
  ]);
});

test('a DataFileError lists at most 20 problems, then "... and N more", and comes before any tokenization', async () => {
  const good = JSON.stringify({ text: 'fine' });
  const lines = [good, ...Array.from({ length: 25 }, (_, i) => `{"text": ${i}`)];
  const file = tmpFile('many-bad.jsonl', lines.join('\n') + '\n');
  let encodeCalls = 0;
  const counting: Tokenizer = {
    encode: () => { encodeCalls++; return [1]; },
    decode: () => '',
    applyChatTemplate: () => { encodeCalls++; return ''; },
    hasChatTemplate: true, chatTemplate: '', eosTokenId: 2, padTokenId: 0, vocabSize: 3,
  };
  await assert.rejects(loadExamples(file, counting), (err: unknown) => {
    assert.ok(err instanceof DataFileError);
    assert.equal(err.problems.length, 25);
    assert.deepEqual(err.problems.map((p) => p.line), Array.from({ length: 25 }, (_, i) => i + 2));
    const shown = err.message.split('\n');
    assert.equal(shown.length, 21);
    assert.match(shown[0], /many-bad\.jsonl:2: invalid JSON: /);
    assert.equal(shown[20], '... and 5 more');
    return true;
  });
  assert.equal(encodeCalls, 0, 'no tokenization before the file is known to be good');
  const ok = await loadExamples(tmpFile('one-good.jsonl', good + '\n'), counting);
  assert.equal(ok.examples.length, 1);
  assert.ok(encodeCalls > 0);
});

test('a missing file is a DataFileError naming it; plain text is pointed to packing', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  await assert.rejects(loadExamples(path.join(FIXTURES, 'corpus.md'), tokenizer), (err: unknown) =>
    err instanceof DataFileError && /continued pre-training/.test(err.message));
  await assert.rejects(loadExamples(path.join(FIXTURES, 'does-not-exist.jsonl'), tokenizer), (err: unknown) =>
    err instanceof DataFileError && /does-not-exist\.jsonl: cannot read the file/.test(err.message));
});

// ---------------------------------------------------------------- packing

test('packing: documents + eos concatenated into fixed blocks, labels = ids, last block kept or dropped', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const eos = tokenizer.eosTokenId as number;
  const texts = fs.readFileSync(path.join(FIXTURES, 'text.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
  const stream = texts.flatMap((t) => [...tokenizer.encode(t), eos]);
  const blockSize = 16;
  const set = await packTextBlocks(path.join(FIXTURES, 'text.jsonl'), tokenizer, { blockSize });
  assert.equal(set.format, 'text');
  assert.equal(set.rows, 3);
  assert.deepEqual(set.examples.flatMap((b) => b.input_ids), stream);
  assert.equal(set.examples.length, Math.ceil(stream.length / blockSize));
  set.examples.slice(0, -1).forEach((b) => assert.equal(b.input_ids.length, blockSize));
  set.examples.forEach((b) => assert.deepEqual(b.labels, b.input_ids));
  assert.equal(set.examples[0].line, 1);
  const dropped = await packTextBlocks(path.join(FIXTURES, 'text.jsonl'), tokenizer, { blockSize, dropLast: true });
  assert.equal(dropped.examples.length, Math.floor(stream.length / blockSize));
  assert.ok(dropped.examples.every((b) => b.input_ids.length === blockSize));
});

test('packing several files, .md included; a block records the line where it starts', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const eos = tokenizer.eosTokenId as number;
  const markdown = fs.readFileSync(path.join(FIXTURES, 'corpus.md'), 'utf8');
  const jsonlTexts = fs.readFileSync(path.join(FIXTURES, 'text.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
  const set = await packTextBlocks([path.join(FIXTURES, 'corpus.md'), path.join(FIXTURES, 'text.jsonl')], tokenizer, { blockSize: 1000 });
  assert.equal(set.examples.length, 1);
  assert.deepEqual(set.examples[0].input_ids, [...tokenizer.encode(markdown), eos, ...jsonlTexts.flatMap((t) => [...tokenizer.encode(t), eos])]);

  const packer = new BlockPacker(4, 99);
  packer.addDocument([1, 2, 3], 1);
  packer.addDocument([4, 5, 6, 7, 8], 2);
  assert.deepEqual(packer.finish(false).map((b) => [b.line, b.input_ids]), [[1, [1, 2, 3, 99]], [2, [4, 5, 6, 7]], [2, [8, 99]]]);
});

test('plain text is tokenized in pieces whose tokens equal the whole text\'s; CRLF and BOM are normalised', async () => {
  const tokenizer = await loadTokenizer(QWEN);
  const paragraph = fs.readFileSync(path.join(FIXTURES, 'corpus.md'), 'utf8');
  const text = Array.from({ length: 30 }, () => paragraph).join('\n');
  const pieces = splitPlainText(text, 200);
  assert.ok(pieces.length > 10);
  assert.equal(pieces.map((p) => p.text).join(''), text);
  assert.deepEqual(pieces.map((p) => p.last), pieces.map((_, i) => i === pieces.length - 1));
  assert.deepEqual(pieces.flatMap((p) => tokenizer.encode(p.text)), tokenizer.encode(text));
  // each piece's line is the physical line it starts on
  let offset = 0;
  for (const p of pieces) {
    assert.equal(p.line, 1 + (text.slice(0, offset).match(/\n/g) ?? []).length);
    offset += p.text.length;
  }

  const crlf = tmpFile('crlf.txt', '\uFEFF' + paragraph.replace(/\n/g, '\r\n'));
  const set = await packTextBlocks(crlf, tokenizer, { blockSize: 4096 });
  assert.deepEqual(set.examples[0].input_ids, [...tokenizer.encode(paragraph), tokenizer.eosTokenId]);
});

test('GSM8K question/answer: ftune train maps the columns the way the wizard does, and says which mapping it chose', async () => {
  const gsm8k = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'data', 'gsm8k', 'train.jsonl');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-gsm8k-')), 'gsm8k.jsonl');
  fs.writeFileSync(file, fs.readFileSync(gsm8k, 'utf8').split('\n').slice(0, 40).join('\n') + '\n');
  const tokenizer = await loadTokenizer(QWEN);
  // the trainer's loader (what `ftune train` runs), with no --format and no --field
  const set = await loadExamples(file, tokenizer, { format: 'auto', fields: {} });
  assert.equal(set.format, 'prompt-completion');
  assert.deepEqual(set.mapped, { prompt: 'question', completion: 'answer' });
  assert.equal(set.examples.length, 40);
  // the wizard / Datasets view scan reads the same mapping from the same detector
  const scan = await scanJsonlFile(file);
  assert.equal(scan.format, set.format);
  assert.deepEqual(scan.fields, set.mapped);
  // names that already match need no mapping, and an explicit --field turns aliasing off
  const plain = path.join(path.dirname(file), 'plain.jsonl');
  fs.writeFileSync(plain, JSON.stringify({ prompt: 'a', completion: 'b' }) + '\n');
  assert.equal((await loadExamples(plain, tokenizer, {})).mapped, undefined);
  const explicit = await loadExamples(file, tokenizer, { fields: { prompt: 'question', completion: 'answer' } });
  assert.equal(explicit.mapped, undefined);
  assert.equal(explicit.examples.length, 40);
});
