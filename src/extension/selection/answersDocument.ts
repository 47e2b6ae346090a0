// The read-only side document of "Run Selection on Models…": the prompt, then one section per model
// whose answer grows as tokens stream in, with its speed once done. No vscode import: unit tested.

export interface AnswerSection {
  label: string;
  text: string;
  state: 'waiting' | 'generating' | 'done' | 'cancelled' | 'error';
  tokens?: number;
  tokensPerSecond?: number;
  error?: string;
}

function status(section: AnswerSection): string {
  switch (section.state) {
    case 'waiting':
      return '_waiting…_';
    case 'generating':
      return '_generating…_';
    case 'error':
      return `**error:** ${section.error ?? 'unknown'}`;
    default: {
      const speed = `${section.tokens ?? 0} tokens, ${(section.tokensPerSecond ?? 0).toFixed(1)} tokens/s`;
      return section.state === 'cancelled' ? `_cancelled (${speed})_` : `_${speed}_`;
    }
  }
}

/** A fence longer than any backtick run in `text`, so an answer with code blocks cannot break out of its own. */
function fenceFor(text: string): string {
  const longest = Math.max(2, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  return '`'.repeat(longest + 1);
}

export function renderAnswers(prompt: string, sections: readonly AnswerSection[], settings: string): string {
  const lines = ['# Run Selection on Models', '', `Settings: ${settings}`, '', '## Prompt', '', fenceFor(prompt), prompt, fenceFor(prompt), ''];
  for (const section of sections) {
    const fence = fenceFor(section.text);
    lines.push(`## ${section.label}`, '', status(section), '', fence, section.text, fence, '');
  }
  return lines.join('\n');
}

/** The sections of a rendered document, by their headings (what the e2e test reads back). */
export function sectionLabels(document: string): string[] {
  return Array.from(document.matchAll(/^## (.+)$/gm), (m) => m[1]).filter((label) => label !== 'Prompt');
}
