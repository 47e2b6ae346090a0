// Export… on a checkpoint in a real VS Code (code-server + Chromium): a finished 2-step run is trained
// by the CLI into the workspace's runs folder before code-server starts (the run store reads it back
// from run_config.json + metrics.jsonl), then Checkpoints → step 1 → Export… → Merged Hugging Face
// folder → default folder → "Exported to" notification, and the folder holds a transformers model.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  contextMenu, launch, notification, openContainer, packageVsix, pickQuickItem, REPO_ROOT, screenshot, setupCodeServer, treeItem, type Session, closeAllSessions,
} from './harness';

const SHARED = path.resolve(REPO_ROOT, '..', 'shared');
const TINY_MODEL = path.join(SHARED, 'models', 'tiny-gsm8k-base');
const GSM8K = path.join(SHARED, 'data', 'gsm8k', 'train.jsonl');

let tools = '';
let vsix = '';
let workspace = '';
let runDir = '';
let session: Session | undefined;

before(() => {
  tools = setupCodeServer();
  vsix = packageVsix();
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-export-ws-'));
  const data = path.join(workspace, 'gsm8k-8.jsonl');
  fs.writeFileSync(data, fs.readFileSync(GSM8K, 'utf8').split('\n').slice(0, 8).join('\n') + '\n');
  runDir = path.join(workspace, '.finetune', 'runs', 'export-me');
  execFileSync(process.execPath, [
    path.join(REPO_ROOT, 'bin', 'ftune.js'), 'train', '--model', TINY_MODEL, '--data', data, '--field', 'prompt=question', '--field', 'completion=answer',
    '--out', runDir, '--max-steps', '2', '--save-every', '1', '--batch-size', '2', '--max-length', '128', '--backend', 'cpu',
  ], { stdio: 'pipe', timeout: 60_000 });
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'step-1', 'adapter_config.json')), 'the CLI wrote checkpoint step 1');
});

after(async () => {
  await closeAllSessions();
});

test('Export… on a checkpoint writes a merged Hugging Face folder', { timeout: 60_000 }, async () => {
  session = await launch({ tools, vsix, workspace });
  const page = session.page;
  await openContainer(page, 'Finetune Studio');
  const step1 = treeItem(page, 'Checkpoints', /^step 1/);
  await step1.waitFor({ timeout: 20_000 });

  // the menu entry, on camera, then chosen the way a user does
  await step1.click({ button: 'right' });
  await page.locator('.monaco-menu .action-item .action-label', { hasText: 'Export…' }).first().waitFor({ timeout: 15_000 });
  await screenshot(page, 'export-00-context-menu');
  await page.keyboard.press('Escape');
  await contextMenu(page, step1, 'Export…');
  await page.locator('.quick-input-widget input[placeholder*="Export step 1 of export-me"]').waitFor({ timeout: 10_000 });
  const rows = await page.locator('.quick-input-widget .quick-input-list').innerText();
  for (const label of ['PEFT adapter', 'Merged Hugging Face folder', 'GGUF f16', 'GGUF q8_0 + Ollama Modelfile', 'TRL + Accelerate + Axolotl project']) {
    assert.ok(rows.includes(label), `target "${label}" offered: ${rows}`);
  }
  await screenshot(page, 'export-01-targets');
  await pickQuickItem(page, 'Merged Hugging Face folder');

  const expected = path.join(runDir, 'exports', 'merged-step-1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Export Merged Hugging Face folder' }).waitFor({ timeout: 10_000 });
  assert.equal(await input.inputValue(), expected, 'the default output folder');
  await page.keyboard.press('Enter');

  const toast = notification(page, 'Exported to');
  await toast.waitFor({ timeout: 30_000 });
  assert.match(await toast.innerText(), /merged-step-1/);
  assert.ok((await toast.innerText()).includes('Reveal') && (await toast.innerText()).includes('Copy Path'), 'Reveal and Copy Path actions');
  // the toast slides in: wait until its action buttons are on screen before the screenshot
  await toast.locator('.monaco-button', { hasText: 'Copy Path' }).waitFor({ state: 'visible' });
  await page.waitForTimeout(400);
  await screenshot(page, 'export-02-merged-done');

  for (const file of ['config.json', 'model.safetensors']) assert.ok(fs.existsSync(path.join(expected, file)), `${file} in ${expected}`);
  // a real fused model, not an empty file: at least the tiny base's parameter bytes in bf16
  assert.ok(fs.statSync(path.join(expected, 'model.safetensors')).size > 100_000);
  // --run passed: the run's chat template went into the export
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(expected, 'tokenizer_config.json'), 'utf8')) as { chat_template?: string };
  const runTemplate = fs.readFileSync(path.join(runDir, 'chat_template.jinja'), 'utf8');
  assert.equal(tokenizerConfig.chat_template, runTemplate, 'the run chat template is exported');
});
