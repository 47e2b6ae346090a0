// The run-folder lock, as the extension reads it. The trainer (`ftune train`) takes an exclusive lock
// on its run folder by writing `<run>/.lock` = {pid, startTime, cmdline} (the identity of
// processIdentity.ts) and removing it when it ends; see src/core/runLock.ts on the trainer side. The
// extension only needs to know whether a live trainer holds a folder before it spawns another one there:
// a lock whose process is gone (or is someone else now) is stale and holds nothing.

import * as fs from 'fs';
import * as path from 'path';
import { matchProcess, type ProcessIdentity } from './processIdentity';
import { ProcessIdentitySchema } from './runFileSchemas';

export const RUN_LOCK_FILE = '.lock';

export function runLockPath(runDir: string): string {
  return path.join(runDir, RUN_LOCK_FILE);
}

/** The recorded holder of a run folder's lock, when the lock file exists and is well-formed. */
export function readRunLock(runDir: string): ProcessIdentity | undefined {
  let text: string;
  try {
    text = fs.readFileSync(runLockPath(runDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = ProcessIdentitySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The live trainer that holds `runDir`, or undefined when the folder is free (no lock, or a stale one). */
export function liveRunLockHolder(runDir: string, match: (identity: ProcessIdentity) => ReturnType<typeof matchProcess> = matchProcess): ProcessIdentity | undefined {
  const holder = readRunLock(runDir);
  return holder && match(holder) === 'ours' ? holder : undefined;
}
