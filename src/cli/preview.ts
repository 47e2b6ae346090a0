// `ftune preview FILE --model DIR [--n 3] [--format F] [--field K=V ...] [--max-length N] [--json]`
// Shows the first examples exactly as training sees them: token by token, trained tokens highlighted,
// so a masking or template mistake is visible before a run rather than after it.

import { DataFileError } from '../core/formats';
import { previewExamples, renderPreview } from '../core/validate';
import { UsageError, loadTokenizerOrReport, parseDataArgs, printError, type DataCommandArgs } from './validate';
import { printJson } from './jsonOutput';

// Re-exported so callers (the extension's preview webview) can import everything preview-related here.
export { previewExamples, previewTokens, renderPreview, visibleTokenText } from '../core/validate';
export type { PreviewExample, PreviewToken } from '../core/validate';

export const PREVIEW_USAGE = 'usage: ftune preview FILE --model DIR [--n 3] [--format auto|messages|prompt-completion|text|preference] [--field KEY=COLUMN ...] [--max-length N] [--json]\n';

export async function previewCommand(argv: string[]): Promise<number> {
  let args: DataCommandArgs;
  try {
    args = parseDataArgs(argv, true);
    if (!args.help && args.model === undefined) throw new UsageError('--model DIR is required (the preview shows the model\'s tokens)');
  } catch (err) {
    if (err instanceof UsageError) return printError(`${err.message}\n${PREVIEW_USAGE.trimEnd()}`);
    throw err;
  }
  if (args.help) { process.stdout.write(PREVIEW_USAGE); return 0; }
  const tokenizer = await loadTokenizerOrReport(args.model as string);
  if (!tokenizer) return 1;
  try {
    const examples = await previewExamples(args.file, { tokenizer, format: args.format, fields: args.fields, maxLength: args.maxLength, n: args.n });
    if (args.json) {
      printJson('preview', examples);
    } else {
      const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
      process.stdout.write(renderPreview(examples, { color }));
    }
    return 0;
  } catch (err) {
    if (!(err instanceof DataFileError)) throw err;
    return printError(err.message);
  }
}
