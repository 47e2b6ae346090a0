// Says what a JSONL file is: row count, detected format, the column mapping the trainer needs
// (GSM8K's question/answer → prompt/completion), and the first problems as `line N: reason`.
// Pure node (no VS Code) so it is unit-tested directly.

import { DETECTION_ROWS, scanRecords } from '../core/formats';
import { readJsonl } from '../core/jsonl';

export type DetectedFormat = 'messages' | 'prompt-completion' | 'text' | 'preference' | 'unknown';

export interface DatasetIssue {
  /** 1-based line number in the file. */
  line: number;
  reason: string;
}

export interface DatasetScan {
  rows: number;
  format: DetectedFormat;
  /** trainer field → column, e.g. { prompt: 'question', completion: 'answer' }; empty when the names already match. */
  fields: Record<string, string>;
  /** columns of the first valid row. */
  columns: string[];
  /** the first `maxIssues` problems. */
  issues: DatasetIssue[];
  issueCount: number;
}

/** Column names that mean the same thing, most specific first. */
const ALIASES: Record<'prompt' | 'completion' | 'text' | 'messages' | 'chosen' | 'rejected', readonly string[]> = {
  messages: ['messages', 'conversations', 'conversation', 'chat'],
  prompt: ['prompt', 'question', 'instruction', 'query', 'input', 'problem'],
  completion: ['completion', 'answer', 'response', 'output', 'target', 'solution'],
  chosen: ['chosen'],
  rejected: ['rejected'],
  text: ['text', 'content', 'document'],
};

interface Detection {
  format: DetectedFormat;
  fields: Record<string, string>;
}

function pick(columns: readonly string[], key: keyof typeof ALIASES): string | undefined {
  return ALIASES[key].find((name) => columns.includes(name));
}

/** Detects the format from one row's columns. */
export function detectFormat(row: Record<string, unknown>): Detection {
  const columns = Object.keys(row);
  const mapped = (pairs: [string, string | undefined][]): Record<string, string> => {
    const fields: Record<string, string> = {};
    for (const [key, column] of pairs) if (column && column !== key) fields[key] = column;
    return fields;
  };
  const messages = pick(columns, 'messages');
  if (messages && Array.isArray(row[messages])) return { format: 'messages', fields: mapped([['messages', messages]]) };
  const chosen = pick(columns, 'chosen');
  const rejected = pick(columns, 'rejected');
  if (chosen && rejected) return { format: 'preference', fields: mapped([['prompt', pick(columns, 'prompt')], ['chosen', chosen], ['rejected', rejected]]) };
  const prompt = pick(columns, 'prompt');
  const completion = pick(columns, 'completion');
  if (prompt && completion) return { format: 'prompt-completion', fields: mapped([['prompt', prompt], ['completion', completion]]) };
  const text = pick(columns, 'text');
  if (text) return { format: 'text', fields: mapped([['text', text]]) };
  return { format: 'unknown', fields: {} };
}

/**
 * Scans a file: the column mapping comes from the aliases above (the first object row decides), and
 * every row is validated by the trainer's own checks (core/formats.ts scanRecords), so the Datasets
 * view reports exactly the lines `ftune train` would reject.
 */
export async function scanJsonlFile(file: string, maxIssues = 20): Promise<DatasetScan> {
  let detection: Detection | undefined;
  let columns: string[] = [];
  for await (const entry of readJsonl(file)) {
    if (entry.value === undefined) continue;
    const found = detectFormat(entry.value);
    if (found.format !== 'unknown') {
      detection = found;
      columns = Object.keys(entry.value);
      break;
    }
    if (!columns.length) columns = Object.keys(entry.value);
    if (entry.line > DETECTION_ROWS) break;
  }
  const fields = detection?.fields ?? {};
  const result = await scanRecords(file, { format: detection && detection.format !== 'unknown' ? detection.format : 'auto', fields }, () => undefined);
  const issues = result.problems.map((p) => ({ line: Math.max(1, p.line), reason: p.reason }));
  return {
    rows: result.rows,
    format: result.format ?? 'unknown',
    fields: { ...fields },
    columns,
    issues: issues.slice(0, maxIssues),
    issueCount: issues.length,
  };
}

export function formatLabel(format: DetectedFormat): string {
  switch (format) {
    case 'messages':
      return 'chat messages';
    case 'prompt-completion':
      return 'prompt → completion';
    case 'text':
      return 'plain text';
    case 'preference':
      return 'preference pairs';
    case 'unknown':
      return 'unknown format';
  }
}

/** `question→prompt, answer→completion` for display. */
export function describeMapping(fields: Record<string, string>): string {
  return Object.entries(fields).map(([key, column]) => `${column}→${key}`).join(', ');
}
