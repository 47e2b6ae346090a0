// The model's tokenizer and chat template, loaded from the local model folder through
// @huggingface/transformers (remote loading is switched off: a model folder is all we read).

import * as fs from 'fs';
import * as path from 'path';
import type { ChatMessage } from './protocol';

export interface Tokenizer {
  /** token ids of `text`; special tokens written in the text (e.g. `<|im_start|>`) are recognised. */
  encode(text: string): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** renders a conversation with the model's chat template. Throws when the folder has none. */
  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string;
  readonly hasChatTemplate: boolean;
  readonly chatTemplate: string | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly vocabSize: number;
}

interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  apply_chat_template(messages: ChatMessage[], options: { tokenize: false; add_generation_prompt: boolean; chat_template?: string }): string;
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
    applyChatTemplate(messages, addGenerationPrompt) {
      if (!template) throw new Error(`${dir}: the tokenizer has no chat_template; use prompt/completion data or --prompt`);
      return hf.apply_chat_template([...messages], { tokenize: false, add_generation_prompt: addGenerationPrompt });
    },
    hasChatTemplate: template !== undefined,
    chatTemplate: template,
    eosTokenId: hf.eos_token_id ?? undefined,
    padTokenId: hf.pad_token_id ?? undefined,
    vocabSize,
  };
}
