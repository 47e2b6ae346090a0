// The decisions behind the dataset commands (Get a Dataset from Hugging Face…, Create a Pre-training
// Dataset from Files…, Split Dataset…) and the Datasets view's provenance line, kept apart from the
// VS Code glue in commands/datasets.ts. Pure Node: unit-tested directly.

import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { applyFieldMap, type DatasetRecord, type DatasetProvenance, type HubErrorKind } from '../core/datasets';
import { formatBytes } from '../core/estimate';
import { detectColumnMapping } from '../core/columnAliases';
import { describeMapping, formatLabel } from './datasetScan';

/** `owner/name` (or a legacy un-namespaced `name`), as the Hub spells dataset ids. */
export function isDatasetId(text: string): boolean {
  const id = text.trim();
  return /^[A-Za-z0-9][\w.-]{0,95}(\/[A-Za-z0-9][\w.-]{0,95})?$/.test(id) && !id.includes('..');
}

/** Where a pulled split goes in the workspace: `data/<name>[-<config>]-<split>.jsonl` ('default' configs are left out). */
export function hubOutputPath(datasetId: string, config: string, split: string): string {
  const name = datasetId.split('/').pop() ?? datasetId;
  const parts = config === 'default' ? [name, split] : [name, config, split];
  return `data/${parts.join('-').replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`;
}

/** "2 files · 4.2 MB" */
export function describeFiles(files: readonly { size: number }[]): string {
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  return `${files.length} file${files.length === 1 ? '' : 's'} · ${formatBytes(bytes)}`;
}

/**
 * Overall progress of a download of several files, from per-file reports (a resumed file starts above
 * zero, a retried one may go back): the sum of the latest count of each file over the listed total.
 */
export class DownloadTally {
  private readonly received = new Map<string, number>();
  constructor(readonly total: number) {}

  /** Returns the overall percentage (0–100). */
  update(file: string, received: number): number {
    this.received.set(file, received);
    return this.percent();
  }

  percent(): number {
    if (this.total <= 0) return 0;
    let sum = 0;
    for (const n of this.received.values()) sum += n;
    return Math.min(100, (100 * sum) / this.total);
  }
}

export interface MappingChoice {
  label: string;
  description: string;
  /** KEY=COLUMN, as `ftune data pull --field` takes it; empty keeps every column. */
  fields: Record<string, string>;
}

/**
 * The field mappings worth offering for a pulled split, judged from its first row: the detected one
 * (GSM8K: question→prompt, answer→completion) first, then keeping the columns as they are.
 */
export function mappingChoices(firstRow: DatasetRecord | undefined): MappingChoice[] {
  const keep: MappingChoice = { label: 'Keep the columns as they are', description: firstRow ? Object.keys(firstRow).join(', ') : '', fields: {} };
  if (!firstRow) return [keep];
  const detected = detectColumnMapping(firstRow);
  if (!detected) return [keep];
  const keys = detected.format === 'messages' ? ['messages'] : detected.format === 'text' ? ['text'] : detected.format === 'preference' ? ['prompt', 'chosen', 'rejected'] : ['prompt', 'completion'];
  // the trainer's keys, taken from their detected columns; applyFieldMap keeps only these
  const fields: Record<string, string> = {};
  for (const key of keys) {
    const column = detected.fields[key] ?? key;
    if (Object.prototype.hasOwnProperty.call(firstRow, column)) fields[key] = column;
  }
  const renames = Object.keys(detected.fields).length > 0;
  const extra = Object.keys(firstRow).filter((c) => !Object.values(fields).includes(c));
  if (!renames && extra.length === 0) return [{ ...keep, description: `already ${formatLabel(detected.format)}` }];
  const renamed = Object.fromEntries(Object.entries(fields).filter(([key, column]) => key !== column));
  const suggested: MappingChoice = {
    label: `${formatLabel(detected.format)}: ${describeMapping(renamed) || Object.keys(fields).join(', ')}`,
    description: extra.length ? `drops ${extra.join(', ')}` : 'detected',
    fields,
  };
  return [suggested, keep];
}

/** One line for a QuickPick: `question: "Natalia sold clips…" · answer: "Natalia sold 48/2…"`. */
export function previewRow(record: DatasetRecord, maxChars = 160): string {
  const parts = Object.entries(record).map(([key, value]) => {
    const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? 'null';
    return `${key}: ${text}`;
  });
  const line = parts.join(' · ').replace(/\s+/g, ' ');
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}

/**
 * The error as the extension words it: the core's messages give CLI advice (--token, HF_TOKEN), while
 * here a token comes from "Set Hugging Face Token…" and lives in VS Code's secret storage.
 */
export function hubErrorMessage(error: { kind: HubErrorKind; message: string; status?: number }, datasetId: string, tokenSet: boolean): string {
  switch (error.kind) {
    case 'unauthorized': {
      const advice = tokenSet
        ? 'the saved Hugging Face token was refused — make sure it can read this dataset and, if the dataset is gated, that you accepted its terms on the Hub'
        : 'set a Hugging Face token (it is kept in VS Code’s secret storage); if the dataset is gated, accept its terms on the Hub first';
      return `dataset "${datasetId}" is gated or private${error.status ? ` (HTTP ${error.status})` : ''}: ${advice}`;
    }
    case 'bad-token':
      return 'the saved Hugging Face token is not valid: tokens start with "hf_"';
    default:
      return error.message;
  }
}

/** The buttons an error notification offers, by what went wrong. */
export function hubErrorActions(kind: HubErrorKind): string[] {
  switch (kind) {
    case 'unauthorized':
      return ['Set Hugging Face Token', 'Open Dataset Page'];
    case 'bad-token':
      return ['Set Hugging Face Token'];
    case 'not-found':
      return ['Try Another Id'];
    case 'offline':
      return ['Retry', 'Open Endpoint Setting'];
    case 'cancelled':
      return [];
    case 'invalid':
    case 'other':
      return ['Show Log'];
  }
}

/**
 * Copies a JSONL file line by line through a field mapping (a large split never sits in memory as one
 * string). Returns the number of records written; blank lines are dropped.
 */
export async function mapJsonlFile(source: string, target: string, fields: Record<string, string>): Promise<number> {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.part`;
  const out = fs.createWriteStream(partial);
  // a write failing after an early exit must not surface as an uncaught 'error' event
  let writeError: Error | undefined;
  out.on('error', (error) => (writeError = error));
  const lines = readline.createInterface({ input: fs.createReadStream(source, 'utf8'), crlfDelay: Infinity });
  let count = 0;
  try {
    let lineNumber = 0;
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      const record = JSON.parse(line) as DatasetRecord;
      let mapped: DatasetRecord;
      try {
        mapped = applyFieldMap(record, fields);
      } catch (error) {
        throw new Error(`row ${lineNumber}: ${(error as Error).message}`);
      }
      if (writeError) throw writeError;
      if (!out.write(JSON.stringify(mapped) + '\n')) await new Promise<void>((resolve) => out.once('drain', resolve));
      count++;
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    if (writeError) throw writeError;
  } catch (error) {
    lines.close();
    await new Promise<void>((resolve) => out.destroy().once('close', () => resolve()));
    fs.rmSync(partial, { force: true });
    throw error;
  }
  fs.renameSync(partial, target);
  return count;
}

// ------------------------------------------------------------------ Split Dataset… inputs

/** The eval share: a fraction below 1 (0.1 = 10 %) or a whole count; undefined when valid, else why not. */
export function checkEvalShare(text: string): string | undefined {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) return 'a fraction such as 0.1, or a whole number of examples';
  if (n >= 1 && !Number.isInteger(n)) return 'a fraction below 1, or a whole number of examples';
  return undefined;
}

export function checkCount(text: string): string | undefined {
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isInteger(n) && n >= 0 ? undefined : 'a whole number (0 for none)';
}

export function checkSeed(text: string): string | undefined {
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? undefined : 'a whole number';
}

/** "412 train · 45 eval · 20 golden (3 duplicates dropped)" */
export function describeSplitResult(counts: { train: number; eval: number; golden: number; duplicates: number }): string {
  const parts = [`${counts.train} train`, `${counts.eval} eval`];
  if (counts.golden > 0) parts.push(`${counts.golden} golden`);
  const dupes = counts.duplicates ? ` (${counts.duplicates} duplicate${counts.duplicates === 1 ? '' : 's'} dropped)` : '';
  return parts.join(' · ') + dupes;
}

// ------------------------------------------------------------------ provenance in the Datasets view

export interface ProvenanceDisplay {
  /** short, for the tree item's description: "hub openai/gsm8k@e53f048 · train". */
  description: string;
  /** markdown-free lines for the tooltip. */
  tooltip: string[];
}

const ROLE_LABEL: Record<DatasetProvenance['role'], string> = { train: 'training split', eval: 'evaluation split', golden: 'golden set' };

const shortSha = (revision: string): string => (/^[0-9a-f]{40}$/.test(revision) ? revision.slice(0, 7) : revision);

function sourceLine(p: DatasetProvenance, relative: (file: string) => string): { short: string; lines: string[] } {
  switch (p.source) {
    case 'hub': {
      const where = `${p.hub_id ?? '?'}${p.revision ? `@${shortSha(p.revision)}` : ''}`;
      const lines = [`From the Hugging Face Hub: ${p.hub_id ?? '?'}${p.config && p.config !== 'default' ? ` (config ${p.config})` : ''}${p.split ? `, split ${p.split}` : ''}`];
      if (p.revision) lines.push(`Revision: ${p.revision}`);
      if (p.endpoint && p.endpoint !== 'https://huggingface.co') lines.push(`Endpoint: ${p.endpoint}`);
      return { short: `hub ${where}`, lines };
    }
    case 'files': {
      const folders = (p.folders ?? []).map(relative);
      const lines = [`From files in ${folders.join(', ') || '?'}`];
      if (p.globs?.length) lines.push(`Patterns: ${p.globs.join(', ')}`);
      if (p.chunk_chars) lines.push(`Chunks of up to ${p.chunk_chars} characters`);
      return { short: `files ${folders.join(', ')}`, lines };
    }
    case 'csv':
      return { short: `csv ${p.source_file ? path.basename(p.source_file) : ''}`.trim(), lines: [`From CSV ${p.source_file ? relative(p.source_file) : '?'}`] };
    case 'split': {
      const from = p.source_file ? relative(p.source_file) : '?';
      const lines = [`Split from ${from}${p.seed !== undefined ? ` (seed ${p.seed})` : ''}`];
      if (p.parent) lines.push(...sourceLine(p.parent, relative).lines.map((l) => `  ${l}`));
      return { short: `split of ${p.source_file ? path.basename(p.source_file) : '?'}`, lines };
    }
  }
}

/** What the Datasets view shows for a file's `.source.json`. `relative` shortens absolute paths for display. */
export function describeProvenance(p: DatasetProvenance, relative: (file: string) => string = (f) => f): ProvenanceDisplay {
  const source = sourceLine(p, relative);
  const role = ROLE_LABEL[p.role] ?? p.role;
  const lines = [...source.lines, `Role: ${role}`];
  if (p.field_map && Object.keys(p.field_map).length) lines.push(`Field mapping: ${describeMapping(p.field_map)}`);
  if (p.created_at) lines.push(`Created: ${p.created_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`);
  return { description: `${p.role} · ${source.short}`, tooltip: lines };
}
