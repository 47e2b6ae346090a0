// JSON Lines reading/writing shared by every dataset command. A record is one JSON object per line.
// Each line is parsed by the trainer's reader (core/jsonl.ts parseLine), so a line the dataset tools
// accept is a line `ftune train` accepts, with the same reasons when it is not. These helpers hold a
// whole (small) file in memory; training data is streamed by core/jsonl.ts readJsonl.

import * as fs from 'fs';
import { parseLine } from '../jsonl';

import type { DatasetRecord, JsonValue } from '../jsonValue';

export type { DatasetRecord, JsonValue } from '../jsonValue';

/** Parses JSONL text; blank lines are skipped, anything else must be a JSON object. */
export function parseJsonl(text: string, sourceName = 'input'): DatasetRecord[] {
  const records: DatasetRecord[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, i) => {
    const entry = parseLine(utf8.encode(line), i + 1);
    if (entry === undefined) return;
    if (entry.error !== undefined) throw new Error(`${sourceName}:${entry.line}: ${entry.error}`);
    records.push(entry.value as DatasetRecord);
  });
  return records;
}

const utf8 = new TextEncoder();

export function readJsonl(file: string): DatasetRecord[] {
  return parseJsonl(fs.readFileSync(file, 'utf8'), file);
}

export function toJsonl(records: readonly DatasetRecord[]): string {
  return records.map((r) => JSON.stringify(r) + '\n').join('');
}

export function writeJsonl(file: string, records: readonly DatasetRecord[]): void {
  fs.writeFileSync(file, toJsonl(records));
}

/**
 * Replaces `file` only once the new content is complete on disk: written to `<file>.tmp-<pid>` in the
 * same folder (so the rename cannot cross file systems), then renamed over it. If anything fails the
 * previous file is untouched and the temporary one removed.
 */
export function writeJsonlAtomic(file: string, records: readonly DatasetRecord[]): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, toJsonl(records), { flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Converts what decoders hand back (BigInt, Date, bytes, undefined) into plain JSON values. */
export function toJsonValue(value: unknown): JsonValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') {
    // Beyond 2^53 a number would silently change the value; a string keeps it exact.
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (typeof value === 'number') return Number.isFinite(value) ? (Object.is(value, -0) ? 0 : value) : null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v) => toJsonValue(v));
  if (typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) out[k] = toJsonValue(v);
    }
    return out;
  }
  return String(value);
}
