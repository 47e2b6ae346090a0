// The wizard's evaluate-while-training choices, without vscode (unit tested): the golden set that
// "Split Dataset" wrote beside the training file, and what generating on it costs per run.
import * as path from 'path';

/**
 * `<stem>.golden.jsonl` beside the data file, as `ftune data split` names it (the data file itself may
 * be the split's `<stem>.train.jsonl` or the unsplit `<stem>.jsonl`).
 */
export function goldenCandidates(dataFile: string): string[] {
  const dir = path.dirname(dataFile);
  const base = path.basename(dataFile);
  const stem = base.replace(/\.jsonl$/, '').replace(/\.(train|eval)$/, '');
  return [path.join(dir, `${stem}.golden.jsonl`)].filter((f) => f !== dataFile);
}

export interface EvalCost {
  /** examples generated per evaluation (--eval-generate-limit caps the golden set). */
  examples: number;
  evaluations: number;
  /** at most this many new tokens generated over the whole run. */
  tokens: number;
}

/**
 * Evaluations: step 0 (the base model), every `evalEvery` steps, and the end; each generates at most
 * examples × maxNewTokens tokens.
 */
export function evalCost(options: { goldenRows: number; limit: number; maxNewTokens: number; steps: number; evalEvery: number }): EvalCost {
  const examples = Math.min(options.goldenRows, options.limit);
  const during = options.evalEvery > 0 ? Math.floor(Math.max(0, options.steps - 1) / options.evalEvery) : 0;
  const evaluations = 2 + during;
  return { examples, evaluations, tokens: examples * options.maxNewTokens * evaluations };
}

export function describeEvalCost(cost: EvalCost, maxNewTokens: number): string {
  return `${cost.examples} examples × ${maxNewTokens} new tokens per evaluation, ${cost.evaluations} evaluations ` +
    `(step 0, ${cost.evaluations > 2 ? 'every eval interval, ' : ''}end) ≤ ${cost.tokens.toLocaleString('en-US')} generated tokens`;
}
