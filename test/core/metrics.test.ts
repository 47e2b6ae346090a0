// Metric values checked against published examples and hand derivations (shown in comments).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeMetric,
  corpusBleu,
  exactMatch,
  lcsLength,
  normalizeAnswer,
  rougeL,
  squadExactMatch,
  squadF1,
  tokenize13a,
  tokenizeRouge,
} from '../../src/core/metrics';

const close = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

// ------------------------------------------------------------------------------ BLEU

// NLTK's corpus_bleu docstring example (Papineni et al.'s "guide to action" sentences).
const hyp1 = 'It is a guide to action which ensures that the military always obeys the commands of the party';
const ref1a = 'It is a guide to action that ensures that the military will forever heed Party commands';
const ref1b = 'It is the guiding principle which guarantees the military forces always being under the command of the Party';
const ref1c = 'It is the practical guide for the army always to heed the directions of the party';
const hyp2 = 'he read the book because he was interested in world history';
const ref2a = 'he was interested in world history because he read the book';

test('bleu: NLTK sentence example, 0.5045666840058485', () => {
  // Clipped precisions of hyp1 against the three references: p1 = 17/18, p2 = 10/17,
  // p3 = 7/16, p4 = 4/15. |hyp1| = 18 and ref1b has 18 tokens, so BP = 1.
  // BLEU = (17·10·7·4 / (18·17·16·15))^(1/4) = (4760/73440)^(1/4) = 0.50456668...
  const r = corpusBleu([hyp1], [[ref1a, ref1b, ref1c]]);
  assert.deepEqual(r.matches, [17, 10, 7, 4]);
  assert.deepEqual(r.totals, [18, 17, 16, 15]);
  assert.equal(r.brevityPenalty, 1);
  close(r.score, Math.pow(4760 / 73440, 1 / 4));
  close(r.score, 0.5045666840058485);
});

test('bleu: NLTK corpus example, 0.5920778868801042 (counts summed before dividing)', () => {
  // hyp2 adds p1 11/11, p2 9/10, p3 6/9, p4 4/8 (every word matches, one bigram "book because" does not).
  // Corpus: p1 = 28/29, p2 = 19/27, p3 = 13/25, p4 = 8/23; c = r = 18 + 11 = 29 so BP = 1.
  // BLEU = (28·19·13·8 / (29·27·25·23))^(1/4) = (55328/450225)^(1/4) = 0.59207788...
  // (not the mean of the two sentence scores: that would be (0.5046 + 0.6...)/2).
  const r = corpusBleu([hyp1, hyp2], [[ref1a, ref1b, ref1c], [ref2a]]);
  assert.deepEqual(r.matches, [28, 19, 13, 8]);
  assert.deepEqual(r.totals, [29, 27, 25, 23]);
  close(r.score, Math.pow(55328 / 450225, 1 / 4));
  close(r.score, 0.5920778868801042);
});

test('bleu: the paper\'s clipping example "the the the the the the the" has unigram precision 2/7', () => {
  // Papineni et al. §2.1: the reference "The cat is on the mat" holds "the" at most twice.
  const refs = ['The cat is on the mat', 'There is a cat on the mat'];
  const r = corpusBleu(['the the the the the the the'], [refs], { lowercase: true });
  assert.deepEqual(r.matches, [2, 0, 0, 0]);
  assert.deepEqual(r.totals, [7, 6, 5, 4]);
  // Without smoothing a zero precision makes BLEU 0 (the paper, NLTK).
  assert.equal(corpusBleu(['the the the the the the the'], [refs], { lowercase: true, smoothing: 'none' }).score, 0);
  // sacrebleu's exp smoothing: p2 = 1/(2·6), p3 = 1/(4·5), p4 = 1/(8·4); closest ref length 7 → BP 1.
  // BLEU = (2/7 · 1/12 · 1/20 · 1/32)^(1/4) = (1/26880)^(1/4) = 0.0780985...
  close(r.score, Math.pow(1 / 26880, 1 / 4));
});

test('bleu: exp smoothing (sacrebleu default) vs none when an order has no match; brevity penalty', () => {
  // hyp "the cat on the mat" (5 tokens) vs ref "the cat sat on the mat" (6 tokens):
  // p1 = 5/5, p2 = 3/4 (the cat, on the, the mat), p3 = 1/3 (on the mat), p4 = 0/2.
  // exp smoothing: p4 = 1/(2·2) = 1/4, so the mean is (1 · 3/4 · 1/3 · 1/4)^(1/4) = (1/16)^(1/4) = 1/2.
  // BP = exp(1 - 6/5) = exp(-0.2). BLEU = 0.5 · exp(-0.2) = 0.40936537653...
  const smoothed = corpusBleu(['the cat on the mat'], [['the cat sat on the mat']]);
  assert.deepEqual(smoothed.matches, [5, 3, 1, 0]);
  close(smoothed.brevityPenalty, Math.exp(-0.2));
  close(smoothed.precisions[3], 1 / 4);
  close(smoothed.score, 0.5 * Math.exp(-0.2));
  assert.equal(corpusBleu(['the cat on the mat'], [['the cat sat on the mat']], { smoothing: 'none' }).score, 0);
});

test('bleu: identical text scores 1, no overlap and empty prediction score 0', () => {
  close(computeMetric('bleu', ['The quick brown fox jumps over the lazy dog.'], ['The quick brown fox jumps over the lazy dog.']), 1);
  // No match at any order: 0 even with exp smoothing (sacrebleu's early stop).
  assert.equal(computeMetric('bleu', ['alpha beta gamma delta'], ['one two three four']), 0);
  assert.equal(computeMetric('bleu', [''], ['one two three four']), 0);
  // Shorter than 4 tokens everywhere: no 4-grams at all, BLEU-4 is 0 (sacrebleu without effective order).
  assert.equal(computeMetric('bleu', ['a b c'], ['a b c']), 0);
});

test('bleu: 13a tokenisation matches sacrebleu on punctuation, numbers and entities', () => {
  // Expected tokens come from running sacrebleu's four 13a regexes on the same strings.
  assert.deepEqual(tokenize13a("Hello, world! It costs $3.50, isn't it?"), ['Hello', ',', 'world', '!', 'It', 'costs', '$', '3.50', ',', "isn't", 'it', '?']);
  assert.deepEqual(tokenize13a('e.g. 3,000.5 items.'), ['e', '.', 'g', '.', '3,000.5', 'items', '.']);
  assert.deepEqual(tokenize13a('1990-2000 {x} a/b'), ['1990', '-', '2000', '{', 'x', '}', 'a', '/', 'b']);
  assert.deepEqual(tokenize13a('&quot;q&quot; &amp; r'), ['"', 'q', '"', '&', 'r']);
  // Punctuation attached to words still matches: "mat." and "mat ." give the same tokens.
  close(computeMetric('bleu', ['the cat sat on the mat.'], ['the cat sat on the mat .']), 1);
});

test('bleu: case-sensitive by default, like sacrebleu', () => {
  const ref = ['The Cat Sat On The Mat'];
  assert.ok(computeMetric('bleu', ['the cat sat on the mat'], ref) < 1);
  close(corpusBleu(['the cat sat on the mat'], [ref], { lowercase: true }).score, 1);
});

// ----------------------------------------------------------------------------- ROUGE-L

test('rouge: rouge-score README example gives P 5/8, R 5/9, F 10/17', () => {
  // target "The quick brown fox jumps over the lazy dog" (9 tokens), prediction
  // "The quick brown dog jumps on the log." (8 tokens). LCS = the quick brown jumps the = 5.
  // P = 5/8, R = 5/9, F = 2PR/(P+R) = (50/72)/(85/72) = 10/17 = 0.5882352941...
  const s = rougeL('The quick brown dog jumps on the log.', 'The quick brown fox jumps over the lazy dog');
  close(s.precision, 5 / 8);
  close(s.recall, 5 / 9);
  close(s.fmeasure, 10 / 17);
});

test('rouge: tokenisation lowercases and splits on non-alphanumerics; LCS is a subsequence, not a substring', () => {
  assert.deepEqual(tokenizeRouge("It's 3:45 -- the END!"), ['it', 's', '3', '45', 'the', 'end']);
  assert.equal(lcsLength(['a', 'b', 'c', 'd', 'e'], ['a', 'x', 'c', 'y', 'e']), 3);
  assert.equal(lcsLength([], ['a']), 0);
});

test('rouge: identical 1, no overlap 0, empty prediction 0; corpus score is the mean F', () => {
  close(computeMetric('rouge', ['A b c'], ['a B c']), 1);
  assert.equal(computeMetric('rouge', ['x y z'], ['a b c']), 0);
  assert.equal(computeMetric('rouge', [''], ['a b c']), 0);
  // Pair 1: F = 1; pair 2: pred "a b" vs target "a c b d": LCS 2, P 1, R 1/2, F 2/3. Mean = 5/6.
  close(computeMetric('rouge', ['a b c', 'a b'], ['a b c', 'a c b d']), 5 / 6);
});

// ------------------------------------------------------------------------- SQuAD F1 / EM

test('squad: normalisation drops case, punctuation, articles and extra whitespace', () => {
  assert.equal(normalizeAnswer('  The  Denver Broncos! '), 'denver broncos');
  assert.equal(normalizeAnswer('an apple, a pear & the plum'), 'apple pear plum');
  // Articles only as whole words: "theatre" and "another" keep their letters.
  assert.equal(normalizeAnswer('Theatre another'), 'theatre another');
});

test('squad: exact match and F1 on SQuAD-style answers', () => {
  assert.equal(squadExactMatch('the Denver Broncos', 'Denver Broncos'), 1);
  assert.equal(squadExactMatch('Denver', 'Denver Broncos'), 0);
  // pred tokens [denver, broncos, won], gold [broncos]: 1 shared, P = 1/3, R = 1, F1 = 1/2.
  close(squadF1('Denver Broncos won', 'Broncos'), 0.5);
  // Multiset overlap: pred [a1, a1, b1] vs gold [a1, b1, b1]: shared a1 once + b1 once = 2, P = R = 2/3.
  close(squadF1('a1 a1 b1', 'a1 b1 b1'), 2 / 3);
  assert.equal(squadF1('Carolina Panthers', 'Denver Broncos'), 0);
  assert.equal(squadF1('', 'Denver Broncos'), 0);
  // Both empty after normalisation (SQuAD v2 rule): 1.
  assert.equal(squadF1('The', 'a'), 1);
  close(computeMetric('f1', ['Denver Broncos won', 'Denver Broncos'], ['Broncos', 'the Denver Broncos']), 0.75);
});

// -------------------------------------------------------------------------- exact match

test('exact-match: GSM8K answers compared after extraction; plain text falls back to normalised equality', () => {
  const ref = 'Natalia sold 48/2 = 24 clips in May.\n#### 72';
  assert.equal(exactMatch('She sold 48 + 24 = 72 clips in total.', ref), 1);
  assert.equal(exactMatch('The answer is 71', ref), 0);
  assert.equal(exactMatch('#### 1,000.00', '#### 1000'), 1);
  assert.equal(exactMatch('Paris.', 'paris'), 1);
  assert.equal(exactMatch('Lyon', 'Paris'), 0);
  close(computeMetric('exact-match', ['#### 72', 'no idea', '#### 5'], ['#### 72', '#### 3', '#### 5']), 2 / 3);
});

test('computeMetric: mismatched lengths throw; empty corpus scores 0', () => {
  assert.throws(() => computeMetric('f1', ['a'], []), /1 predictions but 0 references/);
  for (const name of ['exact-match', 'bleu', 'rouge', 'f1'] as const) assert.equal(computeMetric(name, [], []), 0);
});
