// The model's tokenizer and chat template, loaded from the local model folder through
// @huggingface/transformers (remote loading is switched off: a model folder is all we read).

import * as fs from 'fs';
import * as path from 'path';
import type { ChatMessage, ToolSchema } from './protocol';

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

interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  apply_chat_template(messages: TemplateMessage[], options: { tokenize: false; add_generation_prompt: boolean; tools?: ToolSchema[] }): string;
  chat_template: unknown;
  eos_token_id?: number;
  pad_token_id?: number;
  model?: { vocab: unknown[] | Map<string, number> | Record<string, number> };
  get_vocab?(): Map<string, number> | Record<string, number>;
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
  const transformers = await import('@huggingface/transformers');
  transformers.env.allowRemoteModels = false;
  transformers.env.allowLocalModels = true;
  transformers.env.localModelPath = '';
  const hf = (await transformers.AutoTokenizer.from_pretrained(dir, { local_files_only: true })) as unknown as HfTokenizer;
  const template = typeof hf.chat_template === 'string' ? hf.chat_template : undefined;
  // transformers 4.x exposes get_vocab() (and no longer `model`); older versions only `model.vocab`
  const vocab = hf.get_vocab ? hf.get_vocab() : hf.model?.vocab ?? [];
  const vocabSize = vocab instanceof Map ? vocab.size : Array.isArray(vocab) ? vocab.length : Object.keys(vocab).length;
  return {
    encode: (text) => Array.from(hf.encode(text, { add_special_tokens: false })),
    decode: (ids, options) => hf.decode([...ids], { skip_special_tokens: options?.skipSpecialTokens ?? false }),
    applyChatTemplate(messages, addGenerationPrompt, options) {
      if (!template) throw new Error(`${dir}: the tokenizer has no chat_template; use prompt/completion data or --prompt`);
      const tools = options?.tools?.length ? [...options.tools] : undefined;
      return hf.apply_chat_template(messages.map(templateMessage), { tokenize: false, add_generation_prompt: addGenerationPrompt, ...(tools ? { tools } : {}) });
    },
    hasChatTemplate: template !== undefined,
    chatTemplate: template,
    eosTokenId: hf.eos_token_id ?? undefined,
    padTokenId: hf.pad_token_id ?? undefined,
    vocabSize,
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
