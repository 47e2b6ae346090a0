// The mask preview in a real VS Code (code-server + Chromium): "Preview Training Examples" from the
// Datasets view on a GSM8K file (question→prompt, answer→completion detected) and from the Explorer on
// a chat file, with the tiny model's tokenizer. Each example must show the same tokens and trained
// counts as `ftune preview --json`, the completion / assistant turns highlighted and everything else
// masked. Screenshots: test-output/e2e/mask-preview-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Frame, Page } from 'playwright-core';
import { contextMenu, explorerItem, launch, openContainer, packageVsix, pickColorTheme, pickQuickItem, REPO_ROOT, screenshot, setupCodeServer, treeItem, type Session, closeAllSessions } from './harness';

const SHARED = [process.env.FTUNE_SHARED, path.join(REPO_ROOT, 'shared'), path.join(REPO_ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'models'))) ?? path.join(REPO_ROOT, '..', 'shared');
const TINY_MODEL = path.join(SHARED, 'models', 'tiny-gsm8k-base');
const GSM8K_TEST = path.join(SHARED, 'data', 'gsm8k', 'test.jsonl');
const CLI = path.join(REPO_ROOT, 'bin', 'ftune.js');

const CHATS = [
  [
    { role: 'system', content: 'You are a careful math tutor.' },
    { role: 'user', content: 'What is 7 + 5?' },
    { role: 'assistant', content: '7 + 5 = 12\n#### 12' },
  ],
  [
    { role: 'user', content: 'Tom has 3 apples and buys 4 more. How many apples?' },
    { role: 'assistant', content: 'He has 3 + 4 = 7 apples.\n#### 7' },
    { role: 'user', content: 'And if he eats 2?' },
    { role: 'assistant', content: '7 - 2 = 5\n#### 5' },
  ],
];

let session: Session | undefined;
let page: Page;
let workspace = '';
let model = '';

interface CliExample {
  line: number;
  tokens: { id: number; text: string; trained: boolean }[];
}

function cliPreview(file: string, extra: string[]): CliExample[] {
  const result = spawnSync(process.execPath, [CLI, 'preview', file, '--model', model, '--n', '5', '--json', ...extra], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').pop() as string) as CliExample[];
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(200);
  }
}

/** The content frame of the preview webview whose toolbar names `file`. */
async function previewFrame(file: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const name = await frame.$eval('#file', (e) => e.textContent).catch(() => null);
      if (name === file && (await frame.$('#examples[data-state="done"], #examples[data-state="error"]'))) return frame;
    }
    if (Date.now() > deadline) throw new Error(`no preview of ${file}`);
    await page.waitForTimeout(250);
  }
}

/** What the webview shows per example: its counts, the text of each token box and which are trained. */
async function shownExamples(frame: Frame): Promise<{ line: number; tokens: number; trained: number; texts: string[]; trainedFlags: boolean[] }[]> {
  return frame.$$eval('.mp-example', (sections) => sections.map((s) => {
    const spans = Array.from(s.querySelectorAll('.mp-tokens .tok')) as HTMLElement[];
    return {
      line: Number((s as HTMLElement).dataset.line),
      tokens: Number((s as HTMLElement).dataset.tokens),
      trained: Number((s as HTMLElement).dataset.trained),
      texts: spans.map((t) => t.textContent ?? ''),
      trainedFlags: spans.map((t) => t.classList.contains('trained')),
    };
  }));
}

/** The token boxes show the decoded text with ↵ for a newline and · for a token of spaces. */
/** Back from a token box to the decoded text. */
const raw = (box: string): string => (/^·+$/.test(box) ? ' '.repeat(box.length) : box.replace(/↵/g, '\n').replace(/→/g, '\t').replace(/␍/g, '\r'));
const shown = (text: string): string => (/^ +$/.test(text) ? '·'.repeat(text.length) : text.replace(/\r/g, '␍').replace(/\n/g, '↵').replace(/\t/g, '→') || '∅');

before(async () => {
  const tools = setupCodeServer();
  const vsix = packageVsix();
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-maskpreview-'));
  model = path.join(workspace, 'tiny-gsm8k-base');
  fs.cpSync(TINY_MODEL, model, { recursive: true });
  for (const f of fs.readdirSync(model)) fs.chmodSync(path.join(model, f), 0o644);
  fs.writeFileSync(path.join(workspace, 'gsm8k-5.jsonl'), fs.readFileSync(GSM8K_TEST, 'utf8').split('\n').slice(0, 5).join('\n') + '\n');
  fs.writeFileSync(path.join(workspace, 'chat.jsonl'), CHATS.map((messages) => JSON.stringify({ messages })).join('\n') + '\n');
  session = await launch({ tools, vsix, workspace });
  page = session.page;
});

after(async () => {
  await closeAllSessions();
});

test('Preview Training Examples on a GSM8K file: the answer is trained, the question dimmed, as ftune preview says', { timeout: 120_000 }, async () => {
  await openContainer(page, 'Finetune Studio');
  const row = treeItem(page, 'Datasets', 'gsm8k-5.jsonl');
  await row.waitFor({ timeout: 30_000 });
  await waitFor('the scan', async () => /prompt → completion/.test(await row.innerText()), 30_000);
  await contextMenu(page, row, 'Preview Training Examples');
  await page.locator('.quick-input-widget input[placeholder*="tokenizer and chat template"]').waitFor({ timeout: 30_000 });
  await pickQuickItem(page, 'tiny-gsm8k-base');
  const frame = await previewFrame('gsm8k-5.jsonl');
  assert.equal(await frame.locator('#examples').getAttribute('data-state'), 'done', await frame.locator('#examples').innerText());
  assert.equal(await frame.locator('#format').innerText(), 'prompt → completion (question→prompt, answer→completion)');

  const expected = cliPreview(path.join(workspace, 'gsm8k-5.jsonl'), ['--field', 'prompt=question', '--field', 'completion=answer']);
  const examples = await shownExamples(frame);
  assert.deepEqual(examples.map((e) => e.line), [1, 2, 3, 4, 5]);
  const rows = fs.readFileSync(path.join(workspace, 'gsm8k-5.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question: string; answer: string });
  for (const [i, example] of examples.entries()) {
    const cli = expected[i];
    assert.equal(example.tokens, cli.tokens.length);
    assert.equal(example.trained, cli.tokens.filter((t) => t.trained).length);
    assert.deepEqual(example.texts, cli.tokens.map((t) => shown(t.text)), 'one box per token, text as decoded');
    assert.deepEqual(example.trainedFlags, cli.tokens.map((t) => t.trained));
    // independent of the CLI: the answer's last line is trained, the question's first words are not
    const trained = example.texts.filter((_, k) => example.trainedFlags[k]).map(raw).join('');
    const masked = example.texts.filter((_, k) => !example.trainedFlags[k]).map(raw).join('');
    const finalLine = rows[i].answer.split('\n').pop() as string;
    assert.ok(trained.includes(finalLine), `"${finalLine}" is trained in example ${i + 1}`);
    // the longest plain-ASCII stretch of the question (a ’ decodes per token to �)
    const stretch = rows[i].question.split(/[^\x20-\x7e]/).sort((a, b) => b.length - a.length)[0].slice(0, 40);
    assert.ok(masked.includes(stretch), `"${stretch}" is masked in example ${i + 1}`);
    assert.ok(!trained.includes(stretch));
  }
  // trained and masked tokens look different (theme colours, not the same box)
  const [trainedBg, maskedBg, trainedColour, maskedColour] = await frame.evaluate(() => {
    const t = getComputedStyle(document.querySelector('.mp-tokens .tok.trained.shade-0') as Element);
    const m = getComputedStyle(document.querySelector('.mp-tokens .tok.masked.shade-0') as Element);
    return [t.backgroundColor, m.backgroundColor, t.color, m.color];
  });
  assert.notEqual(trainedBg, maskedBg);
  assert.notEqual(trainedColour, maskedColour);
  await screenshot(page, 'mask-preview-gsm8k');

  // fewer examples on request
  await frame.locator('#count').click();
  await frame.locator('#count vscode-option', { hasText: '3 examples' }).click();
  await waitFor('3 examples', async () => (await frame.locator('.mp-example').count()) === 3, 30_000);
});

test('Preview Training Examples on a chat file from the Explorer: only assistant turns are trained', { timeout: 120_000 }, async () => {
  await page.locator('.activitybar .action-item [aria-label^="Explorer"]').first().click();
  const item = explorerItem(page, 'chat.jsonl');
  await item.waitFor({ timeout: 30_000 });
  await contextMenu(page, item, 'Preview Training Examples');
  await page.locator('.quick-input-widget input[placeholder*="tokenizer and chat template"]').waitFor({ timeout: 30_000 });
  await pickQuickItem(page, 'tiny-gsm8k-base');
  const frame = await previewFrame('chat.jsonl');
  assert.equal(await frame.locator('#examples').getAttribute('data-state'), 'done', await frame.locator('#examples').innerText());
  assert.match(await frame.locator('#format').innerText(), /^chat messages/);
  const expected = cliPreview(path.join(workspace, 'chat.jsonl'), ['--format', 'messages']);
  const examples = await shownExamples(frame);
  assert.equal(examples.length, CHATS.length);
  for (const [i, example] of examples.entries()) {
    assert.deepEqual(example.trainedFlags, expected[i].tokens.map((t) => t.trained));
    // each trained run is one assistant reply (its <|im_end|> included), nothing of the system or user turns
    const runs: string[] = [];
    example.texts.forEach((text, k) => {
      if (!example.trainedFlags[k]) return;
      if (k > 0 && example.trainedFlags[k - 1]) runs[runs.length - 1] += text;
      else runs.push(text);
    });
    const replies = CHATS[i].filter((m) => m.role === 'assistant').map((m) => shown(m.content));
    assert.equal(runs.length, replies.length, `one trained run per assistant turn: ${JSON.stringify(runs)}`);
    runs.forEach((run, k) => assert.ok(run.startsWith(replies[k]), `${JSON.stringify(run)} is reply ${k + 1}`));
    const masked = example.texts.filter((_, k) => !example.trainedFlags[k]).map(raw).join('');
    for (const m of CHATS[i].filter((x) => x.role !== 'assistant')) assert.ok(masked.includes(m.content), `${m.role} turn masked`);
  }
  // the template's <|im_start|> markers are control tokens, shown as such and never trained
  const markers = await frame.$$eval('.mp-tokens .tok.special', (spans) => spans.map((s) => [s.textContent, s.classList.contains('trained')] as const));
  assert.ok(markers.some(([text]) => text === '<|im_start|>'));
  assert.ok(markers.filter(([text]) => text === '<|im_start|>').every(([, trained]) => !trained));
  await screenshot(page, 'mask-preview-chat');

  // a dark theme, picked the way a user does: the webview follows VS Code's colours
  await pickColorTheme(page, 'Dark Modern', true);
  await waitFor('a dark preview', async () => (await frame.evaluate(() => document.body.className)).includes('vscode-dark'), 30_000);
  await page.waitForTimeout(300);
  const [background, trainedBg] = await frame.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.querySelector('.mp-tokens .tok.trained') as Element).backgroundColor]);
  assert.notEqual(background, trainedBg);
  await screenshot(page, 'mask-preview-chat-dark');
});

test('after a window reload both previews come back with their file, model and count', { timeout: 120_000 }, async () => {
  const reloaded = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 60_000 });
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>Developer: Reload Window');
  await pickQuickItem(page, 'Developer: Reload Window');
  await reloaded;
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const chat = await previewFrame('chat.jsonl');
  assert.equal(await chat.locator('.mp-example').count(), CHATS.length);
  assert.equal(await chat.locator('#model').getAttribute('title'), model);
  await page.locator('.tab', { hasText: 'Training Examples · gsm8k-5.jsonl' }).first().click();
  const gsm8k = await previewFrame('gsm8k-5.jsonl');
  // the count chosen before the reload (3) is kept in the webview's state
  await waitFor('3 restored examples', async () => (await gsm8k.locator('.mp-example').count()) === 3, 30_000);
});
