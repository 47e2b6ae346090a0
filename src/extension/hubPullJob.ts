// "Get a Dataset from Hugging Face…" downloads and converts the split in a `ftune data pull --json`
// child process, which streams it to a JSONL file batch by batch (src/core/datasets/hub/convert.ts).
// The extension host only reads progress lines and the final summary, so a multi-GB split neither
// fills VS Code's memory nor meets V8's string limit. No VS Code imports: tested with the real CLI.

import type { ChildProcess } from 'child_process';
import * as readline from 'readline';
import type { DownloadProgress } from '../core/datasets/hub/download';
import type { PullResult } from '../core/datasets/hub/pull';
import { HubDatasetError, type HubErrorKind } from '../core/datasets/hub/errors';

export interface HubPullJob {
  datasetId: string;
  config: string;
  split: string;
  /** the commit the listing was taken at: the files are pulled at exactly that revision. */
  revision: string;
  endpoint: string;
  /** passed in the child's environment (HF_TOKEN), never on its command line. */
  token?: string;
  out: string;
  cacheDir: string;
  /** rows kept for the mapping step's preview. */
  previewRows?: number;
  /** starts the CLI with these arguments and extra environment (the extension's spawnCli). */
  spawnCli: (args: string[], env: Record<string, string>) => ChildProcess;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  onRecords?: (written: number) => void;
}

/** What `ftune data pull --json` reports when done: the pull's result without its listing and provenance path. */
export type HubPullSummary = Omit<PullResult, 'provenanceFile' | 'listing'>;

const KINDS: readonly HubErrorKind[] = ['unauthorized', 'not-found', 'offline', 'cancelled', 'bad-token', 'other'];

export function hubPullArgs(job: Pick<HubPullJob, 'datasetId' | 'config' | 'split' | 'revision' | 'endpoint' | 'out' | 'cacheDir' | 'previewRows'>): string[] {
  return ['data', 'pull', job.datasetId, '--config', job.config, '--split', job.split, '--revision', job.revision, '--endpoint', job.endpoint, '--out', job.out, '--cache-dir', job.cacheDir, '--preview', String(job.previewRows ?? 3), '--json'];
}

export async function runHubPullJob(job: HubPullJob): Promise<HubPullSummary> {
  const child = job.spawnCli(hubPullArgs(job), job.token ? { HF_TOKEN: job.token } : {});
  let summary: HubPullSummary | undefined;
  let failure: HubDatasetError | undefined;
  let lastStderr = '';
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = parseJsonLine(line) as { result?: HubPullSummary; error?: { kind?: string; message?: string; status?: number } } | undefined;
    if (message?.result) summary = message.result;
    if (message?.error) {
      const kind = KINDS.find((k) => k === message.error?.kind) ?? 'other';
      failure = new HubDatasetError(kind, message.error.message ?? 'the pull failed', message.error.status);
    }
  });
  readline.createInterface({ input: child.stderr! }).on('line', (line) => {
    const message = parseJsonLine(line) as { progress?: DownloadProgress; records?: number } | undefined;
    if (message?.progress) job.onProgress?.(message.progress);
    else if (typeof message?.records === 'number') job.onRecords?.(message.records);
    else if (line.trim()) lastStderr = line.replace(/^ftune: (error: )?/, '');
  });
  const onAbort = (): void => void child.kill('SIGTERM');
  job.signal?.addEventListener('abort', onAbort);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (job.signal?.aborted) throw new HubDatasetError('cancelled', failure?.message ?? 'cancelled');
    if (failure) throw failure;
    if (code !== 0 || !summary) throw new HubDatasetError('other', lastStderr || `ftune data pull exited with code ${code}`);
    return summary;
  } finally {
    job.signal?.removeEventListener('abort', onAbort);
  }
}

function parseJsonLine(line: string): unknown {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}
