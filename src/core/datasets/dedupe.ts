// Content keys for deduplication: two records are the same example when their JSON matches
// after string values are lowercased and whitespace-collapsed (so "Hello  world" and
// "hello world\n" collide) and object keys are sorted (so key order does not matter).

import type { DatasetRecord, JsonValue } from './jsonl';

function normaliseValue(value: JsonValue): JsonValue {
  if (typeof value === 'string') return value.replace(/\s+/g, ' ').trim().toLowerCase();
  if (Array.isArray(value)) return value.map(normaliseValue);
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const key of Object.keys(value).sort()) out[key] = normaliseValue(value[key]);
    return out;
  }
  return value;
}

export function contentKey(record: DatasetRecord): string {
  return JSON.stringify(normaliseValue(record));
}

export interface DedupeResult {
  unique: DatasetRecord[];
  /** Indices (in the input) of records dropped as duplicates of an earlier one. */
  duplicateIndices: number[];
}

/** Keeps the first occurrence of every content key, in input order. */
export function dedupeRecords(records: readonly DatasetRecord[]): DedupeResult {
  const seen = new Set<string>();
  const unique: DatasetRecord[] = [];
  const duplicateIndices: number[] = [];
  records.forEach((r, i) => {
    const key = contentKey(r);
    if (seen.has(key)) duplicateIndices.push(i);
    else {
      seen.add(key);
      unique.push(r);
    }
  });
  return { unique, duplicateIndices };
}
