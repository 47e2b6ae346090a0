// Commands that open a webview panel: the loss curves (one run or several) and the playground (its
// arena tab included). Every panel is imported and wired the same way (see ARCHITECTURE.md, "A panel").

import * as vscode from 'vscode';
import type { RunSummary } from '../../core/runStore';
import type { Ctx } from '../context';
import { openLossPanel } from '../panels/lossPanel';
import { openPlayground as openPlaygroundPanel } from '../panels/playgroundPanel';
import type { CheckpointEntry } from '../views/checkpointsView';
import { pickRun, requireTrust, runFrom } from './common';

export async function openLossCurves(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = await pickRun(ctx, arg, 'Run to chart', (r) => r.step > 0 || r.status === 'running');
  if (!run) return;
  openLossPanel(ctx, [run.dir]);
}

export async function compareRuns(ctx: Ctx, arg?: unknown, selected?: unknown): Promise<void> {
  // multi-selection in the Runs view arrives as the second argument
  let runs = (Array.isArray(selected) ? selected : []).map((s) => runFrom(ctx, s)).filter((r): r is RunSummary => r !== undefined);
  if (runs.length < 2) {
    const picks = await vscode.window.showQuickPick(
      ctx.listRuns().filter((r) => r.step > 0).map((r) => ({ label: r.name, description: `${r.status} · loss ${r.loss?.toFixed(4) ?? '?'}`, run: r, picked: runs.some((x) => x.id === r.id) || r.id === runFrom(ctx, arg)?.id })),
      { canPickMany: true, placeHolder: 'Runs to compare (pick two or more)' },
    );
    if (!picks) return;
    runs = picks.map((p) => p.run);
  }
  if (runs.length === 0) return;
  openLossPanel(ctx, runs.map((r) => r.dir));
}

export async function openPlayground(ctx: Ctx, arg?: unknown): Promise<void> {
  if (!(await requireTrust())) return; // it runs `ftune serve` on the model and adapter folders
  const entry = arg as Partial<CheckpointEntry> | undefined;
  if (entry?.kind === 'checkpoint' && entry.run && entry.path) {
    openPlaygroundPanel(ctx, { model: entry.run.model, adapter: entry.path });
    return;
  }
  const run = runFrom(ctx, arg);
  if (run) {
    const adapter = run.best?.path ?? run.adapter ?? run.checkpoints[run.checkpoints.length - 1]?.path;
    openPlaygroundPanel(ctx, adapter ? { model: run.model, adapter } : { model: run.model });
    return;
  }
  openPlaygroundPanel(ctx);
}
