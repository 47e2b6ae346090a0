// The mask-preview panel's contract: what the host and the webview send each other, the state the
// webview keeps for a window reload, and the two pure steps around the CLI (building the
// `ftune preview` arguments from the Datasets view's detected mapping, and checking its --json
// output). No vscode import: the webview bundles it and node tests run it.

// The messages and the `ftune preview --json` output types live with every other boundary type in
// core/protocol.ts (browser-safe); re-exported here for the panel and its webview.
import type { HostToMaskPreview, MaskPreviewTarget, MaskPreviewToHost, PreviewExample, PreviewToken } from '../../core/protocol';

export type { HostToMaskPreview, MaskPreviewTarget, MaskPreviewToHost, PreviewExample, PreviewToken };
export { cliErrorMessage } from '../../core/protocol';

/** Saved with the webview's setState; the serializer reopens the panel from it. */
export type MaskPreviewState = MaskPreviewTarget;

export const PREVIEW_COUNTS = [3, 5, 10, 20] as const;
export const DEFAULT_PREVIEW_COUNT = 5;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function isTarget(value: unknown): value is MaskPreviewTarget {
  return isObject(value) && typeof value.file === 'string' && typeof value.model === 'string' && typeof value.n === 'number';
}

export function isMaskPreviewToHost(value: unknown): value is MaskPreviewToHost {
  if (!isObject(value)) return false;
  switch (value.type) {
    case 'ready':
    case 'changeModel':
      return true;
    case 'reload':
      return typeof value.n === 'number' && Number.isInteger(value.n) && value.n >= 1 && value.n <= 100;
    case 'openLine':
      return typeof value.line === 'number' && Number.isInteger(value.line) && value.line >= 1;
    default:
      return false;
  }
}

export function isHostToMaskPreview(value: unknown): value is HostToMaskPreview {
  if (!isObject(value) || !isTarget(value.target)) return false;
  switch (value.type) {
    case 'loading':
      return true;
    case 'examples':
      return typeof value.format === 'string' && typeof value.mapping === 'string' && Array.isArray(value.examples);
    case 'error':
      return typeof value.message === 'string';
    default:
      return false;
  }
}

/** The saved state if it is usable, else undefined (an old or foreign state must not break a reload). */
export function restoreMaskPreviewState(value: unknown): MaskPreviewState | undefined {
  if (!isTarget(value) || value.file === '' || value.model === '') return undefined;
  const n = Number.isInteger(value.n) && value.n >= 1 && value.n <= 100 ? value.n : DEFAULT_PREVIEW_COUNT;
  return { file: value.file, model: value.model, n };
}

/** The formats `ftune preview --format` accepts (core/formats.ts RECORD_FORMATS). */
const CLI_FORMATS = new Set(['messages', 'prompt-completion', 'text', 'preference']);

/**
 * `ftune preview FILE --model DIR --n N --json [--format F] [--field KEY=COLUMN ...]`. The format and
 * the mapping are the ones the Datasets view detected (GSM8K: question→prompt, answer→completion), so
 * the preview masks exactly what a run started from that view would.
 */
export function previewCliArgs(target: MaskPreviewTarget, detected: { format?: string; fields?: Readonly<Record<string, string>> } = {}): string[] {
  const args = ['preview', target.file, '--model', target.model, '--n', String(target.n), '--json'];
  if (detected.format && CLI_FORMATS.has(detected.format)) args.push('--format', detected.format);
  for (const [key, column] of Object.entries(detected.fields ?? {})) args.push('--field', `${key}=${column}`);
  return args;
}

function isToken(value: unknown): value is PreviewToken {
  return isObject(value) && typeof value.id === 'number' && typeof value.text === 'string' && typeof value.trained === 'boolean';
}

function isExample(value: unknown): value is PreviewExample {
  if (!isObject(value) || typeof value.line !== 'number' || !Array.isArray(value.tokens) || !value.tokens.every(isToken)) return false;
  if (value.side !== undefined && value.side !== 'chosen' && value.side !== 'rejected') return false;
  return value.too_long === undefined || typeof value.too_long === 'boolean';
}

/** What `ftune preview --json` prints: a list of examples. */
export function isPreviewExamples(value: unknown): value is PreviewExample[] {
  return Array.isArray(value) && value.every(isExample);
}

/** The examples from `ftune preview --json` stdout (the last JSON line); throws when it is not that. */
export function parsePreviewOutput(stdout: string): PreviewExample[] {
  const line = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('[')).pop();
  if (line === undefined) throw new Error('ftune preview printed no examples');
  const value: unknown = JSON.parse(line);
  if (!isPreviewExamples(value)) throw new Error('ftune preview printed something that is not a list of examples');
  return value;
}

