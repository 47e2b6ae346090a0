// Answer extraction for exact-match scoring, GSM8K style: the text after `#### `, else the last
// number in the text. Numbers are normalised (commas, trailing zeros, a leading '+', '$').

const FINAL_MARKER = /####\s*([^\n]*)/;
const NUMBER = /-?\d[\d,]*(?:\.\d+)?|-?\.\d+/g;

export function normaliseNumber(raw: string): string {
  let s = raw.trim().replace(/[$,\s]/g, '').replace(/^\+/, '');
  s = s.replace(/\.$/, '');
  if (/^-?\d+\.\d+$/.test(s)) s = s.replace(/0+$/, '').replace(/\.$/, '');
  if (s === '-0') s = '0';
  return s;
}

/** The final answer of a GSM8K-style text: after `####` when present, else the last number; undefined when none. */
export function extractAnswer(text: string): string | undefined {
  const marked = FINAL_MARKER.exec(text);
  if (marked) {
    const inMarker = marked[1].match(NUMBER);
    if (inMarker) return normaliseNumber(inMarker[0]);
    const plain = marked[1].trim();
    return plain.length > 0 ? plain : undefined;
  }
  const numbers = text.match(NUMBER);
  return numbers ? normaliseNumber(numbers[numbers.length - 1]) : undefined;
}

/** Exact match of the extracted answers of a prediction and a reference. */
export function answersMatch(prediction: string, reference: string): boolean {
  const expected = extractAnswer(reference);
  const got = extractAnswer(prediction);
  return expected !== undefined && got !== undefined && expected === got;
}
