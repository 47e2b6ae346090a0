// The Runs view's text for one run, without vscode (unit tested): the description beside the name and
// the Markdown tooltip.
import * as path from 'path';
import { formatDuration } from '../../core/estimate';
import { isMethod, methodSpec } from '../../core/methods';
import { basePrecision, quantizedBaseTag } from '../../core/runConfig';
import { headlineMetric, type RunSummary } from '../../core/runStore';

export function progressText(run: RunSummary): string {
  if (run.total_steps <= 0) return '';
  const pct = Math.floor((100 * run.step) / run.total_steps);
  return `${run.step}/${run.total_steps} (${pct}%)`;
}

export function describeRun(run: RunSummary, queuePosition = 0): string {
  const parts: string[] = [];
  if (run.status === 'queued') parts.push(queuePosition > 0 ? `queued #${queuePosition}` : 'queued');
  else if (run.status === 'running') {
    parts.push(progressText(run) || 'starting…');
    if (run.eta_seconds !== undefined) parts.push(`ETA ${formatDuration(run.eta_seconds)}`);
  } else {
    parts.push(run.status);
    if (run.status !== 'completed' && run.total_steps > 0) parts.push(`step ${run.step}/${run.total_steps}`);
  }
  if (run.loss !== undefined) parts.push(`loss ${run.loss.toFixed(4)}`);
  const headline = headlineMetric(run);
  if (headline) parts.push(headline);
  // a quantized base changes what the losses mean: say so where the run is listed
  const base = run.config && quantizedBaseTag(run.config);
  if (base) parts.push(base);
  return parts.join(' · ');
}

/** "metrics.jsonl:3: loss: expected number" (+ how many more) for the description of a run with bad files. */
export function problemSummary(problems: readonly string[]): string {
  return `⚠ ${problems[0]}${problems.length > 1 ? ` (+${problems.length - 1} more)` : ''}`;
}

/** The tooltip, as Markdown paragraphs. */
export function runTooltip(run: RunSummary): string {
  const method = `${isMethod(run.method) ? methodSpec(run.method).label : run.method} · ${run.full ? 'full' : `LoRA r=${run.config?.lora_r ?? '?'}`}`;
  const lines = [
    `**${run.name}** — ${run.status}`,
    `Model: ${path.basename(run.model) || '?'} (${run.model})`,
    `Method: ${method}${run.backend ? ` · backend ${run.backend}` : ''}`,
    run.config ? `Base weights: ${basePrecision(run.config)}` : '',
    run.config ? `Data: ${path.basename(run.config.data)}` : '',
    run.total_steps ? `Progress: ${progressText(run)}${run.eta_seconds !== undefined ? ` · ETA ${formatDuration(run.eta_seconds)}` : ''}` : '',
    run.loss !== undefined ? `Loss: ${run.loss.toFixed(4)}${run.eval_loss !== undefined ? ` · eval ${run.eval_loss.toFixed(4)}` : ''}` : '',
    run.metrics ? `Metrics: ${Object.entries(run.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' · ')}` : '',
    run.tokens_per_second ? `Speed: ${Math.round(run.tokens_per_second)} tokens/s` : '',
    run.error ? `Error: ${run.error}` : '',
    ...(run.problems ?? []).map((p) => `Invalid file, ignored: ${p}`),
    `Folder: ${run.dir}`,
  ];
  return lines.filter(Boolean).join('\n\n');
}
