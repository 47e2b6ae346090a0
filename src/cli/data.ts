// `ftune data <split|pull|from-files|from-csv>`: make training / eval JSONL from local JSONL,
// the Hugging Face Hub, workspace folders or CSV. Results and previews go to stdout, progress
// to stderr; errors are one `ftune: error: ...` line on stderr with exit code 1; a pull that
// is cancelled (SIGINT / SIGTERM) keeps its partial download for the next run and exits 130.

import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import {
  DEFAULT_CHUNK_CHARS,
  filesToRecords,
  HubDatasetError,
  listHubDataset,
  parseFieldMap,
  pullHubDataset,
  splitFile,
  writeJsonl,
  writeJsonlAtomic,
  writeProvenance,
  provenancePath,
  csvToRecords,
  applyFieldMap,
  type DatasetRecord,
  type DownloadProgress,
  type HubDatasetListing,
} from '../core/datasets';
import { jsonLine } from './jsonOutput';
import type { DataPullProgress } from '../core/protocol';

const USAGE = `usage:
  ftune data split FILE [--eval 0.1] [--golden 0] [--seed 42] [--out-dir DIR]
  ftune data pull DATASET_ID [--config NAME] [--split train] [--revision REV] [--out FILE]
                  [--field KEY=COLUMN ...] [--limit N] [--endpoint URL] [--token hf_...]
                  [--cache-dir DIR] [--list] [--json] [--preview N]
  ftune data from-files DIR... --out FILE [--glob 'PATTERN,...'] [--chunk-chars ${DEFAULT_CHUNK_CHARS}] [--exclude FILE ...]
  ftune data from-csv FILE --out FILE [--field KEY=COLUMN ...] [--delimiter ,]`;

class UsageError extends Error {}

/** Where a command writes; tests pass their own so they need not patch the process streams. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether `err` is a terminal (progress is then redrawn in place). */
  errIsTty: boolean;
}

const PROCESS_IO: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  get errIsTty() {
    return process.stderr.isTTY === true;
  },
};

function fail(io: CliIo, message: string): number {
  io.err(`ftune: error: ${message}\n`);
  return 1;
}

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got "${value}"`);
  return n;
}

function integerOption(value: string | undefined, name: string, fallback: number): number {
  const n = numberOption(value, name, fallback);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} expects a non-negative integer, got "${value}"`);
  return n;
}

function previewLine(record: DatasetRecord): string {
  const json = JSON.stringify(record);
  return json.length > 200 ? `${json.slice(0, 197)}...` : json;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

// ------------------------------------------------------------------------------- split

function runSplit(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { eval: { type: 'string' }, golden: { type: 'string' }, seed: { type: 'string' }, 'out-dir': { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('data split takes exactly one FILE');
  const seed = integerOption(values.seed, 'seed', 42);
  const result = splitFile(positionals[0], {
    eval: numberOption(values.eval, 'eval', 0.1),
    golden: numberOption(values.golden, 'golden', 0),
    seed,
    outDir: values['out-dir'],
  });
  for (const role of ['train', 'eval', 'golden'] as const) {
    const file = result.files[role];
    if (file) io.out(`${role.padEnd(6)} ${String(result[role].length).padStart(7)}  ${file}\n`);
  }
  io.out(`seed ${seed}; ${result.duplicates} duplicate record(s) dropped\n`);
  return 0;
}

// -------------------------------------------------------------------------------- pull

function printListing(listing: HubDatasetListing, write: (s: string) => void): void {
  const where = listing.parquet_conversion ? ` (auto-converted parquet, ${listing.requested_revision})` : '';
  write(`${listing.hub_id} @ ${listing.revision}${where}${listing.gated ? ` [gated: ${listing.gated}]` : ''}\n`);
  for (const config of listing.configs) {
    write(`  config ${config.name}\n`);
    for (const split of config.splits) {
      write(`    ${split.name}: ${split.files.length} file(s), ${formatBytes(split.bytes)}\n`);
      for (const file of split.files) write(`      ${file.path} (${formatBytes(file.size)})\n`);
    }
  }
}

/** Progress lines on stderr: redrawn in place on a terminal, else one line per 10%. */
function progressPrinter(io: CliIo): (p: DownloadProgress) => void {
  const tty = io.errIsTty;
  let lastFile = '';
  let lastMark = -1;
  return (p) => {
    const pct = p.total > 0 ? Math.floor((p.received / p.total) * 100) : 100;
    const mark = tty ? pct : Math.floor(pct / 10);
    if (p.path === lastFile && mark === lastMark) return;
    if (p.path !== lastFile && tty && lastFile !== '') io.err('\n');
    lastFile = p.path;
    lastMark = mark;
    const line = `downloading ${p.path}: ${formatBytes(p.received)} / ${formatBytes(p.total)} (${pct}%)`;
    io.err(tty ? `\r${line}${pct === 100 ? '\n' : ''}` : `${line}\n`);
  };
}

/** --json progress: one `{"progress": {path, received, total}}` line per file and whole percent. */
function jsonProgressPrinter(io: CliIo): (p: DownloadProgress) => void {
  let last = '';
  return (p) => {
    const key = `${p.path}:${p.total > 0 ? Math.floor((p.received / p.total) * 100) : 100}`;
    if (key === last) return;
    last = key;
    io.err(progressLine({ progress: p }));
  };
}

async function runPull(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      split: { type: 'string' },
      revision: { type: 'string' },
      out: { type: 'string' },
      field: { type: 'string', multiple: true },
      limit: { type: 'string' },
      endpoint: { type: 'string' },
      token: { type: 'string' },
      'cache-dir': { type: 'string' },
      list: { type: 'boolean' },
      json: { type: 'boolean' },
      preview: { type: 'string' },
    },
  });
  // --json: for the extension, which runs the pull in this child process: progress as JSON lines on
  // stderr, the result (or the error with its kind) as one JSON line on stdout.
  const json = values.json === true;
  if (positionals.length !== 1) throw new UsageError('data pull takes exactly one DATASET_ID');
  const datasetId = positionals[0];
  const fieldMap = parseFieldMap(values.field ?? []);
  const limit = values.limit === undefined ? undefined : integerOption(values.limit, 'limit', 0);

  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (values.list) {
      const listing = await listHubDataset(datasetId, {
        endpoint: values.endpoint,
        token: values.token,
        revision: values.revision,
        signal: controller.signal,
      });
      printListing(listing, io.out);
      return 0;
    }
    const result = await pullHubDataset({
      datasetId,
      config: values.config,
      split: values.split,
      revision: values.revision,
      out: values.out,
      fieldMap,
      limit,
      endpoint: values.endpoint,
      token: values.token,
      cacheDir: values['cache-dir'],
      previewRows: integerOption(values.preview, 'preview', 3),
      signal: controller.signal,
      onListing: json ? undefined : (listing) => printListing(listing, io.err),
      onProgress: json ? jsonProgressPrinter(io) : progressPrinter(io),
      onRecords: json ? (written) => io.err(progressLine({ records: written })) : undefined,
    });
    if (json) {
      const { listing: _listing, ...summary } = result;
      io.out(jsonLine('data', { result: summary }));
      return 0;
    }
    io.out(`${result.records} records (${result.config}/${result.split} @ ${result.revision}) → ${result.out}\n`);
    io.out(`provenance → ${result.provenanceFile}\npreview:\n`);
    for (const record of result.preview) io.out(`  ${previewLine(record)}\n`);
    return 0;
  } catch (err) {
    if (json) io.out(jsonLine('data', { error: { kind: err instanceof HubDatasetError ? err.kind : 'other', message: (err as Error).message, status: err instanceof HubDatasetError ? err.status : undefined } }));
    if (err instanceof HubDatasetError && err.kind === 'cancelled') {
      io.err(`ftune: ${err.message}\n`);
      return 130;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

// ------------------------------------------------------------------ from-files, from-csv

function runFromFiles(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: 'string' }, glob: { type: 'string', multiple: true }, 'chunk-chars': { type: 'string' }, exclude: { type: 'string', multiple: true } },
  });
  if (positionals.length === 0) throw new UsageError('data from-files needs at least one DIR');
  if (!values.out) throw new UsageError('data from-files needs --out FILE');
  const globs = (values.glob ?? []).flatMap((g) => g.split(',')).map((g) => g.trim()).filter((g) => g.length > 0);
  const chunkChars = integerOption(values['chunk-chars'], 'chunk-chars', DEFAULT_CHUNK_CHARS);
  if (chunkChars < 1) throw new UsageError('--chunk-chars must be at least 1');
  // The previous output stays until the new one is complete: it (and its provenance) is never read back
  // in as text, and it is replaced by a rename only after the folders gave some text.
  const exclude = [values.out, provenancePath(values.out), ...(values.exclude ?? [])];
  const result = filesToRecords(positionals, { globs, chunkChars, exclude });
  if (result.records.length === 0) throw new Error('no text found in the given folders (check --glob and .gitignore); nothing was written');
  writeJsonlAtomic(values.out, result.records);
  const provenanceFile = writeProvenance(values.out, {
    source: 'files',
    role: 'train',
    records: result.records.length,
    created_at: new Date().toISOString(),
    folders: positionals.map((p) => path.resolve(p)),
    ...(globs.length > 0 ? { globs } : {}),
    chunk_chars: chunkChars,
  });
  io.out(`${result.records.length} records from ${result.files.length} file(s) → ${values.out}\n`);
  if (result.skipped.length > 0) {
    const reasons = new Map<string, number>();
    for (const s of result.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    io.out(`skipped ${result.skipped.length} file(s): ${[...reasons].map(([r, n]) => `${n} ${r}`).join(', ')}\n`);
  }
  io.out(`provenance → ${provenanceFile}\n`);
  return 0;
}

function runFromCsv(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: 'string' }, field: { type: 'string', multiple: true }, delimiter: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('data from-csv takes exactly one FILE');
  if (!values.out) throw new UsageError('data from-csv needs --out FILE');
  const delimiter = values.delimiter === '\\t' ? '\t' : values.delimiter ?? ',';
  if (delimiter.length !== 1) throw new UsageError('--delimiter must be one character');
  const fieldMap = parseFieldMap(values.field ?? []);
  const records = csvToRecords(fs.readFileSync(positionals[0], 'utf8'), delimiter).map((r) => applyFieldMap(r, fieldMap));
  writeJsonl(values.out, records);
  const provenanceFile = writeProvenance(values.out, {
    source: 'csv',
    role: 'train',
    records: records.length,
    created_at: new Date().toISOString(),
    source_file: path.resolve(positionals[0]),
    ...(Object.keys(fieldMap).length > 0 ? { field_map: fieldMap } : {}),
  });
  io.out(`${records.length} records → ${values.out}\nprovenance → ${provenanceFile}\npreview:\n`);
  for (const record of records.slice(0, 3)) io.out(`  ${previewLine(record)}\n`);
  return 0;
}

// -------------------------------------------------------------------------------- entry

export async function dataCommand(argv: string[], io: CliIo = PROCESS_IO): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'split':
        return runSplit(rest, io);
      case 'pull':
        return await runPull(rest, io);
      case 'from-files':
        return runFromFiles(rest, io);
      case 'from-csv':
        return runFromCsv(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(`${USAGE}\n`);
        return sub === undefined ? 1 : 0;
      default:
        return fail(io, `unknown data subcommand "${sub}" (see ftune data --help)`);
    }
  } catch (err) {
    if (err instanceof UsageError) return fail(io, `${err.message} (see ftune data --help)`);
    // One line, as the CLI contract asks, even for multi-line messages.
    return fail(io, (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' '));
  }
}

/** A progress line of `ftune data pull --json` (stderr, so stdout keeps only the result). */
function progressLine(progress: DataPullProgress): string {
  return `${JSON.stringify(progress)}\n`;
}
