// "Create a Pre-training Dataset from Files…" without blocking the extension host: the walk (every
// .gitignore on the way, every file read and chunked) runs in a `ftune data from-files` child process.
// The CLI replaces the target the one way core does it (writeJsonlAtomic: a temporary sibling renamed
// over the target once complete) and never reads the previous output back in as text, so a walk that
// finds no text, fails or is cancelled leaves the previous file as it was.
// No VS Code imports: tested with the real CLI.

import type { ChildProcess } from 'child_process';
import { abortCancellation, runCli } from './cliClient';

export interface FromFilesJob {
  folders: readonly string[];
  globs: readonly string[];
  /** the .jsonl to (re)place. */
  target: string;
  /** starts the CLI with these arguments (the extension's spawnCli). */
  spawnCli: (args: string[]) => ChildProcess;
  signal?: AbortSignal;
}

export interface FromFilesOutcome {
  /** the CLI's summary lines ("N records from M file(s) → …", "skipped …"). */
  summary: string[];
}

export async function runFromFilesJob(job: FromFilesJob): Promise<FromFilesOutcome> {
  // the CLI itself keeps --out (and its provenance) out of the walk and writes it atomically
  const globs = job.globs.length ? ['--glob', job.globs.join(',')] : [];
  const stdout: string[] = [];
  const outcome = await runCli((args) => job.spawnCli([...args]), ['data', 'from-files', ...job.folders, '--out', job.target, ...globs], {
    cancel: abortCancellation(job.signal),
    onLine: (line, stream) => void (stream === 'stdout' && stdout.push(line)),
  });
  if (outcome.cancelled || job.signal?.aborted) throw new Error('cancelled');
  if (outcome.error !== undefined) throw new Error(outcome.error);
  return { summary: stdout.filter((l) => !l.startsWith('provenance')) };
}
