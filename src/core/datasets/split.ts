// Deterministic train / eval / golden splits. Duplicates (by normalised content) are dropped
// first so no example can land in two splits; a seeded shuffle picks which records go where,
// and each split keeps the input's order so the files stay easy to read and diff.

import * as path from 'path';
import { dedupeRecords } from './dedupe';
import { readJsonl, writeJsonl, type DatasetRecord } from './jsonl';
import { mulberry32, seededShuffle } from './prng';
import { readProvenance, writeProvenance, type SplitRole } from './provenance';

export interface SplitOptions {
  /** Fraction of the unique records (< 1) or a count (>= 1) for the eval split. */
  eval: number;
  /** Fraction (< 1) or count (>= 1) for the golden split (a fixed set for before/after comparisons). */
  golden: number;
  seed: number;
}

export interface SplitResult {
  train: DatasetRecord[];
  eval: DatasetRecord[];
  golden: DatasetRecord[];
  /** Records dropped because an earlier record had the same normalised content. */
  duplicates: number;
}

function resolveCount(value: number, total: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number, got ${value}`);
  if (value >= 1) {
    if (!Number.isInteger(value)) throw new Error(`--${name} must be a fraction below 1 or a whole count, got ${value}`);
    return value;
  }
  return Math.round(value * total);
}

export function splitRecords(records: readonly DatasetRecord[], options: SplitOptions): SplitResult {
  const { unique, duplicateIndices } = dedupeRecords(records);
  const total = unique.length;
  const nGolden = resolveCount(options.golden, total, 'golden');
  const nEval = resolveCount(options.eval, total, 'eval');
  if (nGolden + nEval >= total) {
    throw new Error(`cannot take ${nGolden} golden + ${nEval} eval examples from ${total} unique records and keep any for training`);
  }
  const order = seededShuffle(unique.map((_, i) => i), mulberry32(options.seed));
  const roleOf = new Array<SplitRole>(total).fill('train');
  order.slice(0, nGolden).forEach((i) => (roleOf[i] = 'golden'));
  order.slice(nGolden, nGolden + nEval).forEach((i) => (roleOf[i] = 'eval'));
  const result: SplitResult = { train: [], eval: [], golden: [], duplicates: duplicateIndices.length };
  unique.forEach((r, i) => result[roleOf[i]].push(r));
  return result;
}

export interface SplitFileResult extends SplitResult {
  /** Written files by role; a role with no records gets no file. */
  files: Partial<Record<SplitRole, string>>;
}

/** `name.jsonl` → `name`, also for `.json` and `.ndjson`. */
export function datasetStem(file: string): string {
  return path.basename(file).replace(/\.(jsonl|ndjson|json)$/i, '');
}

/** Splits a JSONL file into `<stem>.train.jsonl`, `.eval.jsonl`, `.golden.jsonl` (+ provenance). */
export function splitFile(file: string, options: SplitOptions & { outDir?: string }): SplitFileResult {
  const records = readJsonl(file);
  const result = splitRecords(records, options);
  const outDir = options.outDir ?? path.dirname(file);
  const stem = datasetStem(file);
  const parent = readProvenance(file);
  const files: Partial<Record<SplitRole, string>> = {};
  for (const role of ['train', 'eval', 'golden'] as const) {
    if (result[role].length === 0) continue;
    const out = path.join(outDir, `${stem}.${role}.jsonl`);
    writeJsonl(out, result[role]);
    writeProvenance(out, {
      source: 'split',
      role,
      records: result[role].length,
      created_at: new Date().toISOString(),
      source_file: path.resolve(file),
      seed: options.seed,
      ...(parent ? { parent } : {}),
    });
    files[role] = out;
  }
  return { ...result, files };
}
