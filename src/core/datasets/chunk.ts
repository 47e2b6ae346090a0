// Splits text into chunks of at most `maxChars` characters for continued pre-training,
// breaking at paragraph boundaries when possible, then at line ends, then at the last space,
// and only mid-word for a single run longer than the limit.

function hardSplit(text: string, maxChars: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars + 1);
    const cut = window.lastIndexOf(' ');
    const at = cut > 0 ? cut : maxChars;
    out.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^ /, '');
  }
  if (rest.length > 0) out.push(rest);
  return out;
}

/** Greedy packing of `pieces` joined by `joiner`, recursing into pieces that are too long. */
function pack(pieces: readonly string[], maxChars: number, joiner: string, level: number): string[] {
  const chunks: string[] = [];
  let current = '';
  const flush = (): void => {
    if (current.trim().length > 0) chunks.push(current);
    current = '';
  };
  for (const piece of pieces) {
    if (piece.length > maxChars) {
      flush();
      const sub = level === 0 ? pack(piece.split('\n'), maxChars, '\n', 1) : hardSplit(piece, maxChars);
      chunks.push(...sub.filter((s) => s.trim().length > 0));
      continue;
    }
    const candidate = current.length === 0 ? piece : current + joiner + piece;
    if (candidate.length <= maxChars) current = candidate;
    else {
      flush();
      current = piece;
    }
  }
  flush();
  return chunks;
}

export function chunkText(text: string, maxChars: number): string[] {
  if (!Number.isInteger(maxChars) || maxChars < 1) throw new Error(`chunk size must be a positive integer, got ${maxChars}`);
  const normalised = text.replace(/\r\n?/g, '\n').replace(/^\n+|\s+$/g, '');
  if (normalised.length === 0) return [];
  const paragraphs = normalised.split(/\n[ \t]*\n+/);
  return pack(paragraphs, maxChars, '\n\n', 0);
}
