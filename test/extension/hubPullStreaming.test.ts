// Issue 14: Hub dataset pulls stream. The extension runs `ftune data pull --json` in a child process
// (never the download or the conversion in its own memory), and the CLI converts a split batch by batch,
// writing each batch before it reads the next — shown here by memory-independent means: a JSONL source
// that is still being written (a FIFO) yields its first records before its end exists, parquet comes
// row group by row group, and the output file grows while the pull is still running.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HubDatasetError, streamDataRecords } from '../../src/core/datasets';
import { cliInvocation } from '../../src/extension/cliInvocation';
import { runHubPullJob } from '../../src/extension/hubPullJob';
import { parquetOfStrings, startFakeHub, type FakeHub } from '../helpers/fakeHub';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');
const SHA = 'abcdefabcdefabcdefabcdefabcdefabcdefabcd';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-hub-stream-'));
}

function jsonlRows(from: number, count: number): Buffer {
  let text = '';
  for (let i = from; i < from + count; i++) text += `${JSON.stringify({ question: `q${i} ${'x'.repeat(40)}`, answer: `a${i}` })}\n`;
  return Buffer.from(text);
}

let hub: FakeHub | undefined;
after(async () => hub?.close());

describe('issue 14: Hub dataset pulls stream in the CLI child process', () => {
  test('a JSONL source yields its first batch before the rest of it exists (a FIFO still being written)', { timeout: 30_000 }, async () => {
    const fifo = path.join(tempDir(), 'train.jsonl');
    execFileSync('mkfifo', [fifo]);
    const batches = streamDataRecords(fifo, 'jsonl', 2);
    const first = batches.next();
    const writer = await fs.promises.open(fifo, 'w');
    await writer.write('{"text":"one"}\n{"text":"two"}\n{"text":"three"}\n');
    // the writer is still open: a reader that wanted the whole file would wait here forever
    assert.deepEqual((await first).value, [{ text: 'one' }, { text: 'two' }]);
    await writer.write('{"text":"four"}\n');
    await writer.close();
    const rest: unknown[] = [];
    for await (const batch of { [Symbol.asyncIterator]: () => batches }) rest.push(...batch);
    assert.deepEqual(rest, [{ text: 'three' }, { text: 'four' }]);
  });

  test('a deeply nested line in a streamed JSONL split fails as file:line: nesting too deep (no stack overflow)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'train.jsonl');
    fs.writeFileSync(file, `{"question":"q","answer":"a"}\n{"question":${'['.repeat(100_000)}${']'.repeat(100_000)}}\n`);
    const read = async () => {
      for await (const batch of streamDataRecords(file, 'jsonl')) void batch;
    };
    await assert.rejects(read(), (err: Error) => err.message.startsWith(`${file}:2: nesting too deep`));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('parquet is read one row group at a time, every row once and in order', async () => {
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const n = 2500;
    const file = path.join(tempDir(), 'train.parquet');
    fs.writeFileSync(file, Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'text', data: Array.from({ length: n }, (_, i) => `row ${i}`), type: 'STRING' }], rowGroupSize: 1000 })));
    const sizes: number[] = [];
    const texts: string[] = [];
    for await (const batch of streamDataRecords(file, 'parquet', 100)) {
      sizes.push(batch.length);
      texts.push(...batch.map((r) => String(r.text)));
    }
    assert.deepEqual(sizes, [1000, 1000, 500]);
    assert.equal(texts.length, n);
    assert.equal(texts[0], 'row 0');
    assert.equal(texts[n - 1], `row ${n - 1}`);
  });

  test('the extension path spawns `ftune data pull --json` and the CLI writes the split progressively, token in the environment only', { timeout: 120_000 }, async () => {
    const rowsA = 12_000;
    const rowsB = 9_000;
    hub = await startFakeHub({
      'acme/big': {
        sha: SHA,
        gatedToken: 'hf_secret',
        files: {
          'data/train-00000-of-00002.jsonl': jsonlRows(0, rowsA),
          'data/train-00001-of-00002.jsonl': jsonlRows(rowsA, rowsB),
          'data/test-00000-of-00001.parquet': await parquetOfStrings({ question: ['tq'], answer: ['ta'] }),
        },
      },
    });
    const dir = tempDir();
    const out = path.join(dir, 'pending', 'big.jsonl');
    const spawned: { args: string[]; env: Record<string, string> }[] = [];
    const growth: { written: number; bytes?: number }[] = [];
    const sizeOf = (file: string): number | undefined => {
      try {
        return fs.statSync(file).size;
      } catch {
        return undefined; // already renamed into place: the pull has finished
      }
    };
    let progressEvents = 0;
    const summary = await runHubPullJob({
      datasetId: 'acme/big', config: 'default', split: 'train', revision: SHA, endpoint: hub.url, token: 'hf_secret',
      out, cacheDir: path.join(dir, 'cache'), previewRows: 5,
      spawnCli: (args, env) => {
        spawned.push({ args, env });
        const inv = cliInvocation(CLI, args, { execPath: process.execPath });
        return spawn(inv.command, inv.args, { cwd: dir, env: { ...inv.env, ...env, HF_TOKEN: env.HF_TOKEN ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      },
      onProgress: () => progressEvents++,
      // while the CLI still runs, the (temporary) output already holds what it has converted so far
      onRecords: (written) => growth.push({ written, bytes: sizeOf(`${out}.tmp`) }),
    });
    assert.equal(spawned.length, 1);
    assert.deepEqual(spawned[0].args.slice(0, 3), ['data', 'pull', 'acme/big']);
    assert.ok(spawned[0].args.includes('--json'));
    assert.ok(!spawned[0].args.some((a) => a.includes('hf_secret')), 'the token is not on the command line');
    assert.equal(spawned[0].env.HF_TOKEN, 'hf_secret');
    assert.equal(summary.records, rowsA + rowsB);
    assert.equal(summary.preview.length, 5);
    assert.equal(summary.revision, SHA);
    assert.ok(progressEvents > 0, 'download progress reached the host');
    assert.ok(growth.length >= 21, `written in batches (got ${growth.length} batch reports)`);
    for (let i = 1; i < growth.length; i++) assert.ok(growth[i].written > growth[i - 1].written, 'reported after every batch');
    assert.equal(growth[0].written, 1000);
    const finalBytes = fs.statSync(out).size;
    // the host saw the output part-written while the child was still converting
    assert.ok(growth.some((g) => g.bytes !== undefined && g.bytes > 0 && g.bytes < finalBytes), `partial output observed: ${JSON.stringify(growth.map((g) => g.bytes))}`);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines.length, rowsA + rowsB);
    assert.deepEqual(JSON.parse(lines[rowsA]), { question: `q${rowsA} ${'x'.repeat(40)}`, answer: `a${rowsA}` });
  });

  test('a failed pull reports the Hub error kind from the child (a gated dataset without a token)', { timeout: 60_000 }, async () => {
    assert.ok(hub);
    const dir = tempDir();
    const run = runHubPullJob({
      datasetId: 'acme/big', config: 'default', split: 'train', revision: SHA, endpoint: hub.url,
      out: path.join(dir, 'x.jsonl'), cacheDir: path.join(dir, 'cache'),
      spawnCli: (args) => {
        const inv = cliInvocation(CLI, args, { execPath: process.execPath });
        return spawn(inv.command, inv.args, { cwd: dir, env: { ...inv.env, HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      },
    });
    await assert.rejects(run, (error: Error & { kind?: string }) => error instanceof HubDatasetError && error.kind === 'unauthorized');
    assert.equal(fs.existsSync(path.join(dir, 'x.jsonl')), false);
  });
});
