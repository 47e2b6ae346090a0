// Downloads a model from the Hugging Face Hub (through @huggingface/hub) into a cache folder, keeping
// only what the trainer reads: config, tokenizer files and safetensors weights. Progress is reported
// per byte, the download can be cancelled, and failures are sorted into the three that a person can
// act on: offline, gated/private (401/403), not found (404).

import * as fs from 'fs';
import * as path from 'path';
import { downloadFile, listFiles } from '@huggingface/hub';
import { resolveRepoPath, unsafeRepoPathReason } from '../repoPaths';
import { HubError, httpStatus, offlineCode } from './errors';

export interface DownloadProgress {
  file: string;
  /** bytes of all files received so far / in total. */
  received: number;
  total: number;
}

export interface HubDownloadOptions {
  repo: string;
  cacheDir: string;
  revision?: string;
  /** defaults to https://huggingface.co; tests point it at a loopback server. */
  hubUrl?: string;
  accessToken?: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]{0,95}(\/[A-Za-z0-9][\w.-]{0,95})?$/;

/** Files a model folder needs; everything else in a repo (onnx, gguf, pytorch .bin, images) is skipped. */
export function isWantedFile(file: string): boolean {
  // Only top-level files; a name with '\\', ':' or '..' could leave the model folder (see repoPaths.ts).
  if (file.includes('/') || unsafeRepoPathReason(file) !== undefined) return false;
  return /\.safetensors$/.test(file) || /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|vocab)\.json$/.test(file)
    || file === 'model.safetensors.index.json' || file === 'merges.txt' || file === 'tokenizer.model' || file === 'chat_template.jinja' || file === 'chat_template.json';
}

/** The folder a repo lands in: <cacheDir>/<org>--<name>[--<revision>]. */
export function modelCacheDir(cacheDir: string, repo: string, revision = 'main'): string {
  const base = repo.replace('/', '--');
  return path.join(cacheDir, revision === 'main' ? base : `${base}--${revision.replace(/[^\w.-]/g, '_')}`);
}

const COMPLETE_MARKER = '.download-complete';

export function isDownloaded(cacheDir: string, repo: string, revision?: string): boolean {
  return fs.existsSync(path.join(modelCacheDir(cacheDir, repo, revision), COMPLETE_MARKER));
}

export async function downloadModel(options: HubDownloadOptions): Promise<string> {
  const { repo, signal } = options;
  if (!REPO_ID.test(repo) || repo.includes('..')) throw new HubError('invalid', `"${repo}" is not a Hub model id (expected owner/name)`);
  const target = modelCacheDir(options.cacheDir, repo, options.revision);
  if (fs.existsSync(path.join(target, COMPLETE_MARKER))) return target;

  // Every request goes through this fetch, so one AbortSignal cancels listing and downloads alike.
  const abortableFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal });
  const common = {
    repo: { type: 'model' as const, name: repo },
    revision: options.revision,
    hubUrl: options.hubUrl,
    fetch: abortableFetch,
    ...(options.accessToken ? { accessToken: options.accessToken } : {}),
  };
  try {
    const entries: { path: string; size: number }[] = [];
    for await (const entry of listFiles(common)) if (entry.type === 'file' && isWantedFile(entry.path)) entries.push({ path: entry.path, size: entry.size });
    if (!entries.some((e) => e.path.endsWith('.safetensors'))) {
      throw new HubError('invalid', `${repo} has no .safetensors weights (only safetensors checkpoints can be trained)`);
    }
    if (!entries.some((e) => e.path === 'config.json')) throw new HubError('invalid', `${repo} has no config.json`);
    fs.mkdirSync(target, { recursive: true });
    const total = entries.reduce((sum, e) => sum + e.size, 0);
    let received = 0;
    for (const entry of entries) {
      const blob = await downloadFile({ ...common, path: entry.path, xet: false });
      if (!blob) throw new HubError('not-found', `${repo}: ${entry.path} disappeared while downloading`);
      // Checked again where it becomes a path: the resolved file must stay inside the model folder.
      const dest = resolveRepoPath(target, entry.path);
      const partial = `${dest}.part`;
      const out = fs.createWriteStream(partial);
      try {
        const reader = blob.stream().getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (signal?.aborted) throw signal.reason ?? new Error('aborted');
          await new Promise<void>((resolve, reject) => out.write(value, (error) => (error ? reject(error) : resolve())));
          received += value.byteLength;
          options.onProgress?.({ file: entry.path, received, total });
        }
      } finally {
        await new Promise<void>((resolve) => out.end(resolve));
      }
      fs.renameSync(partial, dest);
    }
    fs.writeFileSync(path.join(target, COMPLETE_MARKER), new Date().toISOString());
    return target;
  } catch (error) {
    throw classify(error, repo, signal);
  }
}

/** Sorts any failure into a HubError whose message says what to do. */
export function classify(error: unknown, repo: string, signal?: AbortSignal): HubError {
  if (error instanceof HubError) return error;
  if (signal?.aborted) return new HubError('cancelled', `download of ${repo} cancelled`);
  const status = httpStatus(error);
  if (status === 401 || status === 403) {
    return new HubError('unauthorized', `${repo} is gated or private (HTTP ${status}): accept its license on the Hub and set a Hugging Face token`);
  }
  if (status === 404) return new HubError('not-found', `${repo} was not found on the Hub (HTTP 404): check the model id`);
  const code = offlineCode(error) ?? (error instanceof TypeError && /fetch failed/.test(error.message) ? 'fetch failed' : undefined);
  if (code) return new HubError('offline', `cannot reach the Hugging Face Hub (${code}): you seem to be offline; open a local model folder instead`);
  return new HubError('other', `downloading ${repo} failed: ${(error as Error).message ?? String(error)}`);
}
