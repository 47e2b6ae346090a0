import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chatMessages, columnChoices, decodingOptions, DEFAULT_DECODING, defaultPlaygroundState, refFromKey, refKey, restorePlaygroundState,
} from '../../webview/lib/playgroundState';

test('chat columns continue their own conversation', () => {
  assert.deepEqual(chatMessages('Be brief.', ['hi', 'and 2+2?'], ['hello!']), [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'hello!' },
    { role: 'user', content: 'and 2+2?' },
  ]);
  assert.deepEqual(chatMessages('', ['first'], []), [{ role: 'user', content: 'first' }]);
  // a column added mid-conversation has no earlier reply: an empty assistant turn keeps roles alternating
  assert.deepEqual(chatMessages('', ['a', 'b'], []).map((m) => m.role), ['user', 'assistant', 'user']);
});

test('decoding: greedy sends no sampling knobs; sampling values are sanitised', () => {
  assert.deepEqual(decodingOptions({ ...DEFAULT_DECODING, greedy: true, max_new_tokens: 64 }), { max_new_tokens: 64, greedy: true, stop: true });
  const sampled = decodingOptions({ greedy: false, temperature: 0.8, top_p: 0.9, top_k: 40.7, seed: 7.2, max_new_tokens: 10 });
  assert.deepEqual(sampled, { max_new_tokens: 10, greedy: false, stop: true, temperature: 0.8, top_p: 0.9, top_k: 40, seed: 7 });
  const bad = decodingOptions({ greedy: false, temperature: -1, top_p: 5, top_k: -3, seed: NaN, max_new_tokens: 0 });
  assert.equal(bad.temperature, DEFAULT_DECODING.temperature);
  assert.equal(bad.top_p, 1);
  assert.equal(bad.top_k, 0);
  assert.equal(bad.seed, 0);
  assert.equal(bad.max_new_tokens, DEFAULT_DECODING.max_new_tokens);
  assert.equal(decodingOptions({ ...DEFAULT_DECODING, max_new_tokens: 1e9 }).max_new_tokens, 4096);
});

test('model refs round-trip through dropdown values', () => {
  for (const ref of [{ model: '/m' }, { model: '/m', adapter: '/a b/"c"' }]) assert.deepEqual(refFromKey(refKey(ref)), ref);
  assert.equal(refFromKey('not json'), undefined);
  assert.equal(refFromKey('["",null]'), undefined);
});

test('column choices: base then adapters, picked folders, and the current selection are always offered', () => {
  const options = columnChoices(
    [{ model: '/models/tiny', label: 'tiny', adapters: [{ path: '/runs/r/adapter', label: 'r (final)' }] }],
    ['/models/other'],
    { model: '/gone/model', adapter: '/gone/ckpt' },
  );
  assert.deepEqual(options.map((o) => o.label), ['tiny (base)', 'tiny + r (final)', 'other (base)', 'model + ckpt']);
  assert.deepEqual(refFromKey(options[1].value), { model: '/models/tiny', adapter: '/runs/r/adapter' });
  const noDuplicate = columnChoices([{ model: '/m', label: 'm', adapters: [] }], ['/m'], { model: '/m' });
  assert.equal(noDuplicate.length, 1);
});

test('a saved state is restored over the defaults; junk is ignored', () => {
  const restored = restorePlaygroundState({
    mode: 'raw',
    columns: [{ id: 'c1', model: '/m', adapter: '/a' }, { id: 3 }, null],
    user_turns: ['hi', 5],
    decoding: { greedy: false },
    golden: { file: '/g.jsonl' },
  });
  assert.equal(restored.mode, 'raw');
  assert.deepEqual(restored.columns, [{ id: 'c1', model: '/m', adapter: '/a' }]);
  assert.deepEqual(restored.user_turns, ['hi']);
  assert.equal(restored.decoding.greedy, false);
  assert.equal(restored.decoding.max_new_tokens, DEFAULT_DECODING.max_new_tokens);
  assert.equal(restored.golden.file, '/g.jsonl');
  assert.equal(restored.golden.count, 20);
  assert.deepEqual(restorePlaygroundState('garbage'), defaultPlaygroundState());
  assert.deepEqual(restorePlaygroundState({ mode: 'html' }).mode, 'chat');
});
