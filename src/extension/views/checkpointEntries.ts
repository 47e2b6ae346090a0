// The Checkpoints view's children of one run, without vscode (unit tested): the best evaluation's
// weights first (starred), then the checkpoints, then the final adapter.
import { basePrecision, quantizedBaseTag } from '../../core/runConfig';
import type { RunSummary } from '../../core/runStore';

export type CheckpointEntry =
  | { kind: 'run'; run: RunSummary }
  | {
      kind: 'checkpoint'; run: RunSummary; step: number; path: string; eval_loss?: number; final: boolean;
      /** 'folder': <run>/best itself; 'step': the checkpoint saved at the best evaluation's step. */
      best?: 'folder' | 'step';
    };

export function checkpointEntries(run: RunSummary): CheckpointEntry[] {
  const items: CheckpointEntry[] = [];
  const bestStep = run.best?.step;
  if (run.best) {
    const evalLoss = run.checkpoints.find((c) => c.step === run.best!.step)?.eval_loss;
    items.push({ kind: 'checkpoint', run, step: run.best.step, path: run.best.path, eval_loss: evalLoss, final: false, best: 'folder' });
  }
  for (const c of run.checkpoints) {
    items.push({ kind: 'checkpoint', run, step: c.step, path: c.path, eval_loss: c.eval_loss, final: false, ...(c.step === bestStep ? { best: 'step' as const } : {}) });
  }
  if (run.adapter) items.push({ kind: 'checkpoint', run, step: run.step, path: run.adapter, eval_loss: run.eval_loss, final: true });
  return items;
}

/** The tree item's text: label and description. */
export function checkpointLabel(entry: Extract<CheckpointEntry, { kind: 'checkpoint' }>): { label: string; description: string } {
  const loss = entry.eval_loss !== undefined ? `eval loss ${entry.eval_loss.toFixed(4)}` : '';
  if (entry.best === 'folder' && entry.run.best) {
    const { metric, value } = entry.run.best;
    return { label: `★ best (step ${entry.step})`, description: `${metric} ${Number(value.toPrecision(4))}` };
  }
  const label = entry.final ? `adapter (final, step ${entry.step})` : `step ${entry.step}`;
  return { label: entry.best === 'step' ? `${label} ★` : label, description: loss };
}

/** A run's line: what it saved, and its base when quantized (its adapters were trained on that base). */
export function checkpointRunDescription(run: RunSummary): string {
  const count = run.checkpoints.length;
  const saved = `${count} checkpoint${count === 1 ? '' : 's'}${run.adapter ? ' + adapter' : ''}${run.best ? ' + best' : ''}`;
  const base = run.config && quantizedBaseTag(run.config);
  return base ? `${saved} · ${base}` : saved;
}

/** A checkpoint's tooltip: its folder and the base precision it was trained on. */
export function checkpointTooltip(entry: Extract<CheckpointEntry, { kind: 'checkpoint' }>): string {
  return entry.run.config ? `${entry.path}\nBase weights: ${basePrecision(entry.run.config)}` : entry.path;
}
