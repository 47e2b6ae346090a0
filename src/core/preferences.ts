// Preference pairs for DPO. Each side is the prompt followed by that response, tokenized exactly like
// an SFT conversation, with labels on the response's assistant turns only: a sequence log-prob is the
// sum over those label tokens (conformance dpo.json). String prompts / responses become user /
// assistant messages (TRL); when the model has no chat template and everything is a string, the pair
// is tokenized like prompt/completion data instead (base-model style).

import type { ChatMessage } from './protocol';
import type { Tokenizer } from './tokenizer';
import { DataFileError, checkFields, readRecords, type PreferenceRecord, type Problem } from './formats';
import { tokenizationProblem, tokenizeConversation, tokenizePromptCompletion, tokenizerProblems, type TokenizedExample, type TokenizedSequence } from './examples';
import { TokenizerBudgetError } from './tokenizerSandbox';

export interface PreferencePair {
  chosen: TokenizedExample;
  rejected: TokenizedExample;
  line: number;
}

export interface PreferenceSet {
  format: 'preference';
  pairs: PreferencePair[];
  /** pairs where either side is longer than maxLength (dropped whole, never truncated). */
  skipped_too_long: number;
  rows: number;
}

export interface LoadPreferenceOptions {
  fields?: Readonly<Record<string, string>>;
  maxLength?: number;
}

/** Reads, validates (every bad line reported before tokenizing) and tokenizes a preference file. */
export async function loadPreferencePairs(file: string, tokenizer: Tokenizer, options: LoadPreferenceOptions = {}): Promise<PreferenceSet> {
  const fields = checkFields(options.fields);
  const { records, rows } = await readRecords(file, { format: 'preference', fields });
  const unusable = tokenizerProblems(file, records, tokenizer);
  if (unusable.length) throw new DataFileError(unusable);

  const maxLength = options.maxLength ?? Number.POSITIVE_INFINITY;
  const pairs: PreferencePair[] = [];
  const problems: Problem[] = [];
  let skipped = 0;
  for (const { line, record } of records) {
    let pair: { chosen: TokenizedSequence; rejected: TokenizedSequence };
    try {
      pair = tokenizePreference(record as PreferenceRecord, tokenizer);
    } catch (err) {
      problems.push(tokenizationProblem(file, line, err));
      // Over budget: every later pair would wait the budget out as well; stop at the first.
      if (err instanceof TokenizerBudgetError) break;
      continue;
    }
    if (pair.chosen.input_ids.length > maxLength || pair.rejected.input_ids.length > maxLength) skipped += 1;
    else pairs.push({ chosen: { ...pair.chosen, line }, rejected: { ...pair.rejected, line }, line });
  }
  if (problems.length) throw new DataFileError(problems);
  return { format: 'preference', pairs, skipped_too_long: skipped, rows };
}

export function tokenizePreference(record: PreferenceRecord, tokenizer: Tokenizer): { chosen: TokenizedSequence; rejected: TokenizedSequence } {
  const allStrings = typeof record.prompt === 'string' && typeof record.chosen === 'string' && typeof record.rejected === 'string';
  if (allStrings && !tokenizer.hasChatTemplate) {
    return {
      chosen: tokenizePromptCompletion(record.prompt as string, record.chosen as string, tokenizer),
      rejected: tokenizePromptCompletion(record.prompt as string, record.rejected as string, tokenizer),
    };
  }
  const prompt = asMessages(record.prompt, 'user');
  const side = (response: string | ChatMessage[]): TokenizedSequence =>
    tokenizeConversation({ messages: [...prompt, ...asMessages(response, 'assistant')], trainFrom: prompt.length, tools: record.tools }, tokenizer);
  return { chosen: side(record.chosen), rejected: side(record.rejected) };
}

function asMessages(value: string | ChatMessage[], role: 'user' | 'assistant'): ChatMessage[] {
  return typeof value === 'string' ? [{ role, content: value }] : value;
}
