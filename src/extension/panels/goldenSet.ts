// "Golden set" of the playground: the first N examples of a JSONL file (GSM8K test: question/answer),
// asked to every column, scored by exact match of the extracted final answers (core/answer.ts).
// No vscode import: unit tested under node.

import { answersMatch, extractAnswer } from '../../core/answer';
import { readJsonl, type JsonObject } from '../../core/jsonl';
import type { ChatMessage, GoldenExampleResult, ModelRef, PlaygroundMode } from '../../core/protocol';

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

export interface GoldenColumn {
  column_id: string;
  ref: ModelRef;
}

export interface GoldenRunHooks {
  /** generates one answer (the column's server queues it); `cancelled` when Stop interrupted it. */
  generate(column: GoldenColumn, id: string, prompt: { prompt?: string; messages?: ChatMessage[] }): Promise<{ text: string; cancelled: boolean }>;
  onExample(column: GoldenColumn, result: GoldenExampleResult, total: number): void;
  onDone(column: GoldenColumn, summary: { correct: number; scored: number; cancelled: boolean }): void;
  onError(column: GoldenColumn, message: string): void;
  /** checked before each example: true once the user pressed Stop. */
  stopped(): boolean;
}

/**
 * Asks every column every example and scores the answers. Columns run concurrently (columns on
 * different base models use different servers), each column's examples in order.
 */
export async function runGoldenSet(
  examples: readonly GoldenExample[],
  columns: readonly GoldenColumn[],
  mode: PlaygroundMode,
  system: string,
  requestId: string,
  hooks: GoldenRunHooks,
): Promise<void> {
  await Promise.all(
    columns.map(async (column) => {
      let correct = 0;
      let scored = 0;
      for (const [index, example] of examples.entries()) {
        if (hooks.stopped()) break;
        let answer: { text: string; cancelled: boolean };
        try {
          answer = await hooks.generate(column, `${requestId}/${column.column_id}/${index}`, goldenPrompt(example, mode, system));
        } catch (error) {
          hooks.onError(column, error instanceof Error ? error.message : String(error));
          return;
        }
        if (answer.cancelled) break;
        const result = scoreGoldenExample(index, example, answer.text);
        scored += 1;
        if (result.pass) correct += 1;
        hooks.onExample(column, result, examples.length);
      }
      hooks.onDone(column, { correct, scored, cancelled: scored < examples.length });
    }),
  );
}
