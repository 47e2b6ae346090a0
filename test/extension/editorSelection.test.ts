// Run Selection on Models (src/extension/selection/*): the side document and the model picks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderAnswers, sectionLabels } from '../../src/extension/selection/answersDocument';
import { defaultPicks, describeDecoding, modelPicks, refKey } from '../../src/extension/selection/modelPicks';
import { modelChoices } from '../../src/extension/panels/modelChoices';

test('answers document: one section per model, speed once done, answers with code fences cannot break out', () => {
  const doc = renderAnswers('What is 2+2?', [
    { label: 'base', text: 'It is 4.', state: 'done', tokens: 5, tokensPerSecond: 12.34 },
    { label: 'base + run (final)', text: 'Here:\n```py\nprint(4)\n```', state: 'generating' },
    { label: 'other', text: '', state: 'error', error: 'generation server exited' },
    { label: 'late', text: 'It', state: 'cancelled', tokens: 1, tokensPerSecond: 3 },
  ], 'greedy, at most 64 new tokens');
  assert.deepEqual(sectionLabels(doc), ['base', 'base + run (final)', 'other', 'late']);
  assert.match(doc, /_5 tokens, 12\.3 tokens\/s_/);
  assert.match(doc, /_generating…_/);
  assert.match(doc, /\*\*error:\*\* generation server exited/);
  assert.match(doc, /_cancelled \(1 tokens, 3\.0 tokens\/s\)_/);
  // the answer with a ``` block is fenced with ````, so the next heading is still a heading
  assert.match(doc, /````\nHere:\n```py\nprint\(4\)\n```\n````/);
});

test('model picks: bases and their checkpoints, remembered picks kept only while they exist', () => {
  const choices = modelChoices([
    { name: 'run', model: '/m/Qwen', adapter: '/r/run/adapter', checkpoints: [{ step: 10, path: '/r/run/checkpoint-10' }], full: false },
  ]);
  const picks = modelPicks(choices);
  assert.deepEqual(picks.map((p) => p.label), ['Qwen', 'Qwen + run (final)', 'Qwen + run step 10']);
  assert.deepEqual(picks[1].ref, { model: '/m/Qwen', adapter: '/r/run/adapter' });
  assert.deepEqual(defaultPicks(picks, [refKey({ model: '/m/Qwen', adapter: '/r/run/adapter' }), 'gone']).map((p) => p.label), ['Qwen + run (final)']);
  assert.deepEqual(defaultPicks(picks, ['gone']).map((p) => p.label), ['Qwen']);
  assert.equal(describeDecoding({ max_new_tokens: 64, greedy: true, stop: true }), 'greedy, at most 64 new tokens');
  assert.match(describeDecoding({ max_new_tokens: 8, greedy: false, temperature: 0.7, top_p: 0.9, top_k: 5, seed: 1, stop: false }), /^sampling \(temperature 0\.7, top-p 0\.9, top-k 5, seed 1\).*no stop/);
});
