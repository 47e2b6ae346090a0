// The mask-preview panel's pure parts: the `ftune preview` arguments built from the Datasets view's
// detected mapping, the check of its --json output (run for real on GSM8K rows and a chat file with
// the tiny model), message guards, restored state, and how tokens are written on screen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { scanJsonlFile } from '../../src/extension/datasetScan';
import {
  cliErrorMessage, isHostToMaskPreview, isMaskPreviewToHost, parsePreviewOutput, previewCliArgs, restoreMaskPreviewState,
} from '../../src/extension/panels/maskPreviewMessages';
import { exampleSummary, exampleTitle, shadeIndex, tokenDisplay, trainedSpans } from '../../webview/lib/maskPreviewView';
import { CLI, GSM8K_TEST as GSM8K, TINY as MODEL } from '../helpers/sharedFiles';


function tempFile(name: string, text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-mask-')), name);
  fs.writeFileSync(file, text);
  return file;
}

function runPreview(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('the CLI arguments carry the detected format and the GSM8K question→prompt, answer→completion mapping', async () => {
  const scan = await scanJsonlFile(GSM8K);
  const args = previewCliArgs({ file: '/d/gsm8k.jsonl', model: '/m', n: 5 }, { format: scan.format, fields: scan.fields });
  assert.deepEqual(args, [
    'preview', '/d/gsm8k.jsonl', '--model', '/m', '--n', '5', '--json',
    '--format', 'prompt-completion', '--field', 'prompt=question', '--field', 'completion=answer',
  ]);
  // an undetected format is left to the CLI, which explains what it expected
  assert.deepEqual(previewCliArgs({ file: 'f', model: 'm', n: 3 }, { format: 'unknown', fields: {} }), ['preview', 'f', '--model', 'm', '--n', '3', '--json']);
});

test('GSM8K rows through ftune preview: the answer is trained, the question masked', async () => {
  // ASCII rows: a character such as ’ spans several byte-level tokens, each decoding to � on its own
  const rows = fs.readFileSync(GSM8K, 'utf8').split('\n').filter((l) => l !== '' && /^[\x20-\x7e\n]*$/.test(Object.values(JSON.parse(l) as Record<string, string>).join(''))).slice(0, 3);
  const file = tempFile('gsm8k-3.jsonl', rows.join('\n') + '\n');
  const scan = await scanJsonlFile(file);
  const result = runPreview(previewCliArgs({ file, model: MODEL, n: 2 }, { format: scan.format, fields: scan.fields }));
  assert.equal(result.status, 0, result.stderr);
  const examples = parsePreviewOutput(result.stdout);
  assert.equal(examples.length, 2);
  for (const [i, example] of examples.entries()) {
    const row = JSON.parse(rows[i]) as { question: string; answer: string };
    assert.equal(example.line, i + 1);
    const spans = trainedSpans(example.tokens);
    assert.equal(spans.length, 1, 'one trained run: the completion');
    assert.ok(spans[0].includes(row.answer), `the trained text holds the answer: ${JSON.stringify(spans[0])}`);
    const masked = example.tokens.filter((t) => !t.trained).map((t) => t.text).join('');
    assert.ok(masked.includes(row.question), 'the question is masked');
    const summary = exampleSummary(example.tokens);
    assert.ok(summary.trained > 0 && summary.trained < summary.tokens);
  }
});

test('a chat file through ftune preview: only the assistant turn is trained', () => {
  const chat = { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 2 + 3?' }, { role: 'assistant', content: '2 + 3 = 5\n#### 5' }] };
  const file = tempFile('chat.jsonl', JSON.stringify(chat) + '\n');
  const result = runPreview(previewCliArgs({ file, model: MODEL, n: 5 }, { format: 'messages', fields: {} }));
  assert.equal(result.status, 0, result.stderr);
  const [example] = parsePreviewOutput(result.stdout);
  const spans = trainedSpans(example.tokens);
  assert.equal(spans.length, 1);
  assert.ok(spans[0].startsWith('2 + 3 = 5\n#### 5'), JSON.stringify(spans[0]));
  const all = example.tokens.map((t) => t.text).join('');
  assert.ok(all.includes('<|im_start|>user\nWhat is 2 + 3?'), 'the template wraps the user turn');
  assert.ok(example.tokens.filter((t) => t.text === '<|im_start|>').every((t) => !t.trained), 'control tokens of the template are masked');
});

test('a CLI failure becomes a readable message', () => {
  const file = tempFile('odd.jsonl', '{"question": "only a question"}\n');
  const result = runPreview(['preview', file, '--model', MODEL, '--json']);
  assert.equal(result.status, 1);
  const message = cliErrorMessage(result.stderr, result.status);
  assert.ok(!message.startsWith('ftune: error:'));
  assert.match(message, /cannot tell the data format/);
  assert.equal(cliErrorMessage('', 3), 'ftune preview exited with code 3');
  assert.equal(cliErrorMessage('Error: boom\n    at x\n', 1), 'Error: boom\n    at x');
});

test('parsePreviewOutput accepts the JSON line and rejects anything else', () => {
  const good = [{ line: 1, tokens: [{ id: 3, text: 'a', trained: false }, { id: 4, text: 'b', trained: true }] }, { line: 1, side: 'rejected', too_long: true, tokens: [] }];
  assert.deepEqual(parsePreviewOutput(`some log\n${JSON.stringify(good)}\n`), good);
  assert.throws(() => parsePreviewOutput(''), /no examples/);
  assert.throws(() => parsePreviewOutput('[{"line":1,"tokens":[{"id":"3","text":"a","trained":false}]}]'), /not a list of examples/);
  assert.throws(() => parsePreviewOutput('[{"line":1,"side":"left","tokens":[]}]'), /not a list of examples/);
});

test('message guards and restored state', () => {
  assert.ok(isMaskPreviewToHost({ type: 'ready' }));
  assert.ok(isMaskPreviewToHost({ type: 'reload', n: 10 }));
  assert.ok(!isMaskPreviewToHost({ type: 'reload', n: 0 }));
  assert.ok(!isMaskPreviewToHost({ type: 'reload', n: 2.5 }));
  assert.ok(isMaskPreviewToHost({ type: 'openLine', line: 3 }));
  assert.ok(!isMaskPreviewToHost({ type: 'openLine', line: '3' }));
  assert.ok(!isMaskPreviewToHost({ type: 'run', command: 'rm' }));
  const target = { file: '/a.jsonl', model: '/m', n: 5 };
  assert.ok(isHostToMaskPreview({ type: 'examples', target, format: '', mapping: '', examples: [] }));
  assert.ok(!isHostToMaskPreview({ type: 'examples', target: { file: '/a' }, format: '', mapping: '', examples: [] }));
  assert.ok(isHostToMaskPreview({ type: 'error', target, message: 'x' }));
  assert.deepEqual(restoreMaskPreviewState(target), target);
  assert.deepEqual(restoreMaskPreviewState({ ...target, n: 1e6 }), { ...target, n: 5 });
  assert.equal(restoreMaskPreviewState({ file: '', model: '/m', n: 5 }), undefined);
  assert.equal(restoreMaskPreviewState(undefined), undefined);
  assert.equal(restoreMaskPreviewState({ run_dirs: ['x'] }), undefined);
});

test('tokens are written so that whitespace and control tokens stay visible', () => {
  assert.deepEqual(tokenDisplay('\n'), { shown: '↵', breaksLine: true, special: false, partial: false });
  assert.deepEqual(tokenDisplay('.\n\n'), { shown: '.↵↵', breaksLine: true, special: false, partial: false });
  assert.deepEqual(tokenDisplay('\tx'), { shown: '→x', breaksLine: false, special: false, partial: false });
  assert.ok(tokenDisplay('\uFFFD\uFFFD').partial, 'a token holding part of a multi-byte character');
  assert.equal(tokenDisplay('   ').shown, '···');
  assert.equal(tokenDisplay(' so').shown, ' so', 'a leading space inside a word token is kept as a space');
  assert.equal(tokenDisplay('').shown, '∅');
  assert.ok(tokenDisplay('<|im_start|>').special);
  assert.ok(tokenDisplay('</s>').special);
  assert.ok(!tokenDisplay('<b>').special);
  assert.equal(tokenDisplay('<img src=x onerror=alert(1)>').shown, '<img src=x onerror=alert(1)>', 'text is kept verbatim (it is set with textContent)');
});

test('summary, title, trained spans and alternating shades', () => {
  const tokens = [
    { text: 'Q', trained: false }, { text: ':', trained: false }, { text: ' 4', trained: true }, { text: '2', trained: true }, { text: '\n', trained: false }, { text: 'x', trained: true },
  ];
  const summary = exampleSummary(tokens);
  assert.deepEqual(summary, { tokens: 6, trained: 3, percent: 50 });
  assert.equal(exampleTitle(7, summary), 'line 7 · 6 tokens · 3 trained (50%)');
  assert.equal(exampleTitle(7, summary, 'chosen'), 'line 7 (chosen) · 6 tokens · 3 trained (50%)');
  assert.deepEqual(trainedSpans(tokens), [' 42', 'x']);
  assert.deepEqual(shadeIndex(tokens), [0, 1, 0, 1, 0, 0]);
  assert.deepEqual(exampleSummary([]), { tokens: 0, trained: 0, percent: 0 });
});
