// `--field KEY=COLUMN` mappings: the output record gets KEY from the source's COLUMN (a dotted
// path reaches into nested objects, e.g. `prompt=meta.question`). With any mapping given, only
// the mapped keys are kept, so the trainer's format detection sees a clean record.
// parseFieldMap is the one `--field` parser: `ftune train/eval/validate` check its keys into the
// trainer's FieldMap (core/formats.ts checkFields); the dataset tools may write any key.

import type { DatasetRecord, JsonValue } from './jsonl';

/** KEY → COLUMN, as given with `--field` (keys not checked yet). */
export type ColumnMapping = Record<string, string>;

export function parseFieldMap(specs: readonly string[]): ColumnMapping {
  const map: ColumnMapping = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new Error(`--field ${spec}: expected KEY=COLUMN, e.g. prompt=question`);
    map[spec.slice(0, eq).trim()] = spec.slice(eq + 1).trim();
  }
  return map;
}

function lookup(record: DatasetRecord, column: string): JsonValue | undefined {
  if (Object.prototype.hasOwnProperty.call(record, column)) return record[column];
  let value: JsonValue | undefined = record;
  for (const part of column.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.prototype.hasOwnProperty.call(value, part)) {
      return undefined;
    }
    value = value[part];
  }
  return value;
}

export function applyFieldMap(record: DatasetRecord, map: ColumnMapping): DatasetRecord {
  const keys = Object.keys(map);
  if (keys.length === 0) return record;
  const out: DatasetRecord = {};
  for (const key of keys) {
    const value = lookup(record, map[key]);
    if (value === undefined) {
      throw new Error(`no column "${map[key]}" for --field ${key}=${map[key]} (columns: ${Object.keys(record).join(', ')})`);
    }
    out[key] = value;
  }
  return out;
}
