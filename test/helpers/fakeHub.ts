// A loopback HTTP server that imitates the Hugging Face Hub's dataset endpoints, as @huggingface/hub
// calls them (the same protocol test/core/datasets.hub.test.ts serves):
//   GET /api/datasets/{owner}/{name}/revision/{rev}?expand=...   datasetInfo  → { sha, gated, private, ... }
//   GET /api/datasets/{owner}/{name}/tree/{rev}?recursive=true    listFiles    → [{ type, path, size, oid }]
//   GET /datasets/{owner}/{name}/resolve/{rev}/{path}             probed with Range: bytes=0-0 (206 +
//                                                                 Content-Range + ETag), then the bytes
// A gated repo answers 401 to file downloads without `Authorization: Bearer <token>`. Every request is
// recorded (path, range, authorization) so tests can check what the client sent.

import * as http from 'http';
import type { AddressInfo } from 'net';

export interface FakeHubRepo {
  /** commit sha of `main`. */
  sha: string;
  files: Record<string, Buffer>;
  /** the token a gated repo accepts; without it downloads get 401. */
  gatedToken?: string;
  /** files whose download sends half of the bytes and then stalls until the client gives up. */
  stall?: string[];
}

export interface FakeHubRequest {
  path: string;
  range?: string;
  authorization?: string;
}

export interface FakeHub {
  url: string;
  repos: Map<string, FakeHubRepo>;
  requests: FakeHubRequest[];
  /** paths of stalled downloads whose client closed the connection (a cancelled download). */
  abandoned: string[];
  close(): Promise<void>;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function branchOf(repo: FakeHubRepo, rev: string): boolean {
  return rev === 'main' || rev === repo.sha;
}

export async function startFakeHub(repos: Record<string, FakeHubRepo>): Promise<FakeHub> {
  const hub: FakeHub = { url: '', repos: new Map(Object.entries(repos)), requests: [], abandoned: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
    const range = req.headers.range;
    hub.requests.push({ path: url.pathname, range, authorization: req.headers.authorization });
    const isApi = parts[0] === 'api' && parts[1] === 'datasets';
    const isResolve = parts[0] === 'datasets' && parts[3] === 'resolve';
    if (!isApi && !isResolve) return json(res, 404, { error: 'Not found' });
    const id = isApi ? `${parts[2]}/${parts[3]}` : `${parts[1]}/${parts[2]}`;
    const repo = hub.repos.get(id);
    if (!repo) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });

    if (isApi) {
      if (!branchOf(repo, parts[5] ?? 'main')) return json(res, 404, { error: 'Revision not found' }, { 'X-Error-Code': 'RevisionNotFound' });
      if (parts[4] === 'revision') {
        return json(res, 200, { _id: 'x', id, sha: repo.sha, private: false, gated: repo.gatedToken ? 'manual' : false, downloads: 0, likes: 0, lastModified: '2024-01-01T00:00:00.000Z' });
      }
      if (parts[4] === 'tree') {
        const dirs = new Set<string>();
        const entries: { type: string; path: string; size: number; oid: string }[] = [];
        for (const [p, bytes] of Object.entries(repo.files)) {
          entries.push({ type: 'file', path: p, size: bytes.length, oid: 'o' });
          const segments = p.split('/');
          for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/'));
        }
        for (const d of dirs) entries.push({ type: 'directory', path: d, size: 0, oid: 'o' });
        return json(res, 200, entries);
      }
      return json(res, 404, { error: 'Not found' });
    }

    const filePath = parts.slice(5).join('/');
    const bytes = branchOf(repo, parts[4]) ? repo.files[filePath] : undefined;
    if (!bytes) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    if (repo.gatedToken && req.headers.authorization !== `Bearer ${repo.gatedToken}`) {
      return json(res, 401, { error: `Access to dataset ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.` });
    }
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] !== '' ? Math.min(Number(m[2]), bytes.length - 1) : bytes.length - 1;
    const body = bytes.subarray(start, end + 1);
    const headers: Record<string, string> = { ETag: `"${repo.sha}-${filePath}"`, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) };
    if (m) headers['Content-Range'] = `bytes ${start}-${end}/${bytes.length}`;
    res.writeHead(m ? 206 : 200, headers);
    if (range !== 'bytes=0-0' && repo.stall?.includes(filePath)) {
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      res.on('close', () => hub.abandoned.push(url.pathname));
      return; // never ends
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return hub;
}

/** A parquet file of string columns (hyparquet-writer, a dev dependency, loaded lazily: it is ESM). */
export async function parquetOfStrings(columns: Record<string, string[]>): Promise<Buffer> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  return Buffer.from(parquetWriteBuffer({ columnData: Object.entries(columns).map(([name, data]) => ({ name, data, type: 'STRING' as const })) }));
}
