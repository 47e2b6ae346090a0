// Which examples a run trains and evaluates on: the method's loader, --limit, --eval-split and
// --eval-data, applied in the seed tutorial's order (shuffle, hold out eval, take the subset).
import { loadExamples, type TokenizedExample } from '../core/examples';
import { isPlainTextFile, packTextBlocks } from '../core/packing';
import { permutation, mixSeed } from '../core/random';
import { selectExamples } from '../core/selectExamples';
import { describeMapping } from '../core/columnAliases';
import type { RunConfig } from '../core/runConfig';
import type { Tokenizer } from '../core/tokenizer';

export interface TrainingData {
  train: TokenizedExample[];
  eval: TokenizedExample[];
  /** examples dropped for exceeding --max-length. */
  skipped: number;
  /** human-readable notes for the log. */
  notes: string[];
}

async function load(file: string, config: RunConfig, tokenizer: Tokenizer): Promise<{ examples: TokenizedExample[]; skipped: number; format: string }> {
  if (config.method === 'cpt' || (config.format === 'text' && isPlainTextFile(file))) {
    const set = await packTextBlocks(file, tokenizer, { blockSize: config.max_length, fields: config.fields });
    return { examples: set.examples, skipped: set.skipped_too_long, format: 'text (packed)' };
  }
  const set = await loadExamples(file, tokenizer, { format: config.format, fields: config.fields, maxLength: config.max_length });
  // Say which columns were mapped when the file used other names (GSM8K's question/answer).
  const format = set.mapped ? `${set.format}, columns ${describeMapping(set.mapped)}` : set.format;
  return { examples: set.examples, skipped: set.skipped_too_long, format };
}

export async function loadTrainingData(config: RunConfig, tokenizer: Tokenizer): Promise<TrainingData> {
  const notes: string[] = [];
  const main = await load(config.data, config, tokenizer);
  notes.push(`${config.data}: ${main.examples.length} examples (format ${main.format}), ${main.skipped} dropped as longer than ${config.max_length} tokens`);
  let evalItems: TokenizedExample[] | undefined;
  let skipped = main.skipped;
  if (config.eval_data) {
    const ev = await load(config.eval_data, config, tokenizer);
    evalItems = ev.examples;
    skipped += ev.skipped;
    notes.push(`${config.eval_data}: ${ev.examples.length} eval examples`);
  }
  const selection = selectExamples(main.examples, config, evalItems);
  notes.push(...selection.notes);
  let pool = selection.train;
  const evalSet = selection.eval;
  for (const entry of config.mix) {
    const { file, ratio } = parseMix(entry);
    const general = await load(file, config, tokenizer);
    const wanted = mixCount(pool.length, ratio);
    const order = permutation(general.examples.length, mixSeed(config.seed, 0x313));
    // Sample without replacement while the file lasts, then cycle (a small general set is reused).
    const picked = Array.from({ length: wanted }, (_, i) => general.examples[order[i % order.length]]);
    notes.push(`mixed in ${picked.length} general examples from ${file} (${Math.round(ratio * 100)}% of the training mix, against forgetting)`);
    pool = [...pool, ...picked];
  }
  return { train: pool, eval: evalSet, skipped, notes };
}

/** `FILE:RATIO` → the file and the share (0 ≤ ratio < 1) its examples take in the final training mix. */
export function parseMix(entry: string): { file: string; ratio: number } {
  const colon = entry.lastIndexOf(':');
  const ratio = Number(entry.slice(colon + 1));
  if (colon <= 0 || !Number.isFinite(ratio) || ratio < 0 || ratio >= 1) throw new Error(`--mix expects FILE:RATIO with 0 <= RATIO < 1, got ${JSON.stringify(entry)}`);
  return { file: entry.slice(0, colon), ratio };
}

/** How many general examples make them `ratio` of a mix with `n` task examples: m / (n + m) = ratio. */
export function mixCount(n: number, ratio: number): number {
  return Math.round((n * ratio) / (1 - ratio));
}
