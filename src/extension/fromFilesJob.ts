// "Create a Pre-training Dataset from Files…" without blocking the extension host: the walk (every
// .gitignore on the way, every file read and chunked) runs in a `ftune data from-files` child process.
// The CLI replaces the target the one way core does it (writeJsonlAtomic: a temporary sibling renamed
// over the target once complete) and never reads the previous output back in as text, so a walk that
// finds no text, fails or is cancelled leaves the previous file as it was.
// No VS Code imports: tested with the real CLI.

import type { ChildProcess } from 'child_process';
import * as readline from 'readline';

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
  const child = job.spawnCli(['data', 'from-files', ...job.folders, '--out', job.target, ...globs]);
  const stdout: string[] = [];
  let errorLine: string | undefined;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  if (child.stderr) {
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      const match = /ftune: error: (.*)/.exec(line);
      if (match) errorLine = match[1];
    });
  }
  const onAbort = (): void => void child.kill('SIGTERM');
  job.signal?.addEventListener('abort', onAbort);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    if (job.signal?.aborted) throw new Error('cancelled');
    if (code !== 0) throw new Error(errorLine ?? `ftune data from-files exited with code ${code}`);
    return { summary: stdout.join('').split('\n').filter((l) => l && !l.startsWith('provenance')) };
  } finally {
    job.signal?.removeEventListener('abort', onAbort);
  }
}
