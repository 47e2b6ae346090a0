// `ftune eval`: token-weighted loss / perplexity over a file, or a generation metric (greedy
// decoding of each example's prompt, batched with the KV cache, scored against its reference answer).
import { loadExamples } from '../core/examples';
import { isMetricName, METRIC_NAMES, type MetricName } from '../core/metrics';
import { evaluateLoss } from '../engine/evaluate';
import { readPromptPairs, scoreGenerations } from '../engine/generationMetrics';
import { backendOption, DATA_OPTIONS, fields, formatOption, number, parse, QUANTIZE_OPTIONS, QUANTIZE_USAGE, quantizeOption, str, UsageError } from './args';
import { loadModel } from './modelArgs';

export const EVAL_USAGE = `usage: ftune eval --model DIR [--adapter DIR] --data FILE [--format ...] [--field KEY=COLUMN ...] [--max-length N]
    [--metric loss|exact-match|bleu|rouge|f1] [--limit N] [--max-new-tokens N] [--batch-size N] [--json] [--backend B] ${QUANTIZE_USAGE}
    --quantize: the base precision (default: the one the adapter's run trained with, else 16-bit as stored)`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS, model: { type: 'string' }, adapter: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' },
    backend: { type: 'string' }, metric: { type: 'string' }, limit: { type: 'string' }, 'max-new-tokens': { type: 'string' },
    'batch-size': { type: 'string' }, ...QUANTIZE_OPTIONS,
  }, EVAL_USAGE);
  const modelDir = str(values, 'model'), data = str(values, 'data');
  if (!modelDir) throw new UsageError('--model is required');
  if (!data) throw new UsageError('--data is required');
  const metric = str(values, 'metric') ?? 'loss';
  if (metric !== 'loss' && !isMetricName(metric)) throw new UsageError(`--metric must be loss or one of ${METRIC_NAMES.join(', ')}`);
  const format = formatOption(values);
  const fieldMap = fields(values);
  const maxLength = number(values, 'max-length', 512, 'positive-int');
  const limit = number(values, 'limit', 0, 'int');
  const loaded = await loadModel(modelDir, str(values, 'adapter'), backendOption(values), quantizeOption(values));
  try {
    let result: Record<string, number>;
    if (metric === 'loss') {
      const set = await loadExamples(data, loaded.tokenizer, { format, fields: fieldMap, maxLength });
      const examples = limit > 0 ? set.examples.slice(0, limit) : set.examples;
      const padId = loaded.tokenizer.padTokenId ?? loaded.tokenizer.eosTokenId ?? 0;
      const r = await evaluateLoss(loaded.model, loaded.adapter, examples, { batchSize: number(values, 'batch-size', 4, 'positive-int'), padId });
      result = { loss: r.loss, perplexity: r.perplexity, label_tokens: r.label_tokens, examples: r.examples, skipped: set.skipped_too_long };
    } else {
      const { pairs, records } = await readPromptPairs(data, { format, fields: fieldMap }, loaded.tokenizer);
      const chosen = limit > 0 ? pairs.slice(0, limit) : pairs;
      const scores = await scoreGenerations(loaded.model, loaded.tokenizer, chosen, {
        metrics: [metric as MetricName], maxNewTokens: number(values, 'max-new-tokens', 256, 'positive-int'),
        batchSize: number(values, 'batch-size', 4, 'positive-int'), adapter: loaded.adapter,
      });
      const score = Object.values(scores.metrics)[0]!;
      result = { [metric]: score, examples: chosen.length, skipped: records - pairs.length };
    }
    if (values.json === true) process.stdout.write(JSON.stringify(result) + '\n');
    else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k}: ${Number.isInteger(v) ? v : v.toFixed(6)}\n`);
    return 0;
  } finally {
    loaded.dispose();
  }
}
