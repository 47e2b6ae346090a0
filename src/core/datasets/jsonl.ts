// JSON Lines reading/writing shared by every dataset command. A record is one JSON object per line.

import * as fs from 'fs';
import { jsonNestsDeeperThan, NESTING_TOO_DEEP } from '../jsonDepth';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type DatasetRecord = { [key: string]: JsonValue };

/** Parses JSONL text; blank lines are skipped, anything else must be a JSON object. */
export function parseJsonl(text: string, sourceName = 'input'): DatasetRecord[] {
  const records: DatasetRecord[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim().length === 0) return;
    if (jsonNestsDeeperThan(line)) throw new Error(`${sourceName}:${i + 1}: ${NESTING_TOO_DEEP}`);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${sourceName}:${i + 1}: invalid JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`${sourceName}:${i + 1}: expected a JSON object per line`);
    }
    records.push(value as DatasetRecord);
  });
  return records;
}

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
