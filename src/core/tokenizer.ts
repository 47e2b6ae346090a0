// The model's tokenizer and chat template, loaded from the local model folder through
// @huggingface/transformers (remote loading is switched off: a model folder is all we read), in a
// worker thread with a time budget per call (tokenizerSandbox.ts).

import * as fs from 'fs';
import * as path from 'path';
import type { ChatMessage } from './protocol';
import { SandboxedTokenizer } from './tokenizerSandbox';

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
    applyChatTemplate(messages, addGenerationPrompt) {
      if (!template) throw new Error(`${dir}: the tokenizer has no chat_template; use prompt/completion data or --prompt`);
      return sandbox.render(messages, addGenerationPrompt);
    },
    hasChatTemplate: template !== undefined,
    chatTemplate: template,
    eosTokenId: info.eosTokenId,
    padTokenId: info.padTokenId,
    vocabSize: info.vocabSize,
  };
}
