// The model's tokenizer and chat template, loaded from the local model folder through
// @huggingface/transformers (remote loading is switched off: a model folder is all we read), in a
// worker thread with a time budget per call (tokenizerSandbox.ts).

import * as fs from 'fs';
import * as path from 'path';
import type { ChatMessage, ToolSchema } from './protocol';
import { SandboxedTokenizer } from './tokenizerSandbox';

export interface ChatTemplateOptions {
  /** the conversation's tool schemas, passed to the template as `tools` (OpenAI / TRL style). */
  tools?: readonly ToolSchema[];
}

export interface Tokenizer {
  /** token ids of `text`; special tokens written in the text (e.g. `<|im_start|>`) are recognised. */
  encode(text: string): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /**
   * Renders a conversation with the model's chat template: the one path used for training examples,
   * generation prompts and the playground. Reasoning and tool calls are passed the way Hugging Face
   * templates read them (`reasoning_content`, `tool_calls[].function`, `tools=`). Throws when the
   * folder has no template.
   */
  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt: boolean, options?: ChatTemplateOptions): string;
  readonly hasChatTemplate: boolean;
  readonly chatTemplate: string | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly vocabSize: number;
}

const cache = new Map<string, Promise<Tokenizer>>();

export function loadTokenizer(modelDir: string): Promise<Tokenizer> {
  const key = path.resolve(modelDir);
  let pending = cache.get(key);
  if (!pending) {
    pending = load(key);
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

async function load(dir: string): Promise<Tokenizer> {
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    throw new Error(`${path.join(dir, 'tokenizer.json')}: not found (a model folder needs tokenizer.json and tokenizer_config.json)`);
  }
  // The tokenizer and its chat template run in a worker under a time budget (tokenizerSandbox.ts):
  // a hostile template or pre-tokenizer regex fails the example instead of hanging the process.
  const { tokenizer: sandbox, info } = SandboxedTokenizer.load(dir);
  const template = info.chatTemplate;
  return {
    encode: (text) => sandbox.encode(text),
    decode: (ids, options) => sandbox.decode(ids, options?.skipSpecialTokens ?? false),
    applyChatTemplate(messages, addGenerationPrompt, options) {
      if (!template) throw new Error(`${dir}: the tokenizer has no chat_template; use prompt/completion data or --prompt`);
      const tools = options?.tools?.length ? [...options.tools] : undefined;
      return sandbox.render(messages.map(templateMessage), addGenerationPrompt, undefined, tools);
    },
    hasChatTemplate: template !== undefined,
    chatTemplate: template,
    eosTokenId: info.eosTokenId,
    padTokenId: info.padTokenId,
    vocabSize: info.vocabSize,
  };
}

/** A message as Hugging Face chat templates read it: only the fields a message has (templates test `is defined`). */
type TemplateMessage = { role: string; content: string } & Partial<Omit<ChatMessage, 'role' | 'content'>>;

function templateMessage(message: ChatMessage): TemplateMessage {
  const out: TemplateMessage = { role: message.role, content: message.content };
  if (message.reasoning_content !== undefined) out.reasoning_content = message.reasoning_content;
  if (message.tool_calls?.length) out.tool_calls = message.tool_calls.map((call) => ({ ...call, function: { ...call.function } }));
  if (message.tool_call_id !== undefined) out.tool_call_id = message.tool_call_id;
  if (message.name !== undefined) out.name = message.name;
  return out;
}
