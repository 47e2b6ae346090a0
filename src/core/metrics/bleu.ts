// Corpus BLEU (Papineni et al., 2002) computed the way sacrebleu's `corpus_bleu` does:
// n-gram counts are summed over the whole corpus before the precisions are formed, each
// hypothesis n-gram count is clipped by its maximum count in any one reference, the
// precisions are combined by a geometric mean and scaled by a corpus brevity penalty that
// uses, per sentence, the reference length closest to the hypothesis length (ties → shorter,
// as NLTK and sacrebleu do).
//
// Tokenisation: sacrebleu's default "13a" (mteval-v13a) tokeniser, reproduced below, so the
// numbers are comparable with published sacrebleu scores. Case-sensitive by default (sacrebleu's
// default too). Scores are in [0, 1] (NLTK's scale; sacrebleu prints 100x).

export type BleuSmoothing = 'none' | 'exp';

export interface BleuOptions {
  /** Highest n-gram order (4 for BLEU-4). */
  maxOrder?: number;
  /**
   * 'exp' (sacrebleu's default): an order with zero matches gets precision 1/(2^k · total) with
   * k counting the zero-match orders so far, so one missing 4-gram does not zero the score.
   * 'none' (the paper, NLTK's default): any zero precision makes BLEU 0.
   */
  smoothing?: BleuSmoothing;
  lowercase?: boolean;
  /** Custom tokeniser; defaults to {@link tokenize13a}. */
  tokenize?: (text: string) => string[];
}

export interface BleuResult {
  score: number;
  /** Modified (clipped) n-gram precisions p_1..p_N after smoothing, in [0, 1]. */
  precisions: number[];
  /** Clipped matches and hypothesis n-gram totals per order, summed over the corpus. */
  matches: number[];
  totals: number[];
  brevityPenalty: number;
  hypLength: number;
  refLength: number;
}

/** sacrebleu's 13a tokeniser (mteval-v13a.pl): splits punctuation and symbols off words. */
export function tokenize13a(text: string): string[] {
  let line = text.replace(/<skipped>/g, '').replace(/-\n/g, '').replace(/\n/g, ' ');
  if (line.includes('&')) {
    line = line.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  }
  line = ` ${line} `;
  // Same four regexes as sacrebleu's TokenizerRegexp, in the same order.
  line = line.replace(/([\{-~\[-` -&\(-\+:-@\/])/g, ' $1 ');
  line = line.replace(/([^0-9])([\.,])/g, '$1 $2 ');
  line = line.replace(/([\.,])([^0-9])/g, ' $1 $2');
  line = line.replace(/([0-9])(-)/g, '$1 $2 ');
  return line.split(/\s+/).filter((t) => t.length > 0);
}

/** Counts of every n-gram of orders 1..maxOrder, keyed by order then by the joined tokens. */
export function ngramCounts(tokens: readonly string[], maxOrder: number): Map<string, number>[] {
  const byOrder: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      // U+0001 cannot appear inside a token produced by a whitespace split, so keys are unambiguous.
      const key = tokens.slice(i, i + n).join('\u0001');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    byOrder.push(counts);
  }
  return byOrder;
}

function closestRefLength(hypLength: number, refLengths: readonly number[]): number {
  let best = refLengths[0];
  for (const len of refLengths) {
    const d = Math.abs(len - hypLength);
    const bestD = Math.abs(best - hypLength);
    if (d < bestD || (d === bestD && len < best)) best = len;
  }
  return best;
}

/**
 * Corpus BLEU of `hypotheses` against `references[i]` (one or more references per hypothesis).
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly string[])[], options: BleuOptions = {}): BleuResult {
  if (hypotheses.length !== references.length) {
    throw new Error(`corpusBleu: ${hypotheses.length} hypotheses but ${references.length} reference sets`);
  }
  const maxOrder = options.maxOrder ?? 4;
  const smoothing = options.smoothing ?? 'exp';
  const tokenize = options.tokenize ?? tokenize13a;
  const prep = (s: string): string[] => tokenize(options.lowercase ? s.toLowerCase() : s);

  const matches = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let hypLength = 0;
  let refLength = 0;

  hypotheses.forEach((hyp, i) => {
    const refs = references[i];
    if (refs.length === 0) throw new Error(`corpusBleu: hypothesis ${i} has no reference`);
    const hypTokens = prep(hyp);
    const refTokens = refs.map(prep);
    hypLength += hypTokens.length;
    refLength += closestRefLength(hypTokens.length, refTokens.map((r) => r.length));

    // Clip each hypothesis n-gram by its largest count in any single reference.
    const maxRefCounts = ngramCounts([], maxOrder);
    for (const ref of refTokens) {
      ngramCounts(ref, maxOrder).forEach((counts, n) => {
        for (const [gram, c] of counts) {
          if (c > (maxRefCounts[n].get(gram) ?? 0)) maxRefCounts[n].set(gram, c);
        }
      });
    }
    ngramCounts(hypTokens, maxOrder).forEach((counts, n) => {
      for (const [gram, c] of counts) {
        totals[n] += c;
        matches[n] += Math.min(c, maxRefCounts[n].get(gram) ?? 0);
      }
    });
  });

  const precisions = new Array<number>(maxOrder).fill(0);
  const brevityPenalty = hypLength === 0 ? 0 : hypLength >= refLength ? 1 : Math.exp(1 - refLength / hypLength);
  // sacrebleu stops early when nothing at all matches, so smoothing never rescues that case.
  if (matches.every((m) => m === 0)) return { score: 0, precisions, matches, totals, brevityPenalty, hypLength, refLength };
  let smoothDenominator = 1;
  for (let n = 0; n < maxOrder; n++) {
    // No n-grams of this order anywhere (every hypothesis shorter than n): the score is 0,
    // as in sacrebleu without effective_order.
    if (totals[n] === 0) break;
    if (matches[n] === 0 && smoothing === 'exp') {
      smoothDenominator *= 2;
      precisions[n] = 1 / (smoothDenominator * totals[n]);
    } else {
      precisions[n] = matches[n] / totals[n];
    }
  }

  const score = precisions.some((p) => p === 0)
    ? 0
    : brevityPenalty * Math.exp(precisions.reduce((s, p) => s + Math.log(p), 0) / maxOrder);
  return { score, precisions, matches, totals, brevityPenalty, hypLength, refLength };
}
