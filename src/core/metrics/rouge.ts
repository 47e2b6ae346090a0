// ROUGE-L (Lin, 2004) as Google's `rouge-score` package computes it with its defaults
// (no stemming): lowercase, every run of characters outside [a-z0-9] becomes a separator,
// LCS over the resulting tokens, precision = LCS/|prediction|, recall = LCS/|target|,
// F = 2PR/(P+R) (rouge_score's fmeasure, i.e. beta = 1). The corpus score is the mean F over
// pairs, which is what rouge_score's BootstrapAggregator reports as the mid value's mean.

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** rouge_score's default tokeniser: lowercase, non-alphanumerics → spaces, split. */
export function tokenizeRouge(text: string): string[] {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, ' ').split(' ').filter((t) => t.length > 0);
}

/** Length of the longest common subsequence, O(|a|·|b|) time, O(|b|) memory. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/** ROUGE-L of one prediction against one target (rouge_score's `score(target, prediction)['rougeL']`). */
export function rougeL(prediction: string, target: string): RougeScore {
  const pred = tokenizeRouge(prediction);
  const ref = tokenizeRouge(target);
  if (pred.length === 0 || ref.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(ref, pred);
  const precision = lcs / pred.length;
  const recall = lcs / ref.length;
  const fmeasure = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, fmeasure };
}

/** Mean ROUGE-L F-measure over aligned prediction/reference pairs. */
export function corpusRougeL(predictions: readonly string[], references: readonly string[]): number {
  if (predictions.length !== references.length) {
    throw new Error(`corpusRougeL: ${predictions.length} predictions but ${references.length} references`);
  }
  if (predictions.length === 0) return 0;
  return predictions.reduce((s, p, i) => s + rougeL(p, references[i]).fmeasure, 0) / predictions.length;
}
