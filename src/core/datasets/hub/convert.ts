// Downloaded data files → records. Parquet is decoded with hyparquet (pure JS; snappy built
// in, other codecs need hyparquet-compressors), then values are made JSON-safe (BigInt, dates,
// bytes). A `.json` file may be a JSON array, an object holding one array of records (e.g.
// {"data": [...]}), or, as often on the Hub, JSON Lines under a .json name.

import * as fs from 'fs';
import * as readline from 'readline';
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

// ---------------------------------------------------------------- streaming (ftune data pull)
//
// A Hub split can be several GB: more than the memory one wants to give it, and more than V8's
// largest string (~512 MB), so `readFileSync(...)` followed by a split or JSON.parse is not an option.
// These readers hand out records a batch at a time and hold only that batch:
//   jsonl (and JSON Lines under a .json name)  line by line from a file stream
//   parquet                                    one row group at a time (hyparquet reads byte ranges)
//   csv, and a .json holding one array         read whole (quoted newlines / one JSON value); these
//                                              are refused above MAX_WHOLE_FILE_BYTES with the reason

/** Formats that cannot be streamed are read whole only up to this size. */
export const MAX_WHOLE_FILE_BYTES = 256 * 1024 * 1024;

/** Records of one data file, in batches of at most `batchSize`. */
export async function* streamDataRecords(file: string, format: DataFileFormat, batchSize = 1000): AsyncGenerator<DatasetRecord[]> {
  switch (format) {
    case 'parquet':
      yield* streamParquet(file, batchSize);
      return;
    case 'jsonl':
      yield* streamJsonLines(file, batchSize);
      return;
    case 'json':
      if (await looksLikeJsonLines(file)) yield* streamJsonLines(file, batchSize);
      else yield jsonToRecords(readWhole(file), file);
      return;
    case 'csv':
      yield csvToRecords(readWhole(file));
      return;
  }
}

function readWhole(file: string): string {
  const size = fs.statSync(file).size;
  if (size > MAX_WHOLE_FILE_BYTES) {
    throw new Error(`${file}: ${Math.round(size / 2 ** 20)} MiB is too large to read at once (this format cannot be streamed); pick a parquet or JSONL split`);
  }
  return fs.readFileSync(file, 'utf8');
}

/** A .json file is JSON Lines when its first line is a whole JSON object on its own. */
async function looksLikeJsonLines(file: string): Promise<boolean> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const trimmed = line.trim();
      if (trimmed === '') continue;
      if (!trimmed.startsWith('{')) return false;
      try {
        const value: unknown = JSON.parse(trimmed);
        return value !== null && typeof value === 'object' && !Array.isArray(value);
      } catch {
        return false;
      }
    }
    return false;
  } finally {
    lines.close();
  }
}

async function* streamJsonLines(file: string, batchSize: number): AsyncGenerator<DatasetRecord[]> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let batch: DatasetRecord[] = [];
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      if (jsonNestsDeeperThan(line)) throw new Error(`${file}:${lineNumber}: ${NESTING_TOO_DEEP}`);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new Error(`${file}:${lineNumber}: invalid JSON (${(err as Error).message})`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}:${lineNumber}: expected a JSON object per line`);
      batch.push(value as DatasetRecord);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    lines.close();
  }
}

async function* streamParquet(file: string, batchSize: number): AsyncGenerator<DatasetRecord[]> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const buffer = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(buffer);
  const total = Number(metadata.num_rows);
  // row ranges of at most one row group's worth (and of batchSize × 10 rows): hyparquet reads only the
  // byte ranges of the row groups it needs
  let start = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = start + Number(group.num_rows);
    for (let rowStart = start; rowStart < groupEnd; rowStart += batchSize * 10) {
      const rowEnd = Math.min(groupEnd, rowStart + batchSize * 10, total);
      const rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd });
      yield rows.map((row) => toJsonValue(row) as DatasetRecord);
    }
    start = groupEnd;
  }
}
