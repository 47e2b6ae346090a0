// SQuAD-style answer scoring, following the official SQuAD v2.0 evaluation script
// (normalize_answer, compute_exact, compute_f1): lowercase, strip ASCII punctuation
// (Python's string.punctuation), drop the articles a/an/the, collapse whitespace; F1 over the
// multiset of tokens. Like v2.0 (unlike v1.1), two answers that are both empty after
// normalisation score 1, and an empty answer against a non-empty one scores 0.

// Python's string.punctuation: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
const ARTICLES = /\b(a|an|the)\b/g;

export function normalizeAnswer(text: string): string {
  return text.toLowerCase().replace(PUNCTUATION, '').replace(ARTICLES, ' ').split(/\s+/).filter((t) => t.length > 0).join(' ');
}

function answerTokens(text: string): string[] {
  const normalised = normalizeAnswer(text);
  return normalised.length > 0 ? normalised.split(' ') : [];
}

/** 1 when the normalised answers are identical, else 0. */
export function squadExactMatch(prediction: string, reference: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(reference) ? 1 : 0;
}

/** Token-level F1 between the normalised answers. */
export function squadF1(prediction: string, reference: string): number {
  const pred = answerTokens(prediction);
  const gold = answerTokens(reference);
  if (pred.length === 0 || gold.length === 0) return pred.length === gold.length ? 1 : 0;
  const goldCounts = new Map<string, number>();
  for (const t of gold) goldCounts.set(t, (goldCounts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of pred) {
    const left = goldCounts.get(t) ?? 0;
    if (left > 0) {
      same++;
      goldCounts.set(t, left - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / pred.length;
  const recall = same / gold.length;
  return (2 * precision * recall) / (precision + recall);
}
