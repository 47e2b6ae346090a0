// The extension's one client of its own CLI: starts `ftune <command>` (startCli: the one place that
// spawns it, for the trainer and `ftune serve` too), streams its output lines, reads the `--json` line
// typed by command (core/protocol.ts CliJsonOutputs) and turns a failure into the reason from its
// `ftune: error:` line. No VS Code imports: tested against a real child process.
// (The trainer's long-lived process is kept by runManager.ts and `ftune serve` by serveClient.ts; both
// start it with startCli and read errors with the same parseCliErrorLine.)

import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'child_process';
import * as readline from 'readline';
import { cliErrorMessage, parseCliErrorLine, type CliJsonOutputs } from '../core/protocol';
import type { CliInvocation } from './cliInvocation';

/** Starts `ftune <args>` (Ctx.spawnCli / PanelHost.spawnCli: the configured Node, the bundled CLI). */
export type SpawnCli = (args: readonly string[], options?: { cwd?: string; env?: Record<string, string> }) => ChildProcess;

/**
 * The one spawn of the CLI: the invocation (cliInvocation.ts: which Node, which script, its
 * environment) with extra environment (a token that must not be on the command line) in `cwd`.
 * `stdin: 'ignore'` for a process that reads nothing (the trainer); `ftune serve` reads requests.
 */
export function startCli(invocation: CliInvocation, options: { cwd?: string; env?: Record<string, string>; stdin?: 'pipe' | 'ignore' } = {}): ChildProcessWithoutNullStreams {
  const env = { ...invocation.env, ...options.env };
  return spawn(invocation.command, invocation.args, { cwd: options.cwd, env, stdio: [options.stdin ?? 'pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
}

/** A Cancellation for an AbortSignal (an already aborted signal cancels at once). */
export function abortCancellation(signal: AbortSignal | undefined): Cancellation | undefined {
  if (!signal) return undefined;
  return {
    onCancellationRequested(listener) {
      if (signal.aborted) {
        queueMicrotask(listener);
        return { dispose: () => {} };
      }
      signal.addEventListener('abort', listener, { once: true });
      return { dispose: () => signal.removeEventListener('abort', listener) };
    },
  };
}

/** Anything that can ask for a stop (a VS Code CancellationToken, an adapter around an AbortSignal). */
export interface Cancellation {
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export interface CliOptions {
  cwd?: string;
  /** added to the child's environment. */
  env?: Record<string, string>;
  /** every non-empty output line, as it comes. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  cancel?: Cancellation;
}

export interface CliOutcome {
  /** exit code; null when killed or never started. */
  code: number | null;
  cancelled: boolean;
  /** why it failed, for a person: the `ftune: error:` reason, the last stderr lines, or why it could not start. */
  error?: string;
  /** the last JSON line on stdout (a `--json` result), parsed. */
  json?: unknown;
}

/** Runs one CLI command to its end. Never rejects: a failure is in `error`. */
export function runCli(spawn: SpawnCli, args: readonly string[], options: CliOptions = {}): Promise<CliOutcome> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(args, { cwd: options.cwd, env: options.env });
    } catch (error) {
      resolve({ code: null, cancelled: false, error: `could not start the ftune CLI: ${(error as Error).message}` });
      return;
    }
    let json: unknown;
    let stderr = '';
    let reason: string | undefined;
    let cancelled = false;
    let settled = false;
    if (child.stdout) readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const trimmed = line.trim();
      if (!trimmed) return;
      if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
        try {
          json = JSON.parse(trimmed);
        } catch {
          // a log line that happens to start with a bracket
        }
      }
      options.onLine?.(line, 'stdout');
    });
    if (child.stderr) readline.createInterface({ input: child.stderr }).on('line', (line) => {
      if (!line.trim()) return;
      stderr += line + '\n';
      reason = parseCliErrorLine(line) ?? reason;
      options.onLine?.(line, 'stderr');
    });
    const subscription = options.cancel?.onCancellationRequested(() => {
      cancelled = true;
      child.kill('SIGTERM');
    });
    const settle = (outcome: CliOutcome): void => {
      if (settled) return;
      settled = true;
      subscription?.dispose();
      resolve(outcome);
    };
    // a failed spawn may emit 'error' without 'close'
    child.on('error', (e) => settle({ code: null, cancelled, error: `could not start the ftune CLI: ${e.message}` }));
    child.on('close', (code) => {
      const failed = code !== 0 && !cancelled;
      settle({ code, cancelled, json, error: failed ? reason ?? cliErrorMessage(stderr, code, `ftune ${args[0] ?? ''}`.trim()) : undefined });
    });
  });
}

/**
 * Runs `ftune <command> ... --json` and returns its output, checked by `guard`; rejects with the CLI's
 * own reason when it fails or prints something else.
 */
export async function runCliJson<C extends keyof CliJsonOutputs>(
  spawn: SpawnCli,
  command: C,
  args: readonly string[],
  guard: (value: unknown) => value is CliJsonOutputs[C],
  options: CliOptions = {},
): Promise<CliJsonOutputs[C]> {
  const outcome = await runCli(spawn, [command, ...args], options);
  if (outcome.cancelled) throw new Error(`ftune ${command} was cancelled`);
  if (outcome.error !== undefined) throw new Error(outcome.error);
  if (outcome.json === undefined) throw new Error(`ftune ${command} printed no JSON result`);
  if (!guard(outcome.json)) throw new Error(`ftune ${command} printed a result this version does not understand`);
  return outcome.json;
}
