// Pure helpers of the mask-preview webview: how a token is written on screen so its boundaries and
// invisible characters stay visible, and the per-example summary. No DOM: unit-tested in node.

export interface TokenLike {
  text: string;
  trained: boolean;
}

export interface TokenDisplay {
  /** what the token box shows: newlines as ↵, tabs as →, a token of spaces as middle dots. */
  shown: string;
  /** the token contains a newline: the text continues on the next line after it, as in the file. */
  breaksLine: boolean;
  /** a control token such as <|im_start|> or </s>. */
  special: boolean;
  /**
   * decoded alone the token is not valid UTF-8 (�): byte-level tokenizers split characters such as ’
   * or emoji across several tokens, and only their sequence decodes to the character.
   */
  partial: boolean;
}

const SPECIAL = /^(<\|[^|<>\s]{1,40}\|>|<\/?s>|<unk>|<pad>|\[(?:CLS|SEP|PAD|MASK|UNK)\])$/;

export function tokenDisplay(text: string): TokenDisplay {
  let shown = text.replace(/\r/g, '␍').replace(/\n/g, '↵').replace(/\t/g, '→');
  // a token that is only spaces would be an empty-looking box
  if (/^ +$/.test(text)) shown = '·'.repeat(text.length);
  if (text === '') shown = '∅';
  return { shown, breaksLine: text.includes('\n'), special: SPECIAL.test(text), partial: text.includes('\uFFFD') };
}

export interface ExampleSummary {
  tokens: number;
  trained: number;
  /** whole-number percentage of trained tokens. */
  percent: number;
}

export function exampleSummary(tokens: readonly TokenLike[]): ExampleSummary {
  const trained = tokens.filter((t) => t.trained).length;
  return { tokens: tokens.length, trained, percent: tokens.length ? Math.round((100 * trained) / tokens.length) : 0 };
}

/** "line 12 (chosen) · 148 tokens · 41 trained (28%)" */
export function exampleTitle(line: number, summary: ExampleSummary, side?: string): string {
  return `line ${line}${side ? ` (${side})` : ''} · ${summary.tokens} tokens · ${summary.trained} trained (${summary.percent}%)`;
}

/** The text of each run of consecutive trained tokens (what the loss is computed on). */
export function trainedSpans(tokens: readonly TokenLike[]): string[] {
  const spans: string[] = [];
  let current: string | undefined;
  for (const token of tokens) {
    if (token.trained) current = (current ?? '') + token.text;
    else if (current !== undefined) {
      spans.push(current);
      current = undefined;
    }
  }
  if (current !== undefined) spans.push(current);
  return spans;
}

/**
 * Position of a token within its run of same-kind neighbours: neighbours get alternating shades, so
 * two adjacent tokens never look like one.
 */
export function shadeIndex(tokens: readonly TokenLike[]): number[] {
  const out: number[] = [];
  tokens.forEach((token, i) => {
    const previous = tokens[i - 1];
    out.push(previous && previous.trained === token.trained ? 1 - out[i - 1] : 0);
  });
  return out;
}
