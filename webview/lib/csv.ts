// Metrics CSV export of the loss panel: one row per (run, step), train and eval metrics of the same
// step on the same row, so the file opens as a tidy table in a spreadsheet or pandas.

import { emaSmooth } from '../../src/core/smoothing';
import { reportedGenerationMetrics } from './evalMetrics';
import type { RunMetrics } from './metrics';

export interface CsvRun {
  label: string;
  metrics: RunMetrics;
}

export const CSV_COLUMNS = [
  'run', 'step', 'epoch', 'tokens_seen', 'loss', 'loss_smoothed', 'lr', 'grad_norm',
  'tokens_per_second', 'elapsed', 'eval_loss', 'perplexity',
] as const;

/** RFC 4180 quoting: only fields with a comma, quote or line break are quoted, quotes doubled. */
export function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function metricsCsv(runs: readonly CsvRun[], smoothing: number): string {
  // Generation metrics (ftune train --eval-metric) as extra columns, only when some run has them.
  const generation = reportedGenerationMetrics(runs.map((r) => r.metrics));
  const lines: string[] = [[...CSV_COLUMNS, ...generation].join(',')];
  for (const run of runs) {
    const { steps, evals } = run.metrics;
    const smoothed = emaSmooth(steps.map((s) => s.loss), smoothing);
    const stepIndex = new Map(steps.map((s, i) => [s.step, i]));
    const evalByStep = new Map(evals.map((e) => [e.step, e]));
    const allSteps = [...new Set([...stepIndex.keys(), ...evalByStep.keys()])].sort((a, b) => a - b);
    for (const step of allSteps) {
      const i = stepIndex.get(step);
      const s = i === undefined ? undefined : steps[i];
      const e = evalByStep.get(step);
      const row: (string | number | undefined)[] = [
        run.label, step, s?.epoch, s?.tokens_seen, s?.loss, i === undefined ? undefined : smoothed[i], s?.lr,
        s?.grad_norm, s?.tokens_per_second, s?.elapsed, e?.eval_loss, e?.perplexity, ...generation.map((k) => e?.[k]),
      ];
      lines.push(row.map(csvField).join(','));
    }
  }
  return lines.join('\n') + '\n';
}
