// Overfitting alarm: the eval loss has risen for N evaluations in a row while the train loss kept
// falling. That combination (not either alone) is the signature of memorising the training set: a
// rising eval loss with a rising train loss is divergence (lr too high), a flat train loss with noisy
// eval loss is just noise.
//
// The train loss is noisy per step, so it is compared as the mean over each evaluation interval
// (steps after the previous evaluation up to this one) rather than point by point.

import type { TrainerEvent } from './protocol';

export interface TrainPoint {
  step: number;
  loss: number;
}

export interface EvalPoint {
  step: number;
  eval_loss: number;
}

export interface OverfitOptions {
  /** consecutive eval-loss rises that raise the alarm (N). */
  patience: number;
  /** a rise smaller than this (absolute, in nats) does not count as one. */
  minRise?: number;
}

export const DEFAULT_OVERFIT_PATIENCE = 3;

export interface OverfitAlarm {
  /** step of the evaluation at which the alarm fired. */
  step: number;
  /** step of the last evaluation before the rise: the best checkpoint to keep. */
  best_step: number;
  best_eval_loss: number;
  eval_loss: number;
  /** consecutive rises seen when the alarm fired (= patience). */
  rises: number;
  /** mean train loss over the interval ending at best_step, and over the one ending at step. */
  train_loss_before: number;
  train_loss_now: number;
}

/** Every alarm in a run's history: at most one per uninterrupted streak of rises. */
export function detectOverfitting(
  train: readonly TrainPoint[],
  evals: readonly EvalPoint[],
  options: OverfitOptions,
): OverfitAlarm[] {
  const patience = Math.max(1, Math.floor(options.patience));
  const minRise = options.minRise ?? 0;
  const sortedEvals = evals.filter((e) => Number.isFinite(e.eval_loss)).slice().sort((a, b) => a.step - b.step);
  const trainMeans = intervalTrainMeans(train, sortedEvals);
  const alarms: OverfitAlarm[] = [];
  let rises = 0;
  let firedInStreak = false;
  for (let i = 1; i < sortedEvals.length; i++) {
    if (sortedEvals[i].eval_loss > sortedEvals[i - 1].eval_loss + minRise) {
      rises += 1;
    } else {
      rises = 0;
      firedInStreak = false;
    }
    if (rises < patience || firedInStreak) continue;
    const start = i - patience;
    const before = trainMeans[start];
    const now = trainMeans[i];
    if (before === undefined || now === undefined || !(now < before)) continue;
    firedInStreak = true;
    alarms.push({
      step: sortedEvals[i].step,
      best_step: sortedEvals[start].step,
      best_eval_loss: sortedEvals[start].eval_loss,
      eval_loss: sortedEvals[i].eval_loss,
      rises: patience,
      train_loss_before: before,
      train_loss_now: now,
    });
  }
  return alarms;
}

/**
 * Mean train loss of the steps in (previous eval step, this eval step]. An interval without train
 * steps (two evaluations at the same step) carries the previous mean; before any train step it is undefined.
 */
function intervalTrainMeans(train: readonly TrainPoint[], evals: readonly EvalPoint[]): (number | undefined)[] {
  const sortedTrain = train.filter((t) => Number.isFinite(t.loss)).slice().sort((a, b) => a.step - b.step);
  const means: (number | undefined)[] = [];
  let t = 0;
  let carried: number | undefined;
  for (const evaluation of evals) {
    let sum = 0;
    let count = 0;
    while (t < sortedTrain.length && sortedTrain[t].step <= evaluation.step) {
      sum += sortedTrain[t].loss;
      count += 1;
      t += 1;
    }
    if (count > 0) carried = sum / count;
    means.push(carried);
  }
  return means;
}

/** The notification text: what happened and what to change. */
export function overfitAdvice(alarm: OverfitAlarm, runLabel: string): string {
  return (
    `${runLabel}: possible overfitting — eval loss rose ${alarm.rises} evaluations in a row ` +
    `(${alarm.best_eval_loss.toFixed(3)} at step ${alarm.best_step} → ${alarm.eval_loss.toFixed(3)} at step ${alarm.step}) ` +
    `while train loss fell (${alarm.train_loss_before.toFixed(3)} → ${alarm.train_loss_now.toFixed(3)}). ` +
    `Keep the checkpoint near step ${alarm.best_step}, and try fewer epochs, a lower learning rate, ` +
    `more weight decay, or more training data.`
  );
}

/**
 * Incremental form for a live run: feed TrainerEvents as they arrive; returns an alarm the first
 * time a new one appears (so the host shows each notification once).
 */
export class OverfitWatcher {
  private readonly train: TrainPoint[] = [];
  private readonly evals: EvalPoint[] = [];
  private reported = 0;

  constructor(private readonly options: OverfitOptions) {}

  push(event: TrainerEvent): OverfitAlarm | undefined {
    if (event.type === 'step') {
      this.train.push({ step: event.step, loss: event.loss });
      return undefined;
    }
    if (event.type !== 'eval') return undefined;
    this.evals.push({ step: event.step, eval_loss: event.eval_loss });
    const alarms = detectOverfitting(this.train, this.evals, this.options);
    if (alarms.length <= this.reported) return undefined;
    this.reported = alarms.length;
    return alarms[alarms.length - 1];
  }
}
