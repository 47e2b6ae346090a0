// The command table (src/extension/commands/index.ts) and package.json agree: every command the
// manifest declares has a handler in the one table, and the table registers nothing undeclared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..', '..');

function tableKeys(): string[] {
  const source = fs.readFileSync(path.join(root, 'src', 'extension', 'commands', 'index.ts'), 'utf8');
  const body = /export function commandTable[\s\S]*?return \{([\s\S]*?)\n {2}\};/.exec(source)?.[1];
  assert.ok(body, 'commandTable returns an object literal');
  return [...body.matchAll(/^\s+(\w+): /gm)].map((m) => m[1]).sort();
}

test('every declared command has one handler in the table, and the table has no other', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[] } };
  const declared = pkg.contributes.commands.map((c) => c.command.replace(/^finetuneStudio\./, '')).sort();
  const keys = tableKeys();
  assert.equal(new Set(keys).size, keys.length, 'no key twice');
  assert.deepEqual(keys, declared);
  assert.ok(keys.length >= 21);
});

test('no module of the extension registers a command outside the table', () => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith('.ts') && /\bregisterCommand\(/.test(fs.readFileSync(file, 'utf8'))) offenders.push(path.relative(root, file));
    }
  };
  walk(path.join(root, 'src', 'extension'));
  assert.deepEqual(offenders, [path.join('src', 'extension', 'commands', 'index.ts')]);
});
