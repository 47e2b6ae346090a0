import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isDecodingOptions, isHostToLossPanel, isHostToPlayground, isLossPanelToHost, isModelRef, isPlaygroundToHost,
  type DecodingOptions, type PlaygroundToHost,
} from '../../src/core/protocol';

const greedy: DecodingOptions = { max_new_tokens: 32, greedy: true, stop: true };

test('loss panel → host: known messages pass, malformed ones are rejected', () => {
  assert.ok(isLossPanelToHost({ type: 'ready' }));
  assert.ok(isLossPanelToHost({ type: 'exportPng', data_url: 'data:image/png;base64,AAAA' }));
  assert.ok(isLossPanelToHost({ type: 'exportCsv', csv: 'run,step\n' }));
  assert.ok(!isLossPanelToHost({ type: 'exportPng', data_url: 'https://example.com/x.png' }), 'only inline PNG data');
  assert.ok(!isLossPanelToHost({ type: 'exportCsv', csv: 42 }));
  assert.ok(!isLossPanelToHost({ type: 'deleteEverything' }));
  assert.ok(!isLossPanelToHost(null));
  assert.ok(!isLossPanelToHost('ready'));
  assert.ok(!isLossPanelToHost([{ type: 'ready' }]));
});

test('playground → host: generate needs jobs with exactly one of prompt and messages', () => {
  const ok: PlaygroundToHost = {
    type: 'generate',
    request_id: 'r1',
    jobs: [
      { column_id: 'a', ref: { model: '/m' }, prompt: 'hi' },
      { column_id: 'b', ref: { model: '/m', adapter: '/a' }, messages: [{ role: 'user', content: 'hi' }] },
    ],
    options: greedy,
  };
  assert.ok(isPlaygroundToHost(ok));
  const job = { column_id: 'a', ref: { model: '/m' } };
  assert.ok(!isPlaygroundToHost({ ...ok, jobs: [job] }), 'neither prompt nor messages');
  assert.ok(!isPlaygroundToHost({ ...ok, jobs: [{ ...job, prompt: 'x', messages: [] }] }), 'both');
  assert.ok(!isPlaygroundToHost({ ...ok, jobs: [{ ...job, messages: [{ role: 'user' }] }] }), 'message without content');
  assert.ok(!isPlaygroundToHost({ ...ok, jobs: [] }));
  assert.ok(!isPlaygroundToHost({ ...ok, jobs: [{ ...job, ref: { model: '' }, prompt: 'x' }] }), 'empty model path');
  assert.ok(!isPlaygroundToHost({ ...ok, options: { ...greedy, max_new_tokens: 0 } }));
  assert.ok(!isPlaygroundToHost({ ...ok, options: { ...greedy, max_new_tokens: 2.5 } }));
});

test('playground → host: golden set, pick, stop, openText', () => {
  const golden = { type: 'runGolden', request_id: 'g', file: '/d/test.jsonl', count: 5, mode: 'chat', system: '', columns: [{ column_id: 'a', ref: { model: '/m' } }], options: greedy };
  assert.ok(isPlaygroundToHost(golden));
  assert.ok(!isPlaygroundToHost({ ...golden, count: 0 }));
  assert.ok(!isPlaygroundToHost({ ...golden, count: 1.5 }));
  assert.ok(!isPlaygroundToHost({ ...golden, mode: 'html' }));
  assert.ok(!isPlaygroundToHost({ ...golden, file: '' }));
  assert.ok(!isPlaygroundToHost({ ...golden, columns: [] }));
  assert.ok(isPlaygroundToHost({ type: 'pick', purpose: 'golden' }));
  assert.ok(isPlaygroundToHost({ type: 'pick', purpose: 'adapter', column_id: 'c1' }));
  assert.ok(!isPlaygroundToHost({ type: 'pick', purpose: 'anything' }));
  assert.ok(isPlaygroundToHost({ type: 'stop' }));
  assert.ok(isPlaygroundToHost({ type: 'openText', title: 't', content: 'c' }));
  assert.ok(!isPlaygroundToHost({ type: 'openText', title: 't' }));
});

test('decoding options and model refs', () => {
  assert.ok(isDecodingOptions({ max_new_tokens: 8, greedy: false, stop: true, temperature: 0.7, top_p: 0.9, top_k: 40, seed: 1 }));
  assert.ok(!isDecodingOptions({ max_new_tokens: 8, greedy: false, stop: true, temperature: 'hot' }));
  assert.ok(!isDecodingOptions({ max_new_tokens: 8, greedy: 'yes', stop: true }));
  assert.ok(!isDecodingOptions({ max_new_tokens: 8, greedy: true, stop: true, temperature: Infinity }));
  assert.ok(isModelRef({ model: '/m', adapter: '/a' }));
  assert.ok(!isModelRef({ model: '/m', adapter: 3 }));
});

test('host → webview guards accept the host messages and reject foreign ones', () => {
  assert.ok(isHostToLossPanel({ type: 'init', runs: [], overfit_patience: 3 }));
  assert.ok(isHostToLossPanel({ type: 'events', run_dir: '/r', events: [] }));
  assert.ok(isHostToLossPanel({ type: 'exported', what: 'png', path: '/x.png' }));
  assert.ok(!isHostToLossPanel({ type: 'events', run_dir: '/r' }));
  assert.ok(!isHostToLossPanel({ type: 'token', request_id: 'r', column_id: 'c', text: 'x' }));
  assert.ok(isHostToPlayground({ type: 'token', request_id: 'r', column_id: 'c', text: 'x' }));
  assert.ok(isHostToPlayground({ type: 'init', choices: [] }));
  assert.ok(isHostToPlayground({ type: 'preselect', ref: { model: '/m' } }));
  assert.ok(!isHostToPlayground({ type: 'preselect', ref: {} }));
  assert.ok(!isHostToPlayground({ type: 'token', text: 'x' }));
  assert.ok(!isHostToPlayground({ type: 'init', runs: [], overfit_patience: 3 }));
  assert.ok(!isHostToPlayground({ type: 'goldenError', request_id: 'r' }));
});
