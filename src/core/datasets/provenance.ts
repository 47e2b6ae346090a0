// Where a produced JSONL came from, written next to it as `<file>.source.json` so the
// Datasets view can show it and a derived file (a split) can carry its origin forward.

import * as fs from 'fs';
import * as path from 'path';
import * as z from 'zod';

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

/** The provenance of a JSONL file, or undefined when it has none (or it is not a valid one). */
export function readProvenance(jsonlFile: string): DatasetProvenance | undefined {
  return readProvenanceChecked(jsonlFile).provenance;
}

/** A split of a split of … is a few levels deep; a chain deeper than this is not one a person made. */
export const MAX_PROVENANCE_DEPTH = 32;

const RoleSchema = z.enum(['train', 'eval', 'golden']);
const ProvenanceSchema: z.ZodType<DatasetProvenance> = z.object({
  source: z.enum(['hub', 'files', 'csv', 'split']),
  role: RoleSchema,
  records: z.number().int().nonnegative(),
  created_at: z.string(),
  hub_id: z.string().optional(),
  revision: z.string().optional(),
  config: z.string().optional(),
  split: z.string().optional(),
  files: z.array(z.string()).optional(),
  endpoint: z.string().optional(),
  folders: z.array(z.string()).optional(),
  globs: z.array(z.string()).optional(),
  chunk_chars: z.number().optional(),
  source_file: z.string().optional(),
  field_map: z.record(z.string(), z.string()).optional(),
  seed: z.number().optional(),
  get parent() {
    return ProvenanceSchema.optional();
  },
});

/** How many `parent` levels a value has, counted without recursion (a hostile file may nest thousands). */
function parentDepth(value: unknown): number {
  let depth = 0;
  let node = value;
  while (node !== null && typeof node === 'object' && 'parent' in node && depth <= MAX_PROVENANCE_DEPTH) {
    node = (node as { parent?: unknown }).parent;
    depth++;
  }
  return depth;
}

/**
 * `<file>.source.json` through its schema: the provenance, or the reason the file is not a valid one
 * (shown in the Datasets view with a warning); neither when there is no such file.
 */
export function readProvenanceChecked(jsonlFile: string): { provenance?: DatasetProvenance; problem?: string } {
  const file = provenancePath(jsonlFile);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `${path.basename(file)}: not valid JSON (${(error as Error).message})` };
  }
  if (parentDepth(value) > MAX_PROVENANCE_DEPTH) return { problem: `${path.basename(file)}: parent: nested more than ${MAX_PROVENANCE_DEPTH} levels deep` };
  const parsed = ProvenanceSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problem: `${path.basename(file)}: ${issue?.path.length ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'invalid'}` };
  }
  return { provenance: parsed.data };
}

/** The split role a Hub split name plays: the training split trains, every other split evaluates. */
export function roleForSplitName(split: string): SplitRole {
  return split === 'train' ? 'train' : 'eval';
}
