// Workspace files → CPT records: the .gitignore matcher, the walk, chunking; and CSV parsing
// plus --field mappings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyFieldMap, chunkText, compilePathGlob, csvToRecords, filesToRecords, GitignoreMatcher, parseCsv, parseFieldMap, parseGitignore, walkFiles } from '../../src/core/datasets';

function matcher(text: string): GitignoreMatcher {
  return new GitignoreMatcher(parseGitignore(text));
}

function makeTree(files: Record<string, string | Buffer>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-tree-'));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
  return root;
}

// --------------------------------------------------------------------------- gitignore

test('gitignore: unanchored names match at any depth; comments and blank lines are ignored', () => {
  const m = matcher('# build output\n\n*.log\nsecret.txt\n');
  assert.ok(m.ignores('debug.log', false));
  assert.ok(m.ignores('a/b/trace.log', false));
  assert.ok(m.ignores('deep/secret.txt', false));
  assert.ok(!m.ignores('log.txt', false));
  assert.ok(!m.ignores('# build output', false));
});

test('gitignore: a leading or inner slash anchors to the .gitignore folder', () => {
  const m = matcher('/build\ndocs/*.tmp\n');
  assert.ok(m.ignores('build', true));
  assert.ok(m.ignores('build/out.js', false));
  assert.ok(!m.ignores('src/build', true));
  assert.ok(m.ignores('docs/a.tmp', false));
  assert.ok(!m.ignores('x/docs/a.tmp', false));
  // '*' does not cross '/'.
  assert.ok(!m.ignores('docs/sub/a.tmp', false));
});

test('gitignore: a trailing slash matches directories only', () => {
  const m = matcher('cache/\n');
  assert.ok(m.ignores('cache', true));
  assert.ok(m.ignores('a/cache', true));
  assert.ok(m.ignores('a/cache/file.txt', false));
  assert.ok(!m.ignores('cache', false));
});

test('gitignore: negation re-includes, last rule wins, but not below an ignored directory', () => {
  const m = matcher('*.md\n!README.md\nlogs/\n!logs/keep.md\n');
  assert.ok(m.ignores('notes.md', false));
  assert.ok(!m.ignores('README.md', false));
  assert.ok(!m.ignores('sub/README.md', false));
  // git cannot re-include a file whose parent directory is excluded.
  assert.ok(m.ignores('logs/keep.md', false));
  const later = matcher('!keep.txt\n*.txt\n');
  assert.ok(later.ignores('keep.txt', false));
});

test('gitignore: ** forms, ? and character classes; escapes', () => {
  const m = matcher('**/tmp\nout/**\na/**/z.txt\nfile?.c\n[Bb]in\n\\#hash\n\\!bang\n');
  assert.ok(m.ignores('tmp', true));
  assert.ok(m.ignores('x/y/tmp', false));
  assert.ok(m.ignores('out/a/b/c.js', false));
  assert.ok(!m.ignores('out', true)); // "out/**" matches what is inside, not out itself
  assert.ok(m.ignores('a/z.txt', false));
  assert.ok(m.ignores('a/b/c/z.txt', false));
  assert.ok(m.ignores('file1.c', false));
  assert.ok(!m.ignores('file10.c', false));
  assert.ok(m.ignores('Bin', true) && m.ignores('bin', true) && !m.ignores('pin', true));
  assert.ok(m.ignores('#hash', false));
  assert.ok(m.ignores('!bang', false));
});

test('gitignore: rules of a nested .gitignore apply only below its folder', () => {
  const m = new GitignoreMatcher(parseGitignore('*.gen\n')).withRules(parseGitignore('*.txt\n!*.gen\n', 'pkg'));
  assert.ok(m.ignores('pkg/a.txt', false));
  assert.ok(!m.ignores('a.txt', false));
  assert.ok(!m.ignores('pkg/x.gen', false));
  assert.ok(m.ignores('other/x.gen', false));
});

test('compilePathGlob: include globs for --glob', () => {
  assert.ok(compilePathGlob('*.md').test('docs/guide.md'));
  assert.ok(compilePathGlob('src/**/*.ts').test('src/a/b/c.ts'));
  assert.ok(compilePathGlob('src/**/*.ts').test('src/c.ts'));
  assert.ok(!compilePathGlob('src/**/*.ts').test('lib/src/c.ts'));
  assert.ok(!compilePathGlob('*.md').test('guide.mdx'));
});

// ------------------------------------------------------------------------- walk + chunk

test('walkFiles: honours root and nested .gitignore files, skips .git, node_modules and git control files, sorted', () => {
  const root = makeTree({
    '.gitignore': 'dist/\n*.log\n',
    'README.md': 'hello',
    'b.txt': 'b',
    'a.txt': 'a',
    'app.log': 'noise',
    'dist/bundle.js': 'x',
    'src/main.ts': 'code',
    'src/.gitignore': 'generated.ts\n',
    'src/generated.ts': 'gen',
    '.git/config': '[core]',
    'node_modules/pkg/index.js': 'dep',
  });
  const rels = walkFiles([root]).map((f) => f.relPath);
  assert.deepEqual(rels, ['README.md', 'a.txt', 'b.txt', 'src/main.ts']);
  const onlyTs = walkFiles([root], { globs: ['*.ts', '*.md'] }).map((f) => f.relPath);
  assert.deepEqual(onlyTs, ['README.md', 'src/main.ts']);
});

test('chunkText: packs paragraphs up to the limit, splits long ones at lines then spaces', () => {
  const text = 'para one.\n\npara two.\n\npara three is longer.';
  assert.deepEqual(chunkText(text, 22), ['para one.\n\npara two.', 'para three is longer.']);
  assert.deepEqual(chunkText(text, 1000), [text]);
  const long = 'line one here\nline two here\nline three';
  assert.deepEqual(chunkText(long, 27), ['line one here\nline two here', 'line three']);
  const words = 'aaaa bbbb cccc dddd';
  assert.deepEqual(chunkText(words, 9), ['aaaa bbbb', 'cccc dddd']);
  assert.deepEqual(chunkText('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
  for (const c of chunkText('x '.repeat(500) + '\n\n' + 'y'.repeat(3000), 100)) assert.ok(c.length <= 100);
  assert.deepEqual(chunkText('  \n\n \r\n', 10), []);
});

test('filesToRecords: one chunk list per file, binary and oversized files skipped', () => {
  const root = makeTree({
    'doc.md': 'Alpha paragraph.\n\nBeta paragraph.',
    'image.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]),
    'big.txt': 'z'.repeat(5000),
    'empty.txt': '\n\n',
  });
  const r = filesToRecords([root], { chunkChars: 20, maxFileBytes: 4096 });
  assert.deepEqual(r.records, [{ text: 'Alpha paragraph.' }, { text: 'Beta paragraph.' }]);
  assert.deepEqual(r.files, ['doc.md']);
  assert.deepEqual(
    r.skipped.map((s) => `${s.path}:${s.reason}`).sort(),
    ['big.txt:too-large', 'empty.txt:empty', 'image.png:binary'],
  );
});

// ------------------------------------------------------------------------ CSV + fields

test('parseCsv: quotes, doubled quotes, delimiters and newlines inside quotes, CRLF, BOM', () => {
  const text = '\ufeffq,a\r\n"Hello, ""world""","line1\nline2"\r\nplain,\r\n\r\n"x",y';
  assert.deepEqual(parseCsv(text), [
    ['q', 'a'],
    ['Hello, "world"', 'line1\nline2'],
    ['plain', ''],
    ['x', 'y'],
  ]);
  assert.deepEqual(parseCsv('a;b\n1;"2;3"', ';'), [['a', 'b'], ['1', '2;3']]);
  assert.throws(() => parseCsv('a,b\n"open,1'), /unterminated quoted field starting on line 2/);
});

test('csvToRecords + field map: header keys, mapping renames and keeps only mapped keys', () => {
  const rows = csvToRecords('question,answer,id\n"What is 2+2?",4,1\nShort row,5\n');
  assert.deepEqual(rows, [
    { question: 'What is 2+2?', answer: '4', id: '1' },
    { question: 'Short row', answer: '5', id: '' },
  ]);
  assert.throws(() => csvToRecords('a,b\n1,2,3\n'), /3 fields but the header has 2/);
  const map = parseFieldMap(['prompt=question', 'completion=answer']);
  assert.deepEqual(applyFieldMap(rows[0], map), { prompt: 'What is 2+2?', completion: '4' });
  assert.deepEqual(applyFieldMap({ meta: { q: 'hi' } }, parseFieldMap(['prompt=meta.q'])), { prompt: 'hi' });
  assert.deepEqual(applyFieldMap(rows[0], {}), rows[0]);
  assert.throws(() => applyFieldMap(rows[0], parseFieldMap(['prompt=nope'])), /no column "nope".*columns: question, answer, id/);
  assert.throws(() => parseFieldMap(['prompt']), /KEY=COLUMN/);
});
