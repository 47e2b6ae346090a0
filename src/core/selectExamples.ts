// Which items a run trains and evaluates on, for every method alike, in the seed tutorial's order:
// shuffle with the run's seed, hold out the last --eval-split fraction (unless --eval-data gave an eval
// set), then keep the first --limit. The exported TRL train.py mirrors this order (export/trl/trainPy.ts).
import { mixSeed, permutation } from './random';
import type { RunConfig } from './runConfig';

export interface Selection<T> {
  train: T[];
  eval: T[];
  /** human-readable notes for the log. */
  notes: string[];
}

export function selectExamples<T>(items: readonly T[], config: Pick<RunConfig, 'shuffle' | 'seed' | 'eval_split' | 'limit'>, evalItems?: T[]): Selection<T> {
  const notes: string[] = [];
  let pool = config.shuffle ? permutation(items.length, mixSeed(config.seed, 0x5eed)).map((i) => items[i]) : [...items];
  let evalSet = evalItems ?? [];
  if (!evalItems && config.eval_split > 0) {
    if (config.eval_split >= 1) throw new Error(`--eval-split must be a fraction below 1, got ${config.eval_split}`);
    const n = Math.max(1, Math.round(pool.length * config.eval_split));
    evalSet = pool.slice(pool.length - n);
    pool = pool.slice(0, pool.length - n);
    notes.push(`held out ${n} examples for evaluation (--eval-split ${config.eval_split})`);
  }
  if (config.limit > 0 && config.limit < pool.length) {
    pool = pool.slice(0, config.limit);
    notes.push(`training on the first ${config.limit} examples (--limit)`);
  }
  return { train: pool, eval: evalSet, notes };
}
