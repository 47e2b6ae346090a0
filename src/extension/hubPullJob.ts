// "Get a Dataset from Hugging Face…" downloads and converts the split in a `ftune data pull --json`
// child process, which streams it to a JSONL file batch by batch (src/core/datasets/hub/convert.ts).
// The extension host only reads progress lines and the final summary, so a multi-GB split neither
// fills VS Code's memory nor meets V8's string limit. No VS Code imports: tested with the real CLI.

import type { ChildProcess } from 'child_process';
import type { DataPullOutput, DataPullProgress, DataPullSummary } from '../core/protocol';
import { HubDatasetError, type HubErrorKind } from '../core/datasets/hub/errors';
import { abortCancellation, runCli } from './cliClient';

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
  onProgress?: (progress: Extract<DataPullProgress, { progress: unknown }>['progress']) => void;
  onRecords?: (written: number) => void;
}

/** What `ftune data pull --json` reports when done (core/protocol.ts). */
export type HubPullSummary = DataPullSummary;

const KINDS: readonly HubErrorKind[] = ['unauthorized', 'not-found', 'offline', 'cancelled', 'bad-token', 'other'];

export function hubPullArgs(job: Pick<HubPullJob, 'datasetId' | 'config' | 'split' | 'revision' | 'endpoint' | 'out' | 'cacheDir' | 'previewRows'>): string[] {
  return ['data', 'pull', job.datasetId, '--config', job.config, '--split', job.split, '--revision', job.revision, '--endpoint', job.endpoint, '--out', job.out, '--cache-dir', job.cacheDir, '--preview', String(job.previewRows ?? 3), '--json'];
}

export async function runHubPullJob(job: HubPullJob): Promise<HubPullSummary> {
  let summary: HubPullSummary | undefined;
  let failure: HubDatasetError | undefined;
  const outcome = await runCli((args, options) => job.spawnCli([...args], options?.env ?? {}), hubPullArgs(job), {
    env: job.token ? { HF_TOKEN: job.token } : {},
    cancel: abortCancellation(job.signal),
    onLine: (line, stream) => {
      if (stream === 'stdout') {
        const message = parseJsonLine(line) as Partial<Extract<DataPullOutput, { result: unknown }> & Extract<DataPullOutput, { error: unknown }>> | undefined;
        if (message?.result) summary = message.result;
        if (message?.error) {
          const kind = KINDS.find((k) => k === message.error?.kind) ?? 'other';
          failure = new HubDatasetError(kind, message.error.message ?? 'the pull failed', message.error.status);
        }
        return;
      }
      const message = parseJsonLine(line) as Partial<Extract<DataPullProgress, { progress: unknown }> & Extract<DataPullProgress, { records: unknown }>> | undefined;
      if (message?.progress) job.onProgress?.(message.progress);
      else if (typeof message?.records === 'number') job.onRecords?.(message.records);
    },
  });
  if (outcome.cancelled || job.signal?.aborted) throw new HubDatasetError('cancelled', failure?.message ?? 'cancelled');
  if (failure) throw failure;
  if (outcome.error !== undefined || !summary) throw new HubDatasetError('other', outcome.error ?? `ftune data pull printed no result (exit code ${outcome.code})`);
  return summary;
}

function parseJsonLine(line: string): unknown {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}
