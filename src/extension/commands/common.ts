// What several command areas share: the trust gate for commands that run the CLI on workspace files,
// the run manager (there is none without a workspace folder) and "which run does this argument mean".

import * as vscode from 'vscode';
import type { RunSummary } from '../../core/runStore';
import type { Ctx } from '../context';
import type { RunManager } from '../runManager';
import type { CheckpointEntry } from '../views/checkpointsView';

const RESTRICTED_MODE_MESSAGE =
  'Finetune Studio: training is disabled in Restricted Mode. A run executes the ftune trainer on files of this workspace (data, model folders, settings), so the workspace must be trusted first.';

/** Training runs workspace content through a child process: only in trusted workspaces. */
export async function requireTrust(): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const choice = await vscode.window.showWarningMessage(RESTRICTED_MODE_MESSAGE, 'Manage Workspace Trust');
  if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
  return false;
}

export function requireManager(ctx: Ctx): RunManager | undefined {
  const manager = ctx.manager;
  if (!manager) void vscode.window.showWarningMessage('Finetune Studio: open a folder first — runs are stored in the workspace (setting finetuneStudio.runsDirectory).');
  return manager;
}

/** Tree items and command arguments come in several shapes; this finds the run they mean. */
export function runFrom(ctx: Ctx, arg: unknown): RunSummary | undefined {
  const value = arg as Partial<RunSummary & CheckpointEntry> | undefined;
  const id = value && 'kind' in value && value.kind ? (value as CheckpointEntry).run.id : value?.id;
  if (typeof id === 'string') return ctx.manager?.get(id);
  const selected = ctx.runsTree.selection[0];
  return selected ? ctx.manager?.get(selected.id) : undefined;
}

/** The run the argument means, else one picked among those that pass `filter`. */
export async function pickRun(ctx: Ctx, arg: unknown, placeholder: string, filter: (r: RunSummary) => boolean): Promise<RunSummary | undefined> {
  const direct = runFrom(ctx, arg);
  if (direct) return direct;
  const runs = ctx.listRuns().filter(filter);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('Finetune Studio: no matching runs.');
    return undefined;
  }
  const choice = await vscode.window.showQuickPick(runs.map((r) => ({ label: r.name, description: r.status, run: r })), { placeHolder: placeholder });
  return choice?.run;
}
