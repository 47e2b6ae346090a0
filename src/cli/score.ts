// `ftune score`: the reward a trained reward model (--method reward) gives a response to a prompt.
import type { ChatMessage } from '../core/protocol';
import * as tf from '@tensorflow/tfjs-core';
import { IGNORE_INDEX } from '../engine/loss';
import { scoreSequences } from '../engine/reward';
import { backendOption, parse, str, UsageError } from './args';
import { parseMessages } from './generate';
import { loadModel } from './modelArgs';
import { jsonLine } from './jsonOutput';

export const SCORE_USAGE = `usage: ftune score --model DIR --adapter REWARD_ADAPTER_DIR (--prompt TEXT --response TEXT | --messages JSON) [--json] [--backend B]
  --messages: a chat whose last turn is the assistant response to score`;

export async function scoreCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    model: { type: 'string' }, adapter: { type: 'string' }, prompt: { type: 'string' }, response: { type: 'string' },
    messages: { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' },
  }, SCORE_USAGE);
  const modelDir = str(values, 'model'), adapterDir = str(values, 'adapter');
  if (!modelDir || !adapterDir) throw new UsageError('--model and --adapter are required');
  const loaded = await loadModel(modelDir, adapterDir, backendOption(values));
  try {
    let messages: ChatMessage[];
    const raw = str(values, 'messages');
    if (raw !== undefined) messages = parseMessages(raw);
    else {
      const prompt = str(values, 'prompt'), response = str(values, 'response');
      if (prompt === undefined || response === undefined) throw new UsageError('give --prompt and --response, or --messages');
      messages = [{ role: 'user', content: prompt }, { role: 'assistant', content: response }];
    }
    // Rendered exactly as preference pairs are during training.
    const text = loaded.tokenizer.hasChatTemplate ? loaded.tokenizer.applyChatTemplate(messages, false) : messages.map((m) => m.content).join('');
    const ids = loaded.tokenizer.encode(text);
    const padId = loaded.tokenizer.padTokenId ?? loaded.tokenizer.eosTokenId ?? 0;
    const t = tf.tidy(() => scoreSequences(loaded.model, loaded.adapter!, [{ input_ids: ids, labels: ids.map(() => IGNORE_INDEX) }], padId));
    const reward = (await t.data())[0];
    t.dispose();
    process.stdout.write(values.json === true ? jsonLine('score', { reward, tokens: ids.length }) : `reward: ${reward}\n`);
    return 0;
  } finally {
    loaded.dispose();
  }
}
