// The playground server renders chat prompts exactly as training does (one path: chatPrompt →
// tokenizer.applyChatTemplate), including a request's `tools` and assistant tool calls. Checked against
// the real CLI (`ftune serve`) with the tiny model and a ChatML template that renders tools.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import type { ChatMessage, ServeRequest, ServeResponse, ToolSchema } from '../../src/core/protocol';
import { chatPrompt } from '../../src/core/prompts';
import { loadTokenizer } from '../../src/core/tokenizer';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SHARED = [process.env.FTUNE_SHARED, path.join(ROOT, 'shared'), path.join(ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'models'))) ?? path.join(ROOT, '..', 'shared');
const TINY = path.join(SHARED, 'models', 'tiny-gsm8k-base');
const CLI = path.join(ROOT, 'bin', 'ftune.js');

// ChatML plus a tools block and tool calls, in the manner of Qwen's templates (written for this test).
const TOOLS_TEMPLATE = [
  "{% if tools %}{{ '<|im_start|>system\\nTools:' }}{% for t in tools %}{{ ' ' + t.function.name }}{% endfor %}{{ '<|im_end|>\\n' }}{% endif %}",
  "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content }}",
  "{% if m.tool_calls %}{% for c in m.tool_calls %}{{ 'call ' + c.function.name + ' ' + (c.function.arguments | tojson) }}{% endfor %}{% endif %}",
  "{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
].join('');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-serve-tools-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
for (const name of fs.readdirSync(TINY)) {
  if (name === 'tokenizer_config.json') {
    const config = JSON.parse(fs.readFileSync(path.join(TINY, name), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, name), JSON.stringify({ ...config, chat_template: TOOLS_TEMPLATE }));
  } else fs.symlinkSync(path.join(TINY, name), path.join(dir, name));
}

async function serve(requests: ServeRequest[]): Promise<ServeResponse[]> {
  const child = spawn(process.execPath, [CLI, 'serve', '--model', dir, '--backend', 'cpu'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const answers: ServeResponse[] = [];
  const lines = readline.createInterface({ input: child.stdout });
  const pending = new Set(requests.map((r) => (r as { id?: string }).id));
  for await (const line of lines) {
    const response = JSON.parse(line) as ServeResponse;
    if (response.type === 'ready') for (const r of requests) child.stdin.write(JSON.stringify(r) + '\n');
    if (response.type === 'done' || response.type === 'error') {
      answers.push(response);
      pending.delete(response.id);
      if (pending.size === 0) child.stdin.end(JSON.stringify({ type: 'shutdown' }) + '\n');
    }
  }
  return answers;
}

test('ftune serve renders a request\'s tools and tool calls with the template, as training does', async () => {
  const tools: ToolSchema[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }];
  const messages: ChatMessage[] = [
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
    { role: 'tool', content: 'sunny' },
  ];
  const options = { max_new_tokens: 2, greedy: true, stop: false };
  const ref = { model: dir };
  const answers = await serve([
    { type: 'generate', id: 'with', ref, messages, tools, options },
    { type: 'generate', id: 'without', ref, messages, options },
  ]);
  const tokenizer = await loadTokenizer(dir);
  const byId = new Map(answers.map((a) => [(a as { id?: string }).id, a]));
  for (const [id, withTools] of [['with', tools], ['without', undefined]] as const) {
    const answer = byId.get(id);
    assert.ok(answer && answer.type === 'done', JSON.stringify(answer));
    const prompt = chatPrompt(tokenizer, messages, withTools);
    assert.equal(answer.prompt_tokens, tokenizer.encode(prompt).length, id);
  }
  const withTools = chatPrompt(tokenizer, messages, tools);
  assert.ok(withTools.startsWith('<|im_start|>system\nTools: get_weather<|im_end|>\n'), withTools);
  assert.ok(withTools.includes('call get_weather {"city": "Paris"}'), withTools);
  const [a, b] = ['with', 'without'].map((id) => byId.get(id) as Extract<ServeResponse, { type: 'done' }>);
  assert.ok(a.prompt_tokens > b.prompt_tokens, 'the tools block reached the prompt');
  // `ftune generate --messages --tools` builds the same prompt (its arguments as a JSON string, as data may)
  const wire = messages.map((m) => (m.tool_calls ? { ...m, content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] } : m));
  const cli = spawnSync(process.execPath, [CLI, 'generate', '--model', dir, '--messages', JSON.stringify(wire), '--tools', JSON.stringify(tools),
    '--greedy', '--no-stop', '--max-new-tokens', '2', '--json', '--backend', 'cpu'], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  const generated = JSON.parse(cli.stdout.split('\n').find((l) => l.startsWith('{'))!) as { token_ids: number[]; prompt_tokens: number };
  assert.equal(generated.prompt_tokens, a.prompt_tokens);
  assert.deepEqual(generated.token_ids, a.token_ids);
});
