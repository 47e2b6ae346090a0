// Chat models in VS Code (src/extension/chat/*): the model list, the message conversion, the decoding
// options, and token counting through a real `ftune serve` with the tiny pretrained model's own tokenizer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { chatModelEntries, entriesKey } from '../../src/extension/chat/chatModels';
import { decodingFromModelOptions, ROLE_ASSISTANT, ROLE_USER, toChatMessages } from '../../src/extension/chat/messages';
import { ServeClient } from '../../src/extension/panels/serveClient';
import { loadTokenizer } from '../../src/core/tokenizer';
import type { RunSummary } from '../../src/core/runStore';
import { TINY, CLI } from '../helpers/sharedFiles';


type Run = Pick<RunSummary, 'name' | 'model' | 'adapter' | 'checkpoints' | 'full' | 'step'>;
const run = (name: string, model: string, extra: Partial<Run> = {}): Run => ({ name, model, checkpoints: [], full: false, step: 600, ...extra });

test('chat models: each base once, opted-in checkpoints named "<base> + <run> (step N)", honest token limits', () => {
  const runs = [
    run('gsm8k-run', '/m/Qwen2.5-0.5B', { adapter: '/r/gsm8k/adapter', checkpoints: [{ step: 200, path: '/r/gsm8k/checkpoint-200' }] }),
    run('other', '/m/Qwen2.5-0.5B', { adapter: '/r/other/adapter' }),
    run('full-run', '/m/Llama', { full: true, adapter: '/r/full/model' }),
    run('broken', '/m/missing', { adapter: '/r/broken/adapter' }),
  ];
  const context = (model: string) => (model === '/m/missing' ? undefined : 32768);
  const entries = chatModelEntries(runs, new Set(['/r/gsm8k/adapter', '/r/gsm8k/checkpoint-200', '/r/broken/adapter']), context, 512);
  assert.deepEqual(entries.map((e) => e.name), ['Qwen2.5-0.5B', 'Qwen2.5-0.5B + gsm8k-run (step 200)', 'Qwen2.5-0.5B + gsm8k-run (step 600)']);
  assert.deepEqual(entries.map((e) => e.ref), [{ model: '/m/Qwen2.5-0.5B' }, { model: '/m/Qwen2.5-0.5B', adapter: '/r/gsm8k/checkpoint-200' }, { model: '/m/Qwen2.5-0.5B', adapter: '/r/gsm8k/adapter' }]);
  assert.ok(entries.every((e) => e.maxOutputTokens === 512 && e.maxInputTokens === 32768 - 512 && e.family === 'Qwen2.5-0.5B'));
  assert.equal(new Set(entries.map((e) => e.id)).size, entries.length, 'ids are unique');
  // nothing opted in: only the base
  assert.deepEqual(chatModelEntries(runs, new Set(), context, 512).map((e) => e.name), ['Qwen2.5-0.5B']);
  // a context shorter than the answer limit still leaves room for a prompt
  const small = chatModelEntries([runs[0]], new Set(), () => 256, 512)[0];
  assert.equal(small.maxOutputTokens + small.maxInputTokens, 256);
  assert.ok(small.maxInputTokens >= 1);
});

test('chat models: the change key moves when a run is deleted or a checkpoint opted in, not when a run progresses', () => {
  const a = run('a', '/m/base', { adapter: '/r/a/adapter' });
  const before = entriesKey(chatModelEntries([a], new Set(['/r/a/adapter']), () => 2048, 64));
  assert.equal(entriesKey(chatModelEntries([{ ...a }], new Set(['/r/a/adapter']), () => 2048, 64)), before);
  assert.notEqual(entriesKey(chatModelEntries([], new Set(['/r/a/adapter']), () => 2048, 64)), before);
  assert.notEqual(entriesKey(chatModelEntries([a], new Set(), () => 2048, 64)), before);
});

test('messages: text parts joined, roles mapped, tool results become a tool turn, tool calls dropped', () => {
  const text = (value: string) => ({ value });
  const messages = toChatMessages([
    { role: ROLE_USER, content: [text('What is '), text('2 + 2?')], name: undefined },
    { role: ROLE_ASSISTANT, content: [text('Let me check.'), { callId: 'c1', name: 'calc', input: { x: 1 } }], name: undefined },
    { role: ROLE_USER, content: [{ callId: 'c1', content: [text('4')] }], name: undefined },
    { role: ROLE_USER, content: [text('Thanks'), { mimeType: 'image/png', data: new Uint8Array(1) }], name: 'me' },
  ]);
  assert.deepEqual(messages, [
    { role: 'user', content: 'What is 2 + 2?' },
    { role: 'assistant', content: 'Let me check.' },
    { role: 'tool', content: '4' },
    { role: 'user', content: 'Thanks' },
  ]);
});

test('decoding: greedy unless a temperature is asked for; max_tokens capped by the model limit', () => {
  assert.deepEqual(decodingFromModelOptions(undefined, 512), { max_new_tokens: 512, greedy: true, stop: true });
  assert.deepEqual(decodingFromModelOptions({ max_tokens: 40 }, 512), { max_new_tokens: 40, greedy: true, stop: true });
  assert.equal(decodingFromModelOptions({ max_tokens: 4000 }, 512).max_new_tokens, 512);
  assert.deepEqual(decodingFromModelOptions({ temperature: 0.7, top_p: 0.9, top_k: 20, seed: 3 }, 100), {
    max_new_tokens: 100, greedy: false, temperature: 0.7, top_p: 0.9, top_k: 20, seed: 3, stop: true,
  });
  assert.equal(decodingFromModelOptions({ temperature: 0 }, 100).greedy, true);
  assert.equal(decodingFromModelOptions({ temperature: 'hot' }, 100).greedy, true);
});

let client: ServeClient | undefined;
after(() => client?.dispose());

test('token counting: ftune serve counts with the model\'s own tokenizer and chat template, even while generating', async () => {
  client = new ServeClient(() => spawn(process.execPath, [CLI, 'serve', '--model', TINY, '--backend', 'cpu'], { stdio: 'pipe' }));
  const tokenizer = await loadTokenizer(TINY);
  const text = 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.';
  const messages = [{ role: 'user', content: text }];
  let generationDone = false;
  const generation = client.generate({ id: 'busy', ref: { model: TINY }, prompt: 'Once upon a time', options: { max_new_tokens: 400, greedy: true, stop: false } });
  void generation.then(() => (generationDone = true));
  const [plain, chat] = await Promise.all([client.countTokens({ prompt: text }), client.countTokens({ messages })]);
  assert.equal(generationDone, false, 'the counts came back while the generation still ran');
  assert.equal(plain, tokenizer.encode(text).length);
  assert.equal(chat, tokenizer.encode(tokenizer.applyChatTemplate(messages, false)).length);
  assert.ok(chat > plain, 'the chat template adds its role markers');
  client.cancel('busy');
  const done = await generation;
  assert.equal(done.cancelled, true);
  assert.ok(done.token_ids.length < 400);
});
