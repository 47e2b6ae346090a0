// Says what a JSONL file is: row count, detected format, the column mapping the trainer needs
// (GSM8K's question/answer → prompt/completion), and the first problems as `line N: reason`.
// Pure node (no VS Code) so it is unit-tested directly.

import { DETECTION_ROWS, scanRecords } from '../core/formats';
import { readJsonl } from '../core/jsonl';

export { describeMapping } from '../core/columnAliases';

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

/**
 * Scans a file with the trainer's own reader (core/formats.ts scanRecords): the same format detection
 * and column aliases (core/columnAliases.ts) and the same checks, so the Datasets view and the wizard
 * report exactly what `ftune train` would map and reject.
 */
export async function scanJsonlFile(file: string, maxIssues = 20): Promise<DatasetScan> {
  const result = await scanRecords(file, { format: 'auto' }, () => undefined);
  const issues = result.problems.map((p) => ({ line: Math.max(1, p.line), reason: p.reason }));
  return {
    rows: result.rows,
    format: result.format ?? 'unknown',
    fields: { ...(result.mapped ?? {}) },
    columns: await firstColumns(file),
    issues: issues.slice(0, maxIssues),
    issueCount: issues.length,
  };
}

/** The columns of the first object row (offered when mapping columns by hand). */
async function firstColumns(file: string): Promise<string[]> {
  for await (const entry of readJsonl(file)) {
    if (entry.value !== undefined) return Object.keys(entry.value);
    if (entry.line > DETECTION_ROWS) break;
  }
  return [];
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

