// Turns a run's TrainerEvents into the chart series of the loss panel and its one-line summary. Pure
// (no DOM), so it is unit tested under node and shared by the charts and the CSV export.

import type { EvalMetrics, LossRunPayload, LossXAxis, StepMetrics, TrainerEvent } from '../../src/core/protocol';
import { quantizedBaseTag } from '../../src/core/runConfig';
import { emaSmooth } from '../../src/core/smoothing';
import { isMethod, methodSpec } from '../../src/core/methods';

export interface XY {
  x: number;
  y: number;
}

export interface RunMetrics {
  steps: StepMetrics[];
  evals: EvalMetrics[];
}

/**
 * Step and eval metrics sorted by step. A resumed run re-logs the steps after its checkpoint, so for a
 * repeated step the LAST occurrence wins (it is the one the surviving weights came from).
 */
export function collectMetrics(events: readonly TrainerEvent[]): RunMetrics {
  const steps = new Map<number, StepMetrics>();
  const evals = new Map<number, EvalMetrics>();
  for (const event of events) {
    if (event.type === 'step') {
      const { type: _type, ...metrics } = event;
      steps.set(event.step, metrics);
    } else if (event.type === 'eval') {
      const { type: _type, ...metrics } = event;
      evals.set(event.step, metrics);
    }
  }
  const byStep = <T extends { step: number }>(a: T, b: T): number => a.step - b.step;
  return { steps: [...steps.values()].sort(byStep), evals: [...evals.values()].sort(byStep) };
}

/** Training tokens seen at `step`: from the last step event at or before it (evals carry no count). */
export function tokensAtStep(steps: readonly StepMetrics[], step: number): number {
  let lo = 0;
  let hi = steps.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid].step <= step) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found < 0 ? 0 : steps[found].tokens_seen;
}

export interface RunSeries {
  trainRaw: XY[];
  trainSmoothed: XY[];
  evalLoss: XY[];
  perplexity: XY[];
  lr: XY[];
  gradNorm: XY[];
  tokensPerSecond: XY[];
}

export type SeriesKey = keyof RunSeries;

export function buildSeries(metrics: RunMetrics, xAxis: LossXAxis, smoothing: number): RunSeries {
  const { steps, evals } = metrics;
  const stepX = (s: StepMetrics): number => (xAxis === 'tokens' ? s.tokens_seen : s.step);
  const evalX = (e: EvalMetrics): number => (xAxis === 'tokens' ? tokensAtStep(steps, e.step) : e.step);
  const smoothed = emaSmooth(steps.map((s) => s.loss), smoothing);
  return {
    trainRaw: steps.map((s) => ({ x: stepX(s), y: s.loss })),
    trainSmoothed: steps.map((s, i) => ({ x: stepX(s), y: smoothed[i] })),
    evalLoss: evals.map((e) => ({ x: evalX(e), y: e.eval_loss })),
    perplexity: evals.map((e) => ({ x: evalX(e), y: e.perplexity })),
    lr: steps.map((s) => ({ x: stepX(s), y: s.lr })),
    gradNorm: steps.map((s) => ({ x: stepX(s), y: s.grad_norm })),
    tokensPerSecond: steps.map((s) => ({ x: stepX(s), y: s.tokens_per_second })),
  };
}

export interface ExtraSeries {
  /** e.g. 'rewards/margins' (DPO), 'accuracy' (reward model), 'reward', 'kl' (GRPO); eval ones start with 'eval '. */
  name: string;
  eval: boolean;
  data: XY[];
}

/** Each method's own metrics (the `extra` of step and eval events), one series per name, in first-seen order. */
export function extraSeries(metrics: RunMetrics, xAxis: LossXAxis): ExtraSeries[] {
  const stepX = (s: StepMetrics): number => (xAxis === 'tokens' ? s.tokens_seen : s.step);
  const byName = new Map<string, ExtraSeries>();
  const add = (name: string, isEval: boolean, point: XY) => {
    let series = byName.get(name);
    if (!series) byName.set(name, (series = { name, eval: isEval, data: [] }));
    series.data.push(point);
  };
  for (const s of metrics.steps) for (const [k, v] of Object.entries(s.extra ?? {})) add(k, false, { x: stepX(s), y: v });
  for (const e of metrics.evals) {
    const x = xAxis === 'tokens' ? tokensAtStep(metrics.steps, e.step) : e.step;
    for (const [k, v] of Object.entries(e.extra ?? {})) add(`eval ${k}`, true, { x, y: v });
  }
  return [...byName.values()];
}

/** The x value of a step on the chosen axis (used to place markers such as the overfitting alarm). */
export function xOfStep(metrics: RunMetrics, xAxis: LossXAxis, step: number): number {
  return xAxis === 'tokens' ? tokensAtStep(metrics.steps, step) : step;
}

/** How the run ended, from its last terminal event (undefined while it is still running or unknown). */
export function runOutcome(events: readonly TrainerEvent[]): 'done' | 'stopped' | 'failed' | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const type = events[i].type;
    if (type === 'done' || type === 'stopped' || type === 'failed') return type;
    if (type === 'started') return undefined;
  }
  return undefined;
}

/**
 * The y title of the method-metrics chart, from the method registry: "GRPO (RLHF step 2) — watch reward"
 * when every run shown trains one method with a headline metric, else the generic title.
 */
export function methodChartTitle(methods: readonly (string | undefined)[]): string {
  const distinct = [...new Set(methods)];
  const only = distinct.length === 1 ? distinct[0] : undefined;
  const headline = isMethod(only) ? methodSpec(only).headline : undefined;
  return isMethod(only) && headline ? `${methodSpec(only).label} — watch ${headline.key}` : 'Method metrics';
}

/** A number as the panel shows it: 6 significant digits, exponent notation when very small or large. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(6)));
}

/**
 * A run's line in the panel's header: label, quantized base ("nf4 base": its losses are those of that
 * base), outcome, step and the latest losses.
 */
export function runHeaderText(payload: LossRunPayload, metrics: RunMetrics): string {
  const last = metrics.steps[metrics.steps.length - 1];
  const lastEval = metrics.evals[metrics.evals.length - 1];
  const started = payload.events.some((e) => e.type === 'started');
  const outcome = runOutcome(payload.events) ?? (started ? 'running' : 'no metrics yet');
  const base = payload.config ? quantizedBaseTag(payload.config) : undefined;
  const parts = [payload.label, ...(base ? [base] : []), outcome];
  if (last) parts.push(`step ${last.step}/${last.total_steps}`, `loss ${formatNumber(last.loss)}`);
  if (lastEval) parts.push(`eval ${formatNumber(lastEval.eval_loss)}`);
  return parts.join(' · ');
}
