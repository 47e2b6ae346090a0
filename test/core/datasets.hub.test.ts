// `ftune data pull` against a loopback server that imitates the Hub endpoints @huggingface/hub
// calls (read from its dist/index.js):
//   GET /api/datasets/{id}/revision/{rev}?expand=...   datasetInfo  → { sha, gated, private, ... }
//   GET /api/datasets/{id}/tree/{rev}?recursive=true    listFiles    → [{ type, path, size }]
//   GET /datasets/{id}/resolve/{rev}/{path}             fileDownloadInfo probes with Range: bytes=0-0
//                                                       (206 + Content-Range + ETag), then the bytes
// Data: a parquet file written here with hyparquet-writer and a JSONL file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { dataCommand } from '../../src/cli/data';
import { downloadHubFile, HubDatasetError, listHubDataset, pullHubDataset, readJsonl, readProvenance } from '../../src/core/datasets';

interface Branch {
  sha: string;
  files: Map<string, Buffer>;
}
interface Repo {
  branches: Map<string, Branch>;
  gated?: boolean;
}
interface Seen {
  path: string;
  range?: string;
  auth?: string;
}

const GOOD_TOKEN = 'hf_test_good';
const repos = new Map<string, Repo>();
const seen: Seen[] = [];
/** Files whose next full download is cut half-way (connection destroyed). */
const dropOnce = new Set<string>();
/** Files whose download sends half and then stalls (never ends) until the client goes away. */
const stall = new Set<string>();
let server: http.Server;
let endpoint = '';

const trainRows = Array.from({ length: 300 }, (_, i) => ({
  question: `Question ${i}: a farmer has ${i} sheep and buys ${i % 7} more. How many sheep now? ${'padding '.repeat(i % 5)}`,
  answer: `He has ${i} + ${i % 7} = ${i + (i % 7)} sheep.\n#### ${i + (i % 7)}`,
  id: i,
}));
const testRows = [
  { question: 'What is 2 + 3?', answer: '#### 5' },
  { question: 'What is 10 - 4?', answer: '#### 6' },
];

function findBranch(repo: Repo, rev: string): Branch | undefined {
  return repo.branches.get(rev) ?? [...repo.branches.values()].find((b) => b.sha === rev);
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  const range = req.headers.range;
  const auth = req.headers.authorization;
  seen.push({ path: url.pathname, range, auth });
  const isApi = parts[0] === 'api' && parts[1] === 'datasets';
  const isResolve = parts[0] === 'datasets' && parts[3] === 'resolve';
  if (!isApi && !isResolve) return json(res, 404, { error: 'Not found' });
  const id = isApi ? `${parts[2]}/${parts[3]}` : `${parts[1]}/${parts[2]}`;
  const repo = repos.get(id);
  if (!repo) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });

  if (isApi) {
    const kind = parts[4];
    const branch = findBranch(repo, parts[5] ?? 'main');
    if (!branch) return json(res, 404, { error: 'Revision not found' }, { 'X-Error-Code': 'RevisionNotFound' });
    if (kind === 'revision') {
      return json(res, 200, { _id: 'x', id, sha: branch.sha, private: false, gated: repo.gated ? 'manual' : false, downloads: 0, likes: 0, lastModified: '2024-01-01T00:00:00.000Z' });
    }
    if (kind === 'tree') {
      const dirs = new Set<string>();
      const entries: { type: string; path: string; size: number; oid: string }[] = [];
      for (const [p, bytes] of branch.files) {
        entries.push({ type: 'file', path: p, size: bytes.length, oid: 'o' });
        const segs = p.split('/');
        for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
      }
      for (const d of dirs) entries.push({ type: 'directory', path: d, size: 0, oid: 'o' });
      return json(res, 200, entries);
    }
    return json(res, 404, { error: 'Not found' });
  }

  // /datasets/{owner}/{name}/resolve/{rev}/{path...}
  const branch = findBranch(repo, parts[4]);
  const filePath = parts.slice(5).join('/');
  const bytes = branch?.files.get(filePath);
  if (!branch || !bytes) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
  if (repo.gated && auth !== `Bearer ${GOOD_TOKEN}`) {
    return json(res, 401, { error: `Access to dataset ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.` });
  }
  const etag = `"${branch.sha}-${filePath}"`;
  const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  const start = m ? Number(m[1]) : 0;
  const end = m && m[2] !== '' ? Math.min(Number(m[2]), bytes.length - 1) : bytes.length - 1;
  const body = bytes.subarray(start, end + 1);
  const headers: Record<string, string> = { ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) };
  if (m) headers['Content-Range'] = `bytes ${start}-${end}/${bytes.length}`;
  res.writeHead(m ? 206 : 200, headers);
  const probe = range === 'bytes=0-0';
  const key = `${id}/${filePath}`;
  if (!probe && dropOnce.has(key)) {
    dropOnce.delete(key);
    // Send half of what was asked for, then cut the connection.
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
    return;
  }
  if (!probe && stall.has(key)) {
    res.write(body.subarray(0, Math.floor(body.length / 2)));
    return; // never ends; the client has to give up
  }
  res.end(body);
}

function downloadsOf(file: string): Seen[] {
  return seen.filter((s) => s.path.endsWith(`/${file}`) && s.path.includes('/resolve/') && s.range !== 'bytes=0-0');
}

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ftune-hub-${prefix}-`));
}

before(async () => {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const parquet = Buffer.from(
    parquetWriteBuffer({
      columnData: [
        { name: 'question', data: trainRows.map((r) => r.question), type: 'STRING' },
        { name: 'answer', data: trainRows.map((r) => r.answer), type: 'STRING' },
        { name: 'id', data: trainRows.map((r) => r.id), type: 'INT32' },
      ],
    }),
  );
  const small = Buffer.from(
    parquetWriteBuffer({ columnData: [{ name: 'question', data: ['q1', 'q2'], type: 'STRING' }, { name: 'answer', data: ['a1', 'a2'], type: 'STRING' }] }),
  );
  const jsonl = Buffer.from(testRows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const files = (entries: [string, Buffer][]) => new Map(entries);
  repos.set('acme/math', {
    branches: new Map([
      [
        'main',
        {
          sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
          files: files([
            ['README.md', Buffer.from('# math\n')],
            ['.gitattributes', Buffer.from('*.parquet filter=lfs\n')],
            ['main/train-00000-of-00001.parquet', parquet],
            ['main/test-00000-of-00001.jsonl', jsonl],
            ['socratic/train-00000-of-00001.parquet', small],
          ]),
        },
      ],
    ]),
  });
  repos.set('acme/single', {
    branches: new Map([['main', { sha: '1111111111111111111111111111111111111111', files: files([['data/train.jsonl', jsonl], ['data/validation.jsonl', jsonl]]) }]]),
  });
  repos.set('acme/gated', {
    gated: true,
    branches: new Map([['main', { sha: '2222222222222222222222222222222222222222', files: files([['train.jsonl', jsonl]]) }]]),
  });
  repos.set('acme/scripted', {
    branches: new Map([
      ['main', { sha: '3333333333333333333333333333333333333333', files: files([['scripted.py', Buffer.from('# a loading script\n')]]) }],
      ['refs/convert/parquet', { sha: '4444444444444444444444444444444444444444', files: files([['default/train/0000.parquet', small]]) }],
    ]),
  });
  server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('listHubDataset: configs and splits from the file layout, pinned to the commit sha', async () => {
  const listing = await listHubDataset('acme/math', { endpoint });
  assert.equal(listing.revision, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
  assert.equal(listing.parquet_conversion, false);
  const shape = listing.configs.map((c) => `${c.name}:${c.splits.map((s) => `${s.name}=${s.files.map((f) => f.path).join('+')}`).join(',')}`);
  assert.deepEqual(shape, ['main:train=main/train-00000-of-00001.parquet,test=main/test-00000-of-00001.jsonl', 'socratic:train=socratic/train-00000-of-00001.parquet']);
  assert.ok(seen.some((s) => s.path === '/api/datasets/acme/math/tree/a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'));
});

test('pull: parquet → JSONL with a field mapping, provenance and preview', async () => {
  const dir = tmp('pull');
  const out = path.join(dir, 'math.jsonl');
  const progress: number[] = [];
  const result = await pullHubDataset({
    datasetId: 'acme/math',
    config: 'main',
    endpoint,
    out,
    cacheDir: path.join(dir, 'cache'),
    fieldMap: { prompt: 'question', completion: 'answer' },
    onProgress: (p) => progress.push(p.received / p.total),
  });
  assert.equal(result.records, 300);
  assert.equal(result.split, 'train');
  const records = readJsonl(out);
  assert.deepEqual(records, trainRows.map((r) => ({ prompt: r.question, completion: r.answer })));
  assert.deepEqual(result.preview, records.slice(0, 3));
  assert.equal(progress[progress.length - 1], 1);
  const prov = readProvenance(out);
  assert.equal(prov?.source, 'hub');
  assert.equal(prov?.hub_id, 'acme/math');
  assert.equal(prov?.revision, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
  assert.equal(prov?.config, 'main');
  assert.equal(prov?.split, 'train');
  assert.equal(prov?.role, 'train');
  assert.deepEqual(prov?.field_map, { prompt: 'question', completion: 'answer' });
  assert.ok(!fs.existsSync(`${out}.tmp`));
});

test('pull: unmapped parquet keeps every column (ints as numbers); JSONL split; a second pull uses the cache', async () => {
  const dir = tmp('pull2');
  const cacheDir = path.join(dir, 'cache');
  const out = path.join(dir, 'all.jsonl');
  await pullHubDataset({ datasetId: 'acme/math', config: 'main', endpoint, out, cacheDir, limit: 5 });
  assert.deepEqual(readJsonl(out), trainRows.slice(0, 5));
  const before = downloadsOf('main/train-00000-of-00001.parquet').length;
  await pullHubDataset({ datasetId: 'acme/math', config: 'main', endpoint, out, cacheDir, limit: 5 });
  assert.equal(downloadsOf('main/train-00000-of-00001.parquet').length, before, 'no second download of the bytes');

  const testOut = path.join(dir, 'test.jsonl');
  const r = await pullHubDataset({ datasetId: 'acme/math', config: 'main', split: 'test', endpoint, out: testOut, cacheDir });
  assert.deepEqual(readJsonl(testOut), testRows);
  assert.equal(readProvenance(testOut)?.role, 'eval');
  assert.equal(r.split, 'test');
});

test('pull: a dataset with several configs needs --config; unknown split and config are named', async () => {
  const dir = tmp('cfg');
  const common = { endpoint, cacheDir: path.join(dir, 'cache'), out: path.join(dir, 'x.jsonl') };
  await assert.rejects(pullHubDataset({ datasetId: 'acme/math', ...common }), /several configs \(main, socratic\): pass --config/);
  await assert.rejects(pullHubDataset({ datasetId: 'acme/math', config: 'nope', ...common }), /no config "nope" \(configs: main, socratic\)/);
  await assert.rejects(pullHubDataset({ datasetId: 'acme/math', config: 'main', split: 'dev', ...common }), /no split "dev" \(splits: train, test\)/);
  // A single 'default' config needs no --config; data/validation.jsonl is the validation split.
  const r = await pullHubDataset({ datasetId: 'acme/single', split: 'validation', ...common });
  assert.equal(r.config, 'default');
  assert.equal(r.records, 2);
});

test('pull: a connection dropped half-way is resumed with an HTTP Range request', async () => {
  const dir = tmp('resume');
  const file = 'main/train-00000-of-00001.parquet';
  dropOnce.add(`acme/math/${file}`);
  const first = downloadsOf(file).length;
  const out = path.join(dir, 'math.jsonl');
  await pullHubDataset({ datasetId: 'acme/math', config: 'main', endpoint, out, cacheDir: path.join(dir, 'cache') });
  const requests = downloadsOf(file).slice(first);
  assert.equal(requests.length, 2);
  assert.equal(requests[0].range, undefined);
  const resumedAt = Number(/^bytes=(\d+)-/.exec(requests[1].range ?? '')?.[1]);
  assert.ok(resumedAt > 0, `second request resumes, got range ${requests[1].range}`);
  assert.equal(readJsonl(out).length, 300);
  assert.deepEqual(readJsonl(out)[299], trainRows[299]);
});

test('download: an interrupted run leaves a .part that the next run resumes', async () => {
  const dir = tmp('part');
  const file = 'main/train-00000-of-00001.parquet';
  const dest = path.join(dir, 'train.parquet');
  const size = repos.get('acme/math')?.branches.get('main')?.files.get(file)?.length ?? 0;
  const request = { datasetId: 'acme/math', path: file, revision: 'main', endpoint, dest };
  dropOnce.add(`acme/math/${file}`);
  await assert.rejects(downloadHubFile({ ...request, retries: 0 }), (err: unknown) => {
    assert.ok(err instanceof HubDatasetError);
    assert.match(err.message, /interrupted at \d+ of \d+ bytes.*run again to resume/);
    return true;
  });
  const partial = fs.statSync(`${dest}.part`).size;
  assert.ok(partial > 0 && partial < size, `partial file has ${partial} of ${size} bytes`);
  assert.ok(!fs.existsSync(dest));
  const r = await downloadHubFile(request);
  assert.equal(r.resumedFrom, partial);
  assert.equal(r.attempts, 1);
  assert.equal(downloadsOf(file).at(-1)?.range, `bytes=${partial}-${size - 1}`);
  assert.deepEqual(fs.readFileSync(dest), repos.get('acme/math')?.branches.get('main')?.files.get(file));
  assert.ok(!fs.existsSync(`${dest}.part`));
});

test('download: cancelling through the AbortSignal keeps the partial file', async () => {
  const dir = tmp('cancel');
  const file = 'main/train-00000-of-00001.parquet';
  const dest = path.join(dir, 'train.parquet');
  stall.add(`acme/math/${file}`);
  const controller = new AbortController();
  try {
    await assert.rejects(
      downloadHubFile({
        datasetId: 'acme/math',
        path: file,
        revision: 'main',
        endpoint,
        dest,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.received > 0) controller.abort();
        },
      }),
      (err: unknown) => err instanceof HubDatasetError && err.kind === 'cancelled' && /run again to resume/.test(err.message),
    );
  } finally {
    stall.delete(`acme/math/${file}`);
  }
  assert.ok(fs.statSync(`${dest}.part`).size > 0);
  assert.ok(!fs.existsSync(dest));
});

test('pull: a gated dataset without a token is refused with a clear message; a token works', async () => {
  const dir = tmp('gated');
  const common = { datasetId: 'acme/gated', endpoint, cacheDir: path.join(dir, 'cache'), out: path.join(dir, 'g.jsonl') };
  const saved = { HF_TOKEN: process.env.HF_TOKEN, HUGGING_FACE_HUB_TOKEN: process.env.HUGGING_FACE_HUB_TOKEN };
  delete process.env.HF_TOKEN;
  delete process.env.HUGGING_FACE_HUB_TOKEN;
  try {
    await assert.rejects(pullHubDataset(common), (err: unknown) => {
      assert.ok(err instanceof HubDatasetError);
      assert.equal(err.kind, 'unauthorized');
      assert.equal(err.status, 401);
      assert.match(err.message, /"acme\/gated" is gated or private \(HTTP 401\).*--token/);
      return true;
    });
    assert.ok(!fs.existsSync(common.out));
    await assert.rejects(pullHubDataset({ ...common, token: 'hf_wrong' }), /token was refused/);
    const r = await pullHubDataset({ ...common, token: GOOD_TOKEN });
    assert.equal(r.records, 2);
    assert.ok(seen.some((s) => s.auth === `Bearer ${GOOD_TOKEN}`));
  } finally {
    Object.assign(process.env, Object.fromEntries(Object.entries(saved).filter(([, v]) => v !== undefined)));
  }
});

test('pull: not found and offline are told apart', async () => {
  const dir = tmp('errors');
  const common = { cacheDir: path.join(dir, 'cache'), out: path.join(dir, 'x.jsonl') };
  await assert.rejects(pullHubDataset({ datasetId: 'acme/missing', endpoint, ...common }), (err: unknown) => err instanceof HubDatasetError && err.kind === 'not-found' && /not found/.test(err.message));
  // A port that was just free: nothing listens there.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await assert.rejects(pullHubDataset({ datasetId: 'acme/math', endpoint: `http://127.0.0.1:${deadPort}`, ...common }), (err: unknown) => {
    assert.ok(err instanceof HubDatasetError);
    assert.equal(err.kind, 'offline');
    assert.match(err.message, /cannot reach .*offline/);
    return true;
  });
});

test('pull: falls back to the refs/convert/parquet branch when main has no data files', async () => {
  const dir = tmp('convert');
  const r = await pullHubDataset({ datasetId: 'acme/scripted', endpoint, cacheDir: path.join(dir, 'cache'), out: path.join(dir, 's.jsonl') });
  assert.equal(r.listing.parquet_conversion, true);
  assert.equal(r.revision, '4444444444444444444444444444444444444444');
  assert.deepEqual(readJsonl(r.out), [{ question: 'q1', answer: 'a1' }, { question: 'q2', answer: 'a2' }]);
});

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await dataCommand(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), errIsTty: false });
  return { code, stdout, stderr };
}

test('ftune data pull: listing, progress on stderr, preview on stdout, one-line errors', async () => {
  const dir = tmp('cli');
  const out = path.join(dir, 'm.jsonl');
  const cache = path.join(dir, 'cache');
  const list = await runCli(['pull', 'acme/math', '--list', '--endpoint', endpoint]);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /config main\n\s+train: 1 file\(s\)/);
  assert.match(list.stdout, /config socratic/);

  const ok = await runCli(['pull', 'acme/math', '--config', 'main', '--endpoint', endpoint, '--out', out, '--cache-dir', cache, '--field', 'prompt=question', '--field', 'completion=answer']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^300 records \(main\/train @ a1b2c3d4/);
  assert.match(ok.stdout, /preview:\n  \{"prompt":"Question 0:/);
  assert.match(ok.stderr, /downloading main\/train-00000-of-00001\.parquet: .*\(100%\)/);
  assert.equal(readJsonl(out).length, 300);

  const denied = await runCli(['pull', 'acme/gated', '--endpoint', endpoint, '--out', path.join(dir, 'g.jsonl'), '--cache-dir', cache]);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^ftune: error: dataset "acme\/gated" is gated or private \(HTTP 401\)/m);
  assert.equal(denied.stderr.trim().split('\n').filter((l) => l.startsWith('ftune: error:')).length, 1);

  const usage = await runCli(['pull']);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /ftune: error: data pull takes exactly one DATASET_ID/);
});

test('issue 14: hub file names — a dataset file named with backslashes or ".." is refused, nothing lands outside the cache', async () => {
  const jsonl = Buffer.from('{"text":"hi"}\n');
  repos.set('acme/hostile', {
    branches: new Map([['main', { sha: '5555555555555555555555555555555555555555', files: new Map([['data\\..\\..\\..\\train.jsonl', jsonl]]) }]]),
  });
  const dir = tmp('hostile');
  const cacheDir = path.join(dir, 'cache');
  await assert.rejects(
    pullHubDataset({ datasetId: 'acme/hostile', endpoint, cacheDir, out: path.join(dir, 'out.jsonl') }),
    (err: unknown) => err instanceof Error && /refusing the Hub file name .*backslash/.test(err.message),
  );
  assert.ok(!fs.existsSync(path.join(dir, 'out.jsonl')), 'no output written');
  // Nothing was fetched: the name is refused before any byte is requested.
  assert.equal(downloadsOf('train.jsonl').filter((s) => s.path.includes('hostile')).length, 0);
});
