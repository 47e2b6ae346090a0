// Who a pid is. A pid alone names "whatever process has that number today": after a reboot, or in a
// status.json committed to a repository, it can be an editor, a shell or init. So the extension keeps
// the trainer's identity — pid + start time + command line, read from the OS right after spawning —
// and signals a pid only while the process behind it still has that same identity.
// No VS Code imports: unit-tested against real child processes.
//
//   Linux    /proc/<pid>/stat field 22 (start time in clock ticks since boot, prefixed with the boot id
//            so a reboot never matches) and /proc/<pid>/cmdline
//   macOS    `ps -o lstart=,command= -p <pid>`
//   Windows  best effort: Win32_Process CreationDate and CommandLine through PowerShell

import { execFileSync } from 'child_process';
import * as fs from 'fs';

export interface ProcessIdentity {
  pid: number;
  /** an opaque, platform-specific start time: equal strings mean the same process start. */
  startTime: string;
  /** the command line as the OS reports it. */
  cmdline: string;
}

/** ours: the process lives and has the recorded identity; gone: no such (live) process; other: someone else's. */
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

/** Compares a recorded identity with the process that has its pid now. */
export function matchProcess(recorded: ProcessIdentity, read: (pid: number) => ProcessIdentity | undefined = readProcessIdentity): ProcessMatch {
  if (!isSignallablePid(recorded.pid)) return 'other';
  const now = read(recorded.pid);
  if (!now) return 'gone';
  return now.startTime === recorded.startTime && now.cmdline === recorded.cmdline ? 'ours' : 'other';
}

/** True when the recorded process is alive and still the same process. */
export function isOurProcess(recorded: ProcessIdentity | undefined): boolean {
  return recorded !== undefined && matchProcess(recorded) === 'ours';
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
