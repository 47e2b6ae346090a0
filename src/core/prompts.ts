// What a model is asked and what it should answer, for generation-based evaluation and RL prompts:
// the last assistant turn of a chat (the prompt is everything before it, with the generation prompt),
// or the completion of a prompt/completion row.
import { answerText } from './chatSpans';
import type { NormalizedRecord } from './formats';
import type { ChatMessage, ToolSchema } from './protocol';
import type { Tokenizer } from './tokenizer';

/**
 * The text a chat model continues: the conversation so far through the model's chat template with the
 * generation prompt. Training renders through the same tokenizer.applyChatTemplate (chatSpans.ts), so
 * reasoning, tool calls and `tools` reach the template the same way in training, `ftune generate`,
 * evaluation and the playground (`ftune serve`).
 */
export function chatPrompt(tokenizer: Tokenizer, messages: readonly ChatMessage[], tools?: readonly ToolSchema[]): string {
  return tokenizer.applyChatTemplate(messages, true, tools?.length ? { tools } : undefined);
}

export interface PromptPair {
  prompt: string;
  reference: string;
}

export function promptAndReference(record: NormalizedRecord, tokenizer: Tokenizer): PromptPair | undefined {
  if (record.kind === 'prompt-completion') return { prompt: record.prompt, reference: record.completion };
  if (record.kind !== 'messages') return undefined;
  const last = record.messages.map((m) => m.role).lastIndexOf('assistant');
  if (last < 0) return undefined;
  const answer = record.messages[last];
  // a reasoning model's reference is its answer, not the <think> block before it
  const reference = answer.content.includes('</think>') ? answerText(answer) : answer.content;
  return { prompt: chatPrompt(tokenizer, record.messages.slice(0, last), record.tools), reference };
}
