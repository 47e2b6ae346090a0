import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseServeResponse, ServeClient, ServePool } from '../../src/extension/panels/serveClient';
import type { DecodingOptions } from '../../src/core/protocol';

// A stand-in for `ftune serve`: speaks the same JSON lines. It answers "echo:<prompt>[+adapter]" one
// character per token; prompt "slow" streams until cancelled, "error" answers an error, "crash" exits.
const FAKE_SERVER = `
const readline = require('readline');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
let slow;
out({ type: 'log-line-that-is-not-protocol' });
console.log('plain text noise');
out({ type: 'ready', backend: 'fake' });
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const req = JSON.parse(line);
  if (req.type === 'shutdown') process.exit(0);
  if (req.type === 'cancel') {
    if (slow && slow.id === req.id) { clearInterval(slow.timer); out({ type: 'done', id: req.id, text: slow.text, token_ids: [], prompt_tokens: 1, tokens_per_second: 1, cancelled: true }); slow = undefined; }
    return;
  }
  const prompt = req.prompt ?? req.messages[req.messages.length - 1].content;
  if (prompt === 'crash') { process.stderr.write('ftune: error: out of memory\\n'); process.exit(3); }
  if (prompt === 'error') { out({ type: 'error', id: req.id, message: 'bad prompt' }); return; }
  if (prompt === 'slow') {
    slow = { id: req.id, text: '', timer: setInterval(() => { slow.text += 'x'; out({ type: 'token', id: req.id, token_id: 1, text: 'x' }); }, 5) };
    return;
  }
  const text = 'echo:' + prompt + (req.ref.adapter ? '+' + req.ref.adapter : '');
  const ids = [];
  for (const ch of text) { ids.push(ch.charCodeAt(0)); out({ type: 'token', id: req.id, token_id: ch.charCodeAt(0), text: ch }); }
  out({ type: 'done', id: req.id, text, token_ids: ids, prompt_tokens: 3, tokens_per_second: 42, cancelled: false });
});
`;

const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fake-serve-')), 'serve.js');
fs.writeFileSync(script, FAKE_SERVER);
const spawnFake = () => spawn(process.execPath, [script], { stdio: 'pipe' });
const options: DecodingOptions = { max_new_tokens: 16, greedy: true, stop: true };

test('parseServeResponse accepts protocol lines only', () => {
  assert.deepEqual(parseServeResponse('{"type":"ready","backend":"cpu"}'), { type: 'ready', backend: 'cpu' });
  assert.equal(parseServeResponse('{"type":"other"}'), undefined);
  assert.equal(parseServeResponse('loading model...'), undefined);
  assert.equal(parseServeResponse('{broken'), undefined);
});

test('streams tokens, resolves with done, and runs requests one at a time in order', async () => {
  const client = new ServeClient(spawnFake);
  try {
    assert.equal(await client.whenReady(), 'fake');
    assert.equal(client.isReady, true);
    const order: string[] = [];
    const tokens: string[] = [];
    const a = client.generate({ id: 'a', ref: { model: '/m' }, prompt: 'hi', options }, {
      onStart: () => order.push('start a'),
      onToken: (t) => tokens.push(t),
    });
    const b = client.generate({ id: 'b', ref: { model: '/m', adapter: '/ck' }, messages: [{ role: 'user', content: 'yo' }], options }, {
      onStart: () => order.push('start b'),
    });
    void a.then(() => order.push('done a'));
    const [doneA, doneB] = await Promise.all([a, b]);
    assert.equal(doneA.text, 'echo:hi');
    assert.equal(tokens.join(''), 'echo:hi');
    assert.equal(doneA.token_ids.length, 7);
    assert.equal(doneA.tokens_per_second, 42);
    assert.equal(doneB.text, 'echo:yo+/ck', 'the adapter travels with the request');
    assert.deepEqual(order, ['start a', 'done a', 'start b']);
  } finally {
    client.dispose();
  }
});

test('cancel: a queued request never reaches the server; the running one is stopped by the server', async () => {
  const client = new ServeClient(spawnFake);
  try {
    let tokens = 0;
    let queuedStarted = false;
    const running = client.generate({ id: 'slow', ref: { model: '/m' }, prompt: 'slow', options }, { onToken: () => (tokens += 1) });
    const queued = client.generate({ id: 'q', ref: { model: '/m' }, prompt: 'never', options }, { onStart: () => (queuedStarted = true) });
    await new Promise<void>((resolve) => {
      const wait = setInterval(() => {
        if (tokens >= 3) {
          clearInterval(wait);
          resolve();
        }
      }, 2);
    });
    client.cancelAll();
    const [r, q] = await Promise.all([running, queued]);
    assert.equal(r.cancelled, true);
    assert.ok(r.text.length >= 3);
    assert.equal(q.cancelled, true);
    assert.equal(queuedStarted, false);
    const after = await client.generate({ id: 'after', ref: { model: '/m' }, prompt: 'ok', options });
    assert.equal(after.text, 'echo:ok', 'the server keeps serving after a cancel');
  } finally {
    client.dispose();
  }
});

test('an error answer rejects that request only', async () => {
  const client = new ServeClient(spawnFake);
  try {
    await assert.rejects(client.generate({ id: 'e', ref: { model: '/m' }, prompt: 'error', options }), /bad prompt/);
    assert.equal((await client.generate({ id: 'f', ref: { model: '/m' }, prompt: 'fine', options })).text, 'echo:fine');
  } finally {
    client.dispose();
  }
});

test('a crash rejects what is pending with the stderr reason; the pool starts a fresh server', async () => {
  const logged: string[] = [];
  const pool = new ServePool(() => spawnFake(), (line) => logged.push(line));
  try {
    const first = pool.get('/m');
    const crash = first.generate({ id: 'c', ref: { model: '/m' }, prompt: 'crash', options });
    const behind = first.generate({ id: 'd', ref: { model: '/m' }, prompt: 'x', options });
    await assert.rejects(crash, /exited \(code 3\): ftune: error: out of memory/);
    await assert.rejects(behind, /exited/);
    assert.equal(first.alive, false);
    await assert.rejects(first.generate({ id: 'z', ref: { model: '/m' }, prompt: 'x', options }), /not running/);
    const second = pool.get('/m');
    assert.notEqual(second, first);
    assert.equal((await second.generate({ id: 'y', ref: { model: '/m' }, prompt: 'back', options })).text, 'echo:back');
    assert.ok(logged.some((l) => l.includes('plain text noise')), 'non-protocol output goes to the log');
  } finally {
    pool.dispose();
  }
});

test('one server per base model', async () => {
  let spawned = 0;
  const pool = new ServePool(() => {
    spawned += 1;
    return spawnFake();
  });
  try {
    assert.equal(pool.get('/a'), pool.get('/a'));
    assert.notEqual(pool.get('/a'), pool.get('/b'));
    assert.equal(spawned, 2);
  } finally {
    pool.dispose();
  }
});

test('dispose asks the server to shut down and it exits', async () => {
  const child = spawnFake();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const client = new ServeClient(() => child);
  await client.whenReady();
  client.dispose();
  assert.equal(await exited, 0);
  assert.equal(client.alive, false);
});
