// `ftune generate`: one completion of a raw prompt or a chat, printed as it is produced.
import { parseChatMessages, parseToolList } from '../core/formats';
import type { ChatMessage, DecodingOptions, ToolSchema } from '../core/protocol';
import { chatPrompt } from '../core/prompts';
import { generate } from '../engine/generate';
import { backendOption, number, parse, QUANTIZE_OPTIONS, QUANTIZE_USAGE, quantizeOption, str, UsageError, type Parsed } from './args';
import { loadModel } from './modelArgs';

export const GENERATE_USAGE = `usage: ftune generate --model DIR [--adapter DIR] (--prompt TEXT | --messages JSON [--tools JSON]) [--max-new-tokens N]
    [--greedy | --temperature T --top-p P --top-k K] [--seed N] [--no-stop] [--json] [--backend B] ${QUANTIZE_USAGE}
    --quantize: the base precision (default: the one the adapter's run trained with, else 16-bit as stored)`;

export function decodingOptions(values: Parsed): DecodingOptions {
  const sampling = ['temperature', 'top-p', 'top-k'].some((k) => str(values, k) !== undefined);
  if (values.greedy === true && sampling) throw new UsageError('--greedy cannot be combined with --temperature / --top-p / --top-k');
  return {
    max_new_tokens: number(values, 'max-new-tokens', 128, 'positive-int'),
    greedy: !sampling,
    temperature: number(values, 'temperature', 1, 'nonneg'),
    top_p: number(values, 'top-p', 1, 'nonneg'),
    top_k: number(values, 'top-k', 0, 'int'),
    seed: number(values, 'seed', 0, 'int'),
    stop: values['no-stop'] !== true,
  };
}

export function parseMessages(raw: string): ChatMessage[] {
  const parsed = parseChatMessages(parseJsonOption('--messages', raw), '--messages');
  if (!parsed.ok) throw new UsageError(`--messages must be a JSON list of {"role": ..., "content": ...} objects (${parsed.reasons.join('; ')})`);
  return parsed.record;
}

/** `--tools JSON`: the function schemas a chat prompt shows the model (as in data rows' "tools"). */
export function parseToolsOption(raw: string | undefined): ToolSchema[] | undefined {
  if (raw === undefined) return undefined;
  const parsed = parseToolList(parseJsonOption('--tools', raw));
  if (!parsed.ok) throw new UsageError(`--tools: ${parsed.reasons.join('; ')}`);
  return parsed.record;
}

function parseJsonOption(option: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`${option} is not valid JSON (${(err as Error).message})`);
  }
}

export const DECODING_OPTIONS = {
  'max-new-tokens': { type: 'string' },
  greedy: { type: 'boolean' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  seed: { type: 'string' },
  'no-stop': { type: 'boolean' },
} as const;

export async function generateCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    model: { type: 'string' }, adapter: { type: 'string' }, prompt: { type: 'string' }, messages: { type: 'string' }, tools: { type: 'string' },
    json: { type: 'boolean' }, backend: { type: 'string' }, ...DECODING_OPTIONS, ...QUANTIZE_OPTIONS,
  }, GENERATE_USAGE);
  const modelDir = str(values, 'model');
  if (!modelDir) throw new UsageError('--model is required');
  const prompt = str(values, 'prompt'), messages = str(values, 'messages');
  if ((prompt === undefined) === (messages === undefined)) throw new UsageError('give exactly one of --prompt or --messages');
  const tools = parseToolsOption(str(values, 'tools'));
  if (tools && messages === undefined) throw new UsageError('--tools needs --messages (tools are shown through the chat template)');
  const options = decodingOptions(values);
  const loaded = await loadModel(modelDir, str(values, 'adapter'), backendOption(values), quantizeOption(values));
  try {
    const text = prompt ?? chatPrompt(loaded.tokenizer, parseMessages(messages!), tools);
    const promptIds = loaded.tokenizer.encode(text);
    const json = values.json === true;
    let printed = '';
    const newIds: number[] = [];
    const result = await generate(loaded.model, {
      promptIds, options, eosIds: loaded.model.config.eos_token_id, adapter: loaded.adapter,
      onToken: (id) => {
        if (json) return;
        newIds.push(id);
        const decoded = loaded.tokenizer.decode(newIds, { skipSpecialTokens: true });
        if (!decoded.endsWith('\uFFFD')) {
          process.stdout.write(decoded.slice(printed.length));
          printed = decoded;
        }
      },
    });
    const textOut = loaded.tokenizer.decode(result.tokenIds, { skipSpecialTokens: true });
    if (json) process.stdout.write(JSON.stringify({ text: textOut, token_ids: result.tokenIds, prompt_tokens: promptIds.length }) + '\n');
    else process.stdout.write(textOut.slice(printed.length) + '\n');
    return 0;
  } finally {
    loaded.dispose();
  }
}
