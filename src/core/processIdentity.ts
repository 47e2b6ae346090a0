// Who a process is, beyond its pid. A pid is reused after the process ends and after every reboot, so
// "pid 4242 exists" says nothing about whether it is still the trainer that wrote 4242 into a file.
// The identity adds the process's start time as the operating system records it:
//   Linux    field 22 of /proc/<pid>/stat (clock ticks since boot) + the boot id
//   macOS    `ps -o lstart= -p <pid>` (the start date, to the second)
//   others   no start time: only whether the pid exists (documented in docs/SECURITY.md)
// Two identities match when the pid and the start time agree; without a start time on either side, a
// pid that exists is taken to be the same process (the best that platform allows).

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';

export interface ProcessIdentity {
  pid: number;
  /** the start time in the platform's own terms; null where the platform gives none. */
  start: string | null;
  /** the machine, so that a lock on a shared folder is never judged from another host. */
  host: string;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). Never pid <= 1. */
export function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function linuxStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = fields[19]; // field 22 overall; fields[0] here is field 3
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return startTicks ? `${boot}:${startTicks}` : null;
  } catch {
    return null;
  }
}

function psStart(pid: number): string | null {
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out === '' ? null : out;
  } catch {
    return null;
  }
}

/** The start time of `pid`, or null when the process does not exist or the platform does not say. */
export function processStartTime(pid: number): string | null {
  if (process.platform === 'linux') return linuxStart(pid);
  if (process.platform === 'darwin') return psStart(pid);
  return null;
}

export function currentProcessIdentity(): ProcessIdentity {
  return { pid: process.pid, start: processStartTime(process.pid), host: os.hostname() };
}

/**
 * Whether the process recorded as `recorded` is still running: same host, the pid exists, and its
 * start time is the recorded one. Another host's process cannot be checked from here: undefined.
 */
export function isSameProcessAlive(recorded: ProcessIdentity): boolean | undefined {
  if (recorded.host !== os.hostname()) return undefined;
  if (!pidExists(recorded.pid)) return false;
  const now = processStartTime(recorded.pid);
  if (recorded.start === null || now === null) return true;
  return now === recorded.start;
}
