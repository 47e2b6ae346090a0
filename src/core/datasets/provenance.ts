// Where a produced JSONL came from, written next to it as `<file>.source.json` so the
// Datasets view can show it and a derived file (a split) can carry its origin forward.

import * as fs from 'fs';

export type SplitRole = 'train' | 'eval' | 'golden';

export interface DatasetProvenance {
  /** How the file was made. */
  source: 'hub' | 'files' | 'csv' | 'split';
  /** What the file is for. */
  role: SplitRole;
  records: number;
  created_at: string;
  // source: 'hub'
  hub_id?: string;
  /** The commit sha the files were downloaded at (or the requested revision when unknown). */
  revision?: string;
  config?: string;
  split?: string;
  files?: string[];
  endpoint?: string;
  // source: 'files'
  folders?: string[];
  globs?: string[];
  chunk_chars?: number;
  // source: 'csv' | 'split'
  source_file?: string;
  field_map?: Record<string, string>;
  // source: 'split'
  seed?: number;
  /** Provenance of the file that was split, when it had one. */
  parent?: DatasetProvenance;
}

export function provenancePath(jsonlFile: string): string {
  return `${jsonlFile}.source.json`;
}

export function writeProvenance(jsonlFile: string, provenance: DatasetProvenance): string {
  const file = provenancePath(jsonlFile);
  fs.writeFileSync(file, JSON.stringify(provenance, null, 2) + '\n');
  return file;
}

/** The provenance of a JSONL file, or undefined when it has none (or it is unreadable). */
export function readProvenance(jsonlFile: string): DatasetProvenance | undefined {
  try {
    const value: unknown = JSON.parse(fs.readFileSync(provenancePath(jsonlFile), 'utf8'));
    return value !== null && typeof value === 'object' ? (value as DatasetProvenance) : undefined;
  } catch {
    return undefined;
  }
}

/** The split role a Hub split name plays: the training split trains, every other split evaluates. */
export function roleForSplitName(split: string): SplitRole {
  return split === 'train' ? 'train' : 'eval';
}
