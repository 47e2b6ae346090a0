import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHparam, hparamTable, MISSING_VALUE } from '../../webview/lib/hparams';

test('rows list every key once, leading keys first, the rest alphabetically', () => {
  const rows = hparamTable([
    { zeta: 1, lr: 0.001, model: 'm', alpha_extra: true },
    { lr: 0.001, model: 'm', epochs: 2 },
  ]);
  assert.deepEqual(rows.map((r) => r.key), ['model', 'epochs', 'lr', 'alpha_extra', 'zeta']);
});

test('differences are flagged, missing values shown as a dash and count as a difference', () => {
  const rows = hparamTable([
    { lr: 0.001, lora_r: 8, seed: 42 },
    { lr: 0.0005, lora_r: 8 },
  ]);
  const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
  assert.equal(byKey.lr.differs, true);
  assert.deepEqual(byKey.lr.values, ['0.001', '0.0005']);
  assert.equal(byKey.lora_r.differs, false);
  assert.deepEqual(byKey.seed.values, ['42', MISSING_VALUE]);
  assert.equal(byKey.seed.differs, true);
});

test('objects compare by content regardless of key order; arrays are listed', () => {
  const rows = hparamTable([
    { fields: { prompt: 'q', completion: 'a' }, lora_targets: ['q_proj', 'v_proj'] },
    { fields: { completion: 'a', prompt: 'q' }, lora_targets: ['q_proj', 'v_proj'] },
  ]);
  assert.ok(rows.every((r) => !r.differs));
  assert.equal(formatHparam(['q_proj', 'v_proj']), 'q_proj, v_proj');
  assert.equal(formatHparam([]), '[]');
  assert.equal(formatHparam(null), MISSING_VALUE);
  assert.equal(formatHparam(false), 'false');
});

test('"only differences" keeps just the differing rows; a missing config is all dashes', () => {
  const rows = hparamTable([{ lr: 1, seed: 1 }, { lr: 2, seed: 1 }, null], true);
  assert.deepEqual(rows.map((r) => r.key), ['lr', 'seed']);
  assert.deepEqual(rows[0].values, ['1', '2', MISSING_VALUE]);
  assert.equal(hparamTable([{ lr: 1 }, { lr: 1 }], true).length, 0);
});

test('a single run shows every parameter and no differences', () => {
  const rows = hparamTable([{ lr: 1, epochs: 3 }]);
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => !r.differs));
});
