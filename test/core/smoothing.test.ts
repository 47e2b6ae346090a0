import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clampSmoothingWeight, emaSmooth } from '../../src/core/smoothing';

/** TensorBoard's algorithm written out longhand for one weight, to compare against. */
function reference(values: number[], w: number): number[] {
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    n += 1;
    return last / (1 - w ** n);
  });
}

test('weight 0 returns the raw values (a copy)', () => {
  const raw = [3, 1, 2];
  const out = emaSmooth(raw, 0);
  assert.deepEqual(out, raw);
  assert.notEqual(out, raw);
});

test('the first point is debiased: it equals the first value, not (1-w)·value', () => {
  const out = emaSmooth([4, 2, 2, 2], 0.9);
  assert.ok(Math.abs(out[0] - 4) < 1e-12);
  // without debiasing the first point would be 0.4
  assert.ok(out[1] < 4 && out[1] > 2);
});

test('matches the TensorBoard recurrence value by value', () => {
  const raw = [2.5, 2.1, 2.3, 1.9, 1.7, 1.8, 1.2, 1.4, 1.1, 0.9];
  const expected = reference(raw, 0.6);
  const got = emaSmooth(raw, 0.6);
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-12, `index ${i}: ${v} vs ${expected[i]}`));
  // the second value by hand: (0.6·0.4·2.5 + 0.4·2.1) / (1 − 0.36)
  assert.ok(Math.abs(got[1] - (0.6 * 0.4 * 2.5 + 0.4 * 2.1) / 0.64) < 1e-12);
});

test('smoothing reduces the variance of a noisy series', () => {
  const raw = Array.from({ length: 200 }, (_, i) => 1 + (i % 2 === 0 ? 0.5 : -0.5));
  const smooth = emaSmooth(raw, 0.9).slice(50);
  const spread = Math.max(...smooth) - Math.min(...smooth);
  assert.ok(spread < 0.2, `spread ${spread}`);
});

test('non-finite values pass through and do not enter the average', () => {
  const out = emaSmooth([1, NaN, 3, Infinity, 5], 0.5);
  assert.ok(Number.isNaN(out[1]));
  assert.equal(out[3], Infinity);
  const expected = reference([1, 3, 5], 0.5);
  assert.ok(Math.abs(out[0] - expected[0]) < 1e-12);
  assert.ok(Math.abs(out[2] - expected[1]) < 1e-12);
  assert.ok(Math.abs(out[4] - expected[2]) < 1e-12);
});

test('a constant series stays exactly constant', () => {
  assert.deepEqual(emaSmooth([0.7, 0.7, 0.7], 0.95), [0.7, 0.7, 0.7]);
});

test('weights are clamped into [0, 0.999]', () => {
  assert.equal(clampSmoothingWeight(-1), 0);
  assert.equal(clampSmoothingWeight(NaN), 0);
  assert.equal(clampSmoothingWeight(1), 0.999);
  assert.equal(clampSmoothingWeight(0.3), 0.3);
  assert.deepEqual(emaSmooth([], 0.5), []);
});
