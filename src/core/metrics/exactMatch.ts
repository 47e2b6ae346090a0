// Exact match for generated answers. GSM8K-style references (a `#### n` marker or a number)
// are compared through answer extraction, so "…so she has 72 clips." matches "#### 72".
// A reference with no extractable answer (plain text, no number) falls back to SQuAD's
// normalised string equality, so the metric stays meaningful on non-numeric datasets.

import { answersMatch, extractAnswer } from '../answer';
import { squadExactMatch } from './squad';

export function exactMatch(prediction: string, reference: string): number {
  if (extractAnswer(reference) === undefined) return squadExactMatch(prediction, reference);
  return answersMatch(prediction, reference) ? 1 : 0;
}
