// Deterministic, overlap-free train / eval / golden splits (`ftune data split`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { contentKey, dedupeRecords, mulberry32, readJsonl, readProvenance, seededShuffle, splitFile, splitRecords, writeJsonl, writeProvenance, type DatasetRecord } from '../../src/core/datasets';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-split-'));
}

function records(n: number): DatasetRecord[] {
  return Array.from({ length: n }, (_, i) => ({ question: `What is ${i} + 1?`, answer: `#### ${i + 1}` }));
}

test('mulberry32 gives the same stream as an independent implementation of the algorithm', () => {
  // Values from a Python port of mulberry32 using explicit uint32 masking, so the JS 32-bit
  // arithmetic (Math.imul, >>> 0) is checked against plain integer maths.
  const r = mulberry32(42);
  assert.deepEqual([r(), r(), r()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  const z = mulberry32(0);
  assert.deepEqual([z(), z()], [0.26642920868471265, 0.0003297457005828619]);
});

test('seededShuffle is a permutation and depends on the seed only', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const a = seededShuffle(items, mulberry32(7));
  assert.deepEqual([...a].sort((x, y) => x - y), items);
  assert.deepEqual(seededShuffle(items, mulberry32(7)), a);
  assert.notDeepEqual(seededShuffle(items, mulberry32(8)), a);
  assert.notDeepEqual(a, items);
});

test('dedupe keys ignore case, whitespace runs and key order', () => {
  const a = { prompt: 'Hello   World', completion: 'x\n' };
  const b = { completion: 'X', prompt: ' hello world' };
  const c = { prompt: 'Hello World!', completion: 'x' };
  assert.equal(contentKey(a), contentKey(b));
  assert.notEqual(contentKey(a), contentKey(c));
  const nested = [{ messages: [{ role: 'user', content: 'Hi  there' }] }, { messages: [{ content: 'hi there', role: 'USER' }] }];
  const d = dedupeRecords(nested);
  assert.equal(d.unique.length, 1);
  assert.deepEqual(d.duplicateIndices, [1]);
});

test('splitRecords: counts from fractions and absolute numbers', () => {
  const r = splitRecords(records(1000), { eval: 0.1, golden: 200, seed: 1 });
  assert.equal(r.golden.length, 200);
  assert.equal(r.eval.length, 100);
  assert.equal(r.train.length, 700);
  assert.equal(r.duplicates, 0);
  const c = splitRecords(records(1000), { eval: 30, golden: 0.05, seed: 1 });
  assert.equal(c.eval.length, 30);
  assert.equal(c.golden.length, 50);
  assert.equal(c.train.length, 920);
});

test('splitRecords: no example in two splits, even when the input repeats examples', () => {
  const base = records(300);
  // 40 near-duplicates (different case and spacing) scattered through the input.
  const noisy = [...base];
  for (let i = 0; i < 40; i++) noisy.splice(i * 7, 0, { answer: `####  ${i * 3 + 1}`, question: `WHAT is ${i * 3} + 1?` });
  const r = splitRecords(noisy, { eval: 0.2, golden: 25, seed: 3 });
  assert.equal(r.duplicates, 40);
  const keys = (rs: DatasetRecord[]) => new Set(rs.map(contentKey));
  const [tr, ev, go] = [keys(r.train), keys(r.eval), keys(r.golden)];
  for (const k of ev) assert.ok(!tr.has(k) && !go.has(k));
  for (const k of go) assert.ok(!tr.has(k));
  assert.equal(tr.size + ev.size + go.size, 300);
  assert.equal(r.train.length + r.eval.length + r.golden.length, 300);
});

test('splitRecords: same seed same split, other seed other split; input order kept inside a split', () => {
  const input = records(200);
  const a = splitRecords(input, { eval: 0.25, golden: 10, seed: 11 });
  const b = splitRecords(input, { eval: 0.25, golden: 10, seed: 11 });
  const c = splitRecords(input, { eval: 0.25, golden: 10, seed: 12 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.eval, c.eval);
  const indexOf = new Map(input.map((r, i) => [contentKey(r), i]));
  for (const split of [a.train, a.eval, a.golden]) {
    const idx = split.map((r) => indexOf.get(contentKey(r)) as number);
    assert.deepEqual(idx, [...idx].sort((x, y) => x - y));
  }
});

test('splitRecords: refuses to leave nothing for training and rejects bad sizes', () => {
  assert.throws(() => splitRecords(records(10), { eval: 5, golden: 5, seed: 1 }), /keep any for training/);
  assert.throws(() => splitRecords(records(10), { eval: -0.1, golden: 0, seed: 1 }), /non-negative/);
  assert.throws(() => splitRecords(records(10), { eval: 2.5, golden: 0, seed: 1 }), /whole count/);
});

test('splitFile: writes stem.train/.eval/.golden.jsonl byte-identically for the same seed, with provenance', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'gsm.jsonl');
  writeJsonl(file, [...records(120), records(1)[0]]);
  writeProvenance(file, { source: 'hub', role: 'train', records: 121, created_at: 'x', hub_id: 'openai/gsm8k', revision: 'abc', config: 'main', split: 'train' });
  const out1 = path.join(dir, 'one');
  const out2 = path.join(dir, 'two');
  fs.mkdirSync(out1);
  fs.mkdirSync(out2);
  const r1 = splitFile(file, { eval: 0.1, golden: 20, seed: 5, outDir: out1 });
  splitFile(file, { eval: 0.1, golden: 20, seed: 5, outDir: out2 });
  assert.equal(r1.duplicates, 1);
  for (const role of ['train', 'eval', 'golden']) {
    const name = `gsm.${role}.jsonl`;
    assert.equal(fs.readFileSync(path.join(out1, name), 'utf8'), fs.readFileSync(path.join(out2, name), 'utf8'));
  }
  assert.equal(readJsonl(path.join(out1, 'gsm.golden.jsonl')).length, 20);
  assert.equal(readJsonl(path.join(out1, 'gsm.eval.jsonl')).length, 12);
  assert.equal(readJsonl(path.join(out1, 'gsm.train.jsonl')).length, 88);
  const prov = readProvenance(path.join(out1, 'gsm.eval.jsonl'));
  assert.equal(prov?.role, 'eval');
  assert.equal(prov?.seed, 5);
  assert.equal(prov?.records, 12);
  assert.equal(prov?.parent?.hub_id, 'openai/gsm8k');
});

test('splitFile: default output folder is the input folder; a role with no records gets no file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'data.jsonl');
  writeJsonl(file, records(30));
  const r = splitFile(file, { eval: 0.2, golden: 0, seed: 1 });
  assert.equal(r.files.train, path.join(dir, 'data.train.jsonl'));
  assert.equal(r.files.eval, path.join(dir, 'data.eval.jsonl'));
  assert.equal(r.files.golden, undefined);
  assert.ok(!fs.existsSync(path.join(dir, 'data.golden.jsonl')));
});
