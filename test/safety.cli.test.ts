// issue 14 (CLI / engine / core half): nothing lost, nothing hangs. Each describe block names the
// item of issue 14 it covers; every test runs the real `ftune` (bin/ftune.js → out/) in a child
// process or the real core function, against files written here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readJsonl } from '../src/core/jsonl';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'ftune.js');
const TINY = path.join(ROOT, 'examples', 'models', 'tiny-gsm8k-base');

interface Result { code: number | null; stdout: string; stderr: string }

function ftune(args: string[], env: Record<string, string> = {}, timeout = 120_000): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ftune-safety-${prefix}-`));
}

/** Exit 1 and exactly one `ftune: error:` line on stderr, matching `message`. */
function assertOneLineError(r: Result, message: RegExp): void {
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ftune: error:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0], message);
}

/** A line 100 000 arrays deep: JSON.parse copes, every recursive step after it did not. */
function deepLine(): string {
  const depth = 100_000;
  return `{"text":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

describe('issue 14: JSONL nesting depth (ftune data split and every JSONL reader)', () => {
  test('ftune data split on a deeply nested line reports file:line: nesting too deep', () => {
    const dir = tmp('deep');
    const file = path.join(dir, 'data.jsonl');
    fs.writeFileSync(file, `{"text":"a"}\n{"text":"b"}\n${deepLine()}\n{"text":"c"}\n`);
    const r = ftune(['data', 'split', file]);
    assertOneLineError(r, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: nesting too deep`));
    assert.deepEqual(fs.readdirSync(dir), ['data.jsonl'], 'nothing written');
  });

  test('the streaming reader (validate, preview, train) reports the same line as a bad line', async () => {
    const dir = tmp('deep-stream');
    const file = path.join(dir, 'data.jsonl');
    fs.writeFileSync(file, `{"text":"a"}\n${deepLine()}\n{"text":"[[[[\\"]]]"}\n`);
    const entries = [];
    for await (const e of readJsonl(file)) entries.push(e);
    assert.equal(entries.length, 3);
    assert.equal(entries[1].line, 2);
    assert.match(entries[1].error ?? '', /nesting too deep/);
    assert.equal(entries[2].error, undefined, 'brackets inside strings do not count');
  });
});

describe('issue 14: from-files writes atomically (ftune data from-files and the core function)', () => {
  test('no text found: the previous output file is kept; a later success replaces it in one rename', () => {
    const dir = tmp('fromfiles');
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const out = path.join(src, 'corpus.jsonl');
    const previous = '{"text":"the dataset made yesterday"}\n';
    fs.writeFileSync(out, previous);
    // Only the output itself lies in the folder, and it must not be read back in as text.
    const empty = ftune(['data', 'from-files', src, '--out', out]);
    assertOneLineError(empty, /no text found/);
    assert.equal(fs.readFileSync(out, 'utf8'), previous, 'the old file is untouched');

    fs.writeFileSync(path.join(src, 'notes.md'), 'Some notes about sheep.\n');
    const ok = ftune(['data', 'from-files', src, '--out', out]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).text as string), ['Some notes about sheep.']);
    assert.deepEqual(fs.readdirSync(src).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
  });
});
