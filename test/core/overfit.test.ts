import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectOverfitting, overfitAdvice, OverfitWatcher, type EvalPoint, type TrainPoint } from '../../src/core/overfit';
import type { TrainerEvent } from '../../src/core/protocol';

/** Train loss falling linearly from 2.0, one point per step. */
function fallingTrain(steps: number): TrainPoint[] {
  return Array.from({ length: steps }, (_, i) => ({ step: i + 1, loss: 2 - (i * 1.5) / steps }));
}

const evals = (losses: number[], every = 10): EvalPoint[] => losses.map((eval_loss, i) => ({ step: (i + 1) * every, eval_loss }));

test('eval rising N times in a row while train falls raises one alarm at the N-th rise', () => {
  const alarms = detectOverfitting(fallingTrain(80), evals([1.5, 1.2, 1.0, 1.1, 1.2, 1.3, 1.4]), { patience: 3 });
  assert.equal(alarms.length, 1);
  const [alarm] = alarms;
  assert.equal(alarm.step, 60);
  assert.equal(alarm.best_step, 30);
  assert.equal(alarm.best_eval_loss, 1.0);
  assert.equal(alarm.eval_loss, 1.3);
  assert.equal(alarm.rises, 3);
  assert.ok(alarm.train_loss_now < alarm.train_loss_before);
});

test('fewer rises than the patience raise nothing', () => {
  assert.deepEqual(detectOverfitting(fallingTrain(60), evals([1.5, 1.2, 1.0, 1.1, 1.2, 1.1]), { patience: 3 }), []);
});

test('no alarm when train loss rises too (divergence, not overfitting)', () => {
  const rising = Array.from({ length: 70 }, (_, i) => ({ step: i + 1, loss: 1 + i * 0.02 }));
  assert.deepEqual(detectOverfitting(rising, evals([1.5, 1.2, 1.0, 1.1, 1.2, 1.3, 1.4]), { patience: 3 }), []);
});

test('one alarm per streak; a new streak after a dip raises another', () => {
  const e = evals([1.0, 1.1, 1.2, 1.3, 1.4, 1.0, 1.1, 1.2, 1.3]);
  const alarms = detectOverfitting(fallingTrain(90), e, { patience: 2 });
  assert.deepEqual(alarms.map((a) => a.step), [30, 80]);
  assert.deepEqual(alarms.map((a) => a.best_step), [10, 60]);
});

test('minRise ignores rises within the noise', () => {
  const e = evals([1.0, 1.001, 1.002, 1.003]);
  assert.equal(detectOverfitting(fallingTrain(40), e, { patience: 3 }).length, 1);
  assert.equal(detectOverfitting(fallingTrain(40), e, { patience: 3, minRise: 0.01 }).length, 0);
});

test('evaluations given out of order are sorted by step', () => {
  const e = evals([1.5, 1.2, 1.0, 1.1, 1.2, 1.3]).reverse();
  assert.equal(detectOverfitting(fallingTrain(60), e, { patience: 3 })[0]?.step, 60);
});

test('the watcher reports each alarm once, on the eval that causes it', () => {
  const watcher = new OverfitWatcher({ patience: 2 });
  const fired: number[] = [];
  const evalLosses = [1.0, 0.9, 1.0, 1.1, 1.2, 1.3];
  let step = 0;
  for (const evalLoss of evalLosses) {
    for (let i = 0; i < 10; i++) {
      step += 1;
      const event: TrainerEvent = { type: 'step', step, total_steps: 60, epoch: 0, loss: 3 - step * 0.03, lr: 1e-3, grad_norm: 1, tokens_per_second: 1, tokens_seen: step, elapsed: step };
      assert.equal(watcher.push(event), undefined);
    }
    const alarm = watcher.push({ type: 'eval', step, eval_loss: evalLoss, perplexity: Math.exp(evalLoss) });
    if (alarm) fired.push(alarm.step);
  }
  assert.deepEqual(fired, [40]);
});

test('the advice names the best step and the remedies', () => {
  const [alarm] = detectOverfitting(fallingTrain(60), evals([1.5, 1.2, 1.0, 1.1, 1.2, 1.3]), { patience: 3 });
  const text = overfitAdvice(alarm, 'my-run');
  assert.match(text, /^my-run: /);
  assert.match(text, /step 30/);
  for (const remedy of ['fewer epochs', 'lower learning rate', 'weight decay', 'more training data']) assert.ok(text.includes(remedy), remedy);
});
