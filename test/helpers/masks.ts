// Reading a loss mask back as text: which runs of tokens are trained and what the context is. Shared by
// the data tests (test/core/data.test.ts) and the real chat-template mask tests (masks.realTemplates).
import * as assert from 'node:assert/strict';
import { IGNORE_INDEX } from '../../src/core/examples';
import type { Tokenizer } from '../../src/core/tokenizer';

/** A tokenized example: its ids and labels (IGNORE_INDEX where the loss does not train). */
export interface MaskedTokens {
  input_ids: readonly number[];
  labels: readonly number[];
}

/** The decoded text of the trained tokens, run by run. */
export function trainedRuns(example: MaskedTokens, tokenizer: Tokenizer): string[] {
  const runs: string[] = [];
  let current: number[] = [];
  example.labels.forEach((label, t) => {
    if (label !== IGNORE_INDEX) {
      assert.equal(label, example.input_ids[t], 'a label is the token at its own position (unshifted)');
      current.push(label);
    } else if (current.length) { runs.push(tokenizer.decode(current)); current = []; }
  });
  if (current.length) runs.push(tokenizer.decode(current));
  return runs;
}

/** The decoded text of everything not trained (the context). */
export function contextText(example: MaskedTokens, tokenizer: Tokenizer): string {
  return tokenizer.decode(example.input_ids.filter((_, t) => example.labels[t] === IGNORE_INDEX));
}
