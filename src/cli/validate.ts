// `ftune validate FILE [--model DIR] [--format F] [--field K=V ...] [--max-length N] [--json]`
// Reports every bad line as `file:line: reason` and exits 1 when there is any, so it can gate CI or
// the extension's "Start training" button before a run wastes minutes loading a model.

import type { DataFormat } from '../core/runConfig';
import { loadTokenizer, type Tokenizer } from '../core/tokenizer';
import { DataFileError, RECORD_FORMATS, formatProblem, parseFieldArgs, type FieldMap } from '../core/formats';
import { DEFAULT_MAX_LENGTH, formatReport, validateDataFile } from '../core/validate';
import { jsonLine, printJson } from './jsonOutput';

export const VALIDATE_USAGE = 'usage: ftune validate FILE [--model DIR] [--format auto|messages|prompt-completion|text|preference] [--field KEY=COLUMN ...] [--max-length N] [--json]\n';

/** Options shared by `ftune validate` and `ftune preview`. */
export interface DataCommandArgs {
  file: string;
  model?: string;
  format: DataFormat;
  fields: FieldMap;
  maxLength: number;
  json: boolean;
  n: number;
  help: boolean;
}

/** A mistake in the command line (printed as `ftune: error: ...`, exit 1). */
export class UsageError extends Error {}

/** Parses argv (the arguments after the subcommand name). `--key value` and `--key=value` both work. */
export function parseDataArgs(argv: readonly string[], allowN: boolean): DataCommandArgs {
  const args: DataCommandArgs = { file: '', format: 'auto', fields: {}, maxLength: DEFAULT_MAX_LENGTH, json: false, n: 3, help: false };
  const fieldSpecs: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`--${name} needs a value`);
      return next;
    };
    switch (name) {
      case 'help': args.help = true; break;
      case 'json': args.json = true; break;
      case 'model': args.model = value(); break;
      case 'field': fieldSpecs.push(value()); break;
      case 'format': {
        const format = value();
        if (format !== 'auto' && !(RECORD_FORMATS as readonly string[]).includes(format)) {
          throw new UsageError(`--format ${format}: expected auto, ${RECORD_FORMATS.join(', ')}`);
        }
        args.format = format as DataFormat;
        break;
      }
      case 'max-length': args.maxLength = positiveInteger(name, value()); break;
      case 'n':
        if (!allowN) throw new UsageError('unknown option --n');
        args.n = positiveInteger(name, value());
        break;
      default: throw new UsageError(`unknown option --${name}`);
    }
  }
  if (args.help) return args;
  if (positional.length !== 1) throw new UsageError(positional.length ? `expected one data file, got ${positional.length}` : 'missing the data file');
  args.file = positional[0];
  try {
    args.fields = parseFieldArgs(fieldSpecs);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return args;
}

function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} ${text}: expected a positive integer`);
  return n;
}

export function printError(message: string): number {
  process.stderr.write(`ftune: error: ${message}\n`);
  return 1;
}

export async function loadTokenizerOrReport(model: string): Promise<Tokenizer | undefined> {
  try {
    return await loadTokenizer(model);
  } catch (err) {
    printError(`--model ${model}: ${(err as Error).message}`);
    return undefined;
  }
}

export async function validateCommand(argv: string[]): Promise<number> {
  let args: DataCommandArgs;
  try {
    args = parseDataArgs(argv, false);
  } catch (err) {
    if (err instanceof UsageError) return printError(`${err.message}\n${VALIDATE_USAGE.trimEnd()}`);
    throw err;
  }
  if (args.help) { process.stdout.write(VALIDATE_USAGE); return 0; }
  let tokenizer: Tokenizer | undefined;
  if (args.model !== undefined) {
    tokenizer = await loadTokenizerOrReport(args.model);
    if (!tokenizer) return 1;
  }
  try {
    const report = await validateDataFile(args.file, { format: args.format, fields: args.fields, tokenizer, maxLength: args.maxLength });
    process.stdout.write(args.json ? jsonLine('validate', report) : formatReport(report));
    return report.ok ? 0 : 1;
  } catch (err) {
    // only an unreadable file gets here: the report itself carries line problems
    if (!(err instanceof DataFileError)) throw err;
    if (args.json) printJson('validate', { file: args.file, ok: false, problems: err.problems.map(formatProblem) });
    else process.stdout.write(err.problems.map(formatProblem).join('\n') + '\n');
    return 1;
  }
}
