// After each evaluation: is it the best so far (--best-metric)? Then its weights become <out>/best/.
// Has the best not improved for --early-stopping-patience evaluations? Then the run stops. Both
// verdicts live in the trainer state, so a resumed run keeps the best and the patience counter.
import * as fs from 'fs';
import * as path from 'path';
import { judgeEvaluation, type BestRecord } from '../core/bestMetric';
import type { EvalMetrics } from '../core/protocol';
import { evalDuringTrainingOptions, type RunConfig } from '../core/runConfig';
import { bestDir, readBest, saveBest } from './bestCheckpoint';
import { checkpointDir, type TrainerState } from './checkpoint';

export class BestKeeper {
  constructor(
    private readonly config: RunConfig,
    /** writes the current trainable weights (adapter or full model) into a folder. */
    private readonly writeWeights: (dir: string) => Promise<void>,
  ) {}

  /** Judges an evaluation, keeps its weights when best; returns the early-stopping reason, if it stops the run. */
  async observe(state: TrainerState, evaluation: EvalMetrics): Promise<string | undefined> {
    const options = evalDuringTrainingOptions(this.config);
    const metric = options.best_metric;
    const value = metric === 'eval_loss' ? evaluation.eval_loss : evaluation[metric];
    if (value === undefined) throw new Error(`--best-metric ${metric}: the evaluation at step ${evaluation.step} has no ${metric} (add --eval-metric)`);
    const verdict = judgeEvaluation(metric, value, state.best?.value, state.evaluations_without_improvement ?? 0, {
      patience: options.early_stopping_patience, threshold: options.early_stopping_threshold,
    });
    state.evaluations_without_improvement = verdict.evaluationsWithoutImprovement;
    if (verdict.improved) {
      const best: BestRecord = { metric, value, step: evaluation.step, path: bestDir(this.config.out) };
      await saveBest(this.config.out, best, this.writeWeights);
      state.best = best;
    }
    if (!verdict.stopReason) return undefined;
    return state.best ? `${verdict.stopReason} at step ${state.best.step}, kept in ${state.best.path}` : verdict.stopReason;
  }

  /**
   * On resume, the restored state says which evaluation is best; best/ may hold a later one (written
   * after the checkpoint the run resumes from). Then the state's best is copied back from its
   * checkpoint when that still exists. Returns a warning when it cannot be.
   */
  async reconcile(state: TrainerState): Promise<string | undefined> {
    const onDisk = readBest(this.config.out);
    const wanted = state.best;
    if (!wanted) {
      fs.rmSync(bestDir(this.config.out), { recursive: true, force: true });
      return undefined;
    }
    if (onDisk && onDisk.step === wanted.step && onDisk.metric === wanted.metric) return undefined;
    const from = checkpointDir(this.config.out, wanted.step);
    if (!fs.existsSync(path.join(from, 'trainer_state.json'))) {
      return `the best evaluation (step ${wanted.step}) is not in ${bestDir(this.config.out)} and its checkpoint is gone; best/ is kept until a better evaluation replaces it`;
    }
    await saveBest(this.config.out, wanted, async (dir) => {
      fs.cpSync(from, dir, { recursive: true, filter: (src) => !/(optimizer\.safetensors|trainer_state\.json)$/.test(src) });
    });
    return undefined;
  }
}
