// Resumable download of one repo file. @huggingface/hub resolves the file (size, ETag, and
// the Xet protocol for Xet-backed files) and hands back a lazy Blob; we read it from the byte
// where the `<dest>.part` file ends (an HTTP Range request), append, and rename it into place
// when complete. `<dest>.download.json` records the ETag so a .part left by a different
// version of the file is never resumed, and so a complete file is reused without a request
// for its bytes.

import * as fs from 'fs';
import * as path from 'path';
import { downloadFile, fileDownloadInfo } from '@huggingface/hub';
import { HubDatasetError, isAbortError } from './errors';

export interface DownloadProgress {
  path: string;
  received: number;
  total: number;
}

export interface HubFileDownload {
  datasetId: string;
  /** Path of the file inside the repo. */
  path: string;
  revision: string;
  endpoint: string;
  token?: string;
  /** Where the file goes on disk. */
  dest: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Further attempts after a dropped connection, each resuming the .part file (default 3). */
  retries?: number;
  fetch?: typeof fetch;
}

export interface DownloadResult {
  dest: string;
  bytes: number;
  /** Bytes already on disk (a .part from an earlier, interrupted run) when this call began. */
  resumedFrom: number;
  /** Requests for the file's bytes that this call made (0 when served from the cache). */
  attempts: number;
  cached: boolean;
}

interface DownloadState {
  etag: string;
  size: number;
  complete: boolean;
}

function readState(file: string): DownloadState | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DownloadState;
  } catch {
    return undefined;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** A fetch that honours `signal` on every request the Hub library makes (metadata, bytes, Xet). */
export function fetchWithSignal(base: typeof fetch, signal: AbortSignal | undefined): typeof fetch {
  if (!signal) return base;
  return (input, init) => {
    const combined = init?.signal ? AbortSignal.any([init.signal, signal]) : signal;
    return base(input, { ...init, signal: combined });
  };
}

export async function downloadHubFile(options: HubFileDownload): Promise<DownloadResult> {
  const { dest, signal } = options;
  const partFile = `${dest}.part`;
  const stateFile = `${dest}.download.json`;
  const hubFetch = fetchWithSignal(options.fetch ?? fetch, signal);
  const common = {
    repo: { type: 'dataset' as const, name: options.datasetId },
    path: options.path,
    revision: options.revision,
    hubUrl: options.endpoint,
    fetch: hubFetch,
    ...(options.token ? { accessToken: options.token } : {}),
  };

  const info = await fileDownloadInfo(common);
  if (!info) throw new HubDatasetError('not-found', `file "${options.path}" not found in dataset "${options.datasetId}"`, 404);
  const total = info.size;

  const previous = readState(stateFile);
  if (previous?.complete && previous.etag === info.etag && fileSize(dest) === total) {
    options.onProgress?.({ path: options.path, received: total, total });
    return { dest, bytes: total, resumedFrom: total, attempts: 0, cached: true };
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  let onDisk = fileSize(partFile);
  if (previous?.etag !== info.etag || onDisk < 0 || onDisk > total) {
    fs.writeFileSync(partFile, '');
    onDisk = 0;
  }
  fs.writeFileSync(stateFile, JSON.stringify({ etag: info.etag, size: total, complete: false } satisfies DownloadState));
  const resumedFrom = onDisk;

  const blob = await downloadFile({ ...common, downloadInfo: info });
  if (!blob) throw new HubDatasetError('not-found', `file "${options.path}" not found in dataset "${options.datasetId}"`, 404);

  const maxAttempts = 1 + (options.retries ?? 3);
  let attempts = 0;
  while (onDisk < total) {
    if (signal?.aborted) throw new HubDatasetError('cancelled', `cancelled: ${onDisk} of ${total} bytes kept in ${partFile}; run again to resume`);
    attempts++;
    const handle = await fs.promises.open(partFile, 'a');
    try {
      const reader = blob.slice(onDisk).stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await handle.write(value);
        onDisk += value.byteLength;
        options.onProgress?.({ path: options.path, received: onDisk, total });
      }
    } catch (err) {
      if (signal?.aborted || isAbortError(err)) {
        throw new HubDatasetError('cancelled', `cancelled: ${onDisk} of ${total} bytes kept in ${partFile}; run again to resume`);
      }
      if (attempts >= maxAttempts) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new HubDatasetError('other', `download of "${options.path}" interrupted at ${onDisk} of ${total} bytes (${reason}); run again to resume`);
      }
    } finally {
      await handle.close();
    }
    onDisk = fileSize(partFile);
    // A stream that ends early without an error still counts as an attempt.
    if (onDisk < total && attempts >= maxAttempts) {
      throw new HubDatasetError('other', `download of "${options.path}" stopped at ${onDisk} of ${total} bytes; run again to resume`);
    }
  }
  if (onDisk !== total) {
    // More bytes than announced: the server ignored the Range header. Start over next time.
    fs.rmSync(partFile, { force: true });
    throw new HubDatasetError('other', `download of "${options.path}" has ${onDisk} bytes, expected ${total}; the partial file was discarded`);
  }
  fs.renameSync(partFile, dest);
  fs.writeFileSync(stateFile, JSON.stringify({ etag: info.etag, size: total, complete: true } satisfies DownloadState));
  return { dest, bytes: total, resumedFrom, attempts, cached: false };
}
