// Training examples: validated records turned into token ids and labels (the unshifted targets;
// -100 = not trained, the loss does the shift). Masking follows shared/conformance/README.md:
//   messages           whole conversation through the chat template; each assistant turn is trained on
//                      the tokens it contributes to that rendering (content, reasoning, tool calls and
//                      end-of-turn marker; see chatSpans.ts)
//   prompt-completion  prompt and completion tokenized separately, no template: prompt + completion + eos,
//                      labels on completion + eos
//   text               ids + eos, all trained

import * as path from 'path';
import { renderWithAssistantSpans, templateFailureReason, unrenderedTurn, type ConversationInput } from './chatSpans';
import type { DataFormat } from './runConfig';
import type { Tokenizer } from './tokenizer';
import {
  DataFileError, checkFields, readRecords,
  type NormalizedRecord, type ParsedRecord, type PreferenceRecord, type Problem, type RecordFormat,
} from './formats';

import { TokenizerBudgetError } from './tokenizerSandbox';

export { DataFileError } from './formats';

export const IGNORE_INDEX = -100;

export interface TokenizedExample {
  input_ids: number[];
  labels: number[];
  /** the line of the data file it came from (for error messages and previews). */
  line: number;
}

export interface ExampleSet {
  format: RecordFormat;
  examples: TokenizedExample[];
  /** examples longer than maxLength: dropped, never truncated (a cut-off answer teaches the wrong thing). */
  skipped_too_long: number;
  /** non-blank lines in the file. */
  rows: number;
  /** the column mapping format detection chose (GSM8K: question→prompt, answer→completion), if any. */
  mapped?: Readonly<Record<string, string>>;
}

export interface LoadExamplesOptions {
  format?: DataFormat;
  fields?: Readonly<Record<string, string>>;
  /** longest example kept, in tokens; undefined = no limit. */
  maxLength?: number;
}

export type SftRecord = Exclude<NormalizedRecord, PreferenceRecord>;
export type TokenizedSequence = Omit<TokenizedExample, 'line'>;

/**
 * Reads, validates and tokenizes a JSONL file. Every bad line is reported at once, as a DataFileError,
 * before any tokenization starts.
 */
export async function loadExamples(file: string, tokenizer: Tokenizer, options: LoadExamplesOptions = {}): Promise<ExampleSet> {
  rejectPlainText(file);
  const fields = checkFields(options.fields);
  const { format, records, rows, mapped } = await readRecords(file, { format: options.format ?? 'auto', fields });
  if (format === 'preference') {
    throw new DataFileError([{ file, line: 0, reason: 'this is preference data (prompt/chosen/rejected); train it with DPO, or convert it to messages for SFT' }]);
  }
  const unusable = tokenizerProblems(file, records, tokenizer);
  if (unusable.length) throw new DataFileError(unusable);

  const maxLength = options.maxLength ?? Number.POSITIVE_INFINITY;
  const examples: TokenizedExample[] = [];
  const problems: Problem[] = [];
  let skipped = 0;
  for (const { line, record } of records) {
    let sequence: TokenizedSequence;
    try {
      sequence = tokenizeRecord(record as SftRecord, tokenizer);
    } catch (err) {
      problems.push(tokenizationProblem(file, line, err));
      // Over budget: every later example would wait the budget out as well; stop at the first.
      if (err instanceof TokenizerBudgetError) break;
      continue;
    }
    if (sequence.input_ids.length > maxLength) skipped += 1;
    else examples.push({ ...sequence, line });
  }
  if (problems.length) throw new DataFileError(problems);
  return { format, examples, skipped_too_long: skipped, rows, mapped };
}

/**
 * A record the tokenizer or chat template could not turn into tokens, as `file:line: reason`. Over
 * budget (tokenizerSandbox.ts) the reason is the budget message itself: "the chat template did not
 * finish within 10 s".
 */
export function tokenizationProblem(file: string, line: number, err: unknown): Problem {
  const message = err instanceof Error ? err.message : String(err);
  return { file, line, reason: err instanceof TokenizerBudgetError ? message : templateFailureReason(err) };
}

/** Plain-text files have no records; they are packed for continued pre-training instead. */
function rejectPlainText(file: string): void {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.txt' || ext === '.md') {
    throw new DataFileError([{ file, line: 0, reason: 'a plain-text file has no examples; use it for continued pre-training (text packing) or convert it to JSONL' }]);
  }
}

/** Whole-file problems that would make every record fail the same way: reported once, up front. */
export function tokenizerProblems(file: string, records: readonly ParsedRecord[], tokenizer: Tokenizer): Problem[] {
  const problems: Problem[] = [];
  const conversation = records.find((r) => needsChatTemplate(r.record));
  if (conversation && !tokenizer.hasChatTemplate) {
    problems.push({ file, line: conversation.line, reason: 'conversations need a chat template, and this model\'s tokenizer has none (use prompt/completion data for a base model)' });
  }
  const plain = records.find((r) => r.record.kind === 'prompt-completion' || r.record.kind === 'text');
  if (plain && tokenizer.eosTokenId === undefined) {
    problems.push({ file, line: plain.line, reason: 'the tokenizer has no eos token to end the example with' });
  }
  return problems;
}

function needsChatTemplate(record: NormalizedRecord): boolean {
  if (record.kind === 'messages') return true;
  if (record.kind !== 'preference') return false;
  return record.tools !== undefined || typeof record.prompt !== 'string' || typeof record.chosen !== 'string' || typeof record.rejected !== 'string';
}

export function tokenizeRecord(record: SftRecord, tokenizer: Tokenizer): TokenizedSequence {
  switch (record.kind) {
    case 'messages': return tokenizeConversation(record, tokenizer);
    case 'prompt-completion': return tokenizePromptCompletion(record.prompt, record.completion, tokenizer);
    case 'text': return tokenizeText(record.text, tokenizer);
  }
}

/**
 * Renders the whole conversation once and trains each assistant turn at index >= trainFrom on the
 * tokens it contributes to that rendering (src/core/chatSpans.ts finds the character spans; here they
 * become token positions). An assistant turn that ends up with no token is a ConversationMaskError.
 */
export function tokenizeConversation(conversation: ConversationInput, tokenizer: Tokenizer): TokenizedSequence {
  const { text, spans } = renderWithAssistantSpans(conversation, tokenizer);
  const input_ids = tokenizer.encode(text);
  const labels = new Array<number>(input_ids.length).fill(IGNORE_INDEX);
  const tokenAt = tokenPositions(text, input_ids, spans.flatMap((s) => [s.start, s.end]), tokenizer);
  for (const span of spans) {
    const from = tokenAt(span.start, 'start');
    const to = tokenAt(span.end, 'end');
    if (to <= from) throw unrenderedTurn(span.turn);
    for (let t = from; t < to; t++) labels[t] = input_ids[t];
  }
  return { input_ids, labels };
}

/**
 * Maps character positions of `text` to token positions of its encoding `ids`. Usually every boundary
 * falls between tokens (they sit next to special tokens or newlines), and then the pieces between the
 * boundaries encode to exactly `ids` one after another: one pass, each character encoded once. Otherwise
 * each boundary is placed by encoding the text before it: its tokens agree with `ids` up to the boundary,
 * and a token the boundary cuts in two counts as inside the span (it carries span text).
 */
function tokenPositions(text: string, ids: readonly number[], positions: readonly number[], tokenizer: Tokenizer): (at: number, side: 'start' | 'end') => number {
  const cuts = [...new Set(positions)].filter((p) => p > 0 && p < text.length).sort((a, b) => a - b);
  const tokenIndex = new Map<number, number>();
  let count = 0;
  let clean = true;
  [...cuts, text.length].forEach((cut, k) => {
    const piece = tokenizer.encode(text.slice(k === 0 ? 0 : cuts[k - 1], cut));
    for (let j = 0; j < piece.length && clean; j++) clean = ids[count + j] === piece[j];
    count += piece.length;
    tokenIndex.set(cut, count);
  });
  if (clean && count === ids.length) {
    return (at) => (at <= 0 ? 0 : tokenIndex.get(at) ?? ids.length);
  }
  return (at, side) => {
    if (at >= text.length) return ids.length;
    if (at <= 0) return 0;
    const prefix = tokenizer.encode(text.slice(0, at));
    const agreed = sharedPrefix(ids, prefix);
    return agreed === prefix.length || side === 'start' ? agreed : Math.min(agreed + 1, ids.length);
  };
}

export function tokenizePromptCompletion(prompt: string, completion: string, tokenizer: Tokenizer): TokenizedSequence {
  const eos = requireEos(tokenizer);
  const promptIds = tokenizer.encode(prompt);
  const completionIds = [...tokenizer.encode(completion), eos];
  return {
    input_ids: [...promptIds, ...completionIds],
    labels: [...promptIds.map(() => IGNORE_INDEX), ...completionIds],
  };
}

export function tokenizeText(text: string, tokenizer: Tokenizer): TokenizedSequence {
  const ids = [...tokenizer.encode(text), requireEos(tokenizer)];
  return { input_ids: ids, labels: [...ids] };
}

export function requireEos(tokenizer: Tokenizer): number {
  if (tokenizer.eosTokenId === undefined) throw new Error('the tokenizer has no eos token');
  return tokenizer.eosTokenId;
}

/** How many leading tokens of `part` agree with `whole`. */
function sharedPrefix(whole: readonly number[], part: readonly number[]): number {
  const n = Math.min(whole.length, part.length);
  let i = 0;
  while (i < n && whole[i] === part[i]) i++;
  return i;
}

/** Label tokens the loss actually uses: positions >= 1 (position 0 has nothing before it to predict it). */
export function countTrainedTokens(example: Pick<TokenizedExample, 'labels'>): number {
  let n = 0;
  for (let t = 1; t < example.labels.length; t++) if (example.labels[t] !== IGNORE_INDEX) n++;
  return n;
}
