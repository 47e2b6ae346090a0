// Golden sets as tests: which JSONL files are golden sets, and their examples as test cases, read the
// way `ftune eval --metric exact-match` reads them (same loader, same prompt, same reference), so a run in
// the Testing view counts exactly what the CLI counts. No vscode import: unit tested.

import * as path from 'path';
import { exactMatch } from '../../core/metrics/exactMatch';
import { extractAnswer } from '../../core/answer';
import { readJsonl, type JsonObject } from '../../core/jsonl';
import { detectRowFormat, scanRecords, type FieldMap, type NormalizedRecord, type Problem } from '../../core/formats';
import type { ChatMessage, ModelRef } from '../../core/protocol';
import type { GenerateRequest } from '../panels/serveClient';
import { readProvenance } from '../../core/datasets/provenance';

/** `*.golden.jsonl`, or a file Split Dataset marked golden in its provenance. */
export function isGoldenFile(file: string): boolean {
  if (!file.endsWith('.jsonl')) return false;
  if (path.basename(file).endsWith('.golden.jsonl')) return true;
  return readProvenance(file)?.role === 'golden';
}

export interface GoldenCase {
  /** 1-based line of the example in the file. */
  line: number;
  /** the first words of the question. */
  label: string;
  /** what the model is asked: a raw prompt, or the conversation before the reference answer. */
  prompt?: string;
  messages?: ChatMessage[];
  reference: string;
}

export interface GoldenFile {
  cases: GoldenCase[];
  /** the column mapping used (question/answer files): the `--field` arguments `ftune eval` needs for the same result. */
  fields: FieldMap;
  problems: Problem[];
}

/** The mapping the CLI suggests for common column names (formats.ts's detectionFailure hints). */
const COLUMN_PAIRS: [string, string][] = [['question', 'answer'], ['instruction', 'output'], ['input', 'output'], ['problem', 'solution']];

async function firstRow(file: string): Promise<JsonObject | undefined> {
  for await (const entry of readJsonl(file)) if (entry.value !== undefined) return entry.value;
  return undefined;
}

export async function fieldsFor(file: string): Promise<FieldMap> {
  const row = await firstRow(file);
  if (!row || detectRowFormat(row)) return {};
  const pair = COLUMN_PAIRS.find(([q, a]) => typeof row[q] === 'string' && typeof row[a] === 'string');
  return pair ? { prompt: pair[0], completion: pair[1] } : {};
}

/** `ftune eval` arguments for the same file read the same way. */
export function evalFieldArgs(fields: FieldMap): string[] {
  return Object.entries(fields).flatMap(([key, column]) => ['--field', `${key}=${column}`]);
}

export function firstWords(text: string, words = 8): string {
  const all = text.trim().split(/\s+/).filter(Boolean);
  return all.length <= words ? all.join(' ') : `${all.slice(0, words).join(' ')}…`;
}

/** core/prompts.ts's promptAndReference, with the conversation left for `ftune serve` to render with the chat template. */
export function caseOf(line: number, record: NormalizedRecord): GoldenCase | undefined {
  if (record.kind === 'prompt-completion') return { line, label: firstWords(record.prompt), prompt: record.prompt, reference: record.completion };
  if (record.kind !== 'messages') return undefined;
  const last = record.messages.map((m) => m.role).lastIndexOf('assistant');
  if (last < 0) return undefined;
  const messages = record.messages.slice(0, last);
  const question = [...messages].reverse().find((m) => m.role === 'user')?.content ?? messages[messages.length - 1]?.content ?? '';
  return { line, label: firstWords(question), messages, reference: record.messages[last].content };
}

export async function readGoldenFile(file: string): Promise<GoldenFile> {
  const fields = await fieldsFor(file);
  const cases: GoldenCase[] = [];
  const scan = await scanRecords(file, { format: 'auto', fields }, ({ line, record }) => {
    const c = caseOf(line, record);
    if (c) cases.push(c);
  });
  return { cases, fields, problems: scan.problems };
}

export interface CaseResult {
  pass: boolean;
  expected?: string;
  got?: string;
  /** "expected 72, got 68" */
  summary: string;
}

/** Pass / fail exactly as `ftune eval --metric exact-match` scores an example. */
export function scoreCase(reference: string, prediction: string): CaseResult {
  const pass = exactMatch(prediction, reference) === 1;
  const expected = extractAnswer(reference);
  const got = extractAnswer(prediction);
  const summary = expected === undefined
    ? (pass ? 'matches the reference' : 'does not match the reference text')
    : `expected ${expected}, got ${got ?? 'no answer'}`;
  return { pass, expected, got, summary };
}

/** The file's line in the test tree: "7/10 passed (70%) on <model>". */
export function passRate(passed: number, total: number, model: string): string {
  const percent = total === 0 ? 0 : Math.round((100 * passed) / total);
  return `${passed}/${total} passed (${percent}%) on ${model}`;
}

/** `ftune eval`'s default answer length: the counts only agree with the same limit. */
export const EVAL_MAX_NEW_TOKENS = 256;

/** The generation request for a case: greedy, stopping at end-of-sequence, like `ftune eval`. */
export function caseRequest(id: string, c: GoldenCase, ref: ModelRef, maxNewTokens = EVAL_MAX_NEW_TOKENS): GenerateRequest {
  return { id, ref, prompt: c.prompt, messages: c.messages, options: { max_new_tokens: maxNewTokens, greedy: true, stop: true } };
}
