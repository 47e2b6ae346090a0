// The Ollama Modelfile: its TEMPLATE (Go template), rendered the way Ollama's chat endpoint does,
// must produce the same prompt text as the training chat template (Jinja) for conversations the
// exporter never saw; non-reproducible templates get no TEMPLATE, a reason and the raw Jinja.
import { before, after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type { ChatMessage } from '../../src/core/protocol';
import { loadTokenizer } from '../../src/core/tokenizer';
import { initBackend } from '../../src/engine/backend';
import { runExport } from '../../src/export';
import { loadChatRenderer } from '../../src/export/chatTemplate';
import { renderGoTemplate } from '../../src/export/ollama/goTemplate';
import { buildModelfile, CHECK_CONVERSATIONS, ollamaPrompt, parseModelfile } from '../../src/export/ollama/modelfile';
import { makeQwen3Folder, QWEN2, tempDir } from '../helpers/exportFixtures';

const QWEN25_TEMPLATE = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if not (message.role == 'system' and loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
const LLAMA3_TEMPLATE = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
// Phi-3-mini-4k-instruct's and Phi-4-mini-instruct's chat templates (the tool-free branch of the latter).
const PHI3_TEMPLATE = "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";
const PHI4_TEMPLATE = "{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and message['tools'] is not none %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' + '<|end|>' }}{% else %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}";
// Gemma 3 instruct's chat template (text content).
const GEMMA3_TEMPLATE = "{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n    {%- set loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = \"\" -%}\n    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in loop_messages -%}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n    {%- endif -%}\n    {%- if (message['role'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n    {%- else -%}\n        {%- set role = message['role'] -%}\n    {%- endif -%}\n    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n    {%- if message['content'] is string -%}\n        {{ message['content'] | trim }}\n    {%- endif -%}\n    {{ '<end_of_turn>\n' }}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n    {{'<start_of_turn>model\n'}}\n{%- endif -%}\n";
const ALPACA_TEMPLATE = "{% for m in messages %}{% if m['role'] == 'user' %}### Instruction:\\n{{ m['content'] }}\\n\\n{% elif m['role'] == 'assistant' %}### Response:\\n{{ m['content'] }}\\n\\n{% endif %}{% endfor %}{% if add_generation_prompt %}### Response:\\n{% endif %}";

/** Conversations unlike the exporter's own check set: longer, unicode, several system/assistant turns. */
const CONVERSATIONS: ChatMessage[][] = [
  [{ role: 'user', content: 'Natalia sold clips to 48 of her friends in April. How many in May?' }],
  [{ role: 'system', content: 'Rechne Schritt für Schritt. 🚀' }, { role: 'user', content: 'Was ist 7·6?' }],
  [
    { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' },
    { role: 'assistant', content: 'd\n\ne' }, { role: 'user', content: 'f "quoted" {{ not a template }}' },
  ],
  [{ role: 'system', content: 'S' }, { role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }, { role: 'user', content: 'z' }],
];

let root: string;
before(async () => {
  await initBackend('wasm');
  root = tempDir('modelfile');
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('Go template subset', () => {
  test('range over messages, fields, literal text and trim markers', () => {
    const messages = [{ Role: 'user', Content: 'hi' }, { Role: 'assistant', Content: 'yo' }];
    assert.equal(renderGoTemplate('{{ range .Messages }}[{{ .Role }}:{{ .Content }}]{{ end }}!', { Messages: messages }), '[user:hi][assistant:yo]!');
    assert.equal(renderGoTemplate('a  \n {{- .X -}} \n  b', { Messages: [], X: '|' }), 'a|b');
    assert.equal(renderGoTemplate('{{ range .Messages }}{{ end }}empty', { Messages: [] }), 'empty');
  });
  test('if eq / else if / else, not, and boolean variables shared with range (Gemma\'s template)', () => {
    const messages = [{ Role: 'system', Content: 's' }, { Role: 'user', Content: 'u' }, { Role: 'assistant', Content: 'a' }, { Role: 'user', Content: 'v' }];
    const t = '{{ $o := false }}{{ range .Messages }}{{ if eq .Role "system" }}S{{ $o = true }}{{ else if eq .Role "user" }}{{ if not $o }}H{{ end }}U{{ $o = false }}{{ else }}M{{ end }}{{ end }}';
    assert.equal(renderGoTemplate(t, { Messages: messages }), 'SUMHU');
    assert.throws(() => renderGoTemplate('{{ if eq .Role "x" }}a', { Messages: [] }), /\{\{ if \}\} without \{\{ end \}\}/);
    assert.throws(() => renderGoTemplate('{{ if not $nope }}a{{ end }}', { Messages: [] }), /undefined variable \$nope/);
    assert.throws(() => renderGoTemplate('{{ else }}', { Messages: [] }), /without \{\{ if \}\}/);
  });
  test('anything outside the subset is refused, not approximated', () => {
    assert.throws(() => renderGoTemplate('{{ if .System }}x{{ end }}', { Messages: [] }), /unsupported template action/);
    assert.throws(() => renderGoTemplate('{{ range .Messages }}x', { Messages: [] }), /without \{\{ end \}\}/);
    assert.throws(() => renderGoTemplate('{{ .Missing }}', { Messages: [] }), /not a string/);
  });
});

function assertReproduces(text: string, render: (m: ChatMessage[], gen: boolean) => string, autoBos = ''): void {
  const parsed = parseModelfile(text);
  for (const conversation of CONVERSATIONS) {
    const want = render(conversation, true);
    const got = autoBos + ollamaPrompt(parsed, conversation);
    assert.equal(got, want, `conversation ${JSON.stringify(conversation).slice(0, 80)}`);
  }
}

describe('Modelfile TEMPLATE reproduces the training template', () => {
  test('ChatML (the fixtures\' template)', async () => {
    const template = (JSON.parse(fs.readFileSync(path.join(QWEN2, 'tokenizer_config.json'), 'utf8')) as { chat_template: string }).chat_template;
    const render = await loadChatRenderer(QWEN2, template);
    const result = buildModelfile({ ggufFile: 'model-f16.gguf', chatTemplate: template, render, addBos: false, eosTexts: ['<|im_end|>'] });
    assert.equal(result.style, 'chatml');
    assert.equal(result.defaultSystem, undefined);
    const parsed = parseModelfile(result.text);
    assert.equal(parsed.from, './model-f16.gguf');
    assert.deepEqual(parsed.parameters.filter(([k]) => k === 'stop'), [['stop', '<|im_end|>']]);
    assertReproduces(result.text, render);
  });

  test('ChatML with a default system prompt (Qwen2.5 style) becomes SYSTEM', async () => {
    const render = await loadChatRenderer(QWEN2, QWEN25_TEMPLATE);
    const result = buildModelfile({ ggufFile: 'm.gguf', chatTemplate: QWEN25_TEMPLATE, render, addBos: false, eosTexts: ['<|endoftext|>'] });
    assert.equal(result.style, 'chatml');
    assert.equal(result.defaultSystem, 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.');
    const parsed = parseModelfile(result.text);
    assert.equal(parsed.system, result.defaultSystem);
    assert.deepEqual(parsed.parameters.filter(([k]) => k === 'stop').map(([, v]) => v), ['<|im_end|>', '<|endoftext|>']);
    assertReproduces(result.text, render);
  });

  test('Llama 3 with the tokenizer adding BOS: the template leaves BOS to llama.cpp', async () => {
    const render = await loadChatRenderer(QWEN2, LLAMA3_TEMPLATE, { bos_token: '<|begin_of_text|>' });
    const result = buildModelfile({ ggufFile: 'm.gguf', chatTemplate: LLAMA3_TEMPLATE, render, bosText: '<|begin_of_text|>', addBos: true, eosTexts: ['<|eot_id|>', '<|end_of_text|>'] });
    assert.equal(result.style, 'llama3');
    const parsed = parseModelfile(result.text);
    assert.ok(!parsed.template!.includes('<|begin_of_text|>'));
    assert.deepEqual(parsed.parameters.filter(([k]) => k === 'stop').map(([, v]) => v), ['<|eot_id|>', '<|end_of_text|>']);
    assertReproduces(result.text, render, '<|begin_of_text|>');
  });

  test('Llama 3 when nothing adds BOS: the template writes it', async () => {
    const render = await loadChatRenderer(QWEN2, LLAMA3_TEMPLATE, { bos_token: '<|begin_of_text|>' });
    const result = buildModelfile({ ggufFile: 'm.gguf', chatTemplate: LLAMA3_TEMPLATE, render, bosText: '<|begin_of_text|>', addBos: false, eosTexts: [] });
    assert.equal(result.style, 'llama3');
    assert.ok(parseModelfile(result.text).template!.startsWith('<|begin_of_text|>{{ range .Messages }}'));
    assertReproduces(result.text, render);
  });

  for (const [style, template] of [['phi3', PHI3_TEMPLATE], ['phi4', PHI4_TEMPLATE]] as const) {
    test(`${style === 'phi3' ? 'Phi-3' : 'Phi-4-mini'}: <|user|> … <|end|> turns, <|end|> stops`, async () => {
      const render = await loadChatRenderer(QWEN2, template);
      const result = buildModelfile({ ggufFile: 'm.gguf', chatTemplate: template, render, addBos: false, eosTexts: ['<|endoftext|>'] });
      assert.equal(result.style, style);
      const parsed = parseModelfile(result.text);
      assert.ok(parsed.template!.includes('<|{{ .Role }}|>'));
      assert.deepEqual(parsed.parameters.filter(([k]) => k === 'stop').map(([, v]) => v), ['<|end|>', '<|endoftext|>']);
      assertReproduces(result.text, render);
    });
  }

  test('Gemma 3: assistant turns named model, system prepended to the first user turn, BOS left to llama.cpp', async () => {
    const render = await loadChatRenderer(QWEN2, GEMMA3_TEMPLATE, { bos_token: '<bos>' });
    const result = buildModelfile({ ggufFile: 'm.gguf', chatTemplate: GEMMA3_TEMPLATE, render, bosText: '<bos>', addBos: true, eosTexts: ['<eos>'] });
    assert.equal(result.style, 'gemma', result.reason);
    const parsed = parseModelfile(result.text);
    assert.ok(!parsed.template!.includes('<bos>'));
    assert.deepEqual(parsed.parameters.filter(([k]) => k === 'stop').map(([, v]) => v), ['<end_of_turn>', '<eos>']);
    assert.equal(render([{ role: 'system', content: 'S' }, { role: 'user', content: 'x' }], true), '<bos><start_of_turn>user\nS\n\nx<end_of_turn>\n<start_of_turn>model\n');
    assertReproduces(result.text, render, '<bos>');
  });

  test('a template of another family: no TEMPLATE, the reason and the raw Jinja as comments, eos stops', async () => {
    const render = await loadChatRenderer(QWEN2, ALPACA_TEMPLATE);
    const result = buildModelfile({ ggufFile: 'm.gguf', chatTemplate: ALPACA_TEMPLATE, render, addBos: false, eosTexts: ['<|im_end|>'] });
    assert.equal(result.style, undefined);
    assert.match(result.reason!, /ChatML: no ChatML turn markers/);
    const parsed = parseModelfile(result.text);
    assert.equal(parsed.template, undefined);
    assert.deepEqual(parsed.parameters, [['stop', '<|im_end|>']]);
    assert.ok(result.text.includes(`#   ${ALPACA_TEMPLATE}`), 'the Jinja template is quoted for reference');
    assert.match(result.text, /# NOTE: no TEMPLATE is written/);
    // A model without any template: same fallback.
    assert.match(buildModelfile({ ggufFile: 'm.gguf', chatTemplate: undefined, addBos: false, eosTexts: [] }).reason!, /no chat template/);
  });

  test('a template that raises on some conversations falls back instead of failing the export', async () => {
    const strict = "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    const render = await loadChatRenderer(QWEN2, strict);
    const result = buildModelfile({ ggufFile: 'm.gguf', chatTemplate: strict, render, addBos: false, eosTexts: ['<|im_end|>'] });
    assert.equal(result.style, undefined);
    assert.match(result.reason!, /failed to render a sample conversation \(.*System role not supported/);
  });

  test('the exporter\'s own check set differs from these conversations (this test is not circular)', () => {
    const key = (c: readonly ChatMessage[]) => JSON.stringify(c);
    const own = new Set(CHECK_CONVERSATIONS.map(key));
    assert.ok(CONVERSATIONS.every((c) => !own.has(key(c))));
  });
});

describe('gguf export writes the Modelfile', () => {
  test('qwen2 fixture: FROM the file, ChatML TEMPLATE equal to the tokenizer\'s rendering, greedy decoding', async () => {
    const out = path.join(root, 'qwen2');
    const result = await runExport({ to: 'gguf', model: QWEN2, out, type: 'f16', backend: 'wasm' });
    assert.equal(result.details.modelfile_style, 'chatml');
    const parsed = parseModelfile(fs.readFileSync(path.join(out, 'Modelfile'), 'utf8'));
    assert.equal(parsed.from, './model-f16.gguf');
    assert.ok(fs.existsSync(path.join(out, 'model-f16.gguf')));
    const tokenizer = await loadTokenizer(QWEN2);
    for (const c of CONVERSATIONS) assert.equal(ollamaPrompt(parsed, c), tokenizer.applyChatTemplate(c, true));
    // generation_config.json: do_sample false → greedy
    assert.deepEqual(parsed.parameters.filter(([k]) => k !== 'stop'), [['temperature', '0']]);
  });

  test('sampling defaults come from generation_config.json', async () => {
    const model = makeQwen3Folder(path.join(root, 'qwen3'));
    const out = path.join(root, 'qwen3-out');
    await runExport({ to: 'gguf', model, out, type: 'q8_0', backend: 'wasm' });
    const parsed = parseModelfile(fs.readFileSync(path.join(out, 'Modelfile'), 'utf8'));
    assert.equal(parsed.from, './model-q8_0.gguf');
    assert.deepEqual(parsed.parameters.filter(([k]) => k !== 'stop'), [['temperature', '0.7'], ['top_p', '0.8'], ['top_k', '20']]);
  });
});
