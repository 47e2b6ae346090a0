// One entry point for the evaluation metrics. Every metric is in [0, 1], higher is better.
//   exact-match  GSM8K answer extraction (src/core/answer.ts), SQuAD-normalised equality as fallback
//   f1           SQuAD token F1, mean over pairs
//   rouge        ROUGE-L F-measure (rouge_score defaults), mean over pairs
//   bleu         corpus BLEU-4, sacrebleu defaults (13a tokens, exp smoothing, case-sensitive)

import { corpusBleu } from './bleu';
import { exactMatch } from './exactMatch';
import { corpusRougeL } from './rouge';
import { squadF1 } from './squad';

export type MetricName = 'exact-match' | 'bleu' | 'rouge' | 'f1';
export const METRIC_NAMES: readonly MetricName[] = ['exact-match', 'bleu', 'rouge', 'f1'];

export function isMetricName(name: string): name is MetricName {
  return (METRIC_NAMES as readonly string[]).includes(name);
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
}

/** Corpus-level score of `predictions[i]` against `references[i]`. */
export function computeMetric(name: MetricName, predictions: string[], references: string[]): number {
  if (predictions.length !== references.length) {
    throw new Error(`computeMetric(${name}): ${predictions.length} predictions but ${references.length} references`);
  }
  switch (name) {
    case 'exact-match':
      return mean(predictions.map((p, i) => exactMatch(p, references[i])));
    case 'f1':
      return mean(predictions.map((p, i) => squadF1(p, references[i])));
    case 'rouge':
      return corpusRougeL(predictions, references);
    case 'bleu':
      return predictions.length === 0 ? 0 : corpusBleu(predictions, references.map((r) => [r])).score;
    default: {
      const unknown: never = name;
      throw new Error(`unknown metric ${String(unknown)}`);
    }
  }
}

export { corpusBleu, tokenize13a, ngramCounts } from './bleu';
export type { BleuOptions, BleuResult, BleuSmoothing } from './bleu';
export { rougeL, corpusRougeL, lcsLength, tokenizeRouge } from './rouge';
export type { RougeScore } from './rouge';
export { normalizeAnswer, squadExactMatch, squadF1 } from './squad';
export { exactMatch } from './exactMatch';
