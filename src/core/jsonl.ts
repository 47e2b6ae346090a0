// Streaming JSONL reader. Training files can be hundreds of MB, so the file is read in chunks and
// split on raw bytes: memory stays bounded by the longest line, and each line's bytes are decoded on
// their own so invalid UTF-8 is reported at the line where it occurs (a whole-file decode would
// silently turn it into U+FFFD).

import * as fs from 'fs';
import { jsonNestsDeeperThan, NESTING_TOO_DEEP } from './jsonDepth';

export type JsonObject = Record<string, unknown>;

export type JsonlEntry =
  | { line: number; value: JsonObject; error?: undefined }
  | { line: number; error: string; value?: undefined };

/** What the reader noticed about the file's layout; `ftune validate` reports these as notes. */
export interface JsonlStats {
  /** physical lines, blank ones included. */
  lines: number;
  blank_lines: number;
  crlf_lines: number;
  bom: boolean;
}

export interface JsonlReadOptions {
  /** filled in while reading (complete once the iteration ends). */
  stats?: JsonlStats;
  /** lines longer than this are reported and skipped instead of being held in memory. */
  maxLineBytes?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

export function createJsonlStats(): JsonlStats {
  return { lines: 0, blank_lines: 0, crlf_lines: 0, bom: false };
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Yields one entry per non-blank physical line (1-based line numbers): the parsed object, or why
 * the line is not one. Only file-system errors (missing file, permissions) are thrown.
 */
export async function* readJsonl(file: string, options: JsonlReadOptions = {}): AsyncGenerator<JsonlEntry> {
  const stats = options.stats ?? createJsonlStats();
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const splitter = new LineSplitter(maxLineBytes);
  let lineNumber = 0;

  const handle = (bytes: Buffer | undefined): JsonlEntry | undefined => {
    lineNumber += 1;
    stats.lines = lineNumber;
    if (bytes === undefined) return { line: lineNumber, error: `line is longer than ${formatBytes(maxLineBytes)}` };
    let content = bytes;
    if (lineNumber === 1 && startsWith(content, BOM)) {
      stats.bom = true;
      content = content.subarray(BOM.length);
    }
    if (content.length > 0 && content[content.length - 1] === CARRIAGE_RETURN) {
      stats.crlf_lines += 1;
      content = content.subarray(0, content.length - 1);
    }
    const entry = parseLine(content, lineNumber);
    if (entry === undefined) stats.blank_lines += 1;
    return entry;
  };

  const stream = fs.createReadStream(file, { highWaterMark: 1 << 16 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (const line of splitter.push(chunk)) {
      const entry = handle(line);
      if (entry) yield entry;
    }
  }
  const last = splitter.end();
  if (last !== null) {
    const entry = handle(last);
    if (entry) yield entry;
  }
}

/** Parses one line's bytes (BOM and CR already removed). Undefined for a blank line. */
export function parseLine(bytes: Uint8Array, line: number): JsonlEntry | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { line, error: `invalid UTF-8 at byte ${firstInvalidUtf8Offset(bytes) + 1} of the line` };
  }
  if (text.trim() === '') return undefined;
  if (jsonNestsDeeperThan(text)) return { line, error: NESTING_TOO_DEEP };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (text.charCodeAt(0) === 0xfeff) return { line, error: 'byte order mark in the middle of the file (were files concatenated?)' };
    return { line, error: `invalid JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { line, error: `not a JSON object (got ${describeJsonType(value)})` };
  }
  return { line, value: value as JsonObject };
}

export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

// ignoreBOM keeps a U+FEFF in the text: only the file's first line may start with one (handled above).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Splits a byte stream on '\n'. A line that grows past `maxLineBytes` is dropped (its bytes are
 * discarded until the next newline) and reported as `undefined`, so one huge line cannot exhaust memory.
 */
class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private overflow = false;

  constructor(private readonly maxLineBytes: number) {}

  *push(chunk: Buffer): Generator<Buffer | undefined> {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline < 0) {
        this.append(chunk.subarray(start));
        return;
      }
      this.append(chunk.subarray(start, newline));
      yield this.take();
      start = newline + 1;
    }
  }

  /** the unterminated last line, or null when the file ended with a newline (or was empty). */
  end(): Buffer | undefined | null {
    if (this.partBytes === 0 && !this.overflow) return null;
    return this.take();
  }

  private append(bytes: Buffer): void {
    if (this.overflow || bytes.length === 0) return;
    if (this.partBytes + bytes.length > this.maxLineBytes) {
      this.overflow = true;
      this.parts = [];
      this.partBytes = 0;
      return;
    }
    this.parts.push(bytes);
    this.partBytes += bytes.length;
  }

  private take(): Buffer | undefined {
    const line = this.overflow ? undefined : this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    this.overflow = false;
    return line;
  }
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length >= prefix.length && bytes.subarray(0, prefix.length).equals(prefix);
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

/** Offset of the first byte that breaks UTF-8 (only called once the strict decoder has failed). */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let need: number;
    let min: number;
    if (b < 0x80) { i += 1; continue; }
    else if (b >= 0xc2 && b <= 0xdf) { need = 1; min = 0x80; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; min = 0x800; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; min = 0x10000; }
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid too
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return bytes.length;
}
