// `ftune data pull`: list a Hub dataset's configs / splits / files, download one split's files
// (resumable, cancellable, with progress), convert them to JSONL, apply a field mapping and
// record provenance. Talks to HF_ENDPOINT / --endpoint, so a mirror or a test server works.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { datasetInfo, listFiles } from '@huggingface/hub';
import type { DataPullSummary } from '../../protocol';
import { applyFieldMap, type ColumnMapping } from '../fieldMap';
import type { DatasetRecord } from '../jsonl';
import { roleForSplitName, writeProvenance } from '../provenance';
import { resolveRepoPath } from '../../repoPaths';
import { streamDataRecords } from './convert';
import { downloadHubFile, fetchWithSignal, type DownloadProgress } from './download';
import { describeHubError, HubDatasetError } from './errors';
import { dataFileFormat, groupDataFiles, PARQUET_CONVERSION_REVISION, type HubConfig, type HubDataFile } from './layout';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubConnection {
  /** Hub base URL; defaults to $HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string;
  /** Access token; defaults to $HF_TOKEN, then $HUGGING_FACE_HUB_TOKEN. */
  token?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

export function resolveEndpoint(explicit?: string): string {
  const url = explicit || process.env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT;
  return url.replace(/\/+$/, '');
}

export function resolveToken(explicit?: string): string | undefined {
  return explicit || process.env.HF_TOKEN || process.env.HUGGING_FACE_HUB_TOKEN || undefined;
}

/** Where downloaded files are kept between runs: $FTUNE_CACHE_DIR or ~/.cache/finetune-studio/datasets. */
export function defaultCacheDir(): string {
  return process.env.FTUNE_CACHE_DIR || path.join(os.homedir(), '.cache', 'finetune-studio', 'datasets');
}

export interface HubDatasetListing {
  hub_id: string;
  endpoint: string;
  /** The revision asked for (a branch, tag or sha). */
  requested_revision: string;
  /** The commit sha the listing was taken at (files are downloaded at this exact commit). */
  revision: string;
  /** True when the data came from the Hub's auto-converted parquet branch. */
  parquet_conversion: boolean;
  gated: false | 'auto' | 'manual';
  private: boolean;
  configs: HubConfig[];
}

async function listAt(datasetId: string, endpoint: string, token: string | undefined, revision: string, hubFetch: typeof fetch | undefined) {
  const info = await datasetInfo<'sha'>({
    name: datasetId,
    hubUrl: endpoint,
    revision,
    additionalFields: ['sha'],
    ...(token ? { accessToken: token } : {}),
    ...(hubFetch ? { fetch: hubFetch } : {}),
  });
  const sha = typeof info.sha === 'string' && info.sha.length > 0 ? info.sha : revision;
  const files: HubDataFile[] = [];
  // listFiles puts the revision into the URL path unencoded, so a ref with '/' must be encoded here.
  for await (const entry of listFiles({
    repo: { type: 'dataset', name: datasetId },
    revision: encodeURIComponent(sha),
    recursive: true,
    hubUrl: endpoint,
    ...(token ? { accessToken: token } : {}),
    ...(hubFetch ? { fetch: hubFetch } : {}),
  })) {
    if (entry.type === 'file' && dataFileFormat(entry.path) !== undefined) files.push({ path: entry.path, size: entry.size });
  }
  return { info, sha, files };
}

export async function listHubDataset(datasetId: string, options: HubConnection & { revision?: string } = {}): Promise<HubDatasetListing> {
  const endpoint = resolveEndpoint(options.endpoint);
  const token = resolveToken(options.token);
  const requested = options.revision ?? 'main';
  const hubFetch = options.signal ? fetchWithSignal(options.fetch ?? fetch, options.signal) : options.fetch;
  try {
    let listed = await listAt(datasetId, endpoint, token, requested, hubFetch);
    let parquetConversion = false;
    if (groupDataFiles(listed.files).length === 0 && options.revision === undefined) {
      // Script-based or unusual repos: the Hub's parquet conversion branch usually has the data.
      try {
        const converted = await listAt(datasetId, endpoint, token, PARQUET_CONVERSION_REVISION, hubFetch);
        if (groupDataFiles(converted.files, true).length > 0) {
          listed = converted;
          parquetConversion = true;
        }
      } catch {
        // No conversion branch: report the (empty) main listing below.
      }
    }
    return {
      hub_id: datasetId,
      endpoint,
      requested_revision: parquetConversion ? PARQUET_CONVERSION_REVISION : requested,
      revision: listed.sha,
      parquet_conversion: parquetConversion,
      gated: listed.info.gated,
      private: listed.info.private,
      configs: groupDataFiles(listed.files, parquetConversion),
    };
  } catch (err) {
    throw describeHubError(err, { datasetId, endpoint, tokenGiven: token !== undefined });
  }
}

/** The config to use: the one asked for, else the only one, else 'default'; otherwise the user must choose. */
export function chooseConfig(configs: readonly HubConfig[], wanted: string | undefined, datasetId: string): HubConfig {
  const names = configs.map((c) => c.name).join(', ');
  if (configs.length === 0) throw new HubDatasetError('not-found', `dataset "${datasetId}" has no parquet, JSON, JSONL or CSV data files`);
  if (wanted !== undefined) {
    const found = configs.find((c) => c.name === wanted);
    if (!found) throw new HubDatasetError('not-found', `dataset "${datasetId}" has no config "${wanted}" (configs: ${names})`);
    return found;
  }
  if (configs.length === 1) return configs[0];
  const fallback = configs.find((c) => c.name === 'default');
  if (fallback) return fallback;
  throw new HubDatasetError('other', `dataset "${datasetId}" has several configs (${names}): pass --config NAME`);
}

export interface PullOptions extends HubConnection {
  datasetId: string;
  config?: string;
  /** Split to pull (default 'train'; a dataset with a single split uses it when none is named). */
  split?: string;
  revision?: string;
  /** Output JSONL file (default {@link defaultPullOutput} in the current directory). */
  out?: string;
  fieldMap?: ColumnMapping;
  /** Download cache (default {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Keep at most this many records. */
  limit?: number;
  /** Records returned in `preview` (default 3). */
  previewRows?: number;
  retries?: number;
  onListing?: (listing: HubDatasetListing) => void;
  onProgress?: (progress: DownloadProgress) => void;
  /** records written to the output so far (after each batch). */
  onRecords?: (written: number) => void;
}

/** What `ftune data pull --json` reports (core/protocol.ts DataPullSummary), its provenance file and the listing. */
export interface PullResult extends DataPullSummary {
  provenanceFile: string;
  listing: HubDatasetListing;
}

/** `owner/name`, config `main`, split `train` → `name.main.train.jsonl` (config omitted when 'default'). */
export function defaultPullOutput(datasetId: string, config: string, split: string): string {
  const name = datasetId.split('/').pop() ?? datasetId;
  const parts = config === 'default' ? [name, split] : [name, config, split];
  return `${parts.join('.').replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`;
}

/** Cache path of a repo file: <cache>/<owner>--<name>/<sha>/<path>. */
function cachePath(cacheDir: string, datasetId: string, sha: string, file: string): string {
  // The file name comes from the repo's listing: resolveRepoPath refuses one that could leave the folder.
  const folder = path.join(cacheDir, datasetId.replace(/\//g, '--'), sha.replace(/[^A-Za-z0-9._-]/g, '_'));
  try {
    return resolveRepoPath(folder, file);
  } catch (err) {
    throw new HubDatasetError('other', `${datasetId}: ${(err as Error).message}`);
  }
}

export async function pullHubDataset(options: PullOptions): Promise<PullResult> {
  const endpoint = resolveEndpoint(options.endpoint);
  const token = resolveToken(options.token);
  const { datasetId } = options;
  const listing = await listHubDataset(datasetId, { ...options, endpoint, token });
  options.onListing?.(listing);
  const config = chooseConfig(listing.configs, options.config, datasetId);
  let split = config.splits.find((s) => s.name === (options.split ?? 'train'));
  if (!split && options.split === undefined && config.splits.length === 1) split = config.splits[0];
  if (!split) {
    const names = config.splits.map((s) => s.name).join(', ');
    throw new HubDatasetError('not-found', `config "${config.name}" of "${datasetId}" has no split "${options.split ?? 'train'}" (splits: ${names})`);
  }

  const out = options.out ?? defaultPullOutput(datasetId, config.name, split.name);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const fieldMap = options.fieldMap ?? {};
  const limit = options.limit ?? Infinity;
  const previewRows = options.previewRows ?? 3;
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  // Write beside the target and rename at the end, so a failed pull never leaves a half file.
  const tmpOut = `${out}.tmp`;
  const outFd = fs.openSync(tmpOut, 'w');
  const preview: DatasetRecord[] = [];
  let count = 0;
  try {
    for (const file of split.files) {
      if (count >= limit) break;
      let local: string;
      try {
        const downloaded = await downloadHubFile({
          datasetId,
          path: file.path,
          revision: listing.revision,
          endpoint,
          token,
          dest: cachePath(cacheDir, datasetId, listing.revision, file.path),
          signal: options.signal,
          onProgress: options.onProgress,
          retries: options.retries,
          fetch: options.fetch,
        });
        local = downloaded.dest;
      } catch (err) {
        throw describeHubError(err, { datasetId, endpoint, tokenGiven: token !== undefined });
      }
      const format = dataFileFormat(file.path);
      if (!format) continue;
      // one batch at a time, written as it comes: a multi-GB split never sits in memory or in one string
      for await (const records of streamDataRecords(local, format)) {
        const lines: string[] = [];
        for (const raw of records) {
          if (count >= limit) break;
          const record = applyFieldMap(raw, fieldMap);
          if (preview.length < previewRows) preview.push(record);
          lines.push(JSON.stringify(record));
          count++;
        }
        if (lines.length > 0) fs.writeSync(outFd, lines.join('\n') + '\n');
        options.onRecords?.(count);
        if (count >= limit) break;
      }
    }
  } catch (err) {
    fs.closeSync(outFd);
    fs.rmSync(tmpOut, { force: true });
    throw err;
  }
  fs.closeSync(outFd);
  fs.renameSync(tmpOut, out);

  const provenanceFile = writeProvenance(out, {
    source: 'hub',
    role: roleForSplitName(split.name),
    records: count,
    created_at: new Date().toISOString(),
    hub_id: datasetId,
    revision: listing.revision,
    config: config.name,
    split: split.name,
    files: split.files.map((f) => f.path),
    endpoint,
    ...(Object.keys(fieldMap).length > 0 ? { field_map: fieldMap } : {}),
  });
  return {
    out,
    provenanceFile,
    records: count,
    preview,
    config: config.name,
    split: split.name,
    revision: listing.revision,
    files: split.files.map((f) => f.path),
    listing,
  };
}
