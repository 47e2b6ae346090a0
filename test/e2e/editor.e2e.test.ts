// Issue 17 in a real VS Code (code-server 4.133.0 on Node 24, the harness default; the extension needs 1.104, the finalized
// language-model chat provider API): a test-only extension (test/e2e/lmProbe) installed beside ours uses
// the public API like any other extension — selectChatModels + sendRequest on a fine-tuned checkpoint
// (greedy text equal to `ftune generate --greedy`), cancellation, invokeTool on the status tool; the
// Testing view runs a golden file on base and on a checkpoint (counts equal to `ftune eval`); Run
// Selection on Models opens the side document with one section per model. Screenshots go to
// test-output/e2e/editor-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { CHAT_CODE_SERVER_VERSION, closeAllSessions, contextMenu, launch, notification, openContainer, packageVsix, pickQuickItem, REPO_ROOT, runCommand, screenshot, setupCodeServer, treeItem, type Session } from './harness';
import { extractAnswer } from '../../src/core/answer';
import { sectionLabels } from '../../src/extension/selection/answersDocument';

const SHARED = [process.env.FTUNE_SHARED, path.join(REPO_ROOT, 'shared'), path.join(REPO_ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'models'))) ?? path.join(REPO_ROOT, '..', 'shared');
const TINY_MODEL = path.join(SHARED, 'models', 'tiny-gsm8k-base');
const GSM8K_TEST = path.join(SHARED, 'data', 'gsm8k', 'test.jsonl');
const CLI = path.join(REPO_ROOT, 'bin', 'ftune.js');

let session: Session | undefined;
let page: Page;
let workspace = '';
let model = '';
let adapter = '';
let goldenFile = '';

function cli(args: string[]): string {
  const result = spawnSync(process.execPath, [CLI, ...args, '--backend', 'cpu'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

const jsonLine = <T>(stdout: string): T => JSON.parse(stdout.split('\n').find((l) => l.startsWith('{')) as string) as T;

function packageProbe(): string {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-probe-')), 'probe.vsix');
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '-o', out], {
    cwd: path.join(REPO_ROOT, 'test', 'e2e', 'lmProbe'), stdio: 'pipe',
  });
  return out;
}

/** Runs a probe command and returns what it wrote to .probe/<name>.json. */
async function probe<T>(title: string, name: string, input: unknown, timeoutMs = 120_000): Promise<T> {
  const dir = path.join(workspace, '.probe');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'input.json'), JSON.stringify(input));
  const file = path.join(dir, `${name}.json`);
  fs.rmSync(file, { force: true });
  await runCommand(page, title);
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    // VS Code asks once whether the probe may use another extension's language models
    const allow = page.locator('.monaco-dialog-box .monaco-button', { hasText: /^Allow$/ });
    if (await allow.isVisible().catch(() => false)) await allow.click();
    if (Date.now() > deadline) throw new Error(`the probe wrote no ${name}.json`);
    await page.waitForTimeout(250);
  }
  const value = JSON.parse(fs.readFileSync(file, 'utf8')) as T & { error?: string };
  assert.equal(value.error, undefined, value.error);
  return value;
}

before(async () => {
  const tools = setupCodeServer(process.env.FTUNE_E2E_CODE_SERVER ?? CHAT_CODE_SERVER_VERSION);
  const vsix = packageVsix();
  const probeVsix = packageProbe();
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-editor-'));
  model = path.join(workspace, 'tiny-gsm8k-base');
  fs.cpSync(TINY_MODEL, model, { recursive: true });
  for (const f of fs.readdirSync(model)) fs.chmodSync(path.join(model, f), 0o644);
  const data = path.join(workspace, 'additions.jsonl');
  fs.writeFileSync(data, Array.from({ length: 24 }, (_, i) => JSON.stringify({ prompt: `What is ${i % 10} + ${(i * 7) % 10}?\n`, completion: `#### ${(i % 10) + ((i * 7) % 10)}` })).join('\n') + '\n');
  const runsDir = path.join(workspace, '.finetune', 'runs');
  fs.mkdirSync(runsDir, { recursive: true });
  cli(['train', '--model', model, '--data', data, '--out', path.join(runsDir, 'add-run'), '--max-steps', '4', '--batch-size', '4', '--lr', '0.05', '--save-every', '2']);
  adapter = path.join(runsDir, 'add-run', 'adapter');
  // a golden file of two GSM8K questions; the first reference is the base model's own final number, so
  // the base passes at least one example and the counts compared below are not all zero
  const rows = fs.readFileSync(GSM8K_TEST, 'utf8').split('\n').slice(0, 2).map((l) => JSON.parse(l) as { question: string; answer: string });
  const own = jsonLine<{ text: string }>(cli(['generate', '--model', model, '--prompt', rows[0].question, '--greedy', '--json', '--max-new-tokens', '256'])).text;
  rows[0].answer = `#### ${extractAnswer(own) ?? '0'}`;
  goldenFile = path.join(workspace, 'gsm8k.golden.jsonl');
  fs.writeFileSync(goldenFile, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  fs.writeFileSync(path.join(workspace, 'prompt.txt'), 'What is 3 + 4?\n');
  session = await launch({ tools, vsix, extraVsix: [probeVsix], workspace, settings: { 'finetuneStudio.backend': 'cpu', 'chat.disableAIFeatures': false } });
  page = session.page;
});

after(async () => {
  await closeAllSessions();
});

const CHECKPOINT_NAME = 'tiny-gsm8k-base + add-run (step 4)';

test('chat: "Use in Chat" puts a checkpoint in vscode.lm; sendRequest greedy equals ftune generate --greedy', { timeout: 300_000 }, async () => {
  await openContainer(page, 'Finetune Studio');
  await contextMenu(page, treeItem(page, 'Checkpoints', 'adapter (final'), 'Use in Chat');
  await notification(page, 'is now a chat model').waitFor({ timeout: 30_000 });
  const messages = [{ role: 'user', content: 'Tom has 3 apples and buys 4 more. How many apples does he have?' }];
  const got = await probe<{ names: string[]; text: string; chunks: number; tokens: number; maxInputTokens: number; maxOutputTokens: number }>('Probe: Chat', 'chat', { model: CHECKPOINT_NAME, messages, max_tokens: 24 }, 240_000);
  assert.deepEqual(got.names, ['tiny-gsm8k-base', CHECKPOINT_NAME], 'the base and only the opted-in checkpoint');
  const expected = jsonLine<{ text: string }>(cli(['generate', '--model', model, '--adapter', adapter, '--messages', JSON.stringify(messages), '--greedy', '--json', '--max-new-tokens', '24'])).text;
  assert.equal(got.text, expected);
  assert.ok(got.chunks > 1, 'the answer streamed in pieces');
  const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as { max_position_embeddings: number };
  // LanguageModelChat exposes maxInputTokens only; maxOutputTokens (512, the setting) is unit-tested
  assert.equal(got.maxInputTokens, config.max_position_embeddings - 512);
  assert.ok(got.tokens > 5 && got.tokens < 40, `token count ${got.tokens}`);
});

test('chat: cancelling sendRequest ends the stream: the server stops decoding (VS Code >= 1.127 forwards the cancellation)', { timeout: 240_000 }, async () => {
  const got = await probe<{ chunks: number; second: string }>('Probe: Chat and Cancel', 'chatCancel', { model: CHECKPOINT_NAME, messages: [{ role: 'user', content: 'Tell me a long story about apples.' }] }, 200_000);
  // cancelled after the 3rd piece; a server that kept decoding would stream all 400 tokens
  assert.ok(got.chunks >= 3 && got.chunks < 100, `stream ended after ${got.chunks} pieces`);
  assert.equal(typeof got.second, 'string', 'the next request is answered');
});

test('tools: vscode.lm.invokeTool on the status tool returns the run\'s metrics', { timeout: 120_000 }, async () => {
  const got = await probe<{ tools: string[]; status: { name: string; status: string; step: number; loss: number; checkpoints: unknown[]; adapter: string } }>('Probe: Run Status Tool', 'statusTool', { run: 'add-run' });
  for (const name of ['finetuneStudio_listDatasets', 'finetuneStudio_previewMasks', 'finetuneStudio_estimateMemory', 'finetuneStudio_startRun', 'finetuneStudio_runStatus', 'finetuneStudio_evaluateCheckpoint']) {
    assert.ok(got.tools.includes(name), `${name} is registered`);
  }
  const metrics = fs.readFileSync(path.join(workspace, '.finetune', 'runs', 'add-run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; loss?: number; step?: number });
  const lastStep = metrics.filter((e) => e.type === 'step').pop();
  assert.deepEqual({ status: got.status.status, step: got.status.step, loss: got.status.loss }, { status: 'completed', step: 4, loss: lastStep?.loss });
  assert.equal(got.status.adapter, adapter);
  assert.equal(got.status.checkpoints.length, 2);
});

/** The golden file's row in the Testing view and its description ("1/2 passed (50%) on …"). */
async function goldenRowText(): Promise<string> {
  return page.locator('.test-explorer .monaco-list-row', { hasText: 'gsm8k.golden.jsonl' }).first().innerText();
}

async function runGoldenWith(profile: string): Promise<string> {
  await contextMenu(page, page.locator('.test-explorer .monaco-list-row', { hasText: 'gsm8k.golden.jsonl' }).first(), 'Execute Using Profile');
  await pickQuickItem(page, profile);
  const deadline = Date.now() + 240_000;
  for (;;) {
    const text = await goldenRowText().catch(() => '');
    const match = /(\d+)\/(\d+) passed \(\d+%\) on (.+)/.exec(text);
    // the row reads "gsm8k.golden.jsonl1/2 passed (50%) on tiny-gsm8k-base: 14.6s" (description, then duration)
    if (match && (profile === 'Run on base' ? !match[3].includes('+') : match[3].includes('add-run'))) return `${match[1]}/${match[2]}`;
    if (Date.now() > deadline) throw new Error(`no pass rate for ${profile}; row: ${text}`);
    await page.waitForTimeout(500);
  }
}

test('testing: the golden file on base and on a checkpoint, pass counts equal ftune eval --metric exact-match', { timeout: 600_000 }, async () => {
  await runCommand(page, 'Testing: Focus on Test Explorer View');
  await page.locator('.test-explorer .monaco-list-row', { hasText: 'gsm8k.golden.jsonl' }).first().waitFor({ timeout: 60_000 });
  const evalPassed = (extra: string[]) => {
    const r = jsonLine<{ 'exact-match': number; examples: number }>(cli(['eval', '--model', model, ...extra, '--data', goldenFile, '--field', 'prompt=question', '--field', 'completion=answer', '--metric', 'exact-match', '--json']));
    return Math.round(r['exact-match'] * r.examples);
  };
  const base = await runGoldenWith('Run on base');
  assert.equal(base.split('/')[0], String(evalPassed([])), `base: ${base}`);
  assert.ok(Number(base.split('/')[0]) >= 1, 'the base passes the example built from its own answer');
  await screenshot(page, 'editor-testing-view');
  const checkpoint = await runGoldenWith('Run on add-run (step 4)');
  assert.equal(checkpoint.split('/')[0], String(evalPassed(['--adapter', adapter])), `checkpoint: ${checkpoint}`);
});

test('Run Selection on Models: one section per model in a read-only side document', { timeout: 300_000 }, async () => {
  await openContainer(page, 'Finetune Studio'); // the workbench has settled (the palette lists every command)
  // the file opened and its text selected (by the probe: how it gets there is not under test)
  const opened = await probe<{ selected: string }>('Probe: Open Prompt', 'openPrompt', { file: path.join(workspace, 'prompt.txt') });
  assert.equal(opened.selected, 'What is 3 + 4?\n');
  await page.locator('.monaco-editor .view-lines', { hasText: 'What is 3 + 4?' }).first().waitFor({ timeout: 30_000 });
  await runCommand(page, 'Finetune Studio: Run Selection on Models…');
  // the base is picked already (first use); tick the final adapter too (a click on a row of a multi-pick toggles it), accept with Enter
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'add-run (final)' }).first();
  await row.waitFor({ timeout: 30_000 });
  if ((await row.getAttribute('aria-checked')) !== 'true') await row.click();
  await page.keyboard.press('Enter');
  const deadline = Date.now() + 240_000;
  let doc = { documents: [] as { text: string }[] };
  for (;;) {
    doc = await probe<typeof doc>('Probe: Dump Answers', 'answers', {});
    const text = doc.documents[0]?.text ?? '';
    if ((text.match(/tokens\/s_/g) ?? []).length === 2) break;
    if (Date.now() > deadline) {
      await screenshot(page, 'editor-run-selection-failed');
      throw new Error(`answers did not finish: ${text}`);
    }
    await page.waitForTimeout(2000);
  }
  assert.equal(doc.documents.length, 1);
  assert.deepEqual(sectionLabels(doc.documents[0].text), ['tiny-gsm8k-base', 'tiny-gsm8k-base + add-run (final)']);
  await screenshot(page, 'editor-run-selection');
});

/** The content frame of the webview that contains `selector` (webviews are nested iframes). */
async function webviewFrame(selector: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) if (await frame.$(selector).catch(() => null)) return frame;
    if (Date.now() > deadline) throw new Error(`no webview shows ${selector}`);
    await page.waitForTimeout(250);
  }
}

test('arena: three blind votes are three preference rows; "Train DPO on these votes" opens the wizard with DPO chosen', { timeout: 400_000 }, async () => {
  // The Testing test above left the Test Explorer in the sidebar; on VS Code 1.133 the activity-bar item's
  // state does not always say so, so focus the Runs view by its own command.
  await runCommand(page, 'Finetune Studio: Focus on Runs View');
  // The Runs view fills once the extension has read the run folders, which can take a while.
  const run = treeItem(page, 'Runs', 'add-run');
  await run.waitFor({ timeout: 120_000 });
  await contextMenu(page, run, 'Open Playground');
  const frame = await webviewFrame('#arena-ask');
  await frame.locator('#max-new-tokens input').fill('24');
  const prompts = ['What is 2 + 5?', 'What is 9 + 1?', 'Tom has 3 apples and buys 4 more. How many?'];
  for (const [i, prompt] of prompts.entries()) {
    await frame.locator('#arena-prompt textarea').fill(prompt);
    await frame.locator('#arena-ask:not([disabled])').click();
    await frame.locator('#arena-vote-A:not([disabled])').waitFor({ timeout: 120_000 });
    assert.equal(await frame.locator('#arena-name-A').innerText(), 'Model A', 'names are hidden until the vote');
    await frame.locator(i === 1 ? '#arena-vote-B' : '#arena-vote-A').click();
    await frame.locator('#arena-name-A', { hasText: 'A: ' }).waitFor({ timeout: 30_000 });
    const revealed = [await frame.locator('#arena-name-A').innerText(), await frame.locator('#arena-name-B').innerText()].join(' | ');
    assert.match(revealed, /tiny-gsm8k-base/);
    await frame.locator(`#arena-rows[data-rows="${i + 1}"]`).waitFor({ timeout: 30_000 });
  }
  const file = path.join(workspace, 'arena-preferences.jsonl');
  const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: { content: string }[]; chosen: unknown[]; rejected: unknown[] });
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map((r) => r.prompt[r.prompt.length - 1].content), prompts);
  const sidecar = JSON.parse(fs.readFileSync(`${file}.arena.json`, 'utf8')) as { votes: { options: { max_new_tokens: number } }[] };
  assert.equal(sidecar.votes.length, 3);
  assert.equal(sidecar.votes[0].options.max_new_tokens, 24);
  assert.match(await frame.locator('#arena-tally').innerText(), /3 preference rows/);
  await screenshot(page, 'editor-arena');
  await frame.locator('#arena-train-dpo:not([disabled])').click();
  await pickQuickItem(page, 'tiny-gsm8k-base');
  // the method step follows the model step: wait for it (the model list may still show for a moment), DPO focused
  const focused = page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused', { hasText: 'Direct preference optimisation (DPO)' });
  await focused.waitFor({ timeout: 30_000 });
  assert.match(await focused.innerText(), /Direct preference optimisation \(DPO\)/);
  await page.keyboard.press('Escape');
});
