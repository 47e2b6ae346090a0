// The Runs and Checkpoints views' commands: stop, resume, delete, reveal, log, copy a path, refresh.

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import type { CheckpointEntry } from '../views/checkpointsView';
import { pickRun, requireTrust, runFrom } from './common';

export async function stopRun(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = await pickRun(ctx, arg, 'Run to stop', (r) => r.status === 'running' || r.status === 'queued');
  if (!run) return;
  if (run.status !== 'running' && run.status !== 'queued') {
    void vscode.window.showInformationMessage(`Finetune Studio: run ${run.name} is ${run.status}.`);
    return;
  }
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Stopping ${run.name} (saving a checkpoint)…` }, () => ctx.manager!.stop(run.id));
}

export async function resumeRun(ctx: Ctx, arg?: unknown): Promise<void> {
  if (!(await requireTrust())) return;
  const run = await pickRun(ctx, arg, 'Run to resume', (r) => r.resumable);
  if (!run) return;
  try {
    ctx.manager!.resume(run.id);
  } catch (error) {
    void vscode.window.showErrorMessage(`Finetune Studio: ${(error as Error).message}`);
  }
}

export async function deleteRun(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = await pickRun(ctx, arg, 'Run to delete', () => true);
  if (!run) return;
  const detail = `${run.dir}\n${run.checkpoints.length} checkpoint(s)${run.adapter ? ' and the final adapter' : ''} will be deleted.${run.status === 'running' ? ' The run is training and will be stopped first.' : ''}`;
  const answer = await vscode.window.showWarningMessage(`Delete run ${run.name}?`, { modal: true, detail }, 'Delete');
  if (answer !== 'Delete') return;
  await ctx.manager!.delete(run.id);
}

export async function revealRunFolder(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = await pickRun(ctx, arg, 'Run folder to reveal', () => true);
  if (!run) return;
  const uri = vscode.Uri.file(run.dir);
  // the OS file manager where there is one; in a browser-hosted VS Code, the Explorer
  if (vscode.env.uiKind === vscode.UIKind.Desktop && vscode.env.remoteName === undefined) await vscode.commands.executeCommand('revealFileInOS', uri);
  else await vscode.commands.executeCommand('revealInExplorer', uri);
}

export async function showRunLog(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = runFrom(ctx, arg);
  const log = run ? path.join(run.dir, 'trainer.log') : undefined;
  if (log && fs.existsSync(log)) await vscode.window.showTextDocument(vscode.Uri.file(log), { preview: true });
  else ctx.output.show(true);
}

export async function copyCheckpointPath(_ctx: Ctx, arg?: unknown): Promise<void> {
  const entry = arg as Partial<CheckpointEntry> | undefined;
  if (entry?.kind !== 'checkpoint' || !entry.path) return;
  await vscode.env.clipboard.writeText(entry.path);
  void vscode.window.setStatusBarMessage(`Copied ${entry.path}`, 3000);
}

export function refresh(ctx: Ctx): void {
  ctx.datasets.refresh();
  ctx.runs.refresh();
  ctx.checkpoints.refresh();
}
