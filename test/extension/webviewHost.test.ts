// Host-side pieces of the webviews that need no VS Code: the HTML shell (CSP), the run feed, the
// playground's model choices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrainerEvent } from '../../src/core/protocol';
import { modelChoices } from '../../src/extension/panels/modelChoices';
import { RunFeed, type RunFeedSource } from '../../src/extension/panels/runFeed';
import { contentSecurityPolicy, makeNonce, webviewHtml } from '../../src/extension/panels/webviewHtml';

test('the HTML shell has a strict CSP and only a nonce-tagged script', () => {
  const html = webviewHtml({
    title: 'Loss <run>',
    cspSource: 'vscode-webview://abc',
    scriptUri: 'vscode-webview://abc/media/build/lossPanel.js',
    styleUri: 'vscode-webview://abc/media/build/webview.css',
    nonce: 'N0nce',
  });
  const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';
  assert.match(csp, /^default-src 'none';/);
  assert.match(csp, /script-src 'nonce-N0nce'(;|$)/);
  assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
  assert.ok(!/https?:/.test(csp), 'nothing remote');
  const scripts = html.match(/<script\b[^>]*>/g) ?? [];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0], /nonce="N0nce"/);
  assert.match(csp, /style-src vscode-webview:\/\/abc 'nonce-N0nce'(;|$)/);
  assert.match(html, /<meta property="csp-nonce" content="N0nce">/, 'the toolkit reads its style nonce from here');
  assert.match(scripts[0], /src="vscode-webview:\/\/abc\/media\/build\/lossPanel\.js"/);
  assert.ok(html.includes('<title>Loss &lt;run&gt;</title>'), 'the title is escaped');
  assert.ok(!/\son\w+=/.test(html), 'no inline event handlers');
});

test('nonces are fresh and CSP-safe', () => {
  const a = makeNonce();
  assert.notEqual(a, makeNonce());
  assert.match(a, /^[A-Za-z0-9+/=]{24}$/);
  assert.match(contentSecurityPolicy('src', a), new RegExp(`'nonce-${a.replace(/[+/=]/g, '\\$&')}'`));
});

const stepEvent = (n: number, loss = 1): TrainerEvent => ({
  type: 'step', step: n, total_steps: 10, epoch: 0, loss, lr: 1, grad_norm: 1, tokens_per_second: 1, tokens_seen: n, elapsed: n,
});

function fakeSource(history: TrainerEvent[]): RunFeedSource & { emit(e: TrainerEvent): void; disposed: boolean } {
  let listener: ((e: TrainerEvent) => void) | undefined;
  return {
    disposed: false,
    readHistory: () => history,
    subscribe(_dir, l) {
      listener = l;
      return { dispose: () => { this.disposed = true; } };
    },
    emit(e) {
      listener?.(e);
    },
  };
}

test('run feed: history first, live events batched, duplicates of the history dropped', () => {
  const source = fakeSource([stepEvent(1), stepEvent(2)]);
  const batches: TrainerEvent[][] = [];
  const feed = new RunFeed('/runs/a', source, (events) => batches.push(events), 60_000);
  assert.deepEqual(feed.events.map((e) => (e as { step: number }).step), [1, 2]);
  source.emit(stepEvent(2)); // already read from metrics.jsonl
  source.emit(stepEvent(3));
  source.emit({ type: 'eval', step: 3, eval_loss: 1, perplexity: Math.E });
  assert.equal(batches.length, 0, 'batched until flushed');
  feed.flush();
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0].map((e) => e.type), ['step', 'eval']);
  assert.equal(feed.events.length, 4);
  feed.flush();
  assert.equal(batches.length, 1, 'nothing new, nothing sent');
  feed.dispose();
  assert.equal(source.disposed, true);
});

test('run feed: a resumed run re-logging a step with new values is kept', () => {
  const source = fakeSource([stepEvent(5, 1.0)]);
  const feed = new RunFeed('/runs/a', source, () => {}, 60_000);
  source.emit(stepEvent(5, 0.9));
  feed.flush();
  assert.equal(feed.events.length, 2);
  feed.dispose();
});

test('model choices: base models with final adapters and checkpoints (newest first); full runs excluded', () => {
  const choices = modelChoices(
    [
      { name: 'r1', model: '/models/tiny', full: false, adapter: '/runs/r1/adapter', checkpoints: [{ step: 10, path: '/runs/r1/checkpoints/step-10' }, { step: 20, path: '/runs/r1/checkpoints/step-20' }] },
      { name: 'r2', model: '/models/tiny', full: false, checkpoints: [] },
      { name: 'full', model: '/models/other', full: true, adapter: undefined, checkpoints: [{ step: 5, path: '/runs/full/checkpoints/step-5' }] },
    ],
    ['/models/picked'],
  );
  assert.deepEqual(choices.map((c) => c.model), ['/models/picked', '/models/tiny']);
  assert.equal(choices[1].label, 'tiny');
  assert.deepEqual(choices[1].adapters.map((a) => a.label), ['r1 (final)', 'r1 step 20', 'r1 step 10']);
  assert.deepEqual(choices[0].adapters, []);
});
