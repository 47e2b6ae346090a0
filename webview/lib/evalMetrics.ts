// The loss panel's generation-metric charts (ftune train --eval-metric) and the best evaluation
// (--best-metric) marked on every chart. Pure (no DOM): unit tested under node.

import { GENERATION_METRIC_KEYS, isBestMetric, judgeEvaluation, type BestMetric, type GenerationMetricKey } from '../../src/core/bestMetric';
import type { BestEvaluation, LossXAxis, TrainerEvent } from '../../src/core/protocol';
import { tokensAtStep, type RunMetrics, type XY } from './metrics';

export const GENERATION_CHART_TITLES: Readonly<Record<GenerationMetricKey, string>> = {
  exact_match: 'Exact match',
  bleu: 'BLEU',
  rouge_l: 'ROUGE-L',
  f1: 'F1',
};

/** One generation metric over the run's evaluations, the base model's (step 0) first. */
export function generationSeries(metrics: RunMetrics, xAxis: LossXAxis, key: GenerationMetricKey): XY[] {
  return metrics.evals
    .filter((e) => typeof e[key] === 'number')
    .map((e) => ({ x: xAxis === 'tokens' ? tokensAtStep(metrics.steps, e.step) : e.step, y: e[key]! }));
}

/** The generation metrics any of these runs reported, in the fixed order of the charts. */
export function reportedGenerationMetrics(runs: readonly RunMetrics[]): GenerationMetricKey[] {
  return GENERATION_METRIC_KEYS.filter((k) => runs.some((r) => r.evals.some((e) => typeof e[k] === 'number')));
}

/**
 * The run's best evaluation: what the trainer said in its last `done`/`stopped` event, else (while it
 * runs) the same judgement the trainer makes, over the evaluations so far.
 */
export function bestEvaluation(events: readonly TrainerEvent[], metrics: RunMetrics, config: { best_metric?: string } | null): Omit<BestEvaluation, 'path'> | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if ((e.type === 'done' || e.type === 'stopped') && e.best) return { metric: e.best.metric, value: e.best.value, step: e.best.step };
    if (e.type === 'started') break;
  }
  const configured = config?.best_metric;
  const metric: BestMetric = typeof configured === 'string' && isBestMetric(configured) ? configured : 'eval_loss';
  let best: Omit<BestEvaluation, 'path'> | undefined;
  for (const e of metrics.evals) {
    const value = metric === 'eval_loss' ? e.eval_loss : e[metric];
    if (typeof value !== 'number') continue;
    if (judgeEvaluation(metric, value, best?.value, 0, { patience: 0, threshold: 0 }).improved) best = { metric, value, step: e.step };
  }
  return best;
}
