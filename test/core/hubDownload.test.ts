// The Hub download against a loopback HTTP server that imitates the Hub's endpoints:
//   GET /api/models/<owner>/<name>/tree/<rev>?recursive=...  → [{type, path, size, oid}]
//   GET /<owner>/<name>/resolve/<rev>/<file>                   → the bytes (Range aware, with ETag)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { downloadModel, isDownloaded, isWantedFile } from '../../src/core/hub/models';
import { HubError as HubDownloadError } from '../../src/core/hub/errors';
import { HubDatasetError } from '../../src/core/datasets';
import { resolveRepoPath, unsafeRepoPathReason } from '../../src/core/repoPaths';

const TINY = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'models', 'tiny-gsm8k-base');

interface FakeHub {
  url: string;
  requests: string[];
  close(): Promise<void>;
  /** makes the next weight download stall after its first chunk (to test cancel). */
  stall: boolean;
}

async function fakeHub(): Promise<FakeHub> {
  const repos: Record<string, string> = { 'tiny/gsm8k-base': TINY };
  const requests: string[] = [];
  const hub: FakeHub = { url: '', requests, stall: false, close: async () => undefined };
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url!, 'http://x');
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repoName = tree?.[1] ?? resolve?.[1];
    if (repoName === 'gated/model') {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Access to model gated/model is restricted.' }));
      return;
    }
    const dir = repoName ? repos[repoName] : undefined;
    if (!dir) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound' }).end(JSON.stringify({ error: 'Repository not found' }));
      return;
    }
    if (tree) {
      const files = fs.readdirSync(dir).map((name) => ({ type: 'file', path: name, size: fs.statSync(path.join(dir, name)).size, oid: name }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([...files, { type: 'directory', path: 'onnx', size: 0, oid: 'd' }]));
      return;
    }
    const file = path.join(dir, resolve![3]);
    if (!fs.existsSync(file)) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
      return;
    }
    const data = fs.readFileSync(file);
    const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    const headers = { etag: `"${resolve![3]}"`, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), data.length - 1);
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${data.length}` }).end(data.subarray(start, end + 1));
      return;
    }
    if (hub.stall && file.endsWith('.safetensors')) {
      res.writeHead(200, { ...headers, 'content-length': String(data.length) });
      res.write(data.subarray(0, 1024)); // and never finishes
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(data.length) }).end(data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return hub;
}

function cacheDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-hub-'));
}

test('downloads the model files byte-identical with progress, then reuses the cache', async () => {
  const hub = await fakeHub();
  try {
    const cache = cacheDir();
    const progress: number[] = [];
    let total = 0;
    const dir = await downloadModel({ repo: 'tiny/gsm8k-base', cacheDir: cache, hubUrl: hub.url, onProgress: (p) => { progress.push(p.received); total = p.total; } });
    assert.equal(dir, path.join(cache, 'tiny--gsm8k-base'));
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors']) {
      assert.ok(fs.readFileSync(path.join(dir, name)).equals(fs.readFileSync(path.join(TINY, name))), name);
    }
    assert.equal(fs.existsSync(path.join(dir, 'MODEL.md')), false, 'non-model files are skipped');
    assert.equal(progress[progress.length - 1], total);
    assert.ok(progress.every((v, i) => i === 0 || v >= progress[i - 1]));
    assert.ok(isDownloaded(cache, 'tiny/gsm8k-base'));
    const before = hub.requests.length;
    assert.equal(await downloadModel({ repo: 'tiny/gsm8k-base', cacheDir: cache, hubUrl: hub.url }), dir);
    assert.equal(hub.requests.length, before, 'a finished download is not fetched again');
  } finally {
    await hub.close();
  }
});

test('404 → not-found, 401 → unauthorized (gated), closed port → offline, bad id → invalid', async () => {
  const hub = await fakeHub();
  try {
    // models and datasets fail with one error type (core/hub/errors.ts), so one handler serves both
    await assert.rejects(downloadModel({ repo: 'nobody/nothing', cacheDir: cacheDir(), hubUrl: hub.url }), (e: HubDownloadError) => e instanceof HubDatasetError && e.kind === 'not-found' && /404/.test(e.message));
    await assert.rejects(downloadModel({ repo: 'gated/model', cacheDir: cacheDir(), hubUrl: hub.url }), (e: HubDownloadError) => e.kind === 'unauthorized' && /gated or private/.test(e.message));
    await assert.rejects(downloadModel({ repo: '../etc', cacheDir: cacheDir(), hubUrl: hub.url }), (e: HubDownloadError) => e.kind === 'invalid');
  } finally {
    await hub.close();
  }
  // the server is closed now: nothing listens on that port
  await assert.rejects(downloadModel({ repo: 'tiny/gsm8k-base', cacheDir: cacheDir(), hubUrl: hub.url }), (e: HubDownloadError) => e.kind === 'offline' && /offline/.test(e.message));
});

test('cancel stops a download mid-file and leaves no finished model behind', async () => {
  const hub = await fakeHub();
  hub.stall = true;
  try {
    const cache = cacheDir();
    const controller = new AbortController();
    const pending = downloadModel({
      repo: 'tiny/gsm8k-base', cacheDir: cache, hubUrl: hub.url, signal: controller.signal,
      onProgress: (p) => { if (p.file === 'model.safetensors') controller.abort(); },
    });
    await assert.rejects(pending, (e: HubDownloadError) => e.kind === 'cancelled');
    assert.equal(isDownloaded(cache, 'tiny/gsm8k-base'), false);
    assert.equal(fs.existsSync(path.join(cache, 'tiny--gsm8k-base', 'model.safetensors')), false);
  } finally {
    await hub.close();
  }
});

test('isWantedFile keeps model files only', () => {
  assert.ok(isWantedFile('model-00001-of-00002.safetensors'));
  assert.ok(isWantedFile('tokenizer_config.json'));
  assert.ok(!isWantedFile('pytorch_model.bin'));
  assert.ok(!isWantedFile('onnx/model.onnx'));
  assert.ok(!isWantedFile('README.md'));
});

test('issue 14: hub file names — model files with "\\\\", ":", absolute paths or ".." are never wanted, and paths are checked against the folder', () => {
  for (const name of ['x\\..\\..\\evil.safetensors', 'C:evil.safetensors', '/etc/model.safetensors', 'C:\\x\\model.safetensors', '..']) {
    assert.ok(!isWantedFile(name), name);
  }
  assert.ok(isWantedFile('model.safetensors'));
  for (const name of ['a/../../b.json', '../b.json', 'a\\b.json', 'a:b', '/abs', 'C:\\abs', '', 'a//b', './a']) {
    assert.ok(unsafeRepoPathReason(name) !== undefined, name);
    assert.throws(() => resolveRepoPath('/tmp/cache', name), /refusing the Hub file name/);
  }
  assert.equal(resolveRepoPath('/tmp/cache', 'data/train.jsonl'), path.join('/tmp/cache', 'data', 'train.jsonl'));
});
