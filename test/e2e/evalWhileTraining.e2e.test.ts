// Evaluate while training in a real VS Code (code-server + Chromium): a run trained by the CLI with
// --golden + --eval-metric exact-match shows an exact-match chart in the loss panel (from step 0) with
// the best evaluation marked, and the Checkpoints view shows the best with a star, first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Frame, Page } from 'playwright-core';
import { closeAllSessions, contextMenu, launch, openContainer, packageVsix, REPO_ROOT, screenshot, setupCodeServer, treeItem, viewPane, type Session } from './harness';

const MODEL = path.join(REPO_ROOT, 'examples', 'models', 'tiny-gsm8k-base');
const CLI = path.join(REPO_ROOT, 'bin', 'ftune.js');

let session: Session | undefined;
let page: Page;
let runDir = '';
let best: { metric: string; value: number; step: number } | undefined;

async function webviewFrame(selector: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) if (await frame.$(selector).catch(() => null)) return frame;
    if (Date.now() > deadline) throw new Error(`no webview shows ${selector}`);
    await page.waitForTimeout(250);
  }
}

before(async () => {
  const tools = setupCodeServer();
  const vsix = packageVsix();
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-evalwt-'));
  const rows = (n: number, offset: number) => Array.from({ length: n }, (_, i) => {
    const a = (i + offset) % 10, b = (i * 7 + offset) % 10;
    return JSON.stringify({ messages: [{ role: 'user', content: `What is ${a} plus ${b}?` }, { role: 'assistant', content: `${a} + ${b} = ${a + b}\n#### ${a + b}` }] });
  }).join('\n') + '\n';
  fs.writeFileSync(path.join(workspace, 'add.jsonl'), rows(40, 0));
  fs.writeFileSync(path.join(workspace, 'add.golden.jsonl'), rows(6, 3));
  runDir = path.join(workspace, '.finetune', 'runs', 'run-em');
  const trained = spawnSync(process.execPath, [CLI, 'train', '--model', MODEL, '--data', path.join(workspace, 'add.jsonl'), '--out', runDir,
    '--golden', path.join(workspace, 'add.golden.jsonl'), '--eval-metric', 'exact-match', '--eval-generate-limit', '6', '--eval-max-new-tokens', '12',
    '--max-steps', '6', '--eval-every', '2', '--save-every', '2', '--batch-size', '8', '--lr', '2e-3', '--backend', 'cpu'], { encoding: 'utf8' });
  assert.equal(trained.status, 0, trained.stderr);
  best = (JSON.parse(fs.readFileSync(path.join(runDir, 'best', 'best.json'), 'utf8')) as typeof best);
  session = await launch({ tools, vsix, workspace });
  page = session.page;
});

after(async () => {
  await closeAllSessions();
});

test('the loss panel shows the exact-match chart from step 0 with the best evaluation marked', { timeout: 120_000 }, async () => {
  await openContainer(page, 'Finetune Studio');
  await contextMenu(page, treeItem(page, 'Runs', 'run-em'), 'Open Loss Curves');
  const frame = await webviewFrame('#chart-box-gen-exact_match');
  const box = frame.locator('#chart-box-gen-exact_match');
  await box.waitFor({ state: 'visible', timeout: 30_000 });
  assert.equal(await box.getAttribute('data-legend'), 'exact match');
  const marked = `★ best ${best!.metric}`;
  assert.ok((await box.getAttribute('data-best'))?.startsWith(marked), `exact-match chart marks ${marked}`);
  assert.match((await box.getAttribute('data-best')) ?? '', new RegExp(`\\(step ${best!.step}\\)$`));
  assert.ok((await frame.locator('#chart-box-loss').getAttribute('data-best'))?.startsWith(marked), 'the loss chart marks it too');
  assert.equal(await frame.locator('#chart-box-gen-bleu').isVisible(), false, 'no chart for a metric the run did not compute');
  // Four evaluations (0, 2, 4, 6) were drawn: eval points count every evaluation.
  assert.equal(await frame.locator('#charts').getAttribute('data-eval-points'), '4');
  await screenshot(page, 'webview-loss-exact-match');
});

test('the Checkpoints view shows the best evaluation first, with a star', { timeout: 60_000 }, async () => {
  const pane = viewPane(page, 'Checkpoints');
  const row = pane.locator('.monaco-list-row', { hasText: `★ best (step ${best!.step})` }).first();
  await row.waitFor({ timeout: 30_000 });
  const labels = await pane.locator('.monaco-list-row').allInnerTexts();
  const first = labels.findIndex((l) => l.includes('step'));
  assert.match(labels[first], /★ best/, `best first: ${labels.join(' | ')}`);
  assert.ok(await row.locator('.codicon-star-full').count() > 0, 'the star icon');
  await screenshot(page, 'checkpoints-best');
});
