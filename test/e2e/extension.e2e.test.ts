// The extension in a real VS Code (code-server + Chromium): install, views, Explorer context menu,
// the fine-tune wizard on the tiny model, a real training run to completion, checkpoints, dataset
// errors, Stop/Resume and Delete. Each step leaves a screenshot in test-output/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Page } from 'playwright-core';
import {
  contextMenu, contextMenuLabels, explorerItem, installExtension, launch, notification, openContainer, packageVsix, pickQuickItem,
  REPO_ROOT, runCommand, screenshot, setupCodeServer, treeItem, typeQuickInput, viewPane, type Session, closeAllSessions, contextMenuUntil,
} from './harness';

const SHARED = path.resolve(REPO_ROOT, '..', 'shared');
const TINY_MODEL = path.join(SHARED, 'models', 'tiny-gsm8k-base');
const GSM8K = path.join(SHARED, 'data', 'gsm8k', 'train.jsonl');

let tools = '';
let vsix = '';
let session: Session | undefined;
let page: Page;
let workspace = '';

function makeWorkspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-ws-'));
  const rows = fs.readFileSync(GSM8K, 'utf8').split('\n').slice(0, 30).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'gsm8k-30.jsonl'), rows);
  fs.writeFileSync(path.join(dir, 'broken.jsonl'), [
    '{"question": "1+1?", "answer": "#### 2"}',
    '{"question": "unterminated", ',
    '[1, 2, 3]',
    '{"question": "no answer here"}',
  ].join('\n') + '\n');
  fs.cpSync(TINY_MODEL, path.join(dir, 'tiny-gsm8k-base'), { recursive: true });
  for (const f of fs.readdirSync(path.join(dir, 'tiny-gsm8k-base'))) fs.chmodSync(path.join(dir, 'tiny-gsm8k-base', f), 0o644);
  return dir;
}

/** Polls a Runs row until its description matches `done`, recording every description seen on the way. */
async function watchRun(name: string, done: RegExp | ((description: string) => boolean), timeoutMs: number): Promise<string[]> {
  const matches = typeof done === 'function' ? done : (t: string) => done.test(t);
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  const row = treeItem(page, 'Runs', name);
  for (;;) {
    const text = (await row.count()) ? await row.locator('.label-description').innerText().catch(() => '') : '';
    if (text && seen[seen.length - 1] !== text) seen.push(text.replace(/\s+/g, ' '));
    if (matches(text)) return seen;
    if (Date.now() > deadline) throw new Error(`run ${name} did not reach ${done} in ${timeoutMs} ms; seen: ${seen.join(' | ')}`);
    await page.waitForTimeout(250);
  }
}

/** Error notifications currently shown (the extension reports failures this way). */
async function errorToasts(): Promise<number> {
  return page.locator('.notification-toast', { has: page.locator('.codicon-error') }).count();
}

/** The wizard from its first step: model → SFT → detected format → LoRA → CPU preset → edits → start. */
async function completeWizard(edits: Record<string, string>, shot: string): Promise<string> {
  await page.locator('.quick-input-widget input[placeholder*="Base model"]').waitFor({ timeout: 30_000 });
  await screenshot(page, `${shot}-1-model`);
  await pickQuickItem(page, 'tiny-gsm8k-base');
  await page.locator('.quick-input-widget input[placeholder*="Training method"]').waitFor();
  // Back returns to the model step, and forward again
  await page.locator('.quick-input-widget .quick-input-titlebar .action-label.codicon-quick-input-back').click();
  await page.locator('.quick-input-widget input[placeholder*="Base model"]').waitFor();
  await pickQuickItem(page, 'tiny-gsm8k-base');
  await page.locator('.quick-input-widget input[placeholder*="Training method"]').waitFor();
  await screenshot(page, `${shot}-2-method`);
  await pickQuickItem(page, 'Supervised fine-tuning');
  await page.locator('.quick-input-widget input[placeholder*="Detected prompt"]').waitFor();
  await screenshot(page, `${shot}-3-format`);
  await pickQuickItem(page, 'Use prompt → completion');
  await page.locator('.quick-input-widget input[placeholder*="What to train"]').waitFor();
  await pickQuickItem(page, 'LoRA adapter');
  await page.locator('.quick-input-widget input[placeholder*="Hardware preset"]').waitFor();
  await screenshot(page, `${shot}-4-preset`);
  await pickQuickItem(page, 'CPU (small)');
  for (const [field, value] of Object.entries(edits)) {
    await page.locator('.quick-input-widget input[placeholder*="Start, or pick a field"]').waitFor();
    await pickQuickItem(page, field);
    await page.locator('.quick-input-widget .quick-input-title', { hasText: field }).waitFor();
    await typeQuickInput(page, value);
  }
  await page.locator('.quick-input-widget input[placeholder*="Start, or pick a field"]').waitFor();
  const review = await page.locator('.quick-input-widget .quick-input-list').innerText();
  await screenshot(page, `${shot}-5-review`);
  const name = /Run name\s*\n?\s*(\S+)/.exec(review)?.[1];
  assert.ok(name, `run name in review: ${review}`);
  assert.match(review, /memory/, 'the review shows the estimate');
  await pickQuickItem(page, 'Start training');
  return name;
}

before(async () => {
  tools = setupCodeServer();
  vsix = packageVsix();
  workspace = makeWorkspace();
});

after(async () => {
  if (session && page) await screenshot(page, 'zz-final').catch(() => undefined);
  await closeAllSessions();
});

test('the VSIX installs into code-server', () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-install-'));
  const listed = installExtension(tools, vsix, path.join(data, 'ext'), path.join(data, 'data'));
  assert.match(listed, /finetune-studio\.finetune-studio@0\.1\.0/);
});

test('the Finetune Studio container shows Datasets, Runs and Checkpoints', { timeout: 120_000 }, async () => {
  session = await launch({ tools, vsix, workspace });
  page = session.page;
  await openContainer(page, 'Finetune Studio');
  for (const view of ['Datasets', 'Runs', 'Checkpoints']) await viewPane(page, view).waitFor({ timeout: 30_000 });
  await treeItem(page, 'Datasets', 'gsm8k-30.jsonl').waitFor({ timeout: 30_000 });
  await page.locator('.sidebar .pane', { hasText: 'No training runs yet' }).waitFor();
  await screenshot(page, '01-container');
  assert.ok(await treeItem(page, 'Datasets', 'gsm8k-30.jsonl').isVisible());
  // scanned in the background: wait for the result
  await treeItem(page, 'Datasets', /gsm8k-30\.jsonl\s*prompt → completion · 30 rows · valid/).waitFor({ timeout: 30_000 });
});

test('Check GPU says what training runs on (lavapipe is software: the CPU) and shows the report', { timeout: 120_000 }, async () => {
  await runCommand(page, 'Finetune Studio: Check GPU');
  // The packaged extension loads Dawn from dist/dawn; this machine's only adapter is Mesa lavapipe.
  const toast = notification(page, /Finetune Studio trains on the CPU \(wasm/);
  await toast.waitFor({ timeout: 90_000 });
  assert.match(await toast.innerText(), /No GPU backend works here/);
  await screenshot(page, '01b-check-gpu');
  await toast.locator('.monaco-button', { hasText: 'Show Report' }).click();
  const panel = page.locator('.part.panel');
  await panel.locator('.view-lines', { hasText: '[check gpu]' }).first().waitFor({ timeout: 30_000 });
  // the editor renders spaces as no-break spaces
  const text = (await panel.locator('.view-lines').first().innerText()).replace(/\u00a0/g, ' ');
  assert.match(text, /webgpu\s+WebGPU: [\s\S]*software/, text);
  assert.match(text, /auto \(the default\) uses: wasm/, text);
  // leave the layout as the later scenarios expect it
  await runCommand(page, 'View: Hide Panel');
  await panel.waitFor({ state: 'hidden', timeout: 15_000 });
});

test('a malformed JSONL shows its line errors, and a click opens the file at that line', { timeout: 60_000 }, async () => {
  const file = treeItem(page, 'Datasets', 'broken.jsonl');
  await treeItem(page, 'Datasets', /broken\.jsonl\s*prompt → completion · 4 rows · 3 problems/).waitFor({ timeout: 30_000 });
  if ((await file.getAttribute('aria-expanded')) !== 'true') await file.click();
  const issue = treeItem(page, 'Datasets', /^line 4: /);
  await issue.waitFor({ timeout: 15_000 });
  const texts = await viewPane(page, 'Datasets').locator('.monaco-list-row').allInnerTexts();
  const issues = texts.filter((t) => /^line \d+: /.test(t.trim()));
  assert.deepEqual(issues.map((t) => Number(/^line (\d+)/.exec(t.trim())![1])), [2, 3, 4]);
  await issue.click();
  await page.locator('.tab.active', { hasText: 'broken.jsonl' }).waitFor({ timeout: 15_000 });
  await page.locator('.statusbar-item', { hasText: /Ln 4, Col 1/ }).waitFor({ timeout: 15_000 });
  await screenshot(page, '02-dataset-errors');
  await page.keyboard.press('Control+K');
  await page.keyboard.press('W');
});

test('right-click on a .jsonl in the Explorer offers Fine-tune…', { timeout: 60_000 }, async () => {
  await page.locator('.activitybar .action-item [aria-label^="Explorer"]').first().click();
  const item = explorerItem(page, 'gsm8k-30.jsonl');
  await item.waitFor({ timeout: 30_000 });
  const labels = await contextMenuLabels(page, item);
  assert.ok(labels.includes('Fine-tune…'), labels.join(', '));
  const folder = explorerItem(page, 'tiny-gsm8k-base');
  assert.ok(!(await contextMenuLabels(page, folder)).includes('Fine-tune…'), 'not on folders');
});

let firstRun = '';

test('the wizard starts a tiny SFT run that progresses and completes', { timeout: 300_000 }, async () => {
  await contextMenu(page, explorerItem(page, 'gsm8k-30.jsonl'), 'Fine-tune…');
  firstRun = await completeWizard({ 'Gradient accumulation steps': '1', 'Max steps': '12', 'Held-out eval fraction': '0.2' }, '03-wizard');
  const toast = notification(page, `run ${firstRun} started`);
  await toast.waitFor({ timeout: 30_000 });
  await screenshot(page, '04-started');
  await toast.locator('.monaco-button', { hasText: 'Show run' }).click();
  await treeItem(page, 'Runs', firstRun).waitFor({ timeout: 30_000 });
  // Show run selects the new run in the Runs view
  await viewPane(page, 'Runs').locator('.monaco-list-row.selected', { hasText: firstRun }).waitFor({ timeout: 15_000 });
  const seen = await watchRun(firstRun, /completed/, 240_000);
  await screenshot(page, '05-completed');
  assert.ok(seen.some((t) => /^([1-9]|1[01])\/12 \(\d+%\) · ETA \d+/.test(t)), `progress and ETA were shown: ${seen.join(' | ')}`);
  assert.match(seen[seen.length - 1], /completed · loss \d+\.\d{4}/);
  const runDir = path.join(workspace, '.finetune', 'runs', firstRun);
  assert.ok(fs.existsSync(path.join(runDir, 'adapter', 'adapter_model.safetensors')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')).status, 'completed');
  assert.equal(await errorToasts(), 0, 'no error notification');
});

test('the completed run’s checkpoints appear with their step', { timeout: 60_000 }, async () => {
  const runRow = treeItem(page, 'Checkpoints', firstRun);
  await runRow.waitFor({ timeout: 30_000 });
  await treeItem(page, 'Checkpoints', /^step 12/).waitFor({ timeout: 15_000 });
  // the held-out split was evaluated at the end: the checkpoint shows its eval loss
  assert.match(await treeItem(page, 'Checkpoints', /^step 12/).innerText(), /eval loss \d+\.\d{4}/);
  await treeItem(page, 'Checkpoints', /adapter \(final, step 12\)/).waitFor();
  await screenshot(page, '06-checkpoints');
  const labels = await contextMenuLabels(page, treeItem(page, 'Checkpoints', /^step 12/));
  assert.ok(labels.includes('Copy Checkpoint Path') && labels.includes('Open Playground'), labels.join(', '));
});

test('Open Loss Curves on a run opens the loss panel', { timeout: 60_000 }, async () => {
  await contextMenu(page, treeItem(page, 'Runs', firstRun), 'Open Loss Curves');
  await page.locator('.tab', { hasText: 'Loss' }).first().waitFor({ timeout: 30_000 });
  await page.locator('iframe.webview').first().waitFor({ state: 'attached', timeout: 30_000 });
  // the panel charts the run's 12 logged steps, which it got from the host (PanelHost.readRunEvents)
  const deadline = Date.now() + 30_000;
  let charted = false;
  while (!charted && Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.$('#charts[data-train-points="12"]').catch(() => null)) charted = true;
    }
    if (!charted) await page.waitForTimeout(250);
  }
  assert.ok(charted, 'the loss panel shows the 12 training steps');
  await screenshot(page, '06b-loss-panel');
  await page.locator('.tab', { hasText: 'Loss' }).first().locator('.codicon-close').click();
  await page.locator('.tab', { hasText: 'Loss' }).first().waitFor({ state: 'detached', timeout: 15_000 });
});

test('Stop leaves a running run stopped and resumable; Resume continues; Delete asks first', { timeout: 300_000 }, async () => {
  await runCommand(page, 'Finetune Studio: Fine-tune…');
  await page.locator('.quick-input-widget input[placeholder*="Dataset to fine-tune on"]').waitFor({ timeout: 15_000 });
  await pickQuickItem(page, 'gsm8k-30.jsonl');
  // a second run in the same minute gets a unique name: rename it to tell the two apart
  const name = await completeWizard({ 'Gradient accumulation steps': '1', 'Max steps': '200', 'Run name': 'long-run' }, '07-wizard');
  assert.equal(name, 'long-run');
  await treeItem(page, 'Runs', 'long-run').waitFor({ timeout: 30_000 });
  await watchRun('long-run', /^[1-9]\d*\/200 \(/, 120_000);
  await screenshot(page, '08-running');
  assert.match(await page.locator('.statusbar-item', { hasText: 'long-run' }).innerText(), /long-run \d+%/);
  const runningMenu = await contextMenuLabels(page, treeItem(page, 'Runs', 'long-run'));
  assert.ok(runningMenu.includes('Stop Run') && !runningMenu.includes('Resume Run'), runningMenu.join(', '));
  await contextMenu(page, treeItem(page, 'Runs', 'long-run'), 'Stop Run');
  const seen = await watchRun('long-run', /stopped/, 120_000);
  await screenshot(page, '09-stopped');
  assert.match(seen[seen.length - 1], /stopped · step \d+\/200/);
  const stoppedMenu = await contextMenuLabels(page, treeItem(page, 'Runs', 'long-run'));
  assert.ok(stoppedMenu.includes('Resume Run') && !stoppedMenu.includes('Stop Run'), stoppedMenu.join(', '));
  assert.equal(JSON.parse(fs.readFileSync(path.join(workspace, '.finetune', 'runs', 'long-run', 'status.json'), 'utf8')).status, 'stopped');
  // the stop saved a checkpoint to resume from
  const runDir = path.join(workspace, '.finetune', 'runs', 'long-run');
  assert.ok(fs.readdirSync(path.join(runDir, 'checkpoints')).some((d) => /^step-\d+$/.test(d)));
  await treeItem(page, 'Checkpoints', 'long-run').waitFor({ timeout: 15_000 });
  const stoppedAt = Number(/step (\d+)\/200/.exec(seen[seen.length - 1])![1]);

  // Resume continues from the checkpoint: the step count goes on past where it stopped
  await contextMenu(page, treeItem(page, 'Runs', 'long-run'), 'Resume Run');
  const stepOf = (t: string): number => Number(/^(\d+)\/200 \(/.exec(t)?.[1] ?? -1);
  const resumed = await watchRun('long-run', (t) => stepOf(t) > stoppedAt, 120_000);
  const stepsAfterResume = resumed.map(stepOf).filter((s) => s >= 0);
  assert.ok(stepsAfterResume.every((s) => s >= stoppedAt), `resumed from step ${stoppedAt}, not from 0: ${resumed.join(' | ')}`);
  await screenshot(page, '09b-resumed');

  // the run is training again, so its row re-renders every step: retry a menu pick that got lost
  const dialog = page.locator('.monaco-dialog-box', { hasText: 'Delete run long-run?' });
  await contextMenuUntil(page, treeItem(page, 'Runs', 'long-run'), 'Delete Run…', dialog);
  await screenshot(page, '10-delete-confirm');
  await dialog.locator('.monaco-button', { hasText: 'Delete' }).first().click();
  await treeItem(page, 'Runs', 'long-run').waitFor({ state: 'detached', timeout: 15_000 });
  assert.equal(fs.existsSync(runDir), false);
  assert.ok(await treeItem(page, 'Runs', firstRun).isVisible(), 'the other run is untouched');
  assert.equal(await errorToasts(), 0, 'no error notification');
  await screenshot(page, '11-after-delete');
  await session?.close();
  session = undefined;
});

test('in Restricted Mode the views explain why training is disabled', { timeout: 120_000 }, async () => {
  session = await launch({ tools, vsix, workspace: makeWorkspace(), trusted: false });
  page = session.page;
  // VS Code asks whether to trust the folder: decline
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 30_000 });
  await dialog.locator('.monaco-button', { hasText: /No, I don.t trust/ }).click();
  await page.locator('.statusbar-item, .workspace-trust-restricted-mode, [aria-label*="Restricted Mode"]', { hasText: /Restricted Mode/ }).first().waitFor({ timeout: 30_000 });
  await openContainer(page, 'Finetune Studio');
  await page.locator('.sidebar .pane', { hasText: 'Training is disabled in Restricted Mode' }).waitFor({ timeout: 30_000 });
  await treeItem(page, 'Datasets', 'gsm8k-30.jsonl').waitFor({ timeout: 30_000 });
  await runCommand(page, 'Finetune Studio: Fine-tune…');
  await notification(page, /training is disabled in Restricted Mode/).waitFor({ timeout: 15_000 });
  await screenshot(page, '12-restricted-mode');
  assert.equal(fs.existsSync(path.join(session.workspace, '.finetune')), false, 'nothing was started');
});
