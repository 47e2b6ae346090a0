// Generation metrics over prompt/reference pairs: greedy answers, batched with the KV cache, decoded
// without special tokens and scored by src/core/metrics (exact match extracts answers as
// src/core/answer.ts does). Shared by `ftune eval --metric` and evaluation during training.
import { METRIC_KEYS, type GenerationMetricKey } from '../core/bestMetric';
import { readRecords, type ScanOptions } from '../core/formats';
import { computeMetric, type MetricName } from '../core/metrics';
import { promptAndReference, type PromptPair } from '../core/prompts';
import type { Tokenizer } from '../core/tokenizer';
import { generateGreedyBatch } from './generateBatch';
import type { LoraAdapter } from './lora';
import type { DecoderModel } from './model';

/** The pairs of a data file (chats: the last assistant turn; prompt/completion rows), with their lines. */
export async function readPromptPairs(
  file: string, options: ScanOptions, tokenizer: Tokenizer,
): Promise<{ pairs: (PromptPair & { line: number })[]; records: number }> {
  const { records } = await readRecords(file, options);
  const pairs = records.flatMap((r) => {
    const pair = promptAndReference(r.record, tokenizer);
    return pair ? [{ ...pair, line: r.line }] : [];
  });
  return { pairs, records: records.length };
}

export interface GenerationScores {
  /** each requested metric, under its event name (exact_match, bleu, rouge_l, f1). */
  metrics: Partial<Record<GenerationMetricKey, number>>;
  predictions: string[];
  examples: number;
  seconds: number;
}

export interface ScoreOptions {
  metrics: readonly MetricName[];
  maxNewTokens: number;
  /** prompts decoded together. */
  batchSize: number;
  adapter?: LoraAdapter;
}

export async function scoreGenerations(
  model: DecoderModel, tokenizer: Tokenizer, pairs: readonly PromptPair[], options: ScoreOptions,
): Promise<GenerationScores> {
  const started = Date.now();
  const padId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  const eosIds = model.config.eos_token_id;
  const predictions: string[] = [];
  for (let i = 0; i < pairs.length; i += options.batchSize) {
    const chunk = pairs.slice(i, i + options.batchSize);
    const outputs = await generateGreedyBatch(model, {
      prompts: chunk.map((p) => tokenizer.encode(p.prompt)), maxNewTokens: options.maxNewTokens, eosIds, padId, adapter: options.adapter,
    });
    for (const ids of outputs) predictions.push(tokenizer.decode(ids, { skipSpecialTokens: true }));
  }
  const references = pairs.map((p) => p.reference);
  const metrics: Partial<Record<GenerationMetricKey, number>> = {};
  for (const name of options.metrics) metrics[METRIC_KEYS[name]] = computeMetric(name, predictions, references);
  return { metrics, predictions, examples: pairs.length, seconds: (Date.now() - started) / 1000 };
}
