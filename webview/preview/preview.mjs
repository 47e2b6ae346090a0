// Renders the built webviews in headless Chromium outside VS Code, with a fake host that replays
// synthetic messages, and writes screenshots: a quick visual check of layout and theming while
// developing (the end-to-end tests check the real thing inside code-server).
//   node webview/preview/preview.mjs [outDir]     (after `node webview/build.mjs`)

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { THEMES } from './themes.mjs';

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

function page(panel, theme) {
  const t = THEMES[theme];
  const vars = Object.entries(t.vars).map(([k, v]) => `${k}: ${v};`).join('\n');
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<style>:root { ${vars} }</style>
<link rel="stylesheet" href="${pathToFileURL(path.join(repo, 'media/webview.css'))}">
<script>
  window.__posted = [];
  window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__posted.push(m), getState: () => window.__state, setState: (s) => { window.__state = s; } });
</script></head>
<body class="${t.bodyClass}"><div id="root"></div>
<script src="${pathToFileURL(path.join(repo, `media/build/${panel}.js`))}"></script></body></html>`;
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'] });
  try {
    for (const theme of Object.keys(THEMES)) {
      const context = await browser.newContext({ viewport: { width: 1200, height: 1000 }, deviceScaleFactor: 1 });
      const p = await context.newPage();
      const errors = [];
      p.on('pageerror', (e) => errors.push(String(e)));
      p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

      const lossFile = path.join(outDir, `loss-${theme}.html`);
      fs.writeFileSync(lossFile, page('lossPanel', theme));
      await p.goto(pathToFileURL(lossFile).href);
      await p.evaluate((msg) => window.postMessage(msg, '*'), lossInit);
      await p.waitForTimeout(500);
      await p.screenshot({ path: path.join(outDir, `loss-${theme}.png`), fullPage: true });

      const pgFile = path.join(outDir, `playground-${theme}.html`);
      fs.writeFileSync(pgFile, page('playground', theme));
      await p.goto(pathToFileURL(pgFile).href);
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
  }
  console.log(`screenshots in ${outDir}`);
}

await main();
