// Who a pid is. A pid alone names "whatever process has that number today": after a reboot, or in a
// status.json or lock file committed to a repository, it can be an editor, a shell or init. So we keep
// a process's identity — pid + start time + command line (+ the host) — and treat a pid as "that
// process" (alive, signallable, holding a run lock) only while the process behind it still has that
// same identity. One module for both users: the extension (Stop / Delete Run, status.json) and the
// trainer's run lock (runLock.ts). No VS Code imports: unit-tested against real child processes.
//
//   Linux    /proc/<pid>/stat field 22 (start time in clock ticks since boot, prefixed with the boot id
//            so a reboot never matches) and /proc/<pid>/cmdline
//   macOS    `ps -o lstart=,command= -p <pid>`
//   Windows  best effort: Win32_Process CreationDate and CommandLine through PowerShell
//   others   no identity can be read (startTime ''): such a process is never "ours" (never signalled);
//            a run lock it holds is respected while its pid exists — documented in docs/SECURITY.md

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';

export interface ProcessIdentity {
  pid: number;
  /** an opaque, platform-specific start time: equal strings mean the same process start. */
  startTime: string;
  /** the command line as the OS reports it. */
  cmdline: string;
  /**
   * The machine the process runs on. A run folder on a shared disk can be seen from several hosts;
   * another host's process cannot be checked (nor signalled) from here. Absent in identities recorded
   * before it was added: then the process is taken to be on this host.
   */
  host?: string;
}

/** ours: the process lives and has the recorded identity; gone: no such (live) process; other: someone else's (or another host's). */
export type ProcessMatch = 'ours' | 'gone' | 'other';

/** Below 2 there is nothing we may ever signal: 0 is our process group, 1 is init, negatives are groups. */
export function isSignallablePid(pid: unknown): pid is number {
  return typeof pid === 'number' && Number.isInteger(pid) && pid > 1;
}

/** The identity of a live process, or undefined when it does not exist (or is a zombie) or cannot be read. */
export function readProcessIdentity(pid: number, platform: NodeJS.Platform = process.platform): ProcessIdentity | undefined {
  if (!isSignallablePid(pid)) return undefined;
  try {
    if (platform === 'linux') return readLinux(pid);
    if (platform === 'darwin') return readPs(pid);
    if (platform === 'win32') return readWindows(pid);
  } catch {
    return undefined;
  }
  return undefined;
}

/** This process's identity, with the host (what the trainer writes into its run lock). */
export function currentProcessIdentity(): Required<ProcessIdentity> {
  const read = readProcessIdentity(process.pid);
  // On a platform without a readable identity the lock still records who took it (startTime ''); such
  // a lock can only be judged by whether its pid exists (isSameProcessAlive).
  return { pid: process.pid, startTime: read?.startTime ?? '', cmdline: read?.cmdline ?? process.argv.join(' '), host: os.hostname() };
}

function readLinux(pid: number): ProcessIdentity | undefined {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // "pid (comm) state ppid ..." — comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0]; // field 3
  if (state === 'Z' || state === 'X') return undefined;
  const startTicks = fields[22 - 3];
  if (!startTicks) return undefined;
  const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`).toString('utf8').replace(/\0+$/, '').split('\0').join(' ');
  return { pid, startTime: `${bootId()}:${startTicks}`, cmdline };
}

let cachedBootId: string | undefined;
function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = '';
    }
  }
  return cachedBootId;
}

function readPs(pid: number): ProcessIdentity | undefined {
  // lstart is always 24 characters ("Mon Dec  7 17:29:50 2026"); the command follows after a space.
  const out = execFileSync('ps', ['-o', 'lstart=,command=', '-p', String(pid)], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).replace(/\n+$/, '');
  if (out.trim() === '' || out.includes('<defunct>')) return undefined;
  return { pid, startTime: out.slice(0, 24).trim(), cmdline: out.slice(25).trim() };
}

function readWindows(pid: number): ProcessIdentity | undefined {
  const script = `$p = Get-CimInstance Win32_Process -Filter "ProcessId=${pid}"; if ($p) { $p.CreationDate.ToUniversalTime().ToString('o'); $p.CommandLine }`;
  const out = execFileSync('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', script], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true });
  const [startTime, ...rest] = out.split(/\r?\n/);
  if (!startTime?.trim()) return undefined;
  return { pid, startTime: startTime.trim(), cmdline: rest.join(' ').trim() };
}

/** Whether `recorded` names a process on another machine (which cannot be checked from here). */
export function isOtherHost(recorded: ProcessIdentity): boolean {
  return recorded.host !== undefined && recorded.host !== os.hostname();
}

/** Compares a recorded identity with the process that has its pid now. Another host's process is 'other'. */
export function matchProcess(recorded: ProcessIdentity, read: (pid: number) => ProcessIdentity | undefined = readProcessIdentity): ProcessMatch {
  if (!isSignallablePid(recorded.pid) || isOtherHost(recorded)) return 'other';
  if (recorded.startTime === '') return 'gone'; // recorded where no identity could be read: nothing to match
  const now = read(recorded.pid);
  if (!now) return 'gone';
  return now.startTime === recorded.startTime && now.cmdline === recorded.cmdline ? 'ours' : 'other';
}

/** True when the recorded process is alive and still the same process. */
export function isOurProcess(recorded: ProcessIdentity | undefined): boolean {
  return recorded !== undefined && matchProcess(recorded) === 'ours';
}

/**
 * For the run lock: whether the recorded process still runs. True: same identity, alive here. False:
 * gone, or its pid is another process now. Undefined: it runs on another host, so it cannot be checked
 * from here (the lock is respected).
 */
export function isSameProcessAlive(recorded: ProcessIdentity): boolean | undefined {
  if (isOtherHost(recorded)) return undefined;
  if (recorded.startTime === '') return pidExists(recorded.pid);
  return matchProcess(recorded) === 'ours';
}

/**
 * Only for a lock recorded where no identity could be read (startTime ''): all that is left is whether
 * the pid exists, and a lock is respected rather than taken over when unsure. EPERM means "exists,
 * someone else's" — it makes a lock count as held, never a process count as ours to signal.
 */
function pidExists(pid: number): boolean {
  if (!isSignallablePid(pid)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Sends `signal` only when the pid still belongs to the recorded process. Returns what it found; a
 * process that vanished between the check and the signal (ESRCH) counts as gone, and EPERM (it is not
 * ours to signal) as other — never as alive.
 */
export function signalOurProcess(recorded: ProcessIdentity, signal: NodeJS.Signals): ProcessMatch {
  const match = matchProcess(recorded);
  if (match !== 'ours') return match;
  try {
    process.kill(recorded.pid, signal);
    return 'ours';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? 'other' : 'gone';
  }
}
