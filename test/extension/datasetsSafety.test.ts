// Issue 14, extension half, datasets: .gitignore patterns that cannot stall the walk, the "from files"
// walk off the extension host's thread (in the real `ftune data from-files`), and .source.json files of
// any shape that never break the Datasets view.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { compilePathGlob, GitignoreMatcher, parseGitignore, readProvenance, readProvenanceChecked, walkFiles, writeProvenance } from '../../src/core/datasets';
import { cliInvocation } from '../../src/extension/cliInvocation';
import { describeProvenance } from '../../src/extension/datasetFlow';
import { runFromFilesJob } from '../../src/extension/fromFilesJob';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');
const HOSTILE = '*a*a*a*a*a*a*a*a*b';
const LONG_NAME = 'a'.repeat(60);

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-ds-safety-'));
}

function spawnCli(cwd: string) {
  return (args: string[]) => {
    const inv = cliInvocation(CLI, args, { execPath: process.execPath });
    return spawn(inv.command, inv.args, { cwd, env: inv.env, stdio: ['ignore', 'pipe', 'pipe'] });
  };
}

describe('issue 14: .gitignore and --glob patterns are matched in linear time', () => {
  // A backtracking matcher (the RegExp this replaced, and picomatch / minimatch, which compile to
  // one) needs minutes to hours for this name; the timeout only says "it finishes at all".
  test(`${HOSTILE} against a ${LONG_NAME.length}-character name finishes, with the right answers`, { timeout: 30_000 }, () => {
    const glob = compilePathGlob(HOSTILE);
    assert.equal(glob.test(LONG_NAME), false);
    assert.equal(glob.test(`${LONG_NAME}b`), true);
    assert.equal(glob.test(`dir/${LONG_NAME}b`), true, 'an unanchored pattern matches at any depth');
    assert.equal(compilePathGlob(`**/${HOSTILE}`).test(`${'x/'.repeat(50)}${LONG_NAME}`), false);
    assert.equal(compilePathGlob(`*${'?*'.repeat(30)}z`).test('y'.repeat(200)), false);
  });

  test('a workspace .gitignore with that pattern: the walk finishes and honours it', { timeout: 30_000 }, () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, '.gitignore'), `${HOSTILE}\n`);
    fs.writeFileSync(path.join(root, LONG_NAME), 'kept: no b at the end');
    fs.writeFileSync(path.join(root, `${LONG_NAME}b`), 'ignored');
    assert.deepEqual(walkFiles([root]).map((f) => f.relPath), [LONG_NAME]);
    const m = new GitignoreMatcher(parseGitignore(`${HOSTILE}\n!keep*b\n`));
    assert.equal(m.ignores(`x/${LONG_NAME}b`, false), true);
    assert.equal(m.ignores(`x/keep${LONG_NAME}b`, false), false);
  });
});

describe('issue 14: "Create a Pre-training Dataset from Files…" walks in a child process and replaces the file only when done', () => {
  test('the real `ftune data from-files` writes the dataset while the host’s event loop keeps running', { timeout: 60_000 }, async () => {
    const root = tempDir();
    const docs = path.join(root, 'docs');
    fs.mkdirSync(docs);
    fs.writeFileSync(path.join(docs, '.gitignore'), `${HOSTILE}\n`);
    fs.writeFileSync(path.join(docs, 'guide.md'), 'How to train a model on your own text.');
    fs.writeFileSync(path.join(docs, `${LONG_NAME}b`), 'ignored by the hostile pattern');
    // a previous output inside the folder being read: it must not be read back in as text
    const target = path.join(docs, 'pretrain.jsonl');
    fs.writeFileSync(target, '{"text":"old"}\n');
    writeProvenance(target, { source: 'files', role: 'train', records: 1, created_at: '2026-01-01T00:00:00Z' });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const outcome = await runFromFilesJob({ folders: [docs], globs: [], target, spawnCli: spawnCli(root) }).finally(() => clearInterval(ticker));
    assert.ok(ticks > 0, 'the event loop ran while the CLI walked the folder');
    assert.match(outcome.summary[0], /^1 records from 1 file/);
    const lines = fs.readFileSync(target, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text: string });
    assert.deepEqual(lines, [{ text: 'How to train a model on your own text.' }]);
    assert.equal(readProvenance(target)?.records, 1);
    assert.deepEqual(fs.readdirSync(docs).filter((f) => f.includes('.tmp')), [], 'no temporary file left');
  });

  test('a walk that finds no text fails with the CLI’s reason and leaves the previous file untouched', { timeout: 60_000 }, async () => {
    const root = tempDir();
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty);
    const target = path.join(root, 'pretrain.jsonl');
    fs.writeFileSync(target, '{"text":"keep me"}\n');
    await assert.rejects(runFromFilesJob({ folders: [empty], globs: ['*.md'], target, spawnCli: spawnCli(root) }), /no text found/);
    assert.equal(fs.readFileSync(target, 'utf8'), '{"text":"keep me"}\n');
    assert.deepEqual(fs.readdirSync(root).sort(), ['empty', 'pretrain.jsonl']);
  });
});

describe('issue 14: a malformed .source.json never breaks the Datasets view', () => {
  const cases: Record<string, { text: string; reason: RegExp }> = {
    'an unknown source': { text: JSON.stringify({ source: 'ftp', role: 'train', records: 1, created_at: 'x' }), reason: /^data\.jsonl\.source\.json: source: / },
    'a numeric created_at': { text: JSON.stringify({ source: 'hub', role: 'train', records: 1, created_at: 1700000000 }), reason: /^data\.jsonl\.source\.json: created_at: / },
    'a deeply nested parent': {
      text: `${'{"source":"split","role":"train","records":1,"created_at":"x","parent":'.repeat(20_000)}{}${'}'.repeat(20_000)}`,
      reason: /parent: nested more than \d+ levels deep/,
    },
    'a bad parent': { text: JSON.stringify({ source: 'split', role: 'eval', records: 1, created_at: 'x', parent: { source: 'hub', role: 'boss', records: 1, created_at: 'x' } }), reason: /parent\.role: / },
    'not JSON': { text: '{"source": ', reason: /not valid JSON/ },
  };
  for (const [name, { text, reason }] of Object.entries(cases)) {
    test(`${name}: reported with its reason, never used`, () => {
      const dir = tempDir();
      const file = path.join(dir, 'data.jsonl');
      fs.writeFileSync(file, '{"text":"x"}\n');
      fs.writeFileSync(`${file}.source.json`, text);
      const checked = readProvenanceChecked(file);
      assert.equal(checked.provenance, undefined);
      assert.match(checked.problem ?? '', reason);
      assert.equal(readProvenance(file), undefined);
    });
  }

  test('a valid provenance with a split parent still reads and describes', () => {
    const dir = tempDir();
    const file = path.join(dir, 'data.train.jsonl');
    writeProvenance(file, { source: 'split', role: 'train', records: 9, created_at: '2026-01-01T00:00:00Z', seed: 42, source_file: path.join(dir, 'data.jsonl'), parent: { source: 'hub', role: 'train', records: 10, created_at: '2026-01-01T00:00:00Z', hub_id: 'openai/gsm8k', revision: 'e53f048' } });
    const { provenance, problem } = readProvenanceChecked(file);
    assert.equal(problem, undefined);
    assert.equal(describeProvenance(provenance!).description, 'train · split of data.jsonl');
  });
});
