// "Golden set" of the playground: the first N examples of a JSONL file (GSM8K test: question/answer),
// asked to every column, scored by exact match of the extracted final answers (core/answer.ts).
// No vscode import: unit tested under node.

import { answersMatch, extractAnswer } from '../../core/answer';
import { readJsonl, type JsonObject } from '../../core/jsonl';
import type { ChatMessage, GoldenExampleResult, PlaygroundMode } from '../../core/protocol';

export interface GoldenExample {
  question: string;
  reference: string;
}

const QUESTION_KEYS = ['question', 'prompt', 'input', 'instruction', 'problem'];
const ANSWER_KEYS = ['answer', 'completion', 'output', 'response', 'solution', 'target'];

/**
 * One example from a JSONL row: question/answer style columns, or a `messages` conversation (its last
 * user turn is the question, the assistant turn after it the reference). Undefined for rows that fit neither.
 */
export function goldenExampleFromRow(row: JsonObject): GoldenExample | undefined {
  const question = QUESTION_KEYS.map((k) => row[k]).find((v): v is string => typeof v === 'string');
  const reference = ANSWER_KEYS.map((k) => row[k]).find((v): v is string => typeof v === 'string');
  if (question !== undefined && reference !== undefined) return { question, reference };
  if (!Array.isArray(row.messages)) return undefined;
  const messages = row.messages.filter(
    (m): m is ChatMessage => typeof m === 'object' && m !== null && typeof m.role === 'string' && typeof m.content === 'string',
  );
  const lastAssistant = messages.map((m) => m.role).lastIndexOf('assistant');
  const lastUser = messages.slice(0, Math.max(lastAssistant, 0)).map((m) => m.role).lastIndexOf('user');
  if (lastAssistant < 0 || lastUser < 0) return undefined;
  return { question: messages[lastUser].content, reference: messages[lastAssistant].content };
}

/** The first `count` usable examples of a JSONL file (rows that fit no known layout are skipped). */
export async function readGoldenSet(file: string, count: number): Promise<GoldenExample[]> {
  const examples: GoldenExample[] = [];
  for await (const entry of readJsonl(file)) {
    if (entry.value === undefined) continue;
    const example = goldenExampleFromRow(entry.value);
    if (example) examples.push(example);
    if (examples.length >= count) break;
  }
  if (examples.length === 0) {
    throw new Error(`no question/answer examples in ${file} (expected fields like "question" and "answer", or "messages")`);
  }
  return examples;
}

/** What a column is asked: the question as the user turn (chat), or followed by a newline (raw). */
export function goldenPrompt(example: GoldenExample, mode: PlaygroundMode, system: string): { prompt?: string; messages?: ChatMessage[] } {
  if (mode === 'raw') return { prompt: `${example.question}\n` };
  const messages: ChatMessage[] = [];
  if (system.trim() !== '') messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: example.question });
  return { messages };
}

export function scoreGoldenExample(index: number, example: GoldenExample, prediction: string): GoldenExampleResult {
  return {
    index,
    question: example.question,
    reference: example.reference,
    prediction,
    expected: extractAnswer(example.reference),
    got: extractAnswer(prediction),
    pass: answersMatch(prediction, example.reference),
  };
}
