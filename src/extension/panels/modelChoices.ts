// What the playground's columns can load: every base model that has runs, with the final adapter and
// the checkpoints of each run trained from it. No vscode import: unit tested.

import * as path from 'path';
import type { ModelChoice } from '../../core/protocol';
import type { RunSummary } from '../../core/runStore';

type RunLike = Pick<RunSummary, 'name' | 'model' | 'adapter' | 'checkpoints' | 'full'> & Partial<Pick<RunSummary, 'best'>>;

/** Base models from the runs (LoRA runs only: a full fine-tune has no adapter to put on a base), plus `extraModels`. */
export function modelChoices(runs: readonly RunLike[], extraModels: readonly string[] = []): ModelChoice[] {
  const byModel = new Map<string, ModelChoice>();
  const choiceFor = (model: string): ModelChoice => {
    let choice = byModel.get(model);
    if (!choice) {
      choice = { model, label: path.basename(model) || model, adapters: [] };
      byModel.set(model, choice);
    }
    return choice;
  };
  for (const model of extraModels) if (model !== '') choiceFor(model);
  for (const run of runs) {
    if (!run.model || run.full) continue;
    const choice = choiceFor(run.model);
    // The best evaluation's adapter first (--best-metric), then the final one, then the checkpoints.
    if (run.best) choice.adapters.push({ path: run.best.path, label: `${run.name} ★ best (step ${run.best.step}, ${run.best.metric} ${Number(run.best.value.toPrecision(4))})` });
    if (run.adapter) choice.adapters.push({ path: run.adapter, label: `${run.name} (final)` });
    for (const checkpoint of [...run.checkpoints].reverse()) {
      choice.adapters.push({ path: checkpoint.path, label: `${run.name} step ${checkpoint.step}` });
    }
  }
  return [...byModel.values()];
}
