// The two webviews in a real VS Code (code-server + Chromium): the loss panel charting a finished run,
// updating live while a tiny run trains, and overlaying two runs; the playground streaming answers of
// the tiny base model and of a checkpoint side by side (greedy output equal to `ftune generate`), and
// the golden set reporting an accuracy. Screenshots of both panels in a real dark theme and in a light
// theme (both picked through Preferences: Color Theme) go to test-output/e2e/ (webview-*-dark/light.png);
// the ones taken along the way, in code-server's default theme, have no theme suffix.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Frame, Page } from 'playwright-core';
import { contextMenu, launch, openContainer, packageVsix, pickColorTheme, REPO_ROOT, runCommand, screenshot, setupCodeServer, treeItem, viewPane, type Session, closeAllSessions } from './harness';

const SHARED = [process.env.FTUNE_SHARED, path.join(REPO_ROOT, 'shared'), path.join(REPO_ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'models'))) ?? path.join(REPO_ROOT, '..', 'shared');
const TINY_MODEL = path.join(SHARED, 'models', 'tiny-gsm8k-base');
const GSM8K_TEST = path.join(SHARED, 'data', 'gsm8k', 'test.jsonl');
const CLI = path.join(REPO_ROOT, 'bin', 'ftune.js');
const PROMPT = 'Tom has 3 apples and buys 4 more. How many apples does he have?';

let session: Session | undefined;
let page: Page;
let workspace = '';
let runsDir = '';
let model = '';
let liveTrainer: ChildProcess | undefined;

/** Short single-digit additions: examples of ~30 tokens keep a CPU step well under a second. */
function writeAdditionData(file: string, count: number): void {
  const rows = Array.from({ length: count }, (_, i) => {
    const a = i % 10;
    const b = (i * 7) % 10;
    return JSON.stringify({ prompt: `What is ${a} + ${b}?\n`, completion: `${a} + ${b} = ${a + b}\n#### ${a + b}` });
  });
  fs.writeFileSync(file, rows.join('\n') + '\n');
}

function trainArgs(out: string, data: string, steps: number, extra: string[] = []): string[] {
  return [
    CLI, 'train', '--model', model, '--data', data, '--out', out, '--max-steps', String(steps), '--batch-size', '4',
    '--eval-split', '0.2', '--eval-every', '2', '--save-every', '4', '--lr', '0.01', '--backend', 'cpu', ...extra,
  ];
}

/** The content frame of the webview that contains `selector` (webviews are nested iframes). */
async function webviewFrame(selector: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      if (await frame.$(selector).catch(() => null)) return frame;
    }
    if (Date.now() > deadline) throw new Error(`no webview shows ${selector}`);
    await page.waitForTimeout(250);
  }
}

/** How many distinct colours a canvas has in a sample of its pixels: a blank canvas has one. */
async function canvasColours(frame: Frame, selector: string): Promise<number> {
  return frame.evaluate((sel) => {
    const canvas = document.querySelector(sel) as HTMLCanvasElement;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += 4 * 7) colours.add((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]);
    return colours.size;
  }, selector);
}

async function datasetNumber(frame: Frame, selector: string, key: string): Promise<number> {
  return Number(await frame.locator(selector).getAttribute(`data-${key}`));
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(250);
  }
}

/**
 * Types a path into VS Code's (simple, web) open dialog and accepts it. The dialog checks what is
 * typed asynchronously, so Enter waits until the typed path is settled in the box.
 */
async function chooseInFileDialog(file: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 30_000 });
  await input.click();
  await input.fill(file);
  await waitFor('the typed path', async () => (await input.inputValue()) === file, 10_000);
  await page.waitForTimeout(500);
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 15_000 });
}

function cliGenerate(messages: { role: string; content: string }[], adapter?: string): string {
  const args = [CLI, 'generate', '--model', model, '--messages', JSON.stringify(messages), '--greedy', '--json', '--max-new-tokens', '24', '--backend', 'cpu'];
  if (adapter) args.push('--adapter', adapter);
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return (JSON.parse(result.stdout.split('\n').find((l) => l.startsWith('{')) as string) as { text: string }).text;
}

before(async () => {
  const tools = setupCodeServer();
  const vsix = packageVsix();
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-webviews-'));
  model = path.join(workspace, 'tiny-gsm8k-base');
  fs.cpSync(TINY_MODEL, model, { recursive: true });
  for (const f of fs.readdirSync(model)) fs.chmodSync(path.join(model, f), 0o644);
  writeAdditionData(path.join(workspace, 'additions.jsonl'), 40);
  fs.writeFileSync(path.join(workspace, 'golden.jsonl'), fs.readFileSync(GSM8K_TEST, 'utf8').split('\n').slice(0, 5).join('\n') + '\n');
  runsDir = path.join(workspace, '.finetune', 'runs');
  fs.mkdirSync(runsDir, { recursive: true });
  // a finished run trained by the CLI: the panels read runs from their folders, whoever trained them
  const done = spawnSync(process.execPath, trainArgs(path.join(runsDir, 'run-a'), path.join(workspace, 'additions.jsonl'), 8), { encoding: 'utf8' });
  assert.equal(done.status, 0, done.stderr);
  session = await launch({ tools, vsix, workspace });
  page = session.page;
});

after(async () => {
  if (liveTrainer && liveTrainer.exitCode === null) liveTrainer.kill('SIGKILL');
  await closeAllSessions();
});

test('the loss panel charts a finished run: train, smoothed and eval series, hyper-parameters', { timeout: 120_000 }, async () => {
  await openContainer(page, 'Finetune Studio');
  await contextMenu(page, treeItem(page, 'Runs', 'run-a'), 'Open Loss Curves');
  const frame = await webviewFrame('#charts[data-train-points]');
  await waitFor('8 train points', async () => (await datasetNumber(frame, '#charts', 'train-points')) === 8, 30_000);
  assert.equal(await datasetNumber(frame, '#charts', 'eval-points'), 4);
  assert.equal(await datasetNumber(frame, '#charts', 'runs'), 1);
  assert.equal(await frame.locator('#chart-box-loss').getAttribute('data-legend'), 'train | train (smoothed) | eval');
  assert.ok((await canvasColours(frame, '#chart-loss')) > 3, 'the loss chart is drawn');
  assert.ok((await canvasColours(frame, '#chart-lr')) > 3, 'the learning-rate chart is drawn');
  const table = await frame.locator('#hparam-table').innerText();
  assert.match(table, /lr\s+0\.01/);
  assert.match(table, /max_steps\s+8/);
  assert.match(await frame.locator('#runs').innerText(), /run-a · done · step 8\/8/);
  await screenshot(page, 'webview-loss');

  // exports go through the host's save dialog
  const csvFile = path.join(workspace, 'run-a-metrics.csv');
  await frame.locator('#export-csv').click();
  await chooseInFileDialog(csvFile);
  await waitFor('the CSV', async () => fs.existsSync(csvFile) && fs.statSync(csvFile).size > 0, 15_000); // the save creates the file, then writes it
  const rows = fs.readFileSync(csvFile, 'utf8').trimEnd().split('\n');
  assert.match(rows[0], /^run,step,epoch,tokens_seen,loss,loss_smoothed,lr,grad_norm,tokens_per_second,elapsed,eval_loss,perplexity$/);
  assert.deepEqual(rows.slice(1).map((r) => r.split(',')[1]), ['1', '2', '3', '4', '5', '6', '7', '8']);
  await waitFor('the saved message', async () => (await frame.locator('#status').innerText()).includes('run-a-metrics.csv'), 15_000);
  const pngFile = path.join(workspace, 'run-a-loss.png');
  await frame.locator('#export-png').click();
  await chooseInFileDialog(pngFile);
  await waitFor('the PNG', async () => fs.existsSync(pngFile) && fs.statSync(pngFile).size > 0, 15_000);
  assert.deepEqual([...fs.readFileSync(pngFile).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
});

test('the loss panel follows a run while it trains', { timeout: 240_000 }, async () => {
  const out = path.join(runsDir, 'live-run');
  liveTrainer = spawn(process.execPath, trainArgs(out, path.join(workspace, 'additions.jsonl'), 60), { stdio: 'ignore' });
  const metrics = path.join(out, 'metrics.jsonl');
  await waitFor('the first step', async () => fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').includes('"type":"step"'), 120_000);
  await treeItem(page, 'Runs', 'live-run').waitFor({ timeout: 30_000 });
  await contextMenu(page, treeItem(page, 'Runs', 'live-run'), 'Open Loss Curves');
  await page.locator('.tab.active', { hasText: 'live-run' }).waitFor({ timeout: 30_000 });
  const frame = await webviewFrame('#charts[data-train-points]:not([data-train-points="0"])');
  // the panel's own copy of the run grows step by step, and the canvas is redrawn with it
  const seen: number[] = [];
  const pictures = new Set<string>();
  await waitFor('three updates', async () => {
    const points = await datasetNumber(frame, '#charts', 'train-points');
    if (seen[seen.length - 1] !== points) {
      seen.push(points);
      pictures.add(await frame.evaluate(() => (document.querySelector('#chart-loss') as HTMLCanvasElement).toDataURL()));
    }
    return seen.length >= 4;
  }, 180_000);
  assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]), `points only grow: ${seen.join(', ')}`);
  assert.equal(pictures.size, seen.length, 'each update redraws the chart');
  const onDisk = fs.readFileSync(metrics, 'utf8').split('\n').filter((l) => l.includes('"type":"step"')).length;
  assert.ok(seen[seen.length - 1] <= onDisk, 'never more points than the trainer wrote');
  await screenshot(page, 'webview-loss-live');
  liveTrainer.kill('SIGTERM');
  await new Promise((resolve) => liveTrainer!.once('exit', resolve));
});

test('Compare Runs overlays two runs with both legends and a hyper-parameter diff', { timeout: 120_000 }, async () => {
  // multi-select in the Runs view, then its context menu
  if (!(await viewPane(page, 'Runs').isVisible())) await openContainer(page, 'Finetune Studio');
  await treeItem(page, 'Runs', 'run-a').click();
  await treeItem(page, 'Runs', 'live-run').click({ modifiers: ['Control'] });
  await contextMenu(page, treeItem(page, 'Runs', 'live-run'), 'Compare Runs…');
  const picker = page.locator('.quick-input-widget input[placeholder*="Runs to compare"]');
  const compareTab = page.locator('.tab', { hasText: 'Compare' });
  await waitFor('the compare panel or the run picker', async () => (await compareTab.count()) > 0 || (await picker.isVisible()), 30_000);
  if ((await compareTab.count()) === 0) {
    // the view passed fewer than two runs: the command asks, with the selection preselected
    for (const name of ['run-a', 'live-run']) {
      const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: name }).first();
      if ((await row.getAttribute('aria-checked')) !== 'true') await row.click();
    }
    await page.keyboard.press('Enter');
  }
  const frame = await webviewFrame('#charts[data-runs="2"]');
  const legend = (await frame.locator('#chart-box-loss').getAttribute('data-legend')) ?? '';
  for (const name of ['run-a', 'live-run']) {
    for (const series of ['train', 'train (smoothed)', 'eval']) assert.ok(legend.includes(`${name} · ${series}`), `${name} · ${series} in ${legend}`);
  }
  const headers = await frame.locator('#hparam-table th').allInnerTexts();
  assert.deepEqual(headers.slice(1).sort(), ['live-run', 'run-a']);
  const differing = await frame.locator('#hparam-table tr.differs td.key').allInnerTexts();
  assert.ok(differing.includes('max_steps'), `max_steps differs: ${differing.join(', ')}`);
  assert.ok(!differing.includes('lr'), 'same lr is not highlighted');
  await screenshot(page, 'webview-compare');
});

let playground: Frame;

test('the playground streams the base model and the checkpoint side by side, equal to ftune generate', { timeout: 180_000 }, async () => {
  if (!(await viewPane(page, 'Runs').isVisible())) await openContainer(page, 'Finetune Studio');
  await contextMenu(page, treeItem(page, 'Runs', 'run-a'), 'Open Playground');
  playground = await webviewFrame('#columns .column');
  await waitFor('two columns', async () => (await playground.locator('#columns .column').count()) === 2, 30_000);
  await playground.locator('#max-new-tokens input').fill('24');
  await playground.locator('#prompt textarea').fill(PROMPT);
  await playground.locator('#send').click();
  await waitFor('both answers', async () => {
    const states = await playground.locator('#columns .column').evaluateAll((cols) => cols.map((c) => (c as HTMLElement).dataset.status));
    return states.every((s) => s === 'done');
  }, 120_000);
  const columns = playground.locator('#columns .column');
  const texts = await columns.locator('pre.turn.assistant').evaluateAll((pres) => pres.map((p) => p.textContent ?? ''));
  assert.equal(texts.length, 2);
  const adapter = openedAdapter();
  assert.equal(texts[0], cliGenerate([{ role: 'user', content: PROMPT }]), 'base column = ftune generate --greedy');
  assert.equal(texts[1], cliGenerate([{ role: 'user', content: PROMPT }], adapter), 'checkpoint column = ftune generate --greedy --adapter');
  for (const stats of await columns.locator('.stats').allInnerTexts()) assert.match(stats, /^\d+ tokens · \d+(\.\d)? tok\/s$/);
  await screenshot(page, 'webview-playground');
});

/** Open Playground on a run opens its best evaluation's adapter when it kept one (best/), else its final adapter. */
function openedAdapter(): string {
  const best = path.join(runsDir, 'run-a', 'best');
  return fs.existsSync(best) ? best : path.join(runsDir, 'run-a', 'adapter');
}

test('the golden set reports an exact-match accuracy per column', { timeout: 240_000 }, async () => {
  await playground.locator('#golden-count input').fill('3');
  await playground.locator('#pick-golden').click();
  await chooseInFileDialog(path.join(workspace, 'golden.jsonl'));
  await waitFor('the golden file', async () => (await playground.locator('#golden-file').innerText()).endsWith('golden.jsonl'), 30_000);
  await playground.locator('#run-golden').click();
  await waitFor('both accuracies', async () => (await playground.locator('.accuracy[data-done="true"]').count()) === 2, 200_000);
  for (const accuracy of await playground.locator('.accuracy').all()) {
    assert.equal(await accuracy.getAttribute('data-scored'), '3');
    assert.match(await accuracy.innerText(), /^Golden set: \d\/3 = \d+% exact match$/);
  }
  assert.equal(await playground.locator('.example-row').count(), 6);
  await playground.locator('#columns .column').nth(1).locator('.example-row').first().click();
  const detail = await playground.locator('.example-detail').innerText();
  assert.match(detail, /Question #1/);
  assert.match(detail, /expected 18 · got /, 'GSM8K test #1 answers 18');
  await screenshot(page, 'webview-golden');
});

test('after a window reload the panels come back with their runs, columns and transcript', { timeout: 120_000 }, async () => {
  // through VS Code's own lifecycle (a raw page reload in the browser may skip the final state save)
  const reloaded = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 60_000 });
  await runCommand(page, 'Developer: Reload Window');
  await reloaded;
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  playground = await webviewFrame('#columns .column');
  await waitFor('the restored columns', async () => (await playground.locator('#columns .column').count()) === 2, 30_000);
  const selected = await playground.locator('.model-select').evaluateAll((els) => els.map((e) => (e as HTMLElement & { value: string }).value));
  assert.deepEqual(selected.map((v) => JSON.parse(v) as [string, string | null]), [[model, null], [model, openedAdapter()]]);
  assert.equal((await playground.locator('pre.turn.user').allInnerTexts())[0], PROMPT);
  assert.equal(await playground.locator('.accuracy[data-done="true"]').count(), 2, 'golden results survive');
  await page.locator('.tab', { hasText: 'Compare' }).first().click();
  await webviewFrame('#charts[data-runs="2"][data-train-points]:not([data-train-points="0"])');
});

/** Shows the playground, the compare panel and run-a's loss panel in `theme`, each one screenshotted. */
async function screenshotPanelsIn(theme: 'dark' | 'light'): Promise<void> {
  const bodyClass = `vscode-${theme}`;
  const shows = async (frame: Frame) => (await frame.evaluate(() => document.body.className)).includes(bodyClass);
  await page.locator('.tab', { hasText: 'Playground' }).first().click();
  playground = await webviewFrame('#columns .column');
  await waitFor(`${theme} playground`, () => shows(playground), 30_000);
  await page.waitForTimeout(500);
  await screenshot(page, `webview-playground-${theme}`);
  await page.locator('.tab', { hasText: 'Compare' }).first().click();
  const frame = await webviewFrame('#charts[data-runs="2"]');
  await waitFor(`${theme} compare panel`, () => shows(frame), 30_000);
  await page.waitForTimeout(500);
  assert.ok((await canvasColours(frame, '#chart-loss')) > 3);
  await screenshot(page, `webview-compare-${theme}`);
  await page.locator('.tab', { hasText: 'Loss · run-a' }).first().click();
  const single = await webviewFrame('#charts[data-runs="1"][data-train-points="8"]');
  await waitFor(`${theme} single-run panel`, () => shows(single), 30_000);
  await page.waitForTimeout(500);
  assert.ok((await canvasColours(single, '#chart-loss')) > 3);
  await screenshot(page, `webview-loss-${theme}`);
}

test('both panels follow a dark theme', { timeout: 120_000 }, async () => {
  // picked the way a user does; pickColorTheme returns once the workbench background is really dark
  await pickColorTheme(page, 'Dark Modern', true);
  await screenshotPanelsIn('dark');
});

test('both panels follow a light theme', { timeout: 120_000 }, async () => {
  await pickColorTheme(page, 'Light Modern', false);
  await screenshotPanelsIn('light');
});
