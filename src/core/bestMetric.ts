// Evaluate-while-training bookkeeping that needs no engine: the names generation metrics take in
// events, which evaluation is the best so far, and when early stopping ends a run. Semantics follow
// transformers' Trainer: the best is kept on any improvement (metric_for_best_model /
// greater_is_better); the patience counter restarts only on an improvement larger than the threshold
// (EarlyStoppingCallback's early_stopping_patience / early_stopping_threshold).
import type { MetricName } from './metrics';
import type { BestEvaluation } from './protocol';

/** How a generation metric is named in `eval` events, metrics.jsonl and TensorBoard. */
export type GenerationMetricKey = 'exact_match' | 'bleu' | 'rouge_l' | 'f1';

export const METRIC_KEYS: Readonly<Record<MetricName, GenerationMetricKey>> = {
  'exact-match': 'exact_match',
  bleu: 'bleu',
  rouge: 'rouge_l',
  f1: 'f1',
};

export const GENERATION_METRIC_KEYS: readonly GenerationMetricKey[] = ['exact_match', 'bleu', 'rouge_l', 'f1'];

export type BestMetric = BestEvaluation['metric'];
export const BEST_METRICS: readonly BestMetric[] = ['eval_loss', ...GENERATION_METRIC_KEYS];

export function isBestMetric(name: string): name is BestMetric {
  return (BEST_METRICS as readonly string[]).includes(name);
}

/** Loss goes down; every generation metric (all in [0, 1]) goes up. */
export function greaterIsBetter(metric: BestMetric): boolean {
  return metric !== 'eval_loss';
}

/** The best evaluation of a run (trainer_state.json `best`, the `done` event). */
export type BestRecord = BestEvaluation;

/** What an evaluation changed. */
export interface BestVerdict {
  /** better than the best so far (or the first): the caller keeps this evaluation's weights as best. */
  improved: boolean;
  /** evaluations in a row without an improvement larger than the threshold (the patience counter). */
  evaluationsWithoutImprovement: number;
  /** set when early stopping ends the run here: says why, for the `stopped` event. */
  stopReason?: string;
}

export interface EarlyStoppingOptions {
  /** 0 = never stop early. */
  patience: number;
  /** an improvement must exceed this (absolute) to restart the patience counter. */
  threshold: number;
}

/**
 * Judges one evaluation's value of the best metric against the best so far. `best` is undefined before
 * the first evaluation; `counter` is the patience counter so far (kept in trainer_state.json).
 */
export function judgeEvaluation(
  metric: BestMetric, value: number, best: number | undefined, counter: number, early: EarlyStoppingOptions,
): BestVerdict {
  if (!Number.isFinite(value)) {
    // A NaN loss is never "best"; it counts against patience like any evaluation that did not improve.
    return withStop(metric, best, counter + 1, early, false);
  }
  if (best === undefined) return { improved: true, evaluationsWithoutImprovement: 0 };
  const better = greaterIsBetter(metric) ? value > best : value < best;
  const significant = better && Math.abs(value - best) > early.threshold;
  return withStop(metric, best, significant ? 0 : counter + 1, early, better);
}

function withStop(metric: BestMetric, best: number | undefined, counter: number, early: EarlyStoppingOptions, improved: boolean): BestVerdict {
  const verdict: BestVerdict = { improved, evaluationsWithoutImprovement: counter };
  if (early.patience > 0 && counter >= early.patience) {
    const by = early.threshold > 0 ? ` by more than ${early.threshold}` : '';
    verdict.stopReason = `early stopping: ${metric} did not improve${by} for ${counter} evaluation${counter === 1 ? '' : 's'} ` +
      `(--early-stopping-patience ${early.patience}); the best ${metric} is ${best === undefined ? 'none' : formatValue(best)}`;
  }
  return verdict;
}

function formatValue(v: number): string {
  return Number(v.toPrecision(6)).toString();
}
