// Issue 14: restored panels and webview messages never start the CLI in Restricted Mode. The VS Code
// side (serializers, message handlers) goes through the gate tested here: Ctx.spawnCli is built from
// trustGatedSpawner, and restored panels show restrictedPanelHtml until the workspace is trusted.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RestrictedModeError, restrictedPanelHtml, trustGatedSpawner } from '../../src/extension/trust';

describe('issue 14: restored panels and their messages never run the CLI in an untrusted workspace', () => {
  test('the spawn gate refuses while untrusted, never starting a process, and lets the same call through once trusted', () => {
    let trusted = false;
    const spawned: string[][] = [];
    const spawnCli = trustGatedSpawner(() => trusted, (args) => {
      spawned.push([...args]);
      return { pid: 1234 };
    });
    // what a restored mask preview and the playground send first
    assert.throws(() => spawnCli(['preview', '--model', '/ws/model', '--data', '/ws/data.jsonl']), (error: unknown) => error instanceof RestrictedModeError && /ftune preview: .*must be trusted/.test(error.message));
    assert.throws(() => spawnCli(['serve', '--model', '/ws/model']), RestrictedModeError);
    assert.deepEqual(spawned, [], 'nothing was spawned');
    // plain text in, JSONL out: allowed in Restricted Mode only when the caller says so
    spawnCli(['data', 'from-files', '/ws/docs', '--out', '/ws/x.jsonl'], { restrictedModeSafe: true });
    assert.equal(spawned.length, 1);
    trusted = true;
    assert.deepEqual(spawnCli(['preview', '--model', '/ws/model']), { pid: 1234 });
    assert.deepEqual(spawned.map((a) => a[0]), ['data', 'preview']);
  });

  test('a panel restored in Restricted Mode shows a static page: no script can post a message', () => {
    const html = restrictedPanelHtml('Preview <data.jsonl>');
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /default-src 'none'/);
    assert.match(html, /Preview &#60;data\.jsonl&#62;/);
    assert.match(html, /must be trusted/);
  });
});
