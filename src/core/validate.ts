// Inspecting a data file without training on it: `ftune validate` (every problem, layout notes,
// counts, token-length statistics) and `ftune preview` / the extension's preview webview (each
// example as the model sees it: its tokens and which of them are trained). Pure functions; the CLI
// wrappers live in src/cli/validate.ts and src/cli/preview.ts.

import type { PreviewExample, PreviewToken, TokenStats, ValidationReport } from './protocol';

export type { TokenStats, ValidationReport };
import { describeMapping } from './columnAliases';
import type { DataFormat } from './runConfig';
import type { Tokenizer } from './tokenizer';
import {
  DataFileError, checkFields, formatProblem, scanRecords,
  type NormalizedRecord, type Problem,
} from './formats';
import { IGNORE_INDEX, countTrainedTokens, tokenizationProblem, tokenizeRecord, tokenizerProblems, type SftRecord, type TokenizedSequence } from './examples';
import { TokenizerBudgetError } from './tokenizerSandbox';
import { tokenizePreference } from './preferences';
import { isPlainTextFile, packTextBlocks } from './packing';

export interface DataInspectOptions {
  format?: DataFormat;
  fields?: Readonly<Record<string, string>>;
  /** enables token statistics (validate) — required for previews. */
  tokenizer?: Tokenizer;
  maxLength?: number;
}

export const MAX_REPORTED_PROBLEMS = 1000;
export const DEFAULT_MAX_LENGTH = 512;

/** Validates a whole file, streaming it (memory stays small even for very large files). */
export async function validateDataFile(file: string, options: DataInspectOptions = {}): Promise<ValidationReport> {
  const fields = checkFields(options.fields);
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  if (isPlainTextFile(file)) return validatePlainText(file, options, maxLength);

  const tokenizer = options.tokenizer;
  const counts: Record<string, number> = {};
  const bump = (key: string, by = 1): void => { counts[key] = (counts[key] ?? 0) + by; };
  const lengths: number[] = [];
  const extraProblems: Problem[] = [];
  const seenTokenizerProblems = new Set<string>();
  let trained = 0;

  const scan = await scanRecords(file, { format: options.format ?? 'auto', fields }, ({ line, record }) => {
    countRecord(record, bump);
    if (!tokenizer) return;
    const unusable = tokenizerProblems(file, [{ line, record }], tokenizer);
    if (unusable.length) {
      for (const p of unusable) if (!seenTokenizerProblems.has(p.reason)) { seenTokenizerProblems.add(p.reason); extraProblems.push(p); }
      return;
    }
    try {
      if (record.kind === 'preference') {
        const pair = tokenizePreference(record, tokenizer);
        lengths.push(Math.max(pair.chosen.input_ids.length, pair.rejected.input_ids.length));
        trained += countTrainedTokens(pair.chosen) + countTrainedTokens(pair.rejected);
      } else {
        const sequence = tokenizeRecord(record, tokenizer);
        lengths.push(sequence.input_ids.length);
        trained += countTrainedTokens(sequence);
      }
    } catch (err) {
      // Over budget: stop here, every later record would wait the budget out as well.
      if (err instanceof TokenizerBudgetError) throw new DataFileError([tokenizationProblem(file, line, err)]);
      extraProblems.push(tokenizationProblem(file, line, err));
    }
  });

  const problems = [...scan.problems, ...extraProblems].sort((a, b) => a.line - b.line);
  const notes = layoutNotes(scan.stats);
  if ((options.format ?? 'auto') === 'auto' && scan.format) {
    notes.unshift(`format detected from the first rows: ${scan.format}${scan.mapped ? `, columns ${describeMapping(scan.mapped)}` : ''}`);
  }
  const tokens = tokenizer && lengths.length ? tokenStats(lengths, maxLength, trained) : undefined;
  if (tokens && tokens.over_max_length > 0) {
    notes.push(`${tokens.over_max_length} example(s) are longer than --max-length ${maxLength} tokens and would be skipped in training`);
  }
  return {
    file,
    format: scan.format ?? null,
    ok: problems.length === 0,
    rows: scan.rows,
    valid_rows: scan.valid,
    problem_count: problems.length,
    problems: problems.slice(0, MAX_REPORTED_PROBLEMS).map(formatProblem),
    notes,
    counts,
    ...(tokens ? { tokens } : {}),
  };
}

async function validatePlainText(file: string, options: DataInspectOptions, maxLength: number): Promise<ValidationReport> {
  const report: ValidationReport = {
    file, format: 'text', ok: true, rows: 1, valid_rows: 1, problem_count: 0, problems: [],
    notes: ['plain-text file: one document, packed into blocks for continued pre-training'], counts: { documents: 1 },
  };
  if (!options.tokenizer) return report;
  try {
    const packed = await packTextBlocks(file, options.tokenizer, { blockSize: maxLength });
    const total = packed.examples.reduce((n, b) => n + b.input_ids.length, 0);
    report.counts.blocks = packed.examples.length;
    report.counts.tokens = total;
  } catch (err) {
    if (!(err instanceof DataFileError)) throw err;
    report.ok = false;
    report.valid_rows = 0;
    report.problem_count = err.problems.length;
    report.problems = err.problems.map(formatProblem);
  }
  return report;
}

function countRecord(record: NormalizedRecord, bump: (key: string, by?: number) => void): void {
  switch (record.kind) {
    case 'messages':
      bump('conversations');
      bump('turns', record.messages.length);
      bump('assistant_turns', record.messages.filter((m, i) => m.role === 'assistant' && i >= record.trainFrom).length);
      if (record.messages[0]?.role === 'system') bump('with_system_prompt');
      if (record.tools?.length) bump('with_tools');
      for (const m of record.messages) {
        if (m.tool_calls?.length) bump('tool_calls', m.tool_calls.length);
        if (m.role === 'assistant' && (m.reasoning_content?.trim() || m.content.includes('</think>'))) bump('reasoning_turns');
      }
      break;
    case 'prompt-completion': bump('examples'); break;
    case 'text': bump('documents'); bump('characters', record.text.length); break;
    case 'preference':
      bump('pairs');
      if (typeof record.chosen !== 'string') bump('conversational_pairs');
      break;
  }
}

function layoutNotes(stats: { bom: boolean; crlf_lines: number; blank_lines: number }): string[] {
  const notes: string[] = [];
  if (stats.bom) notes.push('the file starts with a UTF-8 byte order mark (accepted)');
  if (stats.crlf_lines) notes.push(`${stats.crlf_lines} line(s) end with CRLF (accepted)`);
  if (stats.blank_lines) notes.push(`${stats.blank_lines} blank line(s) (skipped)`);
  return notes;
}

export function tokenStats(lengths: readonly number[], maxLength: number, trainedTokens: number): TokenStats {
  const sorted = [...lengths].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = Math.floor(n / 2);
  return {
    examples: n,
    min: sorted[0],
    median: n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    // nearest-rank percentile: a length some example actually has
    p95: sorted[Math.max(0, Math.ceil(0.95 * n) - 1)],
    max: sorted[n - 1],
    max_length: maxLength,
    over_max_length: sorted.filter((l) => l > maxLength).length,
    total_tokens: sorted.reduce((a, b) => a + b, 0),
    trained_tokens: trainedTokens,
  };
}

export function formatReport(report: ValidationReport): string {
  const out: string[] = [];
  out.push(`${report.file}: ${report.format ?? 'unknown format'}, ${report.rows} row(s), ${report.valid_rows} valid`);
  for (const p of report.problems) out.push(p);
  if (report.problem_count > report.problems.length) out.push(`... and ${report.problem_count - report.problems.length} more`);
  for (const note of report.notes) out.push(`note: ${note}`);
  const counts = Object.entries(report.counts).map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`);
  if (counts.length) out.push(`counts: ${counts.join(', ')}`);
  const t = report.tokens;
  if (t) {
    out.push(`tokens per example: min ${t.min}, median ${t.median}, p95 ${t.p95}, max ${t.max}; ` +
      `${t.over_max_length} over max length ${t.max_length}; ${t.total_tokens} tokens, ${t.trained_tokens} trained`);
  }
  out.push(report.ok ? 'OK' : `${report.problem_count} problem(s)`);
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- preview

// PreviewToken / PreviewExample are the `ftune preview --json` contract (core/protocol.ts).
export type { PreviewExample, PreviewToken };

export function previewTokens(sequence: TokenizedSequence, tokenizer: Tokenizer): PreviewToken[] {
  return sequence.input_ids.map((id, t) => ({ id, text: tokenizer.decode([id]), trained: sequence.labels[t] !== IGNORE_INDEX }));
}

export interface PreviewOptions extends DataInspectOptions {
  tokenizer: Tokenizer;
  /** how many records (pairs for preference data, blocks for plain text). */
  n?: number;
}

/** The first `n` examples of a file as the model sees them. Bad lines among them raise a DataFileError. */
export async function previewExamples(file: string, options: PreviewOptions): Promise<PreviewExample[]> {
  const { tokenizer } = options;
  const n = options.n ?? 3;
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  if (isPlainTextFile(file)) {
    const packed = await packTextBlocks(file, tokenizer, { blockSize: maxLength, fields: options.fields });
    return packed.examples.slice(0, n).map((block) => ({ line: block.line, tokens: previewTokens(block, tokenizer) }));
  }
  const records: { line: number; record: NormalizedRecord }[] = [];
  const scan = await scanRecords(file, { format: options.format ?? 'auto', fields: checkFields(options.fields), maxRecords: n }, (r) => records.push(r));
  const problems = [...scan.problems, ...tokenizerProblems(file, records, tokenizer)];
  if (problems.length) throw new DataFileError(problems);
  const out: PreviewExample[] = [];
  const add = (line: number, sequence: TokenizedSequence, side?: 'chosen' | 'rejected'): void => {
    out.push({
      line,
      tokens: previewTokens(sequence, tokenizer),
      ...(side ? { side } : {}),
      ...(sequence.input_ids.length > maxLength ? { too_long: true } : {}),
    });
  };
  for (const { line, record } of records) {
    try {
      if (record.kind === 'preference') {
        const pair = tokenizePreference(record, tokenizer);
        add(line, pair.chosen, 'chosen');
        add(line, pair.rejected, 'rejected');
      } else {
        add(line, tokenizeRecord(record as SftRecord, tokenizer));
      }
    } catch (err) {
      throw new DataFileError([tokenizationProblem(file, line, err)]);
    }
  }
  return out;
}

/** Shows special characters so token boundaries stay visible (a token may be just "\n"). */
export function visibleTokenText(text: string): string {
  return text.replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

const ANSI = {
  reset: '\x1b[0m',
  // alternating backgrounds mark token boundaries; green = trained, grey = context only
  trained: ['\x1b[30;48;5;114m', '\x1b[30;48;5;150m'],
  context: ['\x1b[37;48;5;236m', '\x1b[37;48;5;239m'],
  heading: '\x1b[1m',
};

/**
 * Text rendering. With colour: trained tokens on green, the rest on grey, alternating shades between
 * neighbours. Without: tokens separated by '|', trained runs wrapped in «…».
 */
export function renderPreview(examples: readonly PreviewExample[], options: { color: boolean }): string {
  const out: string[] = [];
  if (!options.color) out.push('legend: tokens separated by |, trained tokens inside «…»');
  for (const example of examples) {
    const trainedCount = example.tokens.filter((t) => t.trained).length;
    const title = `line ${example.line}${example.side ? ` (${example.side})` : ''}: ${example.tokens.length} tokens, ${trainedCount} trained` +
      (example.too_long ? ' — longer than max length, skipped in training' : '');
    out.push(options.color ? `${ANSI.heading}${title}${ANSI.reset}` : title);
    out.push(options.color ? renderColored(example.tokens) : renderPlain(example.tokens));
    out.push('');
  }
  return out.join('\n');
}

function renderColored(tokens: readonly PreviewToken[]): string {
  return tokens.map((t, i) => {
    const palette = t.trained ? ANSI.trained : ANSI.context;
    // keep real line breaks after a visible \n so the text still reads as text
    const text = visibleTokenText(t.text) + (t.text.endsWith('\n') ? `${ANSI.reset}\n` : '');
    return `${palette[i % 2]}${text}${ANSI.reset}`;
  }).join('');
}

function renderPlain(tokens: readonly PreviewToken[]): string {
  let out = '';
  tokens.forEach((t, i) => {
    const previous = tokens[i - 1];
    if (t.trained && !previous?.trained) out += (i > 0 ? '|' : '') + '«';
    else if (!t.trained && previous?.trained) out += '»|';
    else if (i > 0) out += '|';
    out += visibleTokenText(t.text);
  });
  if (tokens.length && tokens[tokens.length - 1].trained) out += '»';
  return out;
}
