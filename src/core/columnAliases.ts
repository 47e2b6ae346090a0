// Column names that mean the same thing as the trainer's own (GSM8K's question/answer are a prompt and
// a completion). One detector for the wizard, the Datasets view and `ftune train`: when a file's rows
// have none of the trainer's names, core/formats.ts scanRecords maps the columns found here and says so.

import type { RecordFormat } from './dataFormats';

/** Our key → the column names that mean it, most specific first (our own name first of all). */
export const COLUMN_ALIASES: Readonly<Record<'prompt' | 'completion' | 'text' | 'messages' | 'chosen' | 'rejected', readonly string[]>> = {
  messages: ['messages', 'conversations', 'conversation', 'chat'],
  prompt: ['prompt', 'question', 'instruction', 'query', 'input', 'problem'],
  completion: ['completion', 'answer', 'response', 'output', 'target', 'solution'],
  chosen: ['chosen'],
  rejected: ['rejected'],
  text: ['text', 'content', 'document'],
};

export interface ColumnDetection {
  format: RecordFormat;
  /** our key → the file's column, only where they differ (empty when the names already match). */
  fields: Record<string, string>;
}

/** The format one row's columns suggest, with the mapping to our names; undefined when none fits. */
export function detectColumnMapping(row: Readonly<Record<string, unknown>>): ColumnDetection | undefined {
  const columns = Object.keys(row);
  const pick = (key: keyof typeof COLUMN_ALIASES): string | undefined => COLUMN_ALIASES[key].find((name) => columns.includes(name));
  const mapped = (pairs: [string, string | undefined][]): Record<string, string> => {
    const fields: Record<string, string> = {};
    for (const [key, column] of pairs) if (column && column !== key) fields[key] = column;
    return fields;
  };
  const messages = pick('messages');
  if (messages && Array.isArray(row[messages])) return { format: 'messages', fields: mapped([['messages', messages]]) };
  const chosen = pick('chosen');
  const rejected = pick('rejected');
  if (chosen && rejected) return { format: 'preference', fields: mapped([['prompt', pick('prompt')], ['chosen', chosen], ['rejected', rejected]]) };
  const prompt = pick('prompt');
  const completion = pick('completion');
  if (prompt && completion) return { format: 'prompt-completion', fields: mapped([['prompt', prompt], ['completion', completion]]) };
  const text = pick('text');
  if (text) return { format: 'text', fields: mapped([['text', text]]) };
  return undefined;
}

/** `question→prompt, answer→completion` for display. */
export function describeMapping(fields: Readonly<Record<string, string>>): string {
  return Object.entries(fields).map(([key, column]) => `${column}→${key}`).join(', ');
}
