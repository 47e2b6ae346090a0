// Downloaded data files → records. Parquet is decoded with hyparquet (pure JS; snappy built
// in, other codecs need hyparquet-compressors), then values are made JSON-safe (BigInt, dates,
// bytes). A `.json` file may be a JSON array, an object holding one array of records (e.g.
// {"data": [...]}), or, as often on the Hub, JSON Lines under a .json name.

import * as fs from 'fs';
import { csvToRecords } from '../csv';
import { jsonNestsDeeperThan, MAX_JSON_DEPTH, NESTING_TOO_DEEP } from '../../jsonDepth';
import { parseJsonl, toJsonValue, type DatasetRecord, type JsonValue } from '../jsonl';
import type { DataFileFormat } from './layout';

function asRecords(values: readonly JsonValue[], file: string): DatasetRecord[] {
  return values.map((v, i) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: item ${i} is not a JSON object`);
    return v;
  });
}

function jsonToRecords(text: string, file: string): DatasetRecord[] {
  let value: JsonValue;
  // The array or object around the records adds up to two levels.
  if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH + 2)) throw new Error(`${file}: ${NESTING_TOO_DEEP}`);
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    return parseJsonl(text, file);
  }
  if (Array.isArray(value)) return asRecords(value, file);
  if (value !== null && typeof value === 'object') {
    const arrays = Object.values(value).filter((v): v is JsonValue[] => Array.isArray(v));
    if (arrays.length === 1) return asRecords(arrays[0], file);
    return [value];
  }
  throw new Error(`${file}: expected JSON objects`);
}

export async function readParquetRecords(file: string): Promise<DatasetRecord[]> {
  // hyparquet is an ES module; a dynamic import is how CommonJS code loads it.
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) });
  return rows.map((row) => toJsonValue(row) as DatasetRecord);
}

export async function readDataFile(file: string, format: DataFileFormat): Promise<DatasetRecord[]> {
  switch (format) {
    case 'parquet':
      return readParquetRecords(file);
    case 'jsonl':
      return parseJsonl(fs.readFileSync(file, 'utf8'), file);
    case 'json':
      return jsonToRecords(fs.readFileSync(file, 'utf8'), file);
    case 'csv':
      return csvToRecords(fs.readFileSync(file, 'utf8'));
  }
}
