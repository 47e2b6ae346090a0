// What a model is asked and what it should answer, for generation-based evaluation and RL prompts:
// the last assistant turn of a chat (the prompt is everything before it, with the generation prompt),
// or the completion of a prompt/completion row.
import type { NormalizedRecord } from './formats';
import type { Tokenizer } from './tokenizer';

export interface PromptPair {
  prompt: string;
  reference: string;
}

export function promptAndReference(record: NormalizedRecord, tokenizer: Tokenizer): PromptPair | undefined {
  if (record.kind === 'prompt-completion') return { prompt: record.prompt, reference: record.completion };
  if (record.kind !== 'messages') return undefined;
  const last = record.messages.map((m) => m.role).lastIndexOf('assistant');
  if (last < 0) return undefined;
  return { prompt: tokenizer.applyChatTemplate(record.messages.slice(0, last), true), reference: record.messages[last].content };
}
