// The extension's CLI client against a real child process that follows the CLI contract (a --json line
// on stdout; `ftune: error:` on stderr and exit 1 on failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cliInvocation } from '../../src/extension/cliInvocation';
import { abortCancellation, runCli, runCliJson, startCli, type SpawnCli } from '../../src/extension/cliClient';
import { parseCliErrorLine, type DoctorReport } from '../../src/core/protocol';

const FAKE = String.raw`
exports.main = (argv) => {
  const mode = argv[0];
  if (mode === 'doctor') { console.log('probing...'); console.log(JSON.stringify({ backends: [{ backend: 'cpu', ok: true, detail: 'js' }], memory: { total_bytes: 1, free_bytes: 1, cpus: 1 } })); return; }
  if (mode === 'fail') { process.stderr.write('warming up\nftune: error: data.jsonl:3: invalid JSON\n'); process.exit(1); }
  if (mode === 'crash') { process.stderr.write('Error: boom\n    at somewhere\n'); process.exit(2); }
  if (mode === 'hang') { console.log('started'); setTimeout(() => {}, 1e9); }
  if (mode === 'env') { console.log(JSON.stringify({ token: process.env.HF_TOKEN ?? null, cwd: process.cwd() })); return; }
};
`;

function fakeCliFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-cli-client-'));
  const cli = path.join(dir, 'fake-ftune.js');
  fs.writeFileSync(cli, FAKE);
  return cli;
}

function fakeCli(): SpawnCli {
  const cli = fakeCliFile();
  return (args, options) => {
    const inv = cliInvocation(cli, args, { execPath: process.execPath });
    return spawn(inv.command, inv.args, { cwd: options?.cwd, env: inv.env, stdio: 'pipe' });
  };
}

const isReport = (v: unknown): v is DoctorReport => typeof v === 'object' && v !== null && Array.isArray((v as { backends?: unknown }).backends);

test('runCliJson returns the typed --json line and streams the other lines', async () => {
  const lines: string[] = [];
  const report = await runCliJson(fakeCli(), 'doctor', [], isReport, { onLine: (l) => lines.push(l) });
  assert.equal(report.backends[0].backend, 'cpu');
  assert.ok(lines.includes('probing...'));
  await assert.rejects(runCliJson(fakeCli(), 'doctor', [], (_v): _v is DoctorReport => false), /printed a result this version does not understand/);
});

test('a failure carries the ftune: error reason, else the last stderr lines', async () => {
  const failed = await runCli(fakeCli(), ['fail']);
  assert.equal(failed.code, 1);
  assert.equal(failed.error, 'data.jsonl:3: invalid JSON');
  await assert.rejects(runCliJson(fakeCli(), 'preview', ['fail'], (_v): _v is never => false), /^Error: ftune preview/);
  const crashed = await runCli(fakeCli(), ['crash']);
  assert.equal(crashed.code, 2);
  assert.equal(crashed.error, 'Error: boom\n    at somewhere');
  assert.equal(parseCliErrorLine('ftune: error: x: y'), 'x: y');
  assert.equal(parseCliErrorLine('plain'), undefined);
});

test('cancel kills the command and reports it as cancelled, not failed', async () => {
  let fire!: () => void;
  const cancel = { onCancellationRequested: (listener: () => void) => ((fire = listener), { dispose: () => undefined }) };
  const pending = runCli(fakeCli(), ['hang'], { cancel, onLine: (line) => line === 'started' && fire() });
  const outcome = await pending;
  assert.equal(outcome.cancelled, true);
  assert.equal(outcome.error, undefined);
});

test('a CLI that cannot start is an error, not a hang', async () => {
  const missing: SpawnCli = (args) => spawn(path.join(os.tmpdir(), 'no-such-node-binary'), [...args], { stdio: 'pipe' });
  const outcome = await runCli(missing, ['doctor']);
  assert.match(outcome.error ?? '', /could not start the ftune CLI/);
});

test('startCli (the one spawn) passes extra environment and the folder; runCli hands both through', async () => {
  const cli = fakeCliFile();
  const cwd = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-cli-cwd-')));
  const spawnCli: SpawnCli = (args, options) => startCli(cliInvocation(cli, args, { execPath: process.execPath }), options);
  const outcome = await runCli(spawnCli, ['env'], { cwd, env: { HF_TOKEN: 'hf_secret' } });
  assert.equal(outcome.code, 0);
  assert.deepEqual(outcome.json, { token: 'hf_secret', cwd });
});

test('an AbortSignal cancels like a CancellationToken, also when it was aborted before the start', { timeout: 30_000 }, async () => {
  const controller = new AbortController();
  const running = runCli(fakeCli(), ['hang'], { cancel: abortCancellation(controller.signal), onLine: () => controller.abort() });
  const outcome = await running;
  assert.equal(outcome.cancelled, true);
  assert.equal(outcome.error, undefined);
  const early = new AbortController();
  early.abort();
  const before = await runCli(fakeCli(), ['hang'], { cancel: abortCancellation(early.signal) });
  assert.equal(before.cancelled, true);
  assert.equal(abortCancellation(undefined), undefined);
});
