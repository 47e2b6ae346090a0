// `ftune data split | from-files | from-csv` through dataCommand, as the CLI runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dataCommand } from '../../src/cli/data';
import { readJsonl, readProvenance, writeJsonl } from '../../src/core/datasets';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'datasets');

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await dataCommand(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), errIsTty: false });
  return { code, stdout, stderr };
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-cli-'));
}

test('data split: writes the three files, reports counts and dropped duplicates', async () => {
  const dir = tmp();
  const file = path.join(dir, 'qa.jsonl');
  const rows = Array.from({ length: 400 }, (_, i) => ({ prompt: `p${i}`, completion: `c${i}` }));
  writeJsonl(file, [...rows, { prompt: 'P7 ', completion: 'C7' }, { completion: 'c8', prompt: 'p8' }]);
  const r = await runCli(['split', file, '--eval', '0.1', '--golden', '50', '--seed', '9']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /train\s+310\s+.*qa\.train\.jsonl/);
  assert.match(r.stdout, /eval\s+40\s+.*qa\.eval\.jsonl/);
  assert.match(r.stdout, /golden\s+50\s+.*qa\.golden\.jsonl/);
  assert.match(r.stdout, /seed 9; 2 duplicate record\(s\) dropped/);
  const firstRun = fs.readFileSync(path.join(dir, 'qa.eval.jsonl'), 'utf8');
  const again = await runCli(['split', file, '--eval', '0.1', '--golden', '50', '--seed', '9', '--out-dir', dir]);
  assert.equal(again.code, 0);
  assert.equal(fs.readFileSync(path.join(dir, 'qa.eval.jsonl'), 'utf8'), firstRun);
  assert.equal(readProvenance(path.join(dir, 'qa.golden.jsonl'))?.role, 'golden');
});

test('data split: bad input gives one error line and exit 1', async () => {
  const dir = tmp();
  const file = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(file, '{"a":1}\nnot json\n');
  const r = await runCli(['split', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ftune: error: .*bad\.jsonl:2: invalid JSON/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  const usage = await runCli(['split', file, '--eval', 'lots']);
  assert.match(usage.stderr, /--eval expects a number/);
  const unknown = await runCli(['split', file, '--evil', '1']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /ftune: error: .*--evil/);
});

test('data from-files: folders → {"text"} chunks, .gitignore respected, provenance lists the folders', async () => {
  const root = tmp();
  fs.writeFileSync(path.join(root, '.gitignore'), 'private/\n*.secret\n');
  fs.mkdirSync(path.join(root, 'private'));
  fs.writeFileSync(path.join(root, 'private', 'notes.md'), 'do not train on me');
  fs.writeFileSync(path.join(root, 'key.secret'), 'hunter2');
  fs.writeFileSync(path.join(root, 'guide.md'), 'First paragraph of the guide.\n\nSecond paragraph of the guide.');
  fs.writeFileSync(path.join(root, 'main.ts'), 'export const answer = 42;\n');
  const out = path.join(tmp(), 'cpt.jsonl');
  const r = await runCli(['from-files', root, '--out', out, '--glob', '*.md,*.ts', '--chunk-chars', '40']);
  assert.equal(r.code, 0, r.stderr);
  const records = readJsonl(out);
  assert.deepEqual(records, [{ text: 'First paragraph of the guide.' }, { text: 'Second paragraph of the guide.' }, { text: 'export const answer = 42;' }]);
  assert.ok(!JSON.stringify(records).includes('hunter2') && !JSON.stringify(records).includes('do not train'));
  assert.match(r.stdout, /3 records from 2 file\(s\)/);
  const prov = readProvenance(out);
  assert.equal(prov?.source, 'files');
  assert.deepEqual(prov?.folders, [path.resolve(root)]);
  assert.deepEqual(prov?.globs, ['*.md', '*.ts']);
  assert.equal(prov?.chunk_chars, 40);
});

test('data from-csv: quoted fields with commas, quotes and newlines, mapped to prompt/completion', async () => {
  const out = path.join(tmp(), 'qa.jsonl');
  const r = await runCli(['from-csv', path.join(FIXTURES, 'quoted.csv'), '--out', out, '--field', 'prompt=question', '--field', 'completion=answer']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readJsonl(out), [
    { prompt: 'What is 2+2, exactly?', completion: 'It is "4".\n#### 4' },
    { prompt: 'Plain question', completion: '#### 7' },
    { prompt: 'Multi\nline\nquestion', completion: '#### 9' },
  ]);
  const prov = readProvenance(out);
  assert.equal(prov?.source, 'csv');
  assert.equal(prov?.records, 3);
  assert.deepEqual(prov?.field_map, { prompt: 'question', completion: 'answer' });
  const missing = await runCli(['from-csv', path.join(FIXTURES, 'quoted.csv'), '--out', out, '--field', 'prompt=nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no column "nope"/);
});

test('data: unknown subcommand and help', async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown data subcommand "frobnicate"/);
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /ftune data pull DATASET_ID/);
});
