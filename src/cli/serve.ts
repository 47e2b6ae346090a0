// `ftune serve --model DIR`: the playground's generation server. One process keeps one base model
// loaded; adapters are loaded on first use and kept (a few at a time). Requests arrive as ServeRequest
// JSON lines on stdin, answers stream back as ServeResponse JSON lines on stdout.
import * as path from 'path';
import * as readline from 'readline';
import type { ServeRequest, ServeResponse } from '../core/protocol';
import type { Quantize } from '../core/runConfig';
import { chatPrompt } from '../core/prompts';
import { generate } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import type { DecoderModel } from '../engine/model';
import { backendOption, parse, QUANTIZE_OPTIONS, QUANTIZE_USAGE, quantizeOption, str, UsageError } from './args';
import { loadBaseModel, loadModel, resolveQuantize } from './modelArgs';

export const SERVE_USAGE = `usage: ftune serve --model DIR [--backend B] ${QUANTIZE_USAGE}   (ServeRequest JSON lines on stdin)
    An adapter from a run is served on the base precision the run trained with, unless --quantize is given.`;
const MAX_ADAPTERS = 4;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { model: { type: 'string' }, backend: { type: 'string' }, ...QUANTIZE_OPTIONS }, SERVE_USAGE);
  const modelDir = str(values, 'model');
  if (!modelDir) throw new UsageError('--model is required');
  const given = quantizeOption(values);
  const loaded = await loadModel(modelDir, undefined, backendOption(values), given);
  // The base at each precision asked for (the playground compares adapters of 16-bit and nf4 runs side by side).
  const bases = new Map<Quantize, DecoderModel>([[loaded.quantize, loaded.model]]);
  const baseFor = async (quantize: Quantize): Promise<DecoderModel> => {
    let base = bases.get(quantize);
    if (!base) {
      base = await loadBaseModel(modelDir, quantize, loaded.backend);
      bases.set(quantize, base);
    }
    return base;
  };
  const send = (r: ServeResponse) => process.stdout.write(JSON.stringify(r) + '\n');
  const adapters = new Map<string, LoraAdapter>();
  const running = new Map<string, AbortController>();
  const queue: Extract<ServeRequest, { type: 'generate' }>[] = [];
  let busy = false;

  const adapterFor = (dir: string | undefined): LoraAdapter | undefined => {
    if (!dir) return undefined;
    const key = path.resolve(dir);
    let a = adapters.get(key);
    if (!a) {
      a = LoraAdapter.load(key, loaded.model);
      adapters.set(key, a);
      if (adapters.size > MAX_ADAPTERS) {
        const [oldest, old] = adapters.entries().next().value as [string, LoraAdapter];
        adapters.delete(oldest);
        old.dispose();
      }
    }
    return a;
  };

  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length > 0) {
      const req = queue.shift()!;
      const controller = running.get(req.id) ?? new AbortController();
      try {
        if (path.resolve(req.ref.model) !== path.resolve(modelDir)) throw new Error(`this server holds ${modelDir}, not ${req.ref.model}`);
        const adapter = adapterFor(req.ref.adapter);
        const model = await baseFor(req.ref.adapter ? resolveQuantize(given, req.ref.adapter) : loaded.quantize);
        const text = req.messages ? chatPrompt(loaded.tokenizer, req.messages, req.tools) : req.prompt ?? '';
        const promptIds = loaded.tokenizer.encode(text);
        const ids: number[] = [];
        let shown = '';
        const result = await generate(model, {
          promptIds, options: req.options, eosIds: model.config.eos_token_id, adapter, signal: controller.signal,
          onToken: (id) => {
            ids.push(id);
            const decoded = loaded.tokenizer.decode(ids, { skipSpecialTokens: true });
            // Hold back a partial UTF-8 character until the next token completes it.
            const delta = decoded.endsWith('\uFFFD') ? '' : decoded.slice(shown.length);
            if (delta) shown = decoded;
            send({ type: 'token', id: req.id, token_id: id, text: delta });
          },
        });
        send({
          type: 'done', id: req.id, text: loaded.tokenizer.decode(result.tokenIds, { skipSpecialTokens: true }), token_ids: result.tokenIds,
          prompt_tokens: promptIds.length, tokens_per_second: result.tokenIds.length / Math.max(1e-6, result.seconds), cancelled: result.cancelled,
        });
      } catch (err) {
        send({ type: 'error', id: req.id, message: (err as Error).message });
      } finally {
        running.delete(req.id);
      }
    }
    busy = false;
  };

  send({ type: 'ready', backend: `${loaded.backend.name} (${loaded.backend.device})` });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let req: ServeRequest;
    try {
      req = JSON.parse(line) as ServeRequest;
    } catch (err) {
      send({ type: 'error', message: `not a JSON request: ${(err as Error).message}` });
      continue;
    }
    if (req.type === 'shutdown') break;
    if (req.type === 'cancel') {
      const c = running.get(req.id);
      if (c) c.abort();
      const i = queue.findIndex((q) => q.id === req.id);
      if (i >= 0) {
        queue.splice(i, 1);
        send({ type: 'done', id: req.id, text: '', token_ids: [], prompt_tokens: 0, tokens_per_second: 0, cancelled: true });
      }
      continue;
    }
    if (req.type === 'count') {
      // answered at once (tokenizing is fast), even while a generation runs
      try {
        const text = req.messages ? loaded.tokenizer.applyChatTemplate(req.messages, false) : req.prompt ?? '';
        send({ type: 'count', id: req.id, tokens: loaded.tokenizer.encode(text).length });
      } catch (err) {
        send({ type: 'error', id: req.id, message: (err as Error).message });
      }
      continue;
    }
    if (req.type === 'generate') {
      running.set(req.id, new AbortController());
      queue.push(req);
      void pump();
      continue;
    }
    send({ type: 'error', message: `unknown request type ${JSON.stringify((req as { type?: unknown }).type)}` });
  }
  while (busy) await new Promise((r) => setTimeout(r, 20));
  for (const a of adapters.values()) a.dispose();
  for (const base of bases.values()) if (base !== loaded.model) base.dispose();
  loaded.dispose();
  return 0;
}
