// One trainer per run folder. The trainer creates <run>/.ftune-lock with O_EXCL (the file system
// decides who wins a race) holding its process identity (processIdentity.ts); it removes the file
// when it ends. A lock whose process is gone, or whose pid now belongs to another process (a reboot,
// pid reuse, a lock file committed to a repository), is stale and is taken over. The extension checks
// the same lock, through readRunLock, before it spawns a trainer (src/extension/runManager.ts). The file
// holds the identity (pid + start time + command line + host) and when it was taken; it is validated
// with the schema of runFileSchemas.ts like every other file read from a run folder.

import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { currentProcessIdentity, isSameProcessAlive, type ProcessIdentity } from './processIdentity';
import { ProcessIdentitySchema } from './runFileSchemas';

export const RUN_LOCK_FILE = '.ftune-lock';

export interface RunLockInfo extends ProcessIdentity {
  host: string;
  /** when the lock was taken (ISO time). */
  created_at: string;
}

const RunLockSchema = ProcessIdentitySchema.extend({ host: z.string(), created_at: z.string().catch('') });

export class RunLockedError extends Error {
  constructor(readonly dir: string, readonly holder: RunLockInfo) {
    super(`${dir} is in use by another trainer (pid ${holder.pid} on ${holder.host}, since ${holder.created_at}); ` +
      `wait for it to finish or stop it${holder.host === currentProcessIdentity().host ? '' : `, or delete ${path.join(dir, RUN_LOCK_FILE)} if that machine no longer runs it`}`);
    this.name = 'RunLockedError';
  }
}

export interface RunLock {
  readonly file: string;
  /** removes the lock file if it is still ours; safe to call twice. */
  release(): void;
}

function lockFile(dir: string): string {
  return path.join(dir, RUN_LOCK_FILE);
}

function parseLock(text: string): RunLockInfo | undefined {
  try {
    const parsed = RunLockSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The lock file's content, whether or not its process still runs; undefined when there is none (or it is unreadable). */
export function readRunLockFile(dir: string): RunLockInfo | undefined {
  try {
    return parseLock(fs.readFileSync(lockFile(dir), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Who holds the run folder now: the lock's content when its process is alive (or on another host), else undefined. */
export function readRunLock(dir: string): RunLockInfo | undefined {
  const info = readRunLockFile(dir);
  if (!info) return undefined;
  return isSameProcessAlive(info) === false ? undefined : info;
}

/** Whether a live trainer holds the run folder. */
export function isRunLocked(dir: string): boolean {
  return readRunLock(dir) !== undefined;
}

function isOurs(info: RunLockInfo | undefined, me: ProcessIdentity): boolean {
  return info !== undefined && info.pid === me.pid && info.host === me.host && info.startTime === me.startTime && info.cmdline === me.cmdline;
}

/**
 * Takes the run folder's lock (creating the folder). Throws RunLockedError when a live trainer holds
 * it. Taking a lock this process already holds returns a handle whose release does nothing (the
 * first taker releases it).
 */
export function acquireRunLock(dir: string): RunLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = lockFile(dir);
  const me = currentProcessIdentity();
  const info: RunLockInfo = { ...me, created_at: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readRunLockFile(dir);
      if (isOurs(holder, me)) return { file, release: () => undefined };
      if (holder && isSameProcessAlive(holder) !== false) throw new RunLockedError(dir, holder);
      // Stale (its process is gone or is another process now) or unreadable: take it over. Renaming it
      // away first means two trainers doing this at once cannot both remove the other's new lock.
      const stale = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, stale);
      } catch {
        continue; // another process moved it first; try again
      }
      // If another trainer took the stale lock over between our read and our rename, what we moved is
      // its fresh, live lock: put it back (link fails if a third one exists) and give way.
      const moved = parseLock(fs.readFileSync(stale, 'utf8'));
      if (moved && !isOurs(moved, me) && isSameProcessAlive(moved) !== false) {
        try {
          fs.linkSync(stale, file);
        } catch {
          /* a newer lock is in place already */
        }
        fs.rmSync(stale, { force: true });
        throw new RunLockedError(dir, moved);
      }
      fs.rmSync(stale, { force: true });
      continue;
    }
    try {
      fs.writeSync(fd, JSON.stringify(info, null, 2) + '\n');
    } finally {
      fs.closeSync(fd);
    }
    let released = false;
    return {
      file,
      release: () => {
        if (released) return;
        released = true;
        if (isOurs(readRunLockFile(dir), me)) fs.rmSync(file, { force: true });
      },
    };
  }
  throw new Error(`${file}: could not take the run lock (it keeps changing)`);
}
