// The evaluate-while-training flags of `ftune train` (issue 19): generation metrics, the best
// checkpoint, early stopping and TensorBoard. Each falls back to the saved config on --resume.
import { BEST_METRICS, isBestMetric, METRIC_KEYS } from '../core/bestMetric';
import { isMetricName, METRIC_NAMES, type MetricName } from '../core/metrics';
import { REPORT_TARGETS, type ReportTarget, type RunConfig } from '../core/runConfig';
import { number, str, UsageError, type Options, type Parsed } from './args';

export const EVAL_DURING_TRAINING_OPTIONS: Options = {
  'eval-metric': { type: 'string', multiple: true },
  golden: { type: 'string' },
  'eval-generate-limit': { type: 'string' },
  'eval-max-new-tokens': { type: 'string' },
  'best-metric': { type: 'string' },
  'early-stopping-patience': { type: 'string' },
  'early-stopping-threshold': { type: 'string' },
  'report-to': { type: 'string', multiple: true },
};

export const EVAL_DURING_TRAINING_USAGE = `    Evaluate while training: [--eval-metric exact-match|bleu|rouge|f1 ...] [--golden FILE] [--eval-generate-limit 64]
    [--eval-max-new-tokens 128] [--best-metric eval_loss|exact_match|bleu|rouge_l|f1] [--early-stopping-patience N]
    [--early-stopping-threshold X] [--report-to tensorboard]`;

type EvalFields = Pick<RunConfig, 'eval_metrics' | 'golden' | 'eval_generate_limit' | 'eval_max_new_tokens' | 'best_metric'
  | 'early_stopping_patience' | 'early_stopping_threshold' | 'report_to'>;

function list(values: Parsed, key: string): string[] | undefined {
  const raw = values[key];
  if (raw === undefined) return undefined;
  // `--eval-metric exact-match,bleu` and repeated flags both work.
  return (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);
}

export function evalDuringTrainingFromArgs(values: Parsed, base: Partial<RunConfig>): EvalFields {
  const metrics = list(values, 'eval-metric');
  for (const m of metrics ?? []) {
    if (!isMetricName(m)) throw new UsageError(`--eval-metric must be one of ${METRIC_NAMES.join(', ')}, got ${JSON.stringify(m)}`);
  }
  const reports = list(values, 'report-to');
  for (const r of reports ?? []) {
    if (!(REPORT_TARGETS as readonly string[]).includes(r)) throw new UsageError(`--report-to must be one of ${REPORT_TARGETS.join(', ')}, got ${JSON.stringify(r)}`);
  }
  const best = str(values, 'best-metric');
  if (best !== undefined && !isBestMetric(best)) throw new UsageError(`--best-metric must be one of ${BEST_METRICS.join(', ')}, got ${JSON.stringify(best)}`);
  const fields: EvalFields = {
    eval_metrics: metrics ? [...new Set(metrics as MetricName[])] : base.eval_metrics,
    golden: str(values, 'golden') ?? base.golden,
    eval_generate_limit: optionalNumber(values, 'eval-generate-limit', base.eval_generate_limit, 'positive-int'),
    eval_max_new_tokens: optionalNumber(values, 'eval-max-new-tokens', base.eval_max_new_tokens, 'positive-int'),
    best_metric: best ?? base.best_metric,
    early_stopping_patience: optionalNumber(values, 'early-stopping-patience', base.early_stopping_patience, 'int'),
    early_stopping_threshold: optionalNumber(values, 'early-stopping-threshold', base.early_stopping_threshold, 'nonneg'),
    report_to: reports ? [...new Set(reports as ReportTarget[])] : base.report_to,
  };
  // Unset fields stay out of run_config.json (a run without these flags writes the same file as before).
  for (const key of Object.keys(fields) as (keyof EvalFields)[]) if (fields[key] === undefined) delete fields[key];
  if (fields.best_metric && fields.best_metric !== 'eval_loss' && !(fields.eval_metrics ?? []).some((m) => METRIC_KEYS[m] === fields.best_metric)) {
    throw new UsageError(`--best-metric ${fields.best_metric} needs the matching --eval-metric`);
  }
  if (fields.golden && !(fields.eval_metrics ?? []).length) throw new UsageError('--golden is scored by --eval-metric: give one (e.g. --eval-metric exact-match)');
  return fields;
}

function optionalNumber(values: Parsed, key: string, fallback: number | undefined, check: 'int' | 'positive-int' | 'nonneg'): number | undefined {
  return str(values, key) === undefined ? fallback : number(values, key, 0, check);
}
