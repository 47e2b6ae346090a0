// The worker thread that holds a model's tokenizer (see tokenizerSandbox.ts for why it lives here).
// Requests arrive on the MessagePort handed over in workerData; each reply is posted on that port,
// then the shared flag is raised so the main thread, blocked in Atomics.wait, wakes up and takes the
// reply with receiveMessageOnPort. Nothing else runs here, so a template or regular expression that
// never finishes only ever blocks this thread, which the main thread then terminates.

import { workerData, type MessagePort } from 'worker_threads';
import type { TokenizerReply, TokenizerRequest, WorkerData } from './tokenizerSandbox';
import type { ChatMessage, ToolSchema } from './protocol';

interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  apply_chat_template(messages: ChatMessage[], options: { tokenize: false; add_generation_prompt: boolean; chat_template?: string; tools?: ToolSchema[] }): string;
  chat_template: unknown;
  eos_token_id?: number;
  pad_token_id?: number;
  model?: { vocab: unknown[] | Map<string, number> | Record<string, number> };
  get_vocab?(): Map<string, number> | Record<string, number>;
}

const { port, flag: flagBuffer, maxOutputChars } = workerData as WorkerData & { port: MessagePort };
const flag = new Int32Array(flagBuffer);
let hf: HfTokenizer | undefined;

async function load(dir: string): Promise<TokenizerReply> {
  const transformers = await import('@huggingface/transformers');
  transformers.env.allowRemoteModels = false;
  transformers.env.allowLocalModels = true;
  transformers.env.localModelPath = '';
  hf = (await transformers.AutoTokenizer.from_pretrained(dir, { local_files_only: true })) as unknown as HfTokenizer;
  // transformers 4.x exposes get_vocab() (and no longer `model`); older versions only `model.vocab`
  const vocab = hf.get_vocab ? hf.get_vocab() : hf.model?.vocab ?? [];
  const vocabSize = vocab instanceof Map ? vocab.size : Array.isArray(vocab) ? vocab.length : Object.keys(vocab).length;
  return {
    ok: true,
    info: {
      chatTemplate: typeof hf.chat_template === 'string' ? hf.chat_template : undefined,
      eosTokenId: hf.eos_token_id ?? undefined,
      padTokenId: hf.pad_token_id ?? undefined,
      vocabSize,
    },
  };
}

function tooLong(what: string, length: number): Error {
  return new Error(`${what} produced ${length} characters, more than the limit of ${maxOutputChars}`);
}

async function handle(request: TokenizerRequest): Promise<TokenizerReply> {
  if (request.op === 'load') return load(request.dir);
  if (!hf) throw new Error('the tokenizer is not loaded');
  switch (request.op) {
    case 'encode':
      return { ok: true, ids: Array.from(hf.encode(request.text, { add_special_tokens: false })) };
    case 'decode': {
      const text = hf.decode(request.ids, { skip_special_tokens: request.skipSpecialTokens });
      if (text.length > maxOutputChars) throw tooLong('decoding', text.length);
      return { ok: true, text };
    }
    case 'render': {
      const custom = request.template ? { chat_template: request.template.chatTemplate, ...request.template.variables } : {};
      const tools = request.tools ? { tools: request.tools } : {};
      const text = hf.apply_chat_template(request.messages, { tokenize: false, add_generation_prompt: request.addGenerationPrompt, ...custom, ...tools });
      if (text.length > maxOutputChars) throw tooLong('the chat template', text.length);
      return { ok: true, text };
    }
  }
}

port.on('message', (request: TokenizerRequest) => {
  void handle(request)
    .catch((err: unknown): TokenizerReply => ({ ok: false, error: err instanceof Error ? err.message : String(err) }))
    .then((reply) => {
      port.postMessage(reply);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
});
