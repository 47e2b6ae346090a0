// Workspace folders → continued-pre-training records `{"text": ...}`: every text file the walk
// yields (see walk.ts) is chunked on its own, so a chunk never spans two files.

import * as fs from 'fs';
import * as path from 'path';
import { chunkText } from './chunk';
import type { DatasetRecord } from './jsonl';
import { walkFiles } from './walk';

export interface FromFilesOptions {
  globs?: readonly string[];
  /** Largest chunk in characters (default 2000). */
  chunkChars?: number;
  /** Files larger than this are skipped as probably generated (default 1 MiB). */
  maxFileBytes?: number;
  /**
   * Files never read (absolute or relative to the working folder), with their temporary siblings
   * (`<file>.tmp-*`): e.g. the output being replaced, which may lie inside a chosen folder and must not
   * be read back in as text.
   */
  exclude?: readonly string[];
}

export interface FromFilesResult {
  records: DatasetRecord[];
  /** Relative paths (per root) of the files that produced records. */
  files: string[];
  skipped: { path: string; reason: 'binary' | 'too-large' | 'empty' }[];
}

export const DEFAULT_CHUNK_CHARS = 2000;

/** A NUL byte in the first 8 KiB is how git decides a file is binary; do the same. */
function looksBinary(bytes: Buffer): boolean {
  return bytes.subarray(0, 8192).includes(0);
}

export function filesToRecords(roots: readonly string[], options: FromFilesOptions = {}): FromFilesResult {
  const chunkChars = options.chunkChars ?? DEFAULT_CHUNK_CHARS;
  const maxFileBytes = options.maxFileBytes ?? 1024 * 1024;
  const result: FromFilesResult = { records: [], files: [], skipped: [] };
  const excluded = (options.exclude ?? []).map((f) => path.resolve(f));
  const isExcluded = (abs: string) => excluded.some((f) => abs === f || abs.startsWith(`${f}.tmp-`));
  for (const file of walkFiles(roots, { globs: options.globs })) {
    if (isExcluded(path.resolve(file.absPath))) continue;
    const size = fs.statSync(file.absPath).size;
    if (size > maxFileBytes) {
      result.skipped.push({ path: file.relPath, reason: 'too-large' });
      continue;
    }
    const bytes = fs.readFileSync(file.absPath);
    if (looksBinary(bytes)) {
      result.skipped.push({ path: file.relPath, reason: 'binary' });
      continue;
    }
    const chunks = chunkText(bytes.toString('utf8'), chunkChars);
    if (chunks.length === 0) {
      result.skipped.push({ path: file.relPath, reason: 'empty' });
      continue;
    }
    result.files.push(file.relPath);
    for (const text of chunks) result.records.push({ text });
  }
  return result;
}
