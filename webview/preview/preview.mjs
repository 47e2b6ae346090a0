// Renders the built webviews in headless Chromium outside VS Code, with a fake host that replays
// synthetic messages, and writes screenshots: a quick visual check of layout and theming while
// developing (the end-to-end tests check the real thing inside code-server).
//   node webview/preview/preview.mjs [outDir]     (after `node webview/build.mjs`)

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { THEMES } from './themes.mjs';

// the real HTML shell (CSP with nonce), compiled by `npx tsc -p .`
const { webviewHtml } = createRequire(import.meta.url)('../../out/src/extension/panels/webviewHtml.js');

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.resolve(process.argv[2] ?? path.join(repo, 'test-output', 'preview'));

function syntheticRun(seed, { lr, overfitAfter }) {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const events = [{ type: 'started', run_id: `run-${seed}`, method: 'sft', model: '/models/tiny', backend: 'cpu', total_steps: 200, examples: 800, skipped: 0, trainable_parameters: 73728, config: {}, resumed_from_step: 0, time: '2026-11-24T00:00:00Z' }];
  for (let step = 1; step <= 200; step++) {
    const loss = 2.4 * Math.exp(-step / (60 / (lr * 1000))) + 0.5 + (rand() - 0.5) * 0.25;
    events.push({ type: 'step', step, total_steps: 200, epoch: step / 50, loss, lr: lr * Math.min(1, step / 10) * (1 - step / 220), grad_norm: 0.6 + rand() * 0.5, tokens_per_second: 900 + rand() * 120, tokens_seen: step * 512, elapsed: step * 0.55 });
    if (step % 20 === 0) {
      const evalLoss = step <= overfitAfter ? 2.6 * Math.exp(-step / 70) + 0.8 : 2.6 * Math.exp(-overfitAfter / 70) + 0.8 + (step - overfitAfter) * 0.004;
      events.push({ type: 'eval', step, eval_loss: evalLoss, perplexity: Math.exp(evalLoss) });
    }
  }
  events.push({ type: 'done', step: 200, adapter_path: '/runs/x/adapter', elapsed: 110 });
  return events;
}

const baseConfig = { method: 'sft', model: '/work/shared/models/tiny-gsm8k-base', data: 'gsm8k/train.jsonl', epochs: 4, max_steps: 0, lr: 2e-3, batch_size: 8, grad_accum: 1, lora_r: 16, lora_alpha: 32, lora_dropout: 0.05, lora_targets: 'all-linear', schedule: 'linear', weight_decay: 0, seed: 42, fields: { prompt: 'question', completion: 'answer' } };

const lossInit = {
  type: 'init',
  overfit_patience: 3,
  runs: [
    { run_dir: '/runs/lora-r16', label: 'lora-r16', config: { ...baseConfig, out: '/runs/lora-r16' }, events: syntheticRun(7, { lr: 2e-3, overfitAfter: 100 }) },
    { run_dir: '/runs/lora-r8-lowlr', label: 'lora-r8-lowlr', config: { ...baseConfig, out: '/runs/lora-r8-lowlr', lora_r: 8, lr: 5e-4, weight_decay: 0.1 }, events: syntheticRun(11, { lr: 5e-4, overfitAfter: 1000 }) },
  ],
};

const choices = [{ model: '/work/shared/models/tiny-gsm8k-base', label: 'tiny-gsm8k-base', adapters: [{ path: '/runs/lora-r16/adapter', label: 'lora-r16 (final)' }, { path: '/runs/lora-r16/checkpoints/step-100', label: 'lora-r16 step 100' }] }];

/** Serves the repository on loopback so the pages load like in VS Code: over http, under the real CSP. */
function serveRepo() {
  const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/page/')) {
      const [, , panel] = url.pathname.split('/');
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(webviewHtml({ title: panel, cspSource: origin, scriptUri: `${origin}/media/build/${panel}.js`, styleUri: `${origin}/media/build/webview.css` }));
      return;
    }
    const file = path.join(repo, path.normalize(url.pathname));
    if (!file.startsWith(path.join(repo, 'media', 'build')) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    res.end(fs.readFileSync(file));
  });
  let origin = '';
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    origin = `http://127.0.0.1:${server.address().port}`;
    resolve({ origin, close: () => server.close() });
  }));
}

/** What VS Code provides inside a webview: acquireVsCodeApi and the theme's CSS variables on <html>. */
function fakeVsCode(theme) {
  return `
    Error.stackTraceLimit = 60;
    window.__posted = [];
    window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__posted.push(m), getState: () => window.__state, setState: (s) => { window.__state = s; } });
    document.addEventListener('DOMContentLoaded', () => {
      for (const [k, v] of Object.entries(${JSON.stringify(THEMES[theme].vars)})) document.documentElement.style.setProperty(k, v);
      document.body.classList.add(${JSON.stringify(THEMES[theme].bodyClass)});
    }, { once: true });
  `;
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const server = await serveRepo();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  try {
    for (const theme of Object.keys(THEMES)) {
      const context = await browser.newContext({ viewport: { width: 1200, height: 1000 }, deviceScaleFactor: 1 });
      await context.addInitScript(fakeVsCode(theme));
      const p = await context.newPage();
      const errors = [];
      p.on('pageerror', (e) => errors.push(String(e.stack ?? e)));
      p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

      await p.goto(`${server.origin}/page/lossPanel`);
      await p.evaluate((msg) => window.postMessage(msg, '*'), lossInit);
      await p.waitForTimeout(500);
      await p.screenshot({ path: path.join(outDir, `loss-${theme}.png`), fullPage: true });
      if (theme === 'dark') {
        // interactions: drag-to-zoom on the loss chart, hover tooltip, exports
        const box = await p.locator('#chart-loss').boundingBox();
        await p.mouse.move(box.x + box.width * 0.45, box.y + 60);
        await p.mouse.down();
        await p.mouse.move(box.x + box.width * 0.6, box.y + 80, { steps: 5 });
        await p.mouse.move(box.x + box.width * 0.8, box.y + 80, { steps: 5 });
        await p.screenshot({ path: path.join(outDir, `loss-${theme}-dragging.png`), clip: { x: 0, y: 0, width: 1200, height: 520 } });
        await p.mouse.up();
        await p.mouse.move(box.x + box.width * 0.6, box.y + 150);
        await p.waitForTimeout(200);
        const state = await p.evaluate(() => window.__state);
        console.log('zoom range', JSON.stringify(state.range));
        await p.screenshot({ path: path.join(outDir, `loss-${theme}-zoomed.png`), clip: { x: 0, y: 0, width: 1200, height: 520 } });
        await p.locator('#export-png').click();
        await p.locator('#export-csv').click();
        const exports = await p.evaluate(() => window.__posted.filter((m) => m.type !== 'ready').map((m) => ({ type: m.type, size: (m.data_url ?? m.csv).length, head: (m.data_url ?? m.csv).slice(0, 60) })));
        console.log('exports', JSON.stringify(exports));
        await p.locator('#reset-zoom').click();
      }

      await p.goto(`${server.origin}/page/playground`);
      await p.evaluate((msg) => window.postMessage(msg, '*'), { type: 'init', choices, preselect: { model: choices[0].model, adapter: choices[0].adapters[0].path } });
      await p.waitForTimeout(300);
      await p.locator('#prompt textarea').fill('Tom has 3 apples and buys 4 more. How many apples does he have?');
      await p.locator('#send').click();
      const posted = await p.evaluate(() => window.__posted.find((m) => m.type === 'generate'));
      if (!posted) throw new Error('playground did not post a generate request');
      const answers = ['He has 3 + 4 = <<3+4=7>>7 apples.\n#### 7', 'Tom has 3*4=<<3*4=12>>12 apples.\n#### 12'];
      for (const [i, job] of posted.jobs.entries()) {
        for (const piece of answers[i].match(/.{1,3}/gs)) await p.evaluate((m) => window.postMessage(m, '*'), { type: 'token', request_id: posted.request_id, column_id: job.column_id, text: piece });
        await p.evaluate((m) => window.postMessage(m, '*'), { type: 'columnDone', request_id: posted.request_id, column_id: job.column_id, text: answers[i], new_tokens: 14, tokens_per_second: 48.2, cancelled: false });
      }
      await p.evaluate((m) => window.postMessage(m, '*'), { type: 'picked', purpose: 'golden', path: '/work/shared/data/gsm8k/test.jsonl' });
      await p.waitForTimeout(100);
      await p.locator('#run-golden').click();
      const golden = await p.evaluate(() => window.__posted.find((m) => m.type === 'runGolden'));
      for (const [ci, column] of golden.columns.entries()) {
        let correct = 0;
        for (let i = 0; i < 12; i++) {
          const pass = (i * (ci + 2)) % 5 === 0;
          if (pass) correct++;
          await p.evaluate((m) => window.postMessage(m, '*'), { type: 'goldenExample', request_id: golden.request_id, column_id: column.column_id, total: 12, result: { index: i, question: `Question ${i + 1}: <b>not html</b>`, reference: '... #### 18', prediction: pass ? '#### 18' : '#### 17', expected: '18', got: pass ? '18' : '17', pass } });
        }
        await p.evaluate((m) => window.postMessage(m, '*'), { type: 'goldenDone', request_id: golden.request_id, column_id: column.column_id, correct, total: 12, cancelled: false });
      }
      await p.locator('.column').nth(1).locator('.example-row').nth(1).click();
      await p.waitForTimeout(300);
      await p.screenshot({ path: path.join(outDir, `playground-${theme}.png`), fullPage: true });
      if (errors.length > 0) console.log(`${theme} errors:\n  ${errors.join('\n  ')}`);
      await context.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`screenshots in ${outDir}`);
}

await main();
